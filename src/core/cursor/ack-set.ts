/**
 * AckSet: which offsets of one log a cursor has settled (acked, dead-lettered, skipped by its filter).
 *
 * Representation: an ack floor (every offset below it is acked) plus the acked offsets above it as sorted,
 * disjoint, non-adjacent half-open ranges [start, end), kept in two parallel number arrays. A range that
 * reaches the floor is folded into it at once, so:
 *
 * Invariants (checked by the property test against a naive Set):
 * - floor < starts[0] (the first range never touches the floor; otherwise it would have been folded in);
 * - starts[i] < ends[i] < starts[i + 1] (ranges are non-empty, ordered, and never adjacent: adjacent ranges
 *   are merged), so `rangeCount` is the number of gaps a consumer left, not the number of acks.
 *
 * Cost: an in-order ack (the common case for exclusive/failover cursors) is O(1): it raises the floor, or
 * extends the last range. An out-of-order ack is a binary search plus at most one splice; the arrays hold
 * one entry per gap, which is bounded by the number of unsettled offsets, not by the number of acks.
 *
 * Pure data: no I/O; persistence (cursor-store.ts) writes `floor` and `ranges()`.
 */
export class AckSet {
  private _floor: number;
  // Parallel arrays beat an array of {start,end} objects: no allocation per gap and dense numeric storage.
  private starts: number[] = [];
  private ends: number[] = [];
  private _ackedAbove = 0;

  constructor(floor = 0) {
    this._floor = floor;
  }

  /** Every offset below this is acked. */
  get floor(): number {
    return this._floor;
  }

  /** Number of disjoint acked ranges above the floor. */
  get rangeCount(): number {
    return this.starts.length;
  }

  /** Number of acked offsets above the floor. */
  get ackedAboveFloor(): number {
    return this._ackedAbove;
  }

  /** One past the highest acked offset (the floor when nothing above it is acked). */
  get highestAckedEnd(): number {
    return this.starts.length === 0 ? this._floor : this.ends[this.ends.length - 1];
  }

  has(offset: number): boolean {
    if (offset < this._floor) return true;
    const i = this.rangeIndexAtOrBefore(offset);
    return i >= 0 && offset < this.ends[i];
  }

  /** Acks one offset; returns false if it was already acked. */
  add(offset: number): boolean {
    return this.addRange(offset, offset + 1) > 0;
  }

  /** Acks [from, to); returns how many offsets were newly acked. */
  addRange(from: number, to: number): number {
    if (from < this._floor) from = this._floor;
    if (to <= from) return 0;
    const starts = this.starts;
    const ends = this.ends;
    const n = starts.length;
    // Fast path: extends the floor with no range in the way (in-order acks).
    if (from === this._floor && (n === 0 || to < starts[0])) {
      this._floor = to;
      return to - from;
    }
    // Fast path: at or after the end of the last range (shared consumers acking roughly in order).
    if (n > 0 && from >= ends[n - 1]) {
      if (from === ends[n - 1]) ends[n - 1] = to;
      else {
        starts.push(from);
        ends.push(to);
      }
      this._ackedAbove += to - from;
      return to - from;
    }
    // General case: merge [from, to) with every range it touches or is adjacent to.
    // lo = first range whose end >= from (touching on the left); hi = last range whose start <= to.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ends[mid] < from) lo = mid + 1;
      else hi = mid;
    }
    let last = lo - 1;
    for (let j = lo; j < n && starts[j] <= to; j++) last = j;
    let added: number;
    if (last < lo) {
      starts.splice(lo, 0, from);
      ends.splice(lo, 0, to);
      added = to - from;
    } else {
      const newStart = Math.min(from, starts[lo]);
      const newEnd = Math.max(to, ends[last]);
      let covered = 0;
      for (let j = lo; j <= last; j++) covered += ends[j] - starts[j];
      added = newEnd - newStart - covered;
      starts.splice(lo, last - lo + 1, newStart);
      ends.splice(lo, last - lo + 1, newEnd);
    }
    this._ackedAbove += added;
    if (from <= this._floor) this.foldFirstRange();
    return added;
  }

  /**
   * Raises the floor to `offset` (everything below becomes acked), e.g. when retention deleted the records
   * below it. Returns how many offsets were newly acked.
   */
  advanceFloor(offset: number): number {
    return this.addRange(this._floor, offset);
  }

  /** The first offset >= `from` that is not acked. */
  nextUnacked(from: number): number {
    if (from < this._floor) from = this._floor;
    const i = this.rangeIndexAtOrBefore(from);
    return i >= 0 && from < this.ends[i] ? this.ends[i] : from;
  }

  /** The acked ranges above the floor as [start0, end0, start1, end1, ...] (a copy). */
  ranges(): number[] {
    const out = new Array<number>(this.starts.length * 2);
    for (let i = 0; i < this.starts.length; i++) {
      out[2 * i] = this.starts[i];
      out[2 * i + 1] = this.ends[i];
    }
    return out;
  }

  /**
   * Calls fn(start, end) for each maximal run of unacked offsets in [from, to), in order. Cost is in the
   * number of ranges crossed, not the number of offsets.
   */
  forEachGap(from: number, to: number, fn: (start: number, end: number) => void): void {
    let pos = Math.max(from, this._floor);
    let i = this.rangeIndexAtOrBefore(pos);
    if (i >= 0 && pos < this.ends[i]) pos = this.ends[i];
    i++;
    while (pos < to) {
      const gapEnd = i < this.starts.length ? Math.min(this.starts[i], to) : to;
      if (gapEnd > pos) fn(pos, gapEnd);
      if (i >= this.starts.length) break;
      pos = this.ends[i];
      i++;
    }
  }

  /** Rebuilds from a persisted floor and ranges (as produced by `ranges()`); tolerant of overlaps. */
  static from(floor: number, ranges: readonly number[]): AckSet {
    const set = new AckSet(floor);
    for (let i = 0; i + 1 < ranges.length; i += 2) set.addRange(ranges[i], ranges[i + 1]);
    return set;
  }

  /** Index of the last range with start <= offset, or -1. */
  private rangeIndexAtOrBefore(offset: number): number {
    const starts = this.starts;
    let lo = 0;
    let hi = starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid] <= offset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** Folds a first range that now touches the floor into it (the gap before it filled). */
  private foldFirstRange(): void {
    if (this.starts.length > 0 && this.starts[0] <= this._floor) {
      this._ackedAbove -= this.ends[0] - this.starts[0];
      // Part of the range may lie below the old floor only if it was added below the floor, which addRange
      // prevents; so the whole range is above the floor and moves into it.
      this._floor = Math.max(this._floor, this.ends[0]);
      this.starts.shift();
      this.ends.shift();
    }
  }
}
