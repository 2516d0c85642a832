import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextMessages, startMqtt } from './harness.js';

test('a malformed packet closes that connection with DISCONNECT 0x81 and a log line; others are unaffected', async (t) => {
  const f = await startMqtt(t);
  const sub = await f.client({ protocolVersion: 5 });
  await sub.subscribeAsync('still/#', { qos: 1 });
  const raw = await f.raw(5);
  await raw.connect('bad');
  // SUBSCRIBE whose topic filter length (0x00ff) runs past the packet.
  raw.send(Buffer.from([0x82, 0x06, 0x00, 0x01, 0x00, 0x00, 0xff, 0x61]));
  const d = await raw.next('disconnect');
  assert.equal(d.type === 'disconnect' && d.reasonCode, 0x81);
  await raw.waitClosed();
  assert.ok(f.entries.some((e) => e.msg === 'mqtt protocol error; closing the connection' && (e.obj as { reasonCode?: number }).reasonCode === 0x81));
  const got = nextMessages(sub, 1, 'a message after the bad connection');
  const pub = await f.client({ protocolVersion: 5 });
  await pub.publishAsync('still/ok', 'yes', { qos: 1 });
  assert.equal((await got)[0].payload.toString(), 'yes');
});

test('protocol violations: wrong fixed-header flags, a second CONNECT, a packet too large, a first packet that is not CONNECT', async (t) => {
  const f = await startMqtt(t, { maxPacketSize: 1024 });
  // PUBREL with flags 0000 instead of 0010: malformed.
  const a = await f.raw(5);
  await a.connect('flags');
  a.send(Buffer.from([0x60, 0x02, 0x00, 0x01]));
  const da = await a.next('disconnect');
  assert.equal(da.type === 'disconnect' && da.reasonCode, 0x81);

  const b = await f.raw(5);
  await b.connect('twice');
  b.send({ type: 'connect', protocolName: 'MQTT', protocolLevel: 5, cleanStart: true, keepAliveSec: 0, clientId: 'twice' });
  const db = await b.next('disconnect');
  assert.equal(db.type === 'disconnect' && db.reasonCode, 0x82);

  const c = await f.raw(5);
  await c.connect('big');
  c.send({ type: 'publish', dup: false, qos: 0, retain: false, topic: 'big', payload: Buffer.alloc(2048) });
  const dc = await c.next('disconnect');
  assert.equal(dc.type === 'disconnect' && dc.reasonCode, 0x95);

  // 3.1.1: no DISCONNECT from the server; the connection is closed.
  const d = await f.raw(4);
  await d.connect('v4bad');
  d.send(Buffer.from([0x60, 0x02, 0x00, 0x01]));
  await d.waitClosed();

  const e = await f.raw(5);
  e.send({ type: 'pingreq' });
  await e.waitClosed();
  assert.equal(e.packets.length, 0);
});

test('random bytes never crash the listener', async (t) => {
  const f = await startMqtt(t);
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < 20; i++) {
    const raw = await f.raw(5);
    if (i % 2 === 0) await raw.connect(`fuzz-${i}`);
    const junk = Buffer.alloc(64);
    for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(rnd() * 256);
    raw.send(junk);
    raw.socket.end();
    await raw.waitClosed();
  }
  const c = await f.client({ protocolVersion: 5 });
  assert.equal(c.connected, true);
  assert.equal(f.entries.filter((e) => e.level === 'error').length, 0);
});

test('v5 Receive Maximum: one unacknowledged QoS 2 publish too many is DISCONNECT 0x93', async (t) => {
  const f = await startMqtt(t, { receiveMaximum: 2 });
  const raw = await f.raw(5);
  const ack = await raw.connect('rm-in');
  assert.equal(ack.type === 'connack' && ack.properties?.receiveMaximum, 2);
  const publish = (packetId: number) => ({ type: 'publish' as const, dup: false, qos: 2 as const, retain: false, topic: 'rm/in', packetId, payload: Buffer.from('x') });
  raw.send(publish(1));
  raw.send(publish(2));
  await raw.next('pubrec');
  await raw.next('pubrec');
  // Releasing one frees a slot.
  raw.send({ type: 'pubrel', packetId: 1, reasonCode: 0 });
  await raw.next('pubcomp');
  raw.send(publish(3));
  await raw.next('pubrec');
  raw.send(publish(4));
  const d = await raw.next('disconnect');
  assert.equal(d.type === 'disconnect' && d.reasonCode, 0x93);
});

test('a v5 payload marked UTF-8 that is not is refused with 0x99', async (t) => {
  const f = await startMqtt(t);
  const raw = await f.raw(5);
  await raw.connect('pfi');
  raw.send({ type: 'publish', dup: false, qos: 1, retain: false, topic: 'pfi', packetId: 1, properties: { payloadFormatIndicator: 1 }, payload: Buffer.from([0xff, 0xfe]) });
  const a = await raw.next('puback');
  assert.equal(a.type === 'puback' && a.reasonCode, 0x99);
});
