/**
 * AMQP exchanges over HTTP: list, declare and delete them, and publish through one with a routing key. A
 * publish appends to every queue the exchange routes to, with the `amqp-exchange`/`amqp-routing-key` headers
 * an AMQP consumer's properties are rebuilt from (docs/interop.md); through amq.topic it is also a Router
 * publish of the routing key as a subject, as an AMQP client's publish would be.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Message } from '../../core/message.js';
import type { Broker } from '../../core/broker.js';
import { BrokerError } from '../../core/broker-error.js';
import { EXCHANGE_TYPES } from '../../core/exchange.js';
import type { ExchangeDefinition } from '../../core/exchange.js';
import { QUEUE_HEADERS, queueRegistryOf } from '../../core/queue-registry.js';
import { isValidSubject } from '../../core/router/subject.js';
import type { RecordHeader } from '../../storage/record-batch.js';
import { parseInput } from './error-reply.js';
import { principalOf, type ApiOptions } from './api-context.js';
import { PayloadSchema, payloadHeaders, payloadValue } from './payload.js';

const AMQ_TOPIC = 'amq.topic';

export const ExchangeParams = z.object({ name: z.string() });

export const ExchangePublishBody = PayloadSchema.and(z.object({ routingKey: z.string().default('') }));

export const CreateExchangeBody = z.strictObject({
  name: z.string().min(1).max(255),
  type: z.enum(EXCHANGE_TYPES),
  durable: z.boolean().optional().describe('Default true (survives a restart).'),
  autoDelete: z.boolean().optional(),
  internal: z.boolean().optional(),
  arguments: z.record(z.string(), z.unknown()).optional().describe('Declare arguments, e.g. {"alternate-exchange": "ae"}.'),
});

export const DeleteExchangeQuery = z.strictObject({
  ifUnused: z.stringbool().optional().describe('Refuse (409 TRIB_EXCHANGE_IN_USE) while the exchange has bindings.'),
});

function requireExchange(broker: Broker, name: string): ExchangeDefinition {
  const d = broker.exchanges.definitions().find((e) => e.name === name);
  if (d === undefined) throw new BrokerError('TRIB_EXCHANGE_NOT_FOUND', `no exchange '${name}'`);
  return d;
}

export async function exchangeRoutes(app: FastifyInstance, { broker }: ApiOptions): Promise<void> {
  app.get('/api/exchanges', async () => ({ exchanges: broker.exchanges.definitions() }));

  app.post('/api/exchanges', async (req, reply) => {
    const body = parseInput(CreateExchangeBody, req.body, 'body');
    // exchange.declare's rules: an equivalent existing exchange is fine (200), a different one 409, amq.* 403.
    const { created } = await broker.declareExchange(principalOf(req), { ...body, durable: body.durable ?? true });
    return reply.code(created ? 201 : 200).send(requireExchange(broker, body.name));
  });

  app.delete('/api/exchanges/:name', async (req, reply) => {
    const { name } = parseInput(ExchangeParams, req.params, 'params');
    const { ifUnused } = parseInput(DeleteExchangeQuery, req.query, 'query');
    requireExchange(broker, name);
    await broker.deleteExchange(principalOf(req), name, { ifUnused });
    return reply.code(204).send();
  });

  app.post('/api/exchanges/:name/publish', async (req) => {
    const { name } = parseInput(ExchangeParams, req.params, 'params');
    const p = parseInput(ExchangePublishBody, req.body, 'body');
    const principal = principalOf(req);
    broker.check(principal, 'write', 'exchange', name);
    const value = payloadValue(p) ?? Buffer.alloc(0);
    const headers: RecordHeader[] = [
      { key: QUEUE_HEADERS.exchange, value: Buffer.from(name, 'utf8') },
      { key: QUEUE_HEADERS.routingKey, value: Buffer.from(p.routingKey, 'utf8') },
      ...payloadHeaders(p),
    ];
    const registry = await queueRegistryOf(broker, principal);
    const timestamp = Date.now();
    // route() throws TRIB_EXCHANGE_NOT_FOUND (404) and TRIB_EXCHANGE_INTERNAL (403).
    const queues = [...broker.exchanges.route(name, p.routingKey, p.headers)];
    const appends = queues.map((q) => {
      const queue = registry.get(q);
      return queue === undefined ? Promise.resolve(null) : registry.publish(queue, value, headers, timestamp);
    });
    let deliveries = 0;
    if (name === AMQ_TOPIC && isValidSubject(p.routingKey)) {
      // The amqp-exchange header stops the Broker routing it to the topic queues a second time.
      const message: Message = { subject: p.routingKey, key: null, value, headers, timestamp };
      deliveries = (await broker.publish(principal, message)).deliveries;
    }
    const results = await Promise.all(appends);
    // A queue that refused it (x-overflow reject-publish) resolves to null: it is not counted as routed.
    return { routed: results.filter((r) => r !== null).length, deliveries };
  });
}
