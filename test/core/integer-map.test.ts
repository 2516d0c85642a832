// IntegerMap against a Map model: the same answers for any sequence of sets and deletes, iteration in ascending
// key order (= a Map's order for increasing keys), and deleting while iterating visits each live entry once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IntegerMap } from '../../src/core/integer-map.js';

const arbOps = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant('set' as const), key: fc.oneof(fc.nat(50), fc.nat(), fc.constant(2 ** 32 + 5), fc.constant(Number.MAX_SAFE_INTEGER)), value: fc.integer() }),
    fc.record({ op: fc.constant('delete' as const), key: fc.nat(50) }),
  ),
  { maxLength: 200 },
);

test('IntegerMap answers like a Map for any sequence of sets and deletes, and iterates keys below 2^32 - 1 in ascending order first', () => {
  fc.assert(
    fc.property(arbOps, (ops) => {
      const m = new IntegerMap<number>();
      const model = new Map<number, number>();
      for (const o of ops) {
        if (o.op === 'set') {
          m.set(o.key, o.value);
          model.set(o.key, o.value);
        } else assert.equal(m.delete(o.key), model.delete(o.key));
        assert.equal(m.size, model.size);
      }
      for (const [k, v] of model) {
        assert.equal(m.get(k), v);
        assert.ok(m.has(k));
      }
      // Keys below 2^32 - 1 come first, ascending; the rare larger ones follow (in the order they were added).
      const INDEX_LIMIT = 2 ** 32 - 1;
      const small = [...model].filter(([k]) => k < INDEX_LIMIT).sort((a, b) => a[0] - b[0]);
      const got = [...m];
      assert.deepEqual(got.slice(0, small.length), small);
      assert.deepEqual(
        got.slice(small.length).sort((a, b) => a[0] - b[0]),
        [...model].filter(([k]) => k >= INDEX_LIMIT).sort((a, b) => a[0] - b[0]),
      );
      assert.deepEqual([...m.keys()], got.map(([k]) => k));
      assert.deepEqual([...m.values()], got.map(([, v]) => v));
    }),
    { numRuns: 300 },
  );
});

test('deleting entries while iterating visits every live entry once and leaves the map empty', () => {
  const m = new IntegerMap<string>();
  for (let t = 1; t <= 1000; t++) m.set(t, `d${t}`);
  const seen: number[] = [];
  for (const [t] of m) {
    seen.push(t);
    m.delete(t);
    if (t === 10) m.delete(11); // an entry not yet visited, gone before its turn
  }
  assert.deepEqual(seen, Array.from({ length: 1000 }, (_, i) => i + 1).filter((t) => t !== 11));
  assert.equal(m.size, 0);
  assert.equal(m.get(5), undefined);
  assert.equal(m.has(5), false);
});
