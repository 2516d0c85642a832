/**
 * AMQP exchanges over HTTP: list, declare and delete them, and publish through one with a routing key. A
 * publish appends to every queue the exchange routes to, with the `amqp-exchange`/`amqp-routing-key` headers
 * an AMQP consumer's properties are rebuilt from (docs/interop.md); through amq.topic it is also a Router
 * publish of the routing key as a subject, as an AMQP client's publish would be.
 *
 * Virtual hosts: every route takes `?vhost=` (default '/'; GET /api/exchanges lists every vhost without it).
 * Exchanges are shown with their `vhost` and names within it (bindings and `alternate-exchange` too).
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
import { principalOf, type ApiOptions } from './api-context.js';
import { PayloadSchema, payloadHeaders, payloadValue } from './payload.js';
import { DEFAULT_TENANT, splitTenantName, tenantName } from '../../core/exchange-registry.js';
import { ApiError, parseInput } from './error-reply.js';
import { VhostQuery, selectedVhost } from './vhosts.js';

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

export const DeleteExchangeQuery = VhostQuery.extend({
  ifUnused: z.stringbool().optional().describe('Refuse (409 TRIB_EXCHANGE_IN_USE) while the exchange has bindings.'),
});

/** Exchange `name` (as clients name it) of `vhost`; TRIB_EXCHANGE_NOT_FOUND naming it that way. */
function requireExchange(broker: Broker, vhost: string, name: string): ExchangeDefinition {
  const scoped = scopedName(vhost, name);
  const d = broker.exchanges.definitions().find((e) => e.name === scoped);
  if (d === undefined) throw new BrokerError('TRIB_EXCHANGE_NOT_FOUND', vhost === DEFAULT_TENANT ? `no exchange '${name}'` : `no exchange '${name}' in vhost '${vhost}'`);
  return d;
}

/** The core name of an exchange of `vhost`; a NUL (the core's vhost separator) in a name is refused. */
function scopedName(vhost: string, name: string): string {
  if (name.includes('\u0000')) throw new ApiError('TRIB_HTTP_INVALID_REQUEST', 'name: exchange names may not contain NUL', 'name');
  return tenantName(vhost, name);
}

/** An exchange as listed: its vhost and the names within it (its own, its bindings' and its alternate exchange's). */
function exchangeJson(d: ExchangeDefinition): object {
  const { tenant, name } = splitTenantName(d.name);
  const args = { ...d.arguments };
  if (typeof args['alternate-exchange'] === 'string') args['alternate-exchange'] = splitTenantName(args['alternate-exchange']).name;
  return { ...d, name, vhost: tenant, arguments: args, bindings: d.bindings.map((b) => ({ ...b, destination: splitTenantName(b.destination).name })) };
}

export async function exchangeRoutes(app: FastifyInstance, { broker }: ApiOptions): Promise<void> {
  app.get('/api/exchanges', async (req) => {
    const { vhost } = parseInput(VhostQuery, req.query, 'query');
    const defs = broker.exchanges.definitions().filter((d) => vhost === undefined || splitTenantName(d.name).tenant === vhost);
    return { exchanges: defs.map(exchangeJson) };
  });

  app.post('/api/exchanges', async (req, reply) => {
    const body = parseInput(CreateExchangeBody, req.body, 'body');
    const vhost = selectedVhost(broker, parseInput(VhostQuery, req.query, 'query').vhost);
    const args = { ...body.arguments };
    // The alternate exchange is named within the vhost, like the exchange itself (as over AMQP).
    if (typeof args['alternate-exchange'] === 'string') args['alternate-exchange'] = scopedName(vhost, args['alternate-exchange']);
    // The user's vhost permissions apply as over AMQP (a no-op for anonymous callers, --http-auth off).
    broker.authorizer.checkPermission(principalOf(req), vhost, 'configure', 'exchange', body.name);
    // exchange.declare's rules: an equivalent existing exchange is fine (200), a different one 409, amq.* 403.
    const { created } = await broker.declareExchange(principalOf(req), { ...body, name: scopedName(vhost, body.name), arguments: args, durable: body.durable ?? true });
    return reply.code(created ? 201 : 200).send(exchangeJson(requireExchange(broker, vhost, body.name)));
  });

  app.delete('/api/exchanges/:name', async (req, reply) => {
    const { name } = parseInput(ExchangeParams, req.params, 'params');
    const query = parseInput(DeleteExchangeQuery, req.query, 'query');
    const vhost = selectedVhost(broker, query.vhost);
    const scoped = requireExchange(broker, vhost, name).name;
    broker.authorizer.checkPermission(principalOf(req), vhost, 'configure', 'exchange', name);
    await broker.deleteExchange(principalOf(req), scoped, { ifUnused: query.ifUnused });
    return reply.code(204).send();
  });

  app.post('/api/exchanges/:name/publish', async (req) => {
    const { name } = parseInput(ExchangeParams, req.params, 'params');
    const vhost = selectedVhost(broker, parseInput(VhostQuery, req.query, 'query').vhost);
    const p = parseInput(ExchangePublishBody, req.body, 'body');
    const principal = principalOf(req);
    const scoped = scopedName(vhost, name);
    broker.check(principal, 'write', 'exchange', scoped);
    broker.authorizer.checkPermission(principal, vhost, 'write', 'exchange', name);
    const value = payloadValue(p) ?? Buffer.alloc(0);
    const headers: RecordHeader[] = [
      { key: QUEUE_HEADERS.exchange, value: Buffer.from(name, 'utf8') },
      { key: QUEUE_HEADERS.routingKey, value: Buffer.from(p.routingKey, 'utf8') },
      ...payloadHeaders(p),
    ];
    const registry = await queueRegistryOf(broker, principal);
    const timestamp = Date.now();
    // route() throws TRIB_EXCHANGE_NOT_FOUND (404) and TRIB_EXCHANGE_INTERNAL (403).
    const queues = [...broker.exchanges.route(scoped, p.routingKey, p.headers)];
    const appends = queues.map((q) => {
      const queue = registry.get(q);
      return queue === undefined ? Promise.resolve(null) : registry.publish(queue, value, headers, timestamp);
    });
    let deliveries = 0;
    // Only the '/' vhost's amq.topic is bridged onto the Router (docs/amqp.md "Virtual hosts").
    if (scoped === AMQ_TOPIC && isValidSubject(p.routingKey)) {
      // The amqp-exchange header stops the Broker routing it to the topic queues a second time.
      const message: Message = { subject: p.routingKey, key: null, value, headers, timestamp };
      deliveries = (await broker.publish(principal, message)).deliveries;
    }
    const results = await Promise.all(appends);
    // A queue that refused it (x-overflow reject-publish) resolves to null: it is not counted as routed.
    return { routed: results.filter((r) => r !== null).length, deliveries };
  });
}
