import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../../../', import.meta.url));
const spec = fileURLToPath(new URL('../shared/specs/amqp/amqp-rabbitmq-0.9.1.json', new URL(`file://${repoRoot}`)));

test('src/protocols/amqp/codec/methods.ts is what the generator writes from the spec', (t) => {
  if (!existsSync(spec)) {
    t.skip(`${spec} is absent (the project builds without ../shared); cannot check the generated AMQP method table`);
    return;
  }
  const r = spawnSync(process.execPath, ['scripts/generate-amqp-codec.mjs', '--check'], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
