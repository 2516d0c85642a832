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
import { CreateExchangeBody, DeleteExchangeQuery, ExchangePublishBody } from './exchanges.js';
import { CreateUserBody } from './users.js';
import { CreateQueueBody, DeleteQueueQuery } from './queues.js';
import { BindingBody } from './bindings.js';
import { ResetOffsetsBody } from './groups.js';
import { ConnectionsQuery } from './connections.js';
import { AclFilterBody, AclQuery, CreateAclBody } from './acls.js';
import { StreamEventsQuery } from './stream-events.js';
import { BROKER_ERROR_STATUS } from './error-reply.js';
import { PermissionsQuery, SetPermissionBody } from './permissions.js';
import { VhostQuery } from './vhosts.js';

interface Operation {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
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
  { method: 'get', path: '/api/exchanges', tag: 'exchanges', summary: 'List exchanges with their bindings', query: VhostQuery, ok: [200, '{exchanges: [...]}'] },
  { method: 'post', path: '/api/exchanges/{name}/publish', tag: 'exchanges', summary: 'Publish through an exchange with a routing key', query: VhostQuery, body: ExchangePublishBody, ok: [200, '{routed, deliveries}'], errors: [403, 404] },
  { method: 'get', path: '/api/queues', tag: 'queues', summary: 'List queues with message, unacked and consumer counts and bindings', query: VhostQuery, ok: [200, '{queues: [...]}'] },
  { method: 'get', path: '/api/queues/{name}', tag: 'queues', summary: 'Describe one queue', query: VhostQuery, ok: [200, 'The queue'], errors: [404] },
  { method: 'get', path: '/api/streams/{name}/events', tag: 'records', summary: 'Server-Sent Events of one partition: replay from offset/from/timestamp, then follow (`record` events)', query: StreamEventsQuery, ok: [200, 'text/event-stream; each `record` event is {partition, offset, ...message}'], errors: [404] },
  { method: 'get', path: '/api/streams/{name}/ws', tag: 'records', summary: 'The same as /events over a WebSocket (one JSON text frame per record)', query: StreamEventsQuery, ok: [101, 'Switching protocols'], errors: [404] },
  { method: 'post', path: '/api/exchanges', tag: 'exchanges', summary: 'Declare an exchange (exchange.declare rules)', query: VhostQuery, body: CreateExchangeBody, ok: [201, 'The exchange (200 when an equivalent one existed)'], errors: [403, 409] },
  { method: 'delete', path: '/api/exchanges/{name}', tag: 'exchanges', summary: 'Delete an exchange (?ifUnused=true refuses while bound)', query: DeleteExchangeQuery, ok: [204, 'Deleted'], errors: [403, 404, 409] },
  { method: 'post', path: '/api/queues', tag: 'queues', summary: 'Declare a queue (queue.declare rules and argument checks)', query: VhostQuery, body: CreateQueueBody, ok: [201, 'The queue (200 when an equivalent one existed)'], errors: [403, 409] },
  { method: 'delete', path: '/api/queues/{name}', tag: 'queues', summary: 'Delete a queue (?ifUnused=true, ?ifEmpty=true)', query: DeleteQueueQuery, ok: [204, 'Deleted'], errors: [404, 409] },
  { method: 'post', path: '/api/queues/{name}/purge', tag: 'queues', summary: 'Drop every ready message', query: VhostQuery, ok: [200, '{purged}'], errors: [404] },
  { method: 'post', path: '/api/bindings', tag: 'bindings', summary: 'Bind a queue or an exchange to a source exchange', query: VhostQuery, body: BindingBody, ok: [201, 'The binding with created (200 when it existed)'], errors: [403, 404] },
  { method: 'delete', path: '/api/bindings', tag: 'bindings', summary: 'Remove a binding (same body)', query: VhostQuery, body: BindingBody, ok: [204, 'Removed'], errors: [403, 404] },
  { method: 'get', path: '/api/groups', tag: 'groups', summary: 'List Kafka consumer groups', ok: [200, '{groups: [{groupId, state, protocolType, members}]}'] },
  { method: 'get', path: '/api/groups/{id}', tag: 'groups', summary: 'Describe a group: members with assignments, committed offsets with lag', ok: [200, '{groupId, state, protocolType, protocol, generationId, members, offsets, totalLag}'], errors: [404] },
  { method: 'post', path: '/api/groups/{id}/reset-offsets', tag: 'groups', summary: 'Reset committed offsets of an inactive group', body: ResetOffsetsBody, ok: [200, '{offsets: [{topic, partition, offset}]}'], errors: [404, 409] },
  { method: 'delete', path: '/api/groups/{id}', tag: 'groups', summary: 'Delete an inactive group and its offsets', ok: [204, 'Deleted'], errors: [404, 409] },
  { method: 'get', path: '/api/connections', tag: 'connections', summary: 'List client connections of every protocol with their traffic', query: ConnectionsQuery, ok: [200, '{connections: [...]}'] },
  { method: 'delete', path: '/api/connections/{id}', tag: 'connections', summary: "Close a connection (with the protocol's own goodbye)", ok: [204, 'Closed'], errors: [404] },
  { method: 'get', path: '/api/acls', tag: 'acls', summary: 'List ACL entries (query fields filter)', query: AclQuery, ok: [200, '{acls: [...]}'] },
  { method: 'post', path: '/api/acls', tag: 'acls', summary: 'Add an ACL entry', body: CreateAclBody, ok: [201, 'The entry'], errors: [403] },
  { method: 'delete', path: '/api/acls', tag: 'acls', summary: 'Remove every ACL entry matching the filter body', body: AclFilterBody, ok: [200, '{removed: [...]}'], errors: [403] },
  { method: 'get', path: '/api/status', tag: 'server', summary: 'Version, uptime, bound listeners, resource totals', ok: [200, '{version, uptimeMs, listeners, totals}'] },
  { method: 'get', path: '/api/stats', tag: 'server', summary: 'Cumulative traffic counters, connections per protocol, disk bytes', ok: [200, '{timestamp, messagesIn, messagesOut, bytesIn, bytesOut, connections, diskBytes}'] },
  { method: 'get', path: '/api/stats/events', tag: 'server', summary: 'The same as /api/stats once per second as Server-Sent Events (`stats`)', ok: [200, 'text/event-stream'] },
  { method: 'get', path: '/api/cursors', tag: 'cursors', summary: 'List durable cursors (?stream= filters)', ok: [200, '{cursors: [...]}'] },
  { method: 'get', path: '/api/users', tag: 'users', summary: 'List users (never credentials)', ok: [200, '{users: [{name, tags, mechanisms, createdAt}]}'] },
  { method: 'post', path: '/api/users', tag: 'users', summary: 'Create a user', body: CreateUserBody, ok: [201, 'The user'], errors: [409] },
  { method: 'delete', path: '/api/users/{name}', tag: 'users', summary: 'Delete a user', ok: [204, 'Deleted'], errors: [404] },
  { method: 'get', path: '/api/vhosts', tag: 'vhosts', summary: 'List virtual hosts with their queue and exchange counts', ok: [200, '{vhosts: [{name, default, queues, exchanges}]}'] },
  { method: 'get', path: '/api/vhosts/{name}', tag: 'vhosts', summary: "Describe a virtual host ('/' is %2F)", ok: [200, 'The vhost'], errors: [404] },
  { method: 'put', path: '/api/vhosts/{name}', tag: 'vhosts', summary: 'Create a virtual host (persisted; idempotent)', ok: [201, 'The vhost (200 when it existed)'], errors: [403] },
  { method: 'delete', path: '/api/vhosts/{name}', tag: 'vhosts', summary: 'Delete a virtual host: closes its AMQP connections (320), removes its queues, exchanges and permissions', ok: [204, 'Deleted'], errors: [403, 404] },
  { method: 'get', path: '/api/permissions', tag: 'permissions', summary: 'List per-vhost user permissions (?user=, ?vhost= filter)', query: PermissionsQuery, ok: [200, '{permissions: [{user, vhost, configure, write, read}]}'] },
  { method: 'get', path: '/api/permissions/{vhost}/{user}', tag: 'permissions', summary: "A user's permissions on a vhost", ok: [200, '{user, vhost, configure, write, read}'], errors: [404] },
  { method: 'put', path: '/api/permissions/{vhost}/{user}', tag: 'permissions', summary: "Set a user's configure/write/read regexes on a vhost", body: SetPermissionBody, ok: [201, 'The entry (200 when it replaced one)'], errors: [403, 404] },
  { method: 'delete', path: '/api/permissions/{vhost}/{user}', tag: 'permissions', summary: "Clear a user's permissions on a vhost", ok: [204, 'Cleared'], errors: [403, 404] },
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
