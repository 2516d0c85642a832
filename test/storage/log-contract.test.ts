/**
 * The Log contract, run over every implementation: PartitionLog under each fsync policy, and MemoryLog.
 * Each test states a behaviour the core relies on, whatever log it holds.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryLog } from '../../src/storage/memory-log.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { StorageError } from '../../src/storage/storage-error.js';
import type { Log, LogConfig } from '../../src/storage/log.js';
import { batchLastOffset, decodeRecords, encodeRecordBatch, iterateBatches } from '../../src/storage/record-batch.js';
import { onCleanup, readAll, tempDir, value, withTimeout } from './temp-log.js';

interface Impl {
  name: string;
  /** Whether retention/segment tests can rely on segments (file logs) rather than batches. */
  file: boolean;
  open(t: TestContext, config?: Partial<LogConfig>): Promise<Log>;
}

const impls: Impl[] = [
  ...(['always', 'interval', 'never'] as const).map((fsync) => ({
    name: `PartitionLog fsync=${fsync}`,
    file: true,
    async open(t: TestContext, config: Partial<LogConfig> = {}) {
      const log = await PartitionLog.open(await tempDir(t), { fsync, fsyncIntervalMs: 50, ...config });
      onCleanup(t, () => log.close());
      return log;
    },
  })),
  {
    name: 'MemoryLog',
    file: false,
    async open(_t: TestContext, config: Partial<LogConfig> = {}) {
      return new MemoryLog(config);
    },
  },
];

function batchOf(from: number, count: number, timestamp = 1_000, size = 16): Buffer {
  const records = [];
  for (let i = 0; i < count; i++) records.push({ key: Buffer.from(`k${from + i}`), value: value(from + i, size), timestamp: timestamp + i });
  return encodeRecordBatch(records);
}

function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  return assert.rejects(p, (err: unknown) => err instanceof StorageError && err.code === code);
}

for (const impl of impls) {
  describe(`Log contract: ${impl.name}`, () => {
    test('appends get contiguous offsets in call order and resolve with them', async (t) => {
      const log = await impl.open(t);
      const results = await Promise.all([log.append(batchOf(0, 3)), log.append(batchOf(3, 1)), log.appendRecords([{ value: value(4) }, { value: value(5) }])]);
      assert.deepEqual(
        results.map((r) => [r.baseOffset, r.lastOffset]),
        [
          [0, 2],
          [3, 3],
          [4, 5],
        ],
      );
      assert.ok(results.every((r) => typeof r.logAppendTime === 'number' && r.logAppendTime > 0));
      assert.equal(log.endOffset, 6);
      assert.equal(log.highWatermark, 6);
      assert.equal(log.startOffset, 0);
      const all = await readAll(log);
      assert.deepEqual(
        all.map((r) => r.offset),
        [0, 1, 2, 3, 4, 5],
      );
      assert.deepEqual(all[4].value, value(4));
    });

    test('a read starts with the whole batch holding the offset', async (t) => {
      const log = await impl.open(t);
      await log.append(batchOf(0, 5));
      await log.append(batchOf(5, 5));
      for (let offset = 0; offset < 10; offset++) {
        const { records, highWatermark, startOffset } = await log.read(offset, 1);
        assert.equal(highWatermark, 10);
        assert.equal(startOffset, 0);
        const batches = [...iterateBatches(records)];
        assert.equal(batches.length, 1, 'maxBytes 1 still returns exactly one batch');
        assert.equal(batches[0].size, records.length);
        const recs = decodeRecords(records);
        assert.equal(recs[0].offset, offset < 5 ? 0 : 5);
      }
    });

    test('at least one batch is returned even when it is larger than maxBytes', async (t) => {
      const log = await impl.open(t);
      await log.append(batchOf(0, 10, 1_000, 4096));
      const { records } = await log.read(0, 100);
      assert.ok(records.length > 40_000);
      assert.equal(decodeRecords(records).length, 10);
    });

    test('reads return whole batches and stay within maxBytes after the first', async (t) => {
      const log = await impl.open(t);
      for (let i = 0; i < 20; i++) await log.append(batchOf(i * 2, 2, 1_000, 100));
      const one = (await log.read(0, 1)).records.length;
      const { records } = await log.read(0, one * 3 + 10);
      assert.equal(records.length, one * 3);
      assert.equal([...iterateBatches(records)].length, 3);
    });

    test('reading at the high watermark returns nothing; outside [start, hw] is out of range', async (t) => {
      const log = await impl.open(t);
      assert.equal((await log.read(0, 1024)).records.length, 0);
      await log.append(batchOf(0, 2));
      assert.equal((await log.read(2, 1024)).records.length, 0);
      await rejectsWith(log.read(3, 1024), 'TRIB_OFFSET_OUT_OF_RANGE');
      await rejectsWith(log.read(-1, 1024), 'TRIB_OFFSET_OUT_OF_RANGE');
    });

    test("'append' is emitted with the new high watermark, after which the records are readable", async (t) => {
      const log = await impl.open(t);
      const seen: number[] = [];
      const reads: Promise<number>[] = [];
      log.on('append', (hw: number) => {
        seen.push(hw);
        assert.equal(log.highWatermark, hw);
        reads.push(log.read(hw - 1, 1024).then((r) => decodeRecords(r.records).length));
      });
      await log.append(batchOf(0, 2));
      await log.append(batchOf(2, 1));
      assert.deepEqual(seen, [2, 3]);
      assert.ok((await Promise.all(reads)).every((n) => n > 0));
    });

    test('the high watermark never runs ahead of what a read can return', async (t) => {
      const log = await impl.open(t);
      const appends: Promise<unknown>[] = [];
      for (let i = 0; i < 50; i++) appends.push(log.append(batchOf(i, 1)));
      // Reads interleaved with the group commit: each sees a prefix, never a record at or past its hw.
      const reads = [];
      for (let i = 0; i < 10; i++) {
        reads.push(
          (async () => {
            await new Promise((r) => setImmediate(r));
            const hw = log.highWatermark;
            const got = await readAll(log, 0);
            assert.ok(got.length >= hw);
            return got;
          })(),
        );
      }
      await Promise.all([...appends, ...reads]);
      assert.equal((await readAll(log)).length, 50);
    });

    test('offsetForTimestamp finds the first record at or after a time', async (t) => {
      const log = await impl.open(t, { indexIntervalBytes: 64 });
      for (let i = 0; i < 30; i++) await log.append(batchOf(i * 2, 2, 10_000 + i * 100));
      assert.deepEqual(await log.offsetForTimestamp(0), { offset: 0, timestamp: 10_000 });
      assert.deepEqual(await log.offsetForTimestamp(10_001), { offset: 1, timestamp: 10_001 });
      assert.deepEqual(await log.offsetForTimestamp(10_002), { offset: 2, timestamp: 10_100 });
      assert.deepEqual(await log.offsetForTimestamp(12_900), { offset: 58, timestamp: 12_900 });
      assert.deepEqual(await log.offsetForTimestamp(12_901), { offset: 59, timestamp: 12_901 });
      assert.equal(await log.offsetForTimestamp(12_902), null);
    });

    test('truncate removes whole batches at and after the offset, and appends continue from there', async (t) => {
      const log = await impl.open(t, { segmentBytes: 300 });
      for (let i = 0; i < 10; i++) await log.append(batchOf(i * 3, 3));
      await log.truncate(30);
      assert.equal(log.endOffset, 30);
      await log.truncate(21);
      assert.equal(log.endOffset, 21);
      assert.equal(log.highWatermark, 21);
      await log.truncate(15);
      assert.equal(log.endOffset, 15);
      await rejectsWith(log.read(16, 1024), 'TRIB_OFFSET_OUT_OF_RANGE');
      // Mid-batch: the batch holding the offset goes whole.
      await log.truncate(13);
      assert.equal(log.endOffset, 12);
      const r = await log.append(batchOf(100, 2));
      assert.equal(r.baseOffset, 12);
      const all = await readAll(log);
      assert.deepEqual(
        all.map((x) => x.offset),
        Array.from({ length: 14 }, (_, i) => i),
      );
      assert.deepEqual(all[12].value, value(100));
    });

    test('deleteRecords raises the start offset and returns it', async (t) => {
      const log = await impl.open(t, { segmentBytes: 300 });
      for (let i = 0; i < 10; i++) await log.append(batchOf(i * 3, 3));
      assert.equal(await log.deleteRecords(7), 7);
      assert.equal(log.startOffset, 7);
      await rejectsWith(log.read(6, 1024), 'TRIB_OFFSET_OUT_OF_RANGE');
      const first = decodeRecords((await log.read(7, 1)).records);
      assert.ok(first.some((r) => r.offset === 7));
      assert.equal((await readAll(log))[0].offset, 7);
      // Never lowered, never past the high watermark.
      assert.equal(await log.deleteRecords(3), 7);
      assert.equal(await log.deleteRecords(1000), 30);
      assert.equal(log.startOffset, 30);
      assert.equal((await log.read(30, 1024)).records.length, 0);
      assert.equal((await log.append(batchOf(30, 1))).baseOffset, 30);
    });

    test('retention by bytes deletes the oldest data and keeps the newest', async (t) => {
      const log = await impl.open(t, { segmentBytes: 600, retentionBytes: 1500, retentionMs: -1 });
      for (let i = 0; i < 40; i++) await log.append(batchOf(i, 1, Date.now(), 100));
      await log.enforceRetention();
      assert.ok(log.sizeBytes <= 1500 + 600, `size ${log.sizeBytes}`);
      assert.ok(log.startOffset > 0);
      const all = await readAll(log);
      assert.equal(all[all.length - 1].offset, 39);
      assert.equal(all[0].offset, log.startOffset);
      await rejectsWith(log.read(log.startOffset - 1, 1024), 'TRIB_OFFSET_OUT_OF_RANGE');
    });

    test('retention by age deletes data older than retentionMs and nothing newer', async (t) => {
      const log = await impl.open(t, { segmentBytes: 400, retentionMs: 3_600_000, retentionBytes: -1 });
      const now = Date.now();
      for (let i = 0; i < 10; i++) await log.append(batchOf(i, 1, now - 7_200_000, 100));
      for (let i = 10; i < 20; i++) await log.append(batchOf(i, 1, now, 100));
      const removed = await log.enforceRetention(now);
      assert.ok(removed > 0);
      assert.equal(log.startOffset, 10);
      const all = await readAll(log);
      assert.deepEqual(
        all.map((r) => r.offset),
        Array.from({ length: 10 }, (_, i) => i + 10),
      );
      assert.equal(await log.enforceRetention(now), 0);
    });

    test('oversized, corrupt and post-close appends are refused with their codes', async (t) => {
      const log = await impl.open(t, { maxMessageBytes: 1000 });
      await rejectsWith(log.append(batchOf(0, 1, 1_000, 2000)), 'TRIB_MESSAGE_TOO_LARGE');
      const bad = batchOf(0, 1);
      bad[bad.length - 1] ^= 0xff;
      await rejectsWith(log.append(bad), 'TRIB_CORRUPT_RECORD');
      assert.equal(log.endOffset, 0);
      await log.close();
      await rejectsWith(log.append(batchOf(0, 1)), 'TRIB_LOG_CLOSED');
    });

    test('flush resolves and keeps everything readable', async (t) => {
      const log = await impl.open(t);
      await log.append(batchOf(0, 4));
      await withTimeout(log.flush(), 5000, 'flush');
      assert.equal((await readAll(log)).length, 4);
      assert.equal(batchLastOffset((await log.read(0, 1024)).records), 3);
    });
  });
}
