/**
 * SUBSCRIBE (3.1.1 §3.8, 5.0 §3.8), client → server, first byte 0x82.
 *   variable header: Packet Identifier (uint16) ‖ [v5] Properties
 *   payload:         ( Topic Filter (UTF-8) ‖ Subscription Options (byte) )+
 *   options 3.1.1:   bits 1-0 QoS, 7-2 reserved 0
 *   options 5.0:     bits 1-0 Maximum QoS ‖ 2 No Local ‖ 3 Retain As Published ‖ 5-4 Retain Handling ‖ 7-6 reserved
 * Topic Filter syntax is not judged here: v5 answers a bad filter with SUBACK 0x8F for that filter alone, so the
 * session calls isValidTopicFilter per entry.
 */
import { BufferReader } from '../../../wire/buffer-reader.js';
import { BufferWriter } from '../../../wire/buffer-writer.js';
import { malformed, protocolError } from './mqtt-error.js';
import { readUtf8, sizeOfUtf8, writeUtf8 } from './data-types.js';
import { decodeProperties, PropertyContext, sizeOfProperties, sizeOfPropertiesContent, writeProperties } from './properties.js';
import type { MqttVersion, QoS, SubscribePacket, Subscription } from './types.js';

export function decodeSubscribe(r: BufferReader, version: MqttVersion): SubscribePacket {
  const at = r.offset;
  const packetId = r.readUInt16('subscribe.packetId');
  // [MQTT-2.3.1-1] non-zero Packet Identifier.
  if (packetId === 0) throw protocolError('subscribe.packetId', at, 'packet identifier 0');
  const properties = version === 5 ? decodeProperties(r, PropertyContext.SUBSCRIBE) : undefined;
  const subscriptions: Subscription[] = [];
  while (r.remaining > 0) {
    const topicFilter = readUtf8(r, 'subscribe.topicFilter');
    const optAt = r.offset;
    const o = r.readUInt8('subscribe.options');
    const qos = o & 3;
    if (version === 5) {
      // [MQTT-3.8.3-5] reserved bits 7-6 MUST be 0; QoS 3 is malformed (§3.8.3.1).
      if (o & 0xc0 || qos === 3) throw malformed('subscribe.options', optAt, `invalid subscription options 0x${o.toString(16)}`);
      const retainHandling = (o >> 4) & 3;
      // §3.8.3.1: "It is a Protocol Error to send a Retain Handling value of 3."
      if (retainHandling === 3) throw protocolError('subscribe.options', optAt, 'Retain Handling 3');
      const noLocal = (o & 0x04) !== 0;
      // [MQTT-3.8.3-4] No Local on a Shared Subscription is a Protocol Error.
      if (noLocal && topicFilter.startsWith('$share/')) throw protocolError('subscribe.options', optAt, 'No Local on a shared subscription');
      subscriptions.push({ topicFilter, qos: qos as QoS, noLocal, retainAsPublished: (o & 0x08) !== 0, retainHandling: retainHandling as 0 | 1 | 2 });
    } else {
      // 3.1.1 [MQTT-3.8.3-4]: reserved bits non-zero or QoS 3 → malformed, close the connection.
      if (o & 0xfc || qos === 3) throw malformed('subscribe.options', optAt, `invalid requested QoS byte 0x${o.toString(16)}`);
      subscriptions.push({ topicFilter, qos: qos as QoS, noLocal: false, retainAsPublished: false, retainHandling: 0 });
    }
  }
  // [MQTT-3.8.3-3] the payload MUST contain at least one Topic Filter / Subscription Options pair.
  if (subscriptions.length === 0) throw protocolError('subscribe.payload', r.offset, 'no topic filters');
  const p: SubscribePacket = { type: 'subscribe', packetId, subscriptions };
  if (properties !== undefined) p.properties = properties;
  return p;
}

function optionsByte(s: Subscription, version: MqttVersion): number {
  if (version !== 5) return s.qos;
  return s.qos | (s.noLocal ? 0x04 : 0) | (s.retainAsPublished ? 0x08 : 0) | (s.retainHandling << 4);
}

export function sizeOfSubscribeBody(p: SubscribePacket, version: MqttVersion): number {
  let n = 2 + (version === 5 ? sizeOfProperties(p.properties, PropertyContext.SUBSCRIBE) : 0);
  for (const s of p.subscriptions) n += sizeOfUtf8(s.topicFilter) + 1;
  return n;
}

export function writeSubscribeBody(w: BufferWriter, p: SubscribePacket, version: MqttVersion): void {
  w.writeUInt16(p.packetId);
  if (version === 5) writeProperties(w, p.properties, PropertyContext.SUBSCRIBE, sizeOfPropertiesContent(p.properties, PropertyContext.SUBSCRIBE));
  for (const s of p.subscriptions) {
    writeUtf8(w, s.topicFilter);
    w.writeUInt8(optionsByte(s, version));
  }
}
