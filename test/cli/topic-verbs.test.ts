/** topic, produce and consume verbs run as the built binary against `tributary serve`; exit codes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, startCli } from './cli-runner.js';
import { useServedBroker } from './served-broker.js';

const broker = useServedBroker();
const cli = broker.cli;

test('topic create, list, describe, alter and delete, as tables and as JSON', async () => {
  const created = await cli(['topic', 'create', 'cli-orders', '--partitions', '3', '--config', 'retention.ms=3600000']);
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stderr, /created topic cli-orders with 3 partition/);

  const list = await cli(['topic', 'list']);
  assert.equal(list.code, 0);
  assert.match(list.stdout, /^NAME\s+PARTITIONS\s+RETENTION/m);
  assert.match(list.stdout, /^cli-orders\s+3\s+limits/m);

  const listJson = await cli(['topic', 'list', '--json']);
  const streams = JSON.parse(listJson.stdout) as Array<{ name: string; partitions: number; retention: string }>;
  const listed = streams.find((s) => s.name === 'cli-orders');
  assert.equal(listed?.partitions, 3);
  assert.equal(listed?.retention, 'limits');

  const describe = await cli(['topic', 'describe', 'cli-orders']);
  assert.equal(describe.code, 0);
  assert.match(describe.stdout, /^PARTITION\s+START\s+END\s+HIGH-WATERMARK$/m);
  assert.match(describe.stdout, /^retention\.ms\s+3600000$/m);

  const alter = await cli(['topic', 'alter', 'cli-orders', '--config', 'retention.ms=60000', '--partitions', '4', '--json']);
  assert.equal(alter.code, 0, alter.stderr);
  const altered = JSON.parse(alter.stdout) as { partitions: unknown[]; configs: Array<{ name: string; value: string }> };
  assert.equal(altered.partitions.length, 4);
  assert.equal(altered.configs.find((c) => c.name === 'retention.ms')?.value, '60000');

  const del = await cli(['topic', 'delete', 'cli-orders']);
  assert.equal(del.code, 0);
  const gone = await cli(['topic', 'describe', 'cli-orders']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /TRIB_STREAM_NOT_FOUND/);
});

test('exit codes: 2 for usage errors, 1 when the broker refuses or cannot be reached', async () => {
  const missing = await cli(['topic', 'create']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing required argument 'name'/);
  const badNumber = await cli(['topic', 'create', 'x', '--partitions', 'many']);
  assert.equal(badNumber.code, 2);
  const badPosition = await cli(['consume', 'x', '--from', 'yesterday']);
  assert.equal(badPosition.code, 2);
  assert.match(badPosition.stderr, /expected earliest, latest/);
  const unknownVerb = await cli(['frobnicate']);
  assert.equal(unknownVerb.code, 2);
  const exists = await cli(['topic', 'create', 'twice']);
  assert.equal(exists.code, 0);
  const again = await cli(['topic', 'create', 'twice']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /TRIB_STREAM_EXISTS/);
  const unreachable = await runCli(['topic', 'list', '--url', 'http://127.0.0.1:1']);
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, /cannot reach the broker at http:\/\/127\.0\.0\.1:1/);
  const help = await cli(['group', 'reset-offsets', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Examples:/);
});

test('produce reads one record per line (keys by separator) and consume prints them back from any position', async () => {
  assert.equal((await cli(['topic', 'create', 'cli-lines'])).code, 0);
  const produced = await cli(['produce', 'cli-lines', '--key-separator', ':'], 'k1:first\nk2:second\nk3:third\n');
  assert.equal(produced.code, 0, produced.stderr);
  assert.match(produced.stderr, /produced 3 record\(s\) to cli-lines/);

  const all = await cli(['consume', 'cli-lines']);
  assert.equal(all.code, 0, all.stderr);
  assert.equal(all.stdout, 'first\nsecond\nthird\n');

  const fromOne = await cli(['consume', 'cli-lines', '--from', '1', '--count', '1', '--format', 'json']);
  const rec = JSON.parse(fromOne.stdout.trim()) as { offset: number; key: string; value: string; partition: number };
  assert.equal(rec.offset, 1);
  assert.equal(rec.key, 'k2');
  assert.equal(rec.value, 'second');

  const latest = await cli(['consume', 'cli-lines', '--from', 'latest']);
  assert.equal(latest.stdout, '');
  const future = await cli(['consume', 'cli-lines', '--from', new Date(Date.now() + 3_600_000).toISOString()]);
  assert.equal(future.stdout, '');
  const past = await cli(['consume', 'cli-lines', '--from', '2020-01-01T00:00:00Z', '--count', '2']);
  assert.equal(past.stdout, 'first\nsecond\n');

  const hex = await cli(['consume', 'cli-lines', '--count', '1', '--format', 'hex']);
  assert.equal(hex.stdout, `0/0 key=${Buffer.from('k1').toString('hex')} ${Buffer.from('first').toString('hex')}\n`);
});

test('produce sends a large file in batches and with a fixed key', async () => {
  assert.equal((await cli(['topic', 'create', 'cli-bulk', '--partitions', '2'])).code, 0);
  const file = join(broker.dir, 'bulk.txt');
  await writeFile(file, Array.from({ length: 2500 }, (_, i) => `line ${i}`).join('\n') + '\n');
  const produced = await cli(['produce', 'cli-bulk', '--file', file, '--key', 'same', '--json']);
  assert.equal(produced.code, 0, produced.stderr);
  const res = JSON.parse(produced.stdout) as { produced: number; offsets: Array<{ partition: number; offset: number }> };
  assert.equal(res.produced, 2500);
  // One key: one partition, offsets 0..2499 in order.
  assert.equal(new Set(res.offsets.map((o) => o.partition)).size, 1);
  assert.deepEqual(res.offsets.map((o) => o.offset), Array.from({ length: 2500 }, (_, i) => i));
  const consumed = await cli(['consume', 'cli-bulk', '--partition', String(res.offsets[0]!.partition)]);
  const lines = consumed.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 2500);
  assert.equal(lines[2499], 'line 2499');
  const missingFile = await cli(['produce', 'cli-bulk', '--file', join(broker.dir, 'nope.txt')]);
  assert.equal(missingFile.code, 1);
  assert.match(missingFile.stderr, /nope\.txt/);
});

test('consume --follow prints records produced after it started, then exits at --count', async () => {
  assert.equal((await cli(['topic', 'create', 'cli-follow'])).code, 0);
  assert.equal((await cli(['produce', 'cli-follow'], 'old\n')).code, 0);
  const follower = startCli(['consume', 'cli-follow', '--from', 'earliest', '--follow', '--count', '3', '--url', broker.url], /following cli-follow/);
  try {
    await follower.ready;
    assert.equal((await cli(['produce', 'cli-follow'], 'new1\nnew2\n')).code, 0);
    const result = await follower.done;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'old\nnew1\nnew2\n');
  } finally {
    follower.kill();
  }
});
