import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VhostPermissions, PERMISSION_KINDS } from '../../src/core/users/vhost-permissions.js';
import { MetadataStore } from '../../src/core/metadata.js';
import { MemoryLogFactory } from '../../src/core/log-factory.js';
import { ANONYMOUS, authenticatedPrincipal } from '../../src/core/principal.js';
import { isBrokerError } from '../../src/core/broker-error.js';

const T = { timeout: 5000 };
const alice = authenticatedPrincipal('alice', 'PLAIN', '10.0.0.5');
const bob = authenticatedPrincipal('bob', 'PLAIN', '10.0.0.6');

async function setup(): Promise<{ factory: MemoryLogFactory; metadata: MetadataStore; perms: VhostPermissions }> {
  const factory = new MemoryLogFactory();
  const metadata = await MetadataStore.open(factory);
  return { factory, metadata, perms: new VhostPermissions(metadata) };
}

test('nothing is checked until the first entry; then a user needs an entry to open a vhost', T, async () => {
  const { perms } = await setup();
  assert.equal(perms.enabled, false);
  assert.equal(perms.mayAccess(alice, '/'), true);
  assert.equal(perms.allows(alice, '/', 'configure', 'queue', 'q'), true);
  await perms.set({ user: 'alice', vhost: '/', configure: '', write: '', read: '' });
  assert.equal(perms.enabled, true);
  assert.equal(perms.mayAccess(alice, '/'), true, 'an entry with three empty regexes still opens the vhost');
  assert.equal(perms.mayAccess(alice, 'other'), false);
  assert.equal(perms.mayAccess(bob, '/'), false);
  assert.equal(perms.mayAccess(ANONYMOUS, '/'), true, 'unauthenticated principals are left to the ACLs');
  assert.throws(() => perms.checkAccess(bob, '/'), (e: unknown) => isBrokerError(e) && e.code === 'TRIB_UNAUTHORIZED' && /access to vhost '\/' refused for user 'bob'/.test(e.message));
  for (const kind of PERMISSION_KINDS) assert.equal(perms.allows(alice, '/', kind, 'queue', 'anything'), false, `'' matches nothing (${kind})`);
});

test('regexes match unanchored, per kind, and the default exchange is amq.default', T, async () => {
  const { perms } = await setup();
  await perms.set({ user: 'alice', vhost: '/', configure: '^tmp-', write: 'orders', read: '^amq\\.default$' });
  assert.equal(perms.allows(alice, '/', 'configure', 'queue', 'tmp-1'), true);
  assert.equal(perms.allows(alice, '/', 'configure', 'queue', 'x-tmp-1'), false);
  assert.equal(perms.allows(alice, '/', 'write', 'exchange', 'all-orders-in'), true, 'unanchored, as RabbitMQ');
  assert.equal(perms.allows(alice, '/', 'read', 'exchange', ''), true);
  assert.equal(perms.allows(alice, '/', 'read', 'queue', 'orders'), false);
  assert.throws(
    () => perms.check(alice, '/', 'write', 'exchange', 'audit'),
    (e: unknown) => isBrokerError(e) && e.message === "write access to exchange 'audit' in vhost '/' refused for user 'alice'",
  );
});

test('a bad regex is refused with TRIB_INVALID_CONFIG and stores nothing', T, async () => {
  const { perms } = await setup();
  await assert.rejects(perms.set({ user: 'alice', vhost: '/', configure: '(', write: '', read: '' }), (e: unknown) => isBrokerError(e) && e.code === 'TRIB_INVALID_CONFIG');
  assert.equal(perms.enabled, false);
  assert.deepEqual(perms.list(), []);
});

test('entries persist, replay at open, and go with their user', T, async () => {
  const { factory, perms } = await setup();
  await perms.set({ user: 'alice', vhost: '/', configure: '.*', write: '.*', read: '.*' });
  await perms.set({ user: 'bob', vhost: 'v1', configure: '', write: 'x', read: '' });
  const reopened = new VhostPermissions(await MetadataStore.open(factory));
  assert.deepEqual(reopened.list().map((e) => [e.vhost, e.user]), [['/', 'alice'], ['v1', 'bob']]);
  assert.equal(await perms.clearAll({ vhost: 'v1' }), 1);
  assert.deepEqual(perms.list({ user: 'bob' }), []);
  assert.equal(await perms.clear('alice', '/'), true);
  assert.equal(await perms.clear('alice', '/'), false);
});

test('property: allows() agrees with an unanchored search of the kind regex, whatever the names', T, async () => {
  const { perms } = await setup();
  const name = fc.string({ unit: fc.constantFrom('a', 'b', '.', '-', 'x'), maxLength: 8 });
  const regex = fc.constantFrom('', '.*', '^a', 'b$', 'a\\.b', 'x|-', '^$');
  await fc.assert(
    fc.asyncProperty(regex, regex, regex, name, fc.constantFrom(...PERMISSION_KINDS), async (configure, write, read, resource, kind) => {
      await perms.set({ user: 'alice', vhost: '/', configure, write, read });
      const source = { configure, write, read }[kind];
      const expected = source !== '' && new RegExp(source, 'u').test(resource);
      assert.equal(perms.allows(alice, '/', kind, 'queue', resource), expected);
      assert.equal(perms.allows(bob, '/', kind, 'queue', resource), false, 'a user without an entry gets nothing');
    }),
    { numRuns: 200 },
  );
});
