/**
 * The OpenAPI 3 document served at /openapi.json. Operations are listed here by hand (summary, parameters,
 * statuses) and request bodies and queries are generated from the same zod schemas the handlers validate
 * with, so the documented shapes cannot drift from the checked ones. A test fails if a registered /api route
 * is missing from OPERATIONS.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AddPartitionsBody, AlterConfigsBody, CreateStreamBody } from './streams.js';
import { ProduceBody, ReadQuery } from './records.js';
import { PublishBody } from './subjects.js';
import { ExchangePublishBody } from './exchanges.js';
import { CreateUserBody } from './users.js';
import { BROKER_ERROR_STATUS } from './error-reply.js';

interface Operation {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** OpenAPI form: `/api/streams/{name}`. */
  path: string;
  tag: string;
  summary: string;
  body?: z.ZodType;
  query?: z.ZodObject;
  /** Success status and what it returns. */
  ok: [number, string];
  /** Error statuses worth naming beyond 400. */
  errors?: number[];
}

export const OPERATIONS: readonly Operation[] = [
  { method: 'get', path: '/api/streams', tag: 'streams', summary: 'List streams (topics)', ok: [200, '{streams: [{name, partitions, subjects, retention}]}'] },
  { method: 'post', path: '/api/streams', tag: 'streams', summary: 'Create a stream', body: CreateStreamBody, ok: [201, 'The stream as described'], errors: [409] },
  { method: 'get', path: '/api/streams/{name}', tag: 'streams', summary: 'Describe a stream: partitions with start/end/high-watermark offsets, configs', ok: [200, 'The stream'], errors: [404] },
  { method: 'patch', path: '/api/streams/{name}/configs', tag: 'streams', summary: 'Set configs (null resets a key to its default)', body: AlterConfigsBody, ok: [200, 'The stream'], errors: [404] },
  { method: 'post', path: '/api/streams/{name}/partitions', tag: 'streams', summary: 'Grow the stream to `count` partitions', body: AddPartitionsBody, ok: [200, 'The stream'], errors: [404] },
  { method: 'delete', path: '/api/streams/{name}', tag: 'streams', summary: 'Delete a stream and its data', ok: [204, 'Deleted'], errors: [404] },
  { method: 'post', path: '/api/streams/{name}/records', tag: 'records', summary: 'Produce one record or {records: [...]}; answers once durable', body: ProduceBody, ok: [200, '{offsets: [{partition, offset}]}'], errors: [404, 413] },
  { method: 'get', path: '/api/streams/{name}/records', tag: 'records', summary: 'Read a page of records from an offset or a timestamp', query: ReadQuery, ok: [200, '{partition, records, nextOffset, highWatermark}'], errors: [404] },
  { method: 'post', path: '/api/subjects/{subject}/publish', tag: 'subjects', summary: 'Publish on a subject (live subscribers, capturing streams, amq.topic queues)', body: PublishBody, ok: [200, '{deliveries, stored: [{partition, offset}]}'] },
  { method: 'get', path: '/api/subjects/{subject}/events', tag: 'subjects', summary: 'Server-Sent Events of messages matching a subject filter', ok: [200, 'text/event-stream; each `message` event is a JSON message'] },
  { method: 'get', path: '/api/subjects/{subject}/ws', tag: 'subjects', summary: 'WebSocket of messages matching a subject filter (one JSON text frame each)', ok: [101, 'Switching protocols'] },
  { method: 'get', path: '/api/exchanges', tag: 'exchanges', summary: 'List exchanges with their bindings', ok: [200, '{exchanges: [...]}'] },
  { method: 'post', path: '/api/exchanges/{name}/publish', tag: 'exchanges', summary: 'Publish through an exchange with a routing key', body: ExchangePublishBody, ok: [200, '{routed, deliveries}'], errors: [403, 404] },
  { method: 'get', path: '/api/queues', tag: 'queues', summary: 'List queues with message, unacked and consumer counts and bindings', ok: [200, '{queues: [...]}'] },
  { method: 'get', path: '/api/queues/{name}', tag: 'queues', summary: 'Describe one queue', ok: [200, 'The queue'], errors: [404] },
  { method: 'get', path: '/api/cursors', tag: 'cursors', summary: 'List durable cursors (?stream= filters)', ok: [200, '{cursors: [...]}'] },
  { method: 'get', path: '/api/users', tag: 'users', summary: 'List users (never credentials)', ok: [200, '{users: [{name, tags, mechanisms, createdAt}]}'] },
  { method: 'post', path: '/api/users', tag: 'users', summary: 'Create a user', body: CreateUserBody, ok: [201, 'The user'], errors: [409] },
  { method: 'delete', path: '/api/users/{name}', tag: 'users', summary: 'Delete a user', ok: [204, 'Deleted'], errors: [404] },
];

function jsonSchema(schema: z.ZodType): unknown {
  // Input shapes: what a client sends, before defaults and transforms.
  return z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' });
}

const ErrorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: Object.keys(BROKER_ERROR_STATUS) },
        message: { type: 'string' },
        field: { type: 'string', description: 'The offending field for validation errors (`records.0.value`, `query.offset`).' },
      },
    },
  },
};

export function buildOpenApi(version: string): object {
  const paths: { [path: string]: { [method: string]: object } } = {};
  for (const op of OPERATIONS) {
    const parameters: object[] = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (op.query !== undefined) {
      const q = jsonSchema(op.query) as { properties?: { [k: string]: unknown }; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema });
    }
    const responses: { [status: string]: object } = { [op.ok[0]]: { description: op.ok[1] } };
    for (const status of [400, ...(op.errors ?? [])]) {
      responses[status] = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    }
    const operation: { [k: string]: unknown } = { tags: [op.tag], summary: op.summary, parameters, responses };
    if (op.body !== undefined) operation.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(op.body) } } };
    (paths[op.path] ??= {})[op.method] = operation;
  }
  return {
    openapi: '3.0.3',
    info: { title: 'Tributary HTTP API', version },
    paths,
    components: { schemas: { Error: ErrorSchema } },
  };
}

export async function openApiRoutes(app: FastifyInstance, options: { version: string }): Promise<void> {
  // Built once: the document is static for the life of the process.
  const doc = buildOpenApi(options.version);
  app.get('/openapi.json', async () => doc);
}
