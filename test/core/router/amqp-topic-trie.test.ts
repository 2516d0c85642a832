import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AmqpTopicTrie, amqpTopicMatches } from '../../../src/core/router/amqp-topic-trie.js';

/**
 * Reference: the pattern as a regular expression over the key with a '.' before every word ('' has zero words,
 * 'a.' is ['a', '']), `*` = one word (possibly empty), `#` = zero or more words.
 */
function regexMatch(pattern: string, key: string): boolean {
  const words = (s: string): string[] => (s === '' ? [] : s.split('.'));
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = words(pattern)
    .map((w) => (w === '*' ? '\\.[^.]*' : w === '#' ? '(?:\\.[^.]*)*' : `\\.${esc(w)}`))
    .join('');
  const subject = words(key)
    .map((w) => `.${w}`)
    .join('');
  return new RegExp(`^${re}$`).test(subject);
}

const patternWord = fc.constantFrom('a', 'b', '', '*', '#', 'a*', '%');
const keyWord = fc.constantFrom('a', 'b', '', 'a*', '%', '*', '#');
const patternArb = fc.array(patternWord, { maxLength: 6 }).map((w) => w.join('.'));
const keyArb = fc.array(keyWord, { maxLength: 6 }).map((w) => w.join('.'));

test('RabbitMQ topic semantics on known cases', () => {
  const cases: Array<[string, string, boolean]> = [
    ['a.#', 'a', true],
    ['a.#', 'a.b.c', true],
    ['a.#', 'b', false],
    ['#.b', 'b', true],
    ['#.b', 'x.y.b', true],
    ['#.b', 'x.b.y', false],
    ['a.*', 'a', false],
    ['a.*', 'a.b', true],
    ['a.*', 'a.', true],
    ['*', '', false],
    ['#', '', true],
    ['', '', true],
    ['', 'a', false],
    ['a.#.b', 'a.b', true],
    ['a.#.b', 'a.x.y.b', true],
    ['*.#.*', 'a', false],
    ['*.#.*', 'a.b', true],
    ['a*', 'ab', false],
    ['a*', 'a*', true],
    ['#.#', 'a.b', true],
  ];
  for (const [p, k, want] of cases) {
    assert.equal(amqpTopicMatches(p, k), want, `${p} vs ${k}`);
    assert.equal(regexMatch(p, k), want, `reference ${p} vs ${k}`);
    const trie = new AmqpTopicTrie<string>();
    trie.insert(p, 'x');
    assert.equal(trie.match(k).length === 1, want, `trie ${p} vs ${k}`);
  }
});

test('the trie and the single matcher equal the regex reference', () => {
  fc.assert(
    fc.property(fc.array(patternArb, { minLength: 1, maxLength: 12 }), fc.array(keyArb, { minLength: 1, maxLength: 12 }), fc.integer({ min: 0, max: 3 }), (patterns, keys, cacheSize) => {
      const trie = new AmqpTopicTrie<number>({ cacheSize });
      patterns.forEach((p, i) => trie.insert(p, i));
      // Remove every third binding again, so pruning is covered.
      patterns.forEach((p, i) => {
        if (i % 3 === 2) assert.equal(trie.remove(p, i), true);
      });
      for (const k of keys) {
        const want = patterns.map((p, i) => (i % 3 !== 2 && regexMatch(p, k) ? i : -1)).filter((i) => i >= 0);
        assert.deepEqual([...trie.match(k)].sort((a, b) => a - b), want, `key ${JSON.stringify(k)}`);
        assert.deepEqual([...trie.match(k)].sort((a, b) => a - b), want);
        for (const p of patterns) assert.equal(amqpTopicMatches(p, k), regexMatch(p, k));
      }
    }),
    { numRuns: 500 },
  );
});

test('hostile patterns match in linear time', () => {
  const trie = new AmqpTopicTrie<number>({ cacheSize: 0 });
  const pattern = Array(30).fill('#.a').join('.') + '.b';
  trie.insert(pattern, 1);
  const key = Array(200).fill('a').join('.');
  const start = process.hrtime.bigint();
  assert.deepEqual(trie.match(key), []);
  assert.deepEqual(trie.match(`${key}.b`), [1]);
  assert.ok(Number(process.hrtime.bigint() - start) / 1e6 < 500);
});

test('a pair is stored once and results are cleared on change', () => {
  const trie = new AmqpTopicTrie<string>();
  assert.equal(trie.insert('a.#.#', 'v'), true);
  assert.equal(trie.insert('a.#', 'v'), false, 'runs of # collapse');
  assert.deepEqual(trie.match('a.b'), ['v']);
  trie.insert('*.b', 'w');
  assert.deepEqual([...trie.match('a.b')].sort(), ['v', 'w']);
  assert.equal(trie.remove('a.#', 'v'), true);
  assert.equal(trie.remove('a.#', 'v'), false);
  assert.deepEqual(trie.match('a.b'), ['w']);
  assert.equal(trie.size, 1);
});
