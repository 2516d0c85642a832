import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createUser, createAccount } from '@nats-io/nkeys';
import { newNonce, parseNatsCredentials, principalOfNkey, principalOfToken } from '../../../src/protocols/nats/auth.js';

test('parseNatsCredentials maps tokens and public nkeys to principals, and refuses keys that are not user nkeys', () => {
  const u = createUser();
  const c = parseNatsCredentials('svc:t1,ops:t:with:colons', `dev:${u.getPublicKey()}`);
  assert.equal(c.tokens.get('t1'), 'svc');
  assert.equal(c.tokens.get('t:with:colons'), 'ops');
  assert.equal(c.nkeys.get(u.getPublicKey()), 'dev');
  assert.equal(parseNatsCredentials('', '').tokens.size, 0);
  assert.throws(() => parseNatsCredentials('', `acct:${createAccount().getPublicKey()}`), /not a user nkey/);
  // Right shape, wrong checksum.
  const broken = u.getPublicKey().slice(0, -1) + (u.getPublicKey().endsWith('A') ? 'B' : 'A');
  assert.throws(() => parseNatsCredentials('', `dev:${broken}`), /invalid/);
});

test('principalOfToken finds the token\'s principal and nothing for a prefix or a longer token', () => {
  const c = parseNatsCredentials('svc:secret', '');
  assert.equal(principalOfToken(c, 'secret'), 'svc');
  assert.equal(principalOfToken(c, 'secre'), undefined);
  assert.equal(principalOfToken(c, 'secret!'), undefined);
  assert.equal(principalOfToken(c, ''), undefined);
});

test('principalOfNkey accepts a signature of this nonce only, in base64 or base64url', () => {
  const u = createUser();
  const c = parseNatsCredentials('', `dev:${u.getPublicKey()}`);
  const nonce = newNonce();
  assert.match(nonce, /^[A-Za-z0-9_-]{15}$/);
  const sig = Buffer.from(u.sign(Buffer.from(nonce)));
  assert.equal(principalOfNkey(c, u.getPublicKey(), nonce, sig.toString('base64')), 'dev');
  assert.equal(principalOfNkey(c, u.getPublicKey(), nonce, sig.toString('base64url')), 'dev');
  assert.equal(principalOfNkey(c, u.getPublicKey(), newNonce(), sig.toString('base64')), undefined);
  assert.equal(principalOfNkey(c, u.getPublicKey(), nonce, ''), undefined);
  assert.equal(principalOfNkey(c, u.getPublicKey(), nonce, 'AAAA'), undefined);
  const other = createUser();
  assert.equal(principalOfNkey(c, other.getPublicKey(), nonce, Buffer.from(other.sign(Buffer.from(nonce))).toString('base64')), undefined);
});
