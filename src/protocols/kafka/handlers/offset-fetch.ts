/** OffsetFetch (9, v1–7): committed offsets (-1 when none); topics null (v2+) asks for all of the group's. */
import type { OffsetFetchRequest, OffsetFetchResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { kafkaErrorOf } from '../error-map.js';

export function handleOffsetFetch(ctx: KafkaContext, session: SessionState, req: OffsetFetchRequest): Encodable<OffsetFetchResponse> {
  try {
    ctx.broker.check(session.principal, 'describe', 'group', req.groupId);
  } catch (err) {
    return { throttleTimeMs: 0, topics: [], errorCode: kafkaErrorOf(err, ErrorCode.GROUP_AUTHORIZATION_FAILED).code };
  }
  const wanted: Array<{ name: string; partitionIndexes: number[] }> =
    req.topics !== null ? req.topics : [...ctx.coordinator.offsets.all(req.groupId)].map(([name, parts]) => ({ name, partitionIndexes: [...parts.keys()] }));
  const topics = wanted.map((t) => ({
    name: t.name,
    partitions: t.partitionIndexes.map((p) => {
      const c = ctx.coordinator.committed(req.groupId, t.name, p);
      return { partitionIndex: p, committedOffset: c?.offset ?? -1, committedLeaderEpoch: c?.leaderEpoch ?? -1, metadata: c?.metadata ?? '', errorCode: ErrorCode.NONE };
    }),
  }));
  return { throttleTimeMs: 0, topics, errorCode: ErrorCode.NONE };
}
