/**
 * Segment: the in-memory state of one segment of a partition (no I/O here; see segment-file.ts).
 *
 * A segment is the triple `<baseOffset>.log` / `.index` / `.timeindex`, the base offset zero-padded to 20
 * digits so that lexical order is offset order. The `.log` holds Kafka v2 record batches back to back,
 * exactly as on the wire, with baseOffset already assigned.
 *
 * Invariants:
 * - every batch in the segment has baseOffset >= `baseOffset`, and batches are in increasing offset order;
 * - `nextOffset` is one past the last offset of the last batch (for a sealed segment it is also <= the next
 *   segment's base offset; compaction may leave a gap between them);
 * - `visibleBytes` <= `sizeBytes`: bytes below `visibleBytes` hold only offsets below the high watermark, so
 *   readers never look past it (the gap is a group commit in flight);
 * - index entries follow the byte interval rule in `recordBatch` and are monotonic (see offset-index.ts).
 *
 * Concurrency: mutated only by the log's serialised writer (group commit, truncate, roll, recovery). Readers
 * take snapshots of `visibleBytes`. A segment replaced by compaction or deleted is marked `retired`; readers
 * that hold it retry against the log's current segment list.
 */
import type { OffsetIndex } from './offset-index.js';
import type { TimeIndex } from './time-index.js';

export type SegmentFileKind = 'log' | 'index' | 'timeindex';

export function segmentFileName(baseOffset: number, kind: SegmentFileKind): string {
  return `${String(baseOffset).padStart(20, '0')}.${kind}`;
}

/** Parses `<20 digits>.log` into its base offset, or returns -1. */
export function parseSegmentFileName(name: string, kind: SegmentFileKind): number {
  const m = /^(\d{20})\.(log|index|timeindex)$/.exec(name);
  if (!m || m[2] !== kind) return -1;
  return Number(m[1]);
}

export class Segment {
  readonly baseOffset: number;
  sizeBytes = 0;
  visibleBytes = 0;
  nextOffset: number;
  /** Largest record timestamp in the segment (-1 when empty or unknown). */
  maxTimestamp = -1;
  /** maxTimestamp of the first batch: segmentMs rolls on the age of the first batch (as Kafka does). */
  firstBatchTimestamp = -1;
  lastBatchBaseOffset = -1;
  bytesSinceIndexEntry = 0;
  /** Loaded lazily for sealed segments (see PartitionLog's index cache); always present for the active one. */
  offsetIndex: OffsetIndex | null = null;
  timeIndex: TimeIndex | null = null;
  /** Set when the segment left the log (deleted, replaced by a compacted copy): readers must re-resolve. */
  retired = false;
  /** Bumped on every mutation that is not an append (truncate), so background compaction can detect races. */
  generation = 0;

  constructor(baseOffset: number) {
    this.baseOffset = baseOffset;
    this.nextOffset = baseOffset;
  }

  get isEmpty(): boolean {
    return this.sizeBytes === 0;
  }

  /**
   * Whether a batch of `batchBytes` with max timestamp `batchMaxTimestamp` must go into a new segment.
   * An empty segment takes any batch (a batch is never split, and one larger than segmentBytes must still
   * be stored somewhere). Age is measured in record time, from the first batch to the incoming one, as
   * Kafka does: deterministic and unchanged by a restart.
   */
  shouldRoll(batchBytes: number, batchMaxTimestamp: number, segmentBytes: number, segmentMs: number): boolean {
    if (this.sizeBytes === 0) return false;
    if (this.sizeBytes + batchBytes > segmentBytes) return true;
    return this.firstBatchTimestamp >= 0 && batchMaxTimestamp - this.firstBatchTimestamp > segmentMs;
  }

  /**
   * Records that a batch was placed at `position` (sizes and indexes). The index entry rule is Kafka's: a
   * batch gets an entry when more than `indexIntervalBytes` were appended since the last entry.
   */
  recordBatch(baseOffset: number, lastOffset: number, maxTimestamp: number, position: number, bytes: number, indexIntervalBytes: number): void {
    if (this.firstBatchTimestamp < 0) this.firstBatchTimestamp = maxTimestamp;
    if (maxTimestamp > this.maxTimestamp) this.maxTimestamp = maxTimestamp;
    if (this.bytesSinceIndexEntry > indexIntervalBytes) {
      this.offsetIndex?.append(baseOffset, position);
      // The running maximum up to and including this batch: see time-index.ts for why that is enough.
      this.timeIndex?.maybeAppend(this.maxTimestamp, baseOffset);
      this.bytesSinceIndexEntry = 0;
    }
    this.bytesSinceIndexEntry += bytes;
    this.lastBatchBaseOffset = baseOffset;
    this.nextOffset = lastOffset + 1;
    this.sizeBytes = position + bytes;
  }

  /** The final time-index entry of a sealed segment: its largest timestamp. */
  sealTimeIndex(): void {
    if (this.lastBatchBaseOffset >= 0 && this.maxTimestamp >= 0) this.timeIndex?.maybeAppend(this.maxTimestamp, this.lastBatchBaseOffset);
  }
}
