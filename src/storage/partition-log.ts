/**
 * PartitionLog: the file-backed `Log` of one partition — a directory of segments.
 *
 * On-disk layout (one directory per partition):
 *   00000000000000000000.log        Kafka v2 record batches back to back, exactly as on the wire (baseOffset set)
 *   00000000000000000000.index      sparse offset -> position (offset-index.ts)
 *   00000000000000000000.timeindex  sparse timestamp -> offset (time-index.ts)
 *   00000000000000001234.log ...    the next segment, named for its base offset (20 digits: lexical = numeric)
 *   log-start-offset                decimal startOffset, written by deleteRecords (temp + rename + fsync)
 *   *.cleaned / *.swap              compaction in progress (compaction.ts; resolved on open)
 * The last segment is the active one: the only one appended to, its fd always open. Segments roll at
 * segmentBytes, or when the incoming batch is more than segmentMs (record time) younger than the first one.
 *
 * Acknowledgement and visibility (fsync policy):
 * - `always`: group commit (group-commit.ts) with a pipelined fsync. Appends are queued; every batch queued in
 *   the same event-loop turn, or while the previous group's write is in flight, is written with one `writev`
 *   (on this thread for a small group, on the libuv pool otherwise: inline-write-policy.ts).
 *   One `fdatasync` at a time runs behind the writes (syncLoop) and covers every group written before it
 *   started; then the high watermark advances, 'append' fires and the promises resolve. So writes never wait
 *   for an fsync, and an acknowledged (or, by default, visible) record survives kill -9 and power loss. With
 *   `visibility: 'written'` (log.ts) the high watermark advances and 'append' fires right after the write
 *   instead (readers may see what an fsync has not yet covered; it survives kill -9). Tasks (roll, truncate,
 *   close, ...) first wait for the fsyncs in flight.
 * - `interval`: resolved and visible after the write; `fdatasync` every fsyncIntervalMs. Survives kill -9 (the
 *   page cache holds it) but up to fsyncIntervalMs may be lost on power loss.
 * - `never`: resolved after the write; the OS flushes when it likes (and we do on roll and close).
 * Offsets are assigned synchronously in append(), so the order of offsets is the order of calls.
 * Reads never return bytes past the high watermark (each segment's `visibleBytes`).
 *
 * Invariants: segments are sorted by base offset and do not overlap; only the last is written; startOffset <=
 * highWatermark <= endOffset (they differ only while a group is in flight); every byte of the active segment
 * below `visibleBytes` has passed CRC validation (on append or during recovery).
 *
 * Crash behaviour: see recovery.ts (torn tail truncated, indexes rebuilt) and compaction.ts (swap).
 *
 * Concurrency: one Node thread. All mutations go through one GroupCommit queue, so they never interleave.
 * Reads run at any time, concurrently with appends and with each other: they use positional reads on shared
 * fds (reference-counted, see segment-file.ts), snapshot `visibleBytes`, and retry if the segment they found is
 * retired underneath them (deleted by retention or replaced by compaction).
 *
 * Memory: no record data is cached; a read allocates at most max(maxBytes, first batch) plus one header
 * buffer. Offset/time indexes of the active segment are in memory (about 20 bytes per indexIntervalBytes);
 * those of sealed segments are loaded on demand into a small LRU (MAX_LOADED_INDEXES). At most
 * MAX_OPEN_READ_FDS sealed segments keep an fd open.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import {
  BATCH_HEADER_SIZE,
  OFFSET_BATCH_LENGTH,
  OFFSET_LAST_OFFSET_DELTA,
  OFFSET_MAGIC,
  OFFSET_RECORDS_COUNT,
  LOG_OVERHEAD,
  MAGIC_V2,
  batchBaseOffset,
  batchMaxTimestamp,
  decodeRecordBatch,
  encodeRecordBatch,
  setBatchBaseOffset,
  validateBatch,
  type RecordInput,
} from './record-batch.js';
import { DEFAULT_LOG_CONFIG, type AppendResult, type Log, type LogConfig, type ReadResult, type StorageObserver } from './log.js';
import { StorageError } from './storage-error.js';
import { Segment, parseSegmentFileName } from './segment.js';
import { SegmentFile, fsyncDir, unlinkIfExists } from './segment-file.js';
import { StartOffsetFile } from './start-offset-file.js';
import { OffsetIndex } from './offset-index.js';
import { TimeIndex } from './time-index.js';
import { ByteChunks } from '../wire/index.js';
import { GroupCommit, type PendingAppend } from './group-commit.js';
import { DEFAULT_INLINE_WRITES, type InlineWritePolicy } from './inline-write-policy.js';
import { loadIndexes, loadSealedSegment, rebuildIndexes, recoverActiveSegment, type StorageLogger } from './recovery.js';
import { segmentsToDelete } from './retention.js';
import { compactLog, recoverCompactionLeftovers, type CompactionResult } from './compaction.js';

export const LOG_START_OFFSET_FILE = 'log-start-offset';
/** Sealed segments whose fd stays open after a read (an LRU); the active segment's is always open. */
export const MAX_OPEN_READ_FDS = 8;
/** Sealed segments whose indexes stay loaded after a read (an LRU). */
export const MAX_LOADED_INDEXES = 16;
const MAX_SEGMENT_BYTES = 0x7fffffff; // positions in .index are int32
/** Bytes of just-written batches a 'written'-visibility log keeps for readers of its tail (DESIGN: a small cache). */
export const TAIL_CACHE_BYTES = 256 * 1024;

export interface PartitionLogOptions {
  observer?: StorageObserver;
  logger?: StorageLogger;
  /** Compaction's key map holds at most this many keys; a larger key space is compacted in several passes. */
  compactionMaxKeys?: number;
  /**
   * When set, the log runs enforceRetention() and (for compacted logs) compact() itself every this many ms.
   * Left unset, the owner (the Stream layer) calls them on its own schedule.
   */
  maintenanceIntervalMs?: number;
  /** Which groups are written on the event-loop thread (inline-write-policy.ts); the process-wide one by default. */
  inlineWrites?: InlineWritePolicy;
}

/** A segment's state and its file, kept together in the log's segment list. */
export interface SegmentHandle {
  segment: Segment;
  file: SegmentFile;
}

const EMPTY = Buffer.alloc(0);

function corrupt(file: SegmentFile, position: number, reason: string): StorageError {
  return new StorageError('TRIB_CORRUPT_RECORD', `corrupt record batch in ${file.logPath} at position ${position}: ${reason}`);
}

export class PartitionLog extends EventEmitter implements Log {
  readonly dir: string;
  readonly config: LogConfig;
  private readonly observer: StorageObserver;
  private readonly logger: StorageLogger | undefined;
  private readonly compactionMaxKeys: number;
  private readonly inlineWrites: InlineWritePolicy;
  private segments: SegmentHandle[] = [];
  private _startOffset = 0;
  private _endOffset = 0;
  private _highWatermark = 0;
  private readonly writer: GroupCommit;
  private readonly openReadFds: SegmentHandle[] = [];
  private readonly loadedIndexes: SegmentHandle[] = [];
  private readonly indexLoads = new Map<Segment, Promise<void>>();
  private closed = false;
  private failure: Error | null = null;
  /** Bytes written to the active segment since its last fdatasync (interval/never policies). */
  private unsyncedBytes = 0;
  private timers: NodeJS.Timeout[] = [];
  private compaction: Promise<CompactionResult> | null = null;
  /** fsync `always` (pipelined): appends written, waiting for an fsync to resolve (and, when durable, to be seen). */
  private unsynced: PendingAppend[] = [];
  /** Active-segment bytes written through the last append in `unsynced` (visible after their fsync when durable). */
  private writtenBytes = 0;
  /** The fsync loop running for `unsynced`, or null. */
  private syncing: Promise<void> | null = null;
  /**
   * visibility 'written': the newest batches of the active segment (at most TAIL_CACHE_BYTES), so a cursor
   * reading what was just written gets it without a file read. Emptied by a roll and before every task.
   */
  private tailBatches: Buffer[] = [];
  private tailBytes = 0;
  /** `log-start-offset`, written beside the writer (see start-offset-file.ts). */
  private readonly startOffsetFile: StartOffsetFile;

  private constructor(dir: string, config: LogConfig, options: PartitionLogOptions) {
    super();
    this.dir = dir;
    this.config = config;
    this.observer = options.observer ?? {};
    this.logger = options.logger;
    this.compactionMaxKeys = options.compactionMaxKeys ?? 1_000_000;
    this.inlineWrites = options.inlineWrites ?? DEFAULT_INLINE_WRITES;
    this.startOffsetFile = new StartOffsetFile(path.join(dir, LOG_START_OFFSET_FILE));
    // Tasks (roll, truncate, close...) see every earlier append durable: pipelined fsyncs finish first.
    this.writer = new GroupCommit((group) => this.flushGroup(group), () => this.beforeTask());
  }

  static async open(dir: string, config: Partial<LogConfig> = {}, options: PartitionLogOptions = {}): Promise<PartitionLog> {
    const full: LogConfig = { ...DEFAULT_LOG_CONFIG, ...config };
    if (!(full.segmentBytes >= BATCH_HEADER_SIZE && full.segmentBytes <= MAX_SEGMENT_BYTES)) {
      throw new StorageError('TRIB_INVALID_CONFIG', `segmentBytes must be in [${BATCH_HEADER_SIZE}, ${MAX_SEGMENT_BYTES}], got ${full.segmentBytes}`);
    }
    if (full.indexIntervalBytes < 0 || full.maxMessageBytes < BATCH_HEADER_SIZE || (full.fsync === 'interval' && !(full.fsyncIntervalMs > 0))) {
      throw new StorageError('TRIB_INVALID_CONFIG', 'indexIntervalBytes, maxMessageBytes or fsyncIntervalMs out of range');
    }
    await fs.promises.mkdir(dir, { recursive: true });
    const log = new PartitionLog(dir, full, options);
    await log.load();
    if (full.fsync === 'interval') {
      log.timers.push(setInterval(() => void log.flush().catch(() => undefined), full.fsyncIntervalMs).unref());
    }
    if (options.maintenanceIntervalMs !== undefined && options.maintenanceIntervalMs > 0) {
      log.timers.push(setInterval(() => void log.runMaintenance(), options.maintenanceIntervalMs).unref());
    }
    return log;
  }

  // --- state ----------------------------------------------------------------------------------------------

  get startOffset(): number {
    return this._startOffset;
  }
  get endOffset(): number {
    return this._endOffset;
  }
  get highWatermark(): number {
    return this._highWatermark;
  }
  get sizeBytes(): number {
    let total = 0;
    for (const h of this.segments) total += h.segment.sizeBytes;
    return total;
  }
  /** Number of segments (for tests and metrics). */
  get segmentCount(): number {
    return this.segments.length;
  }
  /** Base offsets of the segments, oldest first (for tests and tooling). */
  get segmentBaseOffsets(): number[] {
    return this.segments.map((h) => h.segment.baseOffset);
  }

  private get active(): SegmentHandle {
    return this.segments[this.segments.length - 1];
  }

  // --- open / recovery ------------------------------------------------------------------------------------

  private async load(): Promise<void> {
    let names = await fs.promises.readdir(this.dir);
    if (await recoverCompactionLeftovers(this.dir, names, this.logger)) names = await fs.promises.readdir(this.dir);
    const bases = names.map((n) => parseSegmentFileName(n, 'log')).filter((b) => b >= 0).sort((a, b) => a - b);
    // Index files without their .log (a crash during deletion) are noise; remove them.
    const baseSet = new Set(bases);
    for (const n of names) {
      const b = Math.max(parseSegmentFileName(n, 'index'), parseSegmentFileName(n, 'timeindex'));
      if (b >= 0 && !baseSet.has(b)) await unlinkIfExists(path.join(this.dir, n));
      if (n.endsWith('.tmp')) await unlinkIfExists(path.join(this.dir, n));
    }
    const persistedStart = await this.readLogStartOffset();
    if (bases.length === 0) bases.push(persistedStart);
    for (let i = 0; i < bases.length; i++) {
      const h: SegmentHandle = { segment: new Segment(bases[i]), file: new SegmentFile(this.dir, bases[i]) };
      if (i < bases.length - 1) await loadSealedSegment(h.segment, h.file, bases[i + 1], this.config.indexIntervalBytes, this.logger);
      this.segments.push(h);
    }
    const active = this.active;
    await active.file.openForWrite();
    active.segment.offsetIndex = new OffsetIndex(active.segment.baseOffset);
    active.segment.timeIndex = new TimeIndex(active.segment.baseOffset);
    await recoverActiveSegment(active.segment, active.file, this.config.indexIntervalBytes, this.logger);
    await this.writeIndexes(active);
    this._startOffset = Math.max(persistedStart, this.segments[0].segment.baseOffset);
    this._endOffset = Math.max(active.segment.nextOffset, this._startOffset);
    active.segment.nextOffset = this._endOffset;
    this._highWatermark = this._endOffset;
    this.observer.onSegmentsChanged?.(this.segments.length);
  }

  private async readLogStartOffset(): Promise<number> {
    const value = await this.startOffsetFile.read();
    if (value === null) return 0;
    if (Number.isNaN(value)) {
      this.logger?.warn({ file: this.startOffsetFile.path }, 'storage: unreadable log-start-offset file; using the first segment');
      return 0;
    }
    return value;
  }

  private writeIndexes(h: SegmentHandle): Promise<void> {
    return h.file.writeIndexes(h.segment.offsetIndex!.encode(), h.segment.timeIndex!.encode());
  }

  // --- append ---------------------------------------------------------------------------------------------

  append(input: Buffer | ByteChunks): Promise<AppendResult> {
    // A batch kept as socket reads has its header made contiguous (a copy of at most 61 bytes, when it straddles),
    // so the header fields below are read and patched in one buffer; the rest goes to writev as it arrived.
    const bytes = input instanceof ByteChunks ? input.withHead(BATCH_HEADER_SIZE) : input;
    // The batch header's fields are read and patched here: the whole batch, or the first piece.
    const header = bytes instanceof ByteChunks ? bytes.pieces[0] : bytes;
    const length = bytes.length;
    if (this.closed) return Promise.reject(new StorageError('TRIB_LOG_CLOSED', `log ${this.dir} is closed`));
    if (this.failure !== null) return Promise.reject(new StorageError('TRIB_STORAGE_IO', `log ${this.dir} failed earlier: ${this.failure.message}`, { cause: this.failure }));
    if (length > this.config.maxMessageBytes) {
      return Promise.reject(new StorageError('TRIB_MESSAGE_TOO_LARGE', `batch of ${length} bytes exceeds maxMessageBytes ${this.config.maxMessageBytes}`));
    }
    let size: number;
    try {
      size = validateBatch(bytes);
    } catch (err) {
      return Promise.reject(new StorageError('TRIB_CORRUPT_RECORD', `rejected batch: ${(err as Error).message}`, { cause: err }));
    }
    if (size !== length) {
      return Promise.reject(new StorageError('TRIB_CORRUPT_RECORD', `rejected batch: ${length - size} bytes after the batch`));
    }
    // Offsets are taken now, synchronously, so they follow call order whatever the flush timing.
    const baseOffset = this._endOffset;
    setBatchBaseOffset(header, baseOffset);
    const lastOffset = baseOffset + header.readInt32BE(OFFSET_LAST_OFFSET_DELTA);
    this._endOffset = lastOffset + 1;
    return new Promise<AppendResult>((resolve, reject) => {
      this.writer.enqueue({
        batch: bytes,
        baseOffset,
        lastOffset,
        maxTimestamp: batchMaxTimestamp(header),
        recordsCount: header.readInt32BE(OFFSET_RECORDS_COUNT),
        resolve,
        reject,
      });
    });
  }

  appendRecords(records: readonly RecordInput[]): Promise<AppendResult> {
    return this.append(encodeRecordBatch(records));
  }

  /** Writes one group (see GroupCommit): per segment, one writev and, under `always`, one fdatasync. */
  private async flushGroup(group: PendingAppend[]): Promise<void> {
    if (this.failure !== null) throw new StorageError('TRIB_STORAGE_IO', `log ${this.dir} failed earlier: ${this.failure.message}`, { cause: this.failure });
    const { segmentBytes, segmentMs, indexIntervalBytes } = this.config;
    let i = 0;
    // Under `always` the fsync is pipelined for both visibilities: the next group is written while this one's
    // fsync runs (measured on the Kafka path: the writes no longer wait in line behind fsyncs).
    const pipelined = this.config.fsync === 'always';
    const visibleAtWrite = this.config.visibility === 'written';
    while (i < group.length) {
      if (this.active.segment.shouldRoll(group[i].batch.length, group[i].maxTimestamp, segmentBytes, segmentMs)) {
        // Unsynced appends belong to the active segment: they are durable before it is sealed.
        await this.syncsIdle();
        this.clearTail();
        await this.roll();
      }
      const h = this.active;
      const seg = h.segment;
      const position = seg.sizeBytes;
      const buffers: Buffer[] = [];
      let j = i;
      let bytes = 0;
      while (j < group.length) {
        const p = group[j];
        if (j > i && seg.shouldRoll(p.batch.length, p.maxTimestamp, segmentBytes, segmentMs)) break;
        seg.recordBatch(p.baseOffset, p.lastOffset, p.maxTimestamp, seg.sizeBytes, p.batch.length, indexIntervalBytes);
        if (p.batch instanceof ByteChunks) for (const piece of p.batch.pieces) buffers.push(piece);
        else buffers.push(p.batch);
        bytes += p.batch.length;
        j++;
      }
      try {
        const written = this.inlineWrites.allows(bytes, performance.now()) ? this.writeInline(h.file, buffers, position) : await h.file.writev(buffers, position);
        if (written !== bytes) throw new Error(`short write: ${written} of ${bytes} bytes`);
        if (pipelined) {
          // Its appends resolve after an fsync that starts after this write, while the next group is already
          // being written (syncLoop). Segment bytes up to here are written: the fsync makes them visible
          // (durable), unless readers may see them now ('written': they survive kill -9).
          for (let k = i; k < j; k++) this.unsynced.push(group[k]);
          this.writtenBytes = seg.sizeBytes;
          if (visibleAtWrite) {
            seg.visibleBytes = seg.sizeBytes;
            this._highWatermark = group[j - 1].lastOffset + 1;
            for (let k = i; k < j; k++) {
              const b = group[k].batch;
              // The tail cache serves reads as whole buffers: a batch that came as socket reads is joined here.
              this.tailBatches.push(b instanceof ByteChunks ? b.join() : b);
              this.tailBytes += b.length;
            }
            while (this.tailBytes > TAIL_CACHE_BYTES && this.tailBatches.length > 1) this.tailBytes -= this.tailBatches.shift()!.length;
            this.emit('append', this._highWatermark);
          }
          this.syncing ??= this.syncLoop();
          i = j;
          continue;
        }
        this.unsyncedBytes += bytes;
      } catch (err) {
        // The file may now hold part of the group: refuse further appends; reopening recovers the tail.
        this.failure = err as Error;
        this.logger?.warn({ file: h.file.logPath, position, err: (err as Error).message }, 'storage: write failed; log refuses appends until reopened');
        throw new StorageError('TRIB_STORAGE_IO', `write to ${h.file.logPath} failed: ${(err as Error).message}`, { cause: err });
      }
      seg.visibleBytes = seg.sizeBytes;
      this._highWatermark = group[j - 1].lastOffset + 1;
      const logAppendTime = Date.now();
      const onAppend = this.observer.onAppend;
      for (let k = i; k < j; k++) {
        const p = group[k];
        onAppend?.(p.recordsCount, p.batch.length);
        p.resolve({ baseOffset: p.baseOffset, lastOffset: p.lastOffset, logAppendTime });
      }
      this.emit('append', this._highWatermark);
      i = j;
    }
  }

  /** A small group's write on this thread (see InlineWritePolicy); a slow one sends writes to the pool for a while. */
  private writeInline(file: SegmentFile, buffers: Buffer[], position: number): number {
    const t0 = performance.now();
    const written = file.writevSync(buffers, position);
    const t1 = performance.now();
    if (this.inlineWrites.took(t1 - t0, t1)) {
      this.logger?.warn({ file: file.logPath, ms: Math.round((t1 - t0) * 10) / 10, backoffMs: this.inlineWrites.backoffMs }, 'storage: a write into the page cache blocked the event loop; writing on the thread pool for a while');
    }
    return written;
  }

  /**
   * Pipelined fsync (visibility 'written'): one fdatasync of the active segment at a time; each covers every
   * append written before it started, and resolves them in order. Appends written meanwhile wait for the next.
   * A failed fsync fails the log (as a failed write does) and rejects every unsynced append.
   */
  private async syncLoop(): Promise<void> {
    try {
      while (this.unsynced.length > 0) {
        const done = this.unsynced;
        // Taken together with `done`: the active segment's bytes those appends end at.
        const writtenBytes = this.writtenBytes;
        this.unsynced = [];
        const seg = this.active.segment;
        const file = this.active.file;
        try {
          const t0 = performance.now();
          await file.datasync();
          this.observer.onFsync?.(performance.now() - t0);
        } catch (err) {
          this.failure = err as Error;
          this.logger?.warn({ file: file.logPath, err: (err as Error).message }, 'storage: fsync failed; log refuses appends until reopened');
          const failed = new StorageError('TRIB_STORAGE_IO', `fsync of ${file.logPath} failed: ${(err as Error).message}`, { cause: err });
          const all = done.concat(this.unsynced);
          this.unsynced = [];
          for (const p of all) p.reject(failed);
          return;
        }
        if (this.config.visibility !== 'written') {
          // Durable visibility: readers see the appends once their fsync is done, before their producers hear.
          seg.visibleBytes = Math.max(seg.visibleBytes, writtenBytes);
          this._highWatermark = Math.max(this._highWatermark, done[done.length - 1].lastOffset + 1);
          this.emit('append', this._highWatermark);
        }
        const logAppendTime = Date.now();
        const onAppend = this.observer.onAppend;
        for (const p of done) {
          onAppend?.(p.recordsCount, p.batch.length);
          p.resolve({ baseOffset: p.baseOffset, lastOffset: p.lastOffset, logAppendTime });
        }
      }
    } finally {
      this.syncing = null;
    }
  }

  /**
   * Before each writer task (truncate, retention, compaction swap, close...): durable, no cached tail, and no
   * start offset still being written (a task sees every deleteRecords made before it).
   */
  private async beforeTask(): Promise<void> {
    await this.syncsIdle();
    await this.startOffsetFile.idle();
    this.clearTail();
  }

  private clearTail(): void {
    this.tailBatches = [];
    this.tailBytes = 0;
  }

  /**
   * Whole batches from the one holding `offset`, up to `maxBytes` (at least one), from the tail cache; null
   * when the cache does not reach back to `offset`. The cached batches were CRC-checked by append().
   */
  private readTail(offset: number, maxBytes: number): Buffer | null {
    const tail = this.tailBatches;
    if (tail.length === 0 || offset < batchBaseOffset(tail[0], 0)) return null;
    let i = tail.length - 1;
    while (i > 0 && batchBaseOffset(tail[i], 0) > offset) i--;
    if (batchBaseOffset(tail[i], 0) + tail[i].readInt32BE(OFFSET_LAST_OFFSET_DELTA) < offset) return null;
    let end = i + 1;
    let bytes = tail[i].length;
    while (end < tail.length && bytes + tail[end].length <= maxBytes) bytes += tail[end++].length;
    return end === i + 1 ? tail[i] : Buffer.concat(tail.slice(i, end), bytes);
  }

  /** Resolves once no pipelined fsync is running or owed. */
  private async syncsIdle(): Promise<void> {
    while (this.syncing !== null) await this.syncing;
  }

  /** Seals the active segment and starts a new one at the end offset. Runs inside the writer. */
  private async roll(): Promise<void> {
    const old = this.active;
    // Sealed segments are never recovered at open, so they must be on disk before anything follows them.
    await old.file.datasync();
    this.unsyncedBytes = 0;
    old.segment.sealTimeIndex();
    await this.writeIndexes(old);
    old.file.pinned = false;
    old.file.closeWhenIdle();
    this.touchLoadedIndexes(old);
    const base = old.segment.nextOffset;
    const h: SegmentHandle = { segment: new Segment(base), file: new SegmentFile(this.dir, base) };
    h.segment.offsetIndex = new OffsetIndex(base);
    h.segment.timeIndex = new TimeIndex(base);
    await h.file.openForWrite();
    // The new file's directory entry must be durable before records acknowledged in it are.
    await fsyncDir(this.dir);
    this.segments.push(h);
    this.observer.onSegmentsChanged?.(1);
  }

  // --- read -----------------------------------------------------------------------------------------------

  async read(offset: number, maxBytes: number): Promise<ReadResult> {
    this.assertOpen();
    for (let attempt = 0; ; attempt++) {
      const hw = this._highWatermark;
      const start = this._startOffset;
      if (offset < start || offset > hw) {
        throw new StorageError('TRIB_OFFSET_OUT_OF_RANGE', `offset ${offset} outside [${start}, ${hw}] of ${this.dir}`);
      }
      if (offset === hw) return { records: EMPTY, highWatermark: hw, startOffset: start };
      const cached = this.tailBatches.length === 0 ? null : this.readTail(offset, maxBytes);
      if (cached !== null) return { records: cached, highWatermark: hw, startOffset: start };
      const segments = this.segments;
      let records: Buffer | null = null;
      let retired = false;
      for (let si = this.segmentIndexFor(offset, segments); si < segments.length; si++) {
        const h = segments[si];
        const res = await this.readFromSegment(h, offset, maxBytes);
        if (res === 'retired') {
          retired = true;
          break;
        }
        if (res !== null) {
          records = res;
          break;
        }
      }
      if (retired && attempt < 5) continue;
      if (records === null) {
        // Everything from `offset` was deleted or truncated while we looked.
        if (attempt < 5 && (offset < this._startOffset || offset >= this._highWatermark)) continue;
        return { records: EMPTY, highWatermark: this._highWatermark, startOffset: this._startOffset };
      }
      return { records, highWatermark: hw, startOffset: start };
    }
  }

  /** Index in `segments` of the segment whose range holds `offset` (the last with baseOffset <= offset). */
  private segmentIndexFor(offset: number, segments: SegmentHandle[]): number {
    let lo = 0;
    let hi = segments.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (segments[mid].segment.baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /**
   * Whole batches of one segment from the batch holding `offset`: null when the segment has no batch at or
   * after `offset`; 'retired' when the segment left the log while we looked.
   */
  private async readFromSegment(h: SegmentHandle, offset: number, maxBytes: number): Promise<Buffer | 'retired' | null> {
    const { segment: seg, file } = h;
    if (seg.retired) return 'retired';
    const limit = seg.visibleBytes;
    if (limit === 0) return null;
    let fd: number;
    try {
      fd = await file.acquire();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'retired';
      throw err;
    }
    try {
      // Checked after acquire: a compaction swap keeps the old fd open until it has retired the segment, so an
      // fd acquired on a segment that is not retired is the file its index describes.
      if (seg.retired) return 'retired';
      this.touchReadFd(h);
      const index = await this.indexFor(h);
      const found = await this.findBatch(fd, file, index.lookup(offset), limit, (header) => batchBaseOffset(header, 0) + header.readInt32BE(OFFSET_LAST_OFFSET_DELTA) >= offset);
      if (found === null) return null;
      const want = Math.max(found.size, Math.min(maxBytes, limit - found.position));
      const buf = Buffer.allocUnsafe(want);
      const got = await SegmentFile.readFully(fd, buf, want, found.position);
      if (got < found.size) throw corrupt(file, found.position, `file ends ${found.size - got} bytes into the batch`);
      // Return whole batches only, each checked: a reader must never be handed garbage.
      let p = 0;
      let prevNext = -1;
      // A view only when the file was shorter than asked (rare): no allocation per batch in the usual case.
      const data = got === want ? buf : buf.subarray(0, got);
      while (got - p >= LOG_OVERHEAD) {
        const size = buf.readInt32BE(p + OFFSET_BATCH_LENGTH) + LOG_OVERHEAD;
        if (size > got - p && p > 0) break;
        try {
          // CRC-32C of every returned batch (about 2.8 GB/s): the price of never handing out flipped bits.
          validateBatch(data, p);
        } catch (err) {
          throw corrupt(file, found.position + p, (err as Error).message);
        }
        const base = batchBaseOffset(buf, p);
        if (base < prevNext) throw corrupt(file, found.position + p, `baseOffset ${base} goes backwards`);
        prevNext = base + buf.readInt32BE(p + OFFSET_LAST_OFFSET_DELTA) + 1;
        p += size;
      }
      return p === got ? buf : buf.subarray(0, p);
    } finally {
      file.release();
    }
  }

  /**
   * Scans batch headers forward from `position` (a small buffer per header, never the data) until `match`
   * accepts one. Returns its position and size, or null at `limit`.
   */
  private async findBatch(
    fd: number,
    file: SegmentFile,
    position: number,
    limit: number,
    match: (header: Buffer) => boolean,
  ): Promise<{ position: number; size: number; header: Buffer } | null> {
    const header = Buffer.allocUnsafe(BATCH_HEADER_SIZE);
    let pos = position;
    while (pos < limit) {
      if (limit - pos < BATCH_HEADER_SIZE) throw corrupt(file, pos, `${limit - pos} bytes left, less than a batch header`);
      const got = await SegmentFile.readFully(fd, header, BATCH_HEADER_SIZE, pos);
      if (got < BATCH_HEADER_SIZE) throw corrupt(file, pos, 'file ends inside a batch header');
      const size = header.readInt32BE(OFFSET_BATCH_LENGTH) + LOG_OVERHEAD;
      if (header.readInt8(OFFSET_MAGIC) !== MAGIC_V2) throw corrupt(file, pos, `magic ${header.readInt8(OFFSET_MAGIC)}`);
      if (size < BATCH_HEADER_SIZE || pos + size > limit) throw corrupt(file, pos, `batch of ${size} bytes does not fit in the segment`);
      if (match(header)) return { position: pos, size, header };
      pos += size;
    }
    return null;
  }

  /** The offset index of a segment, loading (and validating or rebuilding) it if needed. */
  private async indexFor(h: SegmentHandle): Promise<OffsetIndex> {
    await this.ensureIndexes(h);
    return h.segment.offsetIndex!;
  }

  private async ensureIndexes(h: SegmentHandle): Promise<void> {
    const seg = h.segment;
    if (seg.offsetIndex !== null && seg.timeIndex !== null) {
      if (h !== this.active) this.touchLoadedIndexes(h);
      return;
    }
    let loading = this.indexLoads.get(seg);
    if (loading === undefined) {
      loading = loadIndexes(seg, h.file, this.config.indexIntervalBytes, this.config.maxMessageBytes, this.logger).finally(() => this.indexLoads.delete(seg));
      this.indexLoads.set(seg, loading);
    }
    await loading;
    this.touchLoadedIndexes(h);
  }

  private touchReadFd(h: SegmentHandle): void {
    if (h.file.pinned) return;
    const i = this.openReadFds.indexOf(h);
    if (i >= 0) this.openReadFds.splice(i, 1);
    this.openReadFds.push(h);
    while (this.openReadFds.length > MAX_OPEN_READ_FDS) this.openReadFds.shift()!.file.closeWhenIdle();
  }

  private touchLoadedIndexes(h: SegmentHandle): void {
    const i = this.loadedIndexes.indexOf(h);
    if (i >= 0) this.loadedIndexes.splice(i, 1);
    this.loadedIndexes.push(h);
    while (this.loadedIndexes.length > MAX_LOADED_INDEXES) {
      const evicted = this.loadedIndexes.shift()!;
      // Readers keep their own reference to the index object, so dropping ours is safe mid-read.
      if (evicted !== this.active && !evicted.segment.retired) {
        evicted.segment.offsetIndex = null;
        evicted.segment.timeIndex = null;
      }
    }
  }

  async offsetForTimestamp(timestamp: number): Promise<{ offset: number; timestamp: number } | null> {
    this.assertOpen();
    const segments = this.segments;
    for (const h of segments) {
      const seg = h.segment;
      const isActive = h === segments[segments.length - 1];
      // A sealed segment's largest timestamp is known without reading it.
      if (!isActive && seg.maxTimestamp >= 0 && seg.maxTimestamp < timestamp) continue;
      if (seg.visibleBytes === 0 || seg.retired) continue;
      const found = await this.firstRecordAtOrAfter(h, timestamp);
      if (found !== null) return found;
    }
    return null;
  }

  private async firstRecordAtOrAfter(h: SegmentHandle, timestamp: number): Promise<{ offset: number; timestamp: number } | null> {
    const fd = await h.file.acquire();
    try {
      await this.ensureIndexes(h);
      const { offsetIndex, timeIndex } = h.segment;
      const limit = h.segment.visibleBytes;
      const hw = this._highWatermark;
      let pos = offsetIndex!.lookup(timeIndex!.lookup(timestamp));
      for (;;) {
        const found = await this.findBatch(fd, h.file, pos, limit, (header) => batchMaxTimestamp(header, 0) >= timestamp);
        if (found === null) return null;
        const batch = Buffer.allocUnsafe(found.size);
        await SegmentFile.readFully(fd, batch, found.size, found.position);
        try {
          validateBatch(batch);
        } catch (err) {
          throw corrupt(h.file, found.position, (err as Error).message);
        }
        for (const rec of decodeRecordBatch(batch)) {
          if (rec.offset >= hw) return null;
          if (rec.offset >= this._startOffset && rec.timestamp >= timestamp) return { offset: rec.offset, timestamp: rec.timestamp };
        }
        pos = found.position + found.size;
      }
    } finally {
      h.file.release();
    }
  }

  // --- truncate, delete, retention ------------------------------------------------------------------------

  truncate(offset: number): Promise<void> {
    this.assertOpen();
    return this.writer.exclusive(() => this.truncateNow(offset));
  }

  private async truncateNow(offset: number): Promise<void> {
    if (offset >= this._endOffset) return;
    const to = Math.max(offset, this._startOffset);
    // Find the first batch with lastOffset >= to.
    let si = this.segmentIndexFor(to, this.segments);
    let cut: { position: number; baseOffset: number } | null = null;
    for (; si < this.segments.length && cut === null; si++) {
      const h = this.segments[si];
      const fd = await h.file.acquire();
      try {
        const index = await this.indexFor(h);
        const found = await this.findBatch(fd, h.file, index.lookup(to), h.segment.sizeBytes, (header) => batchBaseOffset(header, 0) + header.readInt32BE(OFFSET_LAST_OFFSET_DELTA) >= to);
        if (found !== null) cut = { position: found.position, baseOffset: batchBaseOffset(found.header, 0) };
      } finally {
        h.file.release();
      }
      if (cut !== null) break;
    }
    if (cut === null) return;
    const newEnd = Math.max(cut.baseOffset, this._startOffset);
    // Whole segments after the cut go first (newest first, so a crash leaves a prefix of the log).
    while (this.segments.length - 1 > si) await this.dropSegment(this.segments.length - 1);
    let h = this.segments[si];
    if (cut.position === 0 && h.segment.baseOffset !== newEnd && si > 0) {
      // An emptied segment is replaced by one named for the new end, so the end offset survives a restart.
      await this.dropSegment(si);
      h = { segment: new Segment(newEnd), file: new SegmentFile(this.dir, newEnd) };
      h.segment.offsetIndex = new OffsetIndex(newEnd);
      h.segment.timeIndex = new TimeIndex(newEnd);
      await h.file.openForWrite();
      this.segments.push(h);
      this.observer.onSegmentsChanged?.(1);
    } else {
      // Later segments (including the old active one) are gone, so `h` is now the active segment.
      await h.file.openForWrite();
      await h.file.truncate(cut.position);
      await h.file.datasync();
      // Header-only rescan of what remains: exact sizes, timestamps and indexes without a second code path.
      await rebuildIndexes(h.segment, h.file, h.file.writeFd, cut.position, this.config.indexIntervalBytes, false);
      h.segment.generation++;
      const idx = this.loadedIndexes.indexOf(h);
      if (idx >= 0) this.loadedIndexes.splice(idx, 1);
      const fdIdx = this.openReadFds.indexOf(h);
      if (fdIdx >= 0) this.openReadFds.splice(fdIdx, 1);
    }
    h.segment.nextOffset = newEnd;
    await this.writeIndexes(h);
    await fsyncDir(this.dir);
    this._endOffset = newEnd;
    this._highWatermark = newEnd;
  }

  /** Removes segment `i` from the list and unlinks its files. Runs inside the writer. */
  private async dropSegment(i: number): Promise<void> {
    const [h] = this.segments.splice(i, 1);
    h.segment.retired = true;
    for (const list of [this.openReadFds, this.loadedIndexes]) {
      const k = list.indexOf(h);
      if (k >= 0) list.splice(k, 1);
    }
    await h.file.delete();
    this.observer.onSegmentsChanged?.(-1);
  }

  /**
   * Raises the start offset to `beforeOffset` (at most the high watermark); resolves with the start offset.
   * The new start is durable before readers see it (a restart must not resurrect deleted records), but it is
   * written beside the writer, not as a task: appends do not wait for a trim. Only dropping whole segments
   * below it is a writer task.
   */
  async deleteRecords(beforeOffset: number): Promise<number> {
    this.assertOpen();
    const target = Math.min(Math.max(beforeOffset, this._startOffset), this._highWatermark);
    if (target > this._startOffset) {
      await this.startOffsetFile.persist(target);
      // A truncate cannot have cut below it meanwhile (it starts after the write), but clamp all the same.
      this._startOffset = Math.max(this._startOffset, Math.min(target, this._endOffset));
    }
    if (!this.closed && this.segments.length > 1 && this.segments[1].segment.baseOffset <= this._startOffset) {
      await this.writer.exclusive(() => this.dropSegmentsBelowStart());
    }
    return this._startOffset;
  }

  /** Drops the segments wholly below the start offset (a writer task). */
  private async dropSegmentsBelowStart(): Promise<void> {
    let dropped = 0;
    while (this.segments.length > 1 && this.segments[1].segment.baseOffset <= this._startOffset) {
      await this.dropSegment(0);
      dropped++;
    }
    if (dropped > 0) await fsyncDir(this.dir);
  }

  enforceRetention(now = Date.now()): Promise<number> {
    this.assertOpen();
    return this.writer.exclusive(async () => {
      const count = segmentsToDelete(this.segments.map((h) => h.segment), this.config, now);
      for (let i = 0; i < count; i++) await this.dropSegment(0);
      if (count > 0) {
        this._startOffset = Math.max(this._startOffset, this.segments[0].segment.baseOffset);
        if (this._highWatermark < this._startOffset) this._highWatermark = this._startOffset;
        await fsyncDir(this.dir);
      }
      return count;
    });
  }

  // --- compaction -----------------------------------------------------------------------------------------

  /**
   * Compacts the sealed segments (cleanupPolicy must include 'compact'): newest record per key wins,
   * tombstones older than deleteRetentionMs go. Runs in the background (reads and appends continue); only the
   * final swap of each segment goes through the writer. Concurrent calls share one run.
   */
  compact(now = Date.now()): Promise<CompactionResult> {
    this.assertOpen();
    if (!this.config.cleanupPolicy.includes('compact')) return Promise.resolve({ segmentsCleaned: 0, recordsRemoved: 0, bytesBefore: 0, bytesAfter: 0 });
    if (this.compaction === null) {
      this.compaction = compactLog(
        {
          dir: this.dir,
          config: this.config,
          maxKeys: this.compactionMaxKeys,
          logger: this.logger,
          sealedSegments: () => this.segments.slice(0, -1),
          ensureIndexes: (h) => this.ensureIndexes(h),
          swap: (old, replacement) => this.writer.exclusive(() => this.swapSegment(old, replacement)),
        },
        now,
      ).finally(() => {
        this.compaction = null;
      });
    }
    return this.compaction;
  }

  /** Puts a compacted copy in place of `old` if `old` is still a sealed, unchanged segment of the log. */
  private async swapSegment(old: SegmentHandle, replacement: { segment: Segment; generation: number; commit: () => Promise<void>; abandon: () => Promise<void> }): Promise<boolean> {
    const i = this.segments.indexOf(old);
    if (this.closed || i < 0 || i === this.segments.length - 1 || old.segment.generation !== replacement.generation) {
      await replacement.abandon();
      return false;
    }
    const h: SegmentHandle = { segment: replacement.segment, file: new SegmentFile(this.dir, old.segment.baseOffset) };
    // Hold the old file open across the renames: readers of the old handle then all use the old inode (the
    // shared fd), never the new file by path with the old index. Readers only find the new handle once the
    // path already names the new file.
    await old.file.acquire();
    try {
      await replacement.commit();
      old.segment.retired = true;
      this.segments[i] = h;
      for (const list of [this.openReadFds, this.loadedIndexes]) {
        const k = list.indexOf(old);
        if (k >= 0) list.splice(k, 1);
      }
    } finally {
      old.file.release();
    }
    old.file.closeWhenIdle();
    this.touchLoadedIndexes(h);
    return true;
  }

  private async runMaintenance(): Promise<void> {
    if (this.closed) return;
    try {
      await this.enforceRetention();
      if (this.config.cleanupPolicy.includes('compact')) await this.compact();
    } catch (err) {
      this.logger?.warn({ dir: this.dir, err: (err as Error).message }, 'storage: maintenance failed');
    }
  }

  // --- flush / close --------------------------------------------------------------------------------------

  flush(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.writer.exclusive(() => this.syncActive());
  }

  private async syncActive(): Promise<void> {
    if (this.unsyncedBytes === 0 || this.failure !== null) return;
    const t0 = performance.now();
    this.unsyncedBytes = 0;
    await this.active.file.datasync();
    this.observer.onFsync?.(performance.now() - t0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    if (this.compaction !== null) await this.compaction.catch(() => undefined);
    await this.writer.exclusive(async () => {
      if (this.failure === null) {
        await this.syncActive();
        const active = this.active;
        active.segment.sealTimeIndex();
        await this.writeIndexes(active);
      }
      for (const h of this.segments) {
        h.file.pinned = false;
        h.file.closeWhenIdle();
      }
      this.observer.onSegmentsChanged?.(-this.segments.length);
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageError('TRIB_LOG_CLOSED', `log ${this.dir} is closed`);
  }
}
