/**
 * What every API route plugin is given, and the caller's identity. The HTTP API has no authentication yet, so
 * each request acts as the anonymous principal of its peer address; the core's Authorizer still decides
 * (allow-all until ACLs exist), so adding authentication later changes only principalOf.
 */
import type { FastifyRequest } from 'fastify';
import type { Broker } from '../../core/broker.js';
import { anonymousPrincipal, type Principal } from '../../core/principal.js';

export interface ApiOptions {
  broker: Broker;
}

export function principalOf(req: FastifyRequest): Principal {
  return anonymousPrincipal(req.ip);
}
