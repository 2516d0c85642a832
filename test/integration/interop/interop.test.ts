/**
 * Every protocol pair, both directions, through ONE broker with the four listeners and the real clients
 * (docs/interop.md is the table these tests check): payload bytes identical, headers by name, content type,
 * correlation id/data and reply fields mapped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConsumeMessage } from 'amqplib';
import type { EachMessagePayload, IHeaders } from 'kafkajs';
import { headers as natsHeaders, type Msg } from '@nats-io/transport-node';
import { ANONYMOUS } from '../../../src/core/principal.js';
import { collectN, nextMqtt, startAll, within, type InteropFixture } from './harness.js';

/** Bytes that are not valid UTF-8, so any decode/re-encode on the way would show. */
const BINARY = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41, 0x0a, 0xc3]);


/** Subscribes (resolves once the SUB is registered) and gives the promise of the messages, wrapped. */
async function natsSub(f: InteropFixture, subject: string, n = 1): Promise<{ got: Promise<Msg[]> }> {
  const nc = await f.nats();
  const sub = nc.subscribe(subject);
  await nc.flush();
  const got = collectN<Msg>(n, `${n} NATS message(s) on ${subject}`, (push) => {
    void (async () => {
      for await (const m of sub) push(m);
    })();
  });
  return { got };
}

/** An AMQP queue bound to amq.topic with `pattern`; resolves with the promise of its first `n` deliveries. */
async function amqpQueue(f: InteropFixture, pattern: string, n = 1): Promise<{ got: Promise<ConsumeMessage[]> }> {
  const conn = await f.amqp();
  const ch = await conn.createChannel();
  const { queue } = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(queue, 'amq.topic', pattern);
  let push!: (m: ConsumeMessage) => void;
  const got = collectN<ConsumeMessage>(n, `${n} AMQP deliveries from amq.topic ${pattern}`, (p) => (push = p));
  await ch.consume(queue, (m) => {
    if (m !== null) push(m);
  }, { noAck: true });
  return { got };
}

function kafkaHeader(h: IHeaders | undefined, key: string): string | undefined {
  const v = h?.[key];
  if (v === undefined) return undefined;
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}


test('interop across Kafka, AMQP, NATS and MQTT on one broker', async (t) => {
  const f = await startAll(t);

  await t.test('an MQTT 5 publish on a/b reaches a NATS subscriber of a.b: bytes, user properties, content type, correlation data, response topic', async () => {
    const { got } = await natsSub(f, 'mn.b');
    const pub = await f.mqtt();
    await pub.publishAsync('mn/b', BINARY, {
      qos: 1,
      properties: { userProperties: { trace: 't-1' }, contentType: 'application/octet-stream', correlationData: Buffer.from('corr-1'), responseTopic: 'replies/1' },
    });
    const [m] = await got;
    assert.equal(m.subject, 'mn.b');
    assert.deepEqual(Buffer.from(m.data), BINARY);
    assert.equal(m.headers?.get('trace'), 't-1');
    assert.equal(m.headers?.get('content-type'), 'application/octet-stream');
    assert.equal(m.headers?.get('correlation-id'), 'corr-1');
    assert.equal(m.reply, 'replies.1');
  });

  await t.test('a NATS publish on a.b reaches an MQTT 5 subscriber of a/+: bytes, headers as user properties, content type, correlation data, response topic', async () => {
    const sub = await f.mqtt();
    await sub.subscribeAsync('nm/+', { qos: 1 });
    const got = nextMqtt(sub, 'nm/b', 'the MQTT delivery');
    const nc = await f.nats();
    const h = natsHeaders();
    h.set('trace', 't-2');
    h.set('content-type', 'text/plain');
    h.set('correlation-id', 'corr-2');
    nc.publish('nm.b', BINARY, { headers: h, reply: 'replies.2' });
    const m = await got;
    assert.deepEqual(m.payload, BINARY);
    assert.equal(m.packet.qos, 1);
    assert.deepEqual({ ...m.packet.properties?.userProperties }, { trace: 't-2' });
    assert.equal(m.packet.properties?.contentType, 'text/plain');
    assert.deepEqual(m.packet.properties?.correlationData, Buffer.from('corr-2'));
    assert.equal(m.packet.properties?.responseTopic, 'replies/2');
  });

  await t.test('an AMQP publish on amq.topic with key a.b reaches NATS a.b and MQTT a/b subscribers with properties mapped', async () => {
    const { got: gotNats } = await natsSub(f, 'an.b');
    const sub = await f.mqtt();
    await sub.subscribeAsync('an/#', { qos: 1 });
    const gotMqtt = nextMqtt(sub, 'an/b', 'the MQTT delivery');
    const ch = await (await f.amqp()).createConfirmChannel();
    ch.publish('amq.topic', 'an.b', BINARY, { contentType: 'application/json', correlationId: 'corr-3', replyTo: 'replies.3', messageId: 'm-3', headers: { trace: 't-3', n: 7 } });
    await within(ch.waitForConfirms(), 'the AMQP confirm');
    const [n] = await gotNats;
    assert.deepEqual(Buffer.from(n.data), BINARY);
    assert.equal(n.reply, 'replies.3');
    assert.equal(n.headers?.get('content-type'), 'application/json');
    assert.equal(n.headers?.get('correlation-id'), 'corr-3');
    assert.equal(n.headers?.get('message-id'), 'm-3');
    assert.equal(n.headers?.get('trace'), 't-3');
    assert.equal(n.headers?.get('n'), '7');
    const m = await gotMqtt;
    assert.deepEqual(m.payload, BINARY);
    assert.equal(m.packet.properties?.contentType, 'application/json');
    assert.deepEqual(m.packet.properties?.correlationData, Buffer.from('corr-3'));
    assert.equal(m.packet.properties?.responseTopic, 'replies/3');
    const up = { ...m.packet.properties?.userProperties };
    assert.equal(up.trace, 't-3');
    assert.equal(up['message-id'], 'm-3');
  });

  await t.test('an AMQP publish on amq.topic is stored once in a bound queue (the Broker bridge skips what the channel routed)', async () => {
    const ch = await (await f.amqp()).createConfirmChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, 'amq.topic', 'aq.#');
    ch.publish('amq.topic', 'aq.b', BINARY, { contentType: 'text/plain' });
    await within(ch.waitForConfirms(), 'the AMQP confirm');
    const { messageCount } = await ch.checkQueue(queue);
    assert.equal(messageCount, 1);
    const m = await ch.get(queue, { noAck: true });
    assert.ok(m);
    assert.deepEqual(m.content, BINARY);
    assert.equal(m.properties.contentType, 'text/plain');
  });

  await t.test('NATS and MQTT publishes on a.b reach an AMQP queue bound to amq.topic with a.* as properties and headers', async () => {
    const { got } = await amqpQueue(f, 'na.*', 2);
    const nc = await f.nats();
    const h = natsHeaders();
    h.set('trace', 't-4');
    h.set('content-type', 'text/plain');
    h.set('correlation-id', 'corr-4');
    nc.publish('na.b', BINARY, { headers: h, reply: 'replies.4' });
    await nc.flush();
    const pub = await f.mqtt();
    await pub.publishAsync('na/c', BINARY, { qos: 1, properties: { userProperties: { trace: 't-5' }, contentType: 'application/cbor', correlationData: Buffer.from('corr-5'), responseTopic: 'replies/5' } });
    const msgs = await got;
    const byKey = new Map(msgs.map((m) => [m.fields.routingKey, m]));
    const fromNats = byKey.get('na.b');
    const fromMqtt = byKey.get('na.c');
    assert.ok(fromNats && fromMqtt, `routing keys ${[...byKey.keys()].join(', ')}`);
    assert.equal(fromNats.fields.exchange, 'amq.topic');
    assert.deepEqual(fromNats.content, BINARY);
    assert.equal(fromNats.properties.contentType, 'text/plain');
    assert.equal(fromNats.properties.correlationId, 'corr-4');
    assert.equal(fromNats.properties.replyTo, 'replies.4');
    assert.equal(String(fromNats.properties.headers?.trace), 't-4');
    assert.deepEqual(fromMqtt.content, BINARY);
    assert.equal(fromMqtt.properties.contentType, 'application/cbor');
    assert.equal(fromMqtt.properties.correlationId, 'corr-5');
    assert.equal(fromMqtt.properties.replyTo, 'replies.5');
    assert.equal(String(fromMqtt.properties.headers?.trace), 't-5');
  });

  await t.test('a Kafka produce to topic a.b reaches live NATS a.>, MQTT a/+ and amq.topic queue subscribers, and is stored once', async () => {
    const admin = f.track(f.kafka().admin());
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'kl.b', numPartitions: 1 }], waitForLeaders: true });
    const { got: gotNats } = await natsSub(f, 'kl.>');
    const sub = await f.mqtt();
    await sub.subscribeAsync('kl/+', { qos: 1 });
    const gotMqtt = nextMqtt(sub, 'kl/b', 'the MQTT delivery');
    const { got: gotAmqp } = await amqpQueue(f, 'kl.#');
    const producer = f.track(f.kafka().producer());
    await producer.connect();
    await producer.send({
      topic: 'kl.b',
      acks: -1,
      messages: [{ key: 'k1', value: BINARY, headers: { trace: 't-6', 'content-type': 'application/avro', 'correlation-id': 'corr-6', 'tributary-reply-to': 'replies.6' } }],
    });
    const [n] = await gotNats;
    assert.equal(n.subject, 'kl.b');
    assert.deepEqual(Buffer.from(n.data), BINARY);
    assert.equal(n.headers?.get('trace'), 't-6');
    assert.equal(n.headers?.get('content-type'), 'application/avro');
    assert.equal(n.reply, 'replies.6');
    const m = await gotMqtt;
    assert.deepEqual(m.payload, BINARY);
    assert.equal(m.packet.properties?.contentType, 'application/avro');
    assert.deepEqual(m.packet.properties?.correlationData, Buffer.from('corr-6'));
    assert.equal(m.packet.properties?.responseTopic, 'replies/6');
    assert.deepEqual({ ...m.packet.properties?.userProperties }, { trace: 't-6' });
    const [a] = await gotAmqp;
    assert.deepEqual(a.content, BINARY);
    assert.equal(a.fields.routingKey, 'kl.b');
    assert.equal(a.properties.contentType, 'application/avro');
    assert.equal(a.properties.correlationId, 'corr-6');
    assert.equal(a.properties.replyTo, 'replies.6');
    // Live delivery only: the record is in the topic once, not captured a second time.
    const offsets = await admin.fetchTopicOffsets('kl.b');
    assert.equal(offsets[0].high, '1');
  });

  await t.test('NATS, MQTT and AMQP publishes on a.b are captured by Kafka topic a.b and read by a kafkajs consumer with headers', async () => {
    await f.broker.createStream(ANONYMOUS, { name: 'kc.b' });
    const nc = await f.nats();
    const h = natsHeaders();
    h.set('trace', 'from-nats');
    h.set('content-type', 'text/plain');
    nc.publish('kc.b', BINARY, { headers: h, reply: 'replies.7' });
    await nc.flush();
    const pub = await f.mqtt();
    await pub.publishAsync('kc/b', BINARY, { qos: 1, properties: { userProperties: { trace: 'from-mqtt' }, correlationData: Buffer.from('corr-8'), contentType: 'application/cbor' } });
    const ch = await (await f.amqp()).createConfirmChannel();
    ch.publish('amq.topic', 'kc.b', BINARY, { contentType: 'application/json', correlationId: 'corr-9', headers: { trace: 'from-amqp' } });
    await within(ch.waitForConfirms(), 'the AMQP confirm');

    const consumer = f.track(f.kafka().consumer({ groupId: 'interop-kc', sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 200 }));
    await consumer.connect();
    await consumer.subscribe({ topic: 'kc.b', fromBeginning: true });
    let push!: (p: EachMessagePayload) => void;
    const got = collectN<EachMessagePayload>(3, 'three records from kafkajs', (p) => (push = p));
    await consumer.run({ eachMessage: async (p) => push(p) });
    const records = (await got).map((p) => p.message);
    const byOrigin = new Map(records.map((r) => [kafkaHeader(r.headers, 'trace'), r]));
    const n = byOrigin.get('from-nats');
    const m = byOrigin.get('from-mqtt');
    const a = byOrigin.get('from-amqp');
    assert.ok(n && m && a, `traces ${[...byOrigin.keys()].join(', ')}`);
    for (const r of [n, m, a]) {
      assert.deepEqual(r.value, BINARY);
      // The subject is the topic's name: no tributary-subject header.
      assert.equal(kafkaHeader(r.headers, 'tributary-subject'), undefined);
    }
    assert.equal(kafkaHeader(n.headers, 'content-type'), 'text/plain');
    assert.equal(kafkaHeader(n.headers, 'tributary-reply-to'), 'replies.7');
    assert.equal(kafkaHeader(m.headers, 'content-type'), 'application/cbor');
    assert.equal(kafkaHeader(m.headers, 'correlation-id'), 'corr-8');
    assert.equal(kafkaHeader(a.headers, 'content-type'), 'application/json');
    assert.equal(kafkaHeader(a.headers, 'correlation-id'), 'corr-9');
    assert.equal(kafkaHeader(a.headers, 'amqp-routing-key'), 'kc.b');
    assert.equal(kafkaHeader(a.headers, 'amqp-properties'), undefined);
  });
});
