/**
 * TxnOffsetCommit (28, v0–3): offsets committed inside a transaction. They are held by the transaction
 * coordinator and reach the group (OffsetFetch, lag) only when the transaction commits; an abort drops them.
 * v3 names the member and generation: when given they are checked like an OffsetCommit's; v0–2 (kafkajs)
 * commit from outside the group protocol, which a transactional commit may do while members are in the group.
 */
import type { TxnOffsetCommitRequest, TxnOffsetCommitResponse, Encodable } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { groupErrorCode, kafkaErrorOf } from '../error-map.js';
import { planOffsetCommit } from './offset-commit-plan.js';
import { PRODUCER_FENCED_SINCE, txnErrorCode } from './txn-errors.js';

export async function handleTxnOffsetCommit(ctx: KafkaContext, session: SessionState, req: TxnOffsetCommitRequest, version: number): Promise<Encodable<TxnOffsetCommitResponse>> {
  const plan = planOffsetCommit(ctx, session, req.groupId, req.topics);
  if (plan.refusal !== null) return { throttleTimeMs: 0, topics: plan.answer(plan.refusal) };
  if (req.memberId !== '' || req.generationId >= 0) {
    const group = ctx.coordinator.group(req.groupId);
    const err = group === undefined ? 'ILLEGAL_GENERATION' : group.validateCommit(req.memberId, req.generationId, req.groupInstanceId);
    if (err !== 'NONE') return { throttleTimeMs: 0, topics: plan.answer(groupErrorCode(err)) };
  }
  let code: number;
  try {
    const err = await ctx.broker.transactions.commitOffsets(req.transactionalId, req.producerId, req.producerEpoch, req.groupId, plan.commits);
    code = txnErrorCode(err, version, PRODUCER_FENCED_SINCE.txnOffsetCommit);
  } catch (err) {
    code = kafkaErrorOf(err).code;
  }
  return { throttleTimeMs: 0, topics: plan.answer(code) };
}
