/**
 * MemoryLog: the `memory` storage kind — the same contract as the file-backed PartitionLog, held in process
 * memory. Used for memory streams (NATS core-style subjects with a stream, transient AMQP queues) and as a
 * fast log in tests of the layers above. Nothing survives a restart, by design.
 *
 * Format: an array of record batches exactly as PartitionLog stores them (Kafka v2 bytes, baseOffset patched).
 * Every append is visible at once (there is nothing to fsync), so highWatermark === endOffset.
 * Memory is bounded by the same retention limits as a file log (bytes, age), applied per batch rather than
 * per segment.
 */
import { EventEmitter } from 'node:events';
import {
  batchBaseOffset,
  batchLastOffset,
  batchMaxTimestamp,
  decodeRecordBatch,
  encodeRecordBatch,
  setBatchBaseOffset,
  validateBatch,
  type RecordInput,
} from './record-batch.js';
import { DEFAULT_LOG_CONFIG, type AppendResult, type Log, type LogConfig, type ReadResult } from './log.js';
import { StorageError } from './storage-error.js';
import { ByteChunks } from '../wire/index.js';

export class MemoryLog extends EventEmitter implements Log {
  readonly config: LogConfig;
  private batches: Buffer[] = [];
  private _startOffset = 0;
  private _endOffset = 0;
  private _sizeBytes = 0;
  private closed = false;

  constructor(config: Partial<LogConfig> = {}) {
    super();
    this.config = { ...DEFAULT_LOG_CONFIG, ...config };
  }

  get startOffset(): number {
    return this._startOffset;
  }
  get endOffset(): number {
    return this._endOffset;
  }
  get highWatermark(): number {
    return this._endOffset;
  }
  get sizeBytes(): number {
    return this._sizeBytes;
  }

  async append(input: Buffer | ByteChunks): Promise<AppendResult> {
    if (this.closed) throw new StorageError('TRIB_LOG_CLOSED', 'memory log is closed');
    // Kept in memory as one buffer: a batch that arrived as socket reads is joined (a copy it would get anyway).
    const batch = input instanceof ByteChunks ? input.join() : input;
    if (batch.length > this.config.maxMessageBytes) {
      throw new StorageError('TRIB_MESSAGE_TOO_LARGE', `batch of ${batch.length} bytes exceeds maxMessageBytes ${this.config.maxMessageBytes}`);
    }
    // Same check as PartitionLog: the contract promises a stored batch is intact (found by the contract suite).
    let size: number;
    try {
      size = validateBatch(batch);
    } catch (err) {
      throw new StorageError('TRIB_CORRUPT_RECORD', `rejected batch: ${(err as Error).message}`, { cause: err });
    }
    if (size !== batch.length) throw new StorageError('TRIB_CORRUPT_RECORD', `rejected batch: ${batch.length - size} bytes after the batch`);
    // Own the bytes: the caller's buffer may be a view into a larger socket chunk (a Kafka produce). A buffer
    // that is its whole allocation (a batch the core just encoded) is kept as is: copying it cost the transient
    // AMQP path a few per cent of its CPU.
    const whole = batch.byteOffset === 0 && batch.buffer.byteLength === batch.length;
    const stored = whole ? batch : Buffer.from(batch);
    const baseOffset = this._endOffset;
    setBatchBaseOffset(stored, baseOffset);
    const lastOffset = batchLastOffset(stored);
    this.batches.push(stored);
    this._endOffset = lastOffset + 1;
    this._sizeBytes += stored.length;
    this.enforceBytes();
    this.emit('append', this._endOffset);
    return { baseOffset, lastOffset, logAppendTime: Date.now() };
  }

  appendRecords(records: readonly RecordInput[]): Promise<AppendResult> {
    return this.append(encodeRecordBatch(records));
  }

  /** Index of the batch containing `offset` (binary search over base offsets). */
  private batchIndexFor(offset: number): number {
    let lo = 0;
    let hi = this.batches.length - 1;
    let found = this.batches.length;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (batchLastOffset(this.batches[mid]) >= offset) {
        found = mid;
        hi = mid - 1;
      } else {
        lo = mid + 1;
      }
    }
    return found;
  }

  async read(offset: number, maxBytes: number): Promise<ReadResult> {
    if (offset < this._startOffset || offset > this._endOffset) {
      throw new StorageError('TRIB_OFFSET_OUT_OF_RANGE', `offset ${offset} outside [${this._startOffset}, ${this._endOffset}]`);
    }
    const parts: Buffer[] = [];
    let size = 0;
    for (let i = this.batchIndexFor(offset); i < this.batches.length; i++) {
      const b = this.batches[i];
      if (parts.length > 0 && size + b.length > maxBytes) break;
      parts.push(b);
      size += b.length;
    }
    return {
      records: parts.length === 1 ? parts[0] : Buffer.concat(parts, size),
      highWatermark: this._endOffset,
      startOffset: this._startOffset,
    };
  }

  async offsetForTimestamp(timestamp: number): Promise<{ offset: number; timestamp: number } | null> {
    for (const b of this.batches) {
      if (batchMaxTimestamp(b) < timestamp) continue;
      for (const rec of decodeRecordBatch(b)) {
        if (rec.offset >= this._startOffset && rec.timestamp >= timestamp) return { offset: rec.offset, timestamp: rec.timestamp };
      }
    }
    return null;
  }

  async truncate(offset: number): Promise<void> {
    if (offset >= this._endOffset) return;
    const to = Math.max(offset, this._startOffset);
    // Whole batches only: a batch holding `to` cannot be split without re-encoding, so it goes too and the end
    // becomes its base offset (as in PartitionLog). The end used to be derived from the remaining batches,
    // which disagreed with the file log when every batch was removed.
    let newEnd = this._endOffset;
    while (this.batches.length > 0 && batchLastOffset(this.batches[this.batches.length - 1]) >= to) {
      const b = this.batches.pop()!;
      this._sizeBytes -= b.length;
      newEnd = batchBaseOffset(b);
    }
    this._endOffset = Math.max(newEnd, this._startOffset);
  }

  async deleteRecords(beforeOffset: number): Promise<number> {
    const target = Math.min(Math.max(beforeOffset, this._startOffset), this._endOffset);
    while (this.batches.length > 0 && batchLastOffset(this.batches[0]) < target) {
      this._sizeBytes -= this.batches.shift()!.length;
    }
    this._startOffset = target;
    return this._startOffset;
  }

  async enforceRetention(now = Date.now()): Promise<number> {
    // A pure 'compact' policy keeps data forever, as in PartitionLog (retention.ts).
    if (!this.config.cleanupPolicy.includes('delete')) return 0;
    let removed = 0;
    if (this.config.retentionMs >= 0) {
      while (this.batches.length > 1 && batchMaxTimestamp(this.batches[0]) < now - this.config.retentionMs) {
        const b = this.batches.shift()!;
        this._sizeBytes -= b.length;
        this._startOffset = batchLastOffset(b) + 1;
        removed++;
      }
    }
    return removed + this.enforceBytes();
  }

  private enforceBytes(): number {
    let removed = 0;
    if (this.config.retentionBytes < 0 || !this.config.cleanupPolicy.includes('delete')) return 0;
    while (this.batches.length > 1 && this._sizeBytes > this.config.retentionBytes) {
      const b = this.batches.shift()!;
      this._sizeBytes -= b.length;
      this._startOffset = batchLastOffset(b) + 1;
      removed++;
    }
    return removed;
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
  }
}
