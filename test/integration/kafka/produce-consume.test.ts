import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompressionTypes, type EachMessagePayload } from 'kafkajs';
import { deferred, startKafka, within, type KafkaFixture } from './harness.js';

interface Got {
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: { [k: string]: string };
}

/** Consumes `topic` from the beginning until `count` messages arrived; returns them. */
async function consumeAll(f: KafkaFixture, topic: string, count: number, groupId = `g-${topic}`): Promise<Got[]> {
  const consumer = f.track(f.kafka().consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 200 }));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got: Got[] = [];
  const done = deferred();
  await consumer.run({
    eachMessage: async ({ partition, message }: EachMessagePayload) => {
      const headers: { [k: string]: string } = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      got.push({ partition, offset: message.offset, key: message.key?.toString() ?? null, value: message.value?.toString() ?? null, headers });
      if (got.length >= count) done.resolve();
    },
  });
  await within(done.promise, `${count} messages from ${topic}`);
  await consumer.disconnect();
  return got;
}

test('kafkajs produces and consumes keyed messages with headers, many of them, in order per partition', async (t) => {
  const f = await startKafka(t);
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3 }] });
  const producer = f.track(f.kafka().producer());
  await producer.connect();
  const messages = Array.from({ length: 300 }, (_, i) => ({ key: `k${i % 7}`, value: `v${i}`, headers: { n: String(i) } }));
  for (let i = 0; i < messages.length; i += 100) await producer.send({ topic: 'orders', acks: -1, messages: messages.slice(i, i + 100) });
  const got = await consumeAll(f, 'orders', 300);
  assert.equal(got.length, 300);
  assert.deepEqual(new Set(got.map((g) => g.value)).size, 300);
  for (const g of got) {
    const i = Number(g.headers.n);
    assert.equal(g.value, `v${i}`);
    assert.equal(g.key, `k${i % 7}`);
  }
  // Same key → same partition, in produce order.
  const byKey = new Map<string, Got[]>();
  for (const g of got) byKey.set(g.key!, [...(byKey.get(g.key!) ?? []), g]);
  for (const list of byKey.values()) {
    assert.equal(new Set(list.map((g) => g.partition)).size, 1);
    const ns = list.map((g) => Number(g.headers.n));
    assert.deepEqual(ns, [...ns].sort((a, b) => a - b));
  }
  const offsets = await admin.fetchTopicOffsets('orders');
  assert.equal(offsets.reduce((n, o) => n + Number(o.high), 0), 300);
  assert.ok(offsets.every((o) => o.low === '0'));
});

test('gzip-compressed batches are stored as sent and consumed intact', async (t) => {
  const f = await startKafka(t);
  const producer = f.track(f.kafka().producer());
  await producer.connect();
  const value = 'x'.repeat(2000);
  const res = await producer.send({ topic: 'zipped', compression: CompressionTypes.GZIP, messages: Array.from({ length: 50 }, (_, i) => ({ key: String(i), value: `${i}:${value}` })) });
  assert.equal(res[0].errorCode, 0);
  const got = await consumeAll(f, 'zipped', 50);
  assert.deepEqual(got.map((g) => g.value).sort(), Array.from({ length: 50 }, (_, i) => `${i}:${value}`).sort());
  // Stored compressed: the partition holds far fewer bytes than the payload.
  const read = await f.broker.requireStream('zipped').read(0, 0, 10_000_000);
  assert.ok(read.records.length < 50 * 2000 / 4, `stored ${read.records.length} bytes`);
});

test('a long-polling fetch wakes promptly when a message arrives', async (t) => {
  const f = await startKafka(t);
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'wake' }] });
  const consumer = f.track(f.kafka().consumer({ groupId: 'wake-g', sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 10_000 }));
  await consumer.connect();
  await consumer.subscribe({ topic: 'wake', fromBeginning: true });
  const arrived = deferred<number>();
  const joined = deferred();
  consumer.on(consumer.events.GROUP_JOIN, () => joined.resolve());
  // The first fetch after joining finds nothing and parks in the long poll.
  const fetching = deferred();
  const off = consumer.on(consumer.events.FETCH_START, () => fetching.resolve());
  await consumer.run({ eachMessage: async () => arrived.resolve(Date.now()) });
  await within(joined.promise, 'group join');
  await within(fetching.promise, 'a fetch');
  off();
  const producer = f.track(f.kafka().producer());
  await producer.connect();
  const sent = Date.now();
  await producer.send({ topic: 'wake', messages: [{ value: 'ping' }] });
  const at = await within(arrived.promise, 'the message', 8000);
  assert.ok(at - sent < 3000, `delivered ${at - sent} ms after send, while maxWait is 10 s`);
  // disconnect() waits for the parked fetch; one more record releases it at once instead of after 10 s.
  const closing = consumer.disconnect();
  await producer.send({ topic: 'wake', messages: [{ value: 'release' }] });
  await within(closing, 'consumer disconnect');
});

test('acks=-1 records survive a broker close and reopen; ListOffsets by time, earliest and latest', async (t) => {
  const f = await startKafka(t);
  let producer = f.track(f.kafka().producer());
  await producer.connect();
  const before = Date.now();
  await producer.send({ topic: 'durable', acks: -1, messages: Array.from({ length: 20 }, (_, i) => ({ value: `d${i}` })) });
  await producer.disconnect();
  await f.restart();
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  const [o] = await admin.fetchTopicOffsets('durable');
  assert.equal(o.high, '20');
  assert.equal(o.low, '0');
  const [byTime] = await admin.fetchTopicOffsetsByTimestamp('durable', before - 60_000);
  assert.equal(byTime.offset, '0');
  // No record that late: the broker answers -1 and kafkajs substitutes the high watermark.
  const [future] = await admin.fetchTopicOffsetsByTimestamp('durable', Date.now() + 60_000);
  assert.equal(future.offset, '20');
  const got = await consumeAll(f, 'durable', 20);
  assert.deepEqual(got.map((g) => g.value), Array.from({ length: 20 }, (_, i) => `d${i}`));
  producer = f.track(f.kafka().producer());
  await producer.connect();
  const [r] = await producer.send({ topic: 'durable', acks: 1, messages: [{ value: 'more' }] });
  assert.equal(r.baseOffset, '20');
});

test('a batch over max.message.bytes is refused with MESSAGE_TOO_LARGE; acks=0 gets no response but is stored', async (t) => {
  const f = await startKafka(t);
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'small', configEntries: [{ name: 'max.message.bytes', value: '1000' }] }] });
  const producer = f.track(f.kafka().producer({ retry: { retries: 0 } }));
  await producer.connect();
  await assert.rejects(producer.send({ topic: 'small', messages: [{ value: 'y'.repeat(5000) }] }), (err: Error & { type?: string; cause?: { type?: string } }) => {
    const type = err.type ?? err.cause?.type;
    assert.ok(type === 'MESSAGE_TOO_LARGE' || /larger than the max message size/.test(err.message), `${type}: ${err.message}`);
    return true;
  });
  const res = await producer.send({ topic: 'small', acks: 0, messages: [{ value: 'fire-and-forget' }] });
  assert.deepEqual(res, []);
  // The next acknowledged request on the same connection is answered in order after the acks=0 one.
  const [r] = await producer.send({ topic: 'small', acks: 1, messages: [{ value: 'after' }] });
  assert.equal(r.baseOffset, '1');
});
