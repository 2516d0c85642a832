import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

function check(script: string): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [script, '--check'], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, output: r.stdout + r.stderr };
}

test('docs/configuration.md is current with the option table', () => {
  const { status, output } = check('scripts/generate-config-docs.mjs');
  assert.equal(status, 0, output);
});

test('docs/errors.md is current with ERROR_CODES', () => {
  const { status, output } = check('scripts/generate-error-docs.mjs');
  assert.equal(status, 0, output);
});
