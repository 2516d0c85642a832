import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ExchangeRegistry, PREDECLARED_EXCHANGES } from '../../src/core/exchange-registry.js';
import { isBrokerError, type ErrorCode } from '../../src/core/broker-error.js';

const q = (name: string) => ({ kind: 'queue' as const, name });
const x = (name: string) => ({ kind: 'exchange' as const, name });
const code = (c: ErrorCode, mention?: RegExp) => (e: unknown) => isBrokerError(e, c) && (mention === undefined || mention.test(e.message));
const sorted = (s: Set<string>): string[] => [...s].sort();

test('the default exchange and the amq.* exchanges are predeclared', () => {
  const reg = new ExchangeRegistry();
  assert.ok(reg.has(''));
  for (const { name, type } of PREDECLARED_EXCHANGES) {
    assert.equal(reg.require(name).type, type);
    assert.equal(reg.require(name).durable, true);
  }
  assert.deepEqual(sorted(reg.route('', 'orders')), ['orders']);
});

test('declare creates, accepts an equivalent redeclare and refuses a different one like 406 PRECONDITION_FAILED', () => {
  const reg = new ExchangeRegistry();
  assert.equal(reg.declare({ name: 'logs', type: 'fanout', durable: true }).created, true);
  assert.equal(reg.declare({ name: 'logs', type: 'fanout', durable: true, arguments: { other: 1 } }).created, false, 'other arguments are not compared');
  assert.throws(() => reg.declare({ name: 'logs', type: 'direct', durable: true }), code('TRIB_EXCHANGE_EXISTS', /inequivalent arg 'type' for exchange 'logs': received 'direct' but current is 'fanout'/));
  assert.throws(() => reg.declare({ name: 'logs', type: 'fanout' }), code('TRIB_EXCHANGE_EXISTS', /'durable'/));
  assert.throws(() => reg.declare({ name: 'logs', type: 'fanout', durable: true, autoDelete: true }), code('TRIB_EXCHANGE_EXISTS', /'auto_delete'/));
  assert.throws(() => reg.declare({ name: 'logs', type: 'fanout', durable: true, internal: true }), code('TRIB_EXCHANGE_EXISTS', /'internal'/));
  assert.throws(() => reg.declare({ name: 'logs', type: 'fanout', durable: true, arguments: { 'alternate-exchange': 'ae' } }), code('TRIB_EXCHANGE_EXISTS', /'alternate-exchange'/));
  assert.equal(reg.declare({ name: 'amq.topic', type: 'topic', durable: true }).created, false);
  assert.throws(() => reg.declare({ name: 'amq.topic', type: 'topic' }), code('TRIB_EXCHANGE_EXISTS'));
});

test('passive declare only checks existence; reserved names are refused like 403 ACCESS_REFUSED', () => {
  const reg = new ExchangeRegistry();
  assert.throws(() => reg.declare({ name: 'nope', type: 'direct' }, { passive: true }), code('TRIB_EXCHANGE_NOT_FOUND'));
  assert.equal(reg.declare({ name: 'amq.direct', type: 'fanout' }, { passive: true }).exchange.type, 'direct');
  assert.throws(() => reg.declare({ name: 'amq.custom', type: 'direct' }), code('TRIB_EXCHANGE_RESERVED', /reserved prefix/));
  assert.throws(() => reg.declare({ name: '', type: 'direct' }), code('TRIB_EXCHANGE_RESERVED', /default exchange/));
  assert.throws(() => reg.bind('', q('a'), 'a'), code('TRIB_EXCHANGE_RESERVED'));
  assert.throws(() => reg.bind('amq.direct', x(''), 'a'), code('TRIB_EXCHANGE_RESERVED'));
  assert.throws(() => reg.delete(''), code('TRIB_EXCHANGE_RESERVED'));
  assert.throws(() => reg.delete('amq.fanout'), code('TRIB_EXCHANGE_RESERVED'));
});

test('delete is idempotent, honours ifUnused, and removes bindings to the deleted exchange', () => {
  const reg = new ExchangeRegistry();
  reg.declare({ name: 'a', type: 'fanout' });
  reg.declare({ name: 'b', type: 'fanout' });
  reg.bind('a', x('b'));
  reg.bind('b', q('q'));
  assert.throws(() => reg.delete('b', { ifUnused: true }), code('TRIB_EXCHANGE_IN_USE'));
  assert.deepEqual(reg.delete('b'), ['b']);
  assert.equal(reg.require('a').bindingCount, 0);
  assert.deepEqual(reg.delete('b'), []);
  assert.deepEqual(reg.delete('a', { ifUnused: true }), ['a']);
});

test('binding needs existing exchanges', () => {
  const reg = new ExchangeRegistry();
  assert.throws(() => reg.bind('missing', q('q')), code('TRIB_EXCHANGE_NOT_FOUND'));
  assert.throws(() => reg.bind('amq.direct', x('missing')), code('TRIB_EXCHANGE_NOT_FOUND'));
  assert.equal(reg.bind('amq.direct', q('q'), 'k'), true);
  assert.equal(reg.bind('amq.direct', q('q'), 'k'), false);
  assert.deepEqual(reg.unbind('amq.direct', q('q'), 'k'), { removed: true, deleted: [] });
  assert.deepEqual(reg.unbind('amq.direct', q('q'), 'k'), { removed: false, deleted: [] });
});

test('exchange-to-exchange routing follows bindings and survives cycles', () => {
  const reg = new ExchangeRegistry();
  reg.declare({ name: 'x1', type: 'topic' });
  reg.declare({ name: 'x2', type: 'fanout' });
  reg.bind('x1', x('x2'), 'a.#');
  reg.bind('x2', x('x1'));
  reg.bind('x2', q('q2'));
  reg.bind('x1', q('q1'), '#.b');
  reg.bind('x1', x('x1'), '#'); // a self-loop
  assert.deepEqual(sorted(reg.route('x1', 'a.b')), ['q1', 'q2']);
  assert.deepEqual(sorted(reg.route('x1', 'c')), []);
  assert.deepEqual(sorted(reg.route('x2', 'c')), ['q2']);
});

test('routing equals graph reachability for random fanout graphs, cycles included', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.tuple(fc.nat(5), fc.nat(5), fc.boolean()), { maxLength: 20 }),
      fc.nat(5),
      (n, edges, start) => {
        const reg = new ExchangeRegistry();
        for (let i = 0; i < n; i++) reg.declare({ name: `e${i}`, type: 'fanout' });
        const adj = new Map<number, Array<[number, boolean]>>();
        for (const [from, to, toQueue] of edges) {
          if (from >= n || (!toQueue && to >= n)) continue;
          reg.bind(`e${from}`, toQueue ? q(`q${to}`) : x(`e${to}`));
          adj.set(from, [...(adj.get(from) ?? []), [to, toQueue]]);
        }
        if (start >= n) return;
        const want = new Set<string>();
        const seen = new Set<number>([start]);
        const stack = [start];
        while (stack.length > 0) {
          for (const [to, toQueue] of adj.get(stack.pop()!) ?? []) {
            if (toQueue) want.add(`q${to}`);
            else if (!seen.has(to)) {
              seen.add(to);
              stack.push(to);
            }
          }
        }
        assert.deepEqual(sorted(reg.route(`e${start}`, '')), [...want].sort());
      },
    ),
    { numRuns: 500 },
  );
});

test('routeInto appends each routed queue once, in route() order, to a caller array it can reuse', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5 }),
      fc.array(fc.tuple(fc.nat(4), fc.nat(4), fc.boolean()), { maxLength: 16 }),
      fc.array(fc.nat(4), { minLength: 1, maxLength: 6 }),
      (n, edges, starts) => {
        const reg = new ExchangeRegistry();
        for (let i = 0; i < n; i++) reg.declare({ name: `e${i}`, type: 'fanout' });
        for (const [from, to, toQueue] of edges) {
          if (from >= n || (!toQueue && to >= n)) continue;
          reg.bind(`e${from}`, toQueue ? q(`q${to}`) : x(`e${to}`));
        }
        // One array for every publish, as a channel keeps one: emptied by the caller between routes.
        const out: string[] = [];
        for (const start of starts) {
          if (start >= n) continue;
          out.length = 0;
          assert.equal(reg.routeInto(out, `e${start}`, ''), out);
          assert.deepEqual(out, [...reg.route(`e${start}`, '')], `from e${start}`);
          assert.equal(new Set(out).size, out.length, 'no queue twice');
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('a route that throws leaves nothing behind for the next one', () => {
  const reg = new ExchangeRegistry();
  reg.declare({ name: 'inner', type: 'fanout', internal: true });
  reg.bind('inner', q('secret'));
  reg.bind('amq.fanout', q('open'));
  const out: string[] = [];
  assert.throws(() => reg.routeInto(out, 'inner', ''), code('TRIB_EXCHANGE_INTERNAL'));
  assert.deepEqual(out, []);
  assert.deepEqual(reg.routeInto(out, 'amq.fanout', ''), ['open']);
  out.length = 0;
  // The default exchange: the queue its key names (the caller filters by existence), nothing else.
  assert.deepEqual(reg.routeInto(out, '', 'orders'), ['orders']);
});

test('the alternate exchange takes messages the exchange itself cannot route', () => {
  const reg = new ExchangeRegistry();
  reg.declare({ name: 'ae', type: 'fanout' });
  reg.declare({ name: 'main', type: 'direct', arguments: { 'alternate-exchange': 'ae' } });
  reg.bind('main', q('known'), 'k');
  reg.bind('ae', q('unrouted'));
  assert.deepEqual(sorted(reg.route('main', 'k')), ['known']);
  assert.deepEqual(sorted(reg.route('main', 'other')), ['unrouted']);
  // An exchange binding that matched counts as routed, even if it leads nowhere (RabbitMQ's rule).
  reg.declare({ name: 'empty', type: 'fanout' });
  reg.bind('main', x('empty'), 'to-empty');
  assert.deepEqual(sorted(reg.route('main', 'to-empty')), []);
  // Alternate exchanges that point at each other terminate.
  reg.declare({ name: 'p', type: 'direct', arguments: { 'alternate-exchange': 'r' } });
  reg.declare({ name: 'r', type: 'direct', arguments: { 'alternate-exchange': 'p' } });
  assert.deepEqual(sorted(reg.route('p', 'x')), []);
  // A missing alternate exchange is skipped.
  reg.declare({ name: 's', type: 'direct', arguments: { 'alternate-exchange': 'missing' } });
  assert.deepEqual(sorted(reg.route('s', 'x')), []);
});

test('internal exchanges refuse publishers but receive from other exchanges', () => {
  const reg = new ExchangeRegistry();
  reg.declare({ name: 'inner', type: 'fanout', internal: true });
  reg.bind('inner', q('q'));
  reg.bind('amq.fanout', x('inner'));
  assert.throws(() => reg.route('inner', ''), code('TRIB_EXCHANGE_INTERNAL'));
  assert.deepEqual(sorted(reg.route('inner', '', undefined, { allowInternal: true })), ['q']);
  assert.deepEqual(sorted(reg.route('amq.fanout', '')), ['q']);
  assert.throws(() => reg.route('missing', ''), code('TRIB_EXCHANGE_NOT_FOUND'));
});

test('auto-delete exchanges go with their last binding, in cascade', () => {
  const reg = new ExchangeRegistry();
  reg.declare({ name: 'auto', type: 'fanout', autoDelete: true });
  reg.declare({ name: 'outer', type: 'fanout', autoDelete: true });
  assert.ok(reg.has('auto'), 'not deleted merely for having no bindings');
  reg.bind('auto', q('q1'));
  reg.bind('auto', q('q2'));
  reg.bind('outer', x('auto'));
  assert.deepEqual(reg.unbind('auto', q('q1')).deleted, []);
  assert.deepEqual(reg.removeQueue('q2'), ['auto', 'outer']);
  assert.equal(reg.has('auto') || reg.has('outer'), false);
});

test('queueExists filters routed queue names', () => {
  const queues = new Set(['orders']);
  const reg = new ExchangeRegistry({ queueExists: (n) => queues.has(n) });
  assert.deepEqual(sorted(reg.route('', 'orders')), ['orders']);
  assert.deepEqual(sorted(reg.route('', 'ghost')), []);
});

test('definitions restore an equal registry through JSON text', () => {
  const reg = new ExchangeRegistry();
  reg.declare({ name: 'h', type: 'headers', durable: true });
  reg.declare({ name: 'ae', type: 'fanout' });
  reg.declare({ name: 't', type: 'topic', arguments: { 'alternate-exchange': 'ae' } });
  reg.bind('h', q('hq'), '', { 'x-match': 'any', kind: Buffer.from('a'), n: 5n });
  reg.bind('t', x('h'), 'a.*');
  reg.bind('ae', q('dead'));
  reg.bind('amq.topic', q('mqtt'), 'sensors.#');
  const copy = new ExchangeRegistry();
  copy.restore(JSON.parse(JSON.stringify(reg.definitions())));
  assert.deepEqual(copy.definitions(), reg.definitions());
  for (const [ex, key, headers] of [
    ['t', 'a.b', { kind: 'a' }],
    ['t', 'a.b', { n: 5 }],
    ['t', 'z', {}],
    ['amq.topic', 'sensors', {}],
  ] as const) {
    assert.deepEqual(sorted(copy.route(ex, key, headers)), sorted(reg.route(ex, key, headers)));
  }
  assert.deepEqual(sorted(copy.route('t', 'a.b', { n: 5 })), ['hq']);
  assert.deepEqual(sorted(copy.route('t', 'z')), ['dead']);
});

test('tenants: scoped names round-trip, addTenant predeclares amq.* for the tenant, amq. is reserved within it', async () => {
  const { tenantName, splitTenantName, DEFAULT_TENANT } = await import('../../src/core/exchange-registry.js');
  assert.equal(tenantName(DEFAULT_TENANT, 'q'), 'q');
  assert.equal(tenantName('v1', ''), '', 'the default exchange is every tenant’s');
  assert.deepEqual(splitTenantName(tenantName('v1', 'a.b')), { tenant: 'v1', name: 'a.b' });
  assert.deepEqual(splitTenantName('plain'), { tenant: '/', name: 'plain' });
  const r = new ExchangeRegistry();
  assert.equal(r.hasTenant('v1'), false);
  r.addTenant('v1');
  r.addTenant('v1');
  assert.equal(r.hasTenant('v1'), true);
  assert.equal(r.get(tenantName('v1', 'amq.topic'))?.type, 'topic');
  assert.throws(() => r.declare({ name: tenantName('v1', 'amq.mine'), type: 'direct' }), /reserved/);
  assert.throws(() => r.delete(tenantName('v1', 'amq.direct')), /not allowed/);
  r.declare({ name: tenantName('v1', 'x'), type: 'fanout' });
  r.bind(tenantName('v1', 'x'), { kind: 'queue', name: tenantName('v1', 'q') });
  assert.deepEqual([...r.route(tenantName('v1', 'x'), 'k')], [tenantName('v1', 'q')]);
  assert.equal(r.get('x'), undefined, 'the default tenant does not see it');
  assert.throws(() => r.addTenant('bad\u0000name'), /invalid tenant/);
});
