/**
 * Fetch (1, v4–12): whole stored record batches from each partition's fetch offset, bounded by
 * partitionMaxBytes and the request's maxBytes — except that the first non-empty partition always gets at
 * least one batch whatever its size (a consumer must never stall on a large batch; Kafka's rule). A later
 * partition gets only the batches that still fit.
 *
 * Long polling: when fewer than minBytes are available and maxWaitMs > 0, the handler waits for the streams'
 * 'append' events (no polling loop), the deadline, or the connection closing, then reads again — repeatedly
 * until minBytes are there or the deadline passes.
 *
 * Transactions: read_uncommitted (isolation level 0) reads to the high watermark. read_committed (1) reads only
 * below the last stable offset (the first offset of the oldest open transaction in the partition, from the core's
 * transaction index, built before the first such answer after a start): batches at or past it are cut off, and
 * lastStableOffset says where it is. It also gets the aborted transactions overlapping the records returned
 * (producerId, firstOffset), with which the client drops aborted records up to their ABORT marker. Control
 * batches are returned as stored; clients skip them.
 */
import type { FetchRequest, FetchResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { kafkaErrorOf } from '../error-map.js';
import { batchLastOffset, batchSizeAt, iterateBatches } from '../../../storage/record-batch.js';
import type { Stream } from '../../../core/stream.js';
import { LEADER_EPOCH } from './topic-description.js';
import type { PartitionTxns } from '../../../core/transactions/index.js';

const READ_COMMITTED = 1;

type PartitionData = Encodable<FetchResponse.PartitionData>;

interface Collected {
  responses: Encodable<FetchResponse.FetchableTopicResponse>[];
  bytes: number;
  /** An error in any partition answers at once, as Kafka does. */
  hasError: boolean;
  /** High watermark seen per `topic\0partition`: a wait wakes only for records beyond it. */
  seen: Map<string, number>;
}

export async function handleFetch(ctx: KafkaContext, session: SessionState, req: FetchRequest): Promise<Encodable<FetchResponse>> {
  const deadline = Date.now() + Math.max(0, req.maxWaitMs);
  let collected = await collect(ctx, session, req);
  while (collected.bytes < Math.max(1, req.minBytes) && !collected.hasError && !session.signal.aborted) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    const woke = await waitForAppend(ctx, session, req, collected.seen, remaining);
    if (!woke) break;
    collected = await collect(ctx, session, req);
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses: collected.responses };
}

async function collect(ctx: KafkaContext, session: SessionState, req: FetchRequest): Promise<Collected> {
  let bytes = 0;
  let hasError = false;
  const seen = new Map<string, number>();
  const responses: Encodable<FetchResponse.FetchableTopicResponse>[] = [];
  const readCommitted = req.isolationLevel === READ_COMMITTED;
  for (const t of req.topics) {
    const partitions: PartitionData[] = [];
    let stream: Stream | undefined;
    let topicError: number = ErrorCode.NONE;
    try {
      ctx.broker.check(session.principal, 'read', 'stream', t.topic);
      stream = ctx.broker.requireStream(t.topic);
    } catch (err) {
      topicError = kafkaErrorOf(err).code;
    }
    if (readCommitted && stream !== undefined) {
      // The first read_committed Fetch after a start builds the indexes of all its partitions side by side (the
      // index bounds how many scan at once), not one after another; a failed build is retried (and reported) by
      // its partition below.
      const s = stream;
      const unbuilt = t.partitions.filter((p) => p.partition >= 0 && p.partition < s.partitionCount && ctx.broker.transactions.index.built(s, p.partition) === undefined);
      if (unbuilt.length > 1) await Promise.allSettled(unbuilt.map((p) => ctx.broker.transactions.index.ensure(s, p.partition)));
    }
    for (const p of t.partitions) {
      if (stream === undefined || p.partition < 0 || p.partition >= stream.partitionCount) {
        hasError = true;
        partitions.push(failed(p.partition, stream === undefined ? topicError : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
        continue;
      }
      const remaining = req.maxBytes - bytes;
      try {
        // read_committed depends on the partition's index whatever the chunk holds (plain records may follow an
        // open transaction's first offset): built once per partition after a start, synchronous afterwards.
        const txns = readCommitted ? await ctx.broker.transactions.index.ensure(stream, p.partition) : null;
        if (bytes > 0 && remaining <= 0) {
          partitions.push(empty(stream, p.partition, txns));
          continue;
        }
        const limit = bytes > 0 ? Math.min(p.partitionMaxBytes, remaining) : p.partitionMaxBytes;
        const read = await stream.read(p.partition, p.fetchOffset, Math.max(1, limit));
        // Log.read returns at least one batch; past the first non-empty partition only whole batches that fit.
        let records = bytes > 0 ? fitting(read.records, limit) : read.records;
        let lastStableOffset = read.highWatermark;
        let abortedTransactions: Array<{ producerId: number; firstOffset: number }> = [];
        if (txns !== null) {
          lastStableOffset = txns.lastStableOffset(read.highWatermark);
          records = below(records, lastStableOffset);
          const end = endOffsetOf(records);
          if (end > p.fetchOffset) abortedTransactions = txns.abortedBetween(p.fetchOffset, end).map(({ producerId, firstOffset }) => ({ producerId, firstOffset }));
        }
        bytes += records.length;
        seen.set(`${t.topic}\0${p.partition}`, read.highWatermark);
        partitions.push({
          partitionIndex: p.partition,
          errorCode: ErrorCode.NONE,
          highWatermark: read.highWatermark,
          lastStableOffset,
          logStartOffset: read.startOffset,
          abortedTransactions,
          preferredReadReplica: -1,
          currentLeader: { leaderId: ctx.nodeId, leaderEpoch: LEADER_EPOCH },
          records,
        });
      } catch (err) {
        hasError = true;
        const o = stream.offsets(p.partition);
        partitions.push({ ...failed(p.partition, kafkaErrorOf(err).code), highWatermark: o.highWatermark, lastStableOffset: o.highWatermark, logStartOffset: o.startOffset });
      }
    }
    responses.push({ topic: t.topic, topicId: t.topicId, partitions });
  }
  return { responses, bytes, hasError, seen };
}

/** The longest prefix of whole batches within `limit` bytes. */
function fitting(records: Buffer, limit: number): Buffer {
  if (records.length <= limit) return records;
  let pos = 0;
  while (pos + 12 <= records.length) {
    const size = batchSizeAt(records, pos);
    if (pos + size > limit) break;
    pos += size;
  }
  return records.subarray(0, pos);
}

/** The whole batches of `records` that lie below `offset` (read_committed stops at the last stable offset). */
function below(records: Buffer, offset: number): Buffer {
  let end = 0;
  for (const { position, size } of iterateBatches(records)) {
    if (batchLastOffset(records, position) >= offset) break;
    end = position + size;
  }
  return end === records.length ? records : records.subarray(0, end);
}

/** One past the last offset of the last whole batch in `records`, or -1 when there is none. */
function endOffsetOf(records: Buffer): number {
  let end = -1;
  for (const { position } of iterateBatches(records)) end = batchLastOffset(records, position) + 1;
  return end;
}

function empty(stream: Stream, partition: number, txns: PartitionTxns | null): PartitionData {
  const o = stream.offsets(partition);
  const lastStableOffset = txns === null ? o.highWatermark : txns.lastStableOffset(o.highWatermark);
  return { partitionIndex: partition, errorCode: ErrorCode.NONE, highWatermark: o.highWatermark, lastStableOffset, logStartOffset: o.startOffset, abortedTransactions: [], preferredReadReplica: -1, records: Buffer.alloc(0) };
}

function failed(partition: number, errorCode: number): PartitionData {
  return { partitionIndex: partition, errorCode, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, abortedTransactions: null, preferredReadReplica: -1, records: Buffer.alloc(0) };
}

/**
 * Resolves true when any fetched partition's high watermark advances past its fetch offset, false on timeout
 * or when the connection closes. Listeners are removed in every case.
 */
function waitForAppend(ctx: KafkaContext, session: SessionState, req: FetchRequest, seen: Map<string, number>, timeoutMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const listeners: Array<[Stream, (partition: number, hw: number) => void]> = [];
    let timer: NodeJS.Timeout | null = null;
    let done = false;
    const finish = (woke: boolean): void => {
      if (done) return;
      done = true;
      for (const [s, l] of listeners) s.off('append', l);
      listeners.length = 0;
      if (timer !== null) clearTimeout(timer);
      session.signal.removeEventListener('abort', onAbort);
      resolve(woke);
    };
    const onAbort = (): void => finish(false);
    for (const t of req.topics) {
      const stream = ctx.broker.stream(t.topic);
      if (stream === undefined) continue;
      const offsets = new Map(t.partitions.map((p) => [p.partition, Math.max(p.fetchOffset, seen.get(`${t.topic}\0${p.partition}`) ?? p.fetchOffset)]));
      const listener = (partition: number, hw: number): void => {
        const from = offsets.get(partition);
        if (from !== undefined && hw > from) finish(true);
      };
      stream.on('append', listener);
      listeners.push([stream, listener]);
      // An append that landed while the last read was in flight emitted its event before we listened.
      for (const [partition, from] of offsets) {
        if (partition >= 0 && partition < stream.partitionCount && stream.offsets(partition).highWatermark > from) {
          queueMicrotask(() => finish(true));
          break;
        }
      }
    }
    timer = setTimeout(() => finish(false), timeoutMs);
    session.signal.addEventListener('abort', onAbort);
  });
}
