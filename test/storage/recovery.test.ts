/**
 * Recovery on open: torn and corrupt tails, damaged or missing indexes, corruption inside sealed segments.
 * A "crash" is simulated by copying the partition directory while the log is still open (what is on disk at
 * that instant), then opening the copy.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { encodeRecordBatch, iterateBatches, validateBatch } from '../../src/storage/record-batch.js';
import { segmentFileName } from '../../src/storage/segment.js';
import { StorageError } from '../../src/storage/storage-error.js';
import { openLog, readAll, recordingLogger, tempDir, value } from './temp-log.js';

function batch(n: number, size = 100): Buffer {
  return encodeRecordBatch([
    { key: Buffer.from(`k${String(n).padStart(4, '0')}`), value: value(n, size), timestamp: 10_000 + n },
    { key: Buffer.from(`j${String(n).padStart(4, '0')}`), value: value(n + 1, size), timestamp: 10_000 + n },
  ]);
}

async function fill(log: PartitionLog, batches: number, from = 0): Promise<void> {
  for (let i = from; i < from + batches; i++) await log.append(batch(i));
}

async function crashCopy(t: TestContext, dir: string): Promise<string> {
  const copy = await tempDir(t, 'trib-crash-copy-');
  for (const name of await fs.promises.readdir(dir)) await fs.promises.copyFile(path.join(dir, name), path.join(copy, name));
  return copy;
}

function expectOffsets(got: { offset: number }[], count: number, from = 0): void {
  assert.deepEqual(
    got.map((r) => r.offset),
    Array.from({ length: count }, (_, i) => from + i),
  );
}

test('a .log cut mid-batch is truncated to the last whole batch, with a warning naming file and position', async (t) => {
  const dir = await tempDir(t);
  const log = await PartitionLog.open(dir, { indexIntervalBytes: 300 });
  await fill(log, 20);
  const size = batch(0).length;
  await log.close();
  const file = path.join(dir, segmentFileName(0, 'log'));
  await fs.promises.truncate(file, size * 15 + 37);
  const logger = recordingLogger();
  const reopened = await openLog(t, dir, { indexIntervalBytes: 300 }, { logger });
  assert.equal(reopened.endOffset, 30);
  expectOffsets(await readAll(reopened), 30);
  assert.equal((await fs.promises.stat(file)).size, size * 15);
  assert.equal(logger.warnings.length, 1);
  const w = logger.warnings[0];
  assert.equal((w.obj as { file: string }).file, file);
  assert.equal((w.obj as { position: number }).position, size * 15);
  assert.match(w.msg, new RegExp(`${segmentFileName(0, 'log')}.*position ${size * 15}`));
  assert.equal((await reopened.append(batch(99))).baseOffset, 30);
});

test('a flipped byte in the active segment truncates the log at that batch', async (t) => {
  const dir = await tempDir(t);
  // A large index interval: no index entry is trusted, the whole active segment is scanned.
  const log = await PartitionLog.open(dir, { indexIntervalBytes: 1 << 20 });
  await fill(log, 20);
  const size = batch(0).length;
  await log.close();
  const file = path.join(dir, segmentFileName(0, 'log'));
  const bytes = await fs.promises.readFile(file);
  bytes[size * 7 + 80] ^= 0x10;
  await fs.promises.writeFile(file, bytes);
  const logger = recordingLogger();
  const reopened = await openLog(t, dir, { indexIntervalBytes: 1 << 20 }, { logger });
  assert.equal(reopened.endOffset, 14);
  expectOffsets(await readAll(reopened), 14);
  assert.equal((logger.warnings[0].obj as { position: number }).position, size * 7);
  assert.match((logger.warnings[0].obj as { reason: string }).reason, /CRC/);
});

test('a crash leaves the index stale: recovery scans from the last trusted entry and finds the new tail', async (t) => {
  const dir = await tempDir(t);
  const config = { indexIntervalBytes: 500, fsync: 'always' as const };
  const log = await openLog(t, dir, config);
  await fill(log, 20);
  await log.close();
  const log2 = await openLog(t, dir, config);
  await fill(log2, 30, 20); // not closed: the index files on disk still describe 20 batches
  const copy = await crashCopy(t, dir);
  // And tear the last batch.
  const file = path.join(copy, segmentFileName(0, 'log'));
  await fs.promises.truncate(file, (await fs.promises.stat(file)).size - 5);
  const logger = recordingLogger();
  const reopened = await openLog(t, copy, config, { logger });
  assert.equal(reopened.endOffset, 98);
  expectOffsets(await readAll(reopened), 98);
  for (let from = 0; from < 98; from += 7) expectOffsets(await readAll(reopened, from, 300), 98 - from, from);
  assert.equal(logger.warnings.length, 1);
});

for (const kind of ['index', 'timeindex'] as const) {
  for (const damage of ['deleted', 'garbled', 'short', 'past the end'] as const) {
    test(`a ${damage} .${kind} is rebuilt and reads stay right (active and sealed segments)`, async (t) => {
      const dir = await tempDir(t);
      const config = { indexIntervalBytes: 256, segmentBytes: 3000 };
      const log = await PartitionLog.open(dir, config);
      await fill(log, 40);
      const expected = await readAll(log);
      const ts = await log.offsetForTimestamp(10_025);
      await log.close();
      const bases = (await fs.promises.readdir(dir)).filter((n) => n.endsWith('.log')).sort();
      assert.ok(bases.length >= 3);
      for (const name of [bases[0], bases[bases.length - 1]]) {
        const file = path.join(dir, name.replace(/\.log$/, `.${kind}`));
        const content = await fs.promises.readFile(file);
        if (damage === 'deleted') await fs.promises.unlink(file);
        else if (damage === 'garbled') await fs.promises.writeFile(file, Buffer.from(content.map((b, i) => (i % 3 === 0 ? b ^ 0x5a : b))));
        else if (damage === 'short') await fs.promises.writeFile(file, content.subarray(0, Math.max(0, content.length - 5)));
        else {
          const bad = Buffer.from(content);
          if (bad.length >= 8) bad.writeInt32BE(0x7fff0000, kind === 'index' ? bad.length - 4 : bad.length - 4);
          await fs.promises.writeFile(file, bad);
        }
      }
      const reopened = await openLog(t, dir, config, { logger: recordingLogger() });
      assert.equal(reopened.endOffset, 80);
      const got = await readAll(reopened);
      assert.deepEqual(
        got.map((r) => [r.offset, r.value]),
        expected.map((r) => [r.offset, r.value]),
      );
      for (let from = 0; from < 80; from += 3) expectOffsets(await readAll(reopened, from, 200), 80 - from, from);
      assert.deepEqual(await reopened.offsetForTimestamp(10_025), ts);
      // Retention still knows the sealed segments' ages (from rebuilt time indexes).
      const weekMs = 7 * 24 * 3600 * 1000;
      assert.equal(await reopened.enforceRetention(10_000 + weekMs), 0);
      assert.equal(await reopened.enforceRetention(20_000 + weekMs), bases.length - 1);
    });
  }
}

test('corruption inside a sealed segment fails the read with TRIB_CORRUPT_RECORD naming file and position', async (t) => {
  const dir = await tempDir(t);
  const config = { indexIntervalBytes: 1 << 20, segmentBytes: 3000 };
  const log = await PartitionLog.open(dir, config);
  await fill(log, 40);
  await log.close();
  const size = batch(0).length;
  const file = path.join(dir, segmentFileName(0, 'log'));
  const bytes = await fs.promises.readFile(file);
  bytes[size * 3 + 70] ^= 0x01;
  await fs.promises.writeFile(file, bytes);
  const reopened = await openLog(t, dir, config);
  // Batches before the damage are fine.
  assert.equal((await reopened.read(0, 1)).records.length, size);
  await assert.rejects(reopened.read(6, 1), (err: unknown) => {
    assert.ok(err instanceof StorageError);
    assert.equal(err.code, 'TRIB_CORRUPT_RECORD');
    assert.ok(err.message.includes(file), err.message);
    assert.ok(err.message.includes(`position ${size * 3}`), err.message);
    return true;
  });
  // A multi-batch read that reaches the damaged batch fails too, rather than returning garbage.
  await assert.rejects(reopened.read(0, 100_000), { code: 'TRIB_CORRUPT_RECORD' });
  // A damaged header (length) mid-segment is caught by the header scan.
  const bytes2 = await fs.promises.readFile(file);
  bytes2.writeInt32BE(3, size * 8 + 8);
  await fs.promises.writeFile(file, bytes2);
  await assert.rejects(reopened.read(16, 1), { code: 'TRIB_CORRUPT_RECORD' });
});

test('garbage appended after the last batch is cut on open and everything before it stays', async (t) => {
  const dir = await tempDir(t);
  const log = await PartitionLog.open(dir, { indexIntervalBytes: 200 });
  await fill(log, 10);
  await log.close();
  await fs.promises.appendFile(path.join(dir, segmentFileName(0, 'log')), Buffer.alloc(300, 0));
  const reopened = await openLog(t, dir, { indexIntervalBytes: 200 }, { logger: recordingLogger() });
  expectOffsets(await readAll(reopened), 20);
  const bytes = await fs.promises.readFile(path.join(dir, segmentFileName(0, 'log')));
  for (const { position, size } of iterateBatches(bytes)) validateBatch(bytes.subarray(position, position + size));
});
