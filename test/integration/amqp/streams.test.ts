/**
 * x-queue-type stream with amqplib, as RabbitMQ streams: a durable log each consumer reads from its own
 * x-stream-offset (first, last, next, a number, a timestamp, an interval), with basic.qos prefetch and manual
 * acks that only return credit; deliveries carry x-stream-offset; basic.get, purge, nack and no-ack consumers are
 * refused (540) as RabbitMQ does; retention (x-max-length-bytes, x-max-age) trims whole segments; a restart keeps
 * the log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { startAmqp, until, within, type Fixture } from './harness.js';

const STREAM = { durable: true, arguments: { 'x-queue-type': 'stream' } };

async function publishAll(ch: ConfirmChannel, queue: string, bodies: string[]): Promise<void> {
  for (const b of bodies) ch.sendToQueue(queue, Buffer.from(b));
  await within(ch.waitForConfirms(), 'confirms');
}

/** Consumes `queue` from `offset` with prefetch `prefetch` on a new channel; acks each message unless told not to. */
async function reader(conn: ChannelModel, queue: string, offset: unknown, options: { prefetch?: number; ack?: boolean } = {}): Promise<{ ch: Channel; got: ConsumeMessage[] }> {
  const ch = await conn.createChannel();
  await ch.prefetch(options.prefetch ?? 100);
  const got: ConsumeMessage[] = [];
  await ch.consume(queue, (m) => {
    if (m === null) return;
    got.push(m);
    if (options.ack !== false) ch.ack(m);
  }, { arguments: offset === undefined ? {} : { 'x-stream-offset': offset } });
  return { ch, got };
}

const bodies = (got: ConsumeMessage[]): string[] => got.map((m) => m.content.toString());
const offsets = (got: ConsumeMessage[]): unknown[] => got.map((m) => m.properties.headers?.['x-stream-offset']);

async function expectClosed(f: Fixture, fn: (ch: Channel) => Promise<unknown>, code: RegExp, scope: 'channel' | 'connection'): Promise<void> {
  const conn = await f.client();
  const connClosed = new Promise<Error | undefined>((resolve) => conn.once('close', (e?: Error) => resolve(e)));
  const ch = await conn.createChannel();
  ch.on('error', () => undefined);
  const chClosed = new Promise<void>((resolve) => ch.once('close', () => resolve()));
  const err = await fn(ch).then(() => null, (e: Error) => e);
  await within(chClosed, 'the channel to close');
  if (scope === 'connection') assert.match(String(await within(connClosed, 'the connection to close')), code);
  else assert.match(String(err), code);
}

test('a stream queue is a log: every consumer reads it from its own x-stream-offset, and acks remove nothing', async (t) => {
  const f = await startAmqp(t);
  const conn = await f.client();
  const pub = await conn.createConfirmChannel();
  const ok = await pub.assertQueue('events', STREAM);
  assert.equal(ok.messageCount, 0);
  await publishAll(pub, 'events', ['e0', 'e1', 'e2', 'e3', 'e4']);

  const first = await reader(conn, 'events', 'first');
  await until(() => first.got.length === 5, 'five messages from first');
  assert.deepEqual(bodies(first.got), ['e0', 'e1', 'e2', 'e3', 'e4']);
  assert.deepEqual(offsets(first.got), [0, 1, 2, 3, 4], 'each delivery carries its x-stream-offset');
  // Acked, yet still there for the next reader.
  const again = await reader(conn, 'events', 'first');
  await until(() => again.got.length === 5, 'the same five again');
  const fromTwo = await reader(conn, 'events', 2);
  await until(() => fromTwo.got.length === 3, 'messages from offset 2');
  assert.deepEqual(bodies(fromTwo.got), ['e2', 'e3', 'e4']);
  const last = await reader(conn, 'events', 'last');
  await until(() => last.got.length === 1, 'the last message');
  assert.deepEqual(bodies(last.got), ['e4']);
  const next = await reader(conn, 'events', 'next');
  const dflt = await reader(conn, 'events', undefined);
  const epoch = await reader(conn, 'events', { '!': 'timestamp', value: 0 });
  const future = await reader(conn, 'events', { '!': 'timestamp', value: Math.floor(Date.now() / 1000) + 3600 });
  const interval = await reader(conn, 'events', '1h');
  await until(() => epoch.got.length === 5 && interval.got.length === 5, 'timestamp 0 and 1h ago read everything');
  assert.equal(next.got.length + dflt.got.length + future.got.length, 0, 'next, default and a future timestamp wait for new messages');

  await publishAll(pub, 'events', ['e5']);
  for (const r of [first, again, fromTwo, last, next, dflt, epoch, future, interval]) await until(() => r.got.at(-1)?.content.toString() === 'e5', 'the new message');
  assert.deepEqual(offsets(next.got), [5]);
  assert.deepEqual(bodies(dflt.got), ['e5']);
  assert.equal((await pub.checkQueue('events')).messageCount, 6, 'the log still holds every message');
  assert.equal((await pub.checkQueue('events')).consumerCount, 9);
});

test('stream consumers need a prefetch and flow by credit: an ack lets the next message through', async (t) => {
  const f = await startAmqp(t);
  const conn = await f.client();
  const pub = await conn.createConfirmChannel();
  await pub.assertQueue('credit', STREAM);
  await publishAll(pub, 'credit', ['c0', 'c1', 'c2', 'c3']);
  const r = await reader(conn, 'credit', 'first', { prefetch: 2, ack: false });
  await until(() => r.got.length === 2, 'the first two (prefetch 2)');
  await r.ch.checkQueue('credit');
  assert.equal(r.got.length, 2, 'no more than the prefetch without acks');
  r.ch.ack(r.got[0]);
  await until(() => r.got.length === 3, 'one more after one ack');
  r.ch.ackAll();
  await until(() => r.got.length === 4, 'the rest after acking all');
  assert.deepEqual(bodies(r.got), ['c0', 'c1', 'c2', 'c3']);

  await expectClosed(f, async (ch) => ch.consume('credit', () => undefined, { arguments: { 'x-stream-offset': 'first' } }), /406|PRECONDITION_FAILED/, 'channel');
  await expectClosed(f, async (ch) => {
    await ch.prefetch(5);
    await ch.consume('credit', () => undefined, { arguments: { 'x-stream-offset': 'somewhere' } });
  }, /406|PRECONDITION_FAILED/, 'channel');
});

test('RabbitMQ refusals on a stream: non-durable or classic-only arguments 406; basic.get, purge, no-ack and nack 540', async (t) => {
  const f = await startAmqp(t);
  const setup = await (await f.client()).createConfirmChannel();
  await setup.assertQueue('strict', STREAM);
  await publishAll(setup, 'strict', ['s0']);
  await expectClosed(f, (ch) => ch.assertQueue('bad1', { durable: false, arguments: { 'x-queue-type': 'stream' } }), /406|PRECONDITION_FAILED/, 'channel');
  await expectClosed(f, (ch) => ch.assertQueue('bad2', { durable: true, arguments: { 'x-queue-type': 'stream', 'x-max-length': 10 } }), /406|PRECONDITION_FAILED/, 'channel');
  await expectClosed(f, (ch) => ch.assertQueue('bad3', { durable: true, arguments: { 'x-queue-type': 'stream', 'x-max-age': '10 minutes' } }), /406|PRECONDITION_FAILED/, 'channel');
  await expectClosed(f, (ch) => ch.assertQueue('strict', { durable: true }), /406|PRECONDITION_FAILED/, 'channel');
  await expectClosed(f, (ch) => ch.get('strict'), /540|NOT_IMPLEMENTED/, 'connection');
  await expectClosed(f, (ch) => ch.purgeQueue('strict'), /540|NOT_IMPLEMENTED/, 'connection');
  await expectClosed(f, async (ch) => {
    await ch.prefetch(5);
    await ch.consume('strict', () => undefined, { noAck: true });
  }, /540|NOT_IMPLEMENTED/, 'connection');
  await expectClosed(f, async (ch) => {
    await ch.prefetch(5);
    const m = await new Promise<ConsumeMessage>((resolve) => void ch.consume('strict', (msg) => msg && resolve(msg), { arguments: { 'x-stream-offset': 'first' } }));
    ch.nack(m, false, true);
    await ch.checkQueue('strict');
  }, /540|NOT_IMPLEMENTED/, 'connection');
  assert.equal((await setup.checkQueue('strict')).messageCount, 1);
});

test('a stream survives a restart, and its retention (x-max-length-bytes, x-max-age) drops whole old segments', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'trib-amqp-stream-'));
  const args = { durable: true, arguments: { 'x-queue-type': 'stream', 'x-max-length-bytes': 2000, 'x-stream-max-segment-size-bytes': 500 } };
  const aged = { durable: true, arguments: { 'x-queue-type': 'stream', 'x-max-age': '1h', 'x-stream-max-segment-size-bytes': 500 } };
  const payload = 'x'.repeat(100);
  {
    const f = await startAmqp(t, { dataDir });
    const ch = await (await f.client()).createConfirmChannel();
    await ch.assertQueue('kept', STREAM);
    await publishAll(ch, 'kept', ['k0', 'k1']);
    await ch.assertQueue('bounded', args);
    await ch.assertQueue('aged', aged);
    await publishAll(ch, 'bounded', Array.from({ length: 60 }, (_, i) => `${i}:${payload}`));
    await publishAll(ch, 'aged', Array.from({ length: 30 }, (_, i) => `${i}:${payload}`));
    await f.stop();
  }
  const f = await startAmqp(t, { dataDir });
  const conn = await f.client();
  const ch = await conn.createChannel();
  await ch.assertQueue('kept', STREAM);
  const r = await reader(conn, 'kept', 'first');
  await until(() => r.got.length === 2, 'the log after a restart');
  assert.deepEqual(bodies(r.got), ['k0', 'k1']);

  await f.broker.runRetention();
  const bounded = await ch.assertQueue('bounded', args);
  assert.ok(bounded.messageCount < 60, `retention by bytes dropped old segments (${bounded.messageCount} left)`);
  assert.ok(bounded.messageCount > 0);
  const b = await reader(conn, 'bounded', 'first');
  await until(() => b.got.length === bounded.messageCount, 'what retention kept');
  assert.equal(b.got[0].properties.headers?.['x-stream-offset'], 60 - bounded.messageCount, 'first is the oldest offset kept');
  assert.equal((await ch.assertQueue('aged', aged)).messageCount, 30, 'nothing is an hour old yet');
  await f.broker.runRetention(Date.now() + 2 * 3_600_000);
  assert.ok((await ch.assertQueue('aged', aged)).messageCount < 30, 'two hours later the old segments are gone');
  await f.stop();
  await rm(dataDir, { recursive: true, force: true });
});
