/**
 * NATS token and nkey logins (specs/nats/FACTS.md CONNECT `auth_token`, `nkey`, `sig`; INFO `nonce`), checked
 * against lists configured at start, each entry naming the principal it logs in as. User/pass logins go to the
 * core user store instead (session.ts).
 *
 * nkey: the server puts a random `nonce` in INFO; the client signs the nonce's bytes with its Ed25519 seed and
 * sends its public key (`nkey`, a 'U…' user key) and the signature (`sig`, base64 — nats.js sends standard,
 * nats-server's clients raw URL encoding; Node's base64 decoder takes both). The key must be in the allowed
 * list and the signature must verify; anything else is 'Authorization Violation', as in nats-server auth.go.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { fromPublic } from '@nats-io/nkeys';

/** Logins a listener accepts besides user/pass: token → principal name, public user nkey → principal name. */
export interface NatsCredentials {
  readonly tokens: ReadonlyMap<string, string>;
  readonly nkeys: ReadonlyMap<string, string>;
}

export const NO_CREDENTIALS: NatsCredentials = Object.freeze({ tokens: new Map<string, string>(), nkeys: new Map<string, string>() });

/**
 * Parses the option lists `principal:token,…` and `principal:UKEY,…` (server/config.ts validates their shape).
 * Throws on a public key that is not a valid user nkey, so a typo stops the start.
 */
export function parseNatsCredentials(tokens: string, nkeys: string): NatsCredentials {
  const pairs = (list: string): Array<[string, string]> =>
    list === '' ? [] : list.split(',').map((p) => [p.slice(0, p.indexOf(':')), p.slice(p.indexOf(':') + 1)]);
  const tokenMap = new Map<string, string>();
  for (const [name, token] of pairs(tokens)) tokenMap.set(token, name);
  const nkeyMap = new Map<string, string>();
  for (const [name, key] of pairs(nkeys)) {
    if (!key.startsWith('U')) throw new Error(`nats nkey for '${name}' is not a user nkey (it must start with U)`);
    try {
      fromPublic(key);
    } catch (err) {
      throw new Error(`nats nkey for '${name}' is invalid: ${(err as Error).message}`);
    }
    nkeyMap.set(key, name);
  }
  return { tokens: tokenMap, nkeys: nkeyMap };
}

/** A fresh nonce for one connection's INFO (nats-server: 11 random bytes, URL-safe base64). */
export function newNonce(): string {
  return randomBytes(11).toString('base64url');
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** The principal name of `token`, or undefined. Compares digests in constant time, against every entry. */
export function principalOfToken(credentials: NatsCredentials, token: string): string | undefined {
  const given = digest(token);
  let found: string | undefined;
  for (const [t, name] of credentials.tokens) if (timingSafeEqual(digest(t), given) && found === undefined) found = name;
  return found;
}

/** The principal name of `nkey` when it is allowed and `sig` is its signature of `nonce`; else undefined. */
export function principalOfNkey(credentials: NatsCredentials, nkey: string, nonce: string, sig: string): string | undefined {
  const name = credentials.nkeys.get(nkey);
  if (name === undefined || sig === '') return undefined;
  try {
    return fromPublic(nkey).verify(Buffer.from(nonce, 'utf8'), Buffer.from(sig, 'base64')) ? name : undefined;
  } catch {
    return undefined; // a signature of the wrong length, or a key that does not decode
  }
}
