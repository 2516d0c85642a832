import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANONYMOUS } from '../../../src/core/principal.js';
import type { Message } from '../../../src/core/message.js';
import { nextMessages, startMqtt, within } from './harness.js';

test('an MQTT publish on a/b reaches a router subscriber of a.b with payload and headers', async (t) => {
  const f = await startMqtt(t);
  let resolve!: (m: Message) => void;
  const got = new Promise<Message>((r) => (resolve = r));
  const sub = f.broker.router.subscribe('a.b', (m) => resolve(m));
  t.after(() => sub.unsubscribe());
  const c = await f.client({ protocolVersion: 5 });
  await c.publishAsync('a/b', 'hello', { qos: 1, properties: { userProperties: { k: 'v' }, contentType: 'text/plain', responseTopic: 'r/1', correlationData: Buffer.from('c1') } });
  const m = await within(got, 'the router delivery');
  assert.equal(m.subject, 'a.b');
  assert.equal(m.value?.toString(), 'hello');
  assert.equal(m.replyTo, 'r.1');
  assert.deepEqual(m.headers.map((h) => [h.key, h.value?.toString()]), [['k', 'v'], ['content-type', 'text/plain'], ['correlation-id', 'c1']]);
});

test('broker.publish on subject a.b reaches an mqtt.js subscriber of a/+ with headers as user properties', async (t) => {
  const f = await startMqtt(t);
  const c = await f.client({ protocolVersion: 5 });
  await c.subscribeAsync('a/+', { qos: 1 });
  const v4 = await f.client({ protocolVersion: 4 });
  await v4.subscribeAsync('a/#', { qos: 2 });
  const got = nextMessages(c, 1, 'the v5 delivery');
  const got4 = nextMessages(v4, 1, 'the v4 delivery');
  await f.broker.publish(ANONYMOUS, {
    subject: 'a.b',
    key: null,
    value: Buffer.from('from nats'),
    headers: [{ key: 'trace', value: Buffer.from('t-1') }, { key: 'content-type', value: Buffer.from('text/plain') }],
    timestamp: Date.now(),
    replyTo: '_INBOX.x',
  });
  const [m] = await got;
  assert.equal(m.topic, 'a/b');
  assert.equal(m.payload.toString(), 'from nats');
  assert.equal(m.packet.qos, 1);
  assert.deepEqual({ ...m.packet.properties?.userProperties }, { trace: 't-1' });
  assert.equal(m.packet.properties?.contentType, 'text/plain');
  assert.equal(m.packet.properties?.responseTopic, '_INBOX/x');
  const [m4] = await got4;
  assert.equal(m4.topic, 'a/b');
  // Messages from other protocols are delivered at most at QoS 1.
  assert.equal(m4.packet.qos, 1);
});
