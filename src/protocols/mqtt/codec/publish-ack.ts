/**
 * PUBACK (§3.4), PUBREC (§3.5), PUBREL (§3.6), PUBCOMP (§3.7): one layout, so one module.
 *   3.1.1: Packet Identifier (uint16)                                       Remaining Length 2
 *   5.0:   Packet Identifier ‖ [Reason Code] ‖ [Properties]                 Remaining Length 2, 3 or more
 * 5.0 §3.4.2.1: with Remaining Length 2 the Reason Code is 0x00 (Success); §3.4.2.2.1: with less than 4 there
 * are no properties. First bytes: PUBACK 0x40, PUBREC 0x50, PUBREL 0x62 (flags 0b0010), PUBCOMP 0x70.
 * An empty property block that was on the wire decodes as `properties: {}` (mqtt.js sends one in PUBREC/PUBREL/
 * PUBCOMP), and encoding writes the short form (Remaining Length 2) only for reason Success with `properties`
 * undefined — otherwise reason and property block — which is mqtt-packet's rule, so captured acks re-encode
 * byte for byte.
 */
import { BufferReader } from '../../../wire/buffer-reader.js';
import { BufferWriter } from '../../../wire/buffer-writer.js';
import { protocolError } from './mqtt-error.js';
import { decodeProperties, PropertyContext, sizeOfPropertiesContent, writeProperties } from './properties.js';
import { sizeOfVbi } from './data-types.js';
import { isReasonCodeAllowed, ReasonPacket } from './reason-codes.js';
import type { MqttVersion, PubAckPacket } from './types.js';

type AckType = PubAckPacket['type'];

const CTX: Record<AckType, PropertyContext> = {
  puback: PropertyContext.PUBACK,
  pubrec: PropertyContext.PUBREC,
  pubrel: PropertyContext.PUBREL,
  pubcomp: PropertyContext.PUBCOMP,
};
const REASON: Record<AckType, ReasonPacket> = {
  puback: ReasonPacket.PUBACK,
  pubrec: ReasonPacket.PUBREC,
  pubrel: ReasonPacket.PUBREL,
  pubcomp: ReasonPacket.PUBCOMP,
};

export function decodePubAck(r: BufferReader, type: AckType, version: MqttVersion): PubAckPacket {
  const at = r.offset;
  const packetId = r.readUInt16(`${type}.packetId`);
  // [MQTT-2.3.1-1] Packet Identifiers are non-zero.
  if (packetId === 0) throw protocolError(`${type}.packetId`, at, 'packet identifier 0');
  const p: PubAckPacket = { type, packetId, reasonCode: 0 };
  if (version === 5 && r.remaining > 0) {
    const codeAt = r.offset;
    p.reasonCode = r.readUInt8(`${type}.reasonCode`);
    // [MQTT-3.4.2-1] etc.: the sender MUST use one of the reason codes listed for this packet.
    if (!isReasonCodeAllowed(p.reasonCode, REASON[type])) {
      throw protocolError(`${type}.reasonCode`, codeAt, `reason 0x${p.reasonCode.toString(16)} not valid in ${type.toUpperCase()}`);
    }
    if (r.remaining > 0) {
      // Keep an empty block only where it changes the encoding (reason Success): see the header comment.
      const properties = decodeProperties(r, CTX[type]) ?? (p.reasonCode === 0 ? {} : undefined);
      if (properties !== undefined) p.properties = properties;
    }
  }
  return p;
}

export function sizeOfPubAckBody(p: PubAckPacket, version: MqttVersion): number {
  if (version !== 5) return 2;
  if (p.reasonCode === 0 && p.properties === undefined) return 2;
  const props = sizeOfPropertiesContent(p.properties, CTX[p.type]);
  return 3 + sizeOfVbi(props) + props;
}

export function writePubAckBody(w: BufferWriter, p: PubAckPacket, version: MqttVersion): void {
  w.writeUInt16(p.packetId);
  if (version !== 5) return;
  if (p.reasonCode === 0 && p.properties === undefined) return;
  const props = sizeOfPropertiesContent(p.properties, CTX[p.type]);
  w.writeUInt8(p.reasonCode);
  writeProperties(w, p.properties, CTX[p.type], props);
}
