/**
 * Streams (Kafka topics) admin: list, create, describe (partitions with offsets, configs), alter configs,
 * add partitions, delete. Every write goes through the Broker so authorization and persistence stay in core.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Stream } from '../../core/stream.js';
import { parseInput } from './error-reply.js';
import { principalOf, type ApiOptions } from './api-context.js';

/** Config values may be sent as numbers; the core parses the normalised string form. */
const configValue = z.union([z.string(), z.number(), z.boolean()]).transform(String);

export const StreamNameParams = z.object({ name: z.string().min(1) });

export const CreateStreamBody = z.strictObject({
  name: z.string().min(1),
  partitions: z.int().min(1).optional(),
  subjects: z.array(z.string().min(1)).optional(),
  retention: z.enum(['limits', 'workqueue', 'compact']).optional(),
  storage: z.enum(['file', 'memory']).optional(),
  configs: z.record(z.string(), configValue).optional(),
});

export const AlterConfigsBody = z.strictObject({
  // null resets a key to the broker default (Kafka IncrementalAlterConfigs DELETE).
  configs: z.record(z.string(), configValue.nullable()),
});

export const AddPartitionsBody = z.strictObject({
  count: z.int().min(1).describe('The new total number of partitions (as Kafka CreatePartitions).'),
});

function summary(s: Stream): object {
  return { name: s.name, partitions: s.partitionCount, subjects: s.subjects, retention: s.retention };
}

export function describeStream(s: Stream): object {
  const partitions = [];
  for (let p = 0; p < s.partitionCount; p++) partitions.push({ partition: p, ...s.offsets(p) });
  return { ...summary(s), storage: s.definition().storage, partitions, configs: s.configEntries() };
}

export async function streamRoutes(app: FastifyInstance, { broker }: ApiOptions): Promise<void> {
  const stream = (params: unknown): Stream => broker.requireStream(parseInput(StreamNameParams, params, 'params').name);

  app.get('/api/streams', async () => ({ streams: broker.streams().map(summary) }));

  app.post('/api/streams', async (req, reply) => {
    const body = parseInput(CreateStreamBody, req.body, 'body');
    const created = (await broker.createStream(principalOf(req), body)) as Stream;
    return reply.code(201).send(describeStream(created));
  });

  app.get('/api/streams/:name', async (req) => describeStream(stream(req.params)));

  app.patch('/api/streams/:name/configs', async (req) => {
    const s = stream(req.params);
    const { configs } = parseInput(AlterConfigsBody, req.body, 'body');
    await broker.alterStreamConfigs(principalOf(req), s.name, configs);
    return describeStream(s);
  });

  app.post('/api/streams/:name/partitions', async (req) => {
    const s = stream(req.params);
    const { count } = parseInput(AddPartitionsBody, req.body, 'body');
    await broker.addPartitions(principalOf(req), s.name, count);
    return describeStream(s);
  });

  app.delete('/api/streams/:name', async (req, reply) => {
    const s = stream(req.params);
    await broker.deleteStream(principalOf(req), s.name);
    return reply.code(204).send();
  });
}

