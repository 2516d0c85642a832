/**
 * PartitionLog behaviour beyond the shared contract: group commit, segment files and rolling, reopening,
 * observer hooks, concurrency of reads with appends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { encodeRecordBatch, readBatchHeader } from '../../src/storage/record-batch.js';
import { segmentFileName } from '../../src/storage/segment.js';
import { holdFsyncs } from './hold-fsyncs.js';
import { onCleanup, openLog, readAll, tempDir, value, withTimeout } from './temp-log.js';

function batch(n: number, size = 64, timestamp = 1_000): Buffer {
  return encodeRecordBatch([{ key: Buffer.from(`k${n}`), value: value(n, size), timestamp }]);
}

test('appends made in one tick are written with one fsync and resolve together', async (t) => {
  const fsyncs: number[] = [];
  let appendedBatches = 0;
  const log = await openLog(t, await tempDir(t), { fsync: 'always' }, { observer: { onFsync: (ms) => fsyncs.push(ms), onAppend: () => appendedBatches++ } });
  const n = 200;
  const pending = [];
  for (let i = 0; i < n; i++) pending.push(log.append(batch(i)));
  const results = await withTimeout(Promise.all(pending), 10_000, 'group commit');
  assert.equal(fsyncs.length, 1, 'one fsync for the whole tick');
  assert.ok(fsyncs[0] >= 0);
  assert.equal(appendedBatches, n);
  assert.deepEqual(
    results.map((r) => r.baseOffset),
    Array.from({ length: n }, (_, i) => i),
  );
  // All acknowledged at the same time, by the same group.
  assert.equal(new Set(results.map((r) => r.logAppendTime)).size, 1);
});

test('appends arriving while an fsync is in flight share the next fsync', async (t) => {
  const log = await openLog(t, await tempDir(t), { fsync: 'always' });
  const hold = holdFsyncs(t);
  const firstWritten = hold.nextWrite();
  const first = log.append(batch(0));
  await firstWritten;
  await new Promise((r) => setImmediate(r));
  assert.equal(hold.fsyncsStarted(), 1, "the first group's fsync is running (held open)");
  // Many appends in several ticks while that fsync runs: written meanwhile, made durable by one more fsync.
  const later: Promise<unknown>[] = [];
  let bytes = batch(0).length;
  for (let tick = 0; tick < 5; tick++) {
    for (let i = 0; i < 20; i++) {
      const b = batch(1 + tick * 20 + i);
      bytes += b.length;
      later.push(log.append(b));
    }
    await new Promise((r) => setImmediate(r));
  }
  await hold.written(bytes);
  assert.equal(hold.fsyncsStarted(), 1, 'all of them written while the first fsync is still held');
  hold.release();
  await withTimeout(Promise.all([first, ...later]), 10_000, 'appends');
  assert.equal(hold.fsyncsStarted(), 2, 'one fsync for the first group, one for everything written during it');
  assert.equal((await readAll(log)).length, 101);
});

test('under fsync always the high watermark moves only after the fsync', async (t) => {
  let hwAtFsync = -1;
  let log!: PartitionLog;
  log = await openLog(t, await tempDir(t), { fsync: 'always' }, { observer: { onFsync: () => (hwAtFsync = log.highWatermark) } });
  const p = log.append(batch(0));
  assert.equal(log.endOffset, 1);
  assert.equal(log.highWatermark, 0);
  await p;
  assert.equal(hwAtFsync, 0, 'not visible before the fsync completed');
  assert.equal(log.highWatermark, 1);
});

test('fsync interval syncs on a timer; never does not sync on append', async (t) => {
  const intervalSyncs: number[] = [];
  const interval = await openLog(t, await tempDir(t), { fsync: 'interval', fsyncIntervalMs: 20 }, { observer: { onFsync: (ms) => intervalSyncs.push(ms) } });
  const synced = new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (intervalSyncs.length > 0) {
        clearInterval(check);
        resolve();
      }
    }, 5);
  });
  await interval.append(batch(0));
  assert.equal(interval.highWatermark, 1);
  await withTimeout(synced, 5_000, 'interval fsync');
  const neverSyncs: number[] = [];
  const never = await openLog(t, await tempDir(t), { fsync: 'never' }, { observer: { onFsync: (ms) => neverSyncs.push(ms) } });
  for (let i = 0; i < 10; i++) await never.append(batch(i));
  assert.equal(neverSyncs.length, 0);
});

test('segments are files named by base offset; they roll at segmentBytes and on record age', async (t) => {
  const dir = await tempDir(t);
  const changes: number[] = [];
  const log = await openLog(t, dir, { segmentBytes: 1000, segmentMs: 60_000 }, { observer: { onSegmentsChanged: (d) => changes.push(d) } });
  const size = batch(0).length;
  for (let i = 0; i < 30; i++) await log.append(batch(i));
  const perSegment = Math.floor(1000 / size);
  assert.equal(log.segmentCount, Math.ceil(30 / perSegment));
  const files = (await fs.promises.readdir(dir)).sort();
  assert.ok(files.includes(segmentFileName(0, 'log')));
  assert.ok(files.includes(segmentFileName(perSegment, 'log')));
  assert.equal(segmentFileName(perSegment, 'log'), `${String(perSegment).padStart(20, '0')}.log`);
  // The .log holds the batches exactly as appended, offsets patched.
  const first = await fs.promises.readFile(path.join(dir, segmentFileName(0, 'log')));
  assert.equal(first.length, perSegment * size);
  assert.equal(readBatchHeader(first, size).baseOffset, 1);
  // Age: a batch more than segmentMs (record time) after the segment's first batch starts a new segment.
  const before = log.segmentCount;
  await log.append(batch(100, 64, 1_000 + 60_001));
  assert.equal(log.segmentCount, before + 1);
  assert.equal(changes[0], 1, 'open reports its segment');
  assert.equal(
    changes.reduce((a, b) => a + b, 0),
    log.segmentCount,
  );
  await log.close();
  assert.equal(
    changes.reduce((a, b) => a + b, 0),
    0,
    'close reports the segments gone',
  );
});

test('a reopened log has the same offsets, records and start offset', async (t) => {
  const dir = await tempDir(t);
  let log = await PartitionLog.open(dir, { segmentBytes: 2000, indexIntervalBytes: 100 });
  for (let i = 0; i < 100; i++) await log.append(batch(i, 50 + (i % 7) * 30));
  await log.deleteRecords(17);
  const before = await readAll(log);
  await log.close();
  log = await openLog(t, dir, { segmentBytes: 2000, indexIntervalBytes: 100 });
  assert.equal(log.startOffset, 17);
  assert.equal(log.endOffset, 100);
  assert.equal(log.highWatermark, 100);
  const after = await readAll(log);
  assert.deepEqual(
    after.map((r) => [r.offset, r.value]),
    before.map((r) => [r.offset, r.value]),
  );
  assert.equal((await log.append(batch(100))).baseOffset, 100);
});

test('reads run while appends and rolls are in flight and always see a consistent prefix', async (t) => {
  const log = await openLog(t, await tempDir(t), { segmentBytes: 4000, indexIntervalBytes: 256 });
  let done = false;
  const writer = (async () => {
    for (let i = 0; i < 300; i++) await Promise.all([log.append(batch(i * 2)), log.append(batch(i * 2 + 1))]);
    done = true;
  })();
  let reads = 0;
  while (!done) {
    // A read at the high watermark completes without I/O; yield so the writer's setImmediate can run.
    await new Promise((r) => setImmediate(r));
    const hw = log.highWatermark;
    const from = Math.floor(Math.random() * (hw + 1));
    const recs = await readAll(log, from, 1500);
    for (let i = 0; i < recs.length; i++) assert.equal(recs[i].offset, from + i);
    reads++;
  }
  await writer;
  assert.ok(reads > 0);
  assert.equal((await readAll(log)).length, 600);
});

test('memory: old segments keep at most a few fds open', async (t) => {
  const log = await openLog(t, await tempDir(t), { segmentBytes: 500 });
  for (let i = 0; i < 200; i++) await log.append(batch(i));
  assert.ok(log.segmentCount > 40);
  const fdsBefore = (await fs.promises.readdir('/proc/self/fd')).length;
  for (let i = 0; i < 200; i += 3) await log.read(i, 100);
  const fdsAfter = (await fs.promises.readdir('/proc/self/fd')).length;
  assert.ok(fdsAfter - fdsBefore <= 8, `${fdsAfter - fdsBefore} more fds`);
});

test('a closed log refuses reads', async (t) => {
  const dir = await tempDir(t);
  const log = await PartitionLog.open(dir);
  onCleanup(t, () => log.close());
  await log.append(batch(0));
  await log.close();
  await assert.rejects(log.read(0, 10), { code: 'TRIB_LOG_CLOSED' });
});
