import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stream } from '../../../src/core/stream.js';
import { MemoryLogFactory } from '../../../src/core/log-factory.js';
import { MetadataStore } from '../../../src/core/metadata.js';
import { isBrokerError } from '../../../src/core/broker-error.js';
import { ProducerStateManager } from '../../../src/core/idempotence/producer-state.js';
import { encodeRecordBatch } from '../../../src/storage/record-batch.js';
import { within } from '../../support/within.js';

const T = { timeout: 10_000 };
const EXPIRY_MS = 60_000;

function batch(producerId: number, baseSequence: number, timestamp: number): Buffer {
  return encodeRecordBatch([{ value: Buffer.from(`s${baseSequence}`), timestamp }], { producerId, producerEpoch: 0, baseSequence }, timestamp);
}

async function setup(): Promise<{ factory: MemoryLogFactory; metadata: MetadataStore; stream: Stream; clock: { now: number }; producers: ProducerStateManager }> {
  const factory = new MemoryLogFactory();
  const metadata = await MetadataStore.open(factory);
  // A `file` stream of the memory factory: its log survives close/open (a restart) within the factory.
  const stream = await Stream.open(factory, { name: 'exp' });
  const clock = { now: 1_000_000 };
  const producers = new ProducerStateManager(metadata, { producerIdExpirationMs: EXPIRY_MS, checkIntervalMs: 0, now: () => clock.now });
  return { factory, metadata, stream, clock, producers };
}

function send(producers: ProducerStateManager, stream: Stream, b: Buffer) {
  return producers.append(stream, 0, b, () => stream.appendBatch(0, b));
}

test('a producer idle longer than producer.id.expiration.ms is forgotten, the others kept', T, async () => {
  const { stream, clock, producers } = await setup();
  await send(producers, stream, batch(1, 0, clock.now));
  clock.now += 30_000;
  await send(producers, stream, batch(2, 0, clock.now));
  assert.equal(producers.producerCount(stream, 0), 2);
  clock.now += EXPIRY_MS - 30_000 - 1;
  assert.equal(producers.expireProducers(), 0, 'not yet: one ms short');
  clock.now += 1;
  assert.equal(producers.expireProducers(), 1);
  assert.equal(producers.producerCount(stream, 0), 1);
  // Producer 1 is unknown now: its next sequence is taken as it comes (Kafka 2.5+), and counting goes on.
  assert.equal((await send(producers, stream, batch(1, 1, clock.now))).kind, 'appended');
  assert.equal((await send(producers, stream, batch(1, 1, clock.now))).kind, 'duplicate', 'a retry of it is recognised');
  await assert.rejects(send(producers, stream, batch(1, 5, clock.now)), (e: unknown) => isBrokerError(e, 'TRIB_OUT_OF_ORDER_SEQUENCE'));
  // Producer 2 kept its state: its next sequence is accepted, a retry is still a duplicate.
  assert.equal((await send(producers, stream, batch(2, 1, clock.now))).kind, 'appended');
  assert.equal((await send(producers, stream, batch(2, 1, clock.now))).kind, 'duplicate');
});

test('each write restarts the producer\'s expiry clock', T, async () => {
  const { stream, clock, producers } = await setup();
  for (let seq = 0; seq < 4; seq++) {
    await send(producers, stream, batch(3, seq, clock.now));
    clock.now += EXPIRY_MS - 1;
    assert.equal(producers.expireProducers(), 0);
  }
  clock.now += 1;
  assert.equal(producers.expireProducers(), 1);
});

test('a producer with a batch in flight is not expired', T, async () => {
  const { stream, clock, producers } = await setup();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const b = batch(4, 0, clock.now);
  const pending = producers.append(stream, 0, b, () => {
    const p = stream.appendBatch(0, b);
    return gate.then(() => p);
  });
  // Let the critical section run (rebuild, check, issue) without acknowledging the append.
  while (producers.producerCount(stream, 0) === 0) await new Promise((r) => setImmediate(r));
  clock.now += 2 * EXPIRY_MS;
  assert.equal(producers.expireProducers(), 0);
  release();
  await within(pending, 'the gated append');
  assert.equal(producers.expireProducers(), 1);
});

test('state rebuilt from the log after a restart leaves out producers already expired', T, async () => {
  const { factory, metadata, stream, clock, producers } = await setup();
  await send(producers, stream, batch(5, 0, clock.now - 2 * EXPIRY_MS)); // an old record timestamp
  await send(producers, stream, batch(6, 0, clock.now));
  await stream.close();
  const reopened = await Stream.open(factory, { name: 'exp' });
  const again = new ProducerStateManager(metadata, { producerIdExpirationMs: EXPIRY_MS, checkIntervalMs: 0, now: () => clock.now });
  // The rebuild runs on the first idempotent batch; producer 6's retry is still recognised.
  assert.equal((await send(again, reopened, batch(6, 0, clock.now))).kind, 'duplicate');
  assert.equal(again.producerCount(reopened, 0), 1);
  // Producer 5 expired before the restart: no state was rebuilt for it, so its next batch is taken as new.
  assert.equal(again.producerCount(reopened, 0), 1);
  assert.equal((await send(again, reopened, batch(5, 1, clock.now))).kind, 'appended');
});
