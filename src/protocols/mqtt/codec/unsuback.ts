/**
 * UNSUBACK (3.1.1 §3.11, 5.0 §3.11), server → client, first byte 0xB0.
 *   3.1.1: Packet Identifier (uint16)                                      Remaining Length 2
 *   5.0:   Packet Identifier ‖ Properties ‖ ( Reason Code (byte) )+  one per Topic Filter, in order
 */
import { BufferReader } from '../../../wire/buffer-reader.js';
import { BufferWriter } from '../../../wire/buffer-writer.js';
import { protocolError } from './mqtt-error.js';
import { decodeProperties, PropertyContext, sizeOfProperties, sizeOfPropertiesContent, writeProperties } from './properties.js';
import { isReasonCodeAllowed, ReasonPacket } from './reason-codes.js';
import type { MqttVersion, UnsubackPacket } from './types.js';

export function decodeUnsuback(r: BufferReader, version: MqttVersion): UnsubackPacket {
  const at = r.offset;
  const packetId = r.readUInt16('unsuback.packetId');
  if (packetId === 0) throw protocolError('unsuback.packetId', at, 'packet identifier 0');
  const p: UnsubackPacket = { type: 'unsuback', packetId, reasonCodes: [] };
  if (version !== 5) return p;
  const properties = decodeProperties(r, PropertyContext.UNSUBACK);
  if (properties !== undefined) p.properties = properties;
  // [MQTT-3.11.3-1] one Reason Code per Topic Filter of the UNSUBSCRIBE, which has at least one.
  if (r.remaining === 0) throw protocolError('unsuback.payload', r.offset, 'no reason codes');
  while (r.remaining > 0) {
    const codeAt = r.offset;
    const c = r.readUInt8('unsuback.reasonCode');
    if (!isReasonCodeAllowed(c, ReasonPacket.UNSUBACK)) throw protocolError('unsuback.reasonCode', codeAt, `invalid UNSUBACK code 0x${c.toString(16)}`);
    p.reasonCodes.push(c);
  }
  return p;
}

export function sizeOfUnsubackBody(p: UnsubackPacket, version: MqttVersion): number {
  if (version !== 5) return 2;
  return 2 + sizeOfProperties(p.properties, PropertyContext.UNSUBACK) + p.reasonCodes.length;
}

export function writeUnsubackBody(w: BufferWriter, p: UnsubackPacket, version: MqttVersion): void {
  w.writeUInt16(p.packetId);
  if (version !== 5) return;
  writeProperties(w, p.properties, PropertyContext.UNSUBACK, sizeOfPropertiesContent(p.properties, PropertyContext.UNSUBACK));
  for (const c of p.reasonCodes) w.writeUInt8(c);
}
