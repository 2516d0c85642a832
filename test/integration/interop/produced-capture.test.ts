/**
 * A Kafka produce to topic `a.b` is a publish on subject `a.b` (DESIGN.md "Interop naming", "Router"): besides
 * the live subscribers it reaches every OTHER stream whose `subjects` match, with its key, value and headers,
 * and the subject in `tributary-subject`; the topic itself stores it once. Real clients: kafkajs, nats.js.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EachMessagePayload, IHeaders } from 'kafkajs';
import type { Msg } from '@nats-io/transport-node';
import { ANONYMOUS } from '../../../src/core/principal.js';
import { collectN, startAll, within, type InteropFixture } from './harness.js';

const BINARY = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41, 0x0a, 0xc3]);

function header(h: IHeaders | undefined, key: string): string | undefined {
  const v = h?.[key];
  if (v === undefined) return undefined;
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** The first `n` records of `topic`, read from the beginning by a kafkajs consumer of group `groupId`. */
async function readTopic(f: InteropFixture, topic: string, groupId: string, n: number): Promise<EachMessagePayload['message'][]> {
  const consumer = f.track(f.kafka().consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 200 }));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let push!: (p: EachMessagePayload) => void;
  const got = collectN<EachMessagePayload>(n, `${n} record(s) of ${topic}`, (p) => (push = p));
  await consumer.run({ eachMessage: async (p) => push(p) });
  return (await got).map((p) => p.message);
}

test('a Kafka produce to topic pc.b is captured by another stream with subjects pc.> (and still delivered live), stored once in pc.b', async (t) => {
  const f = await startAll(t);
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'pc.b' }, { topic: 'pc.c.d' }, { topic: 'elsewhere' }], waitForLeaders: true });
  // The capturing stream: a Kafka topic too, so kafkajs can read it back.
  await f.broker.createStream(ANONYMOUS, { name: 'pc-all', subjects: ['pc.>'] });

  const nc = await f.nats();
  const live = nc.subscribe('pc.b', { max: 1 });
  await nc.flush();
  const gotLive = within(
    (async () => {
      const out: Msg[] = [];
      for await (const m of live) out.push(m);
      return out;
    })(),
    'the live NATS delivery',
  );

  const producer = f.track(f.kafka().producer());
  await producer.connect();
  await producer.send({ topic: 'pc.b', acks: -1, messages: [{ key: 'k1', value: BINARY, headers: { trace: 't-1', 'tributary-reply-to': 'replies.1' } }] });
  await producer.send({ topic: 'pc.c.d', acks: -1, messages: [{ key: 'k2', value: 'two' }] });
  await producer.send({ topic: 'elsewhere', acks: -1, messages: [{ value: 'not captured' }] });

  const [n] = await gotLive;
  assert.deepEqual(Buffer.from(n!.data), BINARY);
  assert.equal(n!.reply, 'replies.1');

  const records = await readTopic(f, 'pc-all', 'pc-reader', 2);
  const bySubject = new Map(records.map((r) => [header(r.headers, 'tributary-subject'), r]));
  const first = bySubject.get('pc.b');
  const second = bySubject.get('pc.c.d');
  assert.ok(first && second, `subjects ${[...bySubject.keys()].join(', ')}`);
  assert.deepEqual(first.value, BINARY);
  assert.equal(first.key?.toString(), 'k1');
  assert.equal(header(first.headers, 'trace'), 't-1');
  assert.equal(header(first.headers, 'tributary-reply-to'), 'replies.1');
  assert.equal(second.value?.toString(), 'two');
  assert.equal(second.key?.toString(), 'k2');

  // Each topic has its record once (the capture is not applied to the topic it was produced to); pc-all has
  // exactly the two matching records, not the one produced to `elsewhere`.
  assert.equal((await admin.fetchTopicOffsets('pc.b'))[0]!.high, '1');
  assert.equal((await admin.fetchTopicOffsets('pc.c.d'))[0]!.high, '1');
  assert.equal((await admin.fetchTopicOffsets('pc-all'))[0]!.high, '2');
});

test('changing a stream\'s subjects config changes which produced topics it captures', async (t) => {
  const f = await startAll(t);
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'sx.one' }], waitForLeaders: true });
  await f.broker.createStream(ANONYMOUS, { name: 'sx-audit', subjects: ['nothing.here'] });
  const producer = f.track(f.kafka().producer());
  await producer.connect();
  await producer.send({ topic: 'sx.one', acks: -1, messages: [{ value: 'before' }] });
  await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: 'sx-audit', configEntries: [{ name: 'subjects', value: 'sx.*' }] }] });
  await producer.send({ topic: 'sx.one', acks: -1, messages: [{ value: 'after' }] });
  const audit = f.broker.requireStream('sx-audit');
  await within(
    (async () => {
      while ((await admin.fetchTopicOffsets('sx-audit'))[0]!.high !== '1') await new Promise((r) => setImmediate(r));
    })(),
    'the capture after the config change',
  );
  assert.ok(audit.subjects.includes('sx.*'));
  const [r] = await readTopic(f, 'sx-audit', 'sx-reader', 1);
  assert.equal(r!.value?.toString(), 'after');
});
