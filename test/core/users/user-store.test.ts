import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetadataStore } from '../../../src/core/metadata.js';
import { MemoryLogFactory } from '../../../src/core/log-factory.js';
import { isBrokerError } from '../../../src/core/broker-error.js';
import { isLoopbackAddress } from '../../../src/core/principal.js';
import { UserStore } from '../../../src/core/users/user-store.js';
import { ScramServerSession } from '../../../src/core/users/scram.js';

const T = { timeout: 10_000 };

function authFailed(e: unknown): boolean {
  return isBrokerError(e, 'TRIB_AUTHENTICATION_FAILED');
}

test('loopback addresses are 127.0.0.0/8, ::1 and their IPv4-mapped forms', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '0:0:0:0:0:0:0:1']) assert.equal(isLoopbackAddress(a), true, a);
  for (const a of ['10.0.0.1', '128.0.0.1', '::2', '::ffff:10.0.0.1', 'localhost', '', undefined, 'fe80::1%lo0']) assert.equal(isLoopbackAddress(a), false, String(a));
});

test('a fresh broker has guest/guest, accepted only from loopback', T, async () => {
  const metadata = await MetadataStore.open(new MemoryLogFactory());
  const users = await UserStore.open(metadata);
  assert.deepEqual(users.list().map((u) => u.name), ['guest']);
  for (const peer of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
    const p = await users.authenticate('guest', 'guest', peer, { mechanism: 'PLAIN', tenant: '/dev' });
    assert.deepEqual({ ...p }, { name: 'guest', authenticated: true, mechanism: 'PLAIN', peerAddress: peer, tenant: '/dev' });
  }
  for (const peer of ['10.0.0.7', '::ffff:192.168.1.1', undefined]) {
    await assert.rejects(users.authenticate('guest', 'guest', peer), (e: unknown) => authFailed(e) && /loopback/.test((e as Error).message));
  }
  await assert.rejects(users.authenticate('guest', 'wrong', '127.0.0.1'), authFailed);
  await assert.rejects(users.authenticate('nobody', 'guest', '127.0.0.1'), (e: unknown) => authFailed(e) && !/exist/.test((e as Error).message));
});

test('loopbackUsers: [] lets guest in from anywhere; defaultUser: null creates none', T, async () => {
  const open = await UserStore.open(await MetadataStore.open(new MemoryLogFactory()), { loopbackUsers: [] });
  assert.equal((await open.authenticate('guest', 'guest', '203.0.113.9')).name, 'guest');
  const none = await UserStore.open(await MetadataStore.open(new MemoryLogFactory()), { defaultUser: null });
  assert.deepEqual(none.list(), []);
});

test('users are created, listed, re-passworded and deleted; no password is stored', T, async () => {
  const factory = new MemoryLogFactory();
  const metadata = await MetadataStore.open(factory);
  const users = await UserStore.open(metadata, { defaultUser: null });
  await users.create('alice', 'correct horse', { tags: ['monitoring'] });
  await assert.rejects(users.create('alice', 'x'), (e: unknown) => isBrokerError(e, 'TRIB_USER_EXISTS'));
  await assert.rejects(users.create('', 'x'), (e: unknown) => isBrokerError(e, 'TRIB_INVALID_NAME'));
  await assert.rejects(users.create('bob', ''), (e: unknown) => isBrokerError(e, 'TRIB_INVALID_CONFIG'));
  assert.equal((await users.authenticate('alice', 'correct horse', '198.51.100.1')).name, 'alice');
  assert.deepEqual(users.get('alice')?.mechanisms, ['SCRAM-SHA-256', 'SCRAM-SHA-512']);
  assert.ok(!JSON.stringify(metadata.dump()).includes('correct horse'));

  await users.setPassword('alice', 'battery staple');
  await assert.rejects(users.authenticate('alice', 'correct horse', '127.0.0.1'), authFailed);
  await metadata.close();

  // The same users after a restart.
  const again = await UserStore.open(await MetadataStore.open(factory), { defaultUser: null });
  assert.equal((await again.authenticate('alice', 'battery staple', '127.0.0.1')).name, 'alice');
  assert.deepEqual(again.get('alice')?.tags, ['monitoring']);
  await again.delete('alice');
  await assert.rejects(again.delete('alice'), (e: unknown) => isBrokerError(e, 'TRIB_USER_NOT_FOUND'));
  await assert.rejects(again.setPassword('alice', 'x'), (e: unknown) => isBrokerError(e, 'TRIB_USER_NOT_FOUND'));
});

test('config users are seeded and reset at boot; a deleted guest stays deleted', T, async () => {
  const factory = new MemoryLogFactory();
  let metadata = await MetadataStore.open(factory);
  let users = await UserStore.open(metadata, { users: [{ name: 'svc', password: 'one' }] });
  assert.deepEqual(users.list().map((u) => u.name), ['guest', 'svc']);
  await users.setPassword('svc', 'changed-by-admin');
  await users.delete('guest');
  await metadata.close();

  metadata = await MetadataStore.open(factory);
  users = await UserStore.open(metadata, { users: [{ name: 'svc', password: 'two', tags: ['x'] }] });
  assert.deepEqual(users.list().map((u) => u.name), ['svc'], 'guest is only created on a store with no users');
  assert.equal((await users.authenticate('svc', 'two', '127.0.0.1')).name, 'svc');
  assert.deepEqual(users.get('svc')?.tags, ['x']);
});

test('stored credentials drive a Kafka-style SCRAM login, with the loopback rule checked separately', T, async () => {
  const users = await UserStore.open(await MetadataStore.open(new MemoryLogFactory()));
  const server = new ScramServerSession('SCRAM-SHA-256', (n, m) => users.scramCredential(n, m));
  assert.match(server.clientFirst('n,,n=guest,r=abc'), /^r=abc.+,s=.+,i=4096$/);
  assert.throws(() => users.checkPeer('guest', '10.1.1.1'), authFailed);
  users.checkPeer('guest', '127.0.0.1');
});
