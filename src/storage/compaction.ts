/**
 * Compaction (cleanupPolicy includes 'compact'): keep only the newest record per key in the sealed segments.
 *
 * Algorithm (Kafka's log cleaner, simplified):
 *   1. Build a key map — key -> offset of its newest record — over the sealed segments from `mapStart`, as far
 *      as `maxKeys` entries allow; the map covers [mapStart, mapEnd). Keys are their bytes (as a latin1 string)
 *      when short, a SHA-256 digest when long, so the map's memory is bounded by maxKeys x ~100 bytes.
 *   2. Clean every sealed segment that starts below mapEnd, oldest first: a keyed record is dropped when the map
 *      holds a newer offset for its key; a tombstone (null value) that is the newest for its key is dropped
 *      once its batch's maxTimestamp is more than deleteRetentionMs old (until then consumers can still see the
 *      delete). Unkeyed records, control batches and batches we cannot decode (compressed without a codec) are
 *      kept as they are. A batch that loses no record is copied byte for byte.
 *   3. If the map filled up before the end, repeat from mapEnd (a pass per map-full of keys).
 *   Correctness does not depend on the pass split: a record is only ever dropped because a newer record with
 *   the same key exists, and a tombstone only once every older record of its key (all in segments cleaned
 *   earlier in the same pass) is gone.
 *
 * Offsets never change: records keep their offsets (re-encoded with encodeRecordBatchWithOffsets, the
 * batch's original baseOffset and the gaps left by dropped records); a segment keeps its base offset, and the
 * next segment still starts where it did. Reads of an offset that was compacted away return the next batch.
 *
 * Files and crash safety — for segment B:
 *   write B.log.cleaned (+ B.index.cleaned, B.timeindex.cleaned), fdatasync the log;
 *   rename B.log.cleaned -> B.log.swap, fsync the directory           <- commit point
 *   unlink B.index, B.timeindex; rename B.log.swap -> B.log; rename the two index files; fsync the directory.
 *   On open (`recoverCompactionLeftovers`): a B.log.swap completes the swap (the old indexes are removed and
 *   rebuilt from the new log); any other *.cleaned file is an unfinished cleaning and is deleted.
 *
 * Concurrency: runs in the background with bounded memory (one scan chunk, one output buffer of about a chunk,
 * the key map). Appends and reads continue; only the swap runs inside the log's writer, and it is skipped if the
 * segment was deleted, truncated or became active meanwhile. Readers of the old file keep their fd (see
 * PartitionLog.swapSegment).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  ATTR_CONTROL,
  ATTR_DELETE_HORIZON,
  OFFSET_ATTRIBUTES,
  batchBaseOffset,
  batchLastOffset,
  batchMaxTimestamp,
  decodeRecordBatch,
  encodeRecordBatchWithOffsets,
  readBatchHeader,
  type OffsetRecordInput,
  type Record,
} from './record-batch.js';
import type { LogConfig } from './log.js';
import { OffsetIndex } from './offset-index.js';
import { TimeIndex } from './time-index.js';
import { Segment, parseSegmentFileName, segmentFileName } from './segment.js';
import { SegmentFile, fsyncDir, unlinkIfExists, writevAt } from './segment-file.js';
import { SCAN_CHUNK_BYTES, scanBatches, type StorageLogger } from './recovery.js';

const fsOpen = promisify(fs.open);
const fsClose = promisify(fs.close);
const fsFdatasync = promisify(fs.fdatasync);

export const CLEANED_SUFFIX = '.cleaned';
export const SWAP_SUFFIX = '.swap';

export interface CompactionResult {
  segmentsCleaned: number;
  recordsRemoved: number;
  bytesBefore: number;
  bytesAfter: number;
}

interface Handle {
  segment: Segment;
  file: SegmentFile;
}

export interface Replacement {
  segment: Segment;
  /** The old segment's generation when cleaning started: the swap is refused if it changed. */
  generation: number;
  commit: () => Promise<void>;
  abandon: () => Promise<void>;
}

/** What compaction needs from the log (kept narrow so the cleaner cannot touch anything else). */
export interface CompactionContext {
  dir: string;
  config: LogConfig;
  maxKeys: number;
  logger: StorageLogger | undefined;
  sealedSegments(): Handle[];
  ensureIndexes(h: Handle): Promise<void>;
  swap(old: Handle, replacement: Replacement): Promise<boolean>;
}

/** The key map's key: short keys as themselves, long ones as a digest (prefixes keep the two apart). */
export function compactionKey(key: Buffer): string {
  return key.length <= 32 ? `r${key.toString('latin1')}` : `h${createHash('sha256').update(key).digest().toString('latin1')}`;
}

function isControl(chunk: Buffer, p: number): boolean {
  return (chunk.readInt16BE(p + OFFSET_ATTRIBUTES) & ATTR_CONTROL) !== 0;
}

function tryDecode(batch: Buffer): Record[] | null {
  try {
    return decodeRecordBatch(batch);
  } catch {
    return null;
  }
}

export async function compactLog(ctx: CompactionContext, now: number): Promise<CompactionResult> {
  const result: CompactionResult = { segmentsCleaned: 0, recordsRemoved: 0, bytesBefore: 0, bytesAfter: 0 };
  const maxKeys = Math.max(1, ctx.maxKeys);
  const initial = ctx.sealedSegments();
  if (initial.length === 0) return result;
  // Records at or after the active segment are never cleaned (nor used to clean): the cleanable range is fixed.
  const cleanableEnd = initial[initial.length - 1].segment.nextOffset;
  let mapStart = initial[0].segment.baseOffset;
  while (mapStart < cleanableEnd) {
    const map = new Map<string, number>();
    let mapEnd = cleanableEnd;
    for (const h of ctx.sealedSegments()) {
      if (h.segment.nextOffset <= mapStart || h.segment.baseOffset >= cleanableEnd) continue;
      const full = await forEachRecord(h, mapStart, (rec) => {
        if (rec.offset >= cleanableEnd) return true;
        if (rec.key === null) return false;
        const k = compactionKey(rec.key);
        if (!map.has(k) && map.size >= maxKeys) {
          mapEnd = rec.offset;
          return true;
        }
        map.set(k, rec.offset);
        return false;
      });
      if (full) break;
    }
    for (const h of ctx.sealedSegments()) {
      if (h.segment.baseOffset >= mapEnd) break;
      const replacement = await cleanSegment(ctx, h, map, mapEnd, now, result);
      if (replacement !== null) {
        if (await ctx.swap(h, replacement)) result.segmentsCleaned++;
      }
    }
    if (mapEnd <= mapStart) break; // cannot happen with maxKeys >= 1; guards an endless loop
    mapStart = mapEnd;
  }
  return result;
}

/** Calls `visit` for each record of a segment with offset >= `fromOffset` until it returns true. */
async function forEachRecord(h: Handle, fromOffset: number, visit: (rec: Record) => boolean): Promise<boolean> {
  const fd = await h.file.acquire();
  let stopped = false;
  try {
    await scanBatches(fd, 0, h.segment.sizeBytes, h.segment.baseOffset, false, (b, chunk, p) => {
      if (stopped || b.lastOffset < fromOffset || isControl(chunk, p)) return;
      const records = tryDecode(chunk.subarray(p, p + b.size));
      if (records === null) return;
      for (const rec of records) {
        if (rec.offset < fromOffset) continue;
        if (visit(rec)) {
          stopped = true;
          return;
        }
      }
    });
  } finally {
    h.file.release();
  }
  return stopped;
}

/**
 * Writes a cleaned copy of one segment to `<base>.*.cleaned` and returns how to swap it in, or null when
 * nothing in it can be removed.
 */
async function cleanSegment(ctx: CompactionContext, h: Handle, map: Map<string, number>, mapEnd: number, now: number, result: CompactionResult): Promise<Replacement | null> {
  const old = h.segment;
  const generation = old.generation;
  const base = old.baseOffset;
  const logPath = path.join(ctx.dir, segmentFileName(base, 'log'));
  const cleanedLog = `${logPath}${CLEANED_SUFFIX}`;
  const cleanedIndex = path.join(ctx.dir, segmentFileName(base, 'index')) + CLEANED_SUFFIX;
  const cleanedTimeIndex = path.join(ctx.dir, segmentFileName(base, 'timeindex')) + CLEANED_SUFFIX;
  const abandon = async (): Promise<void> => {
    await Promise.all([unlinkIfExists(cleanedLog), unlinkIfExists(cleanedIndex), unlinkIfExists(cleanedTimeIndex)]);
  };

  const seg = new Segment(base);
  seg.offsetIndex = new OffsetIndex(base);
  seg.timeIndex = new TimeIndex(base);
  const out = await fsOpen(cleanedLog, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let written = 0;
  let removed = 0;
  const flushOut = async (): Promise<void> => {
    if (pendingBytes === 0) return;
    const n = await writevAt(out, pending, written);
    if (n !== pendingBytes) throw new Error(`short write to ${cleanedLog}`);
    written += n;
    pending = [];
    pendingBytes = 0;
  };
  const emit = (batch: Buffer): void => {
    seg.recordBatch(batchBaseOffset(batch), batchLastOffset(batch), batchMaxTimestamp(batch), seg.sizeBytes, batch.length, ctx.config.indexIntervalBytes);
    pending.push(batch);
    pendingBytes += batch.length;
  };

  const fd = await h.file.acquire();
  let ok = false;
  try {
    await scanBatches(fd, 0, old.sizeBytes, base, true, async (b, chunk, p) => {
      const view = chunk.subarray(p, p + b.size);
      const records = isControl(chunk, p) ? null : tryDecode(view);
      let keep: OffsetRecordInput[] | null = null;
      if (records !== null) {
        keep = [];
        for (const rec of records) {
          if (rec.key !== null && rec.offset < mapEnd) {
            const newest = map.get(compactionKey(rec.key));
            if (newest !== undefined && newest > rec.offset) continue;
            if (rec.value === null && newest === rec.offset && now - b.maxTimestamp > ctx.config.deleteRetentionMs) continue;
          }
          keep.push(rec);
        }
        removed += records.length - keep.length;
      }
      if (keep === null || keep.length === records!.length) {
        // Unchanged: copy the bytes (the chunk is reused by the scan).
        emit(Buffer.from(view));
      } else if (keep.length > 0) {
        const header = readBatchHeader(view);
        emit(
          encodeRecordBatchWithOffsets(keep, b.baseOffset, {
            attributes: header.attributes & ~ATTR_DELETE_HORIZON,
            producerId: header.producerId,
            producerEpoch: header.producerEpoch,
            baseSequence: header.baseSequence,
            partitionLeaderEpoch: header.partitionLeaderEpoch,
          }),
        );
      }
      if (pendingBytes >= SCAN_CHUNK_BYTES) await flushOut();
    });
    await flushOut();
    if (removed > 0) {
      await fsFdatasync(out);
      ok = true;
    }
  } finally {
    h.file.release();
    await fsClose(out);
    if (!ok) await abandon();
  }
  if (!ok) return null;

  seg.nextOffset = old.nextOffset;
  seg.visibleBytes = seg.sizeBytes;
  seg.sealTimeIndex();
  await fs.promises.writeFile(cleanedIndex, seg.offsetIndex.encode());
  await fs.promises.writeFile(cleanedTimeIndex, seg.timeIndex.encode());
  result.recordsRemoved += removed;
  result.bytesBefore += old.sizeBytes;
  result.bytesAfter += seg.sizeBytes;

  const commit = async (): Promise<void> => {
    const swapPath = `${logPath}${SWAP_SUFFIX}`;
    await fs.promises.rename(cleanedLog, swapPath);
    await fsyncDir(ctx.dir); // commit point: from here a crash completes the swap on open
    await unlinkIfExists(path.join(ctx.dir, segmentFileName(base, 'index')));
    await unlinkIfExists(path.join(ctx.dir, segmentFileName(base, 'timeindex')));
    await fs.promises.rename(swapPath, logPath);
    await fs.promises.rename(cleanedIndex, path.join(ctx.dir, segmentFileName(base, 'index')));
    await fs.promises.rename(cleanedTimeIndex, path.join(ctx.dir, segmentFileName(base, 'timeindex')));
    await fsyncDir(ctx.dir);
    ctx.logger?.info({ file: logPath, removed, bytesBefore: old.sizeBytes, bytesAfter: seg.sizeBytes }, `storage: compacted ${path.basename(logPath)}`);
  };
  return { segment: seg, generation, commit, abandon };
}

/**
 * Resolves compaction leftovers in a partition directory at open (see the header comment). Returns true
 * when it changed anything.
 */
export async function recoverCompactionLeftovers(dir: string, names: string[], logger: StorageLogger | undefined): Promise<boolean> {
  let changed = false;
  for (const name of names) {
    if (!name.endsWith(`.log${SWAP_SUFFIX}`)) continue;
    const base = parseSegmentFileName(name.slice(0, -SWAP_SUFFIX.length), 'log');
    if (base < 0) continue;
    // Past the commit point: the cleaned log is complete and durable. Its indexes may not be, so rebuild.
    await unlinkIfExists(path.join(dir, segmentFileName(base, 'index')));
    await unlinkIfExists(path.join(dir, segmentFileName(base, 'timeindex')));
    await fs.promises.rename(path.join(dir, name), path.join(dir, segmentFileName(base, 'log')));
    logger?.warn({ file: path.join(dir, name) }, `storage: completed an interrupted compaction swap of ${segmentFileName(base, 'log')}`);
    changed = true;
  }
  for (const name of changed ? await fs.promises.readdir(dir) : names) {
    if (!name.endsWith(CLEANED_SUFFIX)) continue;
    await unlinkIfExists(path.join(dir, name));
    logger?.info({ file: path.join(dir, name) }, 'storage: removed an unfinished compaction file');
    changed = true;
  }
  if (changed) await fsyncDir(dir);
  return changed;
}
