import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Authorizer, ACTIONS, RESOURCE_TYPES, type AclEntry, type Action, type ResourceType } from '../../src/core/authorizer.js';
import { MetadataStore } from '../../src/core/metadata.js';
import { MemoryLogFactory } from '../../src/core/log-factory.js';
import { ANONYMOUS, authenticatedPrincipal } from '../../src/core/principal.js';
import { isBrokerError } from '../../src/core/broker-error.js';

const T = { timeout: 5000 };
const alice = authenticatedPrincipal('alice', 'PLAIN', '10.0.0.5');
const bob = authenticatedPrincipal('bob', 'PLAIN', '10.0.0.6');

async function setup(options = {}) {
  const factory = new MemoryLogFactory();
  const metadata = await MetadataStore.open(factory);
  return { factory, metadata, auth: new Authorizer(metadata, options) };
}

test('everything is allowed until the first ACL is configured', T, async () => {
  const { auth } = await setup();
  assert.equal(auth.enabled, false);
  for (const action of ACTIONS) assert.equal(auth.authorize(ANONYMOUS, action, { type: 'cluster', name: 'x' }), true);
  await auth.add({ principal: 'alice', resourceType: 'stream', pattern: 'orders', action: 'read', permission: 'allow' });
  assert.equal(auth.enabled, true);
  assert.equal(auth.authorize(alice, 'read', { type: 'stream', name: 'orders' }), true);
  assert.equal(auth.authorize(bob, 'read', { type: 'stream', name: 'orders' }), false, 'default deny once ACLs exist');
  assert.equal(auth.authorize(alice, 'write', { type: 'stream', name: 'orders' }), false);
  assert.equal(auth.authorize(alice, 'read', { type: 'queue', name: 'orders' }), false);
});

test('deny wins over allow', T, async () => {
  const { auth } = await setup();
  await auth.add({ principal: '*', resourceType: 'subject', pattern: 'sensors.', patternType: 'prefix', action: '*', permission: 'allow' });
  await auth.add({ principal: 'bob', resourceType: 'subject', pattern: 'sensors.secret', action: 'subscribe', permission: 'deny' });
  assert.equal(auth.authorize(bob, 'subscribe', { type: 'subject', name: 'sensors.temp' }), true);
  assert.equal(auth.authorize(bob, 'subscribe', { type: 'subject', name: 'sensors.secret' }), false);
  assert.equal(auth.authorize(bob, 'publish', { type: 'subject', name: 'sensors.secret' }), true);
  assert.equal(auth.authorize(alice, 'subscribe', { type: 'subject', name: 'sensors.secret' }), true);
});

test('for any allows, a matching deny denies', T, async () => {
  const entry = fc.record({
    principal: fc.constantFrom('alice', 'bob', '*'),
    resourceType: fc.constantFrom<ResourceType>(...RESOURCE_TYPES),
    pattern: fc.constantFrom('orders', 'ord', '*', 'x'),
    patternType: fc.constantFrom<'literal' | 'prefix'>('literal', 'prefix'),
    action: fc.constantFrom<Action | '*'>(...ACTIONS, '*'),
    permission: fc.constant<'allow'>('allow'),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(entry, { maxLength: 8 }), fc.constantFrom<Action>(...ACTIONS), fc.constantFrom<ResourceType>(...RESOURCE_TYPES), async (allows, action, type) => {
      const { auth } = await setup();
      for (const e of allows) await auth.add(e);
      await auth.add({ principal: 'alice', resourceType: type, pattern: 'orders', action, permission: 'deny' });
      assert.equal(auth.authorize(alice, action, { type, name: 'orders' }), false);
    }),
    { numRuns: 40 },
  );
});

test('describe is implied by read, write, delete, alter, consume, publish and subscribe', T, async () => {
  const { auth } = await setup();
  await auth.add({ principal: 'alice', resourceType: 'group', pattern: 'g1', action: 'read', permission: 'allow' });
  assert.equal(auth.authorize(alice, 'describe', { type: 'group', name: 'g1' }), true);
  await auth.add({ principal: 'alice', resourceType: 'group', pattern: 'g2', action: 'create', permission: 'allow' });
  assert.equal(auth.authorize(alice, 'describe', { type: 'group', name: 'g2' }), false);
});

test('host, literal * and super users', T, async () => {
  const { auth } = await setup({ superUsers: ['root'] });
  await auth.add({ principal: 'alice', host: '10.0.0.5', resourceType: 'queue', pattern: '*', action: 'consume', permission: 'allow' });
  assert.equal(auth.authorize(alice, 'consume', { type: 'queue', name: 'anything' }), true);
  assert.equal(auth.authorize(authenticatedPrincipal('alice', 'PLAIN', '10.9.9.9'), 'consume', { type: 'queue', name: 'q' }), false);
  assert.equal(auth.authorize(authenticatedPrincipal('root', 'PLAIN'), 'admin', { type: 'cluster', name: 'kafka-cluster' }), true);
  assert.equal(auth.authorize({ ...ANONYMOUS, name: 'root' }, 'admin', { type: 'cluster', name: 'c' }), false, 'a super user must be authenticated');
});

test('check throws TRIB_UNAUTHORIZED naming principal, action and resource', T, async () => {
  const { auth } = await setup();
  await auth.add({ principal: 'alice', resourceType: 'stream', pattern: 'orders', action: 'read', permission: 'allow' });
  auth.check(alice, 'read', { type: 'stream', name: 'orders' });
  assert.throws(
    () => auth.check(bob, 'write', { type: 'exchange', name: 'amq.topic' }),
    (e: unknown) => isBrokerError(e, 'TRIB_UNAUTHORIZED') && /bob/.test(e.message) && /write/.test(e.message) && /exchange 'amq\.topic'/.test(e.message),
  );
});

test('ACLs persist through the MetadataStore and can be listed and removed by filter', T, async () => {
  const { factory, metadata, auth } = await setup();
  const entries: AclEntry[] = [
    { principal: 'alice', resourceType: 'stream', pattern: 'orders', action: 'read', permission: 'allow' },
    { principal: 'alice', resourceType: 'stream', pattern: 'orders', action: 'read', permission: 'allow' },
    { principal: 'bob', resourceType: 'stream', pattern: 'pay', patternType: 'prefix', action: 'write', permission: 'deny' },
  ];
  for (const e of entries) await auth.add(e);
  assert.equal(auth.list().length, 2, 'the same entry twice is one entry');
  await assert.rejects(auth.add({ ...entries[0], action: 'fly' as Action }), (e: unknown) => isBrokerError(e, 'TRIB_INVALID_CONFIG'));
  auth.close();
  await metadata.close();

  const again = new Authorizer(await MetadataStore.open(factory));
  assert.deepEqual(again.list({ principal: 'bob' }), [{ ...entries[2], host: '*' }]);
  assert.equal(again.authorize(alice, 'read', { type: 'stream', name: 'orders' }), true);
  const removed = await again.remove({ principal: 'alice' });
  assert.equal(removed.length, 1);
  assert.equal(again.authorize(alice, 'read', { type: 'stream', name: 'orders' }), false);
  await again.remove({});
  assert.equal(again.enabled, false);
});
