import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SubjectTrie } from '../../../src/core/router/subject-trie.js';
import { isBrokerError } from '../../../src/core/broker-error.js';

/** The reference: every filter checked against the subject, token by token. */
function naiveMatch(filter: string, subject: string, excludeDollar: boolean): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  if (excludeDollar && s[0].startsWith('$') && (f[0] === '*' || f[0] === '>')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== '*' && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

const token = fc.constantFrom('a', 'b', 'c', '$d', 'ab');
const subjectArb = fc.array(token, { minLength: 1, maxLength: 5 }).map((t) => t.join('.'));
const filterArb = fc
  .tuple(fc.array(fc.oneof(token, fc.constant('*')), { minLength: 1, maxLength: 5 }), fc.boolean())
  .map(([t, full]) => (full ? [...t.slice(0, -1), '>'] : t).join('.'));

const sorted = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);

test('match equals a naive scan of every filter, through inserts, removes and the cache', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ filter: filterArb, excl: fc.boolean(), remove: fc.boolean() }), { minLength: 1, maxLength: 40 }),
      fc.array(subjectArb, { minLength: 1, maxLength: 20 }),
      fc.integer({ min: 0, max: 4 }),
      (ops, subjects, cacheSize) => {
        const trie = new SubjectTrie<number>({ cacheSize });
        const live = new Map<number, { filter: string; excl: boolean }>();
        ops.forEach((op, id) => {
          trie.insert(op.filter, id, { excludeDollar: op.excl });
          live.set(id, op);
          // Look up between changes so stale cache entries would be caught.
          for (const s of subjects.slice(0, 3)) trie.match(s);
          if (op.remove && id > 0) {
            const victim = id - 1;
            const v = live.get(victim);
            if (v !== undefined) {
              assert.equal(trie.remove(v.filter, victim), true);
              live.delete(victim);
            }
          }
        });
        assert.equal(trie.size, live.size);
        for (const s of subjects) {
          for (const forced of [false, true]) {
            const want = [...live].filter(([, v]) => naiveMatch(v.filter, s, forced || v.excl)).map(([id]) => id);
            assert.deepEqual(sorted(trie.match(s, { excludeDollar: forced })), sorted(want), `${s} forced=${forced}`);
            // Twice: the second answer comes from the cache.
            assert.deepEqual(sorted(trie.match(s, { excludeDollar: forced })), sorted(want));
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('the cache answers repeated subjects and a change invalidates only what it affects', () => {
  const trie = new SubjectTrie<string>();
  trie.insert('a.b', 'x');
  trie.insert('c.*', 'y');
  assert.deepEqual(trie.match('a.b'), ['x']);
  const first = trie.match('a.b');
  assert.equal(trie.match('a.b'), first, 'a hit returns the cached array');
  assert.deepEqual(trie.match('c.d'), ['y']);
  trie.insert('_INBOX.1', 'z'); // an unrelated literal filter: a.b stays cached
  assert.equal(trie.match('a.b'), first);
  trie.insert('a.*', 'w'); // a wildcard that matches a.b: a.b is recomputed
  assert.deepEqual([...trie.match('a.b')].sort(), ['w', 'x']);
  assert.deepEqual(first, ['x'], 'a result handed out earlier is never changed in place');
  trie.remove('a.b', 'x');
  assert.deepEqual(trie.match('a.b'), ['w']);
  const stats = trie.stats();
  assert.ok(stats.cacheHits >= 2);
  assert.equal(stats.entries, 3);
});

test('the cache is bounded', () => {
  const trie = new SubjectTrie<number>({ cacheSize: 8 });
  trie.insert('>', 1);
  for (let i = 0; i < 100; i++) trie.match(`s.${i}`);
  assert.ok(trie.stats().cachedSubjects <= 8);
});

test('a filter starting with a wildcard skips $ subjects only for entries that asked for it', () => {
  const trie = new SubjectTrie<string>();
  trie.insert('>', 'nats');
  trie.insert('>', 'mqtt', { excludeDollar: true });
  trie.insert('*.x', 'mqtt-star', { excludeDollar: true });
  trie.insert('$SYS.>', 'mqtt-sys', { excludeDollar: true });
  assert.deepEqual([...trie.match('$SYS.x')].sort(), ['mqtt-sys', 'nats']);
  assert.deepEqual([...trie.match('a.x')].sort(), ['mqtt', 'mqtt-star', 'nats']);
  assert.deepEqual([...trie.match('$SYS.x', { excludeDollar: true })], ['mqtt-sys']);
  // A $ token later in the subject is not special.
  assert.deepEqual([...trie.match('a.$x')].sort(), ['mqtt', 'nats']);
});

test('duplicates: a pair is stored once; unique results list a value once across its filters', () => {
  const plain = new SubjectTrie<string>();
  assert.equal(plain.insert('a.*', 'v'), true);
  assert.equal(plain.insert('a.*', 'v'), false);
  plain.insert('a.>', 'v');
  assert.deepEqual(plain.match('a.b'), ['v', 'v']);
  const unique = new SubjectTrie<string>({ unique: true });
  unique.insert('a.*', 'v');
  unique.insert('a.>', 'v');
  unique.insert('a.b', 'w');
  assert.deepEqual([...unique.match('a.b')].sort(), ['v', 'w']);
});

test('remove prunes nodes and reports unknown pairs', () => {
  const trie = new SubjectTrie<number>();
  for (let i = 0; i < 1000; i++) trie.insert(`_INBOX.${i}.*`, i);
  for (let i = 0; i < 1000; i++) assert.equal(trie.remove(`_INBOX.${i}.*`, i), true);
  assert.equal(trie.remove('_INBOX.1.*', 1), false);
  assert.equal(trie.remove('never.there', 1), false);
  assert.equal(trie.size, 0);
  assert.deepEqual([...trie.entries()], []);
});

test('entries lists every pair with its filter', () => {
  const trie = new SubjectTrie<number>();
  trie.insert('a.b', 1);
  trie.insert('a.*', 2);
  trie.insert('>', 3, { excludeDollar: true });
  assert.deepEqual(
    [...trie.entries()].sort((x, y) => x[1] - y[1]),
    [
      ['a.b', 1],
      ['a.*', 2],
      ['>', 3],
    ],
  );
  assert.equal(trie.has('a.*', 2), true);
  assert.equal(trie.has('a.*', 1), false);
});

test('invalid filters and subjects throw TRIB_SUBJECT_INVALID', () => {
  const trie = new SubjectTrie<number>();
  assert.throws(() => trie.insert('a..b', 1), (e: unknown) => isBrokerError(e, 'TRIB_SUBJECT_INVALID'));
  assert.throws(() => trie.match('a.*'), (e: unknown) => isBrokerError(e, 'TRIB_SUBJECT_INVALID'));
  assert.throws(() => trie.match(''), (e: unknown) => isBrokerError(e, 'TRIB_SUBJECT_INVALID'));
});

test('deep subjects do not overflow the stack', () => {
  const trie = new SubjectTrie<number>({ cacheSize: 0 });
  const deep = Array(1024).fill('*').join('.');
  trie.insert(deep, 1);
  assert.deepEqual(trie.match(Array(1024).fill('a').join('.')), [1]);
});
