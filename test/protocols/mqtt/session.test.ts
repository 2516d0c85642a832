/**
 * MqttSession over in-memory duplex pairs: exact bytes, packets held during an asynchronous login, input split
 * at every byte. Features with the real client are in test/integration/mqtt/.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createMqttListener, type MqttListener } from '../../../src/protocols/mqtt/index.js';
import { encodePacket } from '../../../src/protocols/mqtt/codec/index.js';
import { startBroker } from '../../support/broker-fixture.js';
import { connectInMemory } from '../../support/memory-connection.js';

async function setup(t: TestContext): Promise<MqttListener> {
  const f = await startBroker(t, { name: 'mqtt-session', listen: false, listener: (deps) => createMqttListener(deps) });
  return f.listener;
}

/** Holds once at least `n` bytes arrived. */
const atLeast = (n: number) => (data: Buffer) => data.length >= n;

const CONNECT_V4 = encodePacket({ type: 'connect', protocolName: 'MQTT', protocolLevel: 4, cleanStart: true, keepAliveSec: 0, clientId: 'c', username: 'guest', password: Buffer.from('guest') }, 4);
const SUBSCRIBE = encodePacket({ type: 'subscribe', packetId: 5, subscriptions: [{ topicFilter: 'a/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] }, 4);
const PINGREQ = Buffer.from([0xc0, 0x00]);

test('CONNECT, SUBSCRIBE and PINGREQ in one chunk are answered in order after the login: CONNACK, SUBACK, PINGRESP', async (t) => {
  const listener = await setup(t);
  const peer = connectInMemory(listener, '127.0.0.1', 1);
  peer.send(Buffer.concat([CONNECT_V4, SUBSCRIBE, PINGREQ]));
  const got = await peer.waitFor(atLeast(4 + 5 + 2), 'CONNACK, SUBACK and PINGRESP');
  assert.equal(got.toString('hex'), '20020000' + '9003000501' + 'd000');
});

test('input split at every byte gives the same answers', async (t) => {
  const listener = await setup(t);
  const peer = connectInMemory(listener, '127.0.0.1', 1);
  const all = Buffer.concat([CONNECT_V4, SUBSCRIBE, PINGREQ]);
  for (let i = 0; i < all.length; i++) peer.send(all.subarray(i, i + 1));
  const got = await peer.waitFor(atLeast(11), 'the answers');
  assert.equal(got.toString('hex'), '20020000' + '9003000501' + 'd000');
});
