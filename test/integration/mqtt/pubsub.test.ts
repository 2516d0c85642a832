import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { ANONYMOUS } from '../../../src/core/principal.js';
import { PacketType } from '../../../src/protocols/mqtt/codec/index.js';
import { nextMessages, startMqtt, within } from './harness.js';

for (const protocolVersion of [4, 5] as const) {
  test(`v${protocolVersion}: QoS 0, 1 and 2 publishes reach a subscriber at min(published, granted) QoS`, async (t) => {
    const f = await startMqtt(t);
    const sub = await f.client({ protocolVersion });
    const pub = await f.client({ protocolVersion });
    const granted = await sub.subscribeAsync({ 'q/0': { qos: 0 }, 'q/1': { qos: 1 }, 'q/2': { qos: 2 } });
    assert.deepEqual(granted.map((g) => g.qos), [0, 1, 2]);
    const got = nextMessages(sub, 6, 'six messages');
    for (const topic of ['q/0', 'q/1', 'q/2']) {
      await pub.publishAsync(topic, `${topic}@1`, { qos: 1 });
      await pub.publishAsync(topic, `${topic}@2`, { qos: 2 });
    }
    const msgs = await got;
    const seen = msgs.map((m) => `${m.topic} ${m.payload.toString()} qos${m.packet.qos} retain${m.packet.retain ? 1 : 0}`).sort();
    assert.deepEqual(seen, [
      'q/0 q/0@1 qos0 retain0',
      'q/0 q/0@2 qos0 retain0',
      'q/1 q/1@1 qos1 retain0',
      'q/1 q/1@2 qos1 retain0',
      'q/2 q/2@1 qos1 retain0',
      'q/2 q/2@2 qos2 retain0',
    ]);
    await pub.publishAsync('q/0', 'zero', { qos: 0 });
    const [m] = await nextMessages(sub, 1, 'a QoS 0 message');
    assert.equal(m.payload.toString(), 'zero');
  });
}

test('+ and # match as MQTT defines them, and $-topics are not matched by leading wildcards', async (t) => {
  const f = await startMqtt(t);
  const filters = ['a/+/c', 'a/#', '#', '+/x', '$SYS/#'];
  const subs = await Promise.all(filters.map(() => f.client({ protocolVersion: 5 })));
  const got = filters.map(() => [] as string[]);
  subs.forEach((s, i) => s.on('message', (topic) => got[i].push(topic)));
  await Promise.all(subs.map((s, i) => s.subscribeAsync(filters[i], { qos: 1 })));
  const pub = await f.client({ protocolVersion: 5 });
  const topics = ['a/b/c', 'a', 'a/x/c', 'a/b/c/d', 'b/x', '$SYS/x', 'end'];
  const ended = nextMessages(subs[2], 1, 'the last message', (tp) => tp === 'end');
  // One subscriber to every topic including $SYS, to know all deliveries are done.
  const sysEnd = nextMessages(subs[4], 1, '$SYS message');
  for (const topic of topics) await pub.publishAsync(topic, topic, { qos: 1 });
  await ended;
  await sysEnd;
  assert.deepEqual(got[0], ['a/b/c', 'a/x/c']);
  assert.deepEqual(got[1], ['a/b/c', 'a', 'a/x/c', 'a/b/c/d']);
  assert.deepEqual(got[2], ['a/b/c', 'a', 'a/x/c', 'a/b/c/d', 'b/x', 'end']);
  assert.deepEqual(got[3], ['b/x']);
  assert.deepEqual(got[4], ['$SYS/x']);
});

test('UNSUBSCRIBE stops deliveries', async (t) => {
  const f = await startMqtt(t);
  const c = await f.client({ protocolVersion: 5 });
  const granted = await c.subscribeAsync({ 'u/1': { qos: 1 } });
  assert.deepEqual(granted.map((g) => g.qos), [1]);
  await c.unsubscribeAsync('u/1');
  await c.subscribeAsync('u/2', { qos: 1 });
  const next = nextMessages(c, 1, 'u/2');
  await c.publishAsync('u/1', 'gone', { qos: 1 });
  await c.publishAsync('u/2', 'here', { qos: 1 });
  const [m] = await next;
  assert.equal(m.topic, 'u/2');
});

test('PUBACK is sent only once a capturing stream has stored the message', async (t) => {
  const f = await startMqtt(t);
  const stream = await f.broker.createStream(ANONYMOUS, { name: 'sensors', subjects: ['sensors.>'] });
  assert.ok(stream);
  const c = await f.client({ protocolVersion: 5 });
  await c.publishAsync('sensors/t1', '21.5', { qos: 1, properties: { userProperties: { unit: 'C' } } });
  // No waiting: the PUBACK came, so the record is there.
  const stored = await stream.readMessages(0, 0, 1 << 20);
  assert.equal(stored.length, 1);
  assert.equal(stored[0].message.subject, 'sensors.t1');
  assert.equal(stored[0].message.value?.toString(), '21.5');
  assert.deepEqual(stored[0].message.headers.map((h) => [h.key, h.value?.toString()]), [['unit', 'C']]);
});

test('QoS 2 inbound is exactly once: a re-sent PUBLISH before PUBREL is not routed again', async (t) => {
  const f = await startMqtt(t);
  const sub = await f.client({ protocolVersion: 5 });
  await sub.subscribeAsync('x/once', { qos: 2 });
  const received: string[] = [];
  sub.on('message', (_t, p) => received.push(p.toString()));
  const raw = await f.raw(5);
  await raw.connect('q2');
  const publish = { type: 'publish' as const, dup: false, qos: 2 as const, retain: false, topic: 'x/once', packetId: 7, payload: Buffer.from('one') };
  raw.send(publish);
  const rec1 = await raw.next('pubrec');
  assert.equal(rec1.type === 'pubrec' && rec1.packetId, 7);
  raw.send({ ...publish, dup: true });
  await raw.next('pubrec');
  raw.send({ type: 'pubrel', packetId: 7, reasonCode: 0 });
  const comp = await raw.next('pubcomp');
  assert.equal(comp.type === 'pubcomp' && comp.reasonCode, 0);
  // A PUBREL for an unknown id: 0x92.
  raw.send({ type: 'pubrel', packetId: 99, reasonCode: 0 });
  const comp2 = await raw.next('pubcomp');
  assert.equal(comp2.type === 'pubcomp' && comp2.reasonCode, 0x92);
  // The same id after PUBREL is a new message.
  const next = nextMessages(sub, 1, 'the second message', () => received.length >= 2);
  raw.send({ ...publish, payload: Buffer.from('two') });
  await raw.next('pubrec');
  await next;
  assert.deepEqual(received, ['one', 'two']);
});

test('outbound QoS 2 goes through PUBREC/PUBREL/PUBCOMP with the subscriber', async (t) => {
  const f = await startMqtt(t);
  const raw = await f.raw(5);
  await raw.connect('q2-out');
  raw.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'o/2', qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
  const suback = await raw.next('suback');
  assert.deepEqual(suback.type === 'suback' && suback.reasonCodes, [2]);
  const pub = await f.client({ protocolVersion: 5 });
  await pub.publishAsync('o/2', 'exactly', { qos: 2 });
  const p = await raw.next('publish');
  assert.ok(p.type === 'publish' && p.qos === 2 && p.packetId !== undefined);
  if (p.type !== 'publish') return;
  raw.send({ type: 'pubrec', packetId: p.packetId!, reasonCode: 0 });
  const rel = await raw.next('pubrel');
  assert.equal(rel.type === 'pubrel' && rel.packetId, p.packetId);
  raw.send({ type: 'pubcomp', packetId: p.packetId!, reasonCode: 0 });
  const state = f.listener.sessions.get('q2-out')!;
  await within(
    (async () => {
      while (state.outbound.size > 0) await new Promise((r) => setImmediate(r));
    })(),
    'the outbound message to complete',
  );
});

test('a persistent session (3.1.1 clean session 0) queues QoS 1 while offline and re-sends unacknowledged ones', async (t) => {
  const f = await startMqtt(t);
  // Raw client so that acknowledgements are under the test's control.
  let raw = await f.raw(4);
  const ack1 = await raw.connect('keeper', { cleanStart: false });
  assert.equal(ack1.type === 'connack' && ack1.sessionPresent, false);
  raw.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'p/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
  await raw.next('suback');
  const pub = await f.client({ protocolVersion: 4 });
  await pub.publishAsync('p/1', 'unacked', { qos: 1 });
  const first = await raw.next('publish');
  assert.equal(first.type === 'publish' && first.dup, false);
  raw.socket.destroy();
  await raw.closed;
  await pub.publishAsync('p/2', 'offline', { qos: 1 });
  await pub.publishAsync('p/3', 'dropped at qos0', { qos: 0 });
  raw = await f.raw(4);
  const ack2 = await raw.connect('keeper', { cleanStart: false });
  assert.equal(ack2.type === 'connack' && ack2.sessionPresent, true);
  const again = await raw.next('publish');
  const queued = await raw.next('publish');
  assert.ok(again.type === 'publish' && queued.type === 'publish');
  if (again.type !== 'publish' || queued.type !== 'publish') return;
  assert.equal(again.dup, true);
  assert.equal(again.payload.toString(), 'unacked');
  assert.equal(queued.payload.toString(), 'offline');
  raw.send({ type: 'puback', packetId: again.packetId!, reasonCode: 0 });
  raw.send({ type: 'puback', packetId: queued.packetId!, reasonCode: 0 });
  // A clean session discards it.
  raw.socket.destroy();
  await raw.closed;
  raw = await f.raw(4);
  const ack3 = await raw.connect('keeper', { cleanStart: true });
  assert.equal(ack3.type === 'connack' && ack3.sessionPresent, false);
});

test('v5 session expiry keeps the session for mqtt.js across a reconnect', async (t) => {
  const f = await startMqtt(t);
  const a = await f.client({ protocolVersion: 5, clientId: 'exp', clean: false, properties: { sessionExpiryInterval: 60 } });
  await a.subscribeAsync('e/#', { qos: 1 });
  await a.endAsync();
  const pub = await f.client({ protocolVersion: 5 });
  await pub.publishAsync('e/1', 'while away', { qos: 1 });
  // mqtt.connect returns before the CONNACK, so the handler is in place before the queued message arrives.
  const b = mqtt.connect(f.url, { protocolVersion: 5, clientId: 'exp', clean: false, properties: { sessionExpiryInterval: 60 }, reconnectPeriod: 0 });
  t.after(() => b.endAsync(true));
  const got = nextMessages(b, 1, 'the queued message');
  const [m] = await got;
  assert.equal(m.payload.toString(), 'while away');
  assert.equal(m.packet.qos, 1);
});

test('the client Receive Maximum limits unacknowledged QoS 1 deliveries', async (t) => {
  const f = await startMqtt(t);
  const raw = await f.raw(5);
  await raw.connect('rm', { properties: { receiveMaximum: 2 } });
  raw.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'rm', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
  await raw.next('suback');
  const pub = await f.client({ protocolVersion: 5 });
  for (let i = 0; i < 5; i++) await pub.publishAsync('rm', String(i), { qos: 1 });
  const p0 = await raw.next('publish');
  const p1 = await raw.next('publish');
  // Round trip so a third PUBLISH would have arrived by now.
  raw.send({ type: 'pingreq' });
  await raw.next('pingresp');
  assert.equal(raw.packets.filter((p) => p.type === 'publish').length, 0);
  assert.equal(f.listener.sessions.get('rm')!.queued, 3);
  if (p0.type !== 'publish' || p1.type !== 'publish') return;
  raw.send({ type: 'puback', packetId: p0.packetId!, reasonCode: 0 });
  const p2 = await raw.next('publish');
  assert.equal(p2.type === 'publish' && p2.payload.toString(), '2');
  void PacketType;
});

test('invalid topic filters get a failure code per filter (0x8F in v5, 0x80 in 3.1.1)', async (t) => {
  const f = await startMqtt(t);
  for (const version of [5, 4] as const) {
    const raw = await f.raw(version);
    await raw.connect(`bad-filter-${version}`);
    const opts = { qos: 1 as const, noLocal: false, retainAsPublished: false, retainHandling: 0 as const };
    raw.send({ type: 'subscribe', packetId: 3, subscriptions: [{ topicFilter: 'ok/+', ...opts }, { topicFilter: 'u/#/x', ...opts }, { topicFilter: 'a+/b', ...opts }] });
    const ack = await raw.next('suback');
    assert.deepEqual(ack.type === 'suback' && ack.reasonCodes, version === 5 ? [1, 0x8f, 0x8f] : [1, 0x80, 0x80]);
  }
});

test('a persistent session keeps its subscriptions across a broker restart', async (t) => {
  const f = await startMqtt(t);
  const a = await f.client({ protocolVersion: 4, clientId: 'durable', clean: false });
  await a.subscribeAsync('d/#', { qos: 1 });
  await a.endAsync();
  const gone = await f.client({ protocolVersion: 5, clientId: 'short', clean: true });
  await gone.subscribeAsync('d/#', { qos: 1 });
  await f.restart();
  assert.deepEqual([...f.listener.sessions.keys()], ['durable']);
  const pub = await f.client({ protocolVersion: 4 });
  await pub.publishAsync('d/1', 'after restart', { qos: 1 });
  const raw = await f.raw(4);
  const ack = await raw.connect('durable', { cleanStart: false });
  assert.equal(ack.type === 'connack' && ack.sessionPresent, true);
  const p = await raw.next('publish');
  assert.equal(p.type === 'publish' && p.payload.toString(), 'after restart');
  // Clean session ends it, and it is not restored again.
  raw.socket.destroy();
  await raw.closed;
  await f.client({ protocolVersion: 4, clientId: 'durable', clean: true });
  await f.restart();
  assert.equal(f.listener.sessions.size, 0);
});
