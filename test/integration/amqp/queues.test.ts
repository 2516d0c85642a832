/**
 * Exchanges, queues and the basic class with amqplib: declare rules and channel exceptions, routing,
 * mandatory returns, publisher confirms, acks/nacks/rejects with requeue, basic.get, purge, delete, requeue on
 * channel close, large bodies across frames, the body-size limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { collector, startAmqp, within } from './harness.js';

/** Runs `fn` on a fresh channel and expects the channel (only) to be closed with a reply matching `code`. */
async function expectChannelError(conn: ChannelModel, fn: (ch: Channel) => Promise<unknown>, code: RegExp): Promise<void> {
  const ch = await conn.createChannel();
  const closed = new Promise<void>((resolve) => ch.once('close', () => resolve()));
  let chErr: Error | undefined;
  ch.on('error', (e: Error) => (chErr = e));
  const err = await fn(ch).then(() => null, (e: Error) => e);
  await within(closed, 'the channel to close');
  assert.match(String(err ?? chErr), code);
  // The connection survives a channel exception.
  const again = await conn.createChannel();
  await again.checkExchange('amq.direct');
  await again.close();
}

test('channel exceptions: 404 passive/missing, 406 inequivalent/unknown tag, 405 locked, 403 reserved names', async (t) => {
  const f = await startAmqp(t);
  const conn = await f.client();
  await expectChannelError(conn, (ch) => ch.checkQueue('nope'), /404|NOT_FOUND/);
  await expectChannelError(conn, (ch) => ch.checkExchange('nope'), /404|NOT_FOUND/);
  const setup = await conn.createChannel();
  await setup.assertQueue('eq', { durable: true });
  await expectChannelError(conn, (ch) => ch.assertQueue('eq', { durable: false }), /406|PRECONDITION_FAILED/);
  await setup.assertExchange('ex-eq', 'direct', { durable: false });
  await expectChannelError(conn, (ch) => ch.assertExchange('ex-eq', 'fanout', { durable: false }), /406|PRECONDITION_FAILED/);
  await expectChannelError(conn, (ch) => ch.assertQueue('amq.mine'), /403|ACCESS_REFUSED/);
  await expectChannelError(conn, (ch) => ch.assertExchange('amq.mine', 'direct'), /403|ACCESS_REFUSED/);
  await expectChannelError(conn, async (ch) => {
    ch.ack({ fields: { deliveryTag: 99 } } as unknown as ConsumeMessage);
    await ch.checkQueue('eq');
  }, /406|PRECONDITION_FAILED/);
  await expectChannelError(conn, async (ch) => {
    ch.publish('no-such-exchange', 'k', Buffer.from('x'));
    await ch.checkQueue('eq');
  }, /404|NOT_FOUND/);
  const ownerConn = await f.client();
  const owner = await ownerConn.createChannel();
  const { queue } = await owner.assertQueue('', { exclusive: true });
  await expectChannelError(conn, (ch) => ch.consume(queue, () => undefined), /405|RESOURCE_LOCKED/);
  await owner.consume(queue, () => undefined, { exclusive: true });
  await expectChannelError(ownerConn, (ch) => ch.consume(queue, () => undefined), /403|ACCESS_REFUSED/);
});

test('direct and topic exchanges route by binding; unbind stops it; mandatory unroutable publishes come back as 312 NO_ROUTE', async (t) => {
  const f = await startAmqp(t);
  const ch = await (await f.client()).createChannel();
  await ch.assertExchange('direct_logs', 'direct', { durable: false });
  await ch.assertExchange('topic_logs', 'topic', { durable: false });
  const { queue: errors } = await ch.assertQueue('', { exclusive: true });
  const { queue: kern } = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(errors, 'direct_logs', 'error');
  await ch.bindQueue(kern, 'topic_logs', 'kern.*');
  await ch.bindQueue(kern, 'topic_logs', '#.critical');
  const returned = collector<string>(1, 'basic.return');
  ch.on('return', (m: ConsumeMessage) => returned.push(`${m.fields.routingKey}:${m.content.toString()}`));
  ch.publish('direct_logs', 'error', Buffer.from('e1'));
  ch.publish('direct_logs', 'info', Buffer.from('lost'));
  ch.publish('topic_logs', 'kern.info', Buffer.from('k1'));
  ch.publish('topic_logs', 'a.b.critical', Buffer.from('k2'));
  ch.publish('topic_logs', 'user.info', Buffer.from('unroutable'), { mandatory: true });
  assert.deepEqual(await returned.done, ['user.info:unroutable']);
  const take = async (q: string): Promise<string[]> => {
    const out: string[] = [];
    for (;;) {
      const m = await ch.get(q, { noAck: true });
      if (m === false) return out;
      out.push(m.content.toString());
    }
  };
  assert.deepEqual(await take(errors), ['e1']);
  assert.deepEqual(await take(kern), ['k1', 'k2']);
  await ch.unbindQueue(errors, 'direct_logs', 'error');
  ch.publish('direct_logs', 'error', Buffer.from('e2'));
  await ch.checkQueue(errors);
  assert.deepEqual(await take(errors), []);
});

test('publisher confirms: every publish is acked once stored, with multiple acks allowed', async (t) => {
  const f = await startAmqp(t);
  const ch = await (await f.client()).createConfirmChannel();
  await ch.assertQueue('confirmed', { durable: true });
  const acks: Array<{ deliveryTag: number; multiple: boolean }> = [];
  ch.on('ack', (a: { deliveryTag: number; multiple: boolean }) => acks.push(a));
  const each: Promise<void>[] = [];
  for (let i = 0; i < 50; i++) {
    each.push(new Promise((resolve, reject) => ch.sendToQueue('confirmed', Buffer.from(`m${i}`), { persistent: true }, (err) => (err ? reject(err) : resolve()))));
  }
  // An unroutable publish is confirmed too.
  each.push(new Promise((resolve, reject) => ch.publish('amq.direct', 'nobody', Buffer.from('x'), {}, (err) => (err ? reject(err) : resolve()))));
  await within(Promise.all(each), 'all 51 confirms');
  assert.equal(Math.max(...acks.map((a) => a.deliveryTag)), 51);
  const q = await ch.checkQueue('confirmed');
  assert.equal(q.messageCount, 50);
});

test('nack and reject with requeue redeliver with the redelivered flag; without requeue the message is dropped', async (t) => {
  const f = await startAmqp(t);
  const ch = await (await f.client()).createChannel();
  await ch.assertQueue('rq');
  ch.sendToQueue('rq', Buffer.from('one'));
  ch.sendToQueue('rq', Buffer.from('two'));
  const first = await ch.get('rq');
  assert.ok(first);
  assert.equal(first.fields.redelivered, false);
  ch.nack(first, false, true);
  const again = await ch.get('rq');
  assert.ok(again);
  assert.equal(again.content.toString(), 'one');
  assert.equal(again.fields.redelivered, true);
  ch.reject(again, false);
  const second = await ch.get('rq');
  assert.ok(second);
  assert.equal(second.content.toString(), 'two');
  ch.ack(second);
  assert.equal(await ch.get('rq'), false);

  // multiple: one ack settles every earlier delivery tag.
  for (let i = 0; i < 5; i++) ch.sendToQueue('rq', Buffer.from(`b${i}`));
  const got = collector<ConsumeMessage>(5, 'five deliveries');
  await ch.consume('rq', (m) => m && got.push(m));
  const ms = await got.done;
  assert.deepEqual(ms.map((m) => m.fields.deliveryTag), [4, 5, 6, 7, 8]);
  ch.ack(ms[4], true);
  const q = await ch.checkQueue('rq');
  assert.equal(q.messageCount, 0);
});

test('unacked messages of a closed channel go back to the queue, redelivered, in order', async (t) => {
  const f = await startAmqp(t);
  const conn = await f.client();
  const a = await conn.createChannel();
  await a.assertQueue('requeue-on-close');
  for (const s of ['x', 'y', 'z']) a.sendToQueue('requeue-on-close', Buffer.from(s));
  const got = collector<ConsumeMessage>(3, 'three unacked deliveries');
  await a.consume('requeue-on-close', (m) => m && got.push(m));
  await got.done;
  await a.close();
  const b = await conn.createChannel();
  const again = collector<ConsumeMessage>(3, 'three redeliveries');
  await b.consume('requeue-on-close', (m) => {
    if (!m) return;
    again.push(m);
    b.ack(m);
  });
  const ms = await again.done;
  assert.deepEqual(ms.map((m) => m.content.toString()), ['x', 'y', 'z']);
  assert.ok(ms.every((m) => m.fields.redelivered));
});

test('basic.get on an empty queue, purge, delete if-empty / if-unused, cancel, and server-side cancel on delete', async (t) => {
  const f = await startAmqp(t);
  const conn = await f.client();
  const ch = await conn.createChannel();
  await ch.assertQueue('life');
  assert.equal(await ch.get('life'), false);
  for (let i = 0; i < 4; i++) ch.sendToQueue('life', Buffer.from(String(i)));
  const purged = await ch.purgeQueue('life');
  assert.equal(purged.messageCount, 4);
  ch.sendToQueue('life', Buffer.from('keep'));
  await expectChannelError(conn, (c) => c.deleteQueue('life', { ifEmpty: true }), /406|PRECONDITION_FAILED/);
  const consumer = await conn.createChannel();
  const { consumerTag } = await consumer.consume('life', () => undefined, { noAck: false, consumerTag: 'holder' });
  await expectChannelError(conn, (c) => c.deleteQueue('life', { ifUnused: true }), /406|PRECONDITION_FAILED/);
  await consumer.cancel(consumerTag);
  const other = await conn.createChannel();
  const got2 = collector<ConsumeMessage | null>(2, 'the requeued message, then the server-initiated cancel');
  await other.consume('life', (m) => got2.push(m), { noAck: false });
  await other.checkQueue('life'); // consume-ok and the delivery of 'keep' are in
  const deleted = await ch.deleteQueue('life');
  assert.equal(deleted.messageCount, 0, "'keep' is unacked, not ready");
  // amqplib calls the consumer with null on basic.cancel from the server.
  const [first, last] = await got2.done;
  assert.equal(first?.content.toString(), 'keep');
  assert.equal(first?.fields.redelivered, true);
  assert.equal(last, null);
  await expectChannelError(conn, (c) => c.checkQueue('life'), /404|NOT_FOUND/);
});

test('a body larger than frame_max is split and reassembled both ways; the configured max body size is enforced with 406', async (t) => {
  const f = await startAmqp(t, { amqp: { maxMessageBytes: 1024 * 1024 } });
  const conn = await f.client();
  const ch = await conn.createChannel();
  await ch.assertQueue('big');
  const body = Buffer.alloc(300_000);
  for (let i = 0; i < body.length; i++) body[i] = i % 251;
  ch.sendToQueue('big', body, { contentType: 'application/octet-stream', headers: { 'x-n': 7 }, correlationId: 'c1' });
  const m = await ch.get('big', { noAck: true });
  assert.ok(m);
  assert.ok(m.content.equals(body));
  assert.equal(m.properties.contentType, 'application/octet-stream');
  assert.equal(m.properties.correlationId, 'c1');
  assert.equal(m.properties.headers?.['x-n'], 7);
  await expectChannelError(conn, async (c) => {
    c.sendToQueue('big', Buffer.alloc(2 * 1024 * 1024));
    await c.checkQueue('big');
  }, /406|PRECONDITION_FAILED/);
});

test('a queue is a workqueue stream with a valid name for any UTF-8 queue name; its records carry the AMQP properties as headers', async (t) => {
  const f = await startAmqp(t);
  const conn = await f.client();
  const ch = await conn.createChannel();
  const odd = 'ünï cödé/queue #1';
  await ch.assertQueue(odd, { durable: true });
  await ch.assertQueue('plain.transient', { durable: false });
  ch.sendToQueue(odd, Buffer.from('hi'), { contentType: 'text/plain', messageId: 'm-1', headers: { who: 'me' } });
  await ch.checkQueue(odd);
  const registry = await f.listener.queues();
  const q = registry.get(odd);
  assert.ok(q);
  assert.match(q.stream.name, /^[a-zA-Z0-9._-]{1,249}$/);
  assert.equal(q.stream.retention, 'workqueue');
  assert.equal(q.stream.definition().storage, 'file');
  assert.equal(registry.get('plain.transient')!.stream.definition().storage, 'memory');
  // What a consumer of another protocol reading the stream sees.
  const [stored] = await q.stream.readMessages(0, 0, 1 << 20);
  const headers = new Map(stored.message.headers.map((h) => [h.key, h.value?.toString()]));
  assert.equal(headers.get('content-type'), 'text/plain');
  assert.equal(headers.get('message-id'), 'm-1');
  assert.equal(headers.get('who'), 'me');
  const m = await ch.get(odd, { noAck: true });
  assert.ok(m);
  assert.equal(m.content.toString(), 'hi');
  assert.equal(m.properties.messageId, 'm-1');
});

test('an auto-delete queue is deleted when its last consumer cancels', async (t) => {
  const f = await startAmqp(t);
  const conn = await f.client();
  const ch = await conn.createChannel();
  await ch.assertQueue('ad', { autoDelete: true });
  const { consumerTag } = await ch.consume('ad', () => undefined);
  await ch.cancel(consumerTag);
  await expectChannelError(conn, (c) => c.checkQueue('ad'), /404|NOT_FOUND/);
});

test('a publish on amq.topic with routing key a.b is also published on subject a.b (a stream capturing it stores it)', async (t) => {
  const f = await startAmqp(t);
  const { ANONYMOUS } = await import('../../../src/core/principal.js');
  const stream = await f.broker.createStream(ANONYMOUS, { name: 'sensors.temp' });
  assert.ok(stream);
  const ch = await (await f.client()).createConfirmChannel();
  await ch.assertQueue('topic-copy');
  await ch.bindQueue('topic-copy', 'amq.topic', 'sensors.*');
  ch.publish('amq.topic', 'sensors.temp', Buffer.from('21.5'), { contentType: 'text/plain' });
  await within(ch.waitForConfirms(), 'confirm of the amq.topic publish');
  const [stored] = await stream.readMessages(0, 0, 1 << 20);
  assert.equal(stored.message.value?.toString(), '21.5');
  assert.equal(stored.message.headers.find((h) => h.key === 'content-type')?.value?.toString(), 'text/plain');
  const m = await ch.get('topic-copy', { noAck: true });
  assert.ok(m);
  assert.equal(m.content.toString(), '21.5');
});
