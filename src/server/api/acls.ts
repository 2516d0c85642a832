/**
 * ACL entries over HTTP, through the core Authorizer (persisted in `__metadata`, effective at once). The API
 * speaks Kafka's words (resourceName, operation) and maps them onto the core entry (pattern, action).
 * Once any entry exists authorization is enforced for every protocol — including this API, whose callers act
 * as the anonymous principal of their address — so allow yourself first (docs/http-api.md).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ACTIONS, RESOURCE_TYPES, type AclEntry, type AclFilter } from '../../core/authorizer.js';
import { ApiError, parseInput } from './error-reply.js';
import { principalOf, type ApiOptions } from './api-context.js';

const fields = {
  principal: z.string().min(1).describe("A user name, or '*' for every principal (anonymous included)."),
  resourceType: z.enum(RESOURCE_TYPES),
  resourceName: z.string().min(1).describe("The name, the prefix (patternType prefix), or '*' for every name."),
  patternType: z.enum(['literal', 'prefix']),
  operation: z.enum(['*', ...ACTIONS]),
  permission: z.enum(['allow', 'deny']),
  host: z.string().min(1).describe("The peer address it applies to, or '*' (default)."),
};

export const CreateAclBody = z.strictObject({ ...fields, patternType: fields.patternType.optional(), host: fields.host.optional() });

export const AclFilterBody = z
  .strictObject({
    principal: fields.principal.optional(),
    resourceType: fields.resourceType.optional(),
    resourceName: fields.resourceName.optional(),
    patternType: fields.patternType.optional(),
    operation: fields.operation.optional(),
    permission: fields.permission.optional(),
    host: fields.host.optional(),
  })
  .describe('Entries matching every given field are removed; at least one field is required.');

export const AclQuery = AclFilterBody;

function aclJson(e: AclEntry): object {
  return {
    principal: e.principal,
    resourceType: e.resourceType,
    resourceName: e.pattern,
    patternType: e.patternType ?? 'literal',
    operation: e.action,
    permission: e.permission,
    host: e.host ?? '*',
  };
}

function filterOf(f: z.output<typeof AclFilterBody>): AclFilter {
  const out: AclFilter = {};
  if (f.principal !== undefined) out.principal = f.principal;
  if (f.resourceType !== undefined) out.resourceType = f.resourceType;
  if (f.resourceName !== undefined) out.pattern = f.resourceName;
  if (f.patternType !== undefined) out.patternType = f.patternType;
  if (f.operation !== undefined) out.action = f.operation as AclEntry['action'];
  if (f.permission !== undefined) out.permission = f.permission;
  if (f.host !== undefined) out.host = f.host;
  return out;
}

export async function aclRoutes(app: FastifyInstance, { broker }: ApiOptions): Promise<void> {
  app.get('/api/acls', async (req) => {
    const filter = parseInput(AclQuery, req.query, 'query');
    broker.check(principalOf(req), 'describe', 'cluster', '*');
    return { acls: broker.authorizer.list(filterOf(filter)).map(aclJson) };
  });

  app.post('/api/acls', async (req, reply) => {
    const b = parseInput(CreateAclBody, req.body, 'body');
    broker.check(principalOf(req), 'alter', 'cluster', '*');
    const entry: AclEntry = {
      principal: b.principal,
      host: b.host ?? '*',
      resourceType: b.resourceType,
      pattern: b.resourceName,
      patternType: b.patternType ?? 'literal',
      action: b.operation as AclEntry['action'],
      permission: b.permission,
    };
    await broker.authorizer.add(entry);
    return reply.code(201).send(aclJson(entry));
  });

  app.delete('/api/acls', async (req) => {
    const f = parseInput(AclFilterBody, req.body ?? {}, 'body');
    if (Object.keys(f).length === 0) throw new ApiError('TRIB_HTTP_INVALID_REQUEST', 'body: give at least one field to match (an empty filter would remove every entry)', 'body');
    broker.check(principalOf(req), 'alter', 'cluster', '*');
    const removed = await broker.authorizer.remove(filterOf(f));
    return { removed: removed.map(aclJson) };
  });
}
