/**
 * Principal: who is on the other end of a connection. Every session holds one from accept to close —
 * ANONYMOUS-like (authenticated: false) until a login succeeds — and passes it to every core operation so
 * the Authorizer can decide. Principals are immutable values; a re-authentication replaces the object.
 *
 * `tenant` is the namespace the connection works in: the AMQP virtual host, and the same string for other
 * protocols (default '/'). It is carried now so that multi-tenancy needs no change of this type later.
 */
import { BlockList, isIP } from 'node:net';

export type AuthMechanism =
  | 'none'
  | 'PLAIN'
  | 'AMQPLAIN'
  | 'SCRAM-SHA-256'
  | 'SCRAM-SHA-512'
  /** NATS user/pass in CONNECT, MQTT username/password in CONNECT, HTTP Basic. */
  | 'password'
  /** A shared secret configured for the server (NATS auth_token). */
  | 'token'
  /** A public key proven by signing a server nonce (NATS nkeys). */
  | 'nkey'
  | 'EXTERNAL';

export interface Principal {
  /** User name; 'anonymous' when not authenticated. */
  readonly name: string;
  readonly authenticated: boolean;
  readonly mechanism: AuthMechanism;
  /** Remote IP address as the socket reports it (may be IPv4-mapped IPv6); undefined for in-process peers. */
  readonly peerAddress?: string;
  /** AMQP vhost or equivalent namespace; '/' by default. */
  readonly tenant: string;
}

export const ANONYMOUS_NAME = 'anonymous';
export const DEFAULT_TENANT = '/';

/** The principal of a connection that has not authenticated (and of in-process callers with no peer). */
export const ANONYMOUS: Principal = Object.freeze({
  name: ANONYMOUS_NAME,
  authenticated: false,
  mechanism: 'none',
  tenant: DEFAULT_TENANT,
});

/** An unauthenticated principal that remembers where it connected from. */
export function anonymousPrincipal(peerAddress?: string, tenant = DEFAULT_TENANT): Principal {
  return Object.freeze({ name: ANONYMOUS_NAME, authenticated: false, mechanism: 'none', peerAddress, tenant });
}

/** An authenticated principal (UserStore.authenticate and the SCRAM path build these). */
export function authenticatedPrincipal(name: string, mechanism: AuthMechanism, peerAddress?: string, tenant = DEFAULT_TENANT): Principal {
  return Object.freeze({ name, authenticated: true, mechanism, peerAddress, tenant });
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/**
 * True for 127.0.0.0/8, ::1 and their IPv4-mapped forms (::ffff:127.0.0.1, ::ffff:7f00:1) — what a socket
 * on a dual-stack listener reports for a local client. Anything unparsable is not loopback.
 */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (typeof address !== 'string') return false;
  // Scoped IPv6 (fe80::1%eth0) is never loopback; BlockList would reject the zone anyway.
  const family = isIP(address);
  if (family === 4) return loopback.check(address, 'ipv4');
  if (family === 6) return loopback.check(address, 'ipv6');
  return false;
}
