/**
 * StartOffsetFile (the `log-start-offset` file) on its own, and the reason it exists: a PartitionLog's
 * deleteRecords no longer holds the appends queued behind it while the file is written.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { StartOffsetFile } from '../../src/storage/start-offset-file.js';
import { LOG_START_OFFSET_FILE } from '../../src/storage/partition-log.js';
import { encodeRecordBatch } from '../../src/storage/record-batch.js';
import { openLog, tempDir, value, withTimeout } from './temp-log.js';

/** Counts StartOffsetFile writes and, while `held`, keeps each from starting until released (restored after the test). */
function gateWrites(t: TestContext): { writes: () => number; hold: () => void; release: () => void } {
  const proto = StartOffsetFile.prototype as unknown as { write(offset: number): Promise<void> };
  const original = proto.write;
  let writes = 0;
  let held: (() => void)[] | null = null;
  proto.write = function (this: StartOffsetFile, offset: number): Promise<void> {
    writes++;
    if (held === null) return original.call(this, offset);
    const queue = held;
    return new Promise<void>((resolve) => queue.push(resolve)).then(() => original.call(this, offset));
  };
  t.after(() => {
    proto.write = original;
  });
  return {
    writes: () => writes,
    hold: () => {
      held = [];
    },
    release: () => {
      const queue = held ?? [];
      held = null;
      for (const go of queue) go();
    },
  };
}

test('persist makes the offset durable as one fixed-size record; read returns it', async (t) => {
  const dir = await tempDir(t);
  const file = new StartOffsetFile(path.join(dir, 'log-start-offset'));
  assert.equal(await file.read(), null, 'no file yet');
  await file.persist(17);
  assert.equal(fs.readFileSync(file.path, 'latin1'), '00000000000000000017\n');
  await file.persist(123456789);
  assert.equal(fs.readFileSync(file.path, 'latin1'), '00000000000123456789\n');
  assert.equal(await new StartOffsetFile(file.path).read(), 123456789);
  // Never lowered: a smaller offset is already covered.
  await file.persist(5);
  assert.equal(await new StartOffsetFile(file.path).read(), 123456789);
});

test('persists asked for while a write runs share the next write, and each resolves once its offset is durable', async (t) => {
  const gate = gateWrites(t);
  const dir = await tempDir(t);
  const file = new StartOffsetFile(path.join(dir, 'log-start-offset'));
  gate.hold();
  const resolved: number[] = [];
  const all = [5, 9, 7, 8].map((n) => file.persist(n).then(() => resolved.push(n)));
  await new Promise((r) => setImmediate(r));
  assert.equal(gate.writes(), 1, 'the first persist writes; the others wait for it');
  assert.deepEqual(resolved, []);
  gate.release();
  await withTimeout(Promise.all(all), 10_000, 'persists');
  assert.equal(gate.writes(), 2, '9, 7 and 8 share one write (of 9)');
  assert.deepEqual(resolved, [5, 9, 7, 8]);
  assert.equal(await file.read(), 9);
  await file.idle();
});

test('an older unpadded file reads the same and is replaced whole by the next write; damage reads as NaN', async (t) => {
  const dir = await tempDir(t);
  const p = path.join(dir, 'log-start-offset');
  fs.writeFileSync(p, '17\n');
  const file = new StartOffsetFile(p);
  assert.equal(await file.read(), 17);
  await file.persist(18);
  assert.equal(fs.readFileSync(p, 'latin1'), '00000000000000000018\n');
  fs.writeFileSync(p, '12x\n');
  assert.ok(Number.isNaN(await new StartOffsetFile(p).read()));
  fs.writeFileSync(p, '00000000000000000019\ntrailing damage\n');
  const damaged = new StartOffsetFile(p);
  assert.ok(Number.isNaN(await damaged.read()));
  await damaged.persist(20);
  assert.equal(fs.readFileSync(p, 'latin1'), '00000000000000000020\n', 'rewritten whole, the damage gone');
});

test('a failed write rejects its persists; a later persist writes again', async (t) => {
  const dir = await tempDir(t);
  const sub = path.join(dir, 'gone');
  fs.mkdirSync(sub);
  const file = new StartOffsetFile(path.join(sub, 'log-start-offset'));
  fs.rmSync(sub, { recursive: true });
  await assert.rejects(file.persist(3), /ENOENT/);
  fs.mkdirSync(sub);
  await file.persist(3);
  assert.equal(await file.read(), 3);
});

test('appends are not held behind a deleteRecords whose start offset is still being written', async (t) => {
  const gate = gateWrites(t);
  const dir = await tempDir(t);
  const log = await openLog(t, dir, { fsync: 'always' });
  const batch = (n: number): Buffer => encodeRecordBatch([{ key: null, value: value(n), timestamp: 1_000 }]);
  for (let i = 0; i < 10; i++) await log.append(batch(i));
  gate.hold();
  let deleted = false;
  const deleting = log.deleteRecords(6).then((start) => {
    deleted = true;
    return start;
  });
  // Before the change the delete was a writer task: this append waited for it (and timed out here).
  const appended = await withTimeout(log.append(batch(10)), 10_000, 'an append while deleteRecords writes');
  assert.equal(appended.baseOffset, 10);
  assert.equal(deleted, false, 'the delete is still writing its start offset');
  assert.equal(log.startOffset, 0, 'readers see the new start only once it is durable');
  gate.release();
  assert.equal(await withTimeout(deleting, 10_000, 'deleteRecords'), 6);
  assert.equal(log.startOffset, 6);
  assert.equal(Number(fs.readFileSync(path.join(dir, LOG_START_OFFSET_FILE), 'latin1')), 6);
});

test('a task queued after deleteRecords (close) waits for its start offset, which a reopen then finds', async (t) => {
  const gate = gateWrites(t);
  const dir = await tempDir(t);
  const log = await openLog(t, dir, { fsync: 'always' });
  for (let i = 0; i < 5; i++) await log.append(encodeRecordBatch([{ key: null, value: value(i), timestamp: 1_000 }]));
  gate.hold();
  const deleting = log.deleteRecords(3);
  const closing = log.close();
  await new Promise((r) => setImmediate(r));
  gate.release();
  assert.equal(await withTimeout(deleting, 10_000, 'deleteRecords'), 3);
  await withTimeout(closing, 10_000, 'close');
  const reopened = await openLog(t, dir, { fsync: 'always' });
  assert.equal(reopened.startOffset, 3);
  assert.equal(reopened.endOffset, 5);
});
