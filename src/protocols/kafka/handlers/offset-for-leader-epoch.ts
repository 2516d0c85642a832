/**
 * OffsetForLeaderEpoch (23, v0–4; librdkafka uses v2 to validate its position, KIP-320). The single node has
 * been the leader of every partition since it was created, in leader epoch 0 (as Metadata reports), so:
 * - currentLeaderEpoch -1 skips fencing; 0 matches; above 0 is UNKNOWN_LEADER_EPOCH (the client knows a newer
 *   leader than exists); below 0 other than -1 is FENCED_LEADER_EPOCH;
 * - the end offset of epoch 0 is the high watermark; an epoch above 0 is unknown (epoch -1, offset -1).
 */
import type { Encodable, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { kafkaErrorOf } from '../error-map.js';
import type { Stream } from '../../../core/stream.js';

const LEADER_EPOCH = 0;

type EpochEndOffset = Encodable<OffsetForLeaderEpochResponse.EpochEndOffset>;

export function handleOffsetForLeaderEpoch(ctx: KafkaContext, session: SessionState, req: OffsetForLeaderEpochRequest): Encodable<OffsetForLeaderEpochResponse> {
  const topics = req.topics.map((t) => {
    let stream: Stream | undefined;
    let topicError: number = ErrorCode.NONE;
    try {
      ctx.broker.check(session.principal, 'describe', 'stream', t.topic);
      stream = ctx.broker.requireStream(t.topic);
    } catch (err) {
      topicError = kafkaErrorOf(err).code;
    }
    const partitions = t.partitions.map((p): EpochEndOffset => {
      const answer = (errorCode: number, leaderEpoch = -1, endOffset = -1): EpochEndOffset => ({ errorCode, partition: p.partition, leaderEpoch, endOffset });
      if (stream === undefined) return answer(topicError);
      if (p.partition < 0 || p.partition >= stream.partitionCount) return answer(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      if (p.currentLeaderEpoch > LEADER_EPOCH) return answer(ErrorCode.UNKNOWN_LEADER_EPOCH);
      if (p.currentLeaderEpoch !== -1 && p.currentLeaderEpoch < LEADER_EPOCH) return answer(ErrorCode.FENCED_LEADER_EPOCH);
      if (p.leaderEpoch > LEADER_EPOCH || p.leaderEpoch < 0) return answer(ErrorCode.NONE);
      return answer(ErrorCode.NONE, LEADER_EPOCH, stream.offsets(p.partition).highWatermark);
    });
    return { topic: t.topic, partitions };
  });
  return { throttleTimeMs: 0, topics };
}
