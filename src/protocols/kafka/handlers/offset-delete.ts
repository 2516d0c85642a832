/**
 * OffsetDelete (47, v0; librdkafka admin DeleteConsumerGroupOffsets): removes committed offsets of a group
 * (tombstoned in `__consumer_offsets` before the answer). As in Kafka, offsets of a topic that a live member of
 * a consumer-protocol group subscribes to are kept (GROUP_SUBSCRIBED_TO_TOPIC); an unknown group is
 * GROUP_ID_NOT_FOUND. A member subscription that cannot be parsed counts as subscribed to everything.
 */
import type { Encodable, OffsetDeleteRequest, OffsetDeleteResponse } from '../codec/index.js';
import { ConsumerProtocolSubscriptionSchema, ErrorCode, decodeBuffer } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { kafkaErrorOf } from '../error-map.js';

/** Topics the group's live members subscribe to; null = unknown (treat every topic as subscribed). */
function subscribedTopics(ctx: KafkaContext, groupId: string): Set<string> | null {
  const d = ctx.coordinator.describe(groupId);
  const out = new Set<string>();
  if (d.members.length === 0 || d.protocolType !== 'consumer') return out;
  for (const m of d.members) {
    try {
      // ConsumerProtocolSubscription: int16 version, then the fields of that version.
      const version = Math.min(m.metadata.readInt16BE(0), 3);
      for (const t of decodeBuffer(m.metadata.subarray(2), ConsumerProtocolSubscriptionSchema, version).topics) out.add(t);
    } catch {
      return null;
    }
  }
  return out;
}

export async function handleOffsetDelete(ctx: KafkaContext, session: SessionState, req: OffsetDeleteRequest): Promise<Encodable<OffsetDeleteResponse>> {
  const fail = (errorCode: number): Encodable<OffsetDeleteResponse> => ({ errorCode, throttleTimeMs: 0, topics: [] });
  try {
    ctx.broker.check(session.principal, 'delete', 'group', req.groupId);
  } catch (err) {
    return fail(kafkaErrorOf(err, ErrorCode.GROUP_AUTHORIZATION_FAILED).code);
  }
  if (ctx.coordinator.describe(req.groupId).state === 'Dead') return fail(ErrorCode.GROUP_ID_NOT_FOUND);
  const subscribed = subscribedTopics(ctx, req.groupId);
  const toDelete: Array<{ topic: string; partition: number }> = [];
  const topics = req.topics.map((t) => {
    let topicError: number = ErrorCode.NONE;
    try {
      ctx.broker.check(session.principal, 'read', 'stream', t.name);
      if (subscribed === null || subscribed.has(t.name)) topicError = ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC;
    } catch (err) {
      topicError = kafkaErrorOf(err).code;
    }
    const partitions = t.partitions.map((p) => {
      if (topicError === ErrorCode.NONE) toDelete.push({ topic: t.name, partition: p.partitionIndex });
      return { partitionIndex: p.partitionIndex, errorCode: topicError };
    });
    return { name: t.name, partitions };
  });
  try {
    await ctx.coordinator.offsets.deleteOffsets(req.groupId, toDelete);
  } catch (err) {
    return fail(kafkaErrorOf(err).code);
  }
  return { errorCode: ErrorCode.NONE, throttleTimeMs: 0, topics };
}
