/**
 * AMQP queues over HTTP: list and describe (definition, ready and unacked counts, consumers, bindings,
 * cumulative in/out counters), declare with queue.declare's rules and argument checks (through the core
 * QueueRegistry, so an HTTP-declared queue is the same as an AMQP-declared one), delete, purge.
 *
 * A queue declared here is never exclusive: exclusivity belongs to a connection, and an HTTP request has none.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { BrokerError, isBrokerError } from '../../core/broker-error.js';
import { parseQueueArguments, queueRegistryOf, type Queue } from '../../core/queue-registry.js';
import type { Broker } from '../../core/broker.js';
import { ApiError, parseInput } from './error-reply.js';
import { principalOf, type ApiOptions } from './api-context.js';

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

export const DeleteQueueQuery = z.strictObject({
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
    messagesOut += q.cursor.ackFloor(level);
  }
  return {
    name: d.name,
    stream: d.stream,
    durable: d.durable,
    exclusive: d.exclusive,
    autoDelete: d.autoDelete,
    arguments: d.arguments,
    messages: q.messageCount,
    unacked: q.cursor.inFlightCount,
    consumers: q.consumerCount,
    messagesIn,
    messagesOut,
    bindings: broker.exchanges.definitions().flatMap((e) =>
      e.bindings.filter((b) => b.destinationKind === 'queue' && b.destination === d.name).map((b) => ({ source: e.name, routingKey: b.routingKey, arguments: b.arguments })),
    ),
  };
}

export async function queueRoutes(app: FastifyInstance, { broker }: ApiOptions): Promise<void> {
  app.get('/api/queues', async (req) => {
    const registry = await queueRegistryOf(broker, principalOf(req));
    return { queues: [...registry].map((q) => queueJson(broker, q)) };
  });

  app.get('/api/queues/:name', async (req) => {
    const { name } = parseInput(QueueParams, req.params, 'params');
    const registry = await queueRegistryOf(broker, principalOf(req));
    return queueJson(broker, registry.require(name));
  });

  app.post('/api/queues', async (req, reply) => {
    const body = parseInput(CreateQueueBody, req.body, 'body');
    const principal = principalOf(req);
    broker.check(principal, 'create', 'queue', body.name);
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
      name: body.name,
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
    const { ifUnused, ifEmpty } = parseInput(DeleteQueueQuery, req.query, 'query');
    const principal = principalOf(req);
    broker.check(principal, 'delete', 'queue', name);
    const registry = await queueRegistryOf(broker, principal);
    if (!registry.has(name)) throw new BrokerError('TRIB_QUEUE_NOT_FOUND', `no queue '${name}'`);
    await registry.delete(principal, name, { ifUnused, ifEmpty });
    return reply.code(204).send();
  });

  app.post('/api/queues/:name/purge', async (req) => {
    const { name } = parseInput(QueueParams, req.params, 'params');
    const principal = principalOf(req);
    broker.check(principal, 'delete', 'queue', name);
    const registry = await queueRegistryOf(broker, principal);
    return { purged: await registry.purge(name) };
  });
}
