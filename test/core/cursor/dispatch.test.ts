import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dispatch, hashKey } from '../../../src/core/cursor/dispatch.js';
import { isBrokerError } from '../../../src/core/broker-error.js';

test('exclusive: a second attach fails with TRIB_CONSUMER_EXCLUSIVE', () => {
  const d = new Dispatch('exclusive');
  d.attach({ id: 'a' });
  assert.throws(() => d.attach({ id: 'b' }), (err) => isBrokerError(err, 'TRIB_CONSUMER_EXCLUSIVE'));
  assert.throws(() => new Dispatch('shared').attach({ id: 'x' }) && d.attach({ id: 'a' }), (err) => isBrokerError(err, 'TRIB_CONSUMER_EXISTS'));
});

test('failover: the active consumer keeps its place; on detach the best standby (priority, then attach order) takes over', () => {
  const d = new Dispatch('failover');
  const a = d.attach({ id: 'a' });
  d.attach({ id: 'b' });
  const c = d.attach({ id: 'c', priority: 2 });
  assert.equal(d.activeConsumer, a, 'a higher-priority newcomer does not take over a running consumer');
  d.detach(a);
  assert.equal(d.activeConsumer, c);
  d.detach(c);
  assert.equal(d.activeConsumer?.id, 'b');
});

test('key-shared: an attach moves only about 1/n of the keys, and keys with records in flight not at all', () => {
  const d = new Dispatch('key-shared');
  d.attach({ id: 'a' });
  d.attach({ id: 'b' });
  d.attach({ id: 'c' });
  const keys = Array.from({ length: 3000 }, (_, i) => hashKey(Buffer.from(`order-${i}`)));
  const before = keys.map((k) => d.ownerOf(k)!.id);
  const counts = new Map<string, number>();
  for (const id of before) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const n of counts.values()) assert.ok(n > 600 && n < 1400, `keys spread over consumers: ${[...counts]}`);
  // Pin one key that the ring will hand to the newcomer.
  d.attach({ id: 'd' });
  const moved = keys.filter((k, i) => d.ownerOf(k)!.id !== before[i]);
  d.detach(d.get('d')!);
  assert.ok(moved.length > 300 && moved.length < 1300, `about a quarter moved, got ${moved.length}`);
  const pinnedKey = moved[0];
  const owner = d.ownerOf(pinnedKey)!;
  d.onDeliver(owner, 10, pinnedKey);
  d.attach({ id: 'd' });
  assert.equal(d.ownerOf(pinnedKey), owner, 'in flight: stays');
  d.onSettle(owner, 10, pinnedKey);
  assert.equal(d.ownerOf(pinnedKey)!.id, 'd', 'settled: follows the ring');
  assert.ok(keys.every((k, i) => d.ownerOf(k)!.id === before[i] || d.ownerOf(k)!.id === 'd'), 'keys move only to the newcomer');
});

test('credit: prefetch count, prefetch bytes and pause', () => {
  const d = new Dispatch('shared');
  const a = d.attach({ id: 'a', prefetchCount: 2, prefetchBytes: 100 });
  assert.equal(d.pick(0, 500), a, 'an empty consumer may take one oversized record');
  d.onDeliver(a, 500, 0);
  assert.equal(d.pick(0, 1), null);
  d.onSettle(a, 500, 0);
  d.onDeliver(a, 60, 0);
  assert.equal(d.pick(0, 50), null, 'over the byte limit');
  assert.equal(d.pick(0, 40), a);
  a.paused = true;
  assert.equal(d.pick(0, 1), null);
  assert.equal(d.anyCredit(), false);
});
