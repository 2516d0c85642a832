/** CreatePartitions (37): grows a topic to `count` partitions (never shrinks: INVALID_PARTITIONS). */
import type { CreatePartitionsRequest, CreatePartitionsResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { kafkaErrorOf } from '../error-map.js';

export async function handleCreatePartitions(ctx: KafkaContext, session: SessionState, req: CreatePartitionsRequest): Promise<Encodable<CreatePartitionsResponse>> {
  const results: Encodable<CreatePartitionsResponse.CreatePartitionsTopicResult>[] = [];
  for (const t of req.topics) {
    const stream = ctx.broker.stream(t.name);
    if (stream === undefined) {
      results.push({ name: t.name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `topic '${t.name}' does not exist` });
      continue;
    }
    if (!Number.isInteger(t.count) || t.count <= stream.partitionCount) {
      results.push({ name: t.name, errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: `topic '${t.name}' has ${stream.partitionCount} partitions; the new count must be larger (got ${t.count})` });
      continue;
    }
    try {
      if (req.validateOnly) ctx.broker.check(session.principal, 'alter', 'stream', t.name);
      else await ctx.broker.addPartitions(session.principal, t.name, t.count);
      results.push({ name: t.name, errorCode: ErrorCode.NONE, errorMessage: null });
    } catch (err) {
      const e = kafkaErrorOf(err);
      results.push({ name: t.name, errorCode: e.code === ErrorCode.INVALID_CONFIG ? ErrorCode.INVALID_PARTITIONS : e.code, errorMessage: e.message });
    }
  }
  return { throttleTimeMs: 0, results };
}
