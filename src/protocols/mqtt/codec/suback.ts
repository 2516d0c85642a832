/**
 * SUBACK (3.1.1 §3.9, 5.0 §3.9), server → client, first byte 0x90.
 *   Packet Identifier (uint16) ‖ [v5] Properties ‖ ( Return / Reason Code (byte) )+
 *   3.1.1 codes: 0x00, 0x01, 0x02 granted QoS, 0x80 failure [MQTT-3.9.3-2]; 5.0: Table 2-6 SUBACK column.
 */
import { BufferReader } from '../../../wire/buffer-reader.js';
import { BufferWriter } from '../../../wire/buffer-writer.js';
import { protocolError } from './mqtt-error.js';
import { decodeProperties, PropertyContext, sizeOfProperties, sizeOfPropertiesContent, writeProperties } from './properties.js';
import { isReasonCodeAllowed, ReasonPacket } from './reason-codes.js';
import type { MqttVersion, SubackPacket } from './types.js';

export function decodeSuback(r: BufferReader, version: MqttVersion): SubackPacket {
  const at = r.offset;
  const packetId = r.readUInt16('suback.packetId');
  if (packetId === 0) throw protocolError('suback.packetId', at, 'packet identifier 0');
  const properties = version === 5 ? decodeProperties(r, PropertyContext.SUBACK) : undefined;
  if (r.remaining === 0) throw protocolError('suback.payload', r.offset, 'no return codes');
  const reasonCodes: number[] = new Array<number>(r.remaining);
  for (let i = 0; i < reasonCodes.length; i++) {
    const codeAt = r.offset;
    const c = r.readUInt8('suback.reasonCode');
    const ok = version === 5 ? isReasonCodeAllowed(c, ReasonPacket.SUBACK) : c <= 2 || c === 0x80;
    if (!ok) throw protocolError('suback.reasonCode', codeAt, `invalid SUBACK code 0x${c.toString(16)}`);
    reasonCodes[i] = c;
  }
  const p: SubackPacket = { type: 'suback', packetId, reasonCodes };
  if (properties !== undefined) p.properties = properties;
  return p;
}

export function sizeOfSubackBody(p: SubackPacket, version: MqttVersion): number {
  return 2 + (version === 5 ? sizeOfProperties(p.properties, PropertyContext.SUBACK) : 0) + p.reasonCodes.length;
}

export function writeSubackBody(w: BufferWriter, p: SubackPacket, version: MqttVersion): void {
  w.writeUInt16(p.packetId);
  if (version === 5) writeProperties(w, p.properties, PropertyContext.SUBACK, sizeOfPropertiesContent(p.properties, PropertyContext.SUBACK));
  for (const c of p.reasonCodes) w.writeUInt8(c);
}
