/**
 * UNSUBSCRIBE (3.1.1 §3.10, 5.0 §3.10), client → server, first byte 0xA2.
 *   Packet Identifier (uint16) ‖ [v5] Properties ‖ ( Topic Filter (UTF-8) )+
 */
import { BufferReader } from '../../../wire/buffer-reader.js';
import { BufferWriter } from '../../../wire/buffer-writer.js';
import { protocolError } from './mqtt-error.js';
import { readUtf8, sizeOfUtf8, writeUtf8 } from './data-types.js';
import { decodeProperties, PropertyContext, sizeOfProperties, sizeOfPropertiesContent, writeProperties } from './properties.js';
import type { MqttVersion, UnsubscribePacket } from './types.js';

export function decodeUnsubscribe(r: BufferReader, version: MqttVersion): UnsubscribePacket {
  const at = r.offset;
  const packetId = r.readUInt16('unsubscribe.packetId');
  if (packetId === 0) throw protocolError('unsubscribe.packetId', at, 'packet identifier 0');
  const properties = version === 5 ? decodeProperties(r, PropertyContext.UNSUBSCRIBE) : undefined;
  const topicFilters: string[] = [];
  while (r.remaining > 0) topicFilters.push(readUtf8(r, 'unsubscribe.topicFilter'));
  // [MQTT-3.10.3-2] the payload MUST contain at least one Topic Filter.
  if (topicFilters.length === 0) throw protocolError('unsubscribe.payload', r.offset, 'no topic filters');
  const p: UnsubscribePacket = { type: 'unsubscribe', packetId, topicFilters };
  if (properties !== undefined) p.properties = properties;
  return p;
}

export function sizeOfUnsubscribeBody(p: UnsubscribePacket, version: MqttVersion): number {
  let n = 2 + (version === 5 ? sizeOfProperties(p.properties, PropertyContext.UNSUBSCRIBE) : 0);
  for (const f of p.topicFilters) n += sizeOfUtf8(f);
  return n;
}

export function writeUnsubscribeBody(w: BufferWriter, p: UnsubscribePacket, version: MqttVersion): void {
  w.writeUInt16(p.packetId);
  if (version === 5) writeProperties(w, p.properties, PropertyContext.UNSUBSCRIBE, sizeOfPropertiesContent(p.properties, PropertyContext.UNSUBSCRIBE));
  for (const f of p.topicFilters) writeUtf8(w, f);
}
