/**
 * BufferWriter: writes forward into a Buffer allocated once at the size the caller computed beforehand
 * (two-pass encoding: size, then write). Writing past the end is a bug in the size computation, so it
 * throws rather than growing. Integers are big-endian; varints follow ./varint.ts.
 */
import { zigzagEncode64 } from './varint.js';

export class BufferWriter {
  readonly buf: Buffer;
  offset: number;

  constructor(buf: Buffer, offset = 0) {
    this.buf = buf;
    this.offset = offset;
  }

  static alloc(size: number): BufferWriter {
    return new BufferWriter(Buffer.allocUnsafe(size));
  }

  private ensure(n: number): void {
    if (this.offset + n > this.buf.length) {
      throw new RangeError(`BufferWriter overflow: writing ${n} bytes at ${this.offset} of ${this.buf.length}`);
    }
  }

  writeInt8(v: number): this {
    this.ensure(1);
    this.buf.writeInt8(v, this.offset);
    this.offset += 1;
    return this;
  }

  writeUInt8(v: number): this {
    this.ensure(1);
    this.buf[this.offset++] = v;
    return this;
  }

  writeInt16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.offset);
    this.offset += 2;
    return this;
  }

  writeUInt16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.offset);
    this.offset += 2;
    return this;
  }

  writeInt32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.offset);
    this.offset += 4;
    return this;
  }

  writeUInt32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.offset);
    this.offset += 4;
    return this;
  }

  /** int64 from a safe integer. */
  writeInt64(v: number): this {
    this.ensure(8);
    const hi = Math.floor(v / 0x100000000);
    const lo = v - hi * 0x100000000;
    this.buf.writeInt32BE(hi, this.offset);
    this.buf.writeUInt32BE(lo, this.offset + 4);
    this.offset += 8;
    return this;
  }

  writeBigInt64(v: bigint): this {
    this.ensure(8);
    this.buf.writeBigInt64BE(v, this.offset);
    this.offset += 8;
    return this;
  }

  writeFloat64(v: number): this {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.offset);
    this.offset += 8;
    return this;
  }

  writeBytes(src: Buffer): this {
    this.ensure(src.length);
    src.copy(this.buf, this.offset);
    this.offset += src.length;
    return this;
  }

  writeUnsignedVarint(v: number): this {
    let u = v >>> 0;
    while (u >= 0x80) {
      this.ensure(1);
      this.buf[this.offset++] = (u & 0x7f) | 0x80;
      u >>>= 7;
    }
    this.ensure(1);
    this.buf[this.offset++] = u;
    return this;
  }

  writeVarint(v: number): this {
    return this.writeUnsignedVarint(((v << 1) ^ (v >> 31)) >>> 0);
  }

  writeVarlong(v: number): this {
    let u = zigzagEncode64(v);
    while (u >= 128) {
      this.ensure(1);
      this.buf[this.offset++] = (u % 128) | 0x80;
      u = Math.floor(u / 128);
    }
    this.ensure(1);
    this.buf[this.offset++] = u;
    return this;
  }
}
