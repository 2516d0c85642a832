/**
 * Broker.publish's `stored`: what a protocol tells its client the message was stored in (the HTTP API's publish
 * answer, `tributary publish`). Internal `__` streams are awaited like any capture but never reported, whether
 * they capture through their own subjects or through a protocol's capture target (an MQTT persistent session's
 * `__mqtt.s.*` queue).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../src/core/broker.js';
import type { Message } from '../../src/core/message.js';
import { ANONYMOUS } from '../../src/core/principal.js';

async function openBroker(t: TestContext): Promise<Broker> {
  const dataDir = await mkdtemp(join(tmpdir(), 'trib-broker-stored-'));
  const broker = await Broker.open({ dataDir, fsync: 'never', fsyncIntervalMs: 1000 });
  t.after(async () => {
    await broker.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return broker;
}

function message(subject: string, value: string): Message {
  return { subject, key: null, value: Buffer.from(value), headers: [], timestamp: Date.now() };
}

test('publish reports only the visible streams as stored, and still resolves after the internal appends', async (t) => {
  const broker = await openBroker(t);
  await broker.createStream(ANONYMOUS, { name: 'orders', partitions: 1, subjects: ['orders.>'] });
  await broker.createStream(ANONYMOUS, { name: 'orders-copy', partitions: 1, subjects: ['orders.>'] });
  await broker.publish(ANONYMOUS, message('orders.0', 'first'));
  const audit = await broker.createStream(ANONYMOUS, { name: '__audit', partitions: 1, subjects: ['orders.>'] }, { allowInternal: true });
  const session = await broker.createStream(ANONYMOUS, { name: '__session.q', partitions: 1 }, { allowInternal: true });
  // A protocol's own capture target, as an MQTT persistent session's: it appends to its internal queue.
  broker.router.addCapture('orders.>', { capture: (m: Message) => session!.publish(m, 0) });
  // One with nothing to wait for (a QoS 0 message for that session).
  broker.router.addCapture('orders.>', { capture: () => undefined });

  const { stored } = await broker.publish(ANONYMOUS, message('orders.1', 'second'));

  assert.deepEqual(stored, [
    { partition: 0, offset: 1 },
    { partition: 0, offset: 1 },
  ]);
  assert.equal(audit!.offsets(0).highWatermark, 1, 'the internal stream with subjects was appended before publish resolved');
  assert.equal(session!.offsets(0).highWatermark, 1, "the protocol's internal queue was appended before publish resolved");
});

test('a publish captured by internal streams only reports nothing stored', async (t) => {
  const broker = await openBroker(t);
  const session = await broker.createStream(ANONYMOUS, { name: '__session.q', partitions: 1 }, { allowInternal: true });
  broker.router.addCapture('jobs.>', { capture: (m: Message) => session!.publish(m, 0) });

  const { deliveries, stored } = await broker.publish(ANONYMOUS, message('jobs.1', 'x'));

  assert.equal(deliveries, 0);
  assert.deepEqual(stored, []);
  assert.equal(session!.offsets(0).highWatermark, 1);
});
