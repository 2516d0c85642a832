/**
 * TxnOffsetCommit (28, v0–3): offsets committed inside a transaction. They are held by the transaction
 * coordinator and reach the group (OffsetFetch, lag) only when the transaction commits; an abort drops them.
 * v3 names the member and generation: when given they are checked like an OffsetCommit's; v0–2 (kafkajs)
 * commit from outside the group protocol, which a transactional commit may do while members are in the group.
 */
import type { TxnOffsetCommitRequest, TxnOffsetCommitResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { groupErrorCode, kafkaErrorOf } from '../error-map.js';
import type { OffsetCommitInput } from '../../../core/consumer-group/index.js';
import { PRODUCER_FENCED_SINCE, txnErrorCode } from './txn-errors.js';

export async function handleTxnOffsetCommit(ctx: KafkaContext, session: SessionState, req: TxnOffsetCommitRequest, version: number): Promise<Encodable<TxnOffsetCommitResponse>> {
  const answer = (codeOf: (topic: string, partition: number) => number): Encodable<TxnOffsetCommitResponse> => ({
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
  if (req.memberId !== '' || req.generationId >= 0) {
    const group = ctx.coordinator.group(req.groupId);
    const err = group === undefined ? 'ILLEGAL_GENERATION' : group.validateCommit(req.memberId, req.generationId, req.groupInstanceId);
    if (err !== 'NONE') return answer(() => groupErrorCode(err));
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
      commits.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, metadata: p.committedMetadata, leaderEpoch: p.committedLeaderEpoch, commitTimestamp: now });
    }
  }
  let code: number;
  try {
    const err = await ctx.broker.transactions.commitOffsets(req.transactionalId, req.producerId, req.producerEpoch, req.groupId, commits);
    code = txnErrorCode(err, version, PRODUCER_FENCED_SINCE.txnOffsetCommit);
  } catch (err) {
    code = kafkaErrorOf(err).code;
  }
  return answer((topic, partition) => (invalid.has(`${topic}\0${partition}`) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : code));
}
