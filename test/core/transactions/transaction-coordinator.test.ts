import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Broker } from '../../../src/core/broker.js';
import { openTxnBroker, type TxnBroker } from './txn-broker.js';
import { ControlType, controlBatchType, encodeRecordBatch, iterateBatches, readBatchHeader, ATTR_TRANSACTIONAL } from '../../../src/storage/record-batch.js';

/** A broker whose transaction coordinator runs on a hand-driven clock (no timer). */
function open(t: TestContext): Promise<TxnBroker> {
  return openTxnBroker(t, { streams: { out: 2, in: 1 } });
}

/** Appends a transactional batch the way the Kafka produce path does (index first, then the log). */
async function produceTxn(broker: Broker, topic: string, partition: number, producerId: number, producerEpoch: number, value: string): Promise<number> {
  const stream = broker.requireStream(topic);
  assert.equal(broker.transactions.checkProduce(producerId, producerEpoch, topic, partition), 'NONE');
  const index = await broker.transactions.index.partition(stream, partition);
  const opened = index.begin(producerId, stream.offsets(partition).endOffset);
  const r = await stream.appendBatch(partition, encodeRecordBatch([{ value: Buffer.from(value) }], { attributes: ATTR_TRANSACTIONAL, producerId, producerEpoch, baseSequence: 0 }));
  if (opened) index.settleFirst(producerId, r.baseOffset);
  return r.baseOffset;
}

/** The marker types in a partition, in log order. */
async function markers(broker: Broker, topic: string, partition: number): Promise<string[]> {
  const read = await broker.requireStream(topic).read(partition, 0, 1 << 20);
  const out: string[] = [];
  for (const { position } of iterateBatches(read.records)) {
    const type = controlBatchType(read.records, position);
    if (type !== null) out.push(`${ControlType[type]}@${readBatchHeader(read.records, position).baseOffset}`);
  }
  return out;
}

test('InitProducerId maps a transactional id to one producer id and bumps its epoch on every re-init', async (t) => {
  const { broker } = await open(t);
  const tc = broker.transactions;
  const first = await tc.initProducerId('app', 60_000);
  assert.deepEqual([first.error, first.producerEpoch], ['NONE', 0]);
  const again = await tc.initProducerId('app', 60_000);
  assert.deepEqual([again.error, again.producerId, again.producerEpoch], ['NONE', first.producerId, 1]);
  const other = await tc.initProducerId('other', 60_000);
  assert.notEqual(other.producerId, first.producerId);
  // The old epoch is fenced; another id is not this transactional id's.
  assert.equal(await tc.addPartitions('app', first.producerId, 0, [{ topic: 'out', partition: 0 }]), 'PRODUCER_FENCED');
  assert.equal(await tc.addPartitions('app', other.producerId, 0, [{ topic: 'out', partition: 0 }]), 'INVALID_PRODUCER_ID_MAPPING');
  assert.equal(await tc.addPartitions('nobody', first.producerId, 1, [{ topic: 'out', partition: 0 }]), 'INVALID_PRODUCER_ID_MAPPING');
  // KIP-360: naming an id and epoch that are not the current ones is refused.
  assert.equal((await tc.initProducerId('app', 60_000, { producerId: first.producerId, producerEpoch: 0 })).error, 'PRODUCER_FENCED');
  assert.equal((await tc.initProducerId('app', 60_000, { producerId: first.producerId, producerEpoch: 1 })).producerEpoch, 2);
  assert.equal((await tc.initProducerId('app', 0)).error, 'INVALID_TRANSACTION_TIMEOUT');
  assert.equal((await tc.initProducerId('app', 900_001)).error, 'INVALID_TRANSACTION_TIMEOUT');
});

test('the state machine: begin on AddPartitions, commit writes a COMMIT marker into every partition, retries and wrong ends are answered', async (t) => {
  const { broker } = await open(t);
  const tc = broker.transactions;
  const { producerId: pid } = await tc.initProducerId('sm', 60_000);
  assert.equal(await tc.endTxn('sm', pid, 0, true), 'INVALID_TXN_STATE', 'nothing to end');
  assert.equal(tc.checkProduce(pid, 0, 'out', 0), 'INVALID_TXN_STATE', 'partition not added');
  assert.equal(await tc.addPartitions('sm', pid, 0, [{ topic: 'out', partition: 0 }, { topic: 'out', partition: 1 }]), 'NONE');
  assert.equal(tc.describe('sm')!.state, 'Ongoing');
  assert.equal(tc.checkProduce(pid, 1, 'out', 0), 'INVALID_PRODUCER_EPOCH');
  assert.equal(tc.checkProduce(pid + 100, 0, 'out', 0), 'INVALID_PRODUCER_ID_MAPPING');
  await produceTxn(broker, 'out', 0, pid, 0, 'a');
  await produceTxn(broker, 'out', 0, pid, 0, 'b');
  const out = broker.requireStream('out');
  const index = await tc.index.partition(out, 0);
  assert.equal(index.lastStableOffset(out.offsets(0).highWatermark), 0, 'the open transaction holds the LSO at its first record');

  assert.equal(await tc.endTxn('sm', pid, 0, true), 'NONE');
  assert.equal(tc.describe('sm')!.state, 'CompleteCommit');
  assert.deepEqual(await markers(broker, 'out', 0), ['Commit@2']);
  assert.deepEqual(await markers(broker, 'out', 1), ['Commit@0'], 'every partition of the transaction gets a marker');
  assert.equal(index.lastStableOffset(out.offsets(0).highWatermark), 3);
  assert.deepEqual(index.aborted, []);
  assert.equal(await tc.endTxn('sm', pid, 0, true), 'NONE', 'a retried commit');
  assert.equal(await tc.endTxn('sm', pid, 0, false), 'INVALID_TXN_STATE', 'abort after commit');

  // The next transaction aborts: an aborted entry spans its first record to its marker.
  assert.equal(await tc.addPartitions('sm', pid, 0, [{ topic: 'out', partition: 0 }]), 'NONE');
  await produceTxn(broker, 'out', 0, pid, 0, 'c');
  assert.equal(await tc.endTxn('sm', pid, 0, false), 'NONE');
  assert.deepEqual(index.aborted, [{ producerId: pid, firstOffset: 3, lastOffset: 4 }]);
  assert.deepEqual(index.abortedBetween(0, 3), []);
  assert.deepEqual(index.abortedBetween(4, 5), [{ producerId: pid, firstOffset: 3, lastOffset: 4 }]);
});

test('a transaction open longer than its timeout is aborted with an epoch bump that fences its producer', async (t) => {
  const { broker, clock } = await open(t);
  const tc = broker.transactions;
  const { producerId: pid } = await tc.initProducerId('slow', 1000);
  assert.equal(await tc.addPartitions('slow', pid, 0, [{ topic: 'out', partition: 1 }]), 'NONE');
  await produceTxn(broker, 'out', 1, pid, 0, 'late');
  clock.now += 999;
  assert.equal(await tc.abortExpired(), 0);
  clock.now += 1;
  assert.equal(await tc.abortExpired(), 1);
  const m = tc.describe('slow')!;
  assert.deepEqual([m.state, m.producerEpoch], ['CompleteAbort', 1]);
  assert.deepEqual(await markers(broker, 'out', 1), ['Abort@1']);
  assert.equal(await tc.endTxn('slow', pid, 0, true), 'PRODUCER_FENCED');
  assert.equal(tc.checkProduce(pid, 0, 'out', 1), 'INVALID_PRODUCER_EPOCH');
  // Re-initialising continues from the fencing epoch.
  assert.equal((await tc.initProducerId('slow', 1000)).producerEpoch, 2);
});

test('re-initialising a transactional id aborts its open transaction with the new epoch', async (t) => {
  const { broker } = await open(t);
  const tc = broker.transactions;
  const { producerId: pid } = await tc.initProducerId('z', 60_000);
  assert.equal(await tc.addPartitions('z', pid, 0, [{ topic: 'out', partition: 0 }]), 'NONE');
  await produceTxn(broker, 'out', 0, pid, 0, 'zombie');
  const next = await tc.initProducerId('z', 60_000);
  assert.deepEqual([next.producerId, next.producerEpoch], [pid, 1]);
  assert.equal(tc.describe('z')!.state, 'Empty');
  assert.deepEqual(await markers(broker, 'out', 0), ['Abort@1']);
  const read = await broker.requireStream('out').read(0, 1, 1 << 20);
  assert.equal(readBatchHeader(read.records).producerEpoch, 1, 'the marker carries the fencing epoch');
});

test('transactional offsets reach the group only when the transaction commits and are dropped on abort', async (t) => {
  const { broker } = await open(t);
  const tc = broker.transactions;
  const { producerId: pid } = await tc.initProducerId('ctp', 60_000);
  const commit = (offset: number) => [{ topic: 'in', partition: 0, offset, metadata: null, leaderEpoch: -1, commitTimestamp: 1 }];
  assert.equal(await tc.commitOffsets('ctp', pid, 0, 'g', commit(5)), 'INVALID_TXN_STATE', 'group not added');
  assert.equal(await tc.addOffsets('ctp', pid, 0, 'g'), 'NONE');
  assert.equal(await tc.commitOffsets('ctp', pid, 0, 'g', commit(5)), 'NONE');
  assert.equal(broker.groups.committed('g', 'in', 0), undefined);
  assert.equal(await tc.endTxn('ctp', pid, 0, true), 'NONE');
  assert.equal(broker.groups.committed('g', 'in', 0)?.offset, 5);

  assert.equal(await tc.addOffsets('ctp', pid, 0, 'g'), 'NONE');
  assert.equal(await tc.commitOffsets('ctp', pid, 0, 'g', commit(9)), 'NONE');
  assert.equal(await tc.endTxn('ctp', pid, 0, false), 'NONE');
  assert.equal(broker.groups.committed('g', 'in', 0)?.offset, 5);
});

test('after a restart an open transaction resumes and one caught between prepare and markers is completed', async (t) => {
  const f = await open(t);
  let tc = f.broker.transactions;
  const a = await tc.initProducerId('resume', 60_000);
  const b = await tc.initProducerId('half', 60_000);
  assert.equal(await tc.addPartitions('resume', a.producerId, 0, [{ topic: 'out', partition: 0 }]), 'NONE');
  await produceTxn(f.broker, 'out', 0, a.producerId, 0, 'open');
  assert.equal(await tc.addPartitions('half', b.producerId, 0, [{ topic: 'out', partition: 1 }]), 'NONE');
  assert.equal(await tc.addOffsets('half', b.producerId, 0, 'g2'), 'NONE');
  assert.equal(await tc.commitOffsets('half', b.producerId, 0, 'g2', [{ topic: 'in', partition: 0, offset: 7, metadata: null, leaderEpoch: -1, commitTimestamp: 1 }]), 'NONE');
  await produceTxn(f.broker, 'out', 1, b.producerId, 0, 'half');
  // As if the broker stopped right after persisting PrepareCommit, before any marker.
  await f.broker.metadata.put('txn', 'half', { ...tc.describe('half')!, state: 'PrepareCommit' });

  const broker = await f.reopen();
  tc = broker.transactions;
  assert.equal(tc.describe('half')!.state, 'CompleteCommit');
  assert.deepEqual(await markers(broker, 'out', 1), ['Commit@1']);
  assert.equal(broker.groups.committed('g2', 'in', 0)?.offset, 7);

  const out = broker.requireStream('out');
  const index = await tc.index.partition(out, 0);
  assert.equal(index.lastStableOffset(out.offsets(0).highWatermark), 0, 'rebuilt from the log: still open');
  assert.equal(tc.describe('resume')!.state, 'Ongoing');
  assert.equal(await tc.endTxn('resume', a.producerId, 0, true), 'NONE');
  assert.equal(index.lastStableOffset(out.offsets(0).highWatermark), 2);
});
