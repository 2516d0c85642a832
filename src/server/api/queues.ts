/**
 * AMQP queues over HTTP: list and describe (definition, ready and unacked counts, consumers, bindings,
 * cumulative in/out counters), declare with queue.declare's rules and argument checks (through the core
 * QueueRegistry, so an HTTP-declared queue is the same as an AMQP-declared one), delete, purge.
 *
 * A queue declared here is never exclusive: exclusivity belongs to a connection, and an HTTP request has none.
 *
 * Virtual hosts: every route takes `?vhost=` (default '/'; GET /api/queues lists every vhost without it). Queues
 * are shown with their `vhost` and their name within it, never the core's scoped name.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { BrokerError, isBrokerError } from '../../core/broker-error.js';
import { parseQueueArguments, queueRegistryOf, type Queue, type QueueRegistry } from '../../core/queue-registry.js';
import type { Broker } from '../../core/broker.js';
import { ApiError, parseInput } from './error-reply.js';
import { principalOf, type ApiOptions } from './api-context.js';
import { DEFAULT_TENANT, splitTenantName, tenantName } from '../../core/exchange-registry.js';
import { VhostQuery, selectedVhost } from './vhosts.js';

/** Owner recorded for queues declared over HTTP (only exclusive queues use it, and HTTP declares none). */
const HTTP_OWNER = 'http-api';

export const QueueParams = z.object({ name: z.string().min(1) });

export const CreateQueueBody = z.strictObject({
  name: z.string().min(1),
  durable: z.boolean().optional().describe('Default true (survives a restart).'),
  exclusive: z.literal(false).optional().describe('Always false over HTTP: an exclusive queue belongs to a connection.'),
  autoDelete: z.boolean().optional(),
  arguments: z.record(z.string(), z.unknown()).optional().describe('x-arguments as in queue.declare: x-message-ttl, x-max-length, x-dead-letter-exchange, ...'),
});

export const DeleteQueueQuery = VhostQuery.extend({
  ifUnused: z.stringbool().optional().describe('Refuse (409 TRIB_QUEUE_IN_USE) while it has consumers.'),
  ifEmpty: z.stringbool().optional().describe('Refuse (409 TRIB_QUEUE_NOT_EMPTY) while it holds messages.'),
});

function queueJson(broker: Broker, q: Queue): object {
  const d = q.definition;
  let messagesIn = 0;
  let messagesOut = 0;
  for (let level = 0; level < q.levels; level++) {
    // Offsets are never reused, so the high watermark is every message ever appended and the ack floor every
    // one settled (acked, expired, dead-lettered or purged): both cumulative, and free to read.
    if (level < q.stream.partitionCount) messagesIn += q.stream.offsets(level).highWatermark;
    // A stream queue settles nothing (its log keeps what retention allows), so it has no ack floor.
    messagesOut += q.sharedCursor?.ackFloor(level) ?? 0;
  }
  const { tenant, name } = splitTenantName(d.name);
  return {
    name,
    vhost: tenant,
    stream: d.stream,
    durable: d.durable,
    exclusive: d.exclusive,
    autoDelete: d.autoDelete,
    arguments: d.arguments,
    messages: q.messageCount,
    unacked: q.unackedCount,
    consumers: q.consumerCount,
    messagesIn,
    messagesOut,
    bindings: broker.exchanges.definitions().flatMap((e) =>
      e.bindings.filter((b) => b.destinationKind === 'queue' && b.destination === d.name).map((b) => ({ source: splitTenantName(e.name).name, routingKey: b.routingKey, arguments: b.arguments })),
    ),
  };
}

export async function queueRoutes(app: FastifyInstance, { broker }: ApiOptions): Promise<void> {
  app.get('/api/queues', async (req) => {
    const { vhost } = parseInput(VhostQuery, req.query, 'query');
    const registry = await queueRegistryOf(broker, principalOf(req));
    const queues = [...registry].filter((q) => vhost === undefined || splitTenantName(q.name).tenant === vhost);
    return { queues: queues.map((q) => queueJson(broker, q)) };
  });

  app.get('/api/queues/:name', async (req) => {
    const { name } = parseInput(QueueParams, req.params, 'params');
    const vhost = selectedVhost(broker, parseInput(VhostQuery, req.query, 'query').vhost);
    const registry = await queueRegistryOf(broker, principalOf(req));
    return queueJson(broker, requireQueue(registry, vhost, name));
  });

  app.post('/api/queues', async (req, reply) => {
    const body = parseInput(CreateQueueBody, req.body, 'body');
    const vhost = selectedVhost(broker, parseInput(VhostQuery, req.query, 'query').vhost);
    const principal = principalOf(req);
    // A NUL separates a vhost from a name in the core: a name holding one could reach another vhost.
    if (body.name.includes('\u0000')) throw new ApiError('TRIB_HTTP_INVALID_REQUEST', 'name: queue names may not contain NUL', 'name');
    const scoped = tenantName(vhost, body.name);
    broker.check(principal, 'create', 'queue', scoped);
    // The user's vhost permissions apply as over AMQP (a no-op for anonymous callers, --http-auth off).
    broker.authorizer.checkPermission(principal, vhost, 'configure', 'queue', body.name);
    const args = body.arguments ?? {};
    try {
      parseQueueArguments(args);
    } catch (err) {
      // The same checks queue.declare runs; over HTTP a bad argument is a bad request naming it.
      if (!isBrokerError(err)) throw err;
      const arg = /invalid arg '([^']+)'/.exec(err.message)?.[1];
      throw new ApiError('TRIB_HTTP_INVALID_REQUEST', `arguments: ${err.message}`, arg === undefined ? 'arguments' : `arguments.${arg}`);
    }
    const registry = await queueRegistryOf(broker, principal);
    const { queue, created } = await registry.declare(principal, {
      name: scoped,
      durable: body.durable ?? true,
      exclusive: false,
      autoDelete: body.autoDelete ?? false,
      arguments: args,
      owner: HTTP_OWNER,
    });
    return reply.code(created ? 201 : 200).send(queueJson(broker, queue));
  });

  app.delete('/api/queues/:name', async (req, reply) => {
    const { name } = parseInput(QueueParams, req.params, 'params');
    const query = parseInput(DeleteQueueQuery, req.query, 'query');
    const vhost = selectedVhost(broker, query.vhost);
    const principal = principalOf(req);
    const registry = await queueRegistryOf(broker, principal);
    const queue = requireQueue(registry, vhost, name);
    broker.check(principal, 'delete', 'queue', queue.name);
    broker.authorizer.checkPermission(principal, vhost, 'configure', 'queue', name);
    // Its AMQP consumers get basic.cancel (consumer_cancel_notify) from the registry's 'deleted' event.
    await registry.delete(principal, queue.name, { ifUnused: query.ifUnused, ifEmpty: query.ifEmpty });
    return reply.code(204).send();
  });

  app.post('/api/queues/:name/purge', async (req) => {
    const { name } = parseInput(QueueParams, req.params, 'params');
    const vhost = selectedVhost(broker, parseInput(VhostQuery, req.query, 'query').vhost);
    const principal = principalOf(req);
    const registry = await queueRegistryOf(broker, principal);
    const queue = requireQueue(registry, vhost, name);
    broker.check(principal, 'delete', 'queue', queue.name);
    broker.authorizer.checkPermission(principal, vhost, 'read', 'queue', name);
    return { purged: await registry.purge(queue.name) };
  });
}

/** Queue `name` of `vhost`, or TRIB_QUEUE_NOT_FOUND naming it as its clients know it. */
function requireQueue(registry: QueueRegistry, vhost: string, name: string): Queue {
  const q = name.includes('\u0000') ? undefined : registry.get(tenantName(vhost, name));
  if (q === undefined) throw new BrokerError('TRIB_QUEUE_NOT_FOUND', vhost === DEFAULT_TENANT ? `no queue '${name}'` : `no queue '${name}' in vhost '${vhost}'`);
  return q;
}
