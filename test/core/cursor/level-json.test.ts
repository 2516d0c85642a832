import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LevelJsonWriter } from '../../../src/core/cursor/level-json.js';
import type { LevelSnapshot } from '../../../src/core/cursor/cursor-state.js';

const offset = fc.oneof(fc.integer({ min: 0, max: 1_000_000 }), fc.constantFrom(0, 9, 10, 99, 100, Number.MAX_SAFE_INTEGER), fc.integer({ min: -5, max: -1 }));
const levelArb: fc.Arbitrary<LevelSnapshot> = fc.record({
  floor: offset,
  next: offset,
  ranges: fc.array(offset, { maxLength: 40 }),
  counts: fc.array(offset, { maxLength: 40 }),
});
const levelsArb = fc.array(levelArb, { minLength: 0, maxLength: 4 });

/** What the store wrote before the writer existed: JSON.stringify of the record objects. */
function encodeLevels(levels: readonly LevelSnapshot[]): unknown[] {
  return levels.map((l) => ({ f: l.floor, n: l.next, r: l.ranges, c: l.counts }));
}

test('checkpoint and delta values are byte for byte what JSON.stringify writes for the same record', () => {
  // One writer for every case, as the store keeps one: its scratch buffer is reused and grown across records.
  const writer = new LevelJsonWriter(16);
  fc.assert(
    fc.property(levelsArb, fc.nat(), fc.integer({ min: 1, max: 63 }), (levels, epoch, seq) => {
      const checkpoint = writer.checkpoint(1, epoch, levels);
      assert.equal(checkpoint.toString('utf8'), JSON.stringify({ v: 1, t: 'c', e: epoch, l: encodeLevels(levels) }));
      const delta = writer.delta(1, epoch, seq, levels);
      assert.equal(delta.toString('utf8'), JSON.stringify({ v: 1, t: 'd', e: epoch, s: seq, l: encodeLevels(levels) }));
    }),
    { numRuns: 300 },
  );
});

test('a value written earlier keeps its bytes when the writer goes on to write a shorter and a longer one', () => {
  const writer = new LevelJsonWriter(32);
  const long: LevelSnapshot[] = [{ floor: 123456, next: 123999, ranges: Array.from({ length: 50 }, (_, i) => 123460 + 2 * i), counts: [123457, 3] }];
  const short: LevelSnapshot[] = [{ floor: 7, next: 8, ranges: [], counts: [] }];
  const first = writer.delta(1, 2, 3, long);
  const firstText = first.toString('utf8');
  const second = writer.delta(1, 2, 4, short);
  // The short value is exactly its own JSON: nothing left over from the longer record before it in the scratch.
  assert.equal(second.toString('utf8'), '{"v":1,"t":"d","e":2,"s":4,"l":[{"f":7,"n":8,"r":[],"c":[]}]}');
  const third = writer.checkpoint(1, 3, long.concat(long));
  // Neither later write (one shorter, one longer than the scratch held) changed a Buffer already handed out.
  assert.equal(first.toString('utf8'), firstText);
  assert.equal(second.toString('utf8'), '{"v":1,"t":"d","e":2,"s":4,"l":[{"f":7,"n":8,"r":[],"c":[]}]}');
  assert.equal(JSON.parse(third.toString('utf8')).l.length, 2);
  const overlap = (a: Buffer, b: Buffer): boolean => a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length;
  assert.ok(!overlap(first, second) && !overlap(second, third) && !overlap(first, third), 'each value has its own bytes');
});
