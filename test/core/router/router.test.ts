import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router, type Subscription } from '../../../src/core/router/router.js';
import { mqttFilterToSubjectFilters, mqttTopicToSubject } from '../../../src/core/router/translate.js';
import { isBrokerError } from '../../../src/core/broker-error.js';
import type { Message } from '../../../src/core/message.js';

function msg(subject: string, origin?: object): Message {
  return { subject, key: null, value: Buffer.from('v'), headers: [], timestamp: 0, origin };
}

/** A deterministic random source cycling through the given values. */
function cycle(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

test('a message reaches every matching subscription once and its count is returned', () => {
  const router = new Router();
  const got: string[] = [];
  router.subscribe('a.b', () => got.push('exact'));
  router.subscribe('a.*', () => got.push('star'));
  router.subscribe('a.>', () => got.push('full'));
  router.subscribe('b.>', () => got.push('other'));
  assert.equal(router.publish(msg('a.b')), 3);
  assert.deepEqual(got.sort(), ['exact', 'full', 'star']);
  assert.equal(router.publish(msg('c')), 0);
  assert.equal(router.stats().unrouted, 1);
});

test('a subscription with several matching filters gets one copy', () => {
  const router = new Router();
  let n = 0;
  router.subscribe(['a.*', 'a.>'], () => n++);
  assert.equal(router.publish(msg('a.b')), 1);
  assert.equal(n, 1);
});

test('MQTT a/# receives a and a/b through its two filters, and not $ topics through #', () => {
  const router = new Router();
  const got: string[] = [];
  router.subscribe(mqttFilterToSubjectFilters('a/#'), (m) => got.push(m.subject), { excludeDollar: true });
  router.subscribe(mqttFilterToSubjectFilters('#'), (m) => got.push(`all:${m.subject}`), { excludeDollar: true });
  router.subscribe('>', (m) => got.push(`nats:${m.subject}`));
  router.publish(msg(mqttTopicToSubject('a')));
  router.publish(msg(mqttTopicToSubject('a/b/c')));
  router.publish(msg(mqttTopicToSubject('$SYS/x')));
  assert.deepEqual(got.sort(), ['a', 'all:a', 'nats:a', 'a.b.c', 'all:a.b.c', 'nats:a.b.c', 'nats:$SYS.x'].sort());
});

test('unsubscribe stops delivery and is idempotent', () => {
  const router = new Router();
  let n = 0;
  const sub = router.subscribe('a', () => n++);
  router.publish(msg('a'));
  assert.equal(sub.unsubscribe(), true);
  assert.equal(sub.unsubscribe(), false);
  assert.equal(sub.closed, true);
  router.publish(msg('a'));
  assert.equal(n, 1);
  assert.equal(router.stats().subscriptions, 0);
  assert.equal(router.hasInterest('a'), false);
});

test('a throwing handler does not stop delivery to the others; it is counted and logged once', () => {
  const warnings: string[] = [];
  const router = new Router({ logger: { warn: (_o, m) => warnings.push(m) } });
  const got: string[] = [];
  router.subscribe('a', () => {
    throw new Error('boom');
  });
  router.subscribe('a', () => got.push('ok'));
  assert.equal(router.publish(msg('a')), 1);
  assert.equal(router.publish(msg('a')), 1);
  assert.deepEqual(got, ['ok', 'ok']);
  assert.equal(router.stats().handlerErrors, 2);
  assert.equal(warnings.length, 1);
});

test('a queue group delivers each message to exactly one member, chosen at random', () => {
  const router = new Router({ random: cycle(0.9, 0.1, 0.5, 0.0, 0.99) });
  const counts = new Map<string, number>();
  for (const name of ['q1', 'q2', 'q3']) router.subscribe('work.*', () => counts.set(name, (counts.get(name) ?? 0) + 1), { queueGroup: 'workers' });
  let plain = 0;
  router.subscribe('work.>', () => plain++);
  for (let i = 0; i < 300; i++) assert.equal(router.publish(msg(`work.${i % 7}`)), 2);
  assert.equal([...counts.values()].reduce((a, b) => a + b, 0), 300);
  assert.equal(plain, 300);
  assert.equal(counts.size, 3, 'every member got some');
  assert.equal(router.stats().queueGroups, 1);
});

test('members with different filters in one group are one group; different names are separate groups', () => {
  const router = new Router();
  let a = 0;
  let b = 0;
  let other = 0;
  router.subscribe('x.*', () => a++, { queueGroup: 'g' });
  router.subscribe('x.>', () => b++, { queueGroup: 'g' });
  router.subscribe('x.>', () => other++, { queueGroup: 'h' });
  for (let i = 0; i < 50; i++) assert.equal(router.publish(msg('x.y')), 2);
  assert.equal(a + b, 50);
  assert.equal(other, 50);
});

test('noLocal suppresses a connection\'s own messages, also when picking a queue member', () => {
  const router = new Router({ random: () => 0.999 });
  const conn = {};
  const got: string[] = [];
  router.subscribe('a', () => got.push('self'), { noLocal: true, origin: conn });
  router.subscribe('a', () => got.push('echo'), { origin: conn });
  router.subscribe('a', () => got.push('self-q'), { noLocal: true, origin: conn, queueGroup: 'g' });
  router.subscribe('a', () => got.push('other-q'), { queueGroup: 'g' });
  router.publish(msg('a', conn));
  assert.deepEqual(got.sort(), ['echo', 'other-q']);
  got.length = 0;
  router.publish(msg('a', {}));
  assert.equal(got.length, 3);
});

test('captures get every matching message once per target, and failures are isolated', () => {
  const router = new Router();
  const stored: string[] = [];
  const stream = { capture: (m: Message) => void stored.push(m.subject) };
  const broken = {
    capture: () => {
      throw new Error('full');
    },
  };
  router.addCapture('a.b', stream);
  router.addCapture('a.>', stream);
  router.addCapture('a.>', stream); // idempotent
  router.addCapture('>', broken);
  let live = 0;
  router.subscribe('a.b', () => live++);
  assert.equal(router.publish(msg('a.b')), 1);
  assert.deepEqual(stored, ['a.b']);
  assert.equal(live, 1);
  assert.equal(router.stats().captureErrors, 1);
  assert.deepEqual(router.captureFilters(stream).sort(), ['a.>', 'a.b']);
  assert.equal(router.removeCapture('a.b', stream), true);
  assert.equal(router.removeCapture('a.b', stream), false);
  router.publish(msg('a.c'));
  assert.deepEqual(stored, ['a.b', 'a.c']);
  assert.equal(router.removeCaptures(stream), 1);
  router.publish(msg('a.d'));
  assert.deepEqual(stored, ['a.b', 'a.c']);
});

test('hasInterest counts subscriptions and captures; hasSubscribers only subscriptions', () => {
  const router = new Router();
  router.addCapture('orders.>', { capture: () => undefined });
  router.subscribe('_INBOX.abc.*', () => undefined);
  assert.equal(router.hasInterest('orders.new'), true);
  assert.equal(router.hasSubscribers('orders.new'), false);
  assert.equal(router.hasInterest('_INBOX.abc.1'), true);
  assert.equal(router.hasInterest('nobody.home'), false);
});

test('handlers may unsubscribe, subscribe and publish while a message fans out', () => {
  const router = new Router();
  const got: string[] = [];
  let second: Subscription | undefined;
  router.subscribe('a', (m) => {
    got.push(`first:${m.subject}`);
    second?.unsubscribe();
    router.publish(msg('b'));
  });
  second = router.subscribe('a', () => got.push('second'));
  router.subscribe('b', () => got.push('b'), { queueGroup: 'g' });
  router.subscribe('a', () => {
    router.publish(msg('b'));
  }, { queueGroup: 'g2' });
  router.publish(msg('a'));
  assert.ok(!got.includes('second'), 'a subscription ended mid fan-out gets nothing more');
  assert.equal(got.filter((g) => g === 'b').length, 2);
});

test('invalid subjects and filters are refused with TRIB_SUBJECT_INVALID', () => {
  const router = new Router();
  assert.throws(() => router.subscribe('a..b', () => undefined), (e: unknown) => isBrokerError(e, 'TRIB_SUBJECT_INVALID'));
  assert.throws(() => router.subscribe([], () => undefined), (e: unknown) => isBrokerError(e, 'TRIB_SUBJECT_INVALID'));
  assert.throws(() => router.publish(msg('a.*')), (e: unknown) => isBrokerError(e, 'TRIB_SUBJECT_INVALID'));
  assert.throws(() => router.addCapture('>.a', { capture: () => undefined }), (e: unknown) => isBrokerError(e, 'TRIB_SUBJECT_INVALID'));
  assert.equal(router.stats().subscriptions, 0);
});

test('stats count traffic and the cache', () => {
  const router = new Router();
  router.subscribe('a', () => undefined, { queueGroup: 'g' });
  router.subscribe('a', () => undefined);
  for (let i = 0; i < 10; i++) router.publish(msg('a'));
  const s = router.stats();
  assert.equal(s.subscriptions, 2);
  assert.equal(s.queueSubscriptions, 1);
  assert.equal(s.published, 10);
  assert.equal(s.delivered, 20);
  assert.ok(s.cacheHits >= 18);
});

test('a publisher can collect what the capture targets returned, to await durable appends', async () => {
  const router = new Router();
  router.addCapture('a.>', { capture: (m: Message) => Promise.resolve(`stored ${m.subject}`) });
  router.addCapture('a.b', {
    capture: () => {
      throw new Error('closed');
    },
  });
  const results: unknown[] = [];
  assert.equal(router.publish(msg('a.b'), results), 0);
  assert.deepEqual(await Promise.all(results), ['stored a.b']);
});
