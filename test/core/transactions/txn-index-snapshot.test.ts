import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { Broker } from '../../../src/core/broker.js';
import { openTxnBroker, type TxnBroker } from './txn-broker.js';
import { logDirectory, logName } from '../../../src/core/log-factory.js';
import { PartitionTxnIndex } from '../../../src/core/transactions/partition-txn-index.js';
import { TXN_INDEX_SNAPSHOT_FILE, decodeTxnIndexSnapshot, encodeTxnIndexSnapshot, type TxnIndexSnapshot } from '../../../src/core/transactions/txn-index-snapshot.js';
import { ATTR_TRANSACTIONAL, encodeRecordBatch } from '../../../src/storage/record-batch.js';

test('a snapshot decodes to what was encoded; any damaged byte or length is refused', () => {
  const offset = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
  const snapshot: fc.Arbitrary<TxnIndexSnapshot> = fc.record({
    offset,
    ongoing: fc.array(fc.tuple(fc.integer({ min: 0, max: 2 ** 40 }), offset), { maxLength: 5 }),
    aborted: fc.array(fc.record({ producerId: fc.integer({ min: 0, max: 2 ** 40 }), firstOffset: offset, lastOffset: offset }), { maxLength: 5 }),
  });
  fc.assert(
    fc.property(snapshot, fc.nat(), fc.integer({ min: 1, max: 255 }), (s, at, flip) => {
      const buf = encodeTxnIndexSnapshot(s);
      // fast-check's records have a null prototype: compare plain copies.
      assert.deepEqual(decodeTxnIndexSnapshot(buf), { ...s, aborted: s.aborted.map((a) => ({ ...a })) });
      const damaged = Buffer.from(buf);
      damaged[at % buf.length] ^= flip;
      assert.equal(decodeTxnIndexSnapshot(damaged), null);
      assert.equal(decodeTxnIndexSnapshot(buf.subarray(0, buf.length - 1 - (at % buf.length))), null);
    }),
  );
});

function open(t: TestContext): Promise<TxnBroker> {
  return openTxnBroker(t, { streams: { out: 1 }, startMs: Date.now() });
}

/** One transaction through the coordinator, with its batch appended the way the Kafka produce path does. */
async function transaction(broker: Broker, tid: string, value: string, end: 'commit' | 'abort' | 'open'): Promise<void> {
  const txns = broker.transactions;
  const { producerId, producerEpoch } = (await txns.initProducerId(tid, 60_000)) as { producerId: number; producerEpoch: number };
  assert.equal(await txns.addPartitions(tid, producerId, producerEpoch, [{ topic: 'out', partition: 0 }]), 'NONE');
  const stream = broker.requireStream('out');
  const index = await txns.index.partition(stream, 0);
  const opened = index.begin(producerId, stream.offsets(0).endOffset);
  const r = await stream.appendBatch(0, encodeRecordBatch([{ value: Buffer.from(value) }], { attributes: ATTR_TRANSACTIONAL, producerId, producerEpoch, baseSequence: 0 }));
  if (opened) index.settleFirst(producerId, r.baseOffset);
  if (end !== 'open') assert.equal(await txns.endTxn(tid, producerId, producerEpoch, end === 'commit'), 'NONE');
}

/** What the index says, in a comparable form. */
async function indexState(broker: Broker): Promise<{ ongoing: Array<[number, number]>; aborted: unknown[]; lso: number }> {
  const stream = broker.requireStream('out');
  const txns = await broker.transactions.index.partition(stream, 0);
  return { ongoing: [...txns.ongoing].sort((a, b) => a[0] - b[0]), aborted: txns.aborted.map((a) => ({ ...a })), lso: txns.lastStableOffset(stream.offsets(0).highWatermark) };
}

/** The same partition's index rebuilt by a full scan (no snapshot). */
async function fullScan(broker: Broker): Promise<{ ongoing: Array<[number, number]>; aborted: unknown[]; lso: number }> {
  const stream = broker.requireStream('out');
  const txns = await new PartitionTxnIndex().partition(stream, 0);
  return { ongoing: [...txns.ongoing].sort((a, b) => a[0] - b[0]), aborted: txns.aborted.map((a) => ({ ...a })), lso: txns.lastStableOffset(stream.offsets(0).highWatermark) };
}

/** Records the offsets `stream.read` is asked for (the rebuild's scan). */
function spyReads(broker: Broker): number[] {
  const stream = broker.requireStream('out');
  const reads: number[] = [];
  const read = stream.read.bind(stream);
  stream.read = (partition, offset, maxBytes) => {
    reads.push(offset);
    return read(partition, offset, maxBytes);
  };
  return reads;
}

test('a clean close writes the index snapshot and the restart scans only the log after it', async (t) => {
  const f = await open(t);
  await transaction(f.broker, 'a', 'a1', 'abort');
  await transaction(f.broker, 'b', 'b1', 'commit');
  await transaction(f.broker, 'c', 'c1', 'open');
  const before = await indexState(f.broker);
  await f.reopen();
  const file = join(logDirectory(f.dir, logName('out', 0)), TXN_INDEX_SNAPSHOT_FILE);
  const snap = decodeTxnIndexSnapshot(await readFile(file));
  assert.ok(snap !== null);
  assert.equal(snap.offset, f.broker.requireStream('out').offsets(0).highWatermark);
  const reads = spyReads(f.broker);
  assert.deepEqual(await indexState(f.broker), before);
  assert.ok(reads.every((o) => o >= snap.offset), `rebuild read from ${reads.join(',')}, snapshot at ${snap.offset}`);
  assert.deepEqual(await indexState(f.broker), await fullScan(f.broker));

  // More after the snapshot: the restart applies the snapshot, then just the new batches.
  await transaction(f.broker, 'd', 'd1', 'abort');
  // The open transaction of 'c' is aborted by its re-init (fencing), through a marker past the old snapshot.
  await transaction(f.broker, 'c', 'c2', 'commit');
  const later = await indexState(f.broker);
  await f.reopen();
  assert.deepEqual(await indexState(f.broker), later);
  assert.deepEqual(await indexState(f.broker), await fullScan(f.broker));
});

test('snapshotAll writes a partition only when its log grew, and a restart from it equals a full scan', async (t) => {
  const f = await open(t);
  await transaction(f.broker, 'a', 'a1', 'abort');
  await transaction(f.broker, 'b', 'b1', 'open');
  const index = f.broker.transactions.index;
  assert.equal(await index.snapshotAll(), 1);
  assert.equal(await index.snapshotAll(), 0, 'nothing new: not written again');
  await transaction(f.broker, 'c', 'c1', 'commit');
  assert.equal(await index.snapshotAll(), 1);
  const file = join(logDirectory(f.dir, logName('out', 0)), TXN_INDEX_SNAPSHOT_FILE);
  const snap = decodeTxnIndexSnapshot(await readFile(file))!;
  assert.equal(snap.offset, f.broker.requireStream('out').offsets(0).highWatermark);
  assert.equal(snap.ongoing.length, 1, "b's transaction is open");
  assert.equal(snap.aborted.length, 1);
  const expected = await indexState(f.broker);
  await f.reopen();
  assert.deepEqual(await indexState(f.broker), expected);
  assert.deepEqual(await indexState(f.broker), await fullScan(f.broker));
});

test('a damaged snapshot, or one past the log end, is ignored and the index rebuilt in full', async (t) => {
  const f = await open(t);
  await transaction(f.broker, 'a', 'a1', 'abort');
  await transaction(f.broker, 'b', 'b1', 'open');
  const expected = await indexState(f.broker);
  await f.broker.close();
  const file = join(logDirectory(f.dir, logName('out', 0)), TXN_INDEX_SNAPSHOT_FILE);
  const good = await readFile(file);
  const damaged = Buffer.from(good);
  damaged[damaged.length - 1] ^= 0x01;
  await writeFile(file, damaged);
  await f.reopen();
  let reads = spyReads(f.broker);
  assert.deepEqual(await indexState(f.broker), expected);
  assert.equal(reads[0], 0, 'a full scan');

  // A snapshot claiming more of the log than there is (as after a torn tail was cut) is deleted, not trusted.
  const snap = decodeTxnIndexSnapshot(good)!;
  await f.broker.close();
  await writeFile(file, encodeTxnIndexSnapshot({ ...snap, offset: snap.offset + 100, aborted: [] }));
  await f.reopen();
  reads = spyReads(f.broker);
  assert.deepEqual(await indexState(f.broker), expected);
  assert.equal(reads[0], 0);
  await assert.rejects(stat(file), { code: 'ENOENT' });
});

test('no snapshot is taken while a marker is between its append and its record, or an opening batch is not yet visible', async (t) => {
  const f = await open(t);
  await transaction(f.broker, 'a', 'a1', 'commit');
  const stream = f.broker.requireStream('out');
  const index = f.broker.transactions.index;
  const txns = await index.partition(stream, 0);
  const hw = stream.offsets(0).highWatermark;
  txns.markerIssued();
  assert.equal(txns.settledAt(hw), false);
  assert.equal(await index.saveSnapshot(stream, 0), false);
  txns.markerSettled();
  // An opening batch registered at the log end but not yet visible: the state is ahead of the log.
  assert.equal(txns.begin(999, hw), true);
  assert.equal(txns.settledAt(hw), false);
  assert.equal(await index.saveSnapshot(stream, 0), false);
  txns.cancel(999);
  assert.equal(txns.settledAt(hw), true);
  assert.equal(await index.saveSnapshot(stream, 0), true);
});
