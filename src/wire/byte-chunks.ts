/**
 * ByteChunks: a run of bytes kept as the views it arrived in (socket reads) instead of joined into one buffer.
 *
 * Why: a Kafka Produce frame of a megabyte arrives in about sixteen 64 KiB socket reads. Joining it costs a fresh
 * megabyte (allocation, page faults, and V8 collections forced by the external memory) plus a copy; measured,
 * that was about a third of the broker's CPU per produced byte. Kept as pieces, a record batch goes from the
 * socket to the segment file with one `writev` and is never copied in user space.
 *
 * Invariants: every piece is non-empty; `length` is the sum of the pieces' lengths. The pieces are views of
 * buffers nobody else writes (Node never reuses a socket read's buffer), so the holder may patch bytes in place
 * (the log sets the batch's base offset), as it would in a joined frame.
 */
import { crc32c } from './crc32c.js';

export class ByteChunks {
  readonly pieces: readonly Buffer[];
  readonly length: number;

  constructor(pieces: readonly Buffer[], length?: number) {
    const kept = pieces.filter((p) => p.length > 0);
    let total = 0;
    for (const p of kept) total += p.length;
    if (length !== undefined && length !== total) throw new RangeError(`ByteChunks: pieces hold ${total} bytes, not ${length}`);
    this.pieces = kept;
    this.length = total;
  }

  /** One buffer with every byte (a copy; for consumers that need contiguous bytes off the hot path). */
  join(): Buffer {
    return this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces as Buffer[], this.length);
  }

  /** The piece holding byte `pos` and where that piece starts; throws RangeError outside [0, length). */
  private locate(pos: number): { index: number; start: number } {
    if (!(pos >= 0 && pos < this.length)) throw new RangeError(`ByteChunks: position ${pos} outside [0, ${this.length})`);
    let start = 0;
    for (let i = 0; i < this.pieces.length; i++) {
      const len = this.pieces[i].length;
      if (pos < start + len) return { index: i, start };
      start += len;
    }
    throw new RangeError('unreachable');
  }

  /** `n` bytes from `pos` as one buffer: a view when they lie in one piece, else a copy. */
  private window(pos: number, n: number): { buf: Buffer; at: number } {
    if (pos + n > this.length) throw new RangeError(`ByteChunks: ${n} bytes at ${pos} run past ${this.length}`);
    const { index, start } = this.locate(pos);
    const piece = this.pieces[index];
    if (pos - start + n <= piece.length) return { buf: piece, at: pos - start };
    return { buf: this.copyOut(pos, pos + n), at: 0 };
  }

  /** Calls `fn` for each piece's share of bytes [start, end), in order: the piece and the range within it. */
  private eachIn(start: number, end: number, fn: (piece: Buffer, from: number, to: number) => void): void {
    let pieceStart = 0;
    for (const p of this.pieces) {
      const pieceEnd = pieceStart + p.length;
      if (pieceEnd > start && pieceStart < end) fn(p, Math.max(start, pieceStart) - pieceStart, Math.min(end, pieceEnd) - pieceStart);
      if (pieceEnd >= end) break;
      pieceStart = pieceEnd;
    }
  }

  private copyOut(from: number, to: number): Buffer {
    const out = Buffer.allocUnsafe(to - from);
    let written = 0;
    this.eachIn(from, to, (p, a, b) => {
      written += p.copy(out, written, a, b);
    });
    return out;
  }

  readUInt8(pos: number): number {
    const w = this.window(pos, 1);
    return w.buf[w.at];
  }

  readInt8(pos: number): number {
    const w = this.window(pos, 1);
    return w.buf.readInt8(w.at);
  }

  readInt16BE(pos: number): number {
    const w = this.window(pos, 2);
    return w.buf.readInt16BE(w.at);
  }

  readInt32BE(pos: number): number {
    const w = this.window(pos, 4);
    return w.buf.readInt32BE(w.at);
  }

  readUInt32BE(pos: number): number {
    const w = this.window(pos, 4);
    return w.buf.readUInt32BE(w.at);
  }

  /** Bytes [start, end) as views: a Buffer when they lie in one piece, else ByteChunks (no copy either way). */
  subarray(start: number, end: number): Buffer | ByteChunks {
    if (!(start >= 0 && start <= end && end <= this.length)) throw new RangeError(`ByteChunks: subarray(${start}, ${end}) of ${this.length} bytes`);
    const parts: Buffer[] = [];
    this.eachIn(start, end, (p, a, b) => parts.push(p.subarray(a, b)));
    if (parts.length === 0) return Buffer.alloc(0);
    return parts.length === 1 ? parts[0] : new ByteChunks(parts, end - start);
  }

  /**
   * The same bytes with at least the first min(n, length) of them in the first piece, so fixed-position header
   * fields can be read and patched in one Buffer. Copies only those n bytes, and only when they straddle.
   */
  withHead(n: number): ByteChunks {
    const want = Math.min(n, this.length);
    if (this.pieces[0].length >= want) return this;
    const head = this.copyOut(0, want);
    const rest = this.subarray(want, this.length);
    return new ByteChunks([head, ...(rest instanceof ByteChunks ? rest.pieces : [rest])], this.length);
  }

  /** CRC-32C of bytes [start, end), piece by piece (crc32c continues from an initial value). */
  crc32c(start: number, end: number): number {
    let crc = 0;
    this.eachIn(start, end, (p, a, b) => {
      crc = crc32c(p.subarray(a, b), crc);
    });
    return crc;
  }
}
