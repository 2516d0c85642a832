/**
 * PacketSplitter: cuts a byte stream (TCP reads, WebSocket frames — a chunk may hold several or part of a
 * packet) into MQTT packets: first byte ‖ Remaining Length (Variable Byte Integer) ‖ body.
 *
 * - Bounded memory: the packet's total size is known as soon as its Remaining Length is complete, and is
 *   checked against `maxPacketSize` BEFORE any buffer is allocated for it (5.0 §3.1.2.11.4 / §3.2.2.3.6: the
 *   receiver's limit; exceeding it is answered with DISCONNECT 0x95 Packet too large). Header bytes split across
 *   reads are kept in four numbers, not a buffer.
 * - No copy when a packet lies wholly inside one chunk: the body handed to the sink is a view of the chunk, so
 *   the sink must not keep it past the call unless it copies (or the chunk is not reused — Node's socket chunks
 *   are not). A packet that straddles chunks is assembled once into a buffer of its exact size.
 * - Not re-entrant; one splitter per connection. After an error it refuses further input.
 */
import { malformed, MqttProtocolError } from './mqtt-error.js';
import { MAX_VBI } from './data-types.js';
import { ReasonCode } from './reason-codes.js';

export interface PacketSink {
  onPacket(firstByte: number, body: Buffer): void;
}

/** 5.0 "Maximum Packet Size": absent means the protocol maximum, 1 + 4 + 268,435,455 bytes. */
export const MQTT_MAX_PACKET_SIZE = 1 + 4 + MAX_VBI;

export class PacketSplitter {
  /** Largest whole packet (fixed header included) accepted; lower it after CONNECT to the negotiated value. */
  maxPacketSize: number;
  private readonly sink: PacketSink;
  // Header state, valid across chunks.
  private firstByte = -1;
  private rlValue = 0;
  private rlMul = 1;
  private rlBytes = 0;
  // Partial body state.
  private body: Buffer | null = null;
  private bodyHave = 0;
  private failed = false;
  /** Stream offset of the next byte, for error messages. */
  private streamOffset = 0;

  constructor(sink: PacketSink, options: { maxPacketSize?: number } = {}) {
    this.sink = sink;
    this.maxPacketSize = options.maxPacketSize ?? MQTT_MAX_PACKET_SIZE;
  }

  /** Bytes held for an incomplete packet (header state excluded). */
  get buffered(): number {
    return this.bodyHave;
  }

  push(chunk: Buffer): void {
    if (this.failed) throw new Error('PacketSplitter used after an error');
    try {
      this.consume(chunk);
    } catch (e) {
      this.failed = true;
      throw e;
    }
  }

  private consume(chunk: Buffer): void {
    const len = chunk.length;
    let i = 0;
    while (i < len) {
      if (this.body !== null) {
        // Continue a straddling packet: copy what this chunk has of it.
        const want = this.body.length - this.bodyHave;
        const n = want < len - i ? want : len - i;
        chunk.copy(this.body, this.bodyHave, i, i + n);
        this.bodyHave += n;
        i += n;
        if (this.bodyHave === this.body.length) {
          const body = this.body;
          const first = this.firstByte;
          this.reset();
          this.sink.onPacket(first, body);
        }
        continue;
      }
      if (this.firstByte < 0) {
        this.firstByte = chunk[i++];
        continue;
      }
      // Remaining Length, one byte at a time (at most 4, minimal encoding [MQTT-1.5.5-1]).
      const b = chunk[i++];
      this.rlValue += (b & 0x7f) * this.rlMul;
      this.rlBytes++;
      if (b & 0x80) {
        if (this.rlBytes === 4) throw malformed('remainingLength', this.streamOffset + i - 4, 'remaining length longer than 4 bytes');
        this.rlMul *= 128;
        continue;
      }
      if (b === 0 && this.rlBytes > 1) throw malformed('remainingLength', this.streamOffset + i - this.rlBytes, 'remaining length not minimally encoded');
      const rl = this.rlValue;
      const total = 1 + this.rlBytes + rl;
      if (total > this.maxPacketSize) {
        // Checked before allocating: a hostile length costs nothing.
        throw new MqttProtocolError(ReasonCode.PacketTooLarge, 'remainingLength', this.streamOffset + i - this.rlBytes - 1,
          `packet of ${total} bytes exceeds the maximum packet size ${this.maxPacketSize}`);
      }
      if (len - i >= rl) {
        // Whole body in this chunk: hand out a view.
        const first = this.firstByte;
        const body = chunk.subarray(i, i + rl);
        i += rl;
        this.reset();
        this.sink.onPacket(first, body);
      } else {
        this.body = Buffer.allocUnsafe(rl);
        this.bodyHave = 0;
      }
    }
    this.streamOffset += len;
  }

  private reset(): void {
    this.firstByte = -1;
    this.rlValue = 0;
    this.rlMul = 1;
    this.rlBytes = 0;
    this.body = null;
    this.bodyHave = 0;
  }
}
