/**
 * The contract every partition log implements — the file-backed PartitionLog and the in-memory MemoryLog —
 * so the core (Stream, Cursor, Metadata) and the protocols never know which one they hold.
 *
 * Offsets: `startOffset` is the first offset still readable (raised by retention and deleteRecords);
 * `endOffset` is the offset the next appended record will get (log end offset); `highWatermark` is the end
 * of what is durable under the fsync policy and therefore visible to readers and acknowledged to writers
 * (with `visibility: 'written'` it is the end of what is written, and may run ahead of acknowledged appends
 * until their fsync). Reads never return records at or beyond the high watermark.
 *
 * Concurrency: one Node thread. Appends are serialised by the log (group commit); reads may run at any time
 * and never block appends.
 */
import type { EventEmitter } from 'node:events';
import type { RecordInput } from './record-batch.js';
import type { ByteChunks } from '../wire/index.js';

export type FsyncPolicy = 'always' | 'interval' | 'never';
export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';
/**
 * When readers see an appended record under fsync `always`: `durable` once its fsync returned (the default),
 * `written` once its write returned, before the fsync (the append still resolves only after the fsync). A
 * `written` record survives kill -9 (it is in the page cache) but not power loss; queue cursors use it so a
 * consumer does not wait for the disk (as RabbitMQ delivers before it persists). Other policies: no difference.
 */
export type LogVisibility = 'durable' | 'written';

export interface LogConfig {
  /** Roll the active segment when it would grow past this many bytes. */
  segmentBytes: number;
  /** Roll the active segment when its first batch is older than this (ms). */
  segmentMs: number;
  /** Add an offset-index and time-index entry every this many bytes of log. */
  indexIntervalBytes: number;
  fsync: FsyncPolicy;
  /** With fsync 'interval': how often (ms). */
  fsyncIntervalMs: number;
  /** Delete whole segments whose newest record is older than this (ms); -1 keeps forever. */
  retentionMs: number;
  /** Delete oldest whole segments while the log is larger than this; -1 for no limit. */
  retentionBytes: number;
  cleanupPolicy: CleanupPolicy;
  /** Compaction keeps tombstones (null value) at least this long before removing them (ms). */
  deleteRetentionMs: number;
  /** Largest batch accepted by append (bytes). */
  maxMessageBytes: number;
  /** See LogVisibility; absent = 'durable'. */
  visibility?: LogVisibility;
}

export const DEFAULT_LOG_CONFIG: LogConfig = {
  segmentBytes: 128 * 1024 * 1024,
  segmentMs: 7 * 24 * 3600 * 1000,
  indexIntervalBytes: 4096,
  fsync: 'always',
  fsyncIntervalMs: 1000,
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: -1,
  cleanupPolicy: 'delete',
  deleteRetentionMs: 24 * 3600 * 1000,
  maxMessageBytes: 1024 * 1024 + 12,
};

export interface AppendResult {
  /** Offset given to the first record of the appended batch. */
  baseOffset: number;
  /** Offset of the last record. */
  lastOffset: number;
  /** Broker time of the append (ms), for LogAppendTime topics. */
  logAppendTime: number;
}

export interface ReadResult {
  /** Whole record batches, concatenated, starting with the batch that contains the requested offset. */
  records: Buffer;
  highWatermark: number;
  startOffset: number;
}

export interface Log extends EventEmitter {
  readonly startOffset: number;
  readonly endOffset: number;
  readonly highWatermark: number;
  readonly config: LogConfig;
  /** Bytes held by the log (all segments). */
  readonly sizeBytes: number;

  /**
   * Appends one record batch (Kafka v2 bytes, CRC checked by the caller or by `validateBatch`). The log
   * rewrites baseOffset in place. Resolves once the fsync policy is met. Throws StorageError (TRIB_LOG_CLOSED) on a closed log
   * or TRIB_MESSAGE_TOO_LARGE for a batch over maxMessageBytes. The batch may be ByteChunks (a Produce's
   * records as their socket reads): the file log writes the pieces as they are; the log owns them afterwards.
   */
  append(batch: Buffer | ByteChunks): Promise<AppendResult>;
  /** Encodes records into one batch and appends it. */
  appendRecords(records: readonly RecordInput[]): Promise<AppendResult>;
  /**
   * Whole batches from the one containing `offset`, up to `maxBytes` — but always at least one batch when
   * there is one, whatever its size (a consumer must not stall on a large batch). Empty when `offset` is at
   * the high watermark. Throws StorageError TRIB_OFFSET_OUT_OF_RANGE outside [startOffset, highWatermark].
   */
  read(offset: number, maxBytes: number): Promise<ReadResult>;
  /** The first offset whose timestamp is >= `timestamp`, or null if none. */
  offsetForTimestamp(timestamp: number): Promise<{ offset: number; timestamp: number } | null>;
  /** Removes every record at or after `offset` (for replication); end offset becomes `offset`. */
  truncate(offset: number): Promise<void>;
  /** Makes records before `offset` unreadable (raises startOffset); whole segments below are deleted. */
  deleteRecords(beforeOffset: number): Promise<number>;
  /** Applies retention (age, bytes) now; returns how many segments were deleted. */
  enforceRetention(now?: number): Promise<number>;
  /** Forces everything appended so far to disk. */
  flush(): Promise<void>;
  close(): Promise<void>;

  /** 'append' (highWatermark: number) is emitted whenever the high watermark advances. */
  on(event: 'append', listener: (highWatermark: number) => void): this;
}

/**
 * Hooks a log calls so the server can export metrics without storage importing the metrics library.
 * All methods are optional and must be cheap: they run on the append path.
 */
export interface StorageObserver {
  /** A batch of `records` records and `bytes` bytes was appended (called once per batch). */
  onAppend?(records: number, bytes: number): void;
  /** One fsync took `ms` milliseconds. */
  onFsync?(ms: number): void;
  /** Open segments changed by `delta` (+1 on roll/open, -1 on delete/close). */
  onSegmentsChanged?(delta: number): void;
}
