/**
 * What every API route plugin is given, and the caller's identity. With `--http-auth off` (the default) each
 * request acts as the anonymous principal of its peer address; with `on`, every /api request carries HTTP basic
 * auth of a user in the core user store and acts as that user. Either way the core's Authorizer decides (allow-all
 * until ACLs exist), so routes only ever call principalOf.
 *
 * Checking a password is deliberately slow (PBKDF2 behind SCRAM credentials), so a verified Authorization header
 * is remembered for AUTH_CACHE_MS per peer address; the user must still exist on each use, so a deleted user
 * loses access at once (a changed password within AUTH_CACHE_MS).
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Broker } from '../../core/broker.js';
import { BrokerError } from '../../core/broker-error.js';
import { anonymousPrincipal, authenticatedPrincipal, type Principal } from '../../core/principal.js';

export interface ApiOptions {
  broker: Broker;
  /** The server's bound addresses by listener name (`{http: ["127.0.0.1:8080"], ...}`), read per request. */
  listeners?: () => { [name: string]: string[] };
  /** When the server started (ms since the epoch), for uptime; default when the API was registered. */
  startedAtMs?: number;
  /** Require HTTP basic auth against the user store (`--http-auth on`). */
  auth?: boolean;
}

export const AUTH_CACHE_MS = 10_000;
const AUTH_CACHE_MAX = 1000;

const principals = new WeakMap<FastifyRequest, Principal>();

export function principalOf(req: FastifyRequest): Principal {
  return principals.get(req) ?? anonymousPrincipal(req.ip);
}

/** `[user, password]` of a Basic Authorization header, or null. */
function basicCredentials(header: string | undefined): [string, string] | null {
  const m = header === undefined ? null : /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (m === null) return null;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? null : [text.slice(0, colon), text.slice(colon + 1)];
}

/** Adds the basic-auth check to every route of `app` (the API's encapsulation context). */
export function installBasicAuth(app: FastifyInstance, broker: Broker): void {
  const verified = new Map<string, { user: string; expiresAtMs: number }>();
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const header = req.headers.authorization;
    const creds = basicCredentials(header);
    // The challenge makes a browser (the console) ask for a login.
    reply.header('www-authenticate', 'Basic realm="tributary", charset="UTF-8"');
    if (creds === null) throw new BrokerError('TRIB_AUTHENTICATION_FAILED', 'the HTTP API needs basic auth (--http-auth on)');
    const key = createHash('sha256').update(`${req.ip}\0${header}`).digest('base64');
    const now = Date.now();
    const hit = verified.get(key);
    let user: string;
    if (hit !== undefined && hit.expiresAtMs > now && broker.users.get(hit.user) !== undefined) {
      user = hit.user;
    } else {
      user = (await broker.users.authenticate(creds[0], creds[1], req.ip, { mechanism: 'PLAIN' })).name;
      if (verified.size >= AUTH_CACHE_MAX) verified.clear();
      verified.set(key, { user, expiresAtMs: now + AUTH_CACHE_MS });
    }
    reply.removeHeader('www-authenticate');
    principals.set(req, authenticatedPrincipal(user, 'PLAIN', req.ip));
  });
}
