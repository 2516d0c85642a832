/**
 * Users: list, create, delete. Passwords go in and never come out: the store keeps only SCRAM credentials and
 * lists UserInfo, which has no credential fields, so no route can leak one by accident.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseInput } from './error-reply.js';
import { principalOf, type ApiOptions } from './api-context.js';

export const CreateUserBody = z.strictObject({
  name: z.string().min(1),
  password: z.string().min(1),
  tags: z.array(z.string()).optional(),
});

export const UserParams = z.object({ name: z.string().min(1) });

export async function userRoutes(app: FastifyInstance, { broker }: ApiOptions): Promise<void> {
  app.get('/api/users', async (req) => {
    broker.check(principalOf(req), 'describe', 'user', '*');
    return { users: broker.users.list() };
  });

  app.post('/api/users', async (req, reply) => {
    const body = parseInput(CreateUserBody, req.body, 'body');
    broker.check(principalOf(req), 'create', 'user', body.name);
    await broker.users.create(body.name, body.password, { tags: body.tags });
    return reply.code(201).send(broker.users.get(body.name));
  });

  app.delete('/api/users/:name', async (req, reply) => {
    const { name } = parseInput(UserParams, req.params, 'params');
    broker.check(principalOf(req), 'delete', 'user', name);
    await broker.users.delete(name);
    return reply.code(204).send();
  });
}
