import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Exchange, decodeFieldValue, encodeFieldValue, fieldValuesEqual, type FieldTable, type RouteResult } from '../../src/core/exchange.js';
import { isBrokerError } from '../../src/core/broker-error.js';

const q = (name: string) => ({ kind: 'queue' as const, name });
const x = (name: string) => ({ kind: 'exchange' as const, name });

function routed(r: RouteResult): { queues: string[]; exchanges: string[] } {
  return { queues: [...r.queues].sort(), exchanges: [...r.exchanges].sort() };
}

test('direct routes on equal routing keys and ignores arguments', () => {
  const ex = new Exchange({ name: 'd', type: 'direct' });
  ex.bind(q('q1'), 'k');
  ex.bind(q('q2'), 'k');
  ex.bind(q('q3'), 'other');
  ex.bind(x('e2'), 'k');
  assert.deepEqual(routed(ex.route('k')), { queues: ['q1', 'q2'], exchanges: ['e2'] });
  assert.deepEqual(routed(ex.route('K')), { queues: [], exchanges: [] });
});

test('fanout routes to every binding', () => {
  const ex = new Exchange({ name: 'f', type: 'fanout' });
  ex.bind(q('q1'), 'ignored');
  ex.bind(q('q2'));
  assert.deepEqual(routed(ex.route('anything')).queues, ['q1', 'q2']);
  ex.unbind(q('q1'), 'ignored');
  assert.deepEqual(routed(ex.route('')).queues, ['q2']);
});

test('topic routes with AMQP patterns, # matching zero words', () => {
  const ex = new Exchange({ name: 't', type: 'topic' });
  ex.bind(q('all-a'), 'a.#');
  ex.bind(q('ends-b'), '#.b');
  ex.bind(q('two'), '*.*');
  ex.bind(q('exact'), 'a.b');
  assert.deepEqual(routed(ex.route('a')).queues, ['all-a']);
  assert.deepEqual(routed(ex.route('a.b')).queues, ['all-a', 'ends-b', 'exact', 'two']);
  assert.deepEqual(routed(ex.route('x.y.b')).queues, ['ends-b']);
  assert.deepEqual(routed(ex.route('b')).queues, ['ends-b']);
  ex.unbind(q('all-a'), 'a.#');
  assert.deepEqual(routed(ex.route('a')).queues, []);
});

test('binding twice is one binding; unbind needs the same arguments', () => {
  const ex = new Exchange({ name: 'h', type: 'headers' });
  assert.equal(ex.bind(q('q1'), '', { 'x-match': 'any', a: 1, b: 2 }), true);
  assert.equal(ex.bind(q('q1'), '', { b: 2, a: 1, 'x-match': 'any' }), false, 'key order does not matter');
  assert.equal(ex.bindingCount, 1);
  assert.equal(ex.unbind(q('q1'), '', { 'x-match': 'any', a: 1 }), false);
  assert.equal(ex.unbind(q('q1'), '', { 'x-match': 'any', a: 1, b: 2 }), true);
  assert.equal(ex.bindingCount, 0);
});

function headersRoute(args: FieldTable, headers: FieldTable | undefined): boolean {
  const ex = new Exchange({ name: 'h', type: 'headers' });
  ex.bind(q('q'), '', args);
  return ex.route('', headers).queues.has('q');
}

test('headers x-match all and any, as RabbitMQ', () => {
  assert.equal(headersRoute({ 'x-match': 'all', a: 1, b: 'x' }, { a: 1, b: 'x', c: 2 }), true);
  assert.equal(headersRoute({ 'x-match': 'all', a: 1, b: 'x' }, { a: 1 }), false);
  assert.equal(headersRoute({ a: 1, b: 'x' }, { a: 1 }), false, 'all is the default');
  assert.equal(headersRoute({ 'x-match': 'any', a: 1, b: 2 }, { a: 1 }), true);
  assert.equal(headersRoute({ 'x-match': 'any', a: 1, b: 2 }, { b: 3 }), false);
  assert.equal(headersRoute({ 'x-match': 'any', a: 1 }, undefined), false);
  assert.equal(headersRoute({ 'x-match': 'all' }, {}), true, 'all with no arguments matches everything');
  assert.equal(headersRoute({ 'x-match': 'any' }, { a: 1 }), false, 'any with no arguments matches nothing');
});

test('headers: a void argument matches on presence; values compare like Erlang ==', () => {
  assert.equal(headersRoute({ a: null }, { a: 'anything' }), true);
  assert.equal(headersRoute({ a: null }, {}), false);
  assert.equal(headersRoute({ a: 1 }, { a: 1n }), true);
  assert.equal(headersRoute({ a: 1 }, { a: 1.0 }), true);
  assert.equal(headersRoute({ a: 1 }, { a: '1' }), false);
  assert.equal(headersRoute({ a: 'abc' }, { a: Buffer.from('abc') }), true);
  assert.equal(headersRoute({ a: true }, { a: 1 }), false);
  assert.equal(headersRoute({ a: { n: [1, 'x'] } }, { a: { n: [1n, Buffer.from('x')] } }), true);
});

test('headers: x- arguments are ignored by all/any and used by all-with-x/any-with-x', () => {
  assert.equal(headersRoute({ 'x-match': 'all', 'x-tag': 1 }, {}), true);
  assert.equal(headersRoute({ 'x-match': 'all-with-x', 'x-tag': 1 }, {}), false);
  assert.equal(headersRoute({ 'x-match': 'all-with-x', 'x-tag': 1 }, { 'x-tag': 1 }), true);
  assert.equal(headersRoute({ 'x-match': 'any', 'x-tag': 1, a: 2 }, { 'x-tag': 1 }), false);
  assert.equal(headersRoute({ 'x-match': 'any-with-x', 'x-tag': 1, a: 2 }, { 'x-tag': 1 }), true);
  assert.equal(headersRoute({ 'x-match': Buffer.from('any'), a: 2 }, { a: 2 }), true, 'x-match may arrive as bytes');
});

test('headers matching equals a reference for random tables', () => {
  const key = fc.constantFrom('a', 'b', 'x-c');
  const val = fc.constantFrom(1, 2, 'v', null);
  fc.assert(
    fc.property(fc.constantFrom('all', 'any', 'all-with-x', 'any-with-x'), fc.dictionary(key, val), fc.dictionary(key, fc.constantFrom(1, 2, 'v', null)), (mode, args, headers) => {
      const withX = mode.endsWith('-with-x');
      const pairs = Object.entries(args).filter(([k]) => withX || !k.startsWith('x-'));
      const ok = ([k, v]: [string, unknown]): boolean => k in headers && (v === null || headers[k] === v);
      const want = mode.startsWith('all') ? pairs.every(ok) : pairs.some(ok);
      assert.equal(headersRoute({ ...args, 'x-match': mode }, headers), want);
    }),
  );
});

test('an invalid x-match is TRIB_INVALID_CONFIG and leaves the exchange unchanged', () => {
  const ex = new Exchange({ name: 'h', type: 'headers' });
  assert.throws(() => ex.bind(q('q'), '', { 'x-match': 'some' }), (e: unknown) => isBrokerError(e, 'TRIB_INVALID_CONFIG') && /x-match/.test(e.message));
  assert.equal(ex.bindingCount, 0);
});

test('the default exchange routes by queue name and cannot be bound', () => {
  const ex = new Exchange({ name: '', type: 'direct' });
  assert.deepEqual(routed(ex.route('orders')).queues, ['orders']);
  assert.throws(() => ex.bind(q('orders'), 'orders'), (e: unknown) => isBrokerError(e, 'TRIB_EXCHANGE_RESERVED'));
  assert.throws(() => ex.unbind(q('orders'), 'orders'), (e: unknown) => isBrokerError(e, 'TRIB_EXCHANGE_RESERVED'));
});

test('unknown types and bad alternate-exchange arguments are refused', () => {
  assert.throws(() => new Exchange({ name: 'x', type: 'x-delayed' as never }), (e: unknown) => isBrokerError(e, 'TRIB_INVALID_CONFIG'));
  assert.throws(() => new Exchange({ name: 'x', type: 'direct', arguments: { 'alternate-exchange': 5 } }), (e: unknown) => isBrokerError(e, 'TRIB_INVALID_CONFIG'));
  assert.throws(() => new Exchange({ name: 'x'.repeat(256), type: 'direct' }), (e: unknown) => isBrokerError(e, 'TRIB_INVALID_NAME'));
});

test('toJSON/fromJSON round-trips through JSON text, tagged values included', () => {
  const ex = new Exchange({ name: 'h', type: 'headers', durable: true, autoDelete: true, internal: true, arguments: { 'alternate-exchange': 'ae' } });
  const args = { 'x-match': 'all', bytes: Buffer.from([0, 255]), big: 2n ** 70n, nested: { t: [1, 'two', null] }, when: new Date(1000), flag: false };
  ex.bind(q('q1'), 'rk', args);
  ex.bind(x('e2'), '', { 'x-match': 'any', a: 1 });
  const copy = Exchange.fromJSON(JSON.parse(JSON.stringify(ex.toJSON())));
  assert.deepEqual(copy.toJSON(), ex.toJSON());
  assert.equal(copy.durable && copy.autoDelete && copy.internal, true);
  assert.equal(copy.alternateExchange, 'ae');
  assert.equal(copy.hasBinding(q('q1'), 'rk', args), true);
  assert.deepEqual(routed(copy.route('', { ...args, a: 1 })), routed(ex.route('', { ...args, a: 1 })));
  assert.equal(copy.route('', { ...args }).queues.has('q1'), true);
});

test('field values survive the JSON encoding', () => {
  const value: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.boolean(),
      fc.string(),
      // NaN is not equal to itself under Erlang `==` (fieldValuesEqual), so it is checked on its own below.
      fc.double({ noNaN: true }),
      fc.bigInt(),
      fc.uint8Array().map((u) => Buffer.from(u)),
      fc.array(tie('v'), { maxLength: 3 }),
      fc.dictionary(fc.string(), tie('v'), { maxKeys: 3 }),
    ),
  })).v;
  fc.assert(
    fc.property(value, (v) => {
      const back = decodeFieldValue(JSON.parse(JSON.stringify(encodeFieldValue(v))));
      assert.ok(fieldValuesEqual(back, v));
    }),
  );
  const nan = decodeFieldValue(JSON.parse(JSON.stringify(encodeFieldValue({ top: NaN, list: [NaN] })))) as { top: number; list: number[] };
  assert.ok(Number.isNaN(nan.top) && Number.isNaN(nan.list[0]));
});
