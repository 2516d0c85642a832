import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../../src/core/broker.js';
import { ANONYMOUS } from '../../../src/core/principal.js';

const EXPIRY_MS = 3_600_000;

interface Fixture {
  broker: Broker;
  clock: { now: number };
  reopen(): Promise<Broker>;
}

/** A broker over a temp dir whose coordinator runs on a hand-driven clock with no timer. */
async function open(t: TestContext): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'trib-txn-exp-'));
  const clock = { now: 5_000_000 };
  const options = {
    dataDir: dir,
    fsync: 'always' as const,
    fsyncIntervalMs: 1000,
    transactions: { checkIntervalMs: 0, now: () => clock.now, transactionalIdExpirationMs: EXPIRY_MS },
  };
  const f: Fixture = {
    broker: await Broker.open(options),
    clock,
    async reopen() {
      await f.broker.close();
      f.broker = await Broker.open(options);
      return f.broker;
    },
  };
  t.after(async () => {
    await f.broker.close();
    await rm(dir, { recursive: true, force: true });
  });
  await f.broker.createStream(ANONYMOUS, { name: 'out', partitions: 1 });
  return f;
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
