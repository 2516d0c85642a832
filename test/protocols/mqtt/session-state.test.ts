/**
 * MqttSessionState on its own (no sockets, no broker): packet ids, Receive Maximum queueing, resume order,
 * expiry and the delayed will.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MqttSessionState, SESSION_NEVER_EXPIRES, SubEntry, type SessionConnection, type SessionStateHooks } from '../../../src/protocols/mqtt/session-state.js';
import type { PubAckPacket, PublishPacket, QoS } from '../../../src/protocols/mqtt/codec/index.js';
import type { MqttMessage } from '../../../src/protocols/mqtt/message-map.js';

class FakeConnection implements SessionConnection {
  written: Array<PublishPacket | PubAckPacket> = [];
  constructor(readonly clientReceiveMax = 65_535) {}
  writePacket(p: PublishPacket | PubAckPacket): boolean {
    this.written.push(p);
    return true;
  }
}

function message(subject: string, value: string, qos: QoS = 1): MqttMessage {
  return { subject, key: null, value: Buffer.from(value), headers: [], timestamp: 0, mqtt: { qos, retain: false } };
}

/** Hooks of a session without a listener: `onEnd` observed, nothing persisted. */
function hooks(onEnd: (s: MqttSessionState) => unknown = () => undefined): SessionStateHooks {
  return { onEnd: (st) => void onEnd(st), persist: async () => undefined, onStoreError: () => undefined };
}

function entry(state: MqttSessionState, qos: QoS = 2): SubEntry {
  return new SubEntry(state, 'a/#', ['a', 'a.>'], qos, false, undefined, undefined, false);
}

test('QoS 1 deliveries beyond the client Receive Maximum wait, and go out as acknowledgements free slots', () => {
  const ended: string[] = [];
  const s = new MqttSessionState('c', 100, hooks((x) => ended.push(x.clientId)));
  const c = new FakeConnection(2);
  s.resume(c);
  const e = entry(s);
  for (let i = 0; i < 4; i++) s.deliver(e, message('a.b', String(i)), false);
  assert.equal(c.written.length, 2);
  assert.equal(s.queued, 2);
  const first = c.written[0] as PublishPacket;
  assert.equal(first.topic, 'a/b');
  assert.ok(s.onPuback(first.packetId!));
  assert.equal(c.written.length, 3);
  assert.equal((c.written[2] as PublishPacket).payload.toString(), '2');
  // An unknown or repeated PUBACK is ignored.
  assert.equal(s.onPuback(first.packetId!), false);
});

test('on resume, unacknowledged PUBLISHes are re-sent with DUP and PUBRELs re-sent, in the original order', () => {
  const s = new MqttSessionState('c', 100, hooks());
  s.expirySec = SESSION_NEVER_EXPIRES;
  const c1 = new FakeConnection();
  s.resume(c1);
  const e = entry(s);
  s.deliver(e, message('a.q2', 'two', 2), false);
  s.deliver(e, message('a.q1', 'one', 1), false);
  const q2 = c1.written[0] as PublishPacket;
  assert.ok(s.onPubrec(q2.packetId!, 0));
  assert.deepEqual(c1.written[2], { type: 'pubrel', packetId: q2.packetId, reasonCode: 0 });
  s.detach(c1);
  s.deliver(e, message('a.offline', 'queued', 1), false);
  s.deliver(e, message('a.zero', 'lost', 0), false);
  const c2 = new FakeConnection();
  s.resume(c2);
  assert.deepEqual(
    c2.written.map((p) => (p.type === 'publish' ? `publish ${p.topic} dup=${p.dup}` : `${p.type} ${p.packetId}`)),
    [`pubrel ${q2.packetId}`, 'publish a/q1 dup=true', 'publish a/offline dup=false'],
  );
  assert.ok(s.onPubcomp(q2.packetId!));
});

test('packet ids skip those still in use and wrap after 65535', () => {
  const s = new MqttSessionState('c', 100, hooks());
  const c = new FakeConnection();
  s.resume(c);
  const e = entry(s);
  const ids: number[] = [];
  for (let i = 0; i < 65_536; i++) {
    s.deliver(e, message('a.x', 'x'), false);
    const p = c.written[c.written.length - 1] as PublishPacket;
    ids.push(p.packetId!);
    if (i !== 0) s.onPuback(p.packetId!);
  }
  // Id 1 stayed unacknowledged, so after 65535 the next is 2.
  assert.equal(ids[0], 1);
  assert.equal(ids[65_534], 65_535);
  assert.equal(ids[65_535], 2);
});

test('a session with expiry 0 ends when its connection goes; a delayed will fires at the end of the session', () => {
  const ended: string[] = [];
  const s = new MqttSessionState('gone', 100, hooks((x) => ended.push(x.clientId)));
  const c = new FakeConnection();
  s.resume(c);
  let wills = 0;
  s.scheduleWill(() => wills++, 60);
  assert.equal(wills, 0);
  s.detach(c);
  assert.deepEqual(ended, ['gone']);
  assert.equal(wills, 1);
  // Nothing is delivered after the end.
  s.deliver(entry(s), message('a.b', 'x'), false);
  assert.equal(c.written.length, 0);
});

test('resuming in time cancels a delayed will', () => {
  const s = new MqttSessionState('back', 100, hooks());
  s.expirySec = 60;
  const c = new FakeConnection();
  s.resume(c);
  let wills = 0;
  s.scheduleWill(() => wills++, 60);
  s.detach(c);
  s.resume(new FakeConnection());
  s.end();
  assert.equal(wills, 0);
});
