/**
 * A `tributary serve` child process shared by the tests of one CLI test file, and `cli()` to run a verb
 * against it (`--url` appended).
 */
import { before, after } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EPHEMERAL, serveProcess, type Tributary } from '../support/tributary-process.js';
import { runCli, type CliResult } from './cli-runner.js';

export interface ServedBroker {
  dir: string;
  url: string;
  process: Tributary;
  cli(args: string[], input?: string): Promise<CliResult>;
}

/** Registers before/after hooks; the returned object is filled in once the broker is up. */
export function useServedBroker(): ServedBroker {
  const served = { dir: '', url: '', process: undefined as unknown as Tributary } as ServedBroker;
  served.cli = (args, input) => runCli([...args, '--url', served.url], { input });
  before(async () => {
    served.dir = await mkdtemp(join(tmpdir(), 'trib-cli-verbs-'));
    served.process = serveProcess(served.dir, ['--data-dir', join(served.dir, 'data'), ...EPHEMERAL]);
    served.url = await served.process.httpBase();
  });
  after(async () => {
    served.process.kill('SIGTERM');
    await served.process.waitForExit().catch(() => served.process.kill());
    await rm(served.dir, { recursive: true, force: true });
  });
  return served;
}
