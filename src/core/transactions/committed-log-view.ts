/**
 * CommittedLogView: a partition's Log as a cursor of another protocol should read it when Kafka producers write
 * it transactionally — read_committed. It is the Log itself except for `read`:
 *   - the partition's transaction index is built first (once per partition after a start: see
 *     PartitionTxnIndex.ensure), whatever the chunk holds: a chunk of plain records may lie past the first
 *     offset of a transaction still open, which only the index knows;
 *   - with no transaction open and no transactional batch in the chunk, the chunk is returned as read (the
 *     fast path: a header walk and a map size, no copy);
 *   - otherwise batches at or past the last stable offset are cut off, and a read that would return nothing
 *     because an open transaction starts at or before `offset` waits until that transaction ends (its marker
 *     or the coordinator's timeout abort), so a cursor neither delivers uncommitted records nor polls for them;
 *   - each batch of an aborted transaction is replaced by a record-less control batch spanning the same
 *     offsets, which cursors skip like the markers, so the read still covers those offsets.
 * `highWatermark` and 'append' events are the log's own: a cursor may wake for an append it cannot read yet, and
 * its read then waits as above.
 *
 * `readCommitted` is the same read without the wait, for callers that must answer now (Stream.readMessages:
 * the HTTP records route and event stream): it returns nothing at an open transaction and says so.
 *
 * Invariant: the view never mutates the log's buffers (the replacement batches are new 61-byte buffers).
 */
import { EventEmitter } from 'node:events';
import {
  ATTR_CONTROL,
  ATTR_TRANSACTIONAL,
  BATCH_HEADER_SIZE,
  LOG_OVERHEAD,
  MAGIC_V2,
  OFFSET_ATTRIBUTES,
  batchBaseOffset,
  batchLastOffset,
  batchProducerId,
  hasTransactionalBatch,
  iterateBatches,
  isTransactionalDataBatch,
} from '../../storage/record-batch.js';
import type { AppendResult, Log, LogConfig, ReadResult } from '../../storage/log.js';
import type { RecordInput } from '../../storage/record-batch.js';
import type { Stream } from '../stream.js';
import type { PartitionTxnIndex, PartitionTxns } from './partition-txn-index.js';

export class CommittedLogView extends EventEmitter implements Log {
  private readonly log: Log;

  constructor(
    private readonly stream: Stream,
    private readonly partition: number,
    private readonly index: PartitionTxnIndex,
  ) {
    super();
    this.log = stream.partitionLog(partition);
  }

  get startOffset(): number {
    return this.log.startOffset;
  }
  get endOffset(): number {
    return this.log.endOffset;
  }
  get highWatermark(): number {
    return this.log.highWatermark;
  }
  get config(): LogConfig {
    return this.log.config;
  }
  get sizeBytes(): number {
    return this.log.sizeBytes;
  }

  // Listeners go to the log itself, so nothing is left registered here when a cursor detaches.
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    this.log.on(event as 'append', listener);
    return this;
  }
  override addListener(event: string | symbol, listener: (...args: any[]) => void): this {
    return this.on(event, listener);
  }
  override once(event: string | symbol, listener: (...args: any[]) => void): this {
    this.log.once(event, listener);
    return this;
  }
  override off(event: string | symbol, listener: (...args: any[]) => void): this {
    this.log.off(event, listener);
    return this;
  }
  override removeListener(event: string | symbol, listener: (...args: any[]) => void): this {
    return this.off(event, listener);
  }

  append(batch: Buffer): Promise<AppendResult> {
    return this.log.append(batch);
  }
  appendRecords(records: readonly RecordInput[]): Promise<AppendResult> {
    return this.log.appendRecords(records);
  }
  offsetForTimestamp(timestamp: number): Promise<{ offset: number; timestamp: number } | null> {
    return this.log.offsetForTimestamp(timestamp);
  }
  truncate(offset: number): Promise<void> {
    return this.log.truncate(offset);
  }
  deleteRecords(beforeOffset: number): Promise<number> {
    return this.log.deleteRecords(beforeOffset);
  }
  enforceRetention(now?: number): Promise<number> {
    return this.log.enforceRetention(now);
  }
  flush(): Promise<void> {
    return this.log.flush();
  }
  close(): Promise<void> {
    return this.log.close();
  }

  async read(offset: number, maxBytes: number): Promise<ReadResult> {
    for (;;) {
      const { blockedBy, ...result } = await readCommitted(this.log, this.stream, this.partition, this.index, offset, maxBytes);
      if (blockedBy === null) return result;
      // Everything readable from `offset` belongs to (or follows) an open transaction: wait for it to end.
      await blockedBy.stableBeyond(offset);
    }
  }
}

export interface CommittedRead extends ReadResult {
  /** When nothing was returned because a transaction open at `offset` comes first: its partition state, else null. */
  blockedBy: PartitionTxns | null;
}

/**
 * One read_committed read of `log` (the partition's own log) from `offset`: whole batches below the last stable
 * offset, aborted transactions' batches replaced by record-less control batches. Never waits.
 */
export async function readCommitted(log: Log, stream: Stream, partition: number, index: PartitionTxnIndex, offset: number, maxBytes: number): Promise<CommittedRead> {
  // Built before the read, so the LSO below is never older than the records it cuts.
  const txns = await index.ensure(stream, partition);
  const result = await log.read(offset, maxBytes);
  // The fast path: nothing open (LSO = high watermark) and nothing of a transaction to replace.
  if (result.records.length === 0 || (txns.ongoing.size === 0 && !hasTransactionalBatch(result.records))) return { ...result, blockedBy: null };
  const lso = txns.lastStableOffset(log.highWatermark);
  const records = committedOnly(result.records, lso, txns);
  if (records.length > 0) return { ...result, records, blockedBy: null };
  // Nothing below the LSO although it lies past `offset` cannot happen (the LSO is a batch boundary); were
  // it to, the raw chunk keeps the reader moving rather than waiting for nothing.
  if (lso > offset) return { ...result, blockedBy: null };
  return { ...result, records, blockedBy: txns };
}

/** The whole batches below `lso`, with aborted transactions' batches replaced by record-less skip batches. */
function committedOnly(records: Buffer, lso: number, txns: PartitionTxns): Buffer {
  const parts: Buffer[] = [];
  let replaced = false;
  let end = 0;
  for (const { position, size } of iterateBatches(records)) {
    if (batchLastOffset(records, position) >= lso) break;
    end = position + size;
    const base = batchBaseOffset(records, position);
    if (isTransactionalDataBatch(records, position) && txns.isAborted(batchProducerId(records, position), base)) {
      parts.push(skipBatch(records, position));
      replaced = true;
    } else parts.push(records.subarray(position, position + size));
  }
  if (!replaced) return end === records.length ? records : records.subarray(0, end);
  return Buffer.concat(parts);
}

/** A control batch header with no records covering the same offsets as the batch at `pos`. */
function skipBatch(records: Buffer, pos: number): Buffer {
  const b = Buffer.from(records.subarray(pos, pos + BATCH_HEADER_SIZE));
  b.writeInt32BE(BATCH_HEADER_SIZE - LOG_OVERHEAD, 8);
  b.writeInt8(MAGIC_V2, 16);
  b.writeUInt32BE(0, 17); // never validated: it exists only between the view and a cursor
  b.writeInt16BE(ATTR_CONTROL | ATTR_TRANSACTIONAL, OFFSET_ATTRIBUTES);
  b.writeInt32BE(0, BATCH_HEADER_SIZE - 4); // recordsCount
  return b;
}
