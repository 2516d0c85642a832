/**
 * BufferReader: a cursor over one Buffer. Every read checks bounds first and throws WireError naming the
 * field, so no codec can read past its frame. Byte fields come back as `subarray` views (no copy): the
 * caller copies only what it keeps beyond the life of the frame.
 *
 * Integers are big-endian (network order), as in Kafka, AMQP and MQTT. Varints follow ./varint.ts.
 */
import { WireError } from './wire-error.js';
import { zigzagDecode64 } from './varint.js';
import type { ByteChunks } from './byte-chunks.js';

export class BufferReader {
  /** The bytes being read. Fixed for a BufferReader; ChunksReader moves it along a frame's pieces. */
  buf: Buffer;
  offset: number;
  /** Exclusive end of the readable region (a reader may cover a slice of a larger buffer). */
  end: number;

  constructor(buf: Buffer, offset = 0, end = buf.length) {
    this.buf = buf;
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  /** Throws unless `n` more bytes are available for `field`. */
  need(field: string, n: number): void {
    if (n < 0 || this.offset + n > this.end) {
      throw new WireError(field, this.offset, n, this.end - this.offset);
    }
  }

  readInt8(field: string): number {
    this.need(field, 1);
    return this.buf.readInt8(this.offset++);
  }

  readUInt8(field: string): number {
    this.need(field, 1);
    return this.buf[this.offset++];
  }

  readInt16(field: string): number {
    this.need(field, 2);
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  readUInt16(field: string): number {
    this.need(field, 2);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  readInt32(field: string): number {
    this.need(field, 4);
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  readUInt32(field: string): number {
    this.need(field, 4);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  /** int64 as a JS number; throws if the value is outside the safe-integer range. */
  readInt64(field: string): number {
    this.need(field, 8);
    const hi = this.buf.readInt32BE(this.offset);
    const lo = this.buf.readUInt32BE(this.offset + 4);
    if (hi > 0x1fffff || hi < -0x200000) {
      throw WireError.invalid(field, this.offset, 'int64 outside the safe-integer range');
    }
    this.offset += 8;
    return hi * 0x100000000 + lo;
  }

  readBigInt64(field: string): bigint {
    this.need(field, 8);
    const v = this.buf.readBigInt64BE(this.offset);
    this.offset += 8;
    return v;
  }

  readFloat64(field: string): number {
    this.need(field, 8);
    const v = this.buf.readDoubleBE(this.offset);
    this.offset += 8;
    return v;
  }

  /** A view of the next `n` bytes (no copy). */
  readBytes(field: string, n: number): Buffer {
    this.need(field, n);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  /** A Kafka `records` field: here always a view; a ChunksReader may return the pieces it spans instead. */
  readRecords(field: string, n: number): Buffer | ByteChunks {
    return this.readBytes(field, n);
  }

  skip(field: string, n: number): void {
    this.need(field, n);
    this.offset += n;
  }

  /** Unsigned base-128 varint (no zigzag), at most 5 bytes, 32-bit result. */
  readUnsignedVarint(field: string): number {
    const start = this.offset;
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      if (this.offset >= this.end) throw new WireError(field, start, i + 1, i);
      const b = this.buf[this.offset++];
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
    throw WireError.invalid(field, start, 'varint longer than 5 bytes');
  }

  /** Zigzag signed varint (protobuf sint32). */
  readVarint(field: string): number {
    const u = this.readUnsignedVarint(field);
    return (u >>> 1) ^ -(u & 1);
  }

  /** Zigzag signed varlong (protobuf sint64), as a safe integer. */
  readVarlong(field: string): number {
    const start = this.offset;
    let u = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.end) throw new WireError(field, start, i + 1, i);
      const b = this.buf[this.offset++];
      u += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(u)) throw WireError.invalid(field, start, 'varlong outside the safe-integer range');
        return zigzagDecode64(u);
      }
      mul *= 128;
    }
    throw WireError.invalid(field, start, 'varlong longer than 10 bytes');
  }
}
