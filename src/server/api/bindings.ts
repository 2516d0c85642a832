/**
 * Bindings over HTTP: bind a queue or an exchange to a source exchange, and unbind it (queue.bind /
 * exchange.bind semantics through the Broker, so durable sources persist their bindings). The bindings
 * themselves are listed with their exchange (GET /api/exchanges) and queue (GET /api/queues/:name).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { BrokerError } from '../../core/broker-error.js';
import type { Destination } from '../../core/exchange.js';
import { queueRegistryOf } from '../../core/queue-registry.js';
import { parseInput } from './error-reply.js';
import { principalOf, type ApiOptions } from './api-context.js';

export const BindingBody = z.strictObject({
  source: z.string().min(1).describe('The exchange messages come from.'),
  destination: z.string().min(1),
  destinationType: z.enum(['queue', 'exchange']),
  routingKey: z.string().default(''),
  arguments: z.record(z.string(), z.unknown()).default({}).describe('Binding arguments (headers exchanges: x-match and the headers).'),
});

export async function bindingRoutes(app: FastifyInstance, { broker }: ApiOptions): Promise<void> {
  const destinationOf = async (req: { body: unknown }, principal: ReturnType<typeof principalOf>): Promise<{ body: z.output<typeof BindingBody>; destination: Destination }> => {
    const body = parseInput(BindingBody, req.body, 'body');
    if (body.destinationType === 'queue') (await queueRegistryOf(broker, principal)).require(body.destination);
    return { body, destination: { kind: body.destinationType, name: body.destination } };
  };

  app.post('/api/bindings', async (req, reply) => {
    const principal = principalOf(req);
    const { body, destination } = await destinationOf(req, principal);
    const created = await broker.bind(principal, body.source, destination, body.routingKey, body.arguments);
    return reply.code(created ? 201 : 200).send({ ...body, created });
  });

  app.delete('/api/bindings', async (req, reply) => {
    const principal = principalOf(req);
    const { body, destination } = await destinationOf(req, principal);
    const { removed } = await broker.unbind(principal, body.source, destination, body.routingKey, body.arguments);
    if (!removed) throw new BrokerError('TRIB_BINDING_NOT_FOUND', `exchange '${body.source}' has no such binding to ${body.destinationType} '${body.destination}'`);
    return reply.code(204).send();
  });
}
