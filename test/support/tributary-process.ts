/**
 * A `tributary` child process for tests and benchmarks that need the real binary: a crash (SIGKILL), the CLI,
 * or a broker measured apart from its clients. Its JSON log lines can be awaited, and the start line gives the
 * port each listener bound (pass `EPHEMERAL` for port 0 everywhere).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
/** The built CLI entry point. */
export const mainJs = join(repoRoot, 'dist/src/cli/main.js');
const WAIT_MS = 20_000;

/** Ports 0 for every listener, so tests never collide with each other or with a running broker. */
export const EPHEMERAL = ['--http-port', '0', '--kafka-port', '0', '--amqp-port', '0', '--nats-port', '0', '--mqtt-port', '0'];

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat (clock ticks of 1/100 s on Linux). */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Starts `tributary serve` with `args` (data dir, ports, options) in `cwd`; await `ports()` for readiness. */
export function serveProcess(cwd: string, args: string[], env?: Record<string, string>): Tributary {
  return new Tributary(['serve', '--log-format', 'json', ...args], { cwd, env });
}

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** A `tributary` child process whose stdout JSON lines can be awaited. */
export class Tributary {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  readonly stdout: string[] = [];
  stderr = '';
  private waiters: Array<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  readonly exited: Promise<number | null>;

  constructor(args: string[], options: { cwd: string; env?: Record<string, string> }) {
    const env: Record<string, string> = {};
    // The test runner's own TRIBUTARY_* variables (if any) must not leak in: unknown ones would stop the start.
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TRIBUTARY_') && v !== undefined) env[k] = v;
    this.child = spawn(process.execPath, [mainJs, ...args], { cwd: options.cwd, env: { ...env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = once(this.child, 'exit').then(([code]) => code as number | null);
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    createInterface({ input: this.child.stdout! }).on('line', (text) => {
      this.stdout.push(text);
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        return; // --help, --version: plain text
      }
      this.lines.push(line);
      this.waiters = this.waiters.filter((w) => (w.match(line) ? (w.resolve(line), false) : true));
    });
  }

  /** Resolves with the first log line (already seen or to come) that matches; rejects on timeout or exit. */
  waitForLine(match: (l: LogLine) => boolean, what: string): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; stdout: ${this.stdout.join('\n')} stderr: ${this.stderr}`)), WAIT_MS);
      this.waiters.push({ match, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      void this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`exited (${code}) before ${what}; stdout: ${this.stdout.join('\n')} stderr: ${this.stderr}`));
      });
    });
  }

  async waitForExit(): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for exit; stdout: ${this.stdout.join('\n')}`)), WAIT_MS);
    });
    return Promise.race([this.exited, limit]).finally(() => clearTimeout(timer));
  }

  /** The HTTP address from the start line, `listening http=127.0.0.1:43121`. */
  async httpBase(): Promise<string> {
    const ports = await this.ports();
    assert.ok(ports.http !== undefined, 'the start line names the HTTP address');
    return `http://127.0.0.1:${ports.http}`;
  }

  /** The first bound port of each listener, from the start line's `listeners` field. */
  async ports(): Promise<{ [protocol: string]: number }> {
    const line = await this.waitForLine((l) => l.msg.startsWith('listening '), 'the listening line');
    const listeners = line['listeners'] as { [protocol: string]: string[] };
    const out: { [protocol: string]: number } = {};
    for (const [name, addrs] of Object.entries(listeners)) out[name] = Number(addrs[0]!.slice(addrs[0]!.lastIndexOf(':') + 1));
    return out;
  }

  /** CPU seconds (user + system) the process has used so far, from /proc (Linux). */
  cpuSeconds(): number {
    return processCpuSeconds(this.child.pid!);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

