/**
 * Produce (0, v3+): each partition's record batches are appended as received (compressed batches stay
 * compressed; the storage checks length, magic and CRC-32C) and acknowledged once the stream's fsync policy
 * is met. acks=0 gets no response at all (the session sends nothing when this returns null); acks must be
 * -1, 0 or 1 (INVALID_REQUIRED_ACKS). Partitions of one request are appended concurrently.
 * Idempotent batches (producerId >= 0) go through the ProducerStateManager: a retried batch is answered with its
 * original base offset and not appended again; INVALID_PRODUCER_EPOCH, OUT_OF_ORDER_SEQUENCE_NUMBER otherwise.
 */
import type { ProduceRequest, ProduceResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { kafkaErrorOf } from '../error-map.js';
import { ensureTopic } from './auto-create.js';
import type { Stream } from '../../../core/stream.js';

type PartitionResponse = Encodable<ProduceResponse.PartitionProduceResponse>;

export async function handleProduce(ctx: KafkaContext, session: SessionState, req: ProduceRequest): Promise<Encodable<ProduceResponse> | null> {
  const validAcks = req.acks === -1 || req.acks === 0 || req.acks === 1;
  const responses = await Promise.all(
    req.topicData.map(async (topic) => {
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
        topic.partitionData.map((p): Promise<PartitionResponse> | PartitionResponse => {
          if (stream === undefined) return failed(p.index, topicError, topicMessage);
          return appendPartition(ctx, stream, p.index, p.records);
        }),
      );
      return { name: topic.name, partitionResponses };
    }),
  );
  if (req.acks === 0) return null;
  return { responses, throttleTimeMs: 0 };
}

async function appendPartition(ctx: KafkaContext, stream: Stream, partition: number, records: Buffer | null): Promise<PartitionResponse> {
  if (partition < 0 || partition >= stream.partitionCount) return failed(partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${stream.name}' has no partition ${partition}`);
  if (records === null || records.length === 0) return failed(partition, ErrorCode.CORRUPT_MESSAGE, 'no record batch');
  try {
    const outcome = await ctx.producers.append(stream, partition, records, () => stream.appendBatch(partition, records));
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
    const e = kafkaErrorOf(err);
    return failed(partition, e.code, e.message);
  }
}

function failed(index: number, errorCode: number, errorMessage: string | null): PartitionResponse {
  return { index, errorCode, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [], errorMessage };
}
