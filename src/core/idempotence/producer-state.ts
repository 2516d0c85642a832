/**
 * Idempotent-producer state (Kafka KIP-98 semantics; transactions are core/transactions/): producer id allocation and, per
 * (stream, partition, producerId), the epoch and the sequence ranges of the last few appended batches.
 *
 * Producer ids: allocated in blocks; the end of the current block is written to the MetadataStore
 * (`producer-ids/next`) before any id of the block is handed out, so after a crash or restart allocation resumes
 * past every id ever given and an id is never reused (up to a block of ids is skipped, which is harmless).
 *
 * Sequences: the batch header carries producerId (offset 43), producerEpoch (51) and baseSequence (53); the
 * last sequence is baseSequence + lastOffsetDelta, wrapping at int32 max. For each producer the last
 * MAX_CACHED_BATCHES (5 = the largest max.in.flight an idempotent Kafka producer may use) batches are kept with
 * their offsets, so a retried batch is recognised and answered with the offsets it was first given.
 * Rules on append, for a batch with producerId >= 0:
 *   - epoch below the known one → INVALID_PRODUCER_EPOCH;
 *   - same sequence range as a cached batch of the same epoch → duplicate: not appended, original offsets;
 *   - first sequence = last sequence + 1 (or 0 for a new producer or a new epoch) → appended;
 *   - anything else → OUT_OF_ORDER_SEQUENCE_NUMBER.
 *
 * Persistence: the sequence state needs no file of its own — the log keeps every batch header as the producer
 * sent it, so the state of a partition is rebuilt from its log the first time an idempotent batch arrives for
 * it after a (re)start (one scan of the partition's batch headers). Batches removed by retention take their
 * producers' state with them, as in Kafka.
 *
 * Concurrency: check, append and record are one critical section per partition (a promise chain), so two
 * retries of one batch on two connections cannot both be appended. Batches without a producer id skip it.
 */
import {
  OFFSET_LAST_OFFSET_DELTA,
  OFFSET_PRODUCER_EPOCH,
  OFFSET_PRODUCER_ID,
  OFFSET_BASE_SEQUENCE,
  batchBaseOffset,
  batchLastOffset,
  isControlBatch,
  iterateBatches,
} from '../../storage/record-batch.js';
import type { AppendResult } from '../../storage/log.js';
import { BrokerError } from '../broker-error.js';
import type { MetadataStore } from '../metadata.js';
import type { Stream } from '../stream.js';

export const MAX_CACHED_BATCHES = 5;
const ID_BLOCK_SIZE = 1000;
const MAX_EPOCH = 32767;
const SEQUENCE_WRAP = 0x80000000; // sequences are int32 and wrap to 0 after 2^31 - 1
const METADATA_KIND = 'producer-ids';
const METADATA_NAME = 'next';
/** Bytes read per step while rebuilding a partition's producer state from its log. */
const REBUILD_READ_BYTES = 4 * 1024 * 1024;

export interface BatchProducerInfo {
  producerId: number;
  producerEpoch: number;
  firstSequence: number;
  lastSequence: number;
}

interface CachedBatch {
  firstSequence: number;
  lastSequence: number;
  baseOffset: number;
  lastOffset: number;
}

interface ProducerEntry {
  epoch: number;
  /** Oldest first, at most MAX_CACHED_BATCHES. */
  batches: CachedBatch[];
}

interface PartitionState {
  producers: Map<number, ProducerEntry>;
  rebuilt: boolean;
  /** Tail of the per-partition critical section. */
  lock: Promise<unknown>;
}

export type IdempotentAppendResult =
  | { kind: 'appended'; result: AppendResult }
  | { kind: 'duplicate'; baseOffset: number; lastOffset: number };

/** Producer fields of the batch(es) at the start of `records`, or null when the producer is not idempotent. */
export function batchProducerInfo(records: Buffer): BatchProducerInfo | null {
  if (records.length < OFFSET_BASE_SEQUENCE + 4) return null;
  const producerId = Number(records.readBigInt64BE(OFFSET_PRODUCER_ID));
  if (producerId < 0) return null;
  const producerEpoch = records.readInt16BE(OFFSET_PRODUCER_EPOCH);
  const firstSequence = records.readInt32BE(OFFSET_BASE_SEQUENCE);
  // Several batches in one request: the range runs to the last one's last sequence.
  let lastPos = 0;
  try {
    for (const { position } of iterateBatches(records)) lastPos = position;
  } catch {
    lastPos = 0; // malformed: the log's validation reports it
  }
  const lastSequence = (records.readInt32BE(lastPos + OFFSET_BASE_SEQUENCE) + records.readInt32BE(lastPos + OFFSET_LAST_OFFSET_DELTA)) % SEQUENCE_WRAP;
  return { producerId, producerEpoch, firstSequence, lastSequence };
}

function nextSequence(seq: number): number {
  return (seq + 1) % SEQUENCE_WRAP;
}

export class ProducerStateManager {
  private readonly partitions = new WeakMap<Stream, PartitionState[]>();
  private nextId = 0;
  private blockEnd = 0;
  private allocating: Promise<unknown> = Promise.resolve();

  constructor(private readonly metadata: MetadataStore) {}

  /** A producer id never handed out before, by this process or any earlier one over the same data dir. */
  allocateProducerId(): Promise<number> {
    const next = this.allocating.then(async () => {
      if (this.nextId >= this.blockEnd) {
        const persisted = this.metadata.get(METADATA_KIND, METADATA_NAME);
        const start = Math.max(this.blockEnd, typeof persisted === 'number' ? persisted : 0);
        // The block is durable before any id in it is used.
        await this.metadata.put(METADATA_KIND, METADATA_NAME, start + ID_BLOCK_SIZE);
        this.nextId = start;
        this.blockEnd = start + ID_BLOCK_SIZE;
      }
      return this.nextId++;
    });
    this.allocating = next.catch(() => undefined);
    return next;
  }

  /** Whether `producerId` lies below every id allocated so far (an id this broker gave out). */
  isAllocated(producerId: number): boolean {
    const persisted = this.metadata.get(METADATA_KIND, METADATA_NAME);
    const bound = Math.max(this.nextId, typeof persisted === 'number' ? persisted : 0);
    return producerId >= 0 && producerId < bound;
  }

  /**
   * KIP-360 epoch bump for an existing id (InitProducerId v3+ with producerId/epoch): the next epoch of the same
   * id, or a fresh id once the epoch would overflow. The bump itself is not recorded: the first batch of the new
   * epoch (sequence 0) moves each partition to it, after which the old epoch is fenced there.
   */
  async bumpEpoch(producerId: number, epoch: number): Promise<{ producerId: number; producerEpoch: number }> {
    if (epoch + 1 > MAX_EPOCH) return { producerId: await this.allocateProducerId(), producerEpoch: 0 };
    return { producerId, producerEpoch: epoch + 1 };
  }

  /**
   * Appends `records` to `stream`/`partition` through `append` unless the batch is a duplicate of one already
   * appended; checks epoch and sequence first. Batches without a producer id are appended directly.
   * Throws BrokerError TRIB_INVALID_PRODUCER_EPOCH or TRIB_OUT_OF_ORDER_SEQUENCE; append errors pass through.
   */
  append(stream: Stream, partition: number, records: Buffer, append: () => Promise<AppendResult>): Promise<IdempotentAppendResult> {
    const info = batchProducerInfo(records);
    if (info === null) return append().then((result) => ({ kind: 'appended', result }));
    const state = this.partitionState(stream, partition);
    const run = state.lock.then(async (): Promise<IdempotentAppendResult> => {
      if (!state.rebuilt) {
        await this.rebuild(stream, partition, state);
        state.rebuilt = true;
      }
      const entry = state.producers.get(info.producerId);
      if (entry !== undefined) {
        if (info.producerEpoch < entry.epoch) {
          throw new BrokerError('TRIB_INVALID_PRODUCER_EPOCH', `producer ${info.producerId} epoch ${info.producerEpoch} is older than ${entry.epoch}`);
        }
        if (info.producerEpoch === entry.epoch) {
          const dup = entry.batches.find((b) => b.firstSequence === info.firstSequence && b.lastSequence === info.lastSequence);
          if (dup !== undefined) return { kind: 'duplicate', baseOffset: dup.baseOffset, lastOffset: dup.lastOffset };
          const last = entry.batches[entry.batches.length - 1];
          const expected = last === undefined ? 0 : nextSequence(last.lastSequence);
          if (info.firstSequence !== expected) {
            throw new BrokerError('TRIB_OUT_OF_ORDER_SEQUENCE', `producer ${info.producerId} partition ${partition}: sequence ${info.firstSequence}, expected ${expected}`);
          }
        } else if (info.firstSequence !== 0) {
          throw new BrokerError('TRIB_OUT_OF_ORDER_SEQUENCE', `producer ${info.producerId} new epoch ${info.producerEpoch} must start at sequence 0, got ${info.firstSequence}`);
        }
      } else if (info.firstSequence !== 0) {
        throw new BrokerError('TRIB_OUT_OF_ORDER_SEQUENCE', `producer ${info.producerId} is unknown on partition ${partition}; its first sequence must be 0, got ${info.firstSequence}`);
      }
      const result = await append();
      this.record(state, info, result.baseOffset, result.lastOffset);
      return { kind: 'appended', result };
    });
    state.lock = run.catch(() => undefined);
    return run;
  }

  private partitionState(stream: Stream, partition: number): PartitionState {
    let list = this.partitions.get(stream);
    if (list === undefined) {
      list = [];
      this.partitions.set(stream, list);
    }
    let state = list[partition];
    if (state === undefined) {
      state = { producers: new Map(), rebuilt: false, lock: Promise.resolve() };
      list[partition] = state;
    }
    return state;
  }

  private record(state: PartitionState, info: BatchProducerInfo, baseOffset: number, lastOffset: number): void {
    let entry = state.producers.get(info.producerId);
    if (entry === undefined || info.producerEpoch !== entry.epoch) {
      entry = { epoch: info.producerEpoch, batches: [] };
      state.producers.set(info.producerId, entry);
    }
    entry.batches.push({ firstSequence: info.firstSequence, lastSequence: info.lastSequence, baseOffset, lastOffset });
    if (entry.batches.length > MAX_CACHED_BATCHES) entry.batches.shift();
  }

  /** Replays the batch headers of the whole partition (only headers are read; bodies stay compressed). */
  private async rebuild(stream: Stream, partition: number, state: PartitionState): Promise<void> {
    let { startOffset: offset, highWatermark } = stream.offsets(partition);
    while (offset < highWatermark) {
      const read = await stream.read(partition, offset, REBUILD_READ_BYTES);
      if (read.records.length === 0) break;
      let last = offset - 1;
      for (const { position } of iterateBatches(read.records)) {
        const batch = read.records.subarray(position);
        const batchLast = batchLastOffset(read.records, position);
        if (batchLast > last) last = batchLast;
        // Transaction markers carry the producer id but no sequence: they are not the producer's batches.
        if (isControlBatch(read.records, position)) continue;
        const info = batchProducerInfo(batch.subarray(0, Math.min(batch.length, batch.readInt32BE(8) + 12)));
        if (info !== null) this.record(state, info, batchBaseOffset(read.records, position), batchLast);
      }
      if (last < offset) break; // no progress: stop rather than loop
      offset = last + 1;
      highWatermark = read.highWatermark;
    }
  }
}
