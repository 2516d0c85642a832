import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { openTxnBroker, type TxnBroker } from './txn-broker.js';

const EXPIRY_MS = 3_600_000;

/** A broker whose coordinator runs on a hand-driven clock with no timer. */
function open(t: TestContext): Promise<TxnBroker> {
  return openTxnBroker(t, { streams: { out: 1 }, transactionalIdExpirationMs: EXPIRY_MS, startMs: 5_000_000 });
}

test('an idle transactional id is forgotten after transactional.id.expiration.ms, in __metadata too', async (t) => {
  const f = await open(t);
  const txns = () => f.broker.transactions;
  const first = await txns().initProducerId('idle', 60_000);
  assert.equal(await txns().addPartitions('idle', first.producerId, first.producerEpoch, [{ topic: 'out', partition: 0 }]), 'NONE');
  assert.equal(await txns().endTxn('idle', first.producerId, first.producerEpoch, true), 'NONE');
  const kept = await txns().initProducerId('busy', 60_000);

  f.clock.now += EXPIRY_MS - 1;
  assert.equal(await txns().expireTransactionalIds(), 0, 'one ms short');
  // 'busy' is used again: its clock restarts.
  assert.equal(await txns().addPartitions('busy', kept.producerId, kept.producerEpoch, [{ topic: 'out', partition: 0 }]), 'NONE');
  assert.equal(await txns().endTxn('busy', kept.producerId, kept.producerEpoch, false), 'NONE');
  f.clock.now += 1;
  assert.equal(await txns().expireTransactionalIds(), 1);
  assert.equal(txns().describe('idle'), undefined);
  assert.equal(f.broker.metadata.get('txn', 'idle'), undefined);
  assert.equal(txns().describe('busy')?.state, 'CompleteAbort');
  // The expired producer is unknown now.
  assert.equal(txns().checkProduce(first.producerId, first.producerEpoch, 'out', 0), 'INVALID_PRODUCER_ID_MAPPING');

  // Forgotten across a restart as well (the tombstone is replayed), and the id starts afresh with a new producer id.
  await f.reopen();
  assert.equal(txns().describe('idle'), undefined);
  assert.equal(txns().describe('busy')?.producerId, kept.producerId);
  const again = await txns().initProducerId('idle', 60_000);
  assert.equal(again.error, 'NONE');
  assert.equal(again.producerEpoch, 0);
  assert.notEqual(again.producerId, first.producerId);
});

test('a transactional id with a transaction in flight is never expired', async (t) => {
  const f = await open(t);
  const txns = () => f.broker.transactions;
  const p = await txns().initProducerId('open', 900_000);
  assert.equal(await txns().addPartitions('open', p.producerId, p.producerEpoch, [{ topic: 'out', partition: 0 }]), 'NONE');
  // Longer than its own timeout too: expiry leaves an open transaction to the timeout abort, never drops it.
  f.clock.now += 2 * EXPIRY_MS;
  assert.equal(await txns().expireTransactionalIds(), 0);
  assert.equal(txns().describe('open')?.state, 'Ongoing');
  assert.equal(await txns().endTxn('open', p.producerId, p.producerEpoch, true), 'NONE');
  f.clock.now += EXPIRY_MS;
  assert.equal(await txns().expireTransactionalIds(), 1);
});
