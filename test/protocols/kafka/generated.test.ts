// The generated schema tables are committed; this fails if rerunning the generator would change them
// (STYLE §3.4, FA test:validator:integrity). The Kafka JSON specs live outside the repository
// (../shared/specs/kafka): CI has them, a user's clone does not, so the check skips without them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const SPECS = resolve(ROOT, '../shared/specs/kafka');
const skip = existsSync(join(SPECS, 'ProduceRequest.json')) ? false : `Kafka JSON specs not found at ${SPECS} (they are outside the repository; CI has them)`;

test('the committed Kafka codec tables are what the generator produces from the specs', { skip }, () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/generate-kafka-codec.mjs'), '--check', '--specs', SPECS], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `regenerate with: node scripts/generate-kafka-codec.mjs\n${r.stdout}${r.stderr}`);
});
