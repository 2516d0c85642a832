/**
 * AMQP routing keys that are not subjects (`a..b`, spaces, `*`, a trailing dot) on the amq.topic bridge: they
 * are escaped into subjects reversibly (core/router/translate.ts), so NATS and MQTT subscribers get them and
 * NATS/MQTT publishes on the escaped names reach amq.topic queues with the original key; a key with no subject
 * at all never makes the publish fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Msg } from '@nats-io/transport-node';
import type { GetMessage } from 'amqplib';
import { collectN, startAll, within } from '../interop/harness.js';

test('amq.topic keys that are not subjects are escaped onto the Router and back, for NATS and MQTT, without errors', async (t) => {
  const f = await startAll(t);
  const nc = await f.nats();
  const sub = nc.subscribe('k.>');
  await nc.flush();
  const keys = ['k..b', 'k.a b.c', 'k.*.y', 'k.trail.', 'k.%2E'];
  const gotNats = collectN<Msg>(keys.length, 'NATS deliveries', (push) => {
    void (async () => {
      for await (const m of sub) push(m);
    })();
  });
  const mq = await f.mqtt();
  await mq.subscribeAsync('k/#', { qos: 1 });
  const gotMqtt = collectN<string>(keys.length, 'MQTT deliveries', (push) => mq.on('message', (topic) => push(topic)));

  const conn = await f.amqp();
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('keys', { durable: false });
  await ch.bindQueue('keys', 'amq.topic', 'k.#');
  for (const key of keys) ch.publish('amq.topic', key, Buffer.from(key));
  await within(ch.waitForConfirms(), 'the confirms');

  const nats = await gotNats;
  assert.deepEqual(nats.map((m) => [m.subject, m.string()]), [
    ['k.%.b', 'k..b'],
    ['k.a%20b.c', 'k.a b.c'],
    ['k.%2A.y', 'k.*.y'],
    ['k.trail.%', 'k.trail.'],
    ['k.%252E', 'k.%2E'],
  ]);
  assert.deepEqual(await gotMqtt, ['k//b', 'k/a b/c', 'k/*/y', 'k/trail/', 'k/%2E']);
  // The AMQP queue got each once, with its own key.
  for (const key of keys) {
    const m = (await ch.get('keys', { noAck: true })) as GetMessage;
    assert.equal(m.fields.routingKey, key);
  }
  assert.equal(await ch.get('keys'), false);

  // Back: NATS and MQTT publishes on the escaped names reach the queue bound on the original key.
  await ch.assertQueue('back', { durable: false });
  await ch.bindQueue('back', 'amq.topic', 'r..b');
  await ch.bindQueue('back', 'amq.topic', 'r.a b');
  nc.publish('r.%.b', 'from-nats');
  await nc.flush();
  await mq.publishAsync('r/a b', 'from-mqtt', { qos: 1 });
  const back: Array<[string, string]> = [];
  await within((async () => {
    while (back.length < 2) {
      const m = await ch.get('back', { noAck: true });
      if (m === false) await new Promise((r) => setTimeout(r, 10));
      else back.push([m.fields.routingKey, m.content.toString()]);
    }
  })(), 'the NATS and MQTT publishes in the AMQP queue');
  assert.deepEqual(back.sort(), [['r..b', 'from-nats'], ['r.a b', 'from-mqtt']]);

  // A key with more words than a subject may have has no subject: AMQP routing still works, nothing throws.
  await ch.assertQueue('all', { durable: false });
  await ch.bindQueue('all', 'amq.topic', '#');
  const huge = '.'.repeat(255);
  ch.publish('amq.topic', huge, Buffer.from('no-subject'));
  ch.publish('amq.topic', '', Buffer.from('empty-key'));
  await within(ch.waitForConfirms(), 'confirms of keys without a subject');
  const first = (await ch.get('all', { noAck: true })) as GetMessage;
  const second = (await ch.get('all', { noAck: true })) as GetMessage;
  assert.deepEqual([first.fields.routingKey, second.content.toString()], [huge, 'empty-key']);
});
