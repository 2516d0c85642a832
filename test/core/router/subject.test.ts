import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isBrokerError } from '../../../src/core/broker-error.js';
import {
  MAX_SUBJECT_LENGTH,
  MAX_SUBJECT_TOKENS,
  isDollarSubject,
  isLiteralFilter,
  isValidSubject,
  isValidSubjectFilter,
  startsWithWildcard,
  subjectMatchesFilter,
  tokenizeSubject,
  tokenizeSubjectFilter,
  validateSubject,
} from '../../../src/core/router/subject.js';

test('valid subjects are tokenised on dots', () => {
  assert.deepEqual(tokenizeSubject('a'), ['a']);
  assert.deepEqual(tokenizeSubject('orders.eu.created'), ['orders', 'eu', 'created']);
  assert.deepEqual(tokenizeSubject('$SYS.broker'), ['$SYS', 'broker']);
  assert.deepEqual(tokenizeSubject('a-b_c:d/e+f#g%h'), ['a-b_c:d/e+f#g%h']);
  assert.deepEqual(tokenizeSubject('ünï.cödé'), ['ünï', 'cödé']);
});

test('empty tokens, whitespace and NUL make a subject invalid, as in NATS', () => {
  for (const s of ['', '.', 'a.', '.a', 'a..b', 'a b', 'a\tb', 'a\nb', 'a\rb', 'a\fb', 'a\vb', 'a\u0000b', ' a']) {
    assert.equal(isValidSubject(s), false, JSON.stringify(s));
    assert.equal(isValidSubjectFilter(s), false, JSON.stringify(s));
  }
});

test('wildcards are allowed in filters only, as whole tokens, and > only last', () => {
  for (const f of ['*', '>', 'a.*', 'a.>', '*.b.>', '*.*', 'a.*.c']) {
    assert.equal(isValidSubjectFilter(f), true, f);
    assert.equal(isValidSubject(f), false, f);
  }
  for (const f of ['>.a', 'a.>.b', '>.>', 'a*', '*a', 'a.b>', 'a.>b', 'a.**']) assert.equal(isValidSubjectFilter(f), false, f);
  assert.deepEqual(tokenizeSubjectFilter('a.*.>'), ['a', '*', '>']);
});

test('subjects are bounded in length and token count', () => {
  assert.equal(isValidSubject('a'.repeat(MAX_SUBJECT_LENGTH)), true);
  assert.equal(isValidSubject('a'.repeat(MAX_SUBJECT_LENGTH + 1)), false);
  assert.equal(isValidSubject(Array(MAX_SUBJECT_TOKENS).fill('a').join('.')), true);
  assert.equal(isValidSubject(Array(MAX_SUBJECT_TOKENS + 1).fill('a').join('.')), false);
});

test('an invalid subject throws TRIB_SUBJECT_INVALID naming the subject and the rule', () => {
  assert.throws(
    () => validateSubject('a..b'),
    (err: unknown) => isBrokerError(err, 'TRIB_SUBJECT_INVALID') && /'a\.\.b'/.test(err.message) && /empty token/.test(err.message),
  );
  assert.throws(() => validateSubject('a.*'), (err: unknown) => isBrokerError(err, 'TRIB_SUBJECT_INVALID') && /wildcard/.test(err.message));
});

test('literal filters, $ subjects and wildcard-first filters are recognised', () => {
  assert.equal(isLiteralFilter('a.b'), true);
  assert.equal(isLiteralFilter('a.*'), false);
  assert.equal(isLiteralFilter('a.*.c'), false);
  assert.equal(isLiteralFilter('*'), false);
  assert.equal(isLiteralFilter('a.>'), false);
  assert.equal(isDollarSubject('$SYS.x'), true);
  assert.equal(isDollarSubject('x.$SYS'), false);
  assert.equal(startsWithWildcard('*.a'), true);
  assert.equal(startsWithWildcard('>'), true);
  assert.equal(startsWithWildcard('a.*'), false);
});

test('subjectMatchesFilter follows NATS semantics, with the $ rule on request', () => {
  assert.equal(subjectMatchesFilter('a.*', 'a.b'), true);
  assert.equal(subjectMatchesFilter('a.*', 'a.b.c'), false);
  assert.equal(subjectMatchesFilter('a.>', 'a'), false);
  assert.equal(subjectMatchesFilter('a.>', 'a.b.c'), true);
  assert.equal(subjectMatchesFilter('>', '$SYS.x'), true);
  assert.equal(subjectMatchesFilter('>', '$SYS.x', { excludeDollar: true }), false);
  assert.equal(subjectMatchesFilter('$SYS.>', '$SYS.x', { excludeDollar: true }), true);
});
