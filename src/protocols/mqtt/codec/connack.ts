/**
 * CONNACK (3.1.1 §3.2, 5.0 §3.2), server → client, first byte 0x20.
 *   3.1.1: Connect Acknowledge Flags (bit 0 Session Present) ‖ Connect Return Code (0..5)
 *   5.0:   Connect Acknowledge Flags ‖ Reason Code ‖ Properties
 */
import { BufferReader } from '../../../wire/buffer-reader.js';
import { BufferWriter } from '../../../wire/buffer-writer.js';
import { malformed, protocolError } from './mqtt-error.js';
import { decodeProperties, PropertyContext, sizeOfProperties, sizeOfPropertiesContent, writeProperties } from './properties.js';
import { isReasonCodeAllowed, ReasonPacket } from './reason-codes.js';
import type { ConnackPacket, MqttVersion } from './types.js';

export function decodeConnack(r: BufferReader, version: MqttVersion): ConnackPacket {
  const flagsAt = r.offset;
  const flags = r.readUInt8('connack.flags');
  // [MQTT-3.2.2-1] bits 7-1 are reserved and MUST be 0.
  if (flags & 0xfe) throw malformed('connack.flags', flagsAt, 'reserved flags set');
  const codeAt = r.offset;
  const reasonCode = r.readUInt8('connack.reasonCode');
  if (version === 4 ? reasonCode > 5 : !isReasonCodeAllowed(reasonCode, ReasonPacket.CONNACK)) {
    throw protocolError('connack.reasonCode', codeAt, `invalid CONNACK code 0x${reasonCode.toString(16)}`);
  }
  const sessionPresent = (flags & 1) === 1;
  // 3.1.1 [MQTT-3.2.2-4] / 5.0 [MQTT-3.2.2-6]: a non-zero code MUST come with Session Present 0.
  if (sessionPresent && reasonCode !== 0) throw protocolError('connack.flags', flagsAt, 'Session Present with an error code');
  const p: ConnackPacket = { type: 'connack', sessionPresent, reasonCode };
  if (version === 5) {
    const properties = decodeProperties(r, PropertyContext.CONNACK);
    if (properties !== undefined) p.properties = properties;
  }
  return p;
}

export function sizeOfConnackBody(p: ConnackPacket, version: MqttVersion): number {
  return 2 + (version === 5 ? sizeOfProperties(p.properties, PropertyContext.CONNACK) : 0);
}

export function writeConnackBody(w: BufferWriter, p: ConnackPacket, version: MqttVersion): void {
  w.writeUInt8(p.sessionPresent ? 1 : 0);
  w.writeUInt8(p.reasonCode);
  if (version === 5) writeProperties(w, p.properties, PropertyContext.CONNACK, sizeOfPropertiesContent(p.properties, PropertyContext.CONNACK));
}
