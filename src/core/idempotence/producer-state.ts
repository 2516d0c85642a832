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
 *   - first sequence = last sequence + 1 (or 0 for a new epoch of a known producer) → appended;
 *   - a producer with no state on the partition → appended at any sequence (Kafka 2.5+, KIP-360);
 *   - anything else → OUT_OF_ORDER_SEQUENCE_NUMBER.
 *
 * Pipelining: the log takes a batch's offsets synchronously when the append is issued (PartitionLog.append,
 * MemoryLog.append), in call order, and acknowledges later (group commit). So the per-partition critical
 * section (check, issue, record) ends as soon as the append is issued, not when it is durable: a producer with
 * five requests in flight has them checked one after another and committed by one fsync. A batch is recorded
 * *pending* at issue time (its sequences count for the next batch's check) and gets its offsets when the
 * append resolves. A retry of a pending batch waits for it outside the critical section and answers with its
 * offsets. Whether an append was issued is read from the log end offset around the call: an append refused
 * before it took offsets (bad CRC, too large, closed log) moved nothing and is not recorded, so the next batch
 * is checked as if it had never come. An append refused after it took offsets is a log write failure, after
 * which that log refuses every append until reopened; its pending entry is removed at once together with those
 * of the batches issued after it (they fail the same way), so a retry is checked again and refused by the log,
 * not mistaken for a duplicate. A retry that was waiting on such a batch starts over.
 *
 * Expiry (bounded memory, Kafka producer.id.expiration.ms): a producer's state on a partition is dropped once
 * its last write there is at least `producerIdExpirationMs` old and it has no batch pending. The last write is
 * the broker's clock at issue time; for state rebuilt from the log it is the batch's max timestamp (what the
 * log keeps; Kafka does the same). `expireProducers()` sweeps every partition; a timer runs it every
 * `checkIntervalMs` (default min(10 minutes, max(1 s, the expiration))). A producer that comes back after
 * expiry is unknown, so its next batch is taken at whatever sequence it carries and counting goes on from
 * there (Kafka 2.5+ does the same; UNKNOWN_PRODUCER_ID is no longer returned).
 *
 * Persistence: the sequence state needs no file of its own — the log keeps every batch header as the producer
 * sent it, so the state of a partition is rebuilt from its log the first time an idempotent batch arrives for
 * it after a (re)start (one scan of the partition's batch headers). Batches removed by retention take their
 * producers' state with them, as in Kafka.
 *
 * Concurrency: check, issue and record are one critical section per partition (a promise chain), so two
 * retries of one batch on two connections cannot both be appended. Batches without a producer id skip it.
 */
import {
  OFFSET_LAST_OFFSET_DELTA,
  OFFSET_PRODUCER_EPOCH,
  OFFSET_PRODUCER_ID,
  OFFSET_BASE_SEQUENCE,
  batchBaseOffset,
  batchLastOffset,
  batchMaxTimestamp,
  isControlBatch,
  iterateBatches,
} from '../../storage/record-batch.js';
import type { AppendResult } from '../../storage/log.js';
import type { ByteChunks } from '../../wire/index.js';
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
  /** -1 while the append is pending. */
  baseOffset: number;
  lastOffset: number;
  /** The append in flight; null once it resolved (or for a batch rebuilt from the log). */
  pending: Promise<AppendResult> | null;
}

interface ProducerEntry {
  epoch: number;
  /** Oldest first, at most MAX_CACHED_BATCHES. */
  batches: CachedBatch[];
  /** When the producer last wrote to this partition (ms), for expiry. */
  lastWriteMs: number;
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

/** What the critical section decided: the append to await, a duplicate's offsets, or a pending batch to wait for. */
type Issued =
  | { kind: 'appended'; done: Promise<AppendResult> }
  | { kind: 'duplicate'; baseOffset: number; lastOffset: number }
  | { kind: 'pending-duplicate'; pending: Promise<AppendResult> };

export interface ProducerStateOptions {
  /** Kafka producer.id.expiration.ms: a producer's state on a partition is dropped this long after its last write. Default 86 400 000. */
  producerIdExpirationMs?: number;
  /** How often expired producers are looked for (ms); 0 disables the timer (tests call expireProducers). Default 600 000 (Kafka's). */
  checkIntervalMs?: number;
  now?: () => number;
}

export const DEFAULT_PRODUCER_ID_EXPIRATION_MS = 86_400_000;
const DEFAULT_EXPIRATION_CHECK_INTERVAL_MS = 600_000;
const MIN_EXPIRATION_CHECK_INTERVAL_MS = 1000;

/**
 * Producer fields of the batch(es) at the start of `records`, or null when the producer is not idempotent.
 * `records` may be a Produce's socket reads (ByteChunks): only fixed header fields are read.
 */
export function batchProducerInfo(records: Buffer | ByteChunks): BatchProducerInfo | null {
  if (records.length < OFFSET_BASE_SEQUENCE + 4) return null;
  // int64 as two int32 halves (two's complement: -1 stays -1), readable from either kind of bytes.
  const producerId = records.readInt32BE(OFFSET_PRODUCER_ID) * 0x100000000 + records.readUInt32BE(OFFSET_PRODUCER_ID + 4);
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
  /** The streams with state, for the expiry sweep; weak so a deleted stream's state goes with it. */
  private readonly streams = new Set<WeakRef<Stream>>();
  private nextId = 0;
  private blockEnd = 0;
  private allocating: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;
  private readonly expirationMs: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly metadata: MetadataStore,
    options: ProducerStateOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.expirationMs = options.producerIdExpirationMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_MS;
    // Kafka checks every 10 minutes; a shorter expiration is checked as often as it lapses, but at most once a second.
    const interval = options.checkIntervalMs ?? Math.min(DEFAULT_EXPIRATION_CHECK_INTERVAL_MS, Math.max(MIN_EXPIRATION_CHECK_INTERVAL_MS, this.expirationMs));
    if (interval > 0) {
      this.timer = setInterval(() => this.expireProducers(), interval);
      this.timer.unref();
    }
  }

  /** Stops the expiry timer. */
  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

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
   * appended (or pending); checks epoch and sequence first. Batches without a producer id are appended directly.
   * `append` must issue the log append synchronously (Stream.appendBatch does): the critical section ends when
   * it returns. Resolves once the append is acknowledged (durable per the stream's policy).
   * Throws BrokerError TRIB_INVALID_PRODUCER_EPOCH or TRIB_OUT_OF_ORDER_SEQUENCE; append errors pass through.
   */
  append(stream: Stream, partition: number, records: Buffer | ByteChunks, append: () => Promise<AppendResult>): Promise<IdempotentAppendResult> {
    const info = batchProducerInfo(records);
    if (info === null) return append().then((result) => ({ kind: 'appended', result }));
    const state = this.partitionState(stream, partition);
    const issued = state.lock.then(() => this.issue(stream, partition, state, info, append));
    state.lock = issued.catch(() => undefined);
    return issued.then(async (outcome): Promise<IdempotentAppendResult> => {
      if (outcome.kind === 'duplicate') return outcome;
      if (outcome.kind === 'appended') return { kind: 'appended', result: await outcome.done };
      // A retry of a batch still in flight: it gets that batch's offsets once it is acknowledged.
      let result: AppendResult;
      try {
        result = await outcome.pending;
      } catch {
        // The original failed after taking offsets (its entry is gone): check this one again from the start.
        return this.append(stream, partition, records, append);
      }
      return { kind: 'duplicate', baseOffset: result.baseOffset, lastOffset: result.lastOffset };
    });
  }

  /**
   * Drops, on every partition, the state of producers whose last write is at least producer.id.expiration.ms
   * old and that have no batch in flight. Returns how many (producer, partition) states were dropped.
   */
  expireProducers(now = this.now()): number {
    const cutoff = now - this.expirationMs;
    let dropped = 0;
    for (const ref of this.streams) {
      const stream = ref.deref();
      const list = stream === undefined ? undefined : this.partitions.get(stream);
      if (list === undefined) {
        this.streams.delete(ref);
        continue;
      }
      for (const state of list) {
        if (state === undefined) continue;
        for (const [producerId, entry] of state.producers) {
          if (entry.lastWriteMs <= cutoff && !entry.batches.some((b) => b.pending !== null)) {
            state.producers.delete(producerId);
            dropped++;
          }
        }
      }
    }
    return dropped;
  }

  /** Producers with state on `stream`/`partition` (observability and tests). */
  producerCount(stream: Stream, partition: number): number {
    return this.partitions.get(stream)?.[partition]?.producers.size ?? 0;
  }

  /** The critical section: rebuild on first use, check the batch, issue its append and record it pending. */
  private async issue(stream: Stream, partition: number, state: PartitionState, info: BatchProducerInfo, append: () => Promise<AppendResult>): Promise<Issued> {
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
        if (dup !== undefined) {
          return dup.pending !== null ? { kind: 'pending-duplicate', pending: dup.pending } : { kind: 'duplicate', baseOffset: dup.baseOffset, lastOffset: dup.lastOffset };
        }
        const last = entry.batches[entry.batches.length - 1];
        const expected = last === undefined ? 0 : nextSequence(last.lastSequence);
        if (info.firstSequence !== expected) {
          throw new BrokerError('TRIB_OUT_OF_ORDER_SEQUENCE', `producer ${info.producerId} partition ${partition}: sequence ${info.firstSequence}, expected ${expected}`);
        }
      } else if (info.firstSequence !== 0) {
        throw new BrokerError('TRIB_OUT_OF_ORDER_SEQUENCE', `producer ${info.producerId} new epoch ${info.producerEpoch} must start at sequence 0, got ${info.firstSequence}`);
      }
    }
    // A producer with no state here (new, expired, or its records deleted by retention) is taken at whatever
    // sequence it sends, as Kafka has done since 2.5 (KIP-360): refusing it would make a client that kept
    // counting reset and re-send, which is how duplicates come back.
    const log = stream.partitionLog(partition);
    const endBefore = log.endOffset;
    const done = append();
    // Refused before taking offsets (validation, closed or failed log): nothing to record; `done` rejects.
    if (log.endOffset === endBefore) return { kind: 'appended', done };
    const cached = this.record(state, info, -1, -1, this.now(), done);
    done.then(
      (result) => {
        cached.baseOffset = result.baseOffset;
        cached.lastOffset = result.lastOffset;
        cached.pending = null;
      },
      () => this.forget(state, info.producerId, cached),
    );
    return { kind: 'appended', done };
  }

  private partitionState(stream: Stream, partition: number): PartitionState {
    let list = this.partitions.get(stream);
    if (list === undefined) {
      list = [];
      this.partitions.set(stream, list);
      this.streams.add(new WeakRef(stream));
    }
    let state = list[partition];
    if (state === undefined) {
      state = { producers: new Map(), rebuilt: false, lock: Promise.resolve() };
      list[partition] = state;
    }
    return state;
  }

  private record(state: PartitionState, info: BatchProducerInfo, baseOffset: number, lastOffset: number, writeMs: number, pending: Promise<AppendResult> | null): CachedBatch {
    let entry = state.producers.get(info.producerId);
    if (entry === undefined || info.producerEpoch !== entry.epoch) {
      entry = { epoch: info.producerEpoch, batches: [], lastWriteMs: writeMs };
      state.producers.set(info.producerId, entry);
    }
    const cached: CachedBatch = { firstSequence: info.firstSequence, lastSequence: info.lastSequence, baseOffset, lastOffset, pending };
    entry.batches.push(cached);
    if (entry.batches.length > MAX_CACHED_BATCHES) entry.batches.shift();
    if (writeMs > entry.lastWriteMs) entry.lastWriteMs = writeMs;
    return cached;
  }

  /**
   * A pending batch whose append failed after taking offsets: it was never stored, so it must not count, nor
   * must the pending batches accepted after it (their sequences followed it; the failed log refuses them too).
   * They go now, not when their own rejections arrive, so a retry restarted by this failure sees none of them.
   */
  private forget(state: PartitionState, producerId: number, cached: CachedBatch): void {
    const entry = state.producers.get(producerId);
    if (entry === undefined) return;
    const i = entry.batches.indexOf(cached);
    if (i < 0) return;
    let end = i + 1;
    while (end < entry.batches.length && entry.batches[end].pending !== null) end++;
    entry.batches.splice(i, end - i);
    // An epoch's first batch that failed leaves nothing of the epoch: the next batch is checked as a new producer's.
    if (entry.batches.length === 0) state.producers.delete(producerId);
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
        if (info !== null) this.record(state, info, batchBaseOffset(read.records, position), batchLast, batchMaxTimestamp(read.records, position), null);
      }
      if (last < offset) break; // no progress: stop rather than loop
      offset = last + 1;
      highWatermark = read.highWatermark;
    }
    // Producers already past expiry need not wait for the next sweep.
    const cutoff = this.now() - this.expirationMs;
    for (const [producerId, entry] of state.producers) if (entry.lastWriteMs <= cutoff) state.producers.delete(producerId);
  }
}
