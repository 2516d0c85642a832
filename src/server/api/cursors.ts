/**
 * Durable cursors (JetStream consumers, the consuming side of AMQP queues), read-only: definition, attached
 * consumers, in-flight count and, per partition, the ack floor and backlog.
 */
import type { FastifyInstance } from 'fastify';
import type { ApiOptions } from './api-context.js';

export async function cursorRoutes(app: FastifyInstance, { broker }: ApiOptions): Promise<void> {
  app.get('/api/cursors', async (req) => {
    const stream = (req.query as { stream?: unknown }).stream;
    const list = broker.cursors(typeof stream === 'string' ? stream : undefined);
    return {
      cursors: list.map(({ definition, cursor }) => ({
        ...definition,
        consumers: cursor.consumers.length,
        inFlight: cursor.inFlightCount,
        // Partitions are listed highest priority first; levels index that list.
        levels: definition.partitions.map((partition, level) => ({ partition, ackFloor: cursor.ackFloor(level), backlog: cursor.backlog(level) })),
      })),
    };
  });
}
