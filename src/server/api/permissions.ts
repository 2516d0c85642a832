/**
 * Per-vhost user permissions over HTTP (RabbitMQ's /api/permissions/{vhost}/{user}): configure, write and read
 * regular expressions, kept by the core Authorizer (persisted, effective at once for new operations of every
 * session). Setting the first entry turns enforcement on for every user (docs/http-api.md "Permissions").
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { BrokerError } from '../../core/broker-error.js';
import type { Broker } from '../../core/broker.js';
import { parseInput } from './error-reply.js';
import { principalOf, type ApiOptions } from './api-context.js';

const regex = z.string().describe("A regular expression matched (unanchored) against exchange and queue names; '' matches nothing, '.*' everything.");

export const PermissionParams = z.object({ vhost: z.string().min(1), user: z.string().min(1) });

export const SetPermissionBody = z.strictObject({ configure: regex, write: regex, read: regex });

export const PermissionsQuery = z.strictObject({
  user: z.string().min(1).optional().describe('Only this user’s entries.'),
  vhost: z.string().min(1).optional().describe('Only this vhost’s entries.'),
});

function requireVhost(broker: Broker, vhost: string): void {
  if (!broker.exchanges.hasTenant(vhost)) throw new BrokerError('TRIB_VHOST_NOT_FOUND', `no vhost '${vhost}'`);
}

export async function permissionRoutes(app: FastifyInstance, { broker }: ApiOptions): Promise<void> {
  const permissions = broker.authorizer.permissions;

  app.get('/api/permissions', async (req) => {
    const filter = parseInput(PermissionsQuery, req.query, 'query');
    broker.check(principalOf(req), 'describe', 'cluster', '*');
    return { permissions: permissions.list(filter) };
  });

  app.get('/api/permissions/:vhost/:user', async (req) => {
    const { vhost, user } = parseInput(PermissionParams, req.params, 'params');
    broker.check(principalOf(req), 'describe', 'cluster', '*');
    const entry = permissions.get(user, vhost);
    if (entry === undefined) throw new BrokerError('TRIB_PERMISSION_NOT_FOUND', `user '${user}' has no permissions on vhost '${vhost}'`);
    return entry;
  });

  app.put('/api/permissions/:vhost/:user', async (req, reply) => {
    const { vhost, user } = parseInput(PermissionParams, req.params, 'params');
    const body = parseInput(SetPermissionBody, req.body, 'body');
    broker.check(principalOf(req), 'alter', 'cluster', '*');
    requireVhost(broker, vhost);
    if (broker.users.get(user) === undefined) throw new BrokerError('TRIB_USER_NOT_FOUND', `user '${user}' does not exist`);
    const existed = permissions.get(user, vhost) !== undefined;
    await permissions.set({ user, vhost, ...body });
    return reply.code(existed ? 200 : 201).send(permissions.get(user, vhost));
  });

  app.delete('/api/permissions/:vhost/:user', async (req, reply) => {
    const { vhost, user } = parseInput(PermissionParams, req.params, 'params');
    broker.check(principalOf(req), 'alter', 'cluster', '*');
    if (!(await permissions.clear(user, vhost))) throw new BrokerError('TRIB_PERMISSION_NOT_FOUND', `user '${user}' has no permissions on vhost '${vhost}'`);
    return reply.code(204).send();
  });
}
