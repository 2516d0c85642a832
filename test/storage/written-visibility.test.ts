/**
 * PartitionLog with fsync 'always' and visibility 'written' (the log of an AMQP classic queue): readers see a
 * group once it is written, its appends resolve only after an fsync that started after the write, the next
 * group is written while that fsync runs, and tasks (roll, truncate, close) see every earlier append durable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { encodeRecordBatch } from '../../src/storage/record-batch.js';
import { openLog, readAll, tempDir, value, withTimeout } from './temp-log.js';

function batch(n: number, size = 64): Buffer {
  return encodeRecordBatch([{ key: Buffer.from(`k${n}`), value: value(n, size), timestamp: 1_000 }]);
}

test('a written group is readable and announced before its append resolves', async (t) => {
  const log = await openLog(t, await tempDir(t), { fsync: 'always', visibility: 'written' });
  let resolved = false;
  const seen: { hw: number; resolved: boolean; records: number }[] = [];
  const announced = new Promise<void>((resolve) => {
    log.once('append', (hw: number) => {
      // Read synchronously with the event: the high watermark already covers the group.
      seen.push({ hw, resolved, records: -1 });
      void log.read(0, 1 << 20).then(({ records }) => {
        seen[0].records = records.length;
        resolve();
      });
    });
  });
  const appended = log.append(batch(0)).then((r) => {
    resolved = true;
    return r;
  });
  await withTimeout(announced, 10_000, 'the append event');
  assert.equal(seen[0].hw, 1);
  assert.equal(seen[0].resolved, false, "'append' fires before the append resolves (before its fsync)");
  assert.ok(seen[0].records > 0, 'the record is readable before its fsync');
  const r = await withTimeout(appended, 10_000, 'the append');
  assert.equal(r.baseOffset, 0);
});

test('appends resolve in offset order, each only after an fsync, and all survive a reopen', async (t) => {
  const dir = await tempDir(t);
  let fsyncs = 0;
  const resolvedAtFsync: number[] = [];
  const log = await PartitionLog.open(dir, { fsync: 'always', visibility: 'written', segmentBytes: 4096 }, { observer: { onFsync: () => fsyncs++ } });
  const order: number[] = [];
  const pending: Promise<unknown>[] = [];
  // Several ticks of appends, with segment rolls (4 KiB segments, ~150-byte batches).
  for (let tick = 0; tick < 20; tick++) {
    for (let i = 0; i < 10; i++) {
      const n = tick * 10 + i;
      pending.push(
        log.append(batch(n)).then((res) => {
          order.push(res.baseOffset);
          resolvedAtFsync.push(fsyncs);
        }),
      );
    }
    await new Promise((r) => setImmediate(r));
  }
  await withTimeout(Promise.all(pending), 20_000, 'all appends');
  assert.deepEqual(order, Array.from({ length: 200 }, (_, i) => i), 'resolved in offset order');
  assert.ok(resolvedAtFsync.every((f) => f >= 1), 'no append resolves before an fsync');
  assert.ok(log.segmentCount > 1, 'segments rolled');
  await log.close();
  const reopened = await openLog(t, dir, { fsync: 'always', visibility: 'written' });
  const records = await readAll(reopened);
  assert.deepEqual(
    records.map((r) => r.value!.readUInt32BE(0)),
    Array.from({ length: 200 }, (_, i) => i),
  );
});

test('truncate and close wait for the pipelined fsyncs of earlier appends', async (t) => {
  const log = await openLog(t, await tempDir(t), { fsync: 'always', visibility: 'written' });
  let resolved = 0;
  const pending = [];
  for (let i = 0; i < 50; i++) pending.push(log.append(batch(i)).then(() => resolved++));
  const truncated = log.truncate(40).then(() => resolved);
  assert.equal(await withTimeout(truncated, 10_000, 'truncate'), 50, 'every earlier append resolved before the truncate ran');
  await Promise.all(pending);
  assert.equal(log.endOffset, 40);
  assert.equal(log.highWatermark, 40);
  for (let i = 0; i < 5; i++) pending.push(log.append(batch(100 + i)).then(() => resolved++));
  await withTimeout(log.close(), 10_000, 'close');
  assert.equal(resolved, 55, 'close resolved every append first');
});

test('reads of the just-written tail (served from memory) equal the file, across a truncate', async (t) => {
  const dir = await tempDir(t);
  const log = await openLog(t, dir, { fsync: 'always', visibility: 'written' });
  const pending = [];
  for (let tick = 0; tick < 10; tick++) {
    for (let i = 0; i < 10; i++) pending.push(log.append(batch(tick * 10 + i)));
    // A read while the group's fsync may still run: what is visible is whole and in order.
    await new Promise((r) => setImmediate(r));
    const visible = await readAll(log, 0, 1);
    assert.deepEqual(
      visible.map((r) => r.value!.readUInt32BE(0)),
      Array.from({ length: visible.length }, (_, i) => i),
    );
  }
  await withTimeout(Promise.all(pending), 10_000, 'appends');
  const values = (records: { value: Buffer | null }[]): number[] => records.map((r) => r.value!.readUInt32BE(0));
  assert.deepEqual(values(await readAll(log, 0, 1)), Array.from({ length: 100 }, (_, i) => i), 'one batch per read');
  assert.deepEqual(values(await readAll(log, 37, 300)), Array.from({ length: 63 }, (_, i) => 37 + i), 'a few batches per read');
  await log.truncate(50);
  const more = [];
  for (let i = 0; i < 10; i++) more.push(log.append(batch(1000 + i)));
  await withTimeout(Promise.all(more), 10_000, 'appends after the truncate');
  const expected = [...Array.from({ length: 50 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => 1000 + i)];
  assert.deepEqual(values(await readAll(log, 0, 1)), expected, 'no stale cached batch after the truncate');
  await log.close();
  const reopened = await openLog(t, dir, { fsync: 'always', visibility: 'written' });
  assert.deepEqual(values(await readAll(reopened)), expected, 'the file holds the same');
});
