/**
 * `tributary … | head`: when the reader of stdout goes away before the CLI writes, the write fails with EPIPE.
 * That is the reader's choice, not our failure: exit 0 and no stack trace (main.ts), not an unhandled 'error'.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mainJs } from '../support/tributary-process.js';
import { within } from '../support/within.js';

test('help written to a stdout whose reader has closed exits 0 without an EPIPE crash', async () => {
  const child = spawn(process.execPath, [mainJs, 'serve', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Close our end at once: the child, still starting, will write into a pipe with no reader.
  child.stdout.destroy();
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const [code] = (await within(once(child, 'close'), 'tributary serve --help')) as [number | null];
  assert.doesNotMatch(stderr, /EPIPE|Unhandled/);
  assert.equal(code, 0);
});
