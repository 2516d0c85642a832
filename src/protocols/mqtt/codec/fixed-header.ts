/**
 * Fixed header (3.1.1 §2.2, 5.0 §2.1):
 *   byte 1      packet type (bits 7–4) ‖ flags (bits 3–0)
 *   byte 2..5   Remaining Length, a Variable Byte Integer (1–4 bytes, max 268,435,455)
 * The flags are fixed for every type but PUBLISH (DUP, QoS, RETAIN); PUBREL, SUBSCRIBE and UNSUBSCRIBE carry
 * 0b0010. Any other value is a Malformed Packet.
 */
import { BufferWriter } from '../../../wire/buffer-writer.js';
import { malformed } from './mqtt-error.js';
import { sizeOfVbi, writeVbi, MAX_VBI } from './data-types.js';
import { PacketType, type MqttVersion } from './types.js';

/** Required low nibble per packet type (index = type); -1 = PUBLISH (variable), -2 = reserved type. */
const REQUIRED_FLAGS: readonly number[] = [-2, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0];

/**
 * Checks the first byte of a packet against the version's rules. Throws a Malformed Packet error.
 */
export function checkFixedHeader(firstByte: number, version: MqttVersion | undefined, offset = 0): void {
  const type = firstByte >> 4;
  const flags = firstByte & 0x0f;
  // Type 0 is reserved in both versions; 15 (AUTH) exists only in v5 (3.1.1 §2.2.1 "Reserved").
  if (type === 0 || (type === PacketType.AUTH && version === 4)) {
    throw malformed('fixedHeader.type', offset, `reserved control packet type ${type}`);
  }
  const required = REQUIRED_FLAGS[type];
  if (required >= 0 && flags !== required) {
    // [MQTT-2.2.2-1] reserved flag bits MUST be set to the listed value; [MQTT-2.2.2-2] otherwise close the
    // connection (5.0: [MQTT-2.1.3-1], "If invalid flags are received it is a Malformed Packet").
    throw malformed('fixedHeader.flags', offset, `flags 0x${flags.toString(16)} invalid for packet type ${type}`);
  }
  if (type === PacketType.PUBLISH && ((flags >> 1) & 3) === 3) {
    // [MQTT-3.3.1-4] a PUBLISH packet MUST NOT have both QoS bits set to 1.
    throw malformed('fixedHeader.qos', offset, 'PUBLISH with QoS 3');
  }
}

/** Bytes of a whole packet whose body is `remainingLength` bytes. */
export function packetSize(remainingLength: number): number {
  if (remainingLength > MAX_VBI) throw new RangeError(`packet body of ${remainingLength} bytes exceeds the MQTT maximum ${MAX_VBI}`);
  return 1 + sizeOfVbi(remainingLength) + remainingLength;
}

/** Allocates a packet buffer once and writes its fixed header; the caller writes `remainingLength` more bytes. */
export function allocPacket(firstByte: number, remainingLength: number): BufferWriter {
  const w = BufferWriter.alloc(packetSize(remainingLength));
  w.writeUInt8(firstByte);
  writeVbi(w, remainingLength);
  return w;
}
