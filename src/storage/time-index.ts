/**
 * TimeIndex: the sparse map from timestamps to offsets in one segment.
 *
 * On-disk format (`<baseOffset, 20 digits>.timeindex`): a flat array of 12-byte entries, big-endian,
 *   timestamp int64 (largest record timestamp of the segment up to and including that batch)
 *   | relativeOffset int32 (that batch's baseOffset - segment baseOffset)
 * Entries are added alongside offset-index entries (same byte interval) when the running maximum timestamp
 * has grown, plus one final entry when a segment is sealed (roll or close), so the last entry of a sealed
 * segment carries the segment's largest timestamp (what retention by age needs, without a scan).
 *
 * Invariants: timestamps and relative offsets strictly increase. Because each timestamp is a running maximum,
 * every record in batches before an entry's batch has a timestamp <= that entry's timestamp; a lookup for
 * "first record with timestamp >= T" can start scanning at the batch of the last entry whose timestamp < T.
 *
 * Crash behaviour: derived data, like the offset index: written whole on roll/close/truncate, never fsynced on
 * the append path, validated on load (`decodeTimeIndex`) and rebuilt from the `.log` when not intact.
 *
 * Concurrency: plain in-memory state, mutated only by the log's serialised writer.
 */
export const TIME_INDEX_ENTRY_SIZE = 12;

export class TimeIndex {
  readonly baseOffset: number;
  // Float64 holds any millisecond timestamp exactly (< 2^53) without BigInt.
  private ts: Float64Array;
  private rel: Int32Array;
  private count = 0;

  constructor(baseOffset: number, capacity = 16) {
    this.baseOffset = baseOffset;
    this.ts = new Float64Array(capacity);
    this.rel = new Int32Array(capacity);
  }

  get entries(): number {
    return this.count;
  }

  timestampAt(i: number): number {
    return this.ts[i];
  }

  offsetAt(i: number): number {
    return this.baseOffset + this.rel[i];
  }

  /** Largest timestamp indexed, or -1 when empty. */
  get lastTimestamp(): number {
    return this.count === 0 ? -1 : this.ts[this.count - 1];
  }

  /** Adds an entry if it keeps both columns strictly increasing (otherwise it carries no information). */
  maybeAppend(timestamp: number, offset: number): void {
    const rel = offset - this.baseOffset;
    if (this.count > 0 && (timestamp <= this.ts[this.count - 1] || rel <= this.rel[this.count - 1])) return;
    if (this.count === this.ts.length) {
      const ts2 = new Float64Array(this.ts.length * 2);
      const rel2 = new Int32Array(this.rel.length * 2);
      ts2.set(this.ts);
      rel2.set(this.rel);
      this.ts = ts2;
      this.rel = rel2;
    }
    this.ts[this.count] = timestamp;
    this.rel[this.count] = rel;
    this.count++;
  }

  /** Offset from which to scan for the first record with timestamp >= `timestamp` (segment base if none). */
  lookup(timestamp: number): number {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ts[mid] < timestamp) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? this.baseOffset : this.baseOffset + this.rel[found];
  }

  /** Drops entries whose offset is > `offset` (keeps the entry of the batch at `offset` itself). */
  truncateAfterOffset(offset: number): void {
    const rel = offset - this.baseOffset;
    while (this.count > 0 && this.rel[this.count - 1] > rel) this.count--;
  }

  /** Drops entries whose offset is >= `offset`. */
  truncateToOffset(offset: number): void {
    this.truncateAfterOffset(offset - 1);
  }

  encode(): Buffer {
    const buf = Buffer.allocUnsafe(this.count * TIME_INDEX_ENTRY_SIZE);
    for (let i = 0; i < this.count; i++) {
      const p = i * TIME_INDEX_ENTRY_SIZE;
      const hi = Math.floor(this.ts[i] / 0x100000000);
      buf.writeInt32BE(hi, p);
      buf.writeUInt32BE(this.ts[i] - hi * 0x100000000, p + 4);
      buf.writeInt32BE(this.rel[i], p + 8);
    }
    return buf;
  }
}

/** Reads entry `i` of an encoded time index. */
export function timeIndexEntryAt(buf: Buffer, i: number): { timestamp: number; relativeOffset: number } {
  const p = i * TIME_INDEX_ENTRY_SIZE;
  return { timestamp: buf.readInt32BE(p) * 0x100000000 + buf.readUInt32BE(p + 4), relativeOffset: buf.readInt32BE(p + 8) };
}

/**
 * Parses a `.timeindex` file, keeping the longest sane prefix: strictly increasing timestamps and offsets,
 * offsets inside [baseOffset, nextOffset). `intact` is false when anything was dropped.
 */
export function decodeTimeIndex(buf: Buffer, baseOffset: number, nextOffset: number): { index: TimeIndex; intact: boolean } {
  const n = Math.floor(buf.length / TIME_INDEX_ENTRY_SIZE);
  const index = new TimeIndex(baseOffset, Math.max(16, n));
  let intact = buf.length % TIME_INDEX_ENTRY_SIZE === 0;
  let prevTs = -Infinity;
  let prevRel = -1;
  for (let i = 0; i < n; i++) {
    const { timestamp, relativeOffset } = timeIndexEntryAt(buf, i);
    if (timestamp <= prevTs || relativeOffset <= prevRel || relativeOffset < 0 || baseOffset + relativeOffset >= nextOffset) {
      intact = false;
      break;
    }
    index.maybeAppend(timestamp, baseOffset + relativeOffset);
    prevTs = timestamp;
    prevRel = relativeOffset;
  }
  return { index, intact };
}
