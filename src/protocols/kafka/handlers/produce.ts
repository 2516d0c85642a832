/**
 * Produce (0, v3+): each partition's record batches are appended as received (compressed batches stay
 * compressed; the storage checks length, magic and CRC-32C) and acknowledged once the stream's fsync policy
 * is met. acks=0 gets no response at all (the session sends nothing when this returns null); acks must be
 * -1, 0 or 1 (INVALID_REQUIRED_ACKS). Partitions of one request are appended concurrently.
 * Idempotent batches (producerId >= 0) go through the ProducerStateManager: a retried batch is answered with its
 * original base offset and not appended again; INVALID_PRODUCER_EPOCH, OUT_OF_ORDER_SEQUENCE_NUMBER otherwise.
 * Transactional batches (attributes bit 4) must come from the newest epoch of their transactional id, into a
 * partition added to its open transaction (INVALID_PRODUCER_EPOCH, INVALID_PRODUCER_ID_MAPPING,
 * INVALID_TXN_STATE otherwise); the partition's transaction index records where the transaction begins, before
 * the append, so the last stable offset never lets a read_committed consumer past it.
 */
import type { ProduceRequest, ProduceResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { kafkaErrorOf } from '../error-map.js';
import { ensureTopic } from './auto-create.js';
import type { Stream } from '../../../core/stream.js';
import { batchProducerInfo } from '../../../core/idempotence/producer-state.js';
import type { PartitionTxns } from '../../../core/transactions/index.js';
import { BATCH_HEADER_SIZE, isTransactionalDataBatch } from '../../../storage/record-batch.js';
import type { ByteChunks } from '../../../wire/index.js';

type PartitionResponse = Encodable<ProduceResponse.PartitionProduceResponse>;

/** A Produce request under way: `issued` once every partition's append has taken its offsets (or failed). */
export interface ProduceInProgress {
  issued: Promise<void>;
  /** The answer, once every append is acknowledged per the fsync policy; null for acks=0. */
  response: Promise<Encodable<ProduceResponse> | null>;
}

/**
 * Starts a Produce request. The session handles the next Produce of the connection as soon as this one is
 * `issued`: the log takes offsets in call order, so per-partition order across pipelined requests is the
 * order of arrival, while their fsyncs share group commits instead of running one after another.
 */
export function startProduce(ctx: KafkaContext, session: SessionState, req: ProduceRequest): ProduceInProgress {
  let partitions = 0;
  for (const topic of req.topicData) partitions += topic.partitionData.length;
  const latch = new IssueLatch(partitions);
  const response = produce(ctx, session, req, latch);
  // A failure before some partition marked itself must not leave the session waiting on `issued`.
  const settled = response.then(
    () => undefined,
    () => undefined,
  );
  return { issued: Promise.race([latch.done, settled]), response };
}

async function produce(ctx: KafkaContext, session: SessionState, req: ProduceRequest, latch: IssueLatch): Promise<Encodable<ProduceResponse> | null> {
  const validAcks = req.acks === -1 || req.acks === 0 || req.acks === 1;
  const responses = await Promise.all(
    req.topicData.map(async (topic) => {
      const slots = topic.partitionData.map(() => latch.slot());
      let stream: Stream | undefined;
      let topicError: number = ErrorCode.NONE;
      let topicMessage: string | null = null;
      if (!validAcks) topicError = ErrorCode.INVALID_REQUIRED_ACKS;
      else {
        try {
          ctx.broker.check(session.principal, 'write', 'stream', topic.name);
          stream = ctx.autoCreateTopics ? await ensureTopic(ctx, session, topic.name) : ctx.broker.requireStream(topic.name);
        } catch (err) {
          const e = kafkaErrorOf(err);
          topicError = e.code;
          topicMessage = e.message;
        }
      }
      const partitionResponses = await Promise.all(
        topic.partitionData.map(async (p, i): Promise<PartitionResponse> => {
          const issued = slots[i];
          try {
            if (stream === undefined) return failed(p.index, topicError, topicMessage);
            return await appendPartition(ctx, stream, p.index, p.records, issued);
          } finally {
            issued();
          }
        }),
      );
      return { name: topic.name, partitionResponses };
    }),
  );
  if (req.acks === 0) return null;
  return { responses, throttleTimeMs: 0 };
}

/** Counts down the partitions of one request as each append is issued or ends without one. */
class IssueLatch {
  readonly done: Promise<void>;
  private left: number;
  private open!: () => void;

  constructor(count: number) {
    this.left = count;
    this.done = new Promise((resolve) => {
      this.open = resolve;
    });
    if (count === 0) this.open();
  }

  /** One partition's mark; calling it again is harmless. */
  slot(): () => void {
    let marked = false;
    return () => {
      if (marked) return;
      marked = true;
      if (--this.left === 0) this.open();
    };
  }
}

/** A transactional batch the coordinator refused when re-checked inside the partition's critical section. */
class TxnRefused extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** `records` may be the socket reads it arrived in (ByteChunks): it goes to the log as those pieces. */
async function appendPartition(ctx: KafkaContext, stream: Stream, partition: number, records: Buffer | ByteChunks | null, issued: () => void): Promise<PartitionResponse> {
  if (partition < 0 || partition >= stream.partitionCount) return failed(partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${stream.name}' has no partition ${partition}`);
  if (records === null || records.length === 0) return failed(partition, ErrorCode.CORRUPT_MESSAGE, 'no record batch');
  try {
    const txn = records.length >= BATCH_HEADER_SIZE && isTransactionalDataBatch(records) ? batchProducerInfo(records) : null;
    const transactions = ctx.broker.transactions;
    const refusal = (): TxnRefused | null => {
      const check = transactions.checkProduce(txn!.producerId, txn!.producerEpoch, stream.name, partition);
      return check === 'NONE' ? null : new TxnRefused(ErrorCode[check], `transactional batch of producer ${txn!.producerId} epoch ${txn!.producerEpoch}: ${check}`);
    };
    let index: PartitionTxns | null = null;
    if (txn !== null) {
      const refused = refusal();
      if (refused !== null) return failed(partition, refused.code, refused.message);
      index = await transactions.index.partition(stream, partition);
    }
    const outcome = await ctx.producers.append(stream, partition, records, () => {
      if (txn === null || index === null) {
        // appendBatch takes the offsets synchronously, before its first await.
        const appended = stream.appendBatch(partition, records);
        issued();
        return appended;
      }
      // Checked again inside the partition's critical section and registered right before the append: a
      // transaction that began ending meanwhile (Prepare*, its markers follow) gets no batch after its marker.
      const refused = refusal();
      if (refused !== null) throw refused;
      const opened = index.begin(txn.producerId, stream.offsets(partition).endOffset);
      const appended = stream.appendBatch(partition, records);
      issued();
      return appended.then(
        (result) => {
          if (opened) index!.settleFirst(txn.producerId, result.baseOffset);
          return result;
        },
        (err: unknown) => {
          // Nothing of this producer was appended after `begin` (appends are serialised here): forget it.
          if (opened) index!.cancel(txn.producerId);
          throw err;
        },
      );
    });
    if (outcome.kind === 'duplicate') {
      // A retry of a batch already appended: Kafka answers success with the offsets it was first given.
      return { index: partition, errorCode: ErrorCode.NONE, baseOffset: outcome.baseOffset, logAppendTimeMs: -1, logStartOffset: stream.offsets(partition).startOffset, recordErrors: [], errorMessage: null };
    }
    const result = outcome.result;
    const logAppendTime = stream.configValue('message.timestamp.type') === 'LogAppendTime';
    return {
      index: partition,
      errorCode: ErrorCode.NONE,
      baseOffset: result.baseOffset,
      logAppendTimeMs: logAppendTime ? result.logAppendTime : -1,
      logStartOffset: stream.offsets(partition).startOffset,
      recordErrors: [],
      errorMessage: null,
    };
  } catch (err) {
    if (err instanceof TxnRefused) return failed(partition, err.code, err.message);
    const e = kafkaErrorOf(err);
    return failed(partition, e.code, e.message);
  }
}

function failed(index: number, errorCode: number, errorMessage: string | null): PartitionResponse {
  return { index, errorCode, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [], errorMessage };
}
