/**
 * Publishes sent back to back, as a client pipelines them (one socket read holds several): a channel with no
 * method still running publishes at once, reusing its routing arrays from one publish to the next, and queues a
 * publish behind a method still in progress. Both must route, confirm and return exactly as one at a time would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from 'amqplib';
import { drainQueue, startAmqp, within } from './harness.js';

test('a burst of publishes to different queue sets puts each message in exactly its own queues', async (t) => {
  const f = await startAmqp(t);
  const conn = await f.client();
  const ch = await conn.createConfirmChannel();
  const returned: string[] = [];
  ch.on('return', (m: Message) => returned.push(m.content.toString()));
  await ch.assertExchange('fan', 'fanout', { durable: false });
  await ch.assertExchange('dir', 'direct', { durable: false });
  for (const q of ['qa', 'qb', 'qc']) await ch.assertQueue(q, { durable: false });
  await ch.bindQueue('qa', 'fan', '');
  await ch.bindQueue('qb', 'fan', '');
  await ch.bindQueue('qc', 'dir', 'k');

  // Sent without waiting in between: a publish to two queues, then one to one queue, one to none (returned),
  // one by the default exchange, and two queues again. A routing array left over from the publish before
  // would add a queue to the next one; a missing reset would drop one.
  const plan: Array<[string, string, string]> = [
    ['fan', '', 'm1'],
    ['dir', 'k', 'm2'],
    ['dir', 'nokey', 'm3'],
    ['', 'qa', 'm4'],
    ['fan', '', 'm5'],
    ['dir', 'k', 'm6'],
    ['', 'missing-queue', 'm7'],
  ];
  const confirms = plan.map(
    ([exchange, key, body]) => new Promise<void>((resolve, reject) => ch.publish(exchange, key, Buffer.from(body), { mandatory: true }, (err) => (err ? reject(err) : resolve()))),
  );
  await within(Promise.all(confirms), 'every publish confirmed');
  assert.deepEqual(await drainQueue(ch, 'qa'), ['m1', 'm4', 'm5']);
  assert.deepEqual(await drainQueue(ch, 'qb'), ['m1', 'm5']);
  assert.deepEqual(await drainQueue(ch, 'qc'), ['m2', 'm6']);
  assert.deepEqual(returned, ['m3', 'm7'], 'unroutable mandatory messages come back, in order');
});

test('a publish sent right behind a queue.declare still in progress waits for it and lands in the new queue', async (t) => {
  const f = await startAmqp(t);
  const conn = await f.client();
  const ch = await conn.createConfirmChannel();
  // Not awaited: the declare and the publishes leave in one write, so the broker reads them together.
  const declared = ch.assertQueue('made-just-now', { durable: true });
  const confirmed = [1, 2, 3].map(
    (i) => new Promise<void>((resolve, reject) => ch.sendToQueue('made-just-now', Buffer.from(`p${i}`), { mandatory: true }, (err) => (err ? reject(err) : resolve()))),
  );
  await within(declared, 'declare-ok');
  await within(Promise.all(confirmed), 'confirms');
  assert.deepEqual(await drainQueue(ch, 'made-just-now'), ['p1', 'p2', 'p3']);
});

test('messages with the same, then different, then the same properties again each arrive with their own', async (t) => {
  const f = await startAmqp(t);
  const conn = await f.client();
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('props', { durable: true });
  const a = { contentType: 'text/a', correlationId: 'c-a', headers: { who: 'a' }, persistent: true };
  const b = { contentType: 'text/b', correlationId: 'c-b', headers: { who: 'b', extra: 7 }, persistent: true, priority: 3 };
  // A header equal to the one before is shared, not decoded again: an equal one must give equal properties, and
  // a different one (other properties, or the same properties with another body size) must not get the last one's.
  const plan: Array<[string, typeof a | typeof b]> = [
    ['a1', a],
    ['a2', a],
    ['b1', b],
    ['a3', a],
    ['a-longer-body', a],
    ['b2', b],
  ];
  const confirms = plan.map(([body, props]) => new Promise<void>((resolve, reject) => ch.sendToQueue('props', Buffer.from(body), props, (err) => (err ? reject(err) : resolve()))));
  await within(Promise.all(confirms), 'confirms');
  for (const [body, props] of plan) {
    const m = await within(ch.get('props', { noAck: true }), 'basic.get');
    assert.ok(m !== false, `got ${body}`);
    assert.equal(m.content.toString(), body);
    assert.equal(m.properties.contentType, props.contentType, body);
    assert.equal(m.properties.correlationId, props.correlationId, body);
    assert.deepEqual(m.properties.headers, props.headers, body);
    assert.equal(m.properties.priority, 'priority' in props ? props.priority : undefined, body);
    assert.equal(m.properties.deliveryMode, 2, body);
  }
  assert.equal(await ch.get('props', { noAck: true }), false, 'nothing else');
});

test('interleaved deliveries to two consumers of one channel each carry their own tag, exchange, routing key and redelivered flag', async (t) => {
  const f = await startAmqp(t);
  const conn = await f.client();
  const pub = await conn.createConfirmChannel();
  const sub = await conn.createChannel();
  await pub.assertExchange('topics', 'topic', { durable: false });
  await pub.assertQueue('left', { durable: false });
  await pub.assertQueue('right', { durable: false });
  await pub.bindQueue('left', 'topics', 'l.*');
  const got: Array<{ tag: string; exchange: string; key: string; redelivered: boolean; body: string }> = [];
  let all!: () => void;
  const allIn = new Promise<void>((resolve) => (all = resolve));
  const record = (m: Message | null): void => {
    if (m === null) return;
    got.push({ tag: m.fields.consumerTag ?? '', exchange: m.fields.exchange, key: m.fields.routingKey, redelivered: m.fields.redelivered, body: m.content.toString() });
    if (got.length === 9) all();
  };
  // One message is delivered, requeued unacked and delivered again (redelivered) before the others.
  await pub.publish('topics', 'l.first', Buffer.from('r'));
  await pub.waitForConfirms();
  const first = await within(sub.get('left'), 'basic.get');
  assert.ok(first !== false);
  sub.nack(first, false, true);
  await sub.consume('left', record, { noAck: true, consumerTag: 'tag-left' });
  await sub.consume('right', record, { noAck: true, consumerTag: 'tag-right' });
  for (let i = 0; i < 4; i++) {
    pub.publish('topics', `l.${i}`, Buffer.from(`L${i}`));
    pub.sendToQueue('right', Buffer.from(`R${i}`));
  }
  await pub.waitForConfirms();
  await within(allIn, 'every message delivered');
  for (const g of got) {
    const left = g.body.startsWith('L') || g.body === 'r';
    assert.equal(g.tag, left ? 'tag-left' : 'tag-right', g.body);
    assert.equal(g.exchange, left ? 'topics' : '', g.body);
    assert.equal(g.key, g.body === 'r' ? 'l.first' : left ? `l.${g.body.slice(1)}` : 'right', g.body);
    assert.equal(g.redelivered, g.body === 'r', g.body);
  }
});

test('confirms of a burst come as basic.ack frames with multiple, and a nack in the middle still reports its own publish', async (t) => {
  const f = await startAmqp(t);
  const conn = await f.client();
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('burst', { durable: true });
  // Holds one message and refuses the next while it is there: publish 101 is nacked, the others are acked.
  await ch.assertQueue('full', { durable: true, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
  const frames: Array<{ kind: string; deliveryTag: number; multiple: boolean }> = [];
  ch.on('ack', (a: { deliveryTag: number; multiple: boolean }) => frames.push({ kind: 'ack', ...a }));
  ch.on('nack', (a: { deliveryTag: number; multiple: boolean }) => frames.push({ kind: 'nack', deliveryTag: a.deliveryTag, multiple: a.multiple }));
  const outcome = (queue: string, body: string): Promise<boolean> =>
    new Promise((resolve) => ch.sendToQueue(queue, Buffer.from(body), { persistent: true }, (err) => resolve(err === null || err === undefined)));
  const results = await within(
    Promise.all([
      ...Array.from({ length: 99 }, (_, i) => outcome('burst', `m${i + 1}`)),
      outcome('full', 'kept'),
      outcome('full', 'refused'),
      ...Array.from({ length: 99 }, (_, i) => outcome('burst', `n${i + 1}`)),
    ]),
    'every publish settled',
  );
  assert.deepEqual(
    results.map((ok, i) => (ok ? null : i + 1)).filter((x) => x !== null),
    [101],
    'only the refused publish is nacked',
  );
  // Each frame covers every earlier unreported tag (multiple) or just its own: walking them in order must
  // report each of 1..200 exactly once, the nack on 101 alone.
  let reported = 0;
  for (const fr of frames) {
    assert.ok(fr.deliveryTag > reported, `frames in order (${JSON.stringify(fr)} after ${reported})`);
    if (!fr.multiple) assert.equal(fr.deliveryTag, reported + 1, 'a single ack or nack is the next tag');
    if (fr.kind === 'nack') assert.equal(fr.deliveryTag, 101);
    reported = fr.deliveryTag;
  }
  assert.equal(reported, 200);
  assert.ok(frames.length < 100, `one frame per settled run, not per publish (${frames.length} frames for 200 publishes)`);
  assert.deepEqual((await drainQueue(ch, 'burst')).length, 198);
});
