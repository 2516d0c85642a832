/**
 * Runs the built `tributary` binary as a user would, for the CLI verb tests: arguments, optional stdin, and
 * the exit code with everything printed. Every run has a time limit.
 */
import { spawn } from 'node:child_process';
import { mainJs } from '../support/tributary-process.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const RUN_LIMIT_MS = 20_000;

export function runCli(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TRIBUTARY_') && v !== undefined) env[k] = v;
    const child = spawn(process.execPath, [mainJs, ...args], { env: { ...env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tributary ${args.join(' ')} did not finish in ${RUN_LIMIT_MS} ms; stdout: ${stdout} stderr: ${stderr}`));
    }, RUN_LIMIT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Starts the binary and resolves once `ready` matches its stderr (e.g. "subscribed to"), for verbs that wait. */
export function startCli(args: string[], ready: RegExp): { done: Promise<CliResult>; ready: Promise<void>; kill(): void } {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TRIBUTARY_') && v !== undefined) env[k] = v;
  const child = spawn(process.execPath, [mainJs, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let signalReady: () => void = () => undefined;
  let failReady: (err: Error) => void = () => undefined;
  const readyPromise = new Promise<void>((resolve, reject) => {
    signalReady = resolve;
    failReady = reject;
  });
  const timer = setTimeout(() => failReady(new Error(`tributary ${args.join(' ')}: no ${ready} within ${RUN_LIMIT_MS} ms; stderr: ${stderr}`)), RUN_LIMIT_MS);
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    if (ready.test(stderr)) {
      clearTimeout(timer);
      signalReady();
    }
  });
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      failReady(new Error(`exited (${code}) before ${ready}; stderr: ${stderr}`));
      resolve({ code, stdout, stderr });
    }),
  );
  return { done, ready: readyPromise, kill: () => void child.kill('SIGKILL') };
}
