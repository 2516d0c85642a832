/**
 * Fan-out encoding of PUBLISH: one message delivered to N subscribers (Router.fanOut calls their handlers one
 * after another) encodes to the same bytes for every subscriber with the same protocol version, QoS, RETAIN and
 * DUP when it carries no properties — except the packet id at QoS 1/2. The last encoding is kept (one entry,
 * compared by payload identity) and reused: as is at QoS 0 (socket writes never modify a Buffer), copied with
 * the packet id patched at QoS 1/2. Any other packet is encoded as usual. The profile of 1 publisher to 10
 * subscribers showed per-subscriber encoding and its garbage as the largest MQTT costs (docs/mqtt.md "Benchmark").
 *
 *   PUBLISH = fixed header (1 byte + Remaining Length varint) ‖ topic (uint16 length + bytes) ‖ [packet id]
 *             ‖ [v5 properties] ‖ payload   (3.1.1 §3.3, 5.0 §3.3)
 */
import { encodePacket, type MqttVersion, type PublishPacket } from './codec/index.js';

let lastPayload: Buffer | null = null;
let lastTopic = '';
let lastShape = -1;
let lastBuf: Buffer = Buffer.alloc(0);
let lastIdOffset = 0;

/** The bytes of `p` for a `version` client (reused from the previous call when only the packet id differs). */
export function encodePublish(p: PublishPacket, version: MqttVersion): Buffer {
  if (p.properties !== undefined) return encodePacket(p, version);
  const shape = version | (p.qos << 3) | (p.retain ? 32 : 0) | (p.dup ? 64 : 0);
  if (p.payload === lastPayload && p.topic === lastTopic && shape === lastShape) {
    if (p.qos === 0) return lastBuf;
    const b = Buffer.allocUnsafe(lastBuf.length);
    lastBuf.copy(b);
    b.writeUInt16BE(p.packetId!, lastIdOffset);
    return b;
  }
  const buf = encodePacket(p, version);
  let at = 1;
  while (buf[at++] & 0x80); // Remaining Length: 1-4 bytes, the last without the continuation bit
  lastIdOffset = at + 2 + buf.readUInt16BE(at);
  lastPayload = p.payload;
  lastTopic = p.topic;
  lastShape = shape;
  lastBuf = buf;
  return buf;
}
