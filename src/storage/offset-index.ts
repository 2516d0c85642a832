/**
 * OffsetIndex: the sparse map from offsets to byte positions in one segment's `.log` file.
 *
 * On-disk format (`<baseOffset, 20 digits>.index`): a flat array of 8-byte entries, big-endian,
 *   relativeOffset int32 (batch baseOffset - segment baseOffset) | position int32 (byte position of that batch)
 * An entry is added for a batch when more than `indexIntervalBytes` of log were appended since the previous
 * entry, so the index holds about one entry per interval and a lookup is followed by a short header scan.
 *
 * Invariants: relative offsets and positions strictly increase; every position is the start of a batch whose
 * baseOffset is exactly baseOffset + relativeOffset. Positions are int32, which is why segmentBytes is capped
 * at 2 GiB - 1.
 *
 * Crash behaviour: the index is derived data. It is written whole (temp file + rename) when a segment rolls,
 * on close and after truncation, and never fsynced on the append path; after a crash it may be missing,
 * short, or stale. `decodeOffsetIndex` keeps only the sane prefix and reports whether anything was dropped,
 * and recovery rebuilds what cannot be trusted from the `.log` itself.
 *
 * Concurrency: plain in-memory state, mutated only by the log's serialised writer; readers only look up.
 */
export const OFFSET_INDEX_ENTRY_SIZE = 8;

export class OffsetIndex {
  readonly baseOffset: number;
  // Two parallel typed arrays instead of an array of objects: no allocation per entry, compact in memory.
  private rel: Int32Array;
  private pos: Int32Array;
  private count = 0;

  constructor(baseOffset: number, capacity = 16) {
    this.baseOffset = baseOffset;
    this.rel = new Int32Array(capacity);
    this.pos = new Int32Array(capacity);
  }

  get entries(): number {
    return this.count;
  }

  /** Absolute offset of entry `i`. */
  offsetAt(i: number): number {
    return this.baseOffset + this.rel[i];
  }

  positionAt(i: number): number {
    return this.pos[i];
  }

  /** Position of the last entry, or -1 when empty. */
  get lastPosition(): number {
    return this.count === 0 ? -1 : this.pos[this.count - 1];
  }

  /** Adds an entry; ignores one that would break monotonicity (a caller bug must not corrupt the index). */
  append(offset: number, position: number): void {
    const rel = offset - this.baseOffset;
    if (this.count > 0 && (rel <= this.rel[this.count - 1] || position <= this.pos[this.count - 1])) return;
    if (this.count === this.rel.length) {
      const rel2 = new Int32Array(this.rel.length * 2);
      const pos2 = new Int32Array(this.pos.length * 2);
      rel2.set(this.rel);
      pos2.set(this.pos);
      this.rel = rel2;
      this.pos = pos2;
    }
    this.rel[this.count] = rel;
    this.pos[this.count] = position;
    this.count++;
  }

  /** Index of the last entry whose offset is <= `offset`, or -1. */
  floorEntry(offset: number): number {
    const rel = offset - this.baseOffset;
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.rel[mid] <= rel) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** Position from which a forward scan finds the batch holding `offset` (0 when no entry is below it). */
  lookup(offset: number): number {
    const i = this.floorEntry(offset);
    return i < 0 ? 0 : this.pos[i];
  }

  /** Keeps the first `n` entries. */
  truncateEntries(n: number): void {
    if (n < this.count) this.count = Math.max(0, n);
  }

  /** Drops entries whose offset is >= `offset`. */
  truncateToOffset(offset: number): void {
    this.truncateEntries(this.floorEntry(offset - 1) + 1);
  }

  /** Drops entries whose position is >= `position`. */
  truncateToPosition(position: number): void {
    let n = this.count;
    while (n > 0 && this.pos[n - 1] >= position) n--;
    this.count = n;
  }

  encode(): Buffer {
    const buf = Buffer.allocUnsafe(this.count * OFFSET_INDEX_ENTRY_SIZE);
    for (let i = 0; i < this.count; i++) {
      buf.writeInt32BE(this.rel[i], i * OFFSET_INDEX_ENTRY_SIZE);
      buf.writeInt32BE(this.pos[i], i * OFFSET_INDEX_ENTRY_SIZE + 4);
    }
    return buf;
  }
}

/**
 * Parses an `.index` file, keeping the longest sane prefix: entries must strictly increase in both fields,
 * have non-negative values, and point inside the first `logSizeBytes` bytes (leaving room for a header).
 * `intact` is false when anything had to be dropped (including a trailing partial entry).
 */
export function decodeOffsetIndex(buf: Buffer, baseOffset: number, logSizeBytes: number): { index: OffsetIndex; intact: boolean } {
  const n = Math.floor(buf.length / OFFSET_INDEX_ENTRY_SIZE);
  const index = new OffsetIndex(baseOffset, Math.max(16, n));
  let intact = buf.length % OFFSET_INDEX_ENTRY_SIZE === 0;
  let prevRel = -1;
  let prevPos = -1;
  for (let i = 0; i < n; i++) {
    const rel = buf.readInt32BE(i * OFFSET_INDEX_ENTRY_SIZE);
    const pos = buf.readInt32BE(i * OFFSET_INDEX_ENTRY_SIZE + 4);
    if (rel <= prevRel || pos <= prevPos || rel < 0 || pos < 0 || pos >= logSizeBytes) {
      intact = false;
      break;
    }
    index.append(baseOffset + rel, pos);
    prevRel = rel;
    prevPos = pos;
  }
  return { index, intact };
}
