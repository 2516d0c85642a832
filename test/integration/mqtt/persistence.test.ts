/**
 * Persistent sessions survive a broker restart and a SIGKILL: messages queued while the client was away, and
 * those sent but not acknowledged, are delivered after the restart, once, in order (session-queue.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { sessionStreamName } from '../../../src/protocols/mqtt/session-queue.js';
import { ANONYMOUS } from '../../../src/core/principal.js';
import { EPHEMERAL, serveProcess } from '../../support/tributary-process.js';
import { nextMessages, startMqtt, within, WAIT_MS, type Fixture } from './harness.js';
import type { PublishPacket } from '../../../src/protocols/mqtt/codec/index.js';

const N = 100;

async function publishAll(client: MqttClient, topic: string, n: number): Promise<void> {
  // Concurrently, as a real producer does; each resolves on its PUBACK.
  await Promise.all(Array.from({ length: n }, (_, i) => client.publishAsync(topic, `m${i}`, { qos: 1 })));
}

/** Proves nothing else was queued for `sub`: a marker published now is the next message it gets. */
async function expectNothingMore(sub: MqttClient, publisher: MqttClient, topic: string): Promise<void> {
  const [marker] = await Promise.all([nextMessages(sub, 1, 'the marker'), publisher.publishAsync(topic, 'marker', { qos: 1 })]);
  assert.equal(marker[0]!.payload.toString(), 'marker', 'nothing beyond the stored messages');
}

async function waitFor(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS * 2;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const inOrder = Array.from({ length: N }, (_, i) => `m${i}`);

for (const protocolVersion of [4, 5] as const) {
  test(`v${protocolVersion}: QoS 1 messages queued for an offline persistent session survive a restart, delivered once and in order`, async (t) => {
    const f = await startMqtt(t);
    const session = protocolVersion === 5 ? { clean: false, properties: { sessionExpiryInterval: 3600 } } : { clean: false };
    const sub = await f.client({ protocolVersion, clientId: 'keeper', ...session });
    await sub.subscribeAsync('keep/#', { qos: 1 });
    await sub.endAsync();
    const pub = await f.client({ protocolVersion });
    await publishAll(pub, 'keep/it', N);
    assert.equal(f.listener.sessions.get('keeper')!.queued, N);

    await f.restart();
    assert.equal(f.listener.sessions.get('keeper')!.queued, N, 'restored with its stored messages');
    // Listening before CONNACK: the stored messages follow it at once.
    const sub2 = mqtt.connect(f.url, { protocolVersion, clientId: 'keeper', ...session, reconnectPeriod: 0, connectTimeout: WAIT_MS });
    t.after(() => sub2.endAsync(true));
    const got = await nextMessages(sub2, N, `${N} stored messages`);
    assert.deepEqual(got.map((m) => m.payload.toString()), inOrder);
    assert.equal(got[0]!.topic, 'keep/it');
    assert.equal(got[0]!.packet.qos, 1);
    await expectNothingMore(sub2, await f.client({ protocolVersion }), 'keep/it');
  });
}

test('messages sent but not acknowledged before a restart are re-sent with DUP=1 and their packet ids', async (t) => {
  const f = await startMqtt(t);
  const raw = await f.raw(5);
  await raw.connect('unacked', { cleanStart: false, properties: { sessionExpiryInterval: 600 } });
  raw.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'u/+', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
  await raw.next('suback');
  const pub = await f.client();
  await publishAll(pub, 'u/x', 3);
  const first: PublishPacket[] = [];
  for (let i = 0; i < 3; i++) first.push((await raw.next('publish')) as PublishPacket);
  assert.deepEqual(first.map((p) => p.dup), [false, false, false]);
  // Acknowledge only the first.
  raw.send({ type: 'puback', packetId: first[0]!.packetId!, reasonCode: 0 });
  await within(pub.publishAsync('u/x', 'ping', { qos: 1 }), 'a later publish');
  await raw.next('publish'); // the 4th, not acknowledged either

  await f.restart();
  const again = await f.raw(5);
  const connack = await again.connect('unacked', { cleanStart: false, properties: { sessionExpiryInterval: 600 } });
  assert.equal((connack as { sessionPresent: boolean }).sessionPresent, true);
  const resent: PublishPacket[] = [];
  for (let i = 0; i < 3; i++) resent.push((await again.next('publish')) as PublishPacket);
  assert.deepEqual(resent.map((p) => p.payload.toString()), ['m1', 'm2', 'ping']);
  assert.deepEqual(resent.map((p) => p.dup), [true, true, true]);
  assert.deepEqual(resent.map((p) => p.packetId), [first[1]!.packetId, first[2]!.packetId, resent[2]!.packetId]);
});

test('an inbound QoS 2 packet id awaiting PUBREL survives a restart: the re-sent PUBLISH is not routed twice', async (t) => {
  const f = await startMqtt(t);
  const watcher = await f.client({ clientId: 'watcher' });
  await watcher.subscribeAsync('q2/#', { qos: 2 });
  const raw = await f.raw(5);
  await raw.connect('sender', { cleanStart: false, properties: { sessionExpiryInterval: 600 } });
  const seen: string[] = [];
  watcher.on('message', (_t, payload) => seen.push(payload.toString()));
  const delivered = nextMessages(watcher, 1, "the first watcher's copy");
  raw.send({ type: 'publish', dup: false, qos: 2, retain: false, topic: 'q2/a', packetId: 9, payload: Buffer.from('once') });
  await raw.next('pubrec');
  // Routed once before the restart: the PUBREC and the watcher's copy travel separately, so wait for both.
  await delivered;

  await f.restart();
  const watcher2 = await f.client({ clientId: 'watcher2' });
  await watcher2.subscribeAsync('q2/#', { qos: 2 });
  const seen2: string[] = [];
  watcher2.on('message', (_t, payload) => seen2.push(payload.toString()));
  const again = await f.raw(5);
  await again.connect('sender', { cleanStart: false, properties: { sessionExpiryInterval: 600 } });
  again.send({ type: 'publish', dup: true, qos: 2, retain: false, topic: 'q2/a', packetId: 9, payload: Buffer.from('once') });
  assert.equal((await again.next('pubrec')).type, 'pubrec');
  again.send({ type: 'pubrel', packetId: 9, reasonCode: 0 });
  const comp = (await again.next('pubcomp')) as { reasonCode: number };
  assert.equal(comp.reasonCode, 0, 'the id was known after the restart');
  // A fresh message after it arrives; the re-sent one did not.
  const next = nextMessages(watcher2, 1, 'the next message');
  again.send({ type: 'publish', dup: false, qos: 1, retain: false, topic: 'q2/b', packetId: 10, payload: Buffer.from('after') });
  assert.equal((await next)[0]!.payload.toString(), 'after');
  assert.deepEqual(seen2, ['after']);
  assert.deepEqual(seen, ['once']);
});

test('the session queue is deleted when the session ends: clean start, and session expiry', async (t) => {
  const f: Fixture = await startMqtt(t);
  const name = sessionStreamName('short');
  const a = await f.client({ protocolVersion: 5, clientId: 'short', clean: false, properties: { sessionExpiryInterval: 600 } });
  await a.subscribeAsync('s/#', { qos: 1 });
  assert.ok(f.broker.stream(name) !== undefined, 'a persistent session has a queue');
  await a.endAsync();
  const b = await f.client({ protocolVersion: 5, clientId: 'short', clean: true });
  await waitFor('the queue to go after a clean start', () => f.broker.stream(name) === undefined);
  await b.endAsync();

  const c = await f.client({ protocolVersion: 5, clientId: 'short', clean: false, properties: { sessionExpiryInterval: 1 } });
  await c.subscribeAsync('s/#', { qos: 1 });
  assert.ok(f.broker.stream(name) !== undefined);
  await c.endAsync();
  await waitFor('the queue to go when the session expires', () => f.broker.stream(name) === undefined && !f.listener.sessions.has('short'));
});

test('SIGKILL: messages acknowledged to the publisher reach the persistent subscriber after the broker is killed and restarted', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'trib-mqtt-kill-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const start = async () => {
    const proc = serveProcess(dir, ['--data-dir', join(dir, 'data'), ...EPHEMERAL]);
    t.after(() => proc.kill());
    return { proc, port: (await proc.ports()).mqtt! };
  };
  const opts = { reconnectPeriod: 0, connectTimeout: WAIT_MS };
  let { proc, port } = await start();
  const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { ...opts, clientId: 'survivor', clean: false });
  await sub.subscribeAsync('k/#', { qos: 1 });
  await sub.endAsync();
  const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, opts);
  await publishAll(pub, 'k/v', N);
  pub.end(true);
  proc.kill('SIGKILL');
  await proc.waitForExit();

  ({ proc, port } = await start());
  const sub2 = mqtt.connect(`mqtt://127.0.0.1:${port}`, { ...opts, clientId: 'survivor', clean: false });
  t.after(() => sub2.endAsync(true));
  const got = await nextMessages(sub2, N, `${N} stored messages`);
  assert.deepEqual(got.map((m) => m.payload.toString()), inOrder);
  const pub2 = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, opts);
  t.after(() => pub2.endAsync(true));
  await expectNothingMore(sub2, pub2, 'k/v');
});

test('messages from other protocols reach an offline persistent session too, at QoS 1, also those only delivered live (Kafka produce)', async (t) => {
  const f = await startMqtt(t);
  const sub = await f.client({ protocolVersion: 5, clientId: 'mixed', clean: false, properties: { sessionExpiryInterval: 600 } });
  await sub.subscribeAsync('other/#', { qos: 2 });
  await sub.endAsync();
  const message = (value: string) => ({ subject: 'other.x', key: null, value: Buffer.from(value), headers: [{ key: 'content-type', value: Buffer.from('text/plain') }], timestamp: Date.now() });
  // A NATS/AMQP/HTTP publish goes through Router.publish (a capture: awaited by the publisher).
  const { stored } = await f.broker.publish(ANONYMOUS, message('published'));
  assert.equal(f.broker.stream(sessionStreamName('mixed'))!.offsets(0).highWatermark, 1, 'the publish waited for the session queue append');
  assert.deepEqual(stored, [], 'the internal session queue is not reported as a stream it was stored in');
  // A Kafka produce reaches subscribers through deliverLive only (not a capture): stored without holding an ack.
  f.broker.router.deliverLive(message('produced'));
  await waitFor('both stored', () => f.listener.sessions.get('mixed')!.queued === 2);

  await f.restart();
  const back = mqtt.connect(f.url, { protocolVersion: 5, clientId: 'mixed', clean: false, properties: { sessionExpiryInterval: 600 }, reconnectPeriod: 0 });
  t.after(() => back.endAsync(true));
  const got = await nextMessages(back, 2, 'the two stored messages');
  assert.deepEqual(got.map((m) => m.payload.toString()), ['published', 'produced']);
  assert.deepEqual(got.map((m) => m.packet.qos), [1, 1], 'min(subscription 2, other protocols 1)');
  assert.equal(got[0]!.packet.properties?.contentType, 'text/plain');
});
