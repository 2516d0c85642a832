/**
 * OffsetCommit (8): the group checks member and generation (generation -1 with no member id = a commit from
 * outside the group protocol, allowed while the group has no members), then every offset is made durable in
 * `__consumer_offsets` before the answer. Unknown topics or partitions: UNKNOWN_TOPIC_OR_PARTITION.
 */
import type { OffsetCommitRequest, OffsetCommitResponse, Encodable } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { groupErrorCode, kafkaErrorOf } from '../error-map.js';
import { planOffsetCommit } from './offset-commit-plan.js';

export async function handleOffsetCommit(ctx: KafkaContext, session: SessionState, req: OffsetCommitRequest): Promise<Encodable<OffsetCommitResponse>> {
  const plan = planOffsetCommit(ctx, session, req.groupId, req.topics);
  if (plan.refusal !== null) return { throttleTimeMs: 0, topics: plan.answer(plan.refusal) };
  let code: number;
  try {
    code = groupErrorCode(await ctx.coordinator.commitOffsets(req.groupId, req.memberId, req.generationIdOrMemberEpoch, req.groupInstanceId, plan.commits));
  } catch (err) {
    code = kafkaErrorOf(err).code;
  }
  return { throttleTimeMs: 0, topics: plan.answer(code) };
}
