/**
 * PartitionLog with fsync 'always' and the default visibility 'durable' (a Kafka topic): the fsync is pipelined —
 * the next group is written while the previous group's fsync runs — yet readers see a group only once an fsync
 * covering it is done, and its appends resolve after that. The fsync is held open in these tests by wrapping
 * SegmentFile.datasync, so "while the fsync runs" is a state the test controls rather than a race it hopes for.
 * Each test runs with groups written inline (on the event-loop thread) and on the thread pool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeRecordBatch } from '../../src/storage/record-batch.js';
import { InlineWritePolicy } from '../../src/storage/inline-write-policy.js';
import { holdFsyncs } from './hold-fsyncs.js';
import { openLog, tempDir, value, withTimeout } from './temp-log.js';

function batch(n: number): Buffer {
  return encodeRecordBatch([{ key: Buffer.from(`k${n}`), value: value(n, 64), timestamp: 1_000 }]);
}

for (const [path, inlineWrites] of [
  ['inline', new InlineWritePolicy()],
  ['pool', new InlineWritePolicy(-1)],
] as const) {
  test(`${path} writes: a durable group is written at once but seen only after its fsync, and seen before its append resolves`, async (t) => {
    const log = await openLog(t, await tempDir(t), { fsync: 'always' }, { inlineWrites });
    const hold = holdFsyncs(t);
    let resolved = false;
    const written = hold.nextWrite();
    const appended = log.append(batch(0)).then((r) => {
      resolved = true;
      return r;
    });
    await written;
    // Let the fsync start (it is held).
    await new Promise((r) => setImmediate(r));
    assert.equal(hold.fsyncsStarted(), 1);
    assert.equal(log.highWatermark, 0, 'not visible while its fsync runs');
    assert.equal((await log.read(0, 1 << 20)).records.length, 0, 'a reader gets nothing yet');
    assert.equal(resolved, false);
    const announced = new Promise<{ hw: number; resolvedThen: boolean; readable: number }>((resolve) => {
      log.once('append', (hw: number) => {
        const resolvedThen = resolved;
        void log.read(0, 1 << 20).then(({ records }) => resolve({ hw, resolvedThen, readable: records.length }));
      });
    });
    hold.release();
    const seen = await withTimeout(announced, 10_000, 'the append event');
    assert.equal(seen.hw, 1);
    assert.equal(seen.resolvedThen, false, 'visible before the producer hears');
    assert.ok(seen.readable > 0);
    assert.equal((await withTimeout(appended, 10_000, 'the append')).baseOffset, 0);
  });

  test(`${path} writes: the next group is written while the previous fsync runs; one later fsync covers it`, async (t) => {
    const log = await openLog(t, await tempDir(t), { fsync: 'always' }, { inlineWrites });
    const hold = holdFsyncs(t);
    const firstWritten = hold.nextWrite();
    const a = log.append(batch(0));
    await firstWritten;
    await new Promise((r) => setImmediate(r));
    assert.equal(hold.fsyncsStarted(), 1, "the first group's fsync is running (held)");
    const secondWritten = hold.nextWrite();
    const b = log.append(batch(1));
    const c = log.append(batch(2));
    await secondWritten;
    assert.equal(hold.writes(), 2, 'the second group was written while the first fsync was held');
    assert.equal(log.highWatermark, 0, 'nothing visible before an fsync completes');
    hold.release();
    const results = await withTimeout(Promise.all([a, b, c]), 10_000, 'three appends');
    assert.deepEqual(
      results.map((r) => r.baseOffset),
      [0, 1, 2],
    );
    assert.equal(hold.fsyncsStarted(), 2, 'one fsync for the first group, one for the two written meanwhile');
    assert.equal(log.highWatermark, 3);
  });
}
