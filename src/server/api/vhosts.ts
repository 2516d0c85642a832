/**
 * Virtual hosts over HTTP (RabbitMQ's /api/vhosts): list, describe, create and delete the core's tenants.
 * Creating persists the vhost (it is back after a restart); deleting closes its AMQP connections with 320
 * CONNECTION_FORCED and removes its queues, exchanges and permissions (Broker.deleteVhost). Names are one path
 * segment, so '/' is written `%2F`, as in RabbitMQ's API.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { BrokerError } from '../../core/broker-error.js';
import type { Broker } from '../../core/broker.js';
import { DEFAULT_TENANT, splitTenantName } from '../../core/exchange-registry.js';
import { queueRegistryOf } from '../../core/queue-registry.js';
import type { Principal } from '../../core/principal.js';
import { parseInput } from './error-reply.js';
import { principalOf, type ApiOptions } from './api-context.js';

export const VhostParams = z.object({ name: z.string().min(1).max(255).describe("The vhost name; '/' is %2F.") });

/** Queues and exchanges per vhost, counted from the registries (exchanges include the predeclared amq.* ones). */
async function vhostJson(broker: Broker, principal: Principal, names: string[]): Promise<Array<{ name: string; default: boolean; queues: number; exchanges: number }>> {
  const registry = await queueRegistryOf(broker, principal);
  const queues = new Map<string, number>();
  for (const q of registry) {
    const tenant = splitTenantName(q.name).tenant;
    queues.set(tenant, (queues.get(tenant) ?? 0) + 1);
  }
  const exchanges = new Map<string, number>();
  for (const ex of broker.exchanges) {
    if (ex.name === '') continue;
    const tenant = splitTenantName(ex.name).tenant;
    exchanges.set(tenant, (exchanges.get(tenant) ?? 0) + 1);
  }
  return names.map((name) => ({ name, default: name === DEFAULT_TENANT, queues: queues.get(name) ?? 0, exchanges: exchanges.get(name) ?? 0 }));
}

function requireVhost(broker: Broker, name: string): void {
  if (!broker.exchanges.hasTenant(name)) throw new BrokerError('TRIB_VHOST_NOT_FOUND', `no vhost '${name}'`);
}

export async function vhostRoutes(app: FastifyInstance, { broker }: ApiOptions): Promise<void> {
  app.get('/api/vhosts', async (req) => {
    broker.check(principalOf(req), 'describe', 'cluster', '*');
    return { vhosts: await vhostJson(broker, principalOf(req), broker.vhosts()) };
  });

  app.get('/api/vhosts/:name', async (req) => {
    const { name } = parseInput(VhostParams, req.params, 'params');
    broker.check(principalOf(req), 'describe', 'cluster', '*');
    requireVhost(broker, name);
    return (await vhostJson(broker, principalOf(req), [name]))[0];
  });

  app.put('/api/vhosts/:name', async (req, reply) => {
    const { name } = parseInput(VhostParams, req.params, 'params');
    const created = await broker.createVhost(principalOf(req), name);
    return reply.code(created ? 201 : 200).send((await vhostJson(broker, principalOf(req), [name]))[0]);
  });

  app.delete('/api/vhosts/:name', async (req, reply) => {
    const { name } = parseInput(VhostParams, req.params, 'params');
    await broker.deleteVhost(principalOf(req), name);
    return reply.code(204).send();
  });
}

/**
 * The vhost selector of the queue, exchange and binding routes: the `vhost` query parameter (default '/').
 * Routes that list take it as a filter (absent = every vhost).
 */
export const VhostQuery = z.strictObject({
  vhost: z.string().min(1).optional().describe("The virtual host (default '/'; when listing, absent = every vhost)."),
});

/** The vhost a request selects ('/' when absent); TRIB_VHOST_NOT_FOUND when it does not exist. */
export function selectedVhost(broker: Broker, vhost: string | undefined): string {
  const name = vhost ?? DEFAULT_TENANT;
  requireVhost(broker, name);
  return name;
}
