import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AckSet } from '../../../src/core/cursor/ack-set.js';

function checkInvariants(set: AckSet, naive: Set<number>, base: number, limit: number): void {
  const r = set.ranges();
  for (let i = 0; i < r.length; i += 2) {
    assert.ok(r[i] < r[i + 1], 'ranges are non-empty');
    if (i === 0) assert.ok(r[i] > set.floor, 'the first range does not touch the floor');
    else assert.ok(r[i] > r[i - 1], 'ranges are ordered and never adjacent');
  }
  let firstMissing = base;
  while (naive.has(firstMissing)) firstMissing++;
  assert.equal(set.floor, firstMissing, 'floor is the first unacked offset');
  let above = 0;
  for (const o of naive) if (o >= set.floor) above++;
  assert.equal(set.ackedAboveFloor, above);
  for (let o = base; o < limit; o++) assert.equal(set.has(o), naive.has(o), `has(${o})`);
}

test('in-order acks move the floor and keep no ranges', () => {
  const s = new AckSet(10);
  for (let o = 10; o < 1000; o++) s.add(o);
  assert.equal(s.floor, 1000);
  assert.equal(s.rangeCount, 0);
});

test('out-of-order acks are kept as ranges and fold into the floor when the gap fills', () => {
  const s = new AckSet(0);
  s.add(2);
  s.add(3);
  s.add(5);
  assert.deepEqual(s.ranges(), [2, 4, 5, 6]);
  assert.equal(s.floor, 0);
  s.add(4);
  assert.deepEqual(s.ranges(), [2, 6]);
  s.add(1);
  s.add(0);
  assert.equal(s.floor, 6);
  assert.equal(s.rangeCount, 0);
  assert.equal(s.add(3), false, 'an acked offset is not acked twice');
});

test('a million acks with one gap use one range, not a million entries', () => {
  const s = new AckSet(0);
  for (let o = 1; o <= 1_000_000; o++) s.add(o);
  assert.equal(s.rangeCount, 1);
  assert.equal(s.ackedAboveFloor, 1_000_000);
  s.add(0);
  assert.equal(s.floor, 1_000_001);
});

test('nextUnacked and forEachGap walk the complement', () => {
  const s = AckSet.from(5, [7, 9, 12, 13]);
  assert.equal(s.nextUnacked(0), 5);
  assert.equal(s.nextUnacked(7), 9);
  assert.equal(s.nextUnacked(12), 13);
  const gaps: number[][] = [];
  s.forEachGap(0, 15, (a, b) => gaps.push([a, b]));
  assert.deepEqual(gaps, [[5, 7], [9, 12], [13, 15]]);
});

test('property: an AckSet agrees with a naive Set under random adds, ranges and floor moves', () => {
  const op = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('add' as const), at: fc.integer({ min: 0, max: 120 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('range' as const), at: fc.integer({ min: 0, max: 120 }), len: fc.integer({ min: 0, max: 15 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('floor' as const), at: fc.integer({ min: 0, max: 120 }) }) },
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 20 }), fc.array(op, { maxLength: 150, size: 'max' }), (base, ops) => {
      const set = new AckSet(base);
      const naive = new Set<number>();
      for (let o = 0; o < base; o++) naive.add(o);
      for (const o of ops) {
        if (o.kind === 'add') {
          const was = naive.has(o.at);
          naive.add(o.at);
          assert.equal(set.add(o.at), !was);
        } else if (o.kind === 'range') {
          let fresh = 0;
          for (let x = o.at; x < o.at + o.len; x++) if (!naive.has(x)) (naive.add(x), fresh++);
          assert.equal(set.addRange(o.at, o.at + o.len), fresh);
        } else {
          for (let x = 0; x < o.at; x++) naive.add(x);
          set.advanceFloor(o.at);
        }
        checkInvariants(set, naive, 0, 150);
      }
      const copy = AckSet.from(set.floor, set.ranges());
      for (let o = 0; o < 150; o++) assert.equal(copy.has(o), naive.has(o), 'round-trips through floor + ranges');
      for (let from = 0; from < 150; from += 7) {
        let expect = from;
        while (naive.has(expect)) expect++;
        assert.equal(set.nextUnacked(from), expect);
      }
      const gapOffsets: number[] = [];
      set.forEachGap(0, 140, (a, b) => {
        for (let x = a; x < b; x++) gapOffsets.push(x);
      });
      const expectGaps: number[] = [];
      for (let x = 0; x < 140; x++) if (!naive.has(x)) expectGaps.push(x);
      assert.deepEqual(gapOffsets, expectGaps);
    }),
    { numRuns: 300 },
  );
});
