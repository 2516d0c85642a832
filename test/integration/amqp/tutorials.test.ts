/**
 * RabbitMQ's tutorials 1-3 with amqplib, unmodified client code, plus durable survival across a broker restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConsumeMessage } from 'amqplib';
import { collector, startAmqp, within } from './harness.js';

test('tutorial 1 (hello world): a publish right after an unawaited assertQueue reaches a no-ack consumer', async (t) => {
  const f = await startAmqp(t);
  const consumerConn = await f.client();
  const rx = await consumerConn.createChannel();
  await rx.assertQueue('hello', { durable: false });
  const got = collector<ConsumeMessage>(1, 'hello message');
  await rx.consume('hello', (m) => m && got.push(m), { noAck: true });

  const producerConn = await f.client();
  const tx = await producerConn.createChannel();
  void tx.assertQueue('hello', { durable: false });
  tx.sendToQueue('hello', Buffer.from('Hello World!'));

  const [m] = await got.done;
  assert.equal(m.content.toString(), 'Hello World!');
  assert.equal(m.fields.routingKey, 'hello');
  assert.equal(m.fields.exchange, '');
  assert.equal(m.fields.redelivered, false);
  assert.equal(typeof m.fields.consumerTag, 'string');
  assert.ok(m.fields.consumerTag.startsWith('amq.ctag-'));
});

test('tutorial 2 (work queues): prefetch 1 and manual acks give fair dispatch across two workers', async (t) => {
  const f = await startAmqp(t);
  const [connA, connB, connP] = await Promise.all([f.client(), f.client(), f.client()]);
  const a = await connA.createChannel();
  const b = await connB.createChannel();
  for (const ch of [a, b]) {
    await ch.assertQueue('task_queue', { durable: true });
    await ch.prefetch(1);
  }
  // Worker A takes one task and holds it; worker B acks at once, so it must get every other task.
  const aGot: ConsumeMessage[] = [];
  const aFirst = collector<ConsumeMessage>(1, 'worker A first task');
  await a.consume('task_queue', (m) => {
    if (!m) return;
    aGot.push(m);
    aFirst.push(m);
  }, { noAck: false });
  const bGot = collector<ConsumeMessage>(5, 'worker B five tasks');
  await b.consume('task_queue', (m) => {
    if (!m) return;
    bGot.push(m);
    b.ack(m);
  }, { noAck: false });

  const p = await connP.createChannel();
  await p.assertQueue('task_queue', { durable: true });
  for (let i = 1; i <= 6; i++) p.sendToQueue('task_queue', Buffer.from(`task ${i}`), { persistent: true });

  await aFirst.done;
  const bMessages = await bGot.done;
  assert.equal(aGot.length, 1, 'the busy worker holds one task at a time');
  const all = [...aGot, ...bMessages].map((m) => m.content.toString()).sort();
  assert.deepEqual(all, ['task 1', 'task 2', 'task 3', 'task 4', 'task 5', 'task 6']);
  assert.equal(aGot[0].properties.deliveryMode, 2);
  a.ack(aGot[0]);
  const check = await p.checkQueue('task_queue');
  assert.equal(check.consumerCount, 2);
});

test('tutorial 3 (publish/subscribe): a fanout exchange copies to exclusive server-named queues, removed on close', async (t) => {
  const f = await startAmqp(t);
  const subs = await Promise.all([f.client(), f.client()]);
  const received = subs.map(() => collector<string>(3, 'three log lines'));
  const queues: string[] = [];
  for (let i = 0; i < subs.length; i++) {
    const ch = await subs[i].createChannel();
    await ch.assertExchange('logs', 'fanout', { durable: false });
    const q = await ch.assertQueue('', { exclusive: true });
    assert.match(q.queue, /^amq\.gen-/);
    queues.push(q.queue);
    await ch.bindQueue(q.queue, 'logs', '');
    await ch.consume(q.queue, (m) => m && received[i].push(m.content.toString()), { noAck: true });
  }
  assert.notEqual(queues[0], queues[1]);
  const pub = await (await f.client()).createChannel();
  await pub.assertExchange('logs', 'fanout', { durable: false });
  for (const line of ['info: one', 'warning: two', 'error: three']) pub.publish('logs', '', Buffer.from(line));
  for (const r of received) assert.deepEqual(await r.done, ['info: one', 'warning: two', 'error: three']);

  const registry = await f.listener.queues();
  assert.ok(registry.has(queues[0]));
  const closed = once(f.listener.events, 'connectionClosed');
  await subs[0].close();
  await within(closed, 'the subscriber connection to close');
  assert.equal(registry.has(queues[0]), false, 'an exclusive queue goes with its connection');
  assert.ok(registry.has(queues[1]));
  // Another connection may not use the survivor's exclusive queue.
  const other = await (await f.client()).createChannel();
  const err = await other.checkQueue(queues[1]).then(() => null, (e: Error) => e);
  assert.match(String(err), /405|RESOURCE_LOCKED/);
});

test('a durable queue and its persistent, confirmed, unacked messages survive a broker restart; acked ones do not come back', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'trib-amqp-restart-'));
  const first = await startAmqp(t, { dataDir });
  const conn = await first.client();
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('durable_q', { durable: true });
  await ch.assertQueue('transient_q', { durable: false });
  for (const body of ['a', 'b', 'c']) ch.sendToQueue('durable_q', Buffer.from(body), { persistent: true });
  ch.sendToQueue('transient_q', Buffer.from('gone'));
  await within(ch.waitForConfirms(), 'confirms');
  const g = await ch.get('durable_q', { noAck: false });
  assert.ok(g);
  assert.equal(g.content.toString(), 'a');
  ch.ack(g);
  const g2 = await ch.get('durable_q', { noAck: false });
  assert.ok(g2);
  assert.equal(g2.content.toString(), 'b');
  // 'b' stays unacked: the restart must hand it out again.
  await ch.checkQueue('durable_q'); // a round trip: the ack above has been processed
  await first.stop();

  const second = await startAmqp(t, { dataDir });
  // Registered last so it runs after both fixtures' cleanup.
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const ch2 = await (await second.client()).createChannel();
  const q = await ch2.checkQueue('durable_q');
  assert.equal(q.messageCount, 2);
  const got: string[] = [];
  for (;;) {
    const m = await ch2.get('durable_q', { noAck: true });
    if (m === false) break;
    got.push(m.content.toString());
    assert.equal(m.properties.deliveryMode, 2);
  }
  assert.deepEqual(got, ['b', 'c']);
  const err = await ch2.checkQueue('transient_q').then(() => null, (e: Error) => e);
  assert.match(String(err), /404|NOT_FOUND/, 'transient queues do not survive a restart');
});

test('tutorial 6 (RPC): reply_to an exclusive server-named queue with correlation_id', async (t) => {
  const f = await startAmqp(t);
  const server = await (await f.client()).createChannel();
  await server.assertQueue('rpc_queue', { durable: false });
  await server.prefetch(1);
  await server.consume('rpc_queue', (m) => {
    if (!m) return;
    const n = Number(m.content.toString());
    server.sendToQueue(m.properties.replyTo as string, Buffer.from(String(n * 2)), { correlationId: m.properties.correlationId as string });
    server.ack(m);
  });
  const client = await (await f.client()).createChannel();
  const { queue: replyTo } = await client.assertQueue('', { exclusive: true });
  const answer = collector<{ id: string; body: string }>(1, 'the RPC answer');
  await client.consume(replyTo, (m) => m && answer.push({ id: m.properties.correlationId as string, body: m.content.toString() }), { noAck: true });
  client.sendToQueue('rpc_queue', Buffer.from('21'), { correlationId: 'abc', replyTo });
  assert.deepEqual(await answer.done, [{ id: 'abc', body: '42' }]);
});

test('RPC with direct reply-to: amq.rabbitmq.reply-to needs no reply queue', async (t) => {
  const f = await startAmqp(t);
  const server = await (await f.client()).createChannel();
  await server.assertQueue('rpc_direct', { durable: false });
  await server.consume('rpc_direct', (m) => {
    if (!m) return;
    assert.match(String(m.properties.replyTo), /^amq\.rabbitmq\.reply-to\.[A-Za-z0-9_-]+$/);
    server.sendToQueue(m.properties.replyTo as string, Buffer.from(`re:${m.content.toString()}`), { correlationId: m.properties.correlationId as string });
    server.ack(m);
  });
  const client = await (await f.client()).createChannel();
  const answer = collector<{ id: string; body: string }>(1, 'the direct reply');
  await client.consume('amq.rabbitmq.reply-to', (m) => m && answer.push({ id: m.properties.correlationId as string, body: m.content.toString() }), { noAck: true });
  client.sendToQueue('rpc_direct', Buffer.from('ping'), { correlationId: 'c7', replyTo: 'amq.rabbitmq.reply-to' });
  assert.deepEqual(await answer.done, [{ id: 'c7', body: 're:ping' }]);
});
