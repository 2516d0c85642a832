/**
 * Recovery: what `PartitionLog.open` does to a segment before trusting it, and how indexes are rebuilt.
 *
 * Active (last) segment — it may end with a torn write (kill -9, power loss):
 *   1. Load `.index` and `.timeindex`, keeping their sane prefixes (see decodeOffsetIndex/decodeTimeIndex).
 *      If either is missing or not intact, both are rebuilt and the scan starts at position 0.
 *   2. Otherwise trust the last offset-index entry whose position holds a header with the expected
 *      baseOffset and magic 2 (dropping entries that do not), and scan from there.
 *   3. The scan reads whole batches in bounded chunks and checks batchLength, magic, increasing offsets and
 *      CRC-32C. At the first bad or incomplete batch the file is truncated to that position and a warning
 *      names the file and position. Index entries past the cut are dropped; entries for the scanned region
 *      are regenerated with the same interval rule as appends.
 *   Result: after open, every byte of the active segment is a valid batch, so nothing half-written is visible.
 *
 * Sealed segments are never scanned at open (that would make open O(log size)). Their largest timestamp comes
 * from the last `.timeindex` entry (written when the segment was sealed); if that file is missing or does not
 * check out, or `.index` is missing or has a partial entry, both are rebuilt from the `.log` by a header scan.
 * Full validation of a sealed segment's `.index` happens when it is first loaded for a read (`loadIndexes`).
 * Corruption inside a sealed segment is reported by the reader as TRIB_CORRUPT_RECORD with file and position.
 *
 * Memory: scans use one buffer of SCAN_CHUNK_BYTES (or one batch, if a batch is larger), never a whole segment.
 */
import { WireError } from '../wire/index.js';
import {
  BATCH_HEADER_SIZE,
  LOG_OVERHEAD,
  MAGIC_V2,
  OFFSET_BATCH_LENGTH,
  OFFSET_LAST_OFFSET_DELTA,
  OFFSET_MAGIC,
  batchBaseOffset,
  batchMaxTimestamp,
  validateBatch,
} from './record-batch.js';
import { OffsetIndex, decodeOffsetIndex } from './offset-index.js';
import { TimeIndex, decodeTimeIndex, timeIndexEntryAt, TIME_INDEX_ENTRY_SIZE } from './time-index.js';
import { Segment } from './segment.js';
import { SegmentFile } from './segment-file.js';

export const SCAN_CHUNK_BYTES = 1024 * 1024;

export interface StorageLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface ScannedBatch {
  position: number;
  size: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
}

export interface ScanResult {
  /** Position after the last good batch. */
  endPosition: number;
  /** Offset after the last good batch (or the `minOffset` given when none). */
  nextOffset: number;
  /** The first bad batch, if the scan stopped before `endPosition` of the file. */
  bad: { position: number; reason: string } | null;
}

/** Checks a batch header at `p` in `buf` without the CRC; returns a reason or null. */
export function headerProblem(buf: Buffer, p: number, available: number, minOffset: number): string | null {
  if (available < LOG_OVERHEAD) return `incomplete batch: ${available} bytes left`;
  const size = buf.readInt32BE(p + OFFSET_BATCH_LENGTH) + LOG_OVERHEAD;
  if (size < BATCH_HEADER_SIZE) return `batchLength ${size - LOG_OVERHEAD} shorter than a header`;
  if (available < BATCH_HEADER_SIZE) return `incomplete batch header: ${available} of ${BATCH_HEADER_SIZE} bytes`;
  if (buf.readInt8(p + OFFSET_MAGIC) !== MAGIC_V2) return `magic ${buf.readInt8(p + OFFSET_MAGIC)}`;
  if (buf.readInt32BE(p + OFFSET_LAST_OFFSET_DELTA) < 0) return 'negative lastOffsetDelta';
  const base = batchBaseOffset(buf, p);
  if (base < minOffset) return `baseOffset ${base} goes backwards (expected >= ${minOffset})`;
  return null;
}

/**
 * Walks the batches of `fd` in [fromPosition, endPosition), calling `onBatch` for each good one, and stops at
 * the first bad one. With `verifyCrc` every batch's CRC-32C is checked (recovery); without, only headers
 * (index rebuilds of sealed segments, whose content was verified when they were active).
 */
export async function scanBatches(
  fd: number,
  fromPosition: number,
  endPosition: number,
  minOffset: number,
  verifyCrc: boolean,
  onBatch: (batch: ScannedBatch, chunk: Buffer, offsetInChunk: number) => void | Promise<void>,
): Promise<ScanResult> {
  let chunk = Buffer.allocUnsafe(Math.min(SCAN_CHUNK_BYTES, Math.max(BATCH_HEADER_SIZE, endPosition - fromPosition)));
  let pos = fromPosition;
  let nextOffset = minOffset;
  while (pos < endPosition) {
    const want = Math.min(chunk.length, endPosition - pos);
    const got = await SegmentFile.readFully(fd, chunk, want, pos);
    if (got === 0) return { endPosition: pos, nextOffset, bad: { position: pos, reason: 'file ends early' } };
    // Nothing follows this chunk: a batch cut by its end is torn, not merely split across two reads.
    const last = got < want || pos + got >= endPosition;
    let p = 0;
    let readMore = false;
    while (p < got) {
      const available = got - p;
      if (available < BATCH_HEADER_SIZE && !last) {
        readMore = true;
        break;
      }
      const problem = headerProblem(chunk, p, available, nextOffset);
      if (problem !== null) return { endPosition: pos + p, nextOffset, bad: { position: pos + p, reason: problem } };
      const size = chunk.readInt32BE(p + OFFSET_BATCH_LENGTH) + LOG_OVERHEAD;
      if (pos + p + size > endPosition || (size > available && last)) {
        return { endPosition: pos + p, nextOffset, bad: { position: pos + p, reason: `incomplete batch: ${Math.min(available, endPosition - pos - p)} of ${size} bytes` } };
      }
      if (size > available) {
        // Bounded by the file size just checked: grow to one batch, re-read from its start.
        if (size > chunk.length) chunk = Buffer.allocUnsafe(size);
        readMore = true;
        break;
      }
      if (verifyCrc) {
        try {
          validateBatch(chunk.subarray(p, p + size));
        } catch (err) {
          return { endPosition: pos + p, nextOffset, bad: { position: pos + p, reason: err instanceof WireError ? err.message : String(err) } };
        }
      }
      const baseOffset = batchBaseOffset(chunk, p);
      const lastOffset = baseOffset + chunk.readInt32BE(p + OFFSET_LAST_OFFSET_DELTA);
      const pending = onBatch({ position: pos + p, size, baseOffset, lastOffset, maxTimestamp: batchMaxTimestamp(chunk, p) }, chunk, p);
      // Only compaction awaits (to write its output); it copies what it keeps before the chunk is reused.
      if (pending !== undefined) await pending;
      nextOffset = lastOffset + 1;
      p += size;
    }
    pos += p;
    if (!readMore && got < want) {
      return { endPosition: pos, nextOffset, bad: pos < endPosition ? { position: pos, reason: 'file ends early' } : null };
    }
  }
  return { endPosition: pos, nextOffset, bad: null };
}

/** Applies the append path's index rule to a scanned batch. */
function indexScanned(seg: Segment, b: ScannedBatch, indexIntervalBytes: number): void {
  seg.recordBatch(b.baseOffset, b.lastOffset, b.maxTimestamp, b.position, b.size, indexIntervalBytes);
}

/** Rebuilds both indexes of a segment from its `.log` (headers only); sets sizes, offsets and timestamps. */
export async function rebuildIndexes(seg: Segment, file: SegmentFile, fd: number, fileSize: number, indexIntervalBytes: number, verifyCrc: boolean): Promise<ScanResult> {
  seg.offsetIndex = new OffsetIndex(seg.baseOffset);
  seg.timeIndex = new TimeIndex(seg.baseOffset);
  seg.sizeBytes = 0;
  seg.bytesSinceIndexEntry = 0;
  seg.maxTimestamp = -1;
  seg.firstBatchTimestamp = -1;
  seg.lastBatchBaseOffset = -1;
  seg.nextOffset = seg.baseOffset;
  const result = await scanBatches(fd, 0, fileSize, seg.baseOffset, verifyCrc, (b) => indexScanned(seg, b, indexIntervalBytes));
  seg.sizeBytes = result.endPosition;
  seg.visibleBytes = result.endPosition;
  return result;
}

async function readHeaderAt(fd: number, position: number): Promise<Buffer | null> {
  const buf = Buffer.allocUnsafe(BATCH_HEADER_SIZE);
  const n = await SegmentFile.readFully(fd, buf, BATCH_HEADER_SIZE, position);
  return n === BATCH_HEADER_SIZE ? buf : null;
}

/**
 * Recovers the active segment (see the header comment). Truncates the file at the first bad batch.
 * Returns true when the file was truncated.
 */
export async function recoverActiveSegment(seg: Segment, file: SegmentFile, indexIntervalBytes: number, logger: StorageLogger | undefined): Promise<boolean> {
  const fd = file.writeFd;
  const fileSize = await file.fileSize();
  const indexBuf = await SegmentFile.readOptional(file.indexPath);
  const timeBuf = await SegmentFile.readOptional(file.timeIndexPath);
  let result: ScanResult;
  let rebuilt = true;
  let fromPosition = 0;
  if (indexBuf !== null && timeBuf !== null) {
    const { index, intact } = decodeOffsetIndex(indexBuf, seg.baseOffset, fileSize);
    // The time index cannot be checked against offsets we do not know yet: bound it by the file's possible
    // offsets later, once the scan has run.
    const { index: tIndex, intact: tIntact } = decodeTimeIndex(timeBuf, seg.baseOffset, Number.MAX_SAFE_INTEGER);
    if (intact && tIntact) {
      // Trust the last entry whose header matches; drop the ones that do not (stale after a crash).
      while (index.entries > 0) {
        const last = index.entries - 1;
        const header = await readHeaderAt(fd, index.positionAt(last));
        if (header !== null && headerProblem(header, 0, BATCH_HEADER_SIZE, 0) === null && batchBaseOffset(header, 0) === index.offsetAt(last)) break;
        index.truncateEntries(last);
      }
      fromPosition = index.lastPosition < 0 ? 0 : index.lastPosition;
      if (fromPosition > 0) {
        const anchorOffset = index.offsetAt(index.entries - 1);
        // Entries for the scanned region are regenerated below; keep the anchor's own entries.
        index.truncateEntries(index.entries - 1);
        tIndex.truncateAfterOffset(anchorOffset);
        seg.offsetIndex = index;
        seg.timeIndex = tIndex;
        seg.maxTimestamp = tIndex.lastTimestamp;
        seg.firstBatchTimestamp = await firstBatchTimestamp(fd, fileSize);
        // Force an entry for the anchor batch itself, exactly as it was.
        seg.bytesSinceIndexEntry = indexIntervalBytes + 1;
        seg.nextOffset = anchorOffset;
        rebuilt = false;
      }
    }
  }
  if (rebuilt) {
    result = await rebuildIndexes(seg, file, fd, fileSize, indexIntervalBytes, true);
  } else {
    result = await scanBatches(fd, fromPosition, fileSize, seg.nextOffset, true, (b) => indexScanned(seg, b, indexIntervalBytes));
    seg.sizeBytes = result.endPosition;
    seg.visibleBytes = result.endPosition;
    if (result.endPosition === fromPosition) seg.nextOffset = result.nextOffset;
  }
  seg.nextOffset = Math.max(seg.nextOffset, result.nextOffset);
  if (result.bad !== null) {
    logger?.warn(
      { file: file.logPath, position: result.bad.position, reason: result.bad.reason, truncatedBytes: fileSize - result.endPosition },
      `storage: corrupt or torn batch in ${file.name} at position ${result.bad.position}; truncating the segment there`,
    );
    await file.truncate(result.endPosition);
    await file.datasync();
    // The time index may hold the final entry written at the last close, past the cut.
    seg.timeIndex?.truncateToOffset(seg.nextOffset);
    return true;
  }
  return false;
}

/** maxTimestamp of the first batch of a segment (what segmentMs measures age from), or -1. */
async function firstBatchTimestamp(fd: number, fileSize: number): Promise<number> {
  if (fileSize < BATCH_HEADER_SIZE) return -1;
  const header = await readHeaderAt(fd, 0);
  return header === null ? -1 : batchMaxTimestamp(header, 0);
}

/**
 * Opens a sealed segment cheaply: size from stat, largest timestamp from the last `.timeindex` entry. Rebuilds
 * both indexes (header scan) when `.timeindex` or `.index` is missing or visibly damaged.
 */
export async function loadSealedSegment(seg: Segment, file: SegmentFile, nextSegmentBase: number, indexIntervalBytes: number, logger: StorageLogger | undefined): Promise<void> {
  const fileSize = await file.fileSize();
  seg.sizeBytes = fileSize;
  seg.visibleBytes = fileSize;
  seg.nextOffset = nextSegmentBase;
  const tail = await SegmentFile.readTail(file.timeIndexPath, TIME_INDEX_ENTRY_SIZE);
  const indexTail = await SegmentFile.readTail(file.indexPath, 0);
  let ok = tail !== null && indexTail !== null && tail.sizeBytes % TIME_INDEX_ENTRY_SIZE === 0 && indexTail.sizeBytes % 8 === 0;
  if (ok && tail !== null) {
    if (tail.sizeBytes === 0) {
      ok = fileSize === 0;
    } else {
      const last = timeIndexEntryAt(tail.tail, 0);
      ok = last.relativeOffset >= 0 && seg.baseOffset + last.relativeOffset < nextSegmentBase && last.timestamp >= 0;
      if (ok) seg.maxTimestamp = last.timestamp;
    }
  }
  if (ok) return;
  logger?.info({ file: file.logPath }, `storage: rebuilding the indexes of ${file.name}`);
  await rebuildSealedIndexes(seg, file, indexIntervalBytes, logger);
}

async function rebuildSealedIndexes(seg: Segment, file: SegmentFile, indexIntervalBytes: number, logger: StorageLogger | undefined): Promise<void> {
  const nextSegmentBase = seg.nextOffset;
  const fd = await file.acquire();
  try {
    const fileSize = await file.fileSize();
    const result = await rebuildIndexes(seg, file, fd, fileSize, indexIntervalBytes, false);
    if (result.bad !== null) {
      logger?.warn({ file: file.logPath, position: result.bad.position, reason: result.bad.reason }, `storage: bad batch header in sealed segment ${file.name} at position ${result.bad.position}; reads past it will fail`);
    }
    // Reads past a bad header must fail loudly, not look like the end of the segment.
    seg.sizeBytes = fileSize;
    seg.visibleBytes = fileSize;
    seg.nextOffset = nextSegmentBase;
    seg.sealTimeIndex();
    await file.writeIndexes(seg.offsetIndex!.encode(), seg.timeIndex!.encode());
  } finally {
    file.release();
  }
}

/**
 * Loads (and validates) a sealed segment's indexes for a read. An index that is not intact, whose last entry
 * lies implausibly far from the end of the file ("shorter than expected"), or whose time index disagrees, is
 * rebuilt and rewritten.
 */
export async function loadIndexes(seg: Segment, file: SegmentFile, indexIntervalBytes: number, maxBatchBytes: number, logger: StorageLogger | undefined): Promise<void> {
  const indexBuf = await SegmentFile.readOptional(file.indexPath);
  const timeBuf = await SegmentFile.readOptional(file.timeIndexPath);
  if (indexBuf !== null && timeBuf !== null) {
    const { index, intact } = decodeOffsetIndex(indexBuf, seg.baseOffset, seg.sizeBytes);
    const { index: tIndex, intact: tIntact } = decodeTimeIndex(timeBuf, seg.baseOffset, seg.nextOffset);
    const tailGap = seg.sizeBytes - Math.max(0, index.lastPosition);
    // An entry is added once more than indexIntervalBytes follow the previous one, so the unindexed tail is
    // at most that plus two batches; more means entries are missing.
    const plausible = tailGap <= indexIntervalBytes + 2 * maxBatchBytes || seg.sizeBytes <= indexIntervalBytes;
    if (intact && tIntact && plausible) {
      seg.offsetIndex = index;
      seg.timeIndex = tIndex;
      return;
    }
  }
  logger?.info({ file: file.logPath }, `storage: rebuilding the indexes of ${file.name}`);
  await rebuildSealedIndexes(seg, file, indexIntervalBytes, logger);
}
