/**
 * Committed reads right after a restart, before anything has built the partition's transaction index: an open
 * transaction whose first offset lies before a chunk of non-transactional records must still stop committed
 * reads there (the chunk itself shows no transactional batch, so only the index knows). Each check starts
 * from a fresh restart, so the index is unbuilt when it reads.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { openTxnBroker, type TxnBroker } from './txn-broker.js';
import { CommittedLogView } from '../../../src/core/transactions/committed-log-view.js';
import { PartitionTxnIndex, PartitionTxns } from '../../../src/core/transactions/partition-txn-index.js';
import { ATTR_TRANSACTIONAL, batchLastOffset, decodeRecords, encodeRecordBatch, iterateBatches } from '../../../src/storage/record-batch.js';
import { within } from '../../support/within.js';

interface Scene {
  f: TxnBroker;
  producerId: number;
  producerEpoch: number;
}

/** Offset 0: the open transaction of 'open-id' (one record); offsets 1 and 2: plain records. Then a restart. */
async function sceneAfterRestart(t: TestContext): Promise<Scene> {
  const f = await openTxnBroker(t, { streams: { out: 1 }, startMs: Date.now() });
  const txns = f.broker.transactions;
  const { producerId, producerEpoch } = await txns.initProducerId('open-id', 60_000);
  assert.equal(await txns.addPartitions('open-id', producerId, producerEpoch, [{ topic: 'out', partition: 0 }]), 'NONE');
  const stream = f.broker.requireStream('out');
  // The way the Kafka produce path appends a transactional batch.
  const index = await txns.index.partition(stream, 0);
  const opened = index.begin(producerId, stream.offsets(0).endOffset);
  const r = await stream.appendBatch(0, encodeRecordBatch([{ value: Buffer.from('t1') }], { attributes: ATTR_TRANSACTIONAL, producerId, producerEpoch, baseSequence: 0 }));
  if (opened) index.settleFirst(producerId, r.baseOffset);
  assert.equal(r.baseOffset, 0);
  await stream.appendBatch(0, encodeRecordBatch([{ value: Buffer.from('p1') }]));
  await stream.appendBatch(0, encodeRecordBatch([{ value: Buffer.from('p2') }]));
  await f.reopen();
  return { f, producerId, producerEpoch };
}

test('after a restart, Stream.readMessages past an open transaction\'s first offset returns nothing, and the LSO is that offset', async (t) => {
  const { f, producerId, producerEpoch } = await sceneAfterRestart(t);
  const stream = f.broker.requireStream('out');
  assert.equal(f.broker.transactions.index.built(stream, 0), undefined, 'nothing built the index since the restart');
  assert.deepEqual(await stream.readMessages(0, 1, 1 << 20), [], 'p1 and p2 come after an open transaction');
  assert.equal(await stream.lastStableOffset(0), 0);

  // A fresh restart, and the LSO asked first (the HTTP routes ask it when a read returns nothing).
  await f.reopen();
  assert.equal(await f.broker.requireStream('out').lastStableOffset(0), 0);

  assert.equal(await f.broker.transactions.endTxn('open-id', producerId, producerEpoch, true), 'NONE');
  const after = await f.broker.requireStream('out').readMessages(0, 1, 1 << 20);
  assert.deepEqual(after.map((m) => m.message.value?.toString()), ['p1', 'p2']);
});

test('after a restart, a CommittedLogView read past an open transaction\'s first offset waits for its end', async (t) => {
  const { f, producerId, producerEpoch } = await sceneAfterRestart(t);
  const stream = f.broker.requireStream('out');
  const view = new CommittedLogView(stream, 0, f.broker.transactions.index);
  let settled = false;
  const read = view.read(1, 1 << 20).finally(() => (settled = true));
  // Once the index is built (the read's first step) and the read had a turn, it must be waiting: p1 and p2
  // follow the open transaction of offset 0. A read answered at once would already have handed them out.
  await f.broker.transactions.index.ensure(stream, 0);
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, 'the read waits for the open transaction to end');
  assert.equal(await f.broker.transactions.endTxn('open-id', producerId, producerEpoch, false), 'NONE');
  const { records } = await within(read, 'the committed read to resume after the abort');
  // After the abort p1 and p2 are readable; the ABORT marker (offset 3) comes in this read or, when the read
  // raced the marker's fsync, in the next.
  assert.deepEqual(decodeRecords(records).map((r) => r.value!.toString()), ['p1', 'p2']);
  const lastOffsets = [...iterateBatches(records)].map(({ position }) => batchLastOffset(records, position));
  const next = lastOffsets.includes(3) ? records : (await within(view.read(3, 1 << 20), 'the read of the marker')).records;
  assert.ok([...iterateBatches(next)].some(({ position }) => batchLastOffset(next, position) === 3), 'then the ABORT marker');
});

test('concurrent first needs share one build of the index, and once built it is handed out without a promise', async (t) => {
  const { f } = await sceneAfterRestart(t);
  const stream = f.broker.requireStream('out');
  let loads = 0;
  const index = new PartitionTxnIndex({
    snapshots: {
      load: async () => {
        loads++;
        return null;
      },
      save: async () => undefined,
      remove: async () => undefined,
    },
  });
  const first = await Promise.all([index.ensure(stream, 0), index.ensure(stream, 0), index.partition(stream, 0), index.ensure(stream, 0)]);
  assert.equal(loads, 1, 'one build');
  assert.ok(first.every((txns) => txns === first[0]));
  assert.equal(first[0].lastStableOffset(stream.offsets(0).highWatermark), 0, 'the open transaction, found by the scan');
  const again = index.ensure(stream, 0);
  assert.ok(again instanceof PartitionTxns, 'built: no promise per read');
  assert.equal(again, first[0]);
});

test('rebuilds after a restart run at most maxConcurrentRebuilds at a time; the rest queue and all complete', async (t) => {
  const f = await openTxnBroker(t, { streams: { many: 6 } });
  const stream = f.broker.requireStream('many');
  let active = 0;
  let most = 0;
  const index = new PartitionTxnIndex({
    maxConcurrentRebuilds: 2,
    snapshots: {
      load: async () => {
        active++;
        most = Math.max(most, active);
        // Stay busy past other callers' turns, so an unbounded index would overlap all six.
        await new Promise((resolve) => setImmediate(resolve));
        active--;
        return null;
      },
      save: async () => undefined,
      remove: async () => undefined,
    },
  });
  const built = await within(Promise.all([0, 1, 2, 3, 4, 5].map((p) => index.ensure(stream, p))), 'six rebuilds');
  assert.equal(most, 2);
  assert.equal(new Set(built).size, 6);
  assert.ok([0, 1, 2, 3, 4, 5].every((p) => index.built(stream, p) !== undefined));
});
