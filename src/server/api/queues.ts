/**
 * AMQP queues over HTTP (read-only for now): definition, ready message count, consumers, in-flight
 * (unacked) count and the exchanges that bind to each.
 */
import type { FastifyInstance } from 'fastify';
import { queueRegistryOf, type Queue } from '../../core/queue-registry.js';
import type { Broker } from '../../core/broker.js';
import { principalOf, type ApiOptions } from './api-context.js';

function queueJson(broker: Broker, q: Queue): object {
  const d = q.definition;
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
    const registry = await queueRegistryOf(broker, principalOf(req));
    return queueJson(broker, registry.require((req.params as { name: string }).name));
  });
}
