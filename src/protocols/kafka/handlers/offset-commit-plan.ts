/**
 * What OffsetCommit and TxnOffsetCommit share: refuse the whole request for an empty group id or a principal
 * without read on the group; turn the partitions that exist into OffsetCommitInputs; answer every requested
 * partition, unknown ones with UNKNOWN_TOPIC_OR_PARTITION and the rest with the commit's outcome. The two
 * differ only in where the offsets go (the group at once, or the transaction until it commits).
 */
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { kafkaErrorOf } from '../error-map.js';
import type { OffsetCommitInput } from '../../../core/consumer-group/index.js';

interface CommitPartition {
  partitionIndex: number;
  committedOffset: number;
  committedLeaderEpoch: number;
  committedMetadata: string | null;
  /** OffsetCommit v1 only; -1 or absent means "now". */
  commitTimestamp?: number;
}

interface CommitTopic {
  name: string;
  partitions: CommitPartition[];
}

type AnswerTopics = Array<{ name: string; partitions: Array<{ partitionIndex: number; errorCode: number }> }>;

export interface OffsetCommitPlan {
  /** The error code every partition gets when the whole request is refused; null when it may go on. */
  refusal: number | null;
  /** The offsets of partitions that exist. */
  commits: OffsetCommitInput[];
  /** The response's topics: unknown partitions UNKNOWN_TOPIC_OR_PARTITION, the others `code`. */
  answer(code: number): AnswerTopics;
}

export function planOffsetCommit(ctx: KafkaContext, session: SessionState, groupId: string, topics: CommitTopic[]): OffsetCommitPlan {
  const invalid = new Set<string>();
  const commits: OffsetCommitInput[] = [];
  const answer = (code: number): AnswerTopics =>
    topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: invalid.has(`${t.name}\0${p.partitionIndex}`) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : code })),
    }));
  if (groupId === '') return { refusal: ErrorCode.INVALID_GROUP_ID, commits, answer };
  try {
    ctx.broker.check(session.principal, 'read', 'group', groupId);
  } catch (err) {
    return { refusal: kafkaErrorOf(err, ErrorCode.GROUP_AUTHORIZATION_FAILED).code, commits, answer };
  }
  const now = Date.now();
  for (const t of topics) {
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
        commitTimestamp: p.commitTimestamp !== undefined && p.commitTimestamp >= 0 ? p.commitTimestamp : now,
      });
    }
  }
  return { refusal: null, commits, answer };
}
