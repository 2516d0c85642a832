/**
 * NATS token and nkey logins with the real client (nats.js `token` option, `tokenAuthenticator`,
 * `nkeyAuthenticator(seed)`), alongside user/pass against the core user store; wrong credentials get
 * -ERR 'Authorization Violation' and a close, as from nats-server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nkeyAuthenticator, tokenAuthenticator, usernamePasswordAuthenticator } from '@nats-io/transport-node';
import { createUser } from '@nats-io/nkeys';
import { parseNatsCredentials } from '../../../src/protocols/nats/index.js';
import { startNats, within } from './harness.js';

const device = createUser();
const stranger = createUser();

async function withAuth(t: Parameters<typeof startNats>[0]) {
  const credentials = parseNatsCredentials('svc:tok-1,ops:tok-2', `device:${device.getPublicKey()}`);
  // Tokens or nkeys configured make auth required, as in nats-server.
  return startNats(t, { credentials }, { users: [{ name: 'alice', password: 's3cret' }] });
}

function principalOf(f: Awaited<ReturnType<typeof startNats>>, name: string): string | undefined {
  return f.listener.sessions().find((s) => s.clientName === name)?.principalName;
}

function mechanismOf(f: Awaited<ReturnType<typeof startNats>>, name: string): string | undefined {
  return f.listener.sessions().find((s) => s.clientName === name)?.principal.mechanism;
}

test('a token in CONNECT (nats.js token option or tokenAuthenticator) logs in as the principal it is mapped to', async (t) => {
  const f = await withAuth(t);
  const a = await f.client({ token: 'tok-1', name: 'a' });
  const b = await f.client({ authenticator: tokenAuthenticator('tok-2'), name: 'b' });
  assert.equal(a.info?.auth_required, true);
  assert.equal(principalOf(f, 'a'), 'svc');
  assert.equal(principalOf(f, 'b'), 'ops');
  assert.equal(mechanismOf(f, 'a'), 'token');
  const sub = b.subscribe('tok.x', { max: 1 });
  await b.flush();
  a.publish('tok.x', 'hi');
  for await (const m of sub) assert.equal(m.string(), 'hi');
});

test('an nkey signs the INFO nonce (nats.js nkeyAuthenticator) and logs in as the principal of its public key', async (t) => {
  const f = await withAuth(t);
  const nc = await f.client({ authenticator: nkeyAuthenticator(device.getSeed()), name: 'dev' });
  assert.ok(typeof nc.info?.nonce === 'string' && nc.info.nonce.length >= 11, 'INFO carries a nonce');
  assert.equal(principalOf(f, 'dev'), 'device');
  assert.equal(mechanismOf(f, 'dev'), 'nkey');
  const r = await nc.request('nobody.home', 'x', { timeout: 2000 }).then(
    () => 'answered',
    (err: Error) => err.message,
  );
  assert.match(r, /no responders/i, 'the logged-in connection works');
});

test('user/pass against the user store still works next to tokens and nkeys', async (t) => {
  const f = await withAuth(t);
  await f.client({ authenticator: usernamePasswordAuthenticator('alice', 's3cret'), name: 'al' });
  assert.equal(principalOf(f, 'al'), 'alice');
});

test('a wrong token, an nkey not in the list, or no credentials get Authorization Violation', async (t) => {
  const f = await withAuth(t);
  await assert.rejects(f.client({ token: 'tok-3' }), /Authorization Violation/i);
  await assert.rejects(f.client({ authenticator: nkeyAuthenticator(stranger.getSeed()) }), /Authorization Violation/i);
  await assert.rejects(f.client({ user: 'alice', pass: 'nope' }), /Authorization Violation/i);
  await assert.rejects(f.client(), /Authorization Violation/i);
  assert.equal(f.listener.stats().connections, 0);
});

test('an allowed nkey with a signature of another nonce is refused and the connection closed (raw client)', async (t) => {
  const f = await withAuth(t);
  const r = await f.raw();
  const [, json] = await r.waitFor(/^INFO (\{.*\})\r\n/, 'INFO');
  const nonce = (JSON.parse(json) as { nonce: string }).nonce;
  assert.ok(nonce.length > 0);
  const badSig = Buffer.from(device.sign(new TextEncoder().encode(nonce + 'x'))).toString('base64url');
  r.send(`CONNECT ${JSON.stringify({ nkey: device.getPublicKey(), sig: badSig })}\r\nPING\r\n`);
  await r.waitFor(/-ERR 'Authorization Violation'\r\n/, 'violation');
  await r.waitClosed();
  assert.ok(!r.text.includes('PONG'));
  // The right signature in raw URL base64 (nats-server's Go clients' encoding) is accepted.
  const ok = await f.raw();
  const [, json2] = await ok.waitFor(/^INFO (\{.*\})\r\n/, 'INFO');
  const nonce2 = (JSON.parse(json2) as { nonce: string }).nonce;
  const sig = Buffer.from(device.sign(new TextEncoder().encode(nonce2))).toString('base64url');
  ok.send(`CONNECT ${JSON.stringify({ nkey: device.getPublicKey(), sig })}\r\nPING\r\n`);
  await within(ok.waitFor(/PONG\r\n/, 'PONG'), 'login by raw nkey');
});

test('without tokens or nkeys configured, a token in CONNECT is ignored (nats-server ignores it too)', async (t) => {
  const f = await startNats(t);
  const nc = await f.client({ token: 'anything', name: 'anon' });
  assert.equal(nc.info?.nonce, undefined);
  assert.equal(principalOf(f, 'anon'), 'anonymous');
});
