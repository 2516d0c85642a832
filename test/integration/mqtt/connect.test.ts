import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { nextEvent, nextPacket, startMqtt, within, WAIT_MS } from './harness.js';

test('mqtt.js connects with protocol 3.1.1 and 5, anonymously and as guest/guest', async (t) => {
  const f = await startMqtt(t);
  for (const protocolVersion of [4, 5] as const) {
    const anon = await f.client({ protocolVersion, clientId: `anon-${protocolVersion}` });
    assert.equal(anon.connected, true);
    const guest = await f.client({ protocolVersion, clientId: `guest-${protocolVersion}`, username: 'guest', password: 'guest' });
    assert.equal(guest.connected, true);
    await anon.endAsync();
    await guest.endAsync();
  }
});

test('bad credentials are refused with return code 4 (3.1.1) and reason 0x86 (5)', async (t) => {
  const f = await startMqtt(t);
  for (const [protocolVersion, code] of [[4, 4], [5, 0x86]] as const) {
    await assert.rejects(
      mqtt.connectAsync(f.url, { protocolVersion, username: 'guest', password: 'wrong', reconnectPeriod: 0, connectTimeout: WAIT_MS }),
      (err: Error & { code?: number }) => err.code === code,
    );
  }
  assert.ok(f.entries.some((e) => e.msg === 'mqtt connection refused'));
});

test('anonymous access can be turned off: no user name is Not authorized', async (t) => {
  const f = await startMqtt(t, { allowAnonymous: false });
  await assert.rejects(mqtt.connectAsync(f.url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: WAIT_MS }), (err: Error & { code?: number }) => err.code === 0x87);
  const ok = await f.client({ protocolVersion: 5, username: 'guest', password: 'guest' });
  assert.equal(ok.connected, true);
});

test('an empty client id gets an Assigned Client Identifier in v5; 3.1.1 without clean session is refused', async (t) => {
  const f = await startMqtt(t);
  const raw5 = await f.raw(5);
  const ack5 = await raw5.connect('');
  assert.equal(ack5.type, 'connack');
  if (ack5.type !== 'connack') return;
  assert.equal(ack5.reasonCode, 0);
  assert.match(ack5.properties?.assignedClientIdentifier ?? '', /^tributary-[0-9a-f]{16}$/);
  assert.equal(ack5.properties?.retainAvailable, 1);

  const raw4 = await f.raw(4);
  const ack4 = await raw4.connect('', { cleanStart: false });
  assert.equal(ack4.type === 'connack' && ack4.reasonCode, 2);
  await raw4.waitClosed();
});

test('an unsupported protocol level is answered with return code 1 and closed', async (t) => {
  const f = await startMqtt(t);
  const raw = await f.raw(4);
  // CONNECT "MQTT" level 6.
  raw.send(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x06, 0x02, 0x00, 0x00, 0x00, 0x00]));
  const ack = await raw.next('connack');
  assert.equal(ack.type === 'connack' && ack.reasonCode, 1);
  await raw.waitClosed();
});

test('a second connection with the same client id takes the session over (v5 DISCONNECT 0x8E)', async (t) => {
  const f = await startMqtt(t);
  const first = await f.client({ protocolVersion: 5, clientId: 'same' });
  const disconnected = nextEvent(first, 'disconnect', 'DISCONNECT on the first client');
  const second = await f.client({ protocolVersion: 5, clientId: 'same' });
  const [packet] = (await disconnected) as [{ reasonCode?: number }];
  assert.equal(packet.reasonCode, 0x8e);
  assert.equal(second.connected, true);
  // 3.1.1: the old connection is just closed.
  const old4 = await f.client({ protocolVersion: 4, clientId: 'same4' });
  const closed = nextEvent(old4, 'close', 'close of the old 3.1.1 connection');
  await f.client({ protocolVersion: 4, clientId: 'same4' });
  await closed;
});

test('PINGREQ is answered with PINGRESP, and silence beyond 1.5 x keep alive closes with 0x8D', async (t) => {
  const f = await startMqtt(t);
  const raw = await f.raw(5);
  await raw.connect('ka', { keepAliveSec: 1 });
  raw.send({ type: 'pingreq' });
  await raw.next('pingresp');
  const started = Date.now();
  const d = await raw.next('disconnect');
  const elapsed = Date.now() - started;
  assert.equal(d.type === 'disconnect' && d.reasonCode, 0x8d);
  assert.ok(elapsed >= 1400 && elapsed < 3000, `closed after ${elapsed} ms`);
  await raw.waitClosed();
  assert.ok(f.entries.some((e) => e.msg === 'mqtt keep alive timeout'));
});

test('mqtt.js keeps a connection with a short keep alive alive by pinging', async (t) => {
  const f = await startMqtt(t);
  const c = await f.client({ protocolVersion: 5, keepalive: 1 });
  await nextPacket(c, 'pingresp', 3000);
  assert.equal(c.connected, true);
});

test('DISCONNECT closes the connection cleanly and ends a clean session', async (t) => {
  const f = await startMqtt(t);
  const c = await f.client({ protocolVersion: 5, clientId: 'bye' });
  assert.ok(f.listener.sessions.has('bye'));
  await c.endAsync();
  await within(
    (async () => {
      while (f.listener.sessions.has('bye')) await new Promise((r) => setImmediate(r));
    })(),
    'the session to end',
  );
  assert.equal(f.listener.connections().length, 0);
});
