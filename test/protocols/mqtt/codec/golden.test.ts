import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeFrame, decodePacket, encodePacket, PacketSplitter, type MqttPacket, type MqttVersion } from '../../../../src/protocols/mqtt/codec/index.js';

// Golden fixtures: bytes mqtt.js really sent (*.mqttjs.hex, captured by test/fixtures/mqtt/capture.ts) and bytes
// mqtt-packet generates for the server side (*.mqttpacket.hex). Each decodes to the exact object below and
// re-encodes to the same bytes.
const DIR = fileURLToPath(new URL('../../../../../test/fixtures/mqtt/', import.meta.url));

function load(name: string): Buffer {
  return Buffer.from(readFileSync(DIR + name, 'utf8').replace(/\s+/g, ''), 'hex');
}

function versionOf(name: string): MqttVersion {
  return name.includes('-v5.') ? 5 : 4;
}

const EXPECTED: Record<string, MqttPacket> = {
  'auth-v5.mqttpacket.hex': { type: 'auth', reasonCode: 24, properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: Buffer.from('c2lnbmF0dXJl'), reasonString: 'continue' } },
  'connack-v4.mqttpacket.hex': { type: 'connack', sessionPresent: true, reasonCode: 0 },
  'connack-v5.mqttpacket.hex': { type: 'connack', sessionPresent: true, reasonCode: 0, properties: { sessionExpiryInterval: 120, receiveMaximum: 100, maximumQos: 1, retainAvailable: 1, maximumPacketSize: 1048576, assignedClientIdentifier: 'auto-1', topicAliasMaximum: 10, serverKeepAlive: 45, wildcardSubscriptionAvailable: 1, subscriptionIdentifierAvailable: 1, sharedSubscriptionAvailable: 0, userProperties: [['node', 'a']] } },
  'connect-v4.mqttjs.hex': { type: 'connect', protocolName: 'MQTT', protocolLevel: 4, cleanStart: true, keepAliveSec: 30, clientId: 'fixture-v4', will: { topic: 'fixture/will', payload: Buffer.from('gone'), qos: 1, retain: true }, username: 'alice', password: Buffer.from('s3cret') },
  'connect-v5.mqttjs.hex': { type: 'connect', protocolName: 'MQTT', protocolLevel: 5, cleanStart: true, keepAliveSec: 30, clientId: 'fixture-v5', properties: { sessionExpiryInterval: 300, receiveMaximum: 20, maximumPacketSize: 65536, requestProblemInformation: 1, userProperties: [['app', 'capture']] }, will: { topic: 'fixture/will', payload: Buffer.from('gone'), qos: 1, retain: true, properties: { willDelayInterval: 10, contentType: 'text/plain', userProperties: [['who', 'fixture']] } }, username: 'alice', password: Buffer.from('s3cret') },
  'disconnect-v4.mqttjs.hex': { type: 'disconnect', reasonCode: 0 },
  'disconnect-v5.mqttjs.hex': { type: 'disconnect', reasonCode: 4, properties: { sessionExpiryInterval: 0, reasonString: 'bye' } },
  'disconnect-v5.mqttpacket.hex': { type: 'disconnect', reasonCode: 142, properties: { reasonString: 'taken over', serverReference: 'other:1883' } },
  'pingreq-v4.mqttjs.hex': { type: 'pingreq' },
  'pingreq-v5.mqttjs.hex': { type: 'pingreq' },
  'pingresp-v4.mqttpacket.hex': { type: 'pingresp' },
  'pingresp-v5.mqttpacket.hex': { type: 'pingresp' },
  'puback-v4.mqttjs.hex': { type: 'puback', packetId: 100, reasonCode: 0 },
  'puback-v4.mqttpacket.hex': { type: 'puback', packetId: 9, reasonCode: 0 },
  'puback-v5.mqttjs.hex': { type: 'puback', packetId: 100, reasonCode: 0 },
  'puback-v5.mqttpacket.hex': { type: 'puback', packetId: 9, reasonCode: 16 },
  'pubcomp-v4.mqttjs.hex': { type: 'pubcomp', packetId: 101, reasonCode: 0 },
  'pubcomp-v4.mqttpacket.hex': { type: 'pubcomp', packetId: 10, reasonCode: 0 },
  'pubcomp-v5.mqttjs.hex': { type: 'pubcomp', packetId: 101, reasonCode: 0, properties: {} },
  'pubcomp-v5.mqttpacket.hex': { type: 'pubcomp', packetId: 10, reasonCode: 146, properties: { reasonString: 'unknown id' } },
  'publish-qos0-v4.mqttjs.hex': { type: 'publish', dup: false, qos: 0, retain: false, topic: 'fixture/q0', payload: Buffer.from('qos zero') },
  'publish-qos0-v5.mqttjs.hex': { type: 'publish', dup: false, qos: 0, retain: false, topic: 'fixture/q0', payload: Buffer.from('qos zero'), properties: { payloadFormatIndicator: 1, messageExpiryInterval: 60, contentType: 'application/json', responseTopic: 'fixture/reply', correlationData: Buffer.from('corr-1'), userProperties: [['k', 'v'], ['multi', 'a'], ['multi', 'b']] } },
  'publish-qos1-v4.mqttjs.hex': { type: 'publish', dup: false, qos: 1, retain: true, topic: 'fixture/q1', payload: Buffer.from('qos one'), packetId: 29424 },
  'publish-qos1-v4.mqttpacket.hex': { type: 'publish', dup: true, qos: 1, retain: false, topic: 'a/b', payload: Buffer.from('delivered'), packetId: 11 },
  'publish-qos1-v5.mqttjs.hex': { type: 'publish', dup: false, qos: 1, retain: true, topic: 'fixture/q1', payload: Buffer.from('qos one'), packetId: 12675 },
  'publish-qos1-v5.mqttpacket.hex': { type: 'publish', dup: true, qos: 1, retain: false, topic: 'a/b', payload: Buffer.from('delivered'), packetId: 11, properties: { subscriptionIdentifiers: [3, 300], topicAlias: 2 } },
  'publish-qos2-v4.mqttjs.hex': { type: 'publish', dup: false, qos: 2, retain: false, topic: 'fixture/q2', payload: Buffer.from('qos two'), packetId: 29425 },
  'publish-qos2-v5.mqttjs.hex': { type: 'publish', dup: false, qos: 2, retain: false, topic: 'fixture/q2', payload: Buffer.from('qos two'), packetId: 12676 },
  'pubrec-v4.mqttjs.hex': { type: 'pubrec', packetId: 101, reasonCode: 0 },
  'pubrec-v4.mqttpacket.hex': { type: 'pubrec', packetId: 10, reasonCode: 0 },
  'pubrec-v5.mqttjs.hex': { type: 'pubrec', packetId: 101, reasonCode: 0, properties: {} },
  'pubrec-v5.mqttpacket.hex': { type: 'pubrec', packetId: 10, reasonCode: 0 },
  'pubrel-v4.mqttjs.hex': { type: 'pubrel', packetId: 29425, reasonCode: 0 },
  'pubrel-v4.mqttpacket.hex': { type: 'pubrel', packetId: 10, reasonCode: 0 },
  'pubrel-v5.mqttjs.hex': { type: 'pubrel', packetId: 12676, reasonCode: 0, properties: {} },
  'pubrel-v5.mqttpacket.hex': { type: 'pubrel', packetId: 10, reasonCode: 0 },
  'suback-v4.mqttpacket.hex': { type: 'suback', packetId: 7, reasonCodes: [0, 1, 2, 128] },
  'suback-v5.mqttpacket.hex': { type: 'suback', packetId: 7, reasonCodes: [0, 1, 2, 143], properties: { reasonString: 'partly' } },
  'subscribe-v4.mqttjs.hex': { type: 'subscribe', packetId: 29426, subscriptions: [{ topicFilter: 'fixture/+', qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0 }, { topicFilter: 'fixture/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }, { topicFilter: 'fixture/zero', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] },
  'subscribe-v5.mqttjs.hex': { type: 'subscribe', packetId: 12677, subscriptions: [{ topicFilter: 'fixture/+', qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 1 }, { topicFilter: 'fixture/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 2 }, { topicFilter: '$share/grp/fixture/shared', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }], properties: { subscriptionIdentifiers: [42], userProperties: [['sub', 'props']] } },
  'unsuback-v4.mqttpacket.hex': { type: 'unsuback', packetId: 8, reasonCodes: [] },
  'unsuback-v5.mqttpacket.hex': { type: 'unsuback', packetId: 8, reasonCodes: [0, 17] },
  'unsubscribe-v4.mqttjs.hex': { type: 'unsubscribe', packetId: 29427, topicFilters: ['fixture/+', 'fixture/#'] },
  'unsubscribe-v5.mqttjs.hex': { type: 'unsubscribe', packetId: 12678, topicFilters: ['fixture/+', 'fixture/#'], properties: { userProperties: [['unsub', 'yes']] } },
};

test('every fixture file has an expected object and every expected object a fixture', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.hex')).sort();
  assert.deepEqual(files, Object.keys(EXPECTED).sort());
});

for (const [name, expected] of Object.entries(EXPECTED)) {
  test(`${name} decodes to the expected packet and re-encodes to the same bytes`, () => {
    const bytes = load(name);
    const version = versionOf(name);
    const p = decodeFrame(bytes, version);
    assert.deepStrictEqual(p, expected);
    assert.equal(encodePacket(p, version).toString('hex'), bytes.toString('hex'));
    // Encoding the literal (not the decoded object) gives the same bytes too.
    assert.equal(encodePacket(expected, version).toString('hex'), bytes.toString('hex'));
  });
}

for (const version of [4, 5] as const) {
  test(`the v${version} client stream split at every offset gives the same packets`, () => {
    const names = Object.keys(EXPECTED).filter((n) => versionOf(n) === version && n.endsWith('.mqttjs.hex'));
    const stream = Buffer.concat(names.map(load));
    const want = names.map((n) => EXPECTED[n]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const got: MqttPacket[] = [];
      const splitter = new PacketSplitter({ onPacket: (first, body) => got.push(decodePacket(first, body, version)) });
      // Copy the halves so a view into the wrong chunk would show up as corrupted bytes.
      splitter.push(Buffer.from(stream.subarray(0, cut)));
      splitter.push(Buffer.from(stream.subarray(cut)));
      assert.deepStrictEqual(got, want, `split at ${cut}`);
      assert.equal(splitter.buffered, 0);
    }
  });

  test(`the v${version} client stream fed one byte at a time gives the same packets`, () => {
    const names = Object.keys(EXPECTED).filter((n) => versionOf(n) === version && n.endsWith('.mqttjs.hex'));
    const stream = Buffer.concat(names.map(load));
    const got: MqttPacket[] = [];
    const splitter = new PacketSplitter({ onPacket: (first, body) => got.push(decodePacket(first, body, version)) });
    for (let i = 0; i < stream.length; i++) splitter.push(Buffer.from([stream[i]]));
    assert.deepStrictEqual(got, names.map((n) => EXPECTED[n]));
  });
}
