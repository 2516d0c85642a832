import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RetainedStore } from '../../../src/core/retained-store.js';
import { nextMessages, startMqtt, within } from './harness.js';

test('a retained message is delivered on subscribe with RETAIN=1, survives a restart, and an empty payload clears it', async (t) => {
  const f = await startMqtt(t);
  const pub = await f.client({ protocolVersion: 5 });
  await pub.publishAsync('home/temp', '20', { qos: 1, retain: true, properties: { contentType: 'text/plain' } });
  await pub.publishAsync('home/temp', '21', { qos: 1, retain: true });
  await pub.publishAsync('$SYS/uptime', '5', { qos: 1, retain: true });
  const sub = await f.client({ protocolVersion: 5 });
  const got = nextMessages(sub, 1, 'the retained message');
  await sub.subscribeAsync('home/+', { qos: 1 });
  const [m] = await got;
  assert.equal(m.topic, 'home/temp');
  assert.equal(m.payload.toString(), '21');
  assert.equal(m.packet.retain, true);
  // A live publish to a subscriber carries RETAIN=0.
  const live = nextMessages(sub, 1, 'a live retained publish');
  await pub.publishAsync('home/temp', '22', { qos: 1, retain: true });
  assert.equal((await live)[0].packet.retain, false);

  await f.restart();
  const after = await f.client({ protocolVersion: 4 });
  const again = nextMessages(after, 1, 'the retained message after restart');
  // '#' does not match $SYS [MQTT-4.7.2-1]: only home/temp arrives.
  await after.subscribeAsync('#', { qos: 1 });
  const [r] = await again;
  assert.equal(r.topic, 'home/temp');
  assert.equal(r.payload.toString(), '22');
  assert.equal(r.packet.retain, true);
  assert.equal(r.packet.qos, 1);

  const clearer = await f.client({ protocolVersion: 4 });
  await clearer.publishAsync('home/temp', '', { qos: 1, retain: true });
  assert.equal(RetainedStore.for(f.broker).get('home.temp'), undefined);
  const late = await f.client({ protocolVersion: 4 });
  const sysOnly = nextMessages(late, 1, 'the $SYS retained message');
  await late.subscribeAsync(['home/#', '$SYS/#'], { qos: 1 });
  const [s] = await sysOnly;
  assert.equal(s.topic, '$SYS/uptime');
});

test('v5 Retain Handling 2 sends no retained messages; Retain As Published keeps RETAIN on live forwards', async (t) => {
  const f = await startMqtt(t);
  const pub = await f.client({ protocolVersion: 5 });
  await pub.publishAsync('rh/x', 'kept', { qos: 1, retain: true });
  const sub = await f.client({ protocolVersion: 5 });
  await sub.subscribeAsync('rh/#', { qos: 1, rh: 2, rap: true });
  const got = nextMessages(sub, 1, 'a live message');
  await pub.publishAsync('rh/y', 'live', { qos: 1, retain: true });
  const [m] = await got;
  assert.equal(m.topic, 'rh/y');
  assert.equal(m.packet.retain, true);
});

test('the will is published when a client vanishes, not after a clean DISCONNECT', async (t) => {
  const f = await startMqtt(t);
  const watcher = await f.client({ protocolVersion: 5 });
  await watcher.subscribeAsync('status/#', { qos: 1 });
  const received: string[] = [];
  watcher.on('message', (topic, p) => received.push(`${topic}=${p.toString()}`));

  const clean = await f.client({ protocolVersion: 4, clientId: 'clean', will: { topic: 'status/clean', payload: Buffer.from('gone'), qos: 1, retain: false } });
  await clean.endAsync();

  const vanished = nextMessages(watcher, 1, 'the will', (tp) => tp === 'status/lost');
  const lost = await f.client({ protocolVersion: 4, clientId: 'lost', will: { topic: 'status/lost', payload: Buffer.from('offline'), qos: 1, retain: true } });
  lost.stream.destroy();
  const [w] = await vanished;
  assert.equal(w.payload.toString(), 'offline');
  assert.deepEqual(received, ['status/lost=offline']);
  // Will Retain: stored as retained.
  await within(
    (async () => {
      while (RetainedStore.for(f.broker).get('status.lost') === undefined) await new Promise((r) => setImmediate(r));
    })(),
    'the retained will',
  );
});

test('a v5 will with a delay is not published if the session resumes in time, and is after the delay otherwise', async (t) => {
  const f = await startMqtt(t);
  const watcher = await f.client({ protocolVersion: 5 });
  await watcher.subscribeAsync('w/#', { qos: 1 });
  const received: string[] = [];
  watcher.on('message', (topic) => received.push(topic));
  const will = (topic: string) => ({ topic, payload: Buffer.from('x'), qos: 1 as const, retain: false, properties: { willDelayInterval: 1 } });
  const opts = { protocolVersion: 5 as const, clean: false, properties: { sessionExpiryInterval: 30 } };

  const a = await f.client({ ...opts, clientId: 'resumer', will: will('w/resumer') });
  a.stream.destroy();
  await f.client({ ...opts, clientId: 'resumer' });

  const started = Date.now();
  const delayed = nextMessages(watcher, 1, 'the delayed will', (tp) => tp === 'w/delayed');
  const b = await f.client({ ...opts, clientId: 'delayed', will: will('w/delayed') });
  b.stream.destroy();
  await delayed;
  assert.ok(Date.now() - started >= 900, 'published after the delay');
  assert.deepEqual(received, ['w/delayed']);
});

test('v5 DISCONNECT with reason 0x04 publishes the will', async (t) => {
  const f = await startMqtt(t);
  const watcher = await f.client({ protocolVersion: 5 });
  await watcher.subscribeAsync('w4', { qos: 1 });
  const got = nextMessages(watcher, 1, 'the will');
  const c = await f.client({ protocolVersion: 5, will: { topic: 'w4', payload: Buffer.from('bye'), qos: 0, retain: false } });
  await c.endAsync(false, { reasonCode: 0x04 });
  assert.equal((await got)[0].payload.toString(), 'bye');
});
