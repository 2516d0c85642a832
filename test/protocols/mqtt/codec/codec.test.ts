import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  connackReturnCodeV4,
  decodeFrame,
  encodePacket,
  isReasonCodeAllowed,
  isValidTopicFilter,
  isValidTopicName,
  MqttProtocolError,
  PacketSplitter,
  parseSharedSubscription,
  ReasonCode,
  ReasonPacket,
  type MqttPacket,
  type MqttVersion,
} from '../../../../src/protocols/mqtt/codec/index.js';
import { WireError } from '../../../../src/wire/wire-error.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function rejects(bytes: Buffer, version: MqttVersion, reason: number, what?: RegExp): void {
  assert.throws(
    () => decodeFrame(bytes, version),
    (e: unknown) => {
      assert.ok(e instanceof MqttProtocolError, `expected MqttProtocolError, got ${String(e)}`);
      assert.equal(e.reasonCode, reason, e.message);
      if (what) assert.match(e.message, what);
      return true;
    },
  );
}

/** A whole packet from a first byte and a body given in hex. */
function pkt(first: number, body: string): Buffer {
  const b = hex(body);
  assert.ok(b.length < 128);
  return Buffer.concat([Buffer.from([first, b.length]), b]);
}

test('reserved flag bits must have their listed values [MQTT-2.2.2-1]', () => {
  rejects(pkt(0x41, '0001'), 4, ReasonCode.MalformedPacket, /flags/); // PUBACK with flags 1
  rejects(pkt(0x60, '0001'), 4, ReasonCode.MalformedPacket, /flags/); // PUBREL needs 0b0010
  rejects(pkt(0x80, '0001 0001 61 00'), 5, ReasonCode.MalformedPacket, /flags/); // SUBSCRIBE needs 0b0010
  rejects(pkt(0xa0, '0001 0001 61'), 4, ReasonCode.MalformedPacket, /flags/);
  rejects(pkt(0xc1, ''), 4, ReasonCode.MalformedPacket, /flags/);
  rejects(pkt(0x00, ''), 5, ReasonCode.MalformedPacket, /reserved control packet type/);
  rejects(pkt(0xf0, ''), 4, ReasonCode.MalformedPacket, /reserved control packet type 15/); // AUTH is v5 only
  rejects(pkt(0x36, '0001 61'), 4, ReasonCode.MalformedPacket, /QoS 3/); // [MQTT-3.3.1-4]
  rejects(pkt(0x38, '0001 61'), 4, ReasonCode.MalformedPacket, /DUP/); // [MQTT-3.3.1-2]
});

test('remaining length: at most 4 bytes, minimally encoded, matching the body', () => {
  rejects(hex('c0 80 80 80 80 01'), 4, ReasonCode.MalformedPacket, /longer than 4 bytes/);
  rejects(hex('c0 80 00'), 4, ReasonCode.MalformedPacket, /minimally/);
  rejects(hex('c0 02 00'), 4, ReasonCode.MalformedPacket, /remaining length 2/);
  const big = encodePacket({ type: 'publish', dup: false, qos: 0, retain: false, topic: 't', payload: Buffer.alloc(2_097_152) }, 4);
  assert.deepEqual([...big.subarray(0, 5)], [0x30, 0x83, 0x80, 0x80, 0x01]);
  assert.equal(decodeFrame(big, 4).type, 'publish');
});

test('the splitter refuses a packet over maxPacketSize before allocating it, with 0x95', () => {
  const got: number[] = [];
  const s = new PacketSplitter({ onPacket: (f) => got.push(f) }, { maxPacketSize: 1024 });
  // Remaining Length 268,435,455: refused from the header alone.
  assert.throws(() => s.push(hex('30 ff ff ff 7f')), (e: unknown) => e instanceof MqttProtocolError && e.reasonCode === ReasonCode.PacketTooLarge);
  assert.equal(s.buffered, 0);
  assert.throws(() => s.push(hex('c0 00')), /after an error/);
  // Exactly at the limit is fine; one byte over is not.
  const ok = new PacketSplitter({ onPacket: (f) => got.push(f) }, { maxPacketSize: 4 });
  ok.push(hex('40 02 00 01'));
  assert.deepEqual(got, [0x40]);
  assert.throws(() => ok.push(hex('40 03 00 01 00')), (e: unknown) => e instanceof MqttProtocolError && e.reasonCode === 0x95);
});

test('UTF-8 strings must be well-formed and free of U+0000 [MQTT-1.5.4-1] [MQTT-1.5.4-2]', () => {
  rejects(pkt(0x30, '0003 61 00 62'), 4, ReasonCode.MalformedPacket, /U\+0000/);
  rejects(pkt(0x30, '0002 c0 80'), 4, ReasonCode.MalformedPacket, /ill-formed/); // overlong NUL
  rejects(pkt(0x30, '0003 ed a0 80'), 5, ReasonCode.MalformedPacket, /ill-formed/); // UTF-16 surrogate
  rejects(pkt(0x30, '0001 ff'), 4, ReasonCode.MalformedPacket, /ill-formed/);
  const p = decodeFrame(pkt(0x30, '0004 f0 9f 98 80 68 69'), 4) as Extract<MqttPacket, { type: 'publish' }>;
  assert.equal(p.topic, '😀');
  assert.equal(p.payload.toString(), 'hi');
});

test('topic names and filters follow §4.7', () => {
  rejects(pkt(0x30, '0003 61 2f 2b'), 4, ReasonCode.TopicNameInvalid); // [MQTT-3.3.2-2]
  rejects(pkt(0x30, '0003 61 2f 23 00'), 5, ReasonCode.TopicNameInvalid);
  rejects(pkt(0x30, '0000 00'), 5, ReasonCode.ProtocolError, /Topic Alias/);
  rejects(pkt(0x30, '0000'), 4, ReasonCode.TopicNameInvalid);
  const aliased = decodeFrame(pkt(0x30, '0000 03 23 0001 7a'), 5) as Extract<MqttPacket, { type: 'publish' }>;
  assert.equal(aliased.topic, '');
  assert.equal(aliased.properties?.topicAlias, 1);
  for (const f of ['a', 'a/b', '+', '#', 'a/+/b', 'a/#', '+/+', '/', '$SYS/#', '$share/g/a/+', '$share/g/#']) assert.ok(isValidTopicFilter(f), f);
  for (const f of ['', 'a#', 'a/#/b', 'a+', 'a/b+', '#/a', '$share/', '$share//a', '$share/g', '$share/g/', '$share/g+/a']) assert.ok(!isValidTopicFilter(f), f);
  assert.ok(isValidTopicName('a/b'));
  assert.ok(!isValidTopicName('') && !isValidTopicName('a/+') && !isValidTopicName('#'));
  assert.deepEqual(parseSharedSubscription('$share/grp/x/y'), { shareName: 'grp', filter: 'x/y' });
  assert.equal(parseSharedSubscription('x/y'), undefined);
});

test('properties: unknown or misplaced identifiers are malformed, duplicates and forbidden values are protocol errors', () => {
  const connect = (props: string): Buffer => pkt(0x10, `0004 4d515454 05 02 003c ${props} 0000`);
  assert.equal(decodeFrame(connect('08 21 0010 11 0000000a'), 5).type, 'connect');
  rejects(connect('06 21 0010 21 0010'), 5, ReasonCode.ProtocolError, /more than once/);
  rejects(connect('03 23 0001'), 5, ReasonCode.MalformedPacket, /not allowed/); // Topic Alias in CONNECT
  rejects(connect('02 7f 00'), 5, ReasonCode.MalformedPacket, /unknown property/);
  rejects(connect('03 21 0000'), 5, ReasonCode.ProtocolError, /receiveMaximum/); // Receive Maximum 0
  rejects(connect('05 27 00000000'), 5, ReasonCode.ProtocolError, /maximumPacketSize/);
  rejects(connect('02 17 02'), 5, ReasonCode.ProtocolError, /requestProblemInformation/);
  rejects(connect('09 21 0010'), 5, ReasonCode.MalformedPacket, /property length/);
  rejects(connect('02 21 00'), 5, ReasonCode.MalformedPacket); // value cut by the block's end
  // User Property repeats; Subscription Identifier repeats in PUBLISH but not in SUBSCRIBE.
  const c = decodeFrame(connect('0c 26 0001 61 0001 62 26 0000 0000'), 5) as Extract<MqttPacket, { type: 'connect' }>;
  assert.deepEqual(c.properties?.userProperties, [['a', 'b'], ['', '']]);
  const pub = decodeFrame(pkt(0x30, '0001 61 04 0b 01 0b 02'), 5) as Extract<MqttPacket, { type: 'publish' }>;
  assert.deepEqual(pub.properties?.subscriptionIdentifiers, [1, 2]);
  rejects(pkt(0x82, '0001 04 0b 01 0b 02 0001 61 00'), 5, ReasonCode.ProtocolError, /more than once/);
  rejects(pkt(0x82, '0001 02 0b 00 0001 61 00'), 5, ReasonCode.ProtocolError, /must not be 0/);
});

test('CONNECT: protocol name and level, reserved flag, Will and password flags', () => {
  rejects(pkt(0x10, '0004 4d515454 06 02 003c 0000'), 4, ReasonCode.UnsupportedProtocolVersion);
  rejects(pkt(0x10, '0004 4d515458 04 02 003c 0000'), 4, ReasonCode.UnsupportedProtocolVersion);
  rejects(pkt(0x10, '0004 4d515454 04 03 003c 0000'), 4, ReasonCode.MalformedPacket, /reserved/); // [MQTT-3.1.2-3]
  rejects(pkt(0x10, '0004 4d515454 04 0a 003c 0000'), 4, ReasonCode.MalformedPacket, /Will/); // Will QoS without Will
  rejects(pkt(0x10, '0004 4d515454 04 1e 003c 0000 0001 74 0000'), 4, ReasonCode.MalformedPacket, /Will QoS 3/);
  rejects(pkt(0x10, '0004 4d515454 04 42 003c 0000 0000'), 4, ReasonCode.MalformedPacket, /password/); // [MQTT-3.1.2-22]
  const v5 = decodeFrame(pkt(0x10, '0004 4d515454 05 42 003c 00 0000 0002 7077'), 5) as Extract<MqttPacket, { type: 'connect' }>;
  assert.equal(v5.password?.toString(), 'pw'); // 5.0 allows a password without a user name
  const v31 = decodeFrame(pkt(0x10, '0006 4d5149736470 03 02 003c 0001 63'), 4) as Extract<MqttPacket, { type: 'connect' }>;
  assert.equal(v31.protocolLevel, 3);
});

test('SUBSCRIBE / UNSUBSCRIBE payload rules', () => {
  rejects(pkt(0x82, '0001'), 4, ReasonCode.ProtocolError, /no topic filters/); // [MQTT-3.8.3-3]
  rejects(pkt(0x82, '0001 00'), 5, ReasonCode.ProtocolError, /no topic filters/);
  rejects(pkt(0x82, '0001 0001 61 04'), 4, ReasonCode.MalformedPacket); // reserved bits in 3.1.1
  rejects(pkt(0x82, '0001 0001 61 03'), 4, ReasonCode.MalformedPacket); // QoS 3
  rejects(pkt(0x82, '0001 00 0001 61 40'), 5, ReasonCode.MalformedPacket); // reserved bits 7-6 [MQTT-3.8.3-5]
  rejects(pkt(0x82, '0001 00 0001 61 30'), 5, ReasonCode.ProtocolError, /Retain Handling 3/);
  rejects(pkt(0x82, '0001 00 000a 247368617265 2f67 2f61 04'), 5, ReasonCode.ProtocolError, /No Local/);
  rejects(pkt(0xa2, '0001'), 4, ReasonCode.ProtocolError, /no topic filters/); // [MQTT-3.10.3-2]
  rejects(pkt(0x82, '0000 0001 61 00'), 4, ReasonCode.ProtocolError, /packet identifier 0/); // [MQTT-2.3.1-1]
});

test('acks: short forms, reason codes from the table, trailing bytes', () => {
  assert.deepEqual(decodeFrame(hex('40 02 0007'), 5), { type: 'puback', packetId: 7, reasonCode: 0 });
  assert.deepEqual(decodeFrame(hex('40 03 0007 10'), 5), { type: 'puback', packetId: 7, reasonCode: 0x10 });
  rejects(hex('40 03 0007 92'), 5, ReasonCode.ProtocolError, /not valid in PUBACK/);
  rejects(hex('40 03 0007 00'), 4, ReasonCode.MalformedPacket, /after the last field/); // 3.1.1 PUBACK is 2 bytes
  rejects(hex('c0 01 00'), 4, ReasonCode.MalformedPacket, /after the last field/);
  rejects(hex('40 01 00'), 4, ReasonCode.MalformedPacket);
  assert.deepEqual(decodeFrame(hex('e0 00'), 5), { type: 'disconnect', reasonCode: 0 });
  assert.deepEqual(decodeFrame(hex('e0 01 8e'), 5), { type: 'disconnect', reasonCode: 0x8e });
  rejects(hex('e0 01 18'), 5, ReasonCode.ProtocolError);
  assert.deepEqual(decodeFrame(hex('f0 00'), 5), { type: 'auth', reasonCode: 0 });
  rejects(hex('20 02 01 05'), 4, ReasonCode.ProtocolError, /Session Present/);
  rejects(hex('20 02 00 06'), 4, ReasonCode.ProtocolError);
  rejects(hex('90 03 0001 03'), 4, ReasonCode.ProtocolError, /SUBACK/);
});

test('a body shorter than its fields is Malformed Packet, with the WireError as cause', () => {
  assert.throws(
    () => decodeFrame(hex('10 05 0004 4d5154'), 4),
    (e: unknown) => e instanceof MqttProtocolError && e.reasonCode === 0x81 && e.cause instanceof WireError && e.field === 'connect.protocolName',
  );
});

test('reason codes are data: which packet may carry which code, and the 3.1.1 CONNACK mapping', () => {
  assert.ok(isReasonCodeAllowed(0x10, ReasonPacket.PUBACK));
  assert.ok(!isReasonCodeAllowed(0x10, ReasonPacket.PUBREL));
  assert.ok(isReasonCodeAllowed(0x92, ReasonPacket.PUBREL));
  assert.ok(isReasonCodeAllowed(0x95, ReasonPacket.DISCONNECT));
  assert.ok(!isReasonCodeAllowed(0x03, ReasonPacket.CONNACK));
  assert.equal(connackReturnCodeV4(ReasonCode.UnsupportedProtocolVersion), 1);
  assert.equal(connackReturnCodeV4(ReasonCode.BadUserNameOrPassword), 4);
  assert.equal(connackReturnCodeV4(ReasonCode.MalformedPacket), undefined);
});

test('encoders refuse values the wire cannot carry', () => {
  assert.throws(() => encodePacket({ type: 'publish', dup: false, qos: 1, retain: false, topic: 't', payload: Buffer.alloc(0) }, 4), /packetId/);
  assert.throws(() => encodePacket({ type: 'publish', dup: false, qos: 0, retain: false, topic: 'x'.repeat(70000), payload: Buffer.alloc(0) }, 4), RangeError);
  assert.throws(() => encodePacket({ type: 'auth', reasonCode: 0 }, 4), /MQTT 5/);
  assert.throws(() => encodePacket({ type: 'connack', sessionPresent: false, reasonCode: 0, properties: { topicAlias: 3 } }, 5), /not allowed/);
});
