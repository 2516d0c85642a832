/**
 * Bindings over HTTP: bind a queue or an exchange to a source exchange, and unbind it (queue.bind /
 * exchange.bind semantics through the Broker, so durable sources persist their bindings). The bindings
 * themselves are listed with their exchange (GET /api/exchanges) and queue (GET /api/queues/:name).
 * `?vhost=` (default '/') selects the virtual host the source and destination are named in.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { BrokerError } from '../../core/broker-error.js';
import type { Destination } from '../../core/exchange.js';
import { queueRegistryOf } from '../../core/queue-registry.js';
import { parseInput } from './error-reply.js';
import { principalOf, type ApiOptions } from './api-context.js';
import { tenantName } from '../../core/exchange-registry.js';
import { ApiError } from './error-reply.js';
import { VhostQuery, selectedVhost } from './vhosts.js';

export const BindingBody = z.strictObject({
  source: z.string().min(1).describe('The exchange messages come from.'),
  destination: z.string().min(1),
  destinationType: z.enum(['queue', 'exchange']),
  routingKey: z.string().default(''),
  arguments: z.record(z.string(), z.unknown()).default({}).describe('Binding arguments (headers exchanges: x-match and the headers).'),
});

export async function bindingRoutes(app: FastifyInstance, { broker }: ApiOptions): Promise<void> {
  const destinationOf = async (
    req: { body: unknown; query: unknown },
    principal: ReturnType<typeof principalOf>,
  ): Promise<{ body: z.output<typeof BindingBody>; source: string; destination: Destination }> => {
    const body = parseInput(BindingBody, req.body, 'body');
    const vhost = selectedVhost(broker, parseInput(VhostQuery, req.query, 'query').vhost);
    for (const field of ['source', 'destination'] as const) {
      // A NUL separates a vhost from a name in the core: a name holding one could reach another vhost.
      if (body[field].includes('\u0000')) throw new ApiError('TRIB_HTTP_INVALID_REQUEST', `${field}: names may not contain NUL`, field);
    }
    const destination = tenantName(vhost, body.destination);
    if (body.destinationType === 'queue' && !(await queueRegistryOf(broker, principal)).has(destination)) {
      throw new BrokerError('TRIB_QUEUE_NOT_FOUND', `no queue '${body.destination}'${vhost === '/' ? '' : ` in vhost '${vhost}'`}`);
    }
    // queue.bind / exchange.bind's permissions (as over AMQP): write on the destination, read on the source.
    broker.authorizer.checkPermission(principal, vhost, 'write', body.destinationType, body.destination);
    broker.authorizer.checkPermission(principal, vhost, 'read', 'exchange', body.source);
    return { body, source: tenantName(vhost, body.source), destination: { kind: body.destinationType, name: destination } };
  };

  app.post('/api/bindings', async (req, reply) => {
    const principal = principalOf(req);
    const { body, source, destination } = await destinationOf(req, principal);
    const created = await broker.bind(principal, source, destination, body.routingKey, body.arguments);
    return reply.code(created ? 201 : 200).send({ ...body, created });
  });

  app.delete('/api/bindings', async (req, reply) => {
    const principal = principalOf(req);
    const { body, source, destination } = await destinationOf(req, principal);
    const { removed } = await broker.unbind(principal, source, destination, body.routingKey, body.arguments);
    if (!removed) throw new BrokerError('TRIB_BINDING_NOT_FOUND', `exchange '${body.source}' has no such binding to ${body.destinationType} '${body.destination}'`);
    return reply.code(204).send();
  });
}
