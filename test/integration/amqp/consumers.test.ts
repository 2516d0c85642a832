/**
 * Consumer-side behaviour with amqplib: basic.recover, consumer priorities (x-priority), server-initiated
 * basic.cancel when another connection deletes the queue, basic.get / get-empty with the redelivered flag, nack
 * with multiple.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConsumeMessage, GetMessage } from 'amqplib';
import { collector, startAmqp, until, within } from './harness.js';

test('basic.recover (requeue) redelivers every unacked message of the channel with the redelivered flag', async (t) => {
  const f = await startAmqp(t);
  const ch = await (await f.client()).createChannel();
  await ch.assertQueue('rec', { durable: false });
  for (const b of ['a', 'b', 'c']) ch.sendToQueue('rec', Buffer.from(b));
  const got = collector<ConsumeMessage>(5, 'three deliveries, then the two unacked again');
  await ch.consume('rec', (m) => m && got.push(m));
  await until(() => got.items.length >= 3, 'the first deliveries');
  ch.ack(got.items[0]);
  await ch.recover();
  const all = await got.done;
  assert.deepEqual(all.slice(0, 3).map((m) => [m.content.toString(), m.fields.redelivered]), [['a', false], ['b', false], ['c', false]]);
  assert.deepEqual(all.slice(3).map((m) => [m.content.toString(), m.fields.redelivered]), [['b', true], ['c', true]]);
  ch.ackAll();
  assert.equal((await ch.checkQueue('rec')).messageCount, 0);
});

test('consumer priorities: the higher x-priority consumer gets messages while it has prefetch room, then the lower one', async (t) => {
  const f = await startAmqp(t);
  const conn = await f.client();
  const setup = await conn.createChannel();
  await setup.assertQueue('prio', { durable: false });
  const hiCh = await conn.createChannel();
  await hiCh.prefetch(2);
  const loCh = await conn.createChannel();
  await loCh.prefetch(10);
  const hi: ConsumeMessage[] = [];
  const lo: ConsumeMessage[] = [];
  const all = collector<string>(5, 'five deliveries');
  await loCh.consume('prio', (m) => m && (lo.push(m), all.push(`lo:${m.content}`)), { priority: 1 });
  await hiCh.consume('prio', (m) => m && (hi.push(m), all.push(`hi:${m.content}`)), { priority: 10 });
  for (let i = 1; i <= 5; i++) setup.sendToQueue('prio', Buffer.from(String(i)));
  await all.done;
  assert.deepEqual(hi.map((m) => m.content.toString()), ['1', '2'], 'the high-priority consumer fills its prefetch first');
  assert.deepEqual(lo.map((m) => m.content.toString()), ['3', '4', '5']);
  // Room again on the high-priority consumer: the next message goes there.
  hiCh.ack(hi[0]);
  await hiCh.checkQueue('prio'); // the ack is in before the next publish
  setup.sendToQueue('prio', Buffer.from('6'));
  await until(() => hi.length > 2 || lo.length > 3, 'message 6');
  assert.equal(hi.at(-1)?.content.toString(), '6');
  assert.equal(lo.length, 3);
});

test('a queue deleted by another connection cancels its consumers with basic.cancel (amqplib gets null)', async (t) => {
  const f = await startAmqp(t);
  const consumerConn = await f.client();
  const ch = await consumerConn.createChannel();
  await ch.assertQueue('doomed', { durable: true });
  const got = collector<ConsumeMessage | null>(1, 'the server-initiated cancel');
  await ch.consume('doomed', (m) => got.push(m));
  const other = await (await f.client()).createChannel();
  await other.deleteQueue('doomed');
  const [m] = await got.done;
  assert.equal(m, null);
  // The channel stays open and usable.
  await ch.assertQueue('still-here', { durable: false });
});

test('basic.get and get-empty: a requeued message comes back with redelivered set and the remaining count', async (t) => {
  const f = await startAmqp(t);
  const ch = await (await f.client()).createChannel();
  await ch.assertQueue('pull', { durable: false });
  assert.equal(await ch.get('pull'), false, 'get-empty on an empty queue');
  ch.sendToQueue('pull', Buffer.from('one'));
  ch.sendToQueue('pull', Buffer.from('two'));
  const first = (await ch.get('pull')) as GetMessage;
  assert.equal(first.content.toString(), 'one');
  assert.equal(first.fields.redelivered, false);
  assert.equal(first.fields.messageCount, 1);
  ch.nack(first, false, true);
  const again = (await ch.get('pull')) as GetMessage;
  assert.equal(again.content.toString(), 'one');
  assert.equal(again.fields.redelivered, true);
  ch.ack(again);
  const second = (await ch.get('pull', { noAck: true })) as GetMessage;
  assert.equal(second.content.toString(), 'two');
  assert.equal(second.fields.redelivered, false);
  assert.equal(second.fields.messageCount, 0);
  assert.equal(await ch.get('pull'), false);
});

test('nack with multiple requeues every unacked delivery up to the tag; nackAll and ackAll settle the rest', async (t) => {
  const f = await startAmqp(t);
  const ch = await (await f.client()).createChannel();
  await ch.assertQueue('multi', { durable: false });
  for (const b of ['a', 'b', 'c', 'd']) ch.sendToQueue('multi', Buffer.from(b));
  const got = collector<ConsumeMessage>(7, 'deliveries and redeliveries');
  await ch.consume('multi', (m) => m && got.push(m));
  await until(() => got.items.length >= 4, 'four deliveries');
  // nack multiple up to 'c', requeue: a, b, c come back redelivered in order; d stays unacked.
  ch.nack(got.items[2], true, true);
  const all = await got.done;
  assert.deepEqual(all.slice(4).map((m) => [m.content.toString(), m.fields.redelivered]), [['a', true], ['b', true], ['c', true]]);
  // nackAll without requeue drops everything outstanding (no DLX).
  ch.nackAll(false);
  const q = await ch.checkQueue('multi');
  assert.equal(q.messageCount, 0);
  assert.equal(await ch.get('multi'), false);
});

test('ack with multiple settles exactly the acked consumer\'s deliveries up to the tag, also with no-ack tags in between', async (t) => {
  const f = await startAmqp(t);
  const conn = await f.client();
  const ch = await conn.createChannel();
  await ch.assertQueue('kept', { durable: false });
  await ch.assertQueue('auto', { durable: false });
  // Tags are per channel: the no-ack consumer's deliveries take tags between the acked ones, densely (a few)
  // and then sparsely (many), which the settle walks in two different ways.
  for (let round = 0; round < 2; round++) {
    const noAckPerKept = round === 0 ? 1 : 12;
    const kept = collector<ConsumeMessage>(6, 'acked-consumer deliveries');
    const auto = collector<ConsumeMessage>(6 * noAckPerKept, 'no-ack deliveries');
    const keptTag = (await ch.consume('kept', (m) => m && kept.push(m))).consumerTag;
    const autoTag = (await ch.consume('auto', (m) => m && auto.push(m), { noAck: true })).consumerTag;
    for (let i = 0; i < 6; i++) {
      for (let j = 0; j < noAckPerKept; j++) ch.sendToQueue('auto', Buffer.from(`a${i}.${j}`));
      ch.sendToQueue('kept', Buffer.from(`k${i}`));
    }
    const got = await kept.done;
    await auto.done;
    ch.ack(got[3], true); // k0..k3
    await ch.cancel(keptTag);
    await ch.cancel(autoTag);
    // Closing the channel requeues what is still unacked: exactly k4 and k5.
    const other = await conn.createChannel();
    await ch.recover();
    const left: string[] = [];
    for (;;) {
      const m = await other.get('kept', { noAck: true });
      if (m === false) break;
      left.push(m.content.toString());
    }
    assert.deepEqual(left.sort(), ['k4', 'k5'], `round ${round}`);
    await other.close();
  }
});

test('basic.qos global=true limits the whole channel across queues; global=false still limits each consumer; both apply', async (t) => {
  const f = await startAmqp(t);
  const conn = await f.client();
  const setup = await conn.createChannel();
  for (const q of ['g1', 'g2']) {
    await setup.assertQueue(q, { durable: false });
    for (let i = 0; i < 5; i++) setup.sendToQueue(q, Buffer.from(`${q}-${i}`));
  }
  await setup.checkQueue('g2');
  const ch = await conn.createChannel();
  await ch.prefetch(2, false); // each consumer created from now on: 2
  await ch.prefetch(3, true); // the channel in total: 3
  const got: ConsumeMessage[] = [];
  await ch.consume('g1', (m) => m && got.push(m));
  await ch.consume('g2', (m) => m && got.push(m));
  await until(() => got.length >= 3, 'three deliveries');
  // Give a wrongly delivered fourth message every chance to arrive before checking.
  await ch.checkQueue('g1');
  await setup.checkQueue('g1');
  assert.equal(got.length, 3, 'the channel-wide window is 3');
  const perQueue = (q: string): number => got.filter((m) => m.fields.routingKey === q).length;
  assert.ok(perQueue('g1') <= 2 && perQueue('g2') <= 2, 'each consumer holds at most its own prefetch of 2');
  // One ack frees one slot on the channel: exactly one more arrives.
  ch.ack(got[0]);
  await until(() => got.length >= 4, 'a fourth delivery after the ack');
  await ch.checkQueue('g1');
  assert.equal(got.length, 4);
  // Acking everything lets the rest flow, three at a time.
  const done = until(() => got.length >= 10, 'every message');
  const ackLoop = setInterval(() => ch.ackAll(), 10);
  t.after(() => clearInterval(ackLoop));
  await done;
  clearInterval(ackLoop);
  assert.deepEqual(got.map((m) => m.content.toString()).sort(), ['g1-0', 'g1-1', 'g1-2', 'g1-3', 'g1-4', 'g2-0', 'g2-1', 'g2-2', 'g2-3', 'g2-4']);
});

test('basic.qos with a non-zero prefetch_size is refused with 540 NOT_IMPLEMENTED, as RabbitMQ does', async (t) => {
  const f = await startAmqp(t);
  const conn = await f.client();
  const closed = new Promise<Error>((resolve) => conn.once('close', (e: Error) => resolve(e)));
  const ch = await conn.createChannel();
  ch.on('error', () => undefined);
  // amqplib's prefetch() always sends prefetch_size 0; its generic rpc sends the method as given.
  const rpc = (ch as unknown as { rpc(method: number, fields: object, expect: number): Promise<unknown> }).rpc.bind(ch);
  const BASIC_QOS = (60 << 16) | 10;
  const BASIC_QOS_OK = (60 << 16) | 11;
  const err = await rpc(BASIC_QOS, { prefetchSize: 65536, prefetchCount: 10, global: false }, BASIC_QOS_OK).then(() => null, (e: Error) => e);
  assert.ok(err !== null);
  assert.match(String(await within(closed, 'the connection to close')), /540|NOT_IMPLEMENTED/);
});
