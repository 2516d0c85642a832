/**
 * Whole packets: dispatch on the fixed header's type to the per-packet modules (one per packet type, each
 * taking the version), and encode with two passes — body size first, one allocation, then write forward.
 *
 * decodePacket takes the first byte and the body the splitter cut out (Remaining Length bytes). Every error it
 * throws is an MqttProtocolError with the reason code to answer: bounds failures from BufferReader (a field
 * longer than the packet) are Malformed Packet 0x81 (5.0 §4.13), and so is any byte left over after the
 * last field the grammar defines.
 */
import { BufferReader } from '../../../wire/buffer-reader.js';
import { WireError } from '../../../wire/wire-error.js';
import { malformed, MqttProtocolError } from './mqtt-error.js';
import { readVbi } from './data-types.js';
import { allocPacket, checkFixedHeader } from './fixed-header.js';
import { decodeConnect, sizeOfConnectBody, writeConnectBody } from './connect.js';
import { decodeConnack, sizeOfConnackBody, writeConnackBody } from './connack.js';
import { decodePublish, publishFlags, sizeOfPublishBody, writePublishBody } from './publish.js';
import { decodePubAck, sizeOfPubAckBody, writePubAckBody } from './publish-ack.js';
import { decodeSubscribe, sizeOfSubscribeBody, writeSubscribeBody } from './subscribe.js';
import { decodeSuback, sizeOfSubackBody, writeSubackBody } from './suback.js';
import { decodeUnsubscribe, sizeOfUnsubscribeBody, writeUnsubscribeBody } from './unsubscribe.js';
import { decodeUnsuback, sizeOfUnsubackBody, writeUnsubackBody } from './unsuback.js';
import { decodeDisconnect, sizeOfDisconnectBody, writeDisconnectBody } from './disconnect.js';
import { decodeAuth, sizeOfAuthBody, writeAuthBody } from './auth.js';
import { PINGREQ, PINGRESP } from './ping.js';
import { PacketType, type MqttPacket, type MqttVersion } from './types.js';

/**
 * Decodes one packet body. `version` is the connection's (4 for 3.1/3.1.1, 5 for 5.0); CONNECT carries its own.
 */
export function decodePacket(firstByte: number, body: Buffer, version: MqttVersion): MqttPacket {
  try {
    checkFixedHeader(firstByte, version);
    const r = new BufferReader(body);
    const p = decodeBody(firstByte, r, version);
    // §4.13 / 1.5: bytes beyond what the packet's grammar defines make it malformed.
    if (r.remaining !== 0) throw malformed('packet', r.offset, `${r.remaining} bytes after the last field of ${p.type.toUpperCase()}`);
    return p;
  } catch (e) {
    if (e instanceof WireError) throw MqttProtocolError.fromWireError(e);
    throw e;
  }
}

function decodeBody(firstByte: number, r: BufferReader, version: MqttVersion): MqttPacket {
  const flags = firstByte & 0x0f;
  switch (firstByte >> 4) {
    case PacketType.CONNECT: return decodeConnect(r);
    case PacketType.CONNACK: return decodeConnack(r, version);
    case PacketType.PUBLISH: return decodePublish(r, flags, version);
    case PacketType.PUBACK: return decodePubAck(r, 'puback', version);
    case PacketType.PUBREC: return decodePubAck(r, 'pubrec', version);
    case PacketType.PUBREL: return decodePubAck(r, 'pubrel', version);
    case PacketType.PUBCOMP: return decodePubAck(r, 'pubcomp', version);
    case PacketType.SUBSCRIBE: return decodeSubscribe(r, version);
    case PacketType.SUBACK: return decodeSuback(r, version);
    case PacketType.UNSUBSCRIBE: return decodeUnsubscribe(r, version);
    case PacketType.UNSUBACK: return decodeUnsuback(r, version);
    case PacketType.PINGREQ: return PINGREQ;
    case PacketType.PINGRESP: return PINGRESP;
    case PacketType.DISCONNECT: return decodeDisconnect(r, version);
    case PacketType.AUTH: return decodeAuth(r);
    default: throw malformed('fixedHeader.type', 0, `reserved control packet type ${firstByte >> 4}`);
  }
}

/**
 * Decodes one complete packet held in `buf` (fixed header included), e.g. a golden fixture. Trailing bytes after
 * the packet are an error; for a stream use PacketSplitter.
 */
export function decodeFrame(buf: Buffer, version: MqttVersion): MqttPacket {
  try {
    const r = new BufferReader(buf);
    const firstByte = r.readUInt8('fixedHeader');
    const len = readVbi(r, 'remainingLength');
    if (len !== r.remaining) throw malformed('remainingLength', 1, `remaining length ${len} but ${r.remaining} bytes follow`);
    return decodePacket(firstByte, r.readBytes('body', len), version);
  } catch (e) {
    if (e instanceof WireError) throw MqttProtocolError.fromWireError(e);
    throw e;
  }
}

const TYPE_BYTE: Record<MqttPacket['type'], number> = {
  connect: 0x10,
  connack: 0x20,
  publish: 0x30,
  puback: 0x40,
  pubrec: 0x50,
  pubrel: 0x62,
  pubcomp: 0x70,
  subscribe: 0x82,
  suback: 0x90,
  unsubscribe: 0xa2,
  unsuback: 0xb0,
  pingreq: 0xc0,
  pingresp: 0xd0,
  disconnect: 0xe0,
  auth: 0xf0,
};

/** Remaining Length of `p` encoded for `version`. */
export function sizeOfPacketBody(p: MqttPacket, version: MqttVersion): number {
  switch (p.type) {
    case 'connect': return sizeOfConnectBody(p);
    case 'connack': return sizeOfConnackBody(p, version);
    case 'publish': return sizeOfPublishBody(p, version);
    case 'puback': case 'pubrec': case 'pubrel': case 'pubcomp': return sizeOfPubAckBody(p, version);
    case 'subscribe': return sizeOfSubscribeBody(p, version);
    case 'suback': return sizeOfSubackBody(p, version);
    case 'unsubscribe': return sizeOfUnsubscribeBody(p, version);
    case 'unsuback': return sizeOfUnsubackBody(p, version);
    case 'pingreq': case 'pingresp': return 0;
    case 'disconnect': return sizeOfDisconnectBody(p, version);
    case 'auth':
      if (version !== 5) throw new RangeError('AUTH exists only in MQTT 5');
      return sizeOfAuthBody(p);
  }
}

/**
 * Encodes `p` for a connection of `version` into one Buffer allocated at its exact size. CONNECT is encoded for
 * its own protocolLevel.
 */
export function encodePacket(p: MqttPacket, version: MqttVersion): Buffer {
  const v: MqttVersion = p.type === 'connect' ? (p.protocolLevel === 5 ? 5 : 4) : version;
  const bodySize = sizeOfPacketBody(p, v);
  const first = p.type === 'publish' ? TYPE_BYTE.publish | publishFlags(p) : TYPE_BYTE[p.type];
  const w = allocPacket(first, bodySize);
  const bodyStart = w.offset;
  switch (p.type) {
    case 'connect': writeConnectBody(w, p); break;
    case 'connack': writeConnackBody(w, p, v); break;
    case 'publish': writePublishBody(w, p, v); break;
    case 'puback': case 'pubrec': case 'pubrel': case 'pubcomp': writePubAckBody(w, p, v); break;
    case 'subscribe': writeSubscribeBody(w, p, v); break;
    case 'suback': writeSubackBody(w, p, v); break;
    case 'unsubscribe': writeUnsubscribeBody(w, p, v); break;
    case 'unsuback': writeUnsubackBody(w, p, v); break;
    case 'pingreq': case 'pingresp': break;
    case 'disconnect': writeDisconnectBody(w, p, v); break;
    case 'auth': writeAuthBody(w, p); break;
  }
  // The size pass and the write pass must agree; a mismatch is a codec bug, not bad input.
  if (w.offset - bodyStart !== bodySize) throw new Error(`mqtt encode: ${p.type} wrote ${w.offset - bodyStart} of ${bodySize} bytes`);
  return w.buf;
}
