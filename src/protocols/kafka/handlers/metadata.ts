/**
 * Metadata (3): this broker as node 0 (controller, leader of every partition) at the advertised host and the
 * port actually bound; topics asked for (v0: an empty list means all; v1+: null means all). Unknown topics are
 * created when auto-creation is on and the client allows it (v4+ allowAutoTopicCreation). Listing all topics
 * leaves out internal streams (`__…`); naming one returns it with isInternal set.
 */
import type { MetadataRequest, MetadataResponse, Encodable } from '../codec/index.js';
import { ErrorCode, ZERO_UUID } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { kafkaErrorOf } from '../error-map.js';
import { partitionsOf } from './topic-description.js';
import { ensureTopic } from './auto-create.js';

export async function handleMetadata(ctx: KafkaContext, session: SessionState, req: MetadataRequest, version: number): Promise<Encodable<MetadataResponse>> {
  const all = req.topics === null || (version === 0 && req.topics.length === 0);
  const topics: Encodable<MetadataResponse.MetadataResponseTopic>[] = [];
  if (all) {
    for (const stream of ctx.broker.streams()) topics.push(describe(ctx, stream.name));
  } else {
    const allowCreate = ctx.autoCreateTopics && (version < 4 || req.allowAutoTopicCreation);
    for (const t of req.topics ?? []) {
      const name = t.name ?? '';
      try {
        if (allowCreate) await ensureTopic(ctx, session, name);
        else ctx.broker.check(session.principal, 'describe', 'stream', name);
        topics.push(describe(ctx, name));
      } catch (err) {
        topics.push({ errorCode: kafkaErrorOf(err).code, name, topicId: ZERO_UUID, isInternal: false, partitions: [] });
      }
    }
  }
  return {
    throttleTimeMs: 0,
    brokers: [{ nodeId: ctx.nodeId, host: ctx.advertisedHost, port: ctx.advertisedPort, rack: null }],
    clusterId: ctx.clusterId,
    controllerId: ctx.nodeId,
    topics,
  };
}

function describe(ctx: KafkaContext, name: string): Encodable<MetadataResponse.MetadataResponseTopic> {
  const stream = ctx.broker.stream(name);
  if (stream === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, topicId: ZERO_UUID, isInternal: false, partitions: [] };
  return { errorCode: ErrorCode.NONE, name, topicId: ZERO_UUID, isInternal: stream.internal, partitions: partitionsOf(stream, ctx.nodeId) };
}
