/**
 * Compaction and retention on the file log: newest per key, tombstone delay, preserved offsets, bounded key
 * map (several passes), reads during compaction, crash leftovers; retention never touching the active segment.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { encodeRecordBatch, encodeRecordBatchWithOffsets, decodeRecordBatch, validateBatch, type Record } from '../../src/storage/record-batch.js';
import { segmentFileName } from '../../src/storage/segment.js';
import { openLog, readAll, recordingLogger, tempDir } from './temp-log.js';

const T0 = 1_000_000;
const DAY = 24 * 3600 * 1000;
const config = { cleanupPolicy: 'compact' as const, segmentBytes: 600, indexIntervalBytes: 100, deleteRetentionMs: DAY };

/** Appends `count` updates cycling over `keys` keys; returns the model: offset -> {key, value}. */
async function writeUpdates(log: PartitionLog, count: number, keys: number, perBatch = 2): Promise<Map<number, { key: string; value: string | null }>> {
  const model = new Map<number, { key: string; value: string | null }>();
  for (let i = 0; i < count; i += perBatch) {
    const records = [];
    for (let j = i; j < Math.min(count, i + perBatch); j++) records.push({ key: Buffer.from(`key-${j % keys}`), value: Buffer.from(`v${j}`), timestamp: T0 + j });
    const { baseOffset } = await log.append(encodeRecordBatch(records));
    records.forEach((r, k) => model.set(baseOffset + k, { key: r.key.toString(), value: r.value.toString() }));
  }
  return model;
}

/** What compaction must leave: in [0, cleanableEnd) only the newest record of each key; everything after. */
function expectedAfterCompaction(model: Map<number, { key: string; value: string | null }>, cleanableEnd: number, dropTombstones: boolean): number[] {
  const newest = new Map<string, number>();
  for (const [offset, r] of model) if (offset < cleanableEnd) newest.set(r.key, offset);
  return [...model.keys()]
    .filter((o) => o >= cleanableEnd || (newest.get(model.get(o)!.key) === o && !(dropTombstones && model.get(o)!.value === null)))
    .sort((a, b) => a - b);
}

function view(records: Record[]): [number, string, string | null][] {
  return records.map((r) => [r.offset, r.key!.toString(), r.value === null ? null : r.value.toString()]);
}

function activeBase(log: PartitionLog): number {
  return log.segmentBaseOffsets[log.segmentCount - 1];
}

test('encodeRecordBatchWithOffsets keeps offsets and gaps', () => {
  const batch = encodeRecordBatchWithOffsets(
    [
      { offset: 10, value: Buffer.from('a'), key: Buffer.from('x'), timestamp: 5 },
      { offset: 13, value: null, key: Buffer.from('y'), timestamp: 7 },
    ],
    9,
  );
  assert.equal(validateBatch(batch), batch.length);
  const recs = decodeRecordBatch(batch);
  assert.deepEqual(
    recs.map((r) => [r.offset, r.timestamp, r.value === null]),
    [
      [10, 5, false],
      [13, 7, true],
    ],
  );
  assert.equal(batch.readInt32BE(23), 4, 'lastOffsetDelta is the last offset minus the base');
  assert.throws(() => encodeRecordBatchWithOffsets([{ offset: 3, value: null }, { offset: 3, value: null }], 0), RangeError);
});

test('compaction keeps the newest record per key, at its original offset, in sealed segments only', async (t) => {
  const log = await openLog(t, await tempDir(t), config);
  const model = await writeUpdates(log, 120, 7);
  assert.ok(log.segmentCount > 5);
  const cleanableEnd = activeBase(log);
  const sizeBefore = log.sizeBytes;
  const result = await log.compact(T0 + 1000);
  assert.ok(result.segmentsCleaned > 0);
  assert.ok(result.recordsRemoved > 0);
  assert.ok(log.sizeBytes < sizeBefore);
  const after = await readAll(log, 0, 500);
  const expected = expectedAfterCompaction(model, cleanableEnd, false);
  assert.deepEqual(
    after.map((r) => r.offset),
    expected,
  );
  for (const r of after) assert.equal(r.value!.toString(), model.get(r.offset)!.value);
  // Every offset is still addressable: a compacted-away offset reads from the next surviving batch.
  for (let o = 0; o < 120; o++) {
    const recs = await readAll(log, o, 200);
    assert.equal(recs[0].offset, expected.find((e) => e >= o));
  }
  assert.equal(log.endOffset, 120);
  assert.equal((await log.append(encodeRecordBatch([{ key: Buffer.from('key-1'), value: Buffer.from('new') }]))).baseOffset, 120);
  // And the same after a restart.
  await log.close();
  const reopened = await openLog(t, log.dir, config);
  assert.deepEqual(
    (await readAll(reopened, 0, 500)).map((r) => r.offset),
    [...expected, 120],
  );
});

test('a key map smaller than the key space compacts in passes to the same result', async (t) => {
  const big = await openLog(t, await tempDir(t), config);
  const small = await openLog(t, await tempDir(t), config, { compactionMaxKeys: 3 });
  const model = await writeUpdates(big, 150, 11);
  await writeUpdates(small, 150, 11);
  await big.compact(T0);
  await small.compact(T0);
  assert.deepEqual(view(await readAll(small, 0, 500)), view(await readAll(big, 0, 500)));
  assert.deepEqual(
    (await readAll(small, 0, 500)).map((r) => r.offset),
    expectedAfterCompaction(model, activeBase(small), false),
  );
});

test('tombstones stay until deleteRetentionMs after their batch time, then go', async (t) => {
  const log = await openLog(t, await tempDir(t), config);
  await log.append(encodeRecordBatch([{ key: Buffer.from('a'), value: Buffer.from('1'), timestamp: T0 }]));
  await log.append(encodeRecordBatch([{ key: Buffer.from('b'), value: Buffer.from('2'), timestamp: T0 }]));
  await log.append(encodeRecordBatch([{ key: Buffer.from('a'), value: null, timestamp: T0 + 10 }]));
  // Unkeyed records are kept as they are.
  await log.append(encodeRecordBatch([{ value: Buffer.from('no key'), timestamp: T0 + 10 }]));
  // Fill so that all of the above is in sealed segments.
  for (let i = 0; i < 10; i++) await log.append(encodeRecordBatch([{ key: Buffer.from(`f${i}`), value: Buffer.alloc(200), timestamp: T0 + 20 }]));
  assert.ok(activeBase(log) > 4);
  await log.compact(T0 + 10 + DAY);
  let recs = await readAll(log, 0, 100_000);
  assert.deepEqual(
    recs.slice(0, 3).map((r) => [r.offset, r.key?.toString() ?? null, r.value?.toString() ?? null]),
    [
      [1, 'b', '2'],
      [2, 'a', null],
      [3, null, 'no key'],
    ],
  );
  await log.compact(T0 + 11 + DAY);
  recs = await readAll(log, 0, 100_000);
  assert.deepEqual(
    recs.slice(0, 2).map((r) => [r.offset, r.key?.toString() ?? null]),
    [
      [1, 'b'],
      [3, null],
    ],
  );
});

test('reads during compaction keep returning valid, ordered records', async (t) => {
  const log = await openLog(t, await tempDir(t), { ...config, segmentBytes: 2000 });
  const model = await writeUpdates(log, 600, 13, 3);
  const cleanableEnd = activeBase(log);
  const compaction = log.compact(T0);
  let reads = 0;
  let finished = false;
  void compaction.finally(() => (finished = true));
  while (!finished || reads < 5) {
    const from = Math.floor(Math.random() * 600);
    const recs = await readAll(log, from, 700);
    let prev = from - 1;
    for (const r of recs) {
      assert.ok(r.offset > prev);
      prev = r.offset;
      assert.equal(r.value!.toString(), model.get(r.offset)!.value);
    }
    assert.equal(recs[recs.length - 1].offset, 599);
    reads++;
  }
  await compaction;
  assert.deepEqual(
    (await readAll(log, 0, 700)).map((r) => r.offset),
    expectedAfterCompaction(model, cleanableEnd, false),
  );
});

async function compactedCopy(t: TestContext, config2: typeof config): Promise<{ dir: string; compactedDir: string; expected: [number, string, string | null][] }> {
  const dir = await tempDir(t);
  const log = await PartitionLog.open(dir, config2);
  await writeUpdates(log, 80, 5);
  await log.close();
  const compactedDir = await tempDir(t);
  for (const n of await fs.promises.readdir(dir)) await fs.promises.copyFile(path.join(dir, n), path.join(compactedDir, n));
  const c = await PartitionLog.open(compactedDir, config2);
  await c.compact(T0);
  const expected = view(await readAll(c, 0, 100_000));
  await c.close();
  return { dir, compactedDir, expected };
}

test('a crash before the swap (leftover .cleaned files) leaves the original segment in place', async (t) => {
  const { dir, compactedDir } = await compactedCopy(t, config);
  const log0 = await PartitionLog.open(dir, config);
  const original = view(await readAll(log0, 0, 100_000));
  await log0.close();
  const name = segmentFileName(0, 'log');
  await fs.promises.copyFile(path.join(compactedDir, name), path.join(dir, `${name}.cleaned`));
  await fs.promises.writeFile(path.join(dir, `${segmentFileName(0, 'index')}.cleaned`), Buffer.alloc(3));
  const log = await openLog(t, dir, config, { logger: recordingLogger() });
  assert.deepEqual(view(await readAll(log, 0, 100_000)), original);
  assert.ok(!(await fs.promises.readdir(dir)).some((n) => n.endsWith('.cleaned')));
});

test('a crash after the commit point (leftover .log.swap) completes the swap on open', async (t) => {
  const { dir, compactedDir, expected } = await compactedCopy(t, config);
  // Simulate a crash right after `rename .cleaned -> .swap`: every compacted segment sits next to its original.
  for (const n of await fs.promises.readdir(compactedDir)) {
    if (!n.endsWith('.log')) continue;
    const a = await fs.promises.readFile(path.join(compactedDir, n));
    const b = await fs.promises.readFile(path.join(dir, n));
    if (!a.equals(b)) await fs.promises.writeFile(path.join(dir, `${n}.swap`), a);
  }
  const logger = recordingLogger();
  const log = await openLog(t, dir, config, { logger });
  assert.ok(logger.warnings.some((w) => /interrupted compaction swap/.test(w.msg)));
  assert.deepEqual(view(await readAll(log, 0, 100_000)), expected);
  assert.ok(!(await fs.promises.readdir(dir)).some((n) => n.endsWith('.swap')));
});

test('retention never deletes the active segment, and the start offset survives a restart', async (t) => {
  const dir = await tempDir(t);
  const cfg = { segmentBytes: 600, retentionMs: 1000, retentionBytes: -1 };
  const log = await openLog(t, dir, cfg);
  for (let i = 0; i < 20; i++) await log.append(encodeRecordBatch([{ value: Buffer.alloc(100), timestamp: T0 }]));
  const segments = log.segmentCount;
  assert.equal(await log.enforceRetention(T0 + 10 * DAY), segments - 1);
  assert.equal(log.segmentCount, 1);
  assert.equal(log.startOffset, activeBase(log));
  assert.ok((await readAll(log)).length > 0);
  await log.close();
  const reopened = await openLog(t, dir, cfg);
  assert.equal(reopened.startOffset, activeBase(reopened));
  assert.equal(reopened.endOffset, 20);
});

test("a 'compact' cleanup policy keeps data past retention limits", async (t) => {
  const log = await openLog(t, await tempDir(t), { ...config, retentionMs: 1, retentionBytes: 1 });
  await writeUpdates(log, 40, 40);
  assert.equal(await log.enforceRetention(T0 + DAY), 0);
  assert.equal(log.startOffset, 0);
});
