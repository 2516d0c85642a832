/**
 * Client connections of every protocol (the Broker's ConnectionRegistry): list them with their traffic, and
 * close one. Closing goes through the protocol's own goodbye (AMQP connection.close 320 CONNECTION_FORCED, MQTT 5
 * DISCONNECT 0x98 Administrative action, NATS -ERR, Kafka and HTTP just close), so the client sees why.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { BrokerError } from '../../core/broker-error.js';
import { CONNECTION_PROTOCOLS } from '../../core/connection-registry.js';
import { parseInput } from './error-reply.js';
import { principalOf, type ApiOptions } from './api-context.js';

export const ConnectionParams = z.object({ id: z.string().min(1) });

export const ConnectionsQuery = z.strictObject({
  protocol: z.enum(CONNECTION_PROTOCOLS).optional().describe('Only connections of this protocol.'),
});

export async function connectionRoutes(app: FastifyInstance, { broker }: ApiOptions): Promise<void> {
  app.get('/api/connections', async (req) => {
    const { protocol } = parseInput(ConnectionsQuery, req.query, 'query');
    broker.check(principalOf(req), 'describe', 'cluster', '*');
    return { connections: broker.connections.list(protocol) };
  });

  app.delete('/api/connections/:id', async (req, reply) => {
    const { id } = parseInput(ConnectionParams, req.params, 'params');
    broker.check(principalOf(req), 'admin', 'cluster', '*');
    if (!broker.connections.close(id, 'closed by an administrator (HTTP API)')) {
      throw new BrokerError('TRIB_CONNECTION_NOT_FOUND', `no open connection '${id}'`);
    }
    return reply.code(204).send();
  });
}
