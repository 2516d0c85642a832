/**
 * ChunksReader: a BufferReader over a frame held as ByteChunks (its socket reads), so a codec decodes it
 * without the frame ever being joined.
 *
 * How: the reader keeps a contiguous window (`buf`, `offset`, `end` of the base class) and the pieces after it.
 * A read that fits the window is the base class's plain read. One that runs past it (a field straddling two
 * socket reads) first makes a window of exactly the bytes it needs: the next piece itself when the window is
 * used up and that piece is long enough (no copy), else a copy of just those bytes. `readRecords` returns the
 * views a large field spans as ByteChunks, so the bulk of a Produce frame is never copied.
 *
 * Invariants: the frame position of buf[end] is `windowEnd`, and the bytes after it are pieces[next] from
 * `nextStart` onwards, then the following pieces. `remaining` counts to the end of the frame, so the codec's
 * guards (array counts against the bytes left) see the whole frame, not the window. Errors report frame
 * positions.
 */
import { BufferReader } from './buffer-reader.js';
import { ByteChunks } from './byte-chunks.js';
import { WireError } from './wire-error.js';

const EMPTY = Buffer.alloc(0);

export class ChunksReader extends BufferReader {
  private readonly pieces: readonly Buffer[];
  private readonly frameLength: number;
  private windowEnd = 0;
  private next = 0;
  private nextStart = 0;

  /** Reads `chunks` from frame position `position`. */
  constructor(chunks: ByteChunks, position = 0) {
    super(EMPTY, 0, 0);
    this.pieces = chunks.pieces;
    this.frameLength = chunks.length;
    if (!(position >= 0 && position <= chunks.length)) throw new RangeError(`ChunksReader: position ${position} outside the frame of ${chunks.length}`);
    // Skip whole pieces before `position`; the rest of its piece starts the source.
    let start = 0;
    while (this.next < this.pieces.length && start + this.pieces[this.next].length <= position) start += this.pieces[this.next++].length;
    this.nextStart = position - start;
    this.windowEnd = position;
  }

  /** The frame position of the next byte read. */
  get position(): number {
    return this.windowEnd - (this.end - this.offset);
  }

  override get remaining(): number {
    return this.frameLength - this.position;
  }

  override need(field: string, n: number): void {
    if (n >= 0 && this.offset + n <= this.end) return;
    const remaining = this.remaining;
    if (n < 0 || n > remaining) throw new WireError(field, this.position, n, remaining);
    this.gather(n);
  }

  /** Makes the window hold at least `n` bytes from the current position (n <= remaining). */
  private gather(n: number): void {
    const have = this.end - this.offset;
    if (have === 0) {
      const piece = this.pieces[this.next];
      if (piece.length - this.nextStart >= n) {
        // The window is used up and the next piece holds the whole field: read it in place.
        this.buf = this.nextStart === 0 ? piece : piece.subarray(this.nextStart);
        this.offset = 0;
        this.end = this.buf.length;
        this.windowEnd += this.end;
        this.next++;
        this.nextStart = 0;
        return;
      }
    }
    // The field straddles pieces: copy exactly its bytes into a window of their own.
    const out = Buffer.allocUnsafe(n);
    let filled = this.buf.copy(out, 0, this.offset, this.end);
    while (filled < n) {
      const piece = this.pieces[this.next];
      const take = Math.min(piece.length - this.nextStart, n - filled);
      filled += piece.copy(out, filled, this.nextStart, this.nextStart + take);
      this.advanceSource(take);
    }
    this.buf = out;
    this.offset = 0;
    this.end = n;
  }

  /** Moves the source past `take` bytes of pieces[next] (the window end moves with it). */
  private advanceSource(take: number): void {
    this.windowEnd += take;
    this.nextStart += take;
    if (this.nextStart === this.pieces[this.next].length) {
      this.next++;
      this.nextStart = 0;
    }
  }

  override readUnsignedVarint(field: string): number {
    // A varint is at most 5 bytes; make them contiguous when it may straddle (the base class reads byte by byte).
    if (this.end - this.offset < 5) this.need(field, Math.min(5, this.remaining));
    return super.readUnsignedVarint(field);
  }

  override readVarlong(field: string): number {
    if (this.end - this.offset < 10) this.need(field, Math.min(10, this.remaining));
    return super.readVarlong(field);
  }

  /** The next `n` bytes: a view when they lie in the window, else the views of every piece they span. */
  override readRecords(field: string, n: number): Buffer | ByteChunks {
    if (n >= 0 && this.offset + n <= this.end) return this.readBytes(field, n);
    const remaining = this.remaining;
    if (n < 0 || n > remaining) throw new WireError(field, this.position, n, remaining);
    const parts: Buffer[] = [];
    let have = this.end - this.offset;
    if (have > 0) parts.push(this.buf.subarray(this.offset, this.end));
    while (have < n) {
      const piece = this.pieces[this.next];
      const take = Math.min(piece.length - this.nextStart, n - have);
      parts.push(piece.subarray(this.nextStart, this.nextStart + take));
      have += take;
      this.advanceSource(take);
    }
    // The window is empty now; the next read starts at the source.
    this.buf = EMPTY;
    this.offset = 0;
    this.end = 0;
    return parts.length === 1 ? parts[0] : new ByteChunks(parts, n);
  }
}
