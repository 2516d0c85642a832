/**
 * Kafka framing (shared specs kafka/PROTOCOL-BASICS.md "Framing"): every request and response is an int32
 * size followed by `size` bytes. FrameSplitter cuts a byte stream (socket reads: a chunk may hold several
 * frames or part of one) into whole frames.
 *
 * - Bounded memory: a frame's size is checked against `maxFrameBytes` (the broker's socket.request.max.bytes,
 *   100 MiB by default) as soon as its 4-byte prefix is complete, and a negative or oversized size throws a
 *   WireError BEFORE any buffer is allocated for it. A prefix split across reads is kept in two numbers.
 * - No copy when a frame lies wholly inside one chunk: the frame is a view of that chunk (Node's socket
 *   chunks are not reused). A frame that straddles chunks is kept as views of its parts — so memory follows
 *   the bytes actually received, not the size a peer announces. Once complete, a small one (under
 *   CHUNKED_FRAME_MIN_BYTES) is joined into one buffer; a large one is returned as those views (ByteChunks),
 *   which ChunksReader decodes in place: a megabyte Produce goes to the log without a copy or a fresh
 *   megabyte allocation (measured: that join and the collections it forced were a third of the broker's CPU
 *   per produced byte).
 * - Frames are returned without the size prefix.
 * - Pull API with no per-frame allocation beyond the frame itself: push(chunk), then next() until null.
 * - One splitter per connection, not re-entrant. After an error it refuses further input: the session closes
 *   the connection (DESIGN "Bad input").
 */
import { ByteChunks, WireError } from '../../../wire/index.js';

export const SIZE_PREFIX_BYTES = 4;
/** A straddling frame at least this large is returned as its pieces (ByteChunks) rather than joined. */
export const CHUNKED_FRAME_MIN_BYTES = 64 * 1024;
/** socket.request.max.bytes default (Apache Kafka: 104857600). */
export const DEFAULT_MAX_FRAME_BYTES = 100 * 1024 * 1024;

export class FrameSplitter {
  /** Largest frame (without its prefix) accepted. */
  maxFrameBytes: number;
  private chunks: Buffer[] = [];
  private chunkIndex = 0;
  /** Read position in chunks[chunkIndex]. */
  private pos = 0;
  // Size prefix state, valid across chunks.
  private sizeValue = 0;
  private sizeBytes = 0;
  // A frame being assembled across chunks: its size (-1 = none) and views of the parts received so far.
  private frameSize = -1;
  private pieces: Buffer[] = [];
  private frameHave = 0;
  private failed = false;
  /** Stream offset of chunks[chunkIndex][0], for error messages. */
  private streamOffset = 0;

  constructor(options: { maxFrameBytes?: number } = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Bytes received and not yet returned as (part of) a frame. */
  get buffered(): number {
    let n = this.frameHave + this.sizeBytes;
    for (let i = this.chunkIndex; i < this.chunks.length; i++) n += this.chunks[i].length - (i === this.chunkIndex ? this.pos : 0);
    return n;
  }

  push(chunk: Buffer): void {
    if (this.failed) throw new Error('FrameSplitter used after an error');
    if (chunk.length > 0) this.chunks.push(chunk);
  }

  /** The next whole frame (without its size prefix), or null when more bytes are needed. */
  next(): Buffer | ByteChunks | null {
    if (this.failed) throw new Error('FrameSplitter used after an error');
    try {
      return this.take();
    } catch (e) {
      this.failed = true;
      throw e;
    }
  }

  private take(): Buffer | ByteChunks | null {
    while (this.chunkIndex < this.chunks.length) {
      const chunk = this.chunks[this.chunkIndex];
      if (this.pos >= chunk.length) {
        this.dropChunk();
        continue;
      }
      if (this.frameSize >= 0) {
        // Continue a straddling frame: keep a view of what this chunk has of it (no copy yet).
        const n = Math.min(this.frameSize - this.frameHave, chunk.length - this.pos);
        this.pieces.push(chunk.subarray(this.pos, this.pos + n));
        this.frameHave += n;
        this.pos += n;
        if (this.frameHave === this.frameSize) return this.finishFrame();
        continue;
      }
      if (this.sizeBytes === 0 && chunk.length - this.pos >= SIZE_PREFIX_BYTES) {
        // Fast path: the prefix is inside this chunk.
        const size = chunk.readInt32BE(this.pos);
        this.checkSize(size, this.streamOffset + this.pos);
        this.pos += SIZE_PREFIX_BYTES;
        if (chunk.length - this.pos >= size) {
          const start = this.pos;
          this.pos = start + size;
          return chunk.subarray(start, start + size);
        }
        this.frameSize = size;
        continue;
      }
      // Prefix split across chunks: accumulate it byte by byte.
      this.sizeValue = this.sizeValue * 256 + chunk[this.pos++];
      this.sizeBytes++;
      if (this.sizeBytes === SIZE_PREFIX_BYTES) {
        const size = this.sizeValue | 0; // int32 two's complement
        this.sizeValue = 0;
        this.sizeBytes = 0;
        this.checkSize(size, this.streamOffset + this.pos - SIZE_PREFIX_BYTES);
        this.frameSize = size;
        if (size === 0) return this.finishFrame();
      }
    }
    return null;
  }

  /** Memory grows with the bytes received, not with the size the peer claims; a small frame is joined at the end. */
  private finishFrame(): Buffer | ByteChunks {
    const pieces = this.pieces;
    let f: Buffer | ByteChunks;
    if (pieces.length === 1) f = pieces[0];
    else if (this.frameSize >= CHUNKED_FRAME_MIN_BYTES) f = new ByteChunks(pieces, this.frameSize);
    else f = Buffer.concat(pieces, this.frameSize);
    this.pieces = [];
    this.frameSize = -1;
    this.frameHave = 0;
    return f;
  }

  private checkSize(size: number, at: number): void {
    if (size < 0) throw WireError.invalid('frame.size', at, `negative frame size ${size}`);
    if (size > this.maxFrameBytes) {
      throw new WireError('frame.size', at, size, this.maxFrameBytes, `wire: frame of ${size} bytes at offset ${at} is over the limit of ${this.maxFrameBytes} (socket.request.max.bytes)`);
    }
  }

  private dropChunk(): void {
    this.streamOffset += this.chunks[this.chunkIndex].length;
    this.chunkIndex++;
    this.pos = 0;
    if (this.chunkIndex === this.chunks.length) {
      this.chunks.length = 0;
      this.chunkIndex = 0;
    } else if (this.chunkIndex > 64) {
      this.chunks.splice(0, this.chunkIndex);
      this.chunkIndex = 0;
    }
  }
}

/** Writes the int32 size prefix of a frame whose bytes follow at `offset + 4`. */
export function writeFrameSize(buf: Buffer, offset: number, size: number): void {
  buf.writeInt32BE(size, offset);
}
