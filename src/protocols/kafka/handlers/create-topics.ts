/**
 * CreateTopics (19): partitions (-1 = default), replication factor 1 or -1 (one node), configs, validateOnly.
 * Kafka's topic name rules come from the core (INVALID_TOPIC_EXCEPTION); an existing name is
 * TOPIC_ALREADY_EXISTS; a name given twice in one request is INVALID_REQUEST.
 */
import type { CreateTopicsRequest, CreateTopicsResponse, Encodable } from '../codec/index.js';
import { ErrorCode, ZERO_UUID } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { kafkaErrorOf } from '../error-map.js';
import { CONFIG_SOURCE_DEFAULT, CONFIG_SOURCE_TOPIC } from './topic-description.js';
import { MAX_PARTITIONS } from '../../../core/stream.js';

export async function handleCreateTopics(ctx: KafkaContext, session: SessionState, req: CreateTopicsRequest): Promise<Encodable<CreateTopicsResponse>> {
  const counts = new Map<string, number>();
  for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
  const topics: Encodable<CreateTopicsResponse.CreatableTopicResult>[] = [];
  for (const t of req.topics) {
    const fail = (errorCode: number, errorMessage: string): void => {
      topics.push({ name: t.name, topicId: ZERO_UUID, errorCode, errorMessage, numPartitions: -1, replicationFactor: -1, configs: null });
    };
    if (counts.get(t.name)! > 1) {
      fail(ErrorCode.INVALID_REQUEST, `topic '${t.name}' appears more than once in the request`);
      continue;
    }
    const partitions = t.assignments.length > 0 ? t.assignments.length : t.numPartitions === -1 ? ctx.defaultPartitions : t.numPartitions;
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
      fail(ErrorCode.INVALID_PARTITIONS, `number of partitions must be between 1 and ${MAX_PARTITIONS} (got ${t.numPartitions})`);
      continue;
    }
    if (t.replicationFactor !== -1 && t.replicationFactor !== 1) {
      fail(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor ${t.replicationFactor} is larger than the 1 available broker`);
      continue;
    }
    const configs: { [key: string]: string } = {};
    for (const c of t.configs) if (c.value !== null) configs[c.name] = c.value;
    try {
      const stream = await ctx.broker.createStream(session.principal, { name: t.name, partitions, configs }, { validateOnly: req.validateOnly });
      const entries = stream !== null ? stream.configEntries() : [];
      topics.push({
        name: t.name,
        topicId: ZERO_UUID,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        numPartitions: partitions,
        replicationFactor: 1,
        configs: entries.map((e) => ({ name: e.name, value: e.value, readOnly: false, configSource: e.isDefault ? CONFIG_SOURCE_DEFAULT : CONFIG_SOURCE_TOPIC, isSensitive: false })),
      });
      if (stream !== null) ctx.logger.info({ topic: t.name, partitions, session: session.id }, 'created topic');
    } catch (err) {
      const e = kafkaErrorOf(err);
      fail(e.code, e.message);
    }
  }
  return { throttleTimeMs: 0, topics };
}
