import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isBrokerError } from '../../../src/core/broker-error.js';
import { SubjectTrie } from '../../../src/core/router/subject-trie.js';
import { isValidSubject, isValidSubjectFilter, subjectMatchesFilter } from '../../../src/core/router/subject.js';
import { amqpTopicMatches } from '../../../src/core/router/amqp-topic-trie.js';
import {
  amqpPatternToSubjectFilters,
  amqpRoutingKeyToSubject,
  decodeToken,
  encodeToken,
  mqttFilterToSubjectFilters,
  mqttTopicMatches,
  mqttTopicToSubject,
  parseMqttSharedSubscription,
  subjectFilterToMqttFilter,
  subjectToAmqpRoutingKey,
  subjectToMqttTopic,
} from '../../../src/core/router/translate.js';

const invalid = (e: unknown): boolean => isBrokerError(e, 'TRIB_SUBJECT_INVALID');

/** MQTT's matching rules as a regular expression over the topic string: the reference for the translation. */
function mqttReference(filter: string, topic: string): boolean {
  if ((filter.startsWith('+') || filter.startsWith('#')) && topic.startsWith('$')) return false; // [MQTT-4.7.2-1]
  const levels = filter.split('/');
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  let re: string;
  if (levels[levels.length - 1] === '#') {
    const head = levels.slice(0, -1).map((l) => (l === '+' ? '[^/]*' : esc(l)));
    // `a/#` matches `a` and `a/...`; `#` alone matches everything.
    re = head.length === 0 ? '.*' : `${head.join('/')}(/.*)?`;
  } else {
    re = levels.map((l) => (l === '+' ? '[^/]*' : esc(l))).join('/');
  }
  return new RegExp(`^${re}$`, 's').test(topic);
}

// Levels built from characters that exercise every escape and the ambiguous `%` cases.
const levelArb = fc.array(fc.constantFrom('a', 'b', '.', '%', '2', 'E', '5', ' ', '*', '>', '$', 'é', '\t', 'x'), { maxLength: 4 }).map((cs) => cs.join(''));
const topicArb = fc.array(levelArb, { minLength: 1, maxLength: 5 }).map((ls) => ls.join('/')).filter((t) => t.length > 0);
const filterArb = fc
  .tuple(fc.array(fc.oneof({ weight: 3, arbitrary: levelArb }, { weight: 1, arbitrary: fc.constant('+') }), { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([ls, hash]) => (hash ? [...ls, '#'] : ls).join('/'))
  .filter((f) => f.length > 0);

test('MQTT topics translate to valid subjects and back unchanged', () => {
  fc.assert(
    fc.property(topicArb, (topic) => {
      const subject = mqttTopicToSubject(topic);
      assert.ok(isValidSubject(subject), `${JSON.stringify(topic)} -> ${JSON.stringify(subject)}`);
      assert.equal(subjectToMqttTopic(subject), topic);
    }),
    { numRuns: 2000 },
  );
});

test('translated MQTT filters match exactly the topics MQTT would match', () => {
  fc.assert(
    fc.property(filterArb, fc.array(topicArb, { minLength: 1, maxLength: 8 }), (filter, topics) => {
      const filters = mqttFilterToSubjectFilters(filter);
      for (const f of filters) assert.ok(isValidSubjectFilter(f), f);
      const trie = new SubjectTrie<string>();
      for (const f of filters) trie.insert(f, f, { excludeDollar: true });
      for (const topic of topics) {
        const want = mqttReference(filter, topic);
        const got = trie.match(mqttTopicToSubject(topic));
        assert.equal(got.length > 0, want, `${JSON.stringify(filter)} vs ${JSON.stringify(topic)}`);
        assert.ok(got.length <= 1, 'the filters of one MQTT filter are disjoint');
        assert.equal(mqttTopicMatches(filter, topic), want);
      }
    }),
    { numRuns: 1000 },
  );
});

test('the MQTT translation table', () => {
  assert.equal(mqttTopicToSubject('a/b'), 'a.b');
  assert.equal(mqttTopicToSubject('sensors/eu-1/temp'), 'sensors.eu-1.temp');
  assert.equal(mqttTopicToSubject('$SYS/broker'), '$SYS.broker');
  assert.equal(mqttTopicToSubject('a//b'), 'a.%.b');
  assert.equal(mqttTopicToSubject('/a'), '%.a');
  assert.equal(mqttTopicToSubject('a/'), 'a.%');
  assert.equal(mqttTopicToSubject('/'), '%.%');
  assert.equal(mqttTopicToSubject('v1.2/x'), 'v1%2E2.x');
  assert.equal(mqttTopicToSubject('a b/*/>'), 'a%20b.%2A.%3E');
  assert.equal(mqttTopicToSubject('100%'), '100%');
  assert.equal(mqttTopicToSubject('%'), '%25');
  assert.equal(mqttTopicToSubject('%2E'), '%252E');
  assert.deepEqual(mqttFilterToSubjectFilters('a/+/c'), ['a.*.c']);
  assert.deepEqual(mqttFilterToSubjectFilters('a/#'), ['a', 'a.>']);
  assert.deepEqual(mqttFilterToSubjectFilters('+/#'), ['*', '*.>']);
  assert.deepEqual(mqttFilterToSubjectFilters('#'), ['>']);
  assert.deepEqual(mqttFilterToSubjectFilters('/#'), ['%.>']);
  assert.deepEqual(mqttFilterToSubjectFilters('a//+'), ['a.%.*']);
  assert.equal(subjectFilterToMqttFilter('a.*.%.>'), 'a/+//#');
});

test('subjects with no MQTT topic translate to null', () => {
  assert.equal(subjectToMqttTopic('a/b.c'), null);
  assert.equal(subjectToMqttTopic('a.+'), null);
  assert.equal(subjectToMqttTopic('a.#'), null);
  assert.equal(subjectToMqttTopic('a.b%2Fc'), 'a/b%2Fc', 'only the listed codes are escapes');
});

test('plain NATS subjects round-trip through MQTT', () => {
  const tokenArb = fc.array(fc.constantFrom('a', 'b', '$', 'é', '-', '_', ':', '2', 'E'), { minLength: 1, maxLength: 4 }).map((cs) => cs.join(''));
  fc.assert(
    fc.property(fc.array(tokenArb, { minLength: 1, maxLength: 5 }), (tokens) => {
      const subject = tokens.join('.');
      assert.equal(mqttTopicToSubject(subjectToMqttTopic(subject)!), subject);
    }),
  );
});

test('token escaping is reversible for any string and always yields a valid token', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 12 }), (s) => {
      const t = encodeToken(s);
      assert.ok(isValidSubject(t) && !t.includes('.'), JSON.stringify(t));
      assert.equal(decodeToken(t), s);
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.array(fc.constantFrom('%', '2', '5', 'E', 'A', '.', 'x'), { maxLength: 8 }), (cs) => {
      const s = cs.join('');
      assert.equal(decodeToken(encodeToken(s)), s);
    }),
    { numRuns: 2000 },
  );
});

test('invalid MQTT topics and filters are refused', () => {
  for (const t of ['', 'a/+', 'a/#', '#', 'a\u0000b']) assert.throws(() => mqttTopicToSubject(t), invalid, JSON.stringify(t));
  for (const f of ['', 'a/#/b', 'a#', 'a/b+', '#/a', 'a\u0000']) assert.throws(() => mqttFilterToSubjectFilters(f), invalid, JSON.stringify(f));
});

test('MQTT shared subscriptions are split into share name and filter', () => {
  assert.deepEqual(parseMqttSharedSubscription('$share/g1/a/+/c'), { shareName: 'g1', filter: 'a/+/c' });
  assert.equal(parseMqttSharedSubscription('a/b'), null);
  assert.equal(parseMqttSharedSubscription('$SYS/x'), null);
  for (const f of ['$share/', '$share//a', '$share/g', '$share/g/', '$share/g+/a']) assert.throws(() => parseMqttSharedSubscription(f), invalid, f);
});

test('AMQP routing keys map to subjects, empty words escaped like empty MQTT levels', () => {
  assert.equal(amqpRoutingKeyToSubject('a.b'), 'a.b');
  assert.equal(amqpRoutingKeyToSubject('a..b'), 'a.%.b');
  assert.equal(amqpRoutingKeyToSubject('a..b'), mqttTopicToSubject('a//b'));
  assert.equal(amqpRoutingKeyToSubject('a.*'), 'a.%2A');
  assert.equal(amqpRoutingKeyToSubject('log level'), 'log%20level');
  assert.equal(amqpRoutingKeyToSubject(''), null);
  assert.equal(subjectToAmqpRoutingKey('a.%.b'), 'a..b');
  assert.equal(subjectToAmqpRoutingKey('v1%2E2'), null);
  fc.assert(
    fc.property(fc.array(fc.constantFrom('', 'a', '*', '#', ' ', '%', '%2E', 'x%25'), { minLength: 1, maxLength: 5 }), (words) => {
      const key = words.join('.');
      if (key === '') return;
      const subject = amqpRoutingKeyToSubject(key)!;
      assert.ok(isValidSubject(subject), subject);
      assert.equal(subjectToAmqpRoutingKey(subject), key);
    }),
  );
});

test('AMQP patterns become subject filters when a finite set exists', () => {
  assert.deepEqual(amqpPatternToSubjectFilters('a.b'), ['a.b']);
  assert.deepEqual(amqpPatternToSubjectFilters('a.*'), ['a.*']);
  assert.deepEqual(amqpPatternToSubjectFilters('a.#'), ['a', 'a.>']);
  assert.deepEqual(amqpPatternToSubjectFilters('#'), ['>']);
  assert.deepEqual(amqpPatternToSubjectFilters('#.#'), ['>']);
  assert.deepEqual(amqpPatternToSubjectFilters('a.*.#'), ['a.>']);
  assert.deepEqual(amqpPatternToSubjectFilters('a.#.*.*'), ['a.*.>']);
  assert.deepEqual(amqpPatternToSubjectFilters(''), []);
  assert.equal(amqpPatternToSubjectFilters('#.b'), null);
  assert.equal(amqpPatternToSubjectFilters('a.#.c'), null);
});

test('translated AMQP patterns match exactly the keys the pattern matches', () => {
  const word = fc.constantFrom('a', 'b', '');
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom('a', 'b', '', '*', '#'), { maxLength: 5 }),
      fc.array(fc.array(word, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 8 }),
      (patternWords, keys) => {
        const pattern = patternWords.join('.');
        const filters = amqpPatternToSubjectFilters(pattern);
        const hashThenLiteral = patternWords.some((w, i) => w === '#' && patternWords.slice(i).some((x) => x !== '#' && x !== '*'));
        assert.equal(filters === null, hashThenLiteral, pattern);
        if (filters === null) return;
        for (const keyWords of keys) {
          const key = keyWords.join('.');
          const subject = amqpRoutingKeyToSubject(key);
          if (subject === null) continue;
          const got = filters.some((f) => subjectMatchesFilter(f, subject));
          assert.equal(got, amqpTopicMatches(pattern, key), `${JSON.stringify(pattern)} vs ${JSON.stringify(key)}`);
        }
      },
    ),
    { numRuns: 1000 },
  );
});
