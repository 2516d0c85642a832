/**
 * OffsetCommit (8): the group checks member and generation (generation -1 with no member id = a commit from
 * outside the group protocol, allowed while the group has no members), then every offset is made durable in
 * `__consumer_offsets` before the answer. Unknown topics or partitions: UNKNOWN_TOPIC_OR_PARTITION.
 */
import type { OffsetCommitRequest, OffsetCommitResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { groupErrorCode, kafkaErrorOf } from '../error-map.js';
import type { OffsetCommitInput } from '../../../core/consumer-group/index.js';

export async function handleOffsetCommit(ctx: KafkaContext, session: SessionState, req: OffsetCommitRequest): Promise<Encodable<OffsetCommitResponse>> {
  const answer = (codeOf: (topic: string, partition: number) => number): Encodable<OffsetCommitResponse> => ({
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: codeOf(t.name, p.partitionIndex) })) })),
  });
  if (req.groupId === '') return answer(() => ErrorCode.INVALID_GROUP_ID);
  try {
    ctx.broker.check(session.principal, 'read', 'group', req.groupId);
  } catch (err) {
    const code = kafkaErrorOf(err, ErrorCode.GROUP_AUTHORIZATION_FAILED).code;
    return answer(() => code);
  }
  const now = Date.now();
  const commits: OffsetCommitInput[] = [];
  const invalid = new Set<string>();
  for (const t of req.topics) {
    const stream = ctx.broker.stream(t.name);
    for (const p of t.partitions) {
      if (stream === undefined || p.partitionIndex < 0 || p.partitionIndex >= stream.partitionCount) {
        invalid.add(`${t.name}\0${p.partitionIndex}`);
        continue;
      }
      commits.push({
        topic: t.name,
        partition: p.partitionIndex,
        offset: p.committedOffset,
        metadata: p.committedMetadata,
        leaderEpoch: p.committedLeaderEpoch,
        commitTimestamp: p.commitTimestamp >= 0 ? p.commitTimestamp : now,
      });
    }
  }
  let code: number;
  try {
    code = groupErrorCode(await ctx.coordinator.commitOffsets(req.groupId, req.memberId, req.generationIdOrMemberEpoch, req.groupInstanceId, commits));
  } catch (err) {
    code = kafkaErrorOf(err).code;
  }
  return answer((topic, partition) => (invalid.has(`${topic}\0${partition}`) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : code));
}
