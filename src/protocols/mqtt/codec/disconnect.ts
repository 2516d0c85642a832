/**
 * DISCONNECT (3.1.1 §3.14, 5.0 §3.14), first byte 0xE0.
 *   3.1.1: empty (Remaining Length 0), client → server only.
 *   5.0:   [Reason Code (byte) ‖ [Properties]] — Remaining Length 0 means 0x00 Normal disconnection; less than
 *          2 means no properties (§3.14.2.1, §3.14.2.2.1). Both directions.
 * Encoding in v5 always writes the reason code and a property block, as mqtt.js does.
 */
import { BufferReader } from '../../../wire/buffer-reader.js';
import { BufferWriter } from '../../../wire/buffer-writer.js';
import { protocolError } from './mqtt-error.js';
import { decodeProperties, PropertyContext, sizeOfProperties, sizeOfPropertiesContent, writeProperties } from './properties.js';
import { isReasonCodeAllowed, ReasonPacket } from './reason-codes.js';
import type { DisconnectPacket, MqttVersion } from './types.js';

export function decodeDisconnect(r: BufferReader, version: MqttVersion): DisconnectPacket {
  const p: DisconnectPacket = { type: 'disconnect', reasonCode: 0 };
  if (version !== 5 || r.remaining === 0) return p;
  const at = r.offset;
  p.reasonCode = r.readUInt8('disconnect.reasonCode');
  // [MQTT-3.14.2-1] the sender MUST use one of the DISCONNECT Reason Codes.
  if (!isReasonCodeAllowed(p.reasonCode, ReasonPacket.DISCONNECT)) {
    throw protocolError('disconnect.reasonCode', at, `invalid DISCONNECT reason 0x${p.reasonCode.toString(16)}`);
  }
  if (r.remaining > 0) {
    const properties = decodeProperties(r, PropertyContext.DISCONNECT);
    if (properties !== undefined) p.properties = properties;
  }
  return p;
}

export function sizeOfDisconnectBody(p: DisconnectPacket, version: MqttVersion): number {
  return version === 5 ? 1 + sizeOfProperties(p.properties, PropertyContext.DISCONNECT) : 0;
}

export function writeDisconnectBody(w: BufferWriter, p: DisconnectPacket, version: MqttVersion): void {
  if (version !== 5) return;
  w.writeUInt8(p.reasonCode);
  writeProperties(w, p.properties, PropertyContext.DISCONNECT, sizeOfPropertiesContent(p.properties, PropertyContext.DISCONNECT));
}
