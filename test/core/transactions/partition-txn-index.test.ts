import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryLogFactory } from '../../../src/core/log-factory.js';
import { Stream } from '../../../src/core/stream.js';
import { PartitionTxnIndex, PartitionTxns } from '../../../src/core/transactions/index.js';
import { ATTR_TRANSACTIONAL, ControlType, encodeControlBatch, encodeRecordBatch } from '../../../src/storage/record-batch.js';

const txnBatch = (producerId: number, ...values: string[]) =>
  encodeRecordBatch(values.map((v) => ({ value: Buffer.from(v) })), { attributes: ATTR_TRANSACTIONAL, producerId, producerEpoch: 0, baseSequence: 0 });
const plainBatch = (value: string) => encodeRecordBatch([{ value: Buffer.from(value) }]);
const marker = (producerId: number, type: ControlType) => encodeControlBatch({ producerId, producerEpoch: 0, type });

test('the LSO is the first offset of the oldest open transaction; markers close transactions and record aborts', () => {
  const p = new PartitionTxns();
  assert.equal(p.lastStableOffset(10), 10);
  assert.equal(p.begin(1, 3), true);
  assert.equal(p.begin(1, 5), false, 'already open');
  p.settleFirst(1, 4);
  assert.equal(p.begin(2, 6), true);
  assert.equal(p.lastStableOffset(10), 4);
  p.end(1, 8, ControlType.Abort);
  assert.equal(p.lastStableOffset(10), 6);
  p.end(2, 9, ControlType.Commit);
  p.end(2, 11, ControlType.Abort); // a marker written again for a closed transaction changes nothing
  assert.equal(p.lastStableOffset(12), 12);
  assert.deepEqual(p.aborted, [{ producerId: 1, firstOffset: 4, lastOffset: 8 }]);
  assert.deepEqual(p.abortedBetween(9, 20), []);
  assert.deepEqual(p.abortedBetween(0, 4), []);
  assert.deepEqual(p.abortedBetween(0, 5).length, 1);
  p.prune(9);
  assert.deepEqual(p.aborted, []);
});

test('the index of a partition is rebuilt from its log: open, committed and aborted transactions', async () => {
  const factory = new MemoryLogFactory();
  const stream = await Stream.open(factory, { name: 'rebuild', partitions: 1 });
  for (const b of [plainBatch('p0'), txnBatch(7, 'a', 'b'), txnBatch(8, 'c'), marker(7, ControlType.Abort), txnBatch(9, 'd'), marker(8, ControlType.Commit), plainBatch('p1'), marker(7, ControlType.Abort)]) {
    await stream.appendBatch(0, b);
  }
  // offsets: p0=0, a,b=1-2, c=3, abort(7)=4, d=5, commit(8)=6, p1=7, stray abort(7)=8
  const txns = await new PartitionTxnIndex().partition(stream, 0);
  assert.deepEqual(txns.aborted, [{ producerId: 7, firstOffset: 1, lastOffset: 4 }]);
  assert.deepEqual([...txns.ongoing], [[9, 5]]);
  assert.equal(txns.lastStableOffset(stream.offsets(0).highWatermark), 5);
  await stream.close();
});

test('a reader waiting at an open transaction is released when it ends or its opening append is cancelled', async () => {
  const p = new PartitionTxns();
  await p.stableBeyond(5); // nothing open: at once
  p.begin(1, 5);
  p.begin(2, 8);
  const released: number[] = [];
  void p.stableBeyond(5).then(() => released.push(5));
  void p.stableBeyond(9).then(() => released.push(9));
  p.end(1, 10, ControlType.Commit);
  await Promise.resolve();
  assert.deepEqual(released, [5], 'the transaction at 8 still holds a reader at 9');
  p.cancel(2);
  await Promise.resolve();
  assert.deepEqual(released, [5, 9]);
  assert.equal(p.lastStableOffset(11), 11);
  assert.equal(p.isAborted(2, 8), false, 'a cancelled opening is not an aborted transaction');
});
