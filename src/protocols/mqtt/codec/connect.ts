/**
 * CONNECT (3.1.1 §3.1, 5.0 §3.1), client → server, first byte 0x10.
 *   variable header: Protocol Name (UTF-8 "MQTT"|"MQIsdp") ‖ Protocol Level (byte) ‖ Connect Flags (byte) ‖
 *                    Keep Alive (uint16) ‖ [v5] Properties
 *   payload:         Client Identifier (UTF-8) ‖ [v5 Will Properties] ‖ [Will Topic (UTF-8) ‖ Will Payload
 *                    (Binary)] ‖ [User Name (UTF-8)] ‖ [Password (Binary)]
 *   Connect Flags:   7 User Name ‖ 6 Password ‖ 5 Will Retain ‖ 4-3 Will QoS ‖ 2 Will ‖ 1 Clean Start ‖ 0 reserved
 * The version is read from the packet itself, so decodeConnect takes none.
 */
import { BufferReader } from '../../../wire/buffer-reader.js';
import { BufferWriter } from '../../../wire/buffer-writer.js';
import { malformed, MqttProtocolError } from './mqtt-error.js';
import { readBinary, readUtf8, sizeOfBinary, sizeOfUtf8, writeBinary, writeUtf8 } from './data-types.js';
import { decodeProperties, PropertyContext, sizeOfProperties, sizeOfPropertiesContent, writeProperties } from './properties.js';
import { ReasonCode } from './reason-codes.js';
import type { ConnectPacket, QoS, Will } from './types.js';

export function decodeConnect(r: BufferReader): ConnectPacket {
  const nameAt = r.offset;
  const protocolName = readUtf8(r, 'connect.protocolName');
  const level = r.readUInt8('connect.protocolLevel');
  // [MQTT-3.1.2-1] / [MQTT-3.1.2-2]: an unknown name or level is answered with "unacceptable protocol
  // version" (3.1.1 return code 1, 5.0 reason 0x84) and the connection is closed.
  const known = (protocolName === 'MQTT' && (level === 4 || level === 5)) || (protocolName === 'MQIsdp' && level === 3);
  if (!known) {
    throw new MqttProtocolError(ReasonCode.UnsupportedProtocolVersion, 'connect.protocolLevel', nameAt,
      `unsupported protocol ${JSON.stringify(protocolName)} level ${level}`);
  }
  const protocolLevel = level as 3 | 4 | 5;
  const flagsAt = r.offset;
  const flags = r.readUInt8('connect.flags');
  // [MQTT-3.1.2-3] the reserved flag MUST be 0, else Malformed Packet.
  if (flags & 0x01) throw malformed('connect.flags', flagsAt, 'reserved flag set');
  const hasUsername = (flags & 0x80) !== 0;
  const hasPassword = (flags & 0x40) !== 0;
  const willRetain = (flags & 0x20) !== 0;
  const willQos = (flags >> 3) & 3;
  const hasWill = (flags & 0x04) !== 0;
  const cleanStart = (flags & 0x02) !== 0;
  // [MQTT-3.1.2-14] Will QoS 3 is malformed.
  if (willQos === 3) throw malformed('connect.flags', flagsAt, 'Will QoS 3');
  // [MQTT-3.1.2-11] / [MQTT-3.1.2-13]: without the Will Flag, Will QoS and Will Retain MUST be 0.
  if (!hasWill && (willQos !== 0 || willRetain)) throw malformed('connect.flags', flagsAt, 'Will QoS/Retain without Will Flag');
  // [MQTT-3.1.2-22] (3.1.1 only): a password without a user name is malformed; 5.0 allows it.
  if (protocolLevel !== 5 && hasPassword && !hasUsername) throw malformed('connect.flags', flagsAt, 'password without user name');
  const keepAliveSec = r.readUInt16('connect.keepAlive');
  const properties = protocolLevel === 5 ? decodeProperties(r, PropertyContext.CONNECT) : undefined;
  // [MQTT-3.1.3-4] the Client Identifier MUST be a UTF-8 Encoded String (validated by readUtf8).
  const clientId = readUtf8(r, 'connect.clientId');
  let will: Will | undefined;
  if (hasWill) {
    const willProperties = protocolLevel === 5 ? decodeProperties(r, PropertyContext.WILL) : undefined;
    const topic = readUtf8(r, 'connect.willTopic');
    const payload = readBinary(r, 'connect.willPayload');
    will = { topic, payload, qos: willQos as QoS, retain: willRetain };
    if (willProperties !== undefined) will.properties = willProperties;
  }
  const p: ConnectPacket = { type: 'connect', protocolName, protocolLevel, cleanStart, keepAliveSec, clientId };
  if (properties !== undefined) p.properties = properties;
  if (will !== undefined) p.will = will;
  if (hasUsername) p.username = readUtf8(r, 'connect.username');
  if (hasPassword) p.password = readBinary(r, 'connect.password');
  return p;
}

export function sizeOfConnectBody(p: ConnectPacket): number {
  const v5 = p.protocolLevel === 5;
  let n = sizeOfUtf8(p.protocolName) + 1 + 1 + 2;
  if (v5) n += sizeOfProperties(p.properties, PropertyContext.CONNECT);
  n += sizeOfUtf8(p.clientId);
  if (p.will !== undefined) {
    if (v5) n += sizeOfProperties(p.will.properties, PropertyContext.WILL);
    n += sizeOfUtf8(p.will.topic) + sizeOfBinary(p.will.payload);
  }
  if (p.username !== undefined) n += sizeOfUtf8(p.username);
  if (p.password !== undefined) n += sizeOfBinary(p.password);
  return n;
}

export function writeConnectBody(w: BufferWriter, p: ConnectPacket): void {
  const v5 = p.protocolLevel === 5;
  writeUtf8(w, p.protocolName);
  w.writeUInt8(p.protocolLevel);
  let flags = p.cleanStart ? 0x02 : 0;
  if (p.will !== undefined) flags |= 0x04 | (p.will.qos << 3) | (p.will.retain ? 0x20 : 0);
  if (p.password !== undefined) flags |= 0x40;
  if (p.username !== undefined) flags |= 0x80;
  w.writeUInt8(flags);
  w.writeUInt16(p.keepAliveSec);
  if (v5) writeProperties(w, p.properties, PropertyContext.CONNECT, sizeOfPropertiesContent(p.properties, PropertyContext.CONNECT));
  writeUtf8(w, p.clientId);
  if (p.will !== undefined) {
    if (v5) writeProperties(w, p.will.properties, PropertyContext.WILL, sizeOfPropertiesContent(p.will.properties, PropertyContext.WILL));
    writeUtf8(w, p.will.topic);
    writeBinary(w, p.will.payload);
  }
  if (p.username !== undefined) writeUtf8(w, p.username);
  if (p.password !== undefined) writeBinary(w, p.password);
}
