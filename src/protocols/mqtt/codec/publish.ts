/**
 * PUBLISH (3.1.1 §3.3, 5.0 §3.3), both directions, first byte 0x30 | DUP<<3 | QoS<<1 | RETAIN.
 *   variable header: Topic Name (UTF-8) ‖ [Packet Identifier (uint16) if QoS > 0] ‖ [v5] Properties
 *   payload:         the rest of the packet, possibly empty
 * The payload is returned as a view into the packet buffer: a broker forwards it without copying.
 */
import { BufferReader } from '../../../wire/buffer-reader.js';
import { BufferWriter } from '../../../wire/buffer-writer.js';
import { malformed, protocolError } from './mqtt-error.js';
import { checkTopicName, readUtf8, sizeOfUtf8, writeUtf8 } from './data-types.js';
import { decodeProperties, PropertyContext, sizeOfProperties, sizeOfPropertiesContent, writeProperties } from './properties.js';
import type { MqttVersion, PublishPacket, QoS } from './types.js';

export function decodePublish(r: BufferReader, flags: number, version: MqttVersion): PublishPacket {
  const qos = ((flags >> 1) & 3) as QoS; // QoS 3 was refused by checkFixedHeader [MQTT-3.3.1-4]
  const dup = (flags & 0x08) !== 0;
  // [MQTT-3.3.1-2] the DUP flag MUST be 0 for all QoS 0 messages.
  if (dup && qos === 0) throw malformed('publish.dup', 0, 'DUP set on a QoS 0 PUBLISH');
  const retain = (flags & 0x01) !== 0;
  const topicAt = r.offset;
  const topic = readUtf8(r, 'publish.topic');
  let packetId: number | undefined;
  if (qos > 0) {
    const at = r.offset;
    packetId = r.readUInt16('publish.packetId');
    // [MQTT-2.3.1-1] a QoS > 0 PUBLISH MUST carry a non-zero Packet Identifier.
    if (packetId === 0) throw protocolError('publish.packetId', at, 'packet identifier 0');
  }
  const properties = version === 5 ? decodeProperties(r, PropertyContext.PUBLISH) : undefined;
  if (topic.length === 0 && version === 5) {
    // 5.0 §3.3.2.1: "It is a Protocol Error if the Topic Name is zero length and there is no Topic Alias."
    if (properties?.topicAlias === undefined) throw protocolError('publish.topic', topicAt, 'empty topic name without a Topic Alias');
  } else {
    // [MQTT-3.3.2-2] the Topic Name MUST NOT contain wildcard characters; [MQTT-4.7.3-1] at least one character.
    checkTopicName(topic, 'publish.topic', topicAt);
  }
  // Subscription Identifiers travel server → client only; a client sending one is a Protocol Error (5.0
  // §3.3.2.3.8). The codec does not know the direction, so the session checks that.
  const payload = r.readBytes('publish.payload', r.remaining);
  const p: PublishPacket = { type: 'publish', dup, qos, retain, topic, payload };
  if (packetId !== undefined) p.packetId = packetId;
  if (properties !== undefined) p.properties = properties;
  return p;
}

export function publishFlags(p: PublishPacket): number {
  return (p.dup ? 0x08 : 0) | (p.qos << 1) | (p.retain ? 0x01 : 0);
}

export function sizeOfPublishBody(p: PublishPacket, version: MqttVersion): number {
  let n = sizeOfUtf8(p.topic) + p.payload.length;
  if (p.qos > 0) n += 2;
  if (version === 5) n += sizeOfProperties(p.properties, PropertyContext.PUBLISH);
  return n;
}

export function writePublishBody(w: BufferWriter, p: PublishPacket, version: MqttVersion): void {
  writeUtf8(w, p.topic);
  if (p.qos > 0) {
    if (p.packetId === undefined) throw new RangeError('QoS > 0 PUBLISH needs a packetId');
    w.writeUInt16(p.packetId);
  }
  if (version === 5) writeProperties(w, p.properties, PropertyContext.PUBLISH, sizeOfPropertiesContent(p.properties, PropertyContext.PUBLISH));
  w.writeBytes(p.payload);
}
