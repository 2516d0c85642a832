/**
 * DeleteRecords (21, v0–2): raises each partition's log start offset to the given offset (-1 = the high
 * watermark); durable before the answer, so deleted records stay deleted across restarts. Answers the new low
 * watermark; OFFSET_OUT_OF_RANGE beyond the high watermark; internal topics are refused (POLICY_VIOLATION).
 */
import type { DeleteRecordsRequest, DeleteRecordsResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { kafkaErrorOf } from '../error-map.js';
import { isInternalStreamName, type Stream } from '../../../core/stream.js';

type PartitionResult = Encodable<DeleteRecordsResponse.DeleteRecordsPartitionResult>;

export async function handleDeleteRecords(ctx: KafkaContext, session: SessionState, req: DeleteRecordsRequest): Promise<Encodable<DeleteRecordsResponse>> {
  const topics = await Promise.all(
    req.topics.map(async (topic) => {
      let stream: Stream | undefined;
      let topicError: number = ErrorCode.NONE;
      try {
        if (isInternalStreamName(topic.name)) topicError = ErrorCode.POLICY_VIOLATION;
        else {
          ctx.broker.check(session.principal, 'delete', 'stream', topic.name);
          stream = ctx.broker.requireStream(topic.name);
        }
      } catch (err) {
        topicError = kafkaErrorOf(err).code;
      }
      const partitions = await Promise.all(
        topic.partitions.map(async (p): Promise<PartitionResult> => {
          const failed = (errorCode: number): PartitionResult => ({ partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode });
          if (stream === undefined) return failed(topicError);
          if (p.partitionIndex < 0 || p.partitionIndex >= stream.partitionCount) return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
          try {
            return { partitionIndex: p.partitionIndex, lowWatermark: await stream.deleteRecords(p.partitionIndex, p.offset), errorCode: ErrorCode.NONE };
          } catch (err) {
            return failed(kafkaErrorOf(err).code);
          }
        }),
      );
      return { name: topic.name, partitions };
    }),
  );
  return { throttleTimeMs: 0, topics };
}
