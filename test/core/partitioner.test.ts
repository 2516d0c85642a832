import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RoundRobinPartitioner, StickyPartitioner, choosePartition, partitionForKey } from '../../src/core/partitioner.js';
import { murmur2, toPositive } from '../../src/core/murmur2.js';

test('keyed records go where the Java client puts them', () => {
  // toPositive(murmur2("foobar")) % 12 computed from Kafka's vector -790332482.
  assert.equal(partitionForKey('foobar', 12), (-790332482 & 0x7fffffff) % 12);
  assert.equal(partitionForKey(Buffer.from('21'), 3), (-973932308 & 0x7fffffff) % 3);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 32 }), fc.integer({ min: 1, max: 1000 }), (key, n) => {
      const p = partitionForKey(key, n);
      assert.ok(p >= 0 && p < n);
      assert.equal(p, toPositive(murmur2(key)) % n);
    }),
  );
});

test('an empty key is a key; a null key goes to the unkeyed partitioner', () => {
  const rr = new RoundRobinPartitioner();
  assert.equal(choosePartition(Buffer.alloc(0), 7, rr), toPositive(murmur2(Buffer.alloc(0))) % 7);
  assert.equal(choosePartition(null, 7, rr), 0);
  assert.equal(choosePartition(null, 7, rr), 1);
});

test('round-robin cycles through the partitions', () => {
  const rr = new RoundRobinPartitioner();
  assert.deepEqual([0, 1, 2, 3, 4].map(() => rr.partition(3)), [0, 1, 2, 0, 1]);
});

test('sticky stays on one partition for a batch, then moves to a different one', () => {
  const sticky = new StickyPartitioner({ batchBytes: 100, random: () => 0.5 });
  const first = sticky.partition(4, 40);
  assert.equal(sticky.partition(4, 40), first);
  assert.equal(sticky.partition(4, 40), first); // 120 bytes now: the next record switches
  const second = sticky.partition(4, 10);
  assert.notEqual(second, first);
  sticky.onNewBatch();
  assert.notEqual(sticky.partition(4), second);
  assert.equal(new StickyPartitioner().partition(1), 0);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 50 }), fc.double({ min: 0, max: 0.9999999, noNaN: true }), (n, r) => {
      const s = new StickyPartitioner({ batchBytes: 1, random: () => r });
      for (let i = 0; i < 5; i++) {
        const p = s.partition(n, 1);
        assert.ok(Number.isInteger(p) && p >= 0 && p < n);
      }
    }),
  );
});

test('a partition count that is not a positive integer is a RangeError', () => {
  assert.throws(() => partitionForKey('k', 0), RangeError);
  assert.throws(() => new RoundRobinPartitioner().partition(1.5), RangeError);
});
