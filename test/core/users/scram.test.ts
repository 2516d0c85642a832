import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import fc from 'fast-check';
import {
  ScramServerSession,
  createScramCredential,
  verifyScramPassword,
  type ScramCredential,
  type ScramMechanism,
} from '../../../src/core/users/scram.js';
import { isBrokerError } from '../../../src/core/broker-error.js';

const T = { timeout: 10_000 };

// RFC 7677 §3: SCRAM-SHA-256, user 'user', password 'pencil'.
const RFC = {
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

function lookupOf(users: { [name: string]: ScramCredential }) {
  return (name: string) => users[name];
}

/** An independent SCRAM client (straight from RFC 5802 §3) to drive the server. */
function clientFinalFor(mechanism: ScramMechanism, password: string, clientFirstBare: string, serverFirst: string): { message: string; serverSignature: string } {
  const h = mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512';
  const attrs = Object.fromEntries(serverFirst.split(',').map((a) => [a[0], a.slice(2)]));
  const salted = pbkdf2Sync(password, Buffer.from(attrs.s, 'base64'), Number(attrs.i), h === 'sha256' ? 32 : 64, h);
  const clientKey = createHmac(h, salted).update('Client Key').digest();
  const storedKey = createHash(h).update(clientKey).digest();
  const withoutProof = `c=biws,r=${attrs.r}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const signature = createHmac(h, storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]));
  const serverKey = createHmac(h, salted).update('Server Key').digest();
  return { message: `${withoutProof},p=${proof.toString('base64')}`, serverSignature: `v=${createHmac(h, serverKey).update(authMessage).digest('base64')}` };
}

test('the server side reproduces the RFC 7677 SCRAM-SHA-256 exchange', T, async () => {
  const cred = await createScramCredential('SCRAM-SHA-256', 'pencil', { salt: RFC.salt, iterations: 4096 });
  const server = new ScramServerSession('SCRAM-SHA-256', lookupOf({ user: cred }), { serverNonce: RFC.serverNonce });
  assert.equal(server.clientFirst(RFC.clientFirst), RFC.serverFirst);
  assert.equal(server.username, 'user');
  assert.deepEqual(server.clientFinal(Buffer.from(RFC.clientFinal)), { ok: true, response: RFC.serverFinal });
  assert.equal(server.state, 'succeeded');
});

test('a wrong proof fails with e=invalid-proof', T, async () => {
  const cred = await createScramCredential('SCRAM-SHA-256', 'not-pencil', { salt: RFC.salt });
  const server = new ScramServerSession('SCRAM-SHA-256', lookupOf({ user: cred }), { serverNonce: RFC.serverNonce });
  server.clientFirst(RFC.clientFirst);
  assert.deepEqual(server.clientFinal(RFC.clientFinal), { ok: false, response: 'e=invalid-proof' });
  assert.equal(server.state, 'failed');
});

test('an unknown user gets a plausible, stable server-first and then fails', T, () => {
  const first = () => new ScramServerSession('SCRAM-SHA-256', lookupOf({}), { serverNonce: 'abc' });
  const a = first();
  const sf = a.clientFirst('n,,n=nobody,r=xyz');
  assert.match(sf, /^r=xyzabc,s=[A-Za-z0-9+/]+=*,i=4096$/);
  assert.equal(first().clientFirst('n,,n=nobody,r=xyz'), sf, 'the fake salt does not change between attempts');
  assert.deepEqual(a.clientFinal(clientFinalFor('SCRAM-SHA-256', 'x', 'n=nobody,r=xyz', sf).message), { ok: false, response: 'e=invalid-proof' });
});

test('SCRAM-SHA-512 round-trips with an independent client, usernames with escapes too', T, async () => {
  for (const name of ['alice', 'we,ird=name']) {
    const cred = await createScramCredential('SCRAM-SHA-512', 'sekret');
    const server = new ScramServerSession('SCRAM-SHA-512', lookupOf({ [name]: cred }));
    const bare = `n=${name.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=clientnonce123`;
    const serverFirst = server.clientFirst(`n,,${bare}`);
    assert.equal(server.username, name);
    const { message, serverSignature } = clientFinalFor('SCRAM-SHA-512', 'sekret', bare, serverFirst);
    assert.deepEqual(server.clientFinal(message), { ok: true, response: serverSignature });
  }
});

test('malformed or unsupported client messages are refused', T, async () => {
  const cred = await createScramCredential('SCRAM-SHA-256', 'pencil', { salt: RFC.salt });
  const lookup = lookupOf({ user: cred });
  for (const bad of ['', 'n', 'x,,n=user,r=a', 'p=tls-unique,,n=user,r=a', 'n,,m=ext,n=user,r=a', 'n,,r=a,n=user', 'n,,n=us=er,r=a', 'n,,n=user,r=a,b', 'n,,n=user,r=']) {
    const s = new ScramServerSession('SCRAM-SHA-256', lookup);
    assert.throws(() => s.clientFirst(bad), (e: unknown) => isBrokerError(e, 'TRIB_AUTHENTICATION_FAILED'), bad);
    assert.equal(s.state, 'failed');
  }
  const s = new ScramServerSession('SCRAM-SHA-256', lookup, { serverNonce: RFC.serverNonce });
  assert.throws(() => s.clientFinal(RFC.clientFinal), (e: unknown) => isBrokerError(e, 'TRIB_AUTHENTICATION_FAILED'), 'final before first');

  const finals: Array<[string, string]> = [
    ['c=biws,r=rOprNGfwEbeRWgbNEkqO', 'e=invalid-encoding'],
    [RFC.clientFinal.replace('c=biws', 'c=eSws'), 'e=channel-bindings-dont-match'],
    [RFC.clientFinal.replace('hNlF$k0', 'hNlF$k1'), 'e=other-error'],
    [RFC.clientFinal.replace(/p=.*$/, 'p=AAAA'), 'e=invalid-proof'],
  ];
  for (const [msg, response] of finals) {
    const t = new ScramServerSession('SCRAM-SHA-256', lookup, { serverNonce: RFC.serverNonce });
    t.clientFirst(RFC.clientFirst);
    assert.deepEqual(t.clientFinal(msg), { ok: false, response });
  }
});

test('credentials never contain the password and need at least 4096 iterations', T, async () => {
  await assert.rejects(createScramCredential('SCRAM-SHA-256', 'p', { iterations: 4095 }), (e: unknown) => isBrokerError(e, 'TRIB_INVALID_CONFIG'));
  const cred = await createScramCredential('SCRAM-SHA-512', 'hunter2hunter2');
  assert.ok(!JSON.stringify(cred).includes('hunter2'));
  assert.equal(Buffer.from(cred.salt, 'base64').length, 16);
  assert.equal(Buffer.from(cred.storedKey, 'base64').length, 64);
});

test('plain passwords verify against the stored credential and nothing else', T, async () => {
  const cred = await createScramCredential('SCRAM-SHA-256', 'pencil');
  assert.equal(await verifyScramPassword('SCRAM-SHA-256', cred, 'pencil'), true);
  await fc.assert(
    fc.asyncProperty(fc.string({ maxLength: 12 }).filter((p) => p !== 'pencil'), async (p) => {
      assert.equal(await verifyScramPassword('SCRAM-SHA-256', cred, p), false);
    }),
    { numRuns: 20 },
  );
});
