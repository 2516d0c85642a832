/**
 * AUTH (5.0 §3.15), both directions, v5 only, first byte 0xF0.
 *   [Reason Code (byte) ‖ [Properties]] — Remaining Length 0 means 0x00 Success with no properties (§3.15.2.1).
 *   Reason codes: 0x00 Success, 0x18 Continue authentication, 0x19 Re-authenticate [MQTT-3.15.2-1].
 * In 3.1.1 packet type 15 is reserved: checkFixedHeader refuses it before this module is reached.
 */
import { BufferReader } from '../../../wire/buffer-reader.js';
import { BufferWriter } from '../../../wire/buffer-writer.js';
import { protocolError } from './mqtt-error.js';
import { decodeProperties, PropertyContext, sizeOfProperties, sizeOfPropertiesContent, writeProperties } from './properties.js';
import { isReasonCodeAllowed, ReasonPacket } from './reason-codes.js';
import type { AuthPacket } from './types.js';

export function decodeAuth(r: BufferReader): AuthPacket {
  const p: AuthPacket = { type: 'auth', reasonCode: 0 };
  if (r.remaining === 0) return p;
  const at = r.offset;
  p.reasonCode = r.readUInt8('auth.reasonCode');
  if (!isReasonCodeAllowed(p.reasonCode, ReasonPacket.AUTH)) {
    throw protocolError('auth.reasonCode', at, `invalid AUTH reason 0x${p.reasonCode.toString(16)}`);
  }
  if (r.remaining > 0) {
    const properties = decodeProperties(r, PropertyContext.AUTH);
    if (properties !== undefined) p.properties = properties;
  }
  return p;
}

export function sizeOfAuthBody(p: AuthPacket): number {
  return 1 + sizeOfProperties(p.properties, PropertyContext.AUTH);
}

export function writeAuthBody(w: BufferWriter, p: AuthPacket): void {
  w.writeUInt8(p.reasonCode);
  writeProperties(w, p.properties, PropertyContext.AUTH, sizeOfPropertiesContent(p.properties, PropertyContext.AUTH));
}
