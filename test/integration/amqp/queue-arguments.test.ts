/**
 * Queue arguments with amqplib (RabbitMQ semantics): dead-letter exchanges with x-death on reject, expiry and
 * overflow; x-message-ttl and per-message expiration; x-max-length with drop-head, reject-publish and
 * reject-publish-dlx; x-max-priority; x-single-active-consumer; x-queue-type; argument equivalence.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, GetMessage } from 'amqplib';
import { collector, startAmqp, within } from './harness.js';

type Death = { count: number; reason: string; queue: string; time: unknown; exchange: string; 'routing-keys': string[]; 'original-expiration'?: string };

function deaths(m: ConsumeMessage | GetMessage): Death[] {
  const d = m.properties.headers?.['x-death'] as Death[] | undefined;
  assert.ok(Array.isArray(d), 'x-death is an array');
  return d;
}

/** Publishes on a confirm channel and resolves true (ack) or false (nack). */
function publishConfirmed(ch: ConfirmChannel, exchange: string, key: string, body: string, options: object = {}): Promise<boolean> {
  return within(new Promise<boolean>((resolve) => ch.publish(exchange, key, Buffer.from(body), options, (err) => resolve(err === null || err === undefined))), 'a confirm');
}

async function expectChannelError(conn: ChannelModel, fn: (ch: Channel) => Promise<unknown>, code: RegExp): Promise<void> {
  const ch = await conn.createChannel();
  ch.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => ch.once('close', () => resolve()));
  const err = await fn(ch).then(() => null, (e: Error) => e);
  await within(closed, 'the channel to close');
  assert.match(String(err), code);
}

test('reject and nack without requeue dead-letter through the DLX with x-death as RabbitMQ builds it; counts grow per queue and reason', async (t) => {
  const f = await startAmqp(t);
  const ch = await (await f.client()).createChannel();
  await ch.assertExchange('dlx', 'direct', { durable: false });
  await ch.assertQueue('work', { arguments: { 'x-dead-letter-exchange': 'dlx', 'x-dead-letter-routing-key': 'dead' } });
  // The dead-letter queue sends its own rejects back to 'work' through the default exchange.
  await ch.assertQueue('parking', { arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'work' } });
  await ch.bindQueue('parking', 'dlx', 'dead');
  ch.sendToQueue('work', Buffer.from('m1'), { headers: { app: 'x' }, correlationId: 'c1' });

  let tag = '';
  const first = await within(new Promise<ConsumeMessage>((resolve) => void ch.consume('work', (m) => m && resolve(m)).then((ok) => (tag = ok.consumerTag))), 'a delivery from work');
  ch.nack(first, false, false);
  await ch.cancel(tag);
  let parked = await within(getOne(ch, 'parking'), 'the dead-lettered message');
  assert.equal(parked.content.toString(), 'm1');
  assert.equal(parked.fields.exchange, 'dlx');
  assert.equal(parked.fields.routingKey, 'dead');
  assert.equal(parked.properties.correlationId, 'c1');
  assert.equal(parked.properties.headers?.app, 'x');
  let d = deaths(parked);
  assert.equal(d.length, 1);
  assert.deepEqual({ ...d[0], time: undefined }, { count: 1, reason: 'rejected', queue: 'work', time: undefined, exchange: '', 'routing-keys': ['work'] });
  // amqplib decodes an AMQP timestamp ('T') as { '!': 'timestamp', value: seconds }.
  const time = d[0].time as { '!': string; value: number };
  assert.equal(time['!'], 'timestamp');
  assert.ok(Math.abs(time.value - Date.now() / 1000) < 60);
  assert.equal(parked.properties.headers?.['x-first-death-reason'], 'rejected');
  assert.equal(parked.properties.headers?.['x-first-death-queue'], 'work');
  assert.equal(parked.properties.headers?.['x-first-death-exchange'], '');

  // basic.reject from 'parking' sends it back to 'work'; a second reject there raises work's count.
  ch.reject(parked, false);
  const again = await within(getOne(ch, 'work'), 'the message back in work');
  d = deaths(again);
  assert.deepEqual(d.map((x) => [x.queue, x.reason, x.count]), [['parking', 'rejected', 1], ['work', 'rejected', 1]]);
  ch.reject(again, false);
  parked = await within(getOne(ch, 'parking'), 'the second dead-lettering');
  d = deaths(parked);
  assert.deepEqual(d.map((x) => [x.queue, x.reason, x.count]), [['work', 'rejected', 2], ['parking', 'rejected', 1]]);
  assert.equal(parked.properties.headers?.['x-first-death-queue'], 'work');
  assert.equal(parked.properties.headers?.['x-last-death-queue'], 'work');
  ch.ack(parked);
  const q = await ch.checkQueue('work');
  assert.equal(q.messageCount, 0, 'dead-lettered messages are acked in the source');
});

test('x-delivery-limit: a message requeued past the limit is dead-lettered as delivery_limit', async (t) => {
  const f = await startAmqp(t);
  const ch = await (await f.client()).createChannel();
  await ch.assertQueue('limited-dead');
  await ch.assertQueue('limited', { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 1, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'limited-dead' } });
  ch.sendToQueue('limited', Buffer.from('poison'));
  const seen: boolean[] = [];
  await ch.consume('limited', (m) => {
    if (m === null) return;
    seen.push(m.fields.redelivered);
    ch.nack(m, false, true);
  });
  const dead = await within(getOne(ch, 'limited-dead'), 'the poison message dead-lettered');
  assert.equal(dead.content.toString(), 'poison');
  assert.equal(deaths(dead)[0].reason, 'delivery_limit');
  assert.deepEqual(seen, [false, true], 'delivered once and redelivered once (limit 1)');
});

test('x-expires: an unused queue is deleted after the period; a consumer keeps it alive until it leaves', async (t) => {
  const f = await startAmqp(t);
  const ch = await (await f.client()).createChannel();
  const registry = await f.listener.queues();
  await ch.assertQueue('idle', { arguments: { 'x-expires': 60 } });
  await ch.assertQueue('used', { arguments: { 'x-expires': 60 } });
  const { consumerTag } = await ch.consume('used', () => undefined);
  await waitFor(() => !registry.has('idle'), 'the idle queue to expire');
  assert.ok(registry.has('used'), 'a queue with a consumer does not expire');
  await ch.cancel(consumerTag);
  await waitFor(() => !registry.has('used'), 'the queue to expire once its consumer left');
  await expectChannelError(await f.client(), (c) => c.checkQueue('idle'), /404|NOT_FOUND/);
});

test('a queue that dead-letters expired messages to itself drops them instead of looping (RabbitMQ cycle rule)', async (t) => {
  const f = await startAmqp(t);
  const ch = await (await f.client()).createConfirmChannel();
  await ch.assertQueue('loop', { arguments: { 'x-message-ttl': 20, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'loop' } });
  await publishConfirmed(ch, '', 'loop', 'round');
  const q = (await f.listener.queues()).get('loop')!;
  await waitFor(() => q.messageCount === 0 && q.cursor.backlog() === 0, 'the expired message to be settled');
  assert.equal(q.stream.partitionLog(0).highWatermark, 1, 'it was not republished into its own queue');
});

/** Resolves once `cond` holds (checked each turn of the event loop); fails after the harness's wait. */
async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** basic.get until a message comes (dead-lettering is asynchronous); gives up after the harness's wait. */
async function getOne(ch: Channel, queue: string): Promise<GetMessage> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const m = await ch.get(queue);
    if (m !== false) return m;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`no message in '${queue}'`);
}

test('x-message-ttl and per-message expiration: expired messages are never delivered, and are dead-lettered as expired by the sweep of an idle queue', async (t) => {
  const f = await startAmqp(t);
  const ch = await (await f.client()).createConfirmChannel();
  await ch.assertQueue('expired');
  await ch.assertQueue('ttl', { arguments: { 'x-message-ttl': 40, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'expired' } });
  await ch.assertQueue('per-msg', { arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'expired' } });
  await publishConfirmed(ch, '', 'ttl', 'queue-ttl');
  await publishConfirmed(ch, '', 'per-msg', 'short', { expiration: '30' });
  await publishConfirmed(ch, '', 'per-msg', 'long', { expiration: '600000' });

  const got = collector<ConsumeMessage>(2, 'two expired messages');
  await ch.consume('expired', (m) => m && got.push(m), { noAck: true });
  const expired = await got.done;
  const byBody = new Map(expired.map((m) => [m.content.toString(), m]));
  assert.deepEqual([...byBody.keys()].sort(), ['queue-ttl', 'short']);
  const viaQueue = deaths(byBody.get('queue-ttl')!)[0];
  assert.equal(viaQueue.reason, 'expired');
  assert.equal(viaQueue.queue, 'ttl');
  const viaMessage = deaths(byBody.get('short')!)[0];
  assert.equal(viaMessage.reason, 'expired');
  assert.equal(viaMessage['original-expiration'], '30');
  assert.equal(byBody.get('short')!.properties.expiration, undefined, 'the expiration property is removed');

  // The unexpired message is still there and is the only one delivered.
  const m = await ch.get('per-msg');
  assert.ok(m !== false);
  assert.equal(m.content.toString(), 'long');
  assert.equal((await ch.checkQueue('ttl')).messageCount, 0);

  // A malformed expiration is a 406 channel error, as in RabbitMQ.
  await expectChannelError(await f.client(), async (c) => {
    c.sendToQueue('per-msg', Buffer.from('bad'), { expiration: 'soon' });
    await c.checkQueue('per-msg');
  }, /406|PRECONDITION_FAILED/);
});

test('an expired message at the head is not delivered to a consumer that attaches later; without a DLX it is dropped', async (t) => {
  const f = await startAmqp(t);
  const ch = await (await f.client()).createConfirmChannel();
  // Per-message expiration only: a queue TTL would also apply to 'fresh' and race a loaded machine.
  await ch.assertQueue('q');
  await publishConfirmed(ch, '', 'q', 'old', { expiration: '20' });
  // Wait for the sweep to settle it: the count drops to 0 without any consumer.
  const deadline = Date.now() + 10_000;
  while ((await ch.checkQueue('q')).messageCount > 0) assert.ok(Date.now() < deadline, 'the sweep settles the expired message');
  await publishConfirmed(ch, '', 'q', 'fresh', { expiration: '600000' });
  const first = await within(new Promise<ConsumeMessage>((resolve) => void ch.consume('q', (m) => m && resolve(m), { noAck: true })), 'a delivery');
  assert.equal(first.content.toString(), 'fresh');
});

test('x-max-length drop-head dead-letters the oldest as maxlen; reject-publish nacks the publisher; reject-publish-dlx also dead-letters it', async (t) => {
  const f = await startAmqp(t);
  const ch = await (await f.client()).createConfirmChannel();
  await ch.assertQueue('overflowed');
  const dl = { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'overflowed' };
  await ch.assertQueue('head', { arguments: { 'x-max-length': 2, ...dl } });
  for (const b of ['h1', 'h2', 'h3']) assert.equal(await publishConfirmed(ch, '', 'head', b), true);
  const dropped = await within(getOne(ch, 'overflowed'), 'the dropped head');
  assert.equal(dropped.content.toString(), 'h1');
  assert.equal(deaths(dropped)[0].reason, 'maxlen');
  ch.ack(dropped);
  const left = [await ch.get('head', { noAck: true }), await ch.get('head', { noAck: true })].map((m) => (m === false ? null : m.content.toString()));
  assert.deepEqual(left, ['h2', 'h3']);

  await ch.assertQueue('reject', { arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish', ...dl } });
  assert.equal(await publishConfirmed(ch, '', 'reject', 'r1'), true);
  assert.equal(await publishConfirmed(ch, '', 'reject', 'r2'), false, 'a full reject-publish queue nacks');
  assert.equal((await ch.checkQueue('reject')).messageCount, 1);
  assert.equal(await ch.get('overflowed'), false, 'reject-publish does not dead-letter');

  await ch.assertQueue('reject-dlx', { arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish-dlx', ...dl } });
  assert.equal(await publishConfirmed(ch, '', 'reject-dlx', 'x1'), true);
  assert.equal(await publishConfirmed(ch, '', 'reject-dlx', 'x2'), false);
  const refused = await within(getOne(ch, 'overflowed'), 'the refused message, dead-lettered');
  assert.equal(refused.content.toString(), 'x2');
  assert.equal(deaths(refused)[0].reason, 'maxlen');
  assert.equal(deaths(refused)[0].queue, 'reject-dlx');
  const only = await ch.get('reject-dlx', { noAck: true });
  assert.ok(only !== false && only.content.toString() === 'x1');
});

test('x-max-priority: higher priorities are delivered first, in publish order within a level; above the max counts as the max', async (t) => {
  const f = await startAmqp(t);
  const ch = await (await f.client()).createConfirmChannel();
  await ch.assertQueue('prio', { arguments: { 'x-max-priority': 5 } });
  const sent: Array<[string, number | undefined]> = [['a0', 0], ['b5', 5], ['c3', 3], ['d-', undefined], ['e9', 9], ['f3', 3]];
  for (const [body, priority] of sent) await publishConfirmed(ch, '', 'prio', body, priority === undefined ? {} : { priority });
  assert.equal((await ch.checkQueue('prio')).messageCount, 6);
  const order: string[] = [];
  for (;;) {
    const m = await ch.get('prio', { noAck: true });
    if (m === false) break;
    order.push(m.content.toString());
  }
  assert.deepEqual(order, ['b5', 'e9', 'c3', 'f3', 'a0', 'd-']);
  await expectChannelError(await f.client(), (c) => c.assertQueue('prio-bad', { arguments: { 'x-max-priority': 1000 } }), /406|PRECONDITION_FAILED/);
});

test('x-single-active-consumer: one consumer gets everything until it is cancelled, then the next takes over', async (t) => {
  const f = await startAmqp(t);
  const conn = await f.client();
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('sac', { durable: true, arguments: { 'x-single-active-consumer': true, 'x-queue-type': 'quorum' } });
  const a = collector<ConsumeMessage>(3, 'three deliveries to the active consumer');
  const b: ConsumeMessage[] = [];
  const { consumerTag: tagA } = await ch.consume('sac', (m) => m && a.push(m), { noAck: true });
  const chB = await conn.createChannel();
  const bGot = collector<ConsumeMessage>(2, 'two deliveries to the standby after the takeover');
  await chB.consume('sac', (m) => {
    if (m) {
      b.push(m);
      bGot.push(m);
    }
  }, { noAck: true });
  for (const body of ['1', '2', '3']) await publishConfirmed(ch, '', 'sac', body);
  assert.deepEqual((await a.done).map((m) => m.content.toString()), ['1', '2', '3']);
  assert.equal(b.length, 0, 'the standby consumer gets nothing while the active one is there');
  await ch.cancel(tagA);
  for (const body of ['4', '5']) await publishConfirmed(ch, '', 'sac', body);
  assert.deepEqual((await bGot.done).map((m) => m.content.toString()), ['4', '5']);
});

test('x-queue-type classic, quorum and stream are accepted (quorum and stream must be durable); bad values are refused; arguments must be equivalent on redeclare', async (t) => {
  const f = await startAmqp(t);
  const conn = await f.client();
  const ch = await conn.createChannel();
  await ch.assertQueue('classic-q', { durable: true, arguments: { 'x-queue-type': 'classic', 'x-message-ttl': 1000 } });
  await ch.assertQueue('quorum-q', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await ch.assertQueue('classic-q', { durable: true, arguments: { 'x-message-ttl': 1000 } });
  await expectChannelError(conn, (c) => c.assertQueue('classic-q', { durable: true, arguments: { 'x-message-ttl': 2000 } }), /406|PRECONDITION_FAILED/);
  await expectChannelError(conn, (c) => c.assertQueue('quorum-t', { durable: false, arguments: { 'x-queue-type': 'quorum' } }), /406|PRECONDITION_FAILED/);
  await ch.assertQueue('stream-q', { durable: true, arguments: { 'x-queue-type': 'stream' } });
  await expectChannelError(conn, (c) => c.assertQueue('stream-q', { durable: true, arguments: { 'x-queue-type': 'quorum' } }), /406|PRECONDITION_FAILED/);
  await expectChannelError(conn, (c) => c.assertQueue('bad-type', { durable: true, arguments: { 'x-queue-type': 'lake' } }), /406|PRECONDITION_FAILED/);
  await expectChannelError(conn, (c) => c.assertQueue('bad-overflow', { arguments: { 'x-overflow': 'explode' } }), /406|PRECONDITION_FAILED/);
  await expectChannelError(conn, (c) => c.assertQueue('bad-ttl', { arguments: { 'x-message-ttl': -1 } }), /406|PRECONDITION_FAILED/);
});

test('after a restart a durable queue still expires and dead-letters its messages', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'trib-amqp-ttl-'));
  const first = await startAmqp(t, { dataDir });
  const ch = await (await first.client()).createConfirmChannel();
  await ch.assertQueue('dead', { durable: true });
  await ch.assertQueue('ttl-d', { durable: true, arguments: { 'x-message-ttl': 300, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dead' } });
  await publishConfirmed(ch, '', 'ttl-d', 'survivor', { persistent: true });
  await first.stop();
  const second = await startAmqp(t, { dataDir });
  // Registered after the brokers' own cleanup, so it runs once they are closed.
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const ch2 = await (await second.client()).createChannel();
  const m = await within(new Promise<ConsumeMessage>((resolve) => void ch2.consume('dead', (x) => x && resolve(x), { noAck: true })), 'the dead-lettered message after restart');
  assert.equal(m.content.toString(), 'survivor');
  assert.equal(deaths(m)[0].reason, 'expired');
  assert.equal(deaths(m)[0].queue, 'ttl-d');
});

test('x-delayed-message exchange: a publish with x-delay reaches the queues bound by x-delayed-type only once due; x-delay 0 is immediate', async (t) => {
  const f = await startAmqp(t);
  const conn = await f.client();
  const ch = await conn.createConfirmChannel();
  await ch.assertExchange('delayed', 'x-delayed-message', { durable: true, arguments: { 'x-delayed-type': 'direct' } });
  await ch.assertExchange('delayed', 'x-delayed-message', { durable: true, arguments: { 'x-delayed-type': 'direct' } });
  await ch.assertQueue('later', { durable: true });
  await ch.bindQueue('later', 'delayed', 'k');
  const sentAt = Date.now();
  assert.equal(await publishConfirmed(ch, 'delayed', 'k', 'held', { headers: { 'x-delay': 200 } }), true);
  assert.equal(await publishConfirmed(ch, 'delayed', 'k', 'now', { headers: { 'x-delay': 0 } }), true);
  const got = collector<{ body: string; at: number; exchange: string }>(2, 'both messages');
  await ch.consume('later', (m) => m && got.push({ body: m.content.toString(), at: Date.now(), exchange: m.fields.exchange }), { noAck: true });
  const [a, b] = await got.done;
  assert.equal(a.body, 'now');
  assert.equal(b.body, 'held');
  assert.equal(b.exchange, 'delayed');
  assert.ok(b.at - sentAt >= 190, `held for ${b.at - sentAt} ms`);
  await expectChannelError(conn, (c) => c.assertExchange('bad-delayed', 'x-delayed-message', { arguments: { 'x-delayed-type': 'nope' } }), /406|PRECONDITION_FAILED/);
});

test('a delayed message survives a broker restart and is delivered when due', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'trib-amqp-delay-'));
  const first = await startAmqp(t, { dataDir });
  const ch = await (await first.client()).createConfirmChannel();
  await ch.assertExchange('delayed', 'x-delayed-message', { durable: true, arguments: { 'x-delayed-type': 'fanout' } });
  await ch.assertQueue('later', { durable: true });
  await ch.bindQueue('later', 'delayed', '');
  assert.equal(await publishConfirmed(ch, 'delayed', '', 'patient', { persistent: true, headers: { 'x-delay': 300 } }), true);
  await first.stop();
  const second = await startAmqp(t, { dataDir });
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const ch2 = await (await second.client()).createChannel();
  const m = await within(new Promise<ConsumeMessage>((resolve) => void ch2.consume('later', (x) => x && resolve(x), { noAck: true })), 'the delayed message after restart');
  assert.equal(m.content.toString(), 'patient');
});
