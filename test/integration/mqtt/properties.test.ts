import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextMessages, startMqtt } from './harness.js';

test('v5 properties travel through the router: user properties, content type, response topic, correlation data, expiry', async (t) => {
  const f = await startMqtt(t);
  const sub = await f.client({ protocolVersion: 5 });
  await sub.subscribeAsync('req/+', { qos: 1 });
  const got = nextMessages(sub, 1, 'the message');
  const pub = await f.client({ protocolVersion: 5 });
  await pub.publishAsync('req/1', '{"q":1}', {
    qos: 1,
    properties: {
      userProperties: { a: '1', b: ['x', 'y'] },
      contentType: 'application/json',
      responseTopic: 'resp/1',
      correlationData: Buffer.from([1, 2, 3]),
      messageExpiryInterval: 60,
      payloadFormatIndicator: true,
    },
  });
  const [m] = await got;
  const p = m.packet.properties!;
  assert.deepEqual({ ...p.userProperties }, { a: '1', b: ['x', 'y'] });
  assert.equal(p.contentType, 'application/json');
  assert.equal(p.responseTopic, 'resp/1');
  assert.deepEqual(Buffer.from(p.correlationData!), Buffer.from([1, 2, 3]));
  assert.ok(p.messageExpiryInterval! > 0 && p.messageExpiryInterval! <= 60);
  assert.equal(p.payloadFormatIndicator, true);
});

test('an expired retained message is not delivered', async (t) => {
  const f = await startMqtt(t);
  const pub = await f.client({ protocolVersion: 5 });
  await pub.publishAsync('exp/a', 'short', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
  await pub.publishAsync('exp/b', 'long', { qos: 1, retain: true, properties: { messageExpiryInterval: 100 } });
  const { RetainedStore } = await import('../../../src/core/retained-store.js');
  const store = RetainedStore.for(f.broker);
  assert.equal(store.match(['exp.>'], { nowMs: Date.now() + 2000 }).map((r) => r.subject).join(), 'exp.b');
});

test('inbound topic aliases: the first PUBLISH sets an alias, later ones use it with an empty topic', async (t) => {
  const f = await startMqtt(t);
  const sub = await f.client({ protocolVersion: 5 });
  await sub.subscribeAsync('alias/#', { qos: 1 });
  const got = nextMessages(sub, 2, 'two messages');
  const raw = await f.raw(5);
  const ack = await raw.connect('aliaser');
  assert.equal(ack.type === 'connack' && ack.properties?.topicAliasMaximum, 64);
  raw.send({ type: 'publish', dup: false, qos: 1, retain: false, topic: 'alias/long/topic', packetId: 1, properties: { topicAlias: 3 }, payload: Buffer.from('1') });
  raw.send({ type: 'publish', dup: false, qos: 1, retain: false, topic: '', packetId: 2, properties: { topicAlias: 3 }, payload: Buffer.from('2') });
  const msgs = await got;
  assert.deepEqual(msgs.map((m) => `${m.topic}:${m.payload}`), ['alias/long/topic:1', 'alias/long/topic:2']);
  // An unknown alias is a protocol error.
  raw.send({ type: 'publish', dup: false, qos: 0, retain: false, topic: '', properties: { topicAlias: 9 }, payload: Buffer.from('3') });
  const d = await raw.next('disconnect');
  assert.equal(d.type === 'disconnect' && d.reasonCode, 0x82);
});

test('No Local keeps a client from receiving its own publishes', async (t) => {
  const f = await startMqtt(t);
  const c = await f.client({ protocolVersion: 5 });
  await c.subscribeAsync('nl/a', { qos: 1, nl: true });
  await c.subscribeAsync('nl/b', { qos: 1 });
  const got = nextMessages(c, 1, 'own message on nl/b');
  await c.publishAsync('nl/a', 'not me', { qos: 1 });
  await c.publishAsync('nl/b', 'me', { qos: 1 });
  const [m] = await got;
  assert.equal(m.topic, 'nl/b');
});

test('subscription identifiers are returned on matching deliveries', async (t) => {
  const f = await startMqtt(t);
  const c = await f.client({ protocolVersion: 5 });
  await c.subscribeAsync('sid/#', { qos: 1, properties: { subscriptionIdentifier: 42 } });
  const got = nextMessages(c, 1, 'message');
  await c.publishAsync('sid/1', 'x', { qos: 1 });
  assert.equal((await got)[0].packet.properties?.subscriptionIdentifier, 42);
});

test('shared subscriptions spread messages among the group', async (t) => {
  const f = await startMqtt(t);
  const [a, b] = await Promise.all([f.client({ protocolVersion: 5 }), f.client({ protocolVersion: 5 })]);
  await a.subscribeAsync('$share/g/jobs/#', { qos: 1 });
  await b.subscribeAsync('$share/g/jobs/#', { qos: 1 });
  let total = 0;
  const counts = [0, 0];
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const on = (i: number) => () => {
    counts[i]++;
    if (++total === 40) done();
  };
  a.on('message', on(0));
  b.on('message', on(1));
  const pub = await f.client({ protocolVersion: 5 });
  for (let i = 0; i < 40; i++) await pub.publishAsync('jobs/x', String(i), { qos: 1 });
  const { within } = await import('./harness.js');
  await within(all, '40 deliveries');
  assert.equal(counts[0] + counts[1], 40);
});
