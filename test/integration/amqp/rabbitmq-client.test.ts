/**
 * rabbitmq-client 5.0.8, unmodified, against the AMQP listener: its Connection, Publisher (confirm mode),
 * Consumer (concurrency and prefetch, requeue when the handler throws), RPCClient (direct reply-to) and a
 * consumer replying through a named reply queue, declarations through its API, and its reconnect after a
 * broker restart on the same port and data dir.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, ConsumerStatus, type AsyncMessage } from 'rabbitmq-client';
import { Broker } from '../../../src/core/broker.js';
import { createAmqpListener, type AmqpListener } from '../../../src/protocols/amqp/index.js';
import { captureLogger, collector, startAmqp, within } from './harness.js';

const WAIT_MS = 10_000;

interface Closable {
  close(): Promise<void>;
}

interface Clients {
  /** A rabbitmq-client Connection to `port`, awaited until connected. */
  connect(port: number): Promise<Connection>;
  /** Closed after the test, newest first, before the connections. */
  own<T extends Closable>(c: T): T;
}

/**
 * rabbitmq-client connections and what was created on them, all closed after the test. Call it before
 * startAmqp: after-hooks run in the order they were added, and the clients must close while the broker is up
 * (else they wait for a reconnect).
 */
function rabbitClients(t: TestContext): Clients {
  const conns: Connection[] = [];
  const owned: Closable[] = [];
  t.after(async () => {
    for (const c of owned.reverse()) await within(c.close(), 'rabbitmq-client close', 3000).catch(() => undefined);
    for (const conn of conns) await within(conn.close(), 'rabbitmq-client connection close', 3000).catch(() => conn.unsafeDestroy());
  });
  return {
    async connect(port: number) {
      const conn = new Connection({ url: `amqp://guest:guest@127.0.0.1:${port}`, retryLow: 50, retryHigh: 300, connectionTimeout: WAIT_MS });
      conn.on('error', () => undefined);
      conns.push(conn);
      await within(once(conn, 'connection'), 'rabbitmq-client connection', WAIT_MS);
      return conn;
    },
    own<T extends Closable>(c: T): T {
      owned.push(c);
      return c;
    },
  };
}

test('Publisher with confirms and a Consumer with concurrency 2 and prefetch 4 deliver every message once', async (t) => {
  const { connect, own } = rabbitClients(t);
  const f = await startAmqp(t);
  const conn = await connect(f.port);
  const pub = own(conn.createPublisher({ confirm: true, queues: [{ queue: 'rc-work', durable: true }] }));
  for (let i = 0; i < 20; i++) await within(pub.send({ routingKey: 'rc-work', durable: true, messageId: `m${i}` }, { n: i }), `confirm ${i}`);

  // Started once all twenty wait: prefetch 4 hands over four at once, concurrency 2 runs two of them.
  let active = 0;
  let maxActive = 0;
  const got = collector<AsyncMessage>(20, 'twenty messages');
  const sub = own(conn.createConsumer({ queue: 'rc-work', queueOptions: { durable: true }, qos: { prefetchCount: 4 }, concurrency: 2, lazy: true }, async (msg) => {
    active++;
    maxActive = Math.max(maxActive, active);
    await new Promise((r) => setTimeout(r, 20));
    active--;
    got.push(msg);
  }));
  sub.start();
  await within(once(sub, 'ready'), 'consumer ready', WAIT_MS);

  const msgs = await got.done;
  assert.deepEqual(msgs.map((m) => (m.body as { n: number }).n).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
  assert.ok(msgs.every((m) => m.contentType === 'application/json' && m.durable === true && m.redelivered === false));
  assert.ok(maxActive <= 2, `at most two handlers at once (saw ${maxActive})`);
  assert.equal(maxActive, 2, 'two handlers ran at once');
  await within(
    (async () => {
      while (sub.stats.acknowledged < 20) await new Promise((r) => setTimeout(r, 20));
    })(),
    'acks',
  );
  const q = await conn.queueDeclare({ queue: 'rc-work', passive: true });
  assert.equal(q.messageCount, 0, 'every message was acked');
  assert.equal(q.consumerCount, 1);
});

test('a Consumer handler that throws gets the message again, redelivered; DROP dead-letters it', async (t) => {
  const { connect, own } = rabbitClients(t);
  const f = await startAmqp(t);
  const conn = await connect(f.port);
  await conn.exchangeDeclare({ exchange: 'rc-dlx', type: 'fanout' });
  await conn.queueDeclare({ queue: 'rc-dead' });
  await conn.queueBind({ queue: 'rc-dead', exchange: 'rc-dlx' });
  const seen: Array<{ body: string; redelivered: boolean }> = [];
  const done = collector<string>(1, 'the retried message handled');
  const sub = own(conn.createConsumer(
    { queue: 'rc-retry', queueOptions: { arguments: { 'x-dead-letter-exchange': 'rc-dlx' } }, qos: { prefetchCount: 1 }, requeue: true },
    (msg) => {
      const body = String(msg.body);
      seen.push({ body, redelivered: msg.redelivered });
      if (body === 'poison') return ConsumerStatus.DROP;
      if (!msg.redelivered) throw new Error('first attempt fails');
      done.push(body);
      return ConsumerStatus.ACK;
    },
  ));
  sub.on('error', () => undefined);
  await within(once(sub, 'ready'), 'consumer ready', WAIT_MS);
  const pub = own(conn.createPublisher({ confirm: true }));
  await pub.send('rc-retry', 'retry-me');
  await done.done;
  assert.deepEqual(seen, [
    { body: 'retry-me', redelivered: false },
    { body: 'retry-me', redelivered: true },
  ]);
  assert.equal(sub.stats.requeued, 1);

  await pub.send('rc-retry', 'poison');
  const dead = await within(
    (async () => {
      for (;;) {
        const m = await conn.basicGet({ queue: 'rc-dead', noAck: true });
        if (m !== undefined) return m;
        await new Promise((r) => setTimeout(r, 20));
      }
    })(),
    'the dropped message in the dead-letter queue',
  );
  assert.equal(String(dead.body), 'poison');
  const death = (dead.headers?.['x-death'] as Array<{ reason: string; queue: string }>)[0];
  assert.equal(death.reason, 'rejected');
  assert.equal(death.queue, 'rc-retry');
  assert.equal(sub.stats.dropped, 1);
});

test('RPCClient requests over direct reply-to are answered by a Consumer reply()', async (t) => {
  const { connect, own } = rabbitClients(t);
  const f = await startAmqp(t);
  const conn = await connect(f.port);
  const server = own(conn.createConsumer({ queue: 'rc-rpc', queueOptions: { exclusive: true } }, async (req, reply) => {
    assert.ok(req.replyTo?.startsWith('amq.rabbitmq.reply-to.'), `direct reply-to address (${req.replyTo})`);
    await reply({ echo: req.body, id: req.correlationId });
  }));
  await within(once(server, 'ready'), 'rpc server ready', WAIT_MS);

  const client = own(conn.createRPCClient({ confirm: true, timeout: WAIT_MS }));
  const replies = await Promise.all([1, 2, 3].map((n) => within(client.send('rc-rpc', { n }), `reply ${n}`)));
  for (const [i, res] of replies.entries()) {
    const body = res.body as { echo: { n: number }; id: string };
    assert.deepEqual(body.echo, { n: i + 1 });
    assert.equal(body.id, res.correlationId, 'the reply carries the request correlation id');
  }
  assert.equal(new Set(replies.map((r) => r.correlationId)).size, 3);
  // The replies were not stored: nothing is left anywhere, and the pseudo-queue is no declarable queue.
  const q = await conn.queueDeclare({ queue: 'rc-rpc', passive: true });
  assert.equal(q.messageCount, 0);
});

test('a request with reply_to naming a queue is answered into that queue', async (t) => {
  const { connect, own } = rabbitClients(t);
  const f = await startAmqp(t);
  const conn = await connect(f.port);
  const server = own(conn.createConsumer({ queue: 'rc-rpc-named' }, async (req, reply) => {
    await reply(`pong:${String(req.body)}`, { headers: { handled: true } });
  }));
  await within(once(server, 'ready'), 'rpc server ready', WAIT_MS);
  const answers = collector<AsyncMessage>(2, 'two replies');
  const replies = own(conn.createConsumer({ queue: 'rc-replies', queueOptions: { exclusive: true }, noAck: true }, (m) => answers.push(m)));
  await within(once(replies, 'ready'), 'reply consumer ready', WAIT_MS);
  const pub = own(conn.createPublisher({ confirm: true }));
  await pub.send({ routingKey: 'rc-rpc-named', replyTo: 'rc-replies', correlationId: 'c-1' }, 'ping1');
  await pub.send({ routingKey: 'rc-rpc-named', replyTo: 'rc-replies', correlationId: 'c-2' }, 'ping2');
  const got = (await answers.done).sort((a, b) => String(a.correlationId).localeCompare(String(b.correlationId)));
  assert.deepEqual(got.map((m) => [m.correlationId, String(m.body), m.headers?.handled, m.routingKey, m.exchange]), [
    ['c-1', 'pong:ping1', true, 'rc-replies', ''],
    ['c-2', 'pong:ping2', true, 'rc-replies', ''],
  ]);
});

test('declarations through the Connection API: queue arguments, exchange-to-exchange bindings, delete', async (t) => {
  const { connect, own } = rabbitClients(t);
  const f = await startAmqp(t);
  const conn = await connect(f.port);
  const q = await conn.queueDeclare({ queue: 'rc-args', durable: true, arguments: { 'x-max-length': 2, 'x-message-ttl': 60_000 } });
  assert.deepEqual(q, { queue: 'rc-args', messageCount: 0, consumerCount: 0 });
  const named = await conn.queueDeclare({ exclusive: true });
  assert.match(named.queue, /^amq\.gen-/);
  await conn.exchangeDeclare({ exchange: 'rc-source', type: 'topic' });
  await conn.exchangeDeclare({ exchange: 'rc-dest', type: 'direct' });
  await conn.exchangeBind({ source: 'rc-source', destination: 'rc-dest', routingKey: 'k' });
  await conn.queueBind({ queue: 'rc-args', exchange: 'rc-dest', routingKey: 'k' });
  await conn.queueBind({ queue: named.queue, exchange: 'rc-source', routingKey: '#' });

  const pub = own(conn.createPublisher({ confirm: true }));
  for (const body of ['one', 'two', 'three']) await pub.send({ exchange: 'rc-source', routingKey: 'k' }, body);
  await pub.send({ exchange: 'rc-source', routingKey: 'other' }, 'four');

  // x-max-length 2 dropped the head; the exchange binding forwarded only routing key 'k'.
  const counted = await conn.queueDeclare({ queue: 'rc-args', durable: true, arguments: { 'x-max-length': 2, 'x-message-ttl': 60_000 }, passive: true });
  assert.equal(counted.messageCount, 2);
  const first = await conn.basicGet({ queue: 'rc-args', noAck: true });
  assert.equal(String(first?.body), 'two');
  assert.equal(first?.exchange, 'rc-source');
  assert.equal((await conn.queueDeclare({ queue: named.queue, passive: true })).messageCount, 4);

  // Inequivalent redeclare: a channel error surfaced as a rejected promise with RabbitMQ's code.
  await assert.rejects(conn.queueDeclare({ queue: 'rc-args', durable: true, arguments: { 'x-max-length': 3 } }), (err: { code?: string }) => err.code === 'PRECONDITION_FAILED');
  await conn.exchangeUnbind({ source: 'rc-source', destination: 'rc-dest', routingKey: 'k' });
  await pub.send({ exchange: 'rc-source', routingKey: 'k' }, 'five');
  assert.equal((await conn.queueDeclare({ queue: 'rc-args', passive: true })).messageCount, 1, 'unbound: nothing more arrives');
  const deleted = await conn.queueDelete({ queue: 'rc-args' });
  assert.equal(deleted.messageCount, 1);
  await conn.exchangeDelete({ exchange: 'rc-dest' });
  await assert.rejects(conn.exchangeDeclare({ exchange: 'rc-dest', passive: true }), (err: { code?: string }) => err.code === 'NOT_FOUND');
});

test('after a broker restart the Connection reconnects and its Consumer and Publisher resume', async (t) => {
  const { connect, own } = rabbitClients(t);
  // The data dir outlives both brokers: removed after the second one closed.
  const dataDir = await mkdtemp(join(tmpdir(), 'trib-amqp-rc-'));
  let restarted: { listener: AmqpListener; broker: Broker } | null = null;
  t.after(async () => {
    if (restarted !== null) {
      await restarted.listener.close();
      await restarted.broker.close();
    }
    await rm(dataDir, { recursive: true, force: true });
  });
  const f = await startAmqp(t, { dataDir });
  const conn = await connect(f.port);
  const got: string[] = [];
  let waiter: { n: number; resolve: () => void } | null = null;
  const sub = own(conn.createConsumer({ queue: 'rc-durable', queueOptions: { durable: true } }, (m) => {
    got.push(String(m.body));
    if (waiter !== null && got.length >= waiter.n) waiter.resolve();
  }));
  sub.on('error', () => undefined);
  const until = (n: number): Promise<void> =>
    within(new Promise<void>((resolve) => (got.length >= n ? resolve() : (waiter = { n, resolve }))), `${n} messages`, WAIT_MS * 2);
  await within(once(sub, 'ready'), 'consumer ready', WAIT_MS);
  const pub = own(conn.createPublisher({ confirm: true, maxAttempts: 5 }));
  pub.on('retry', () => undefined);
  await pub.send({ routingKey: 'rc-durable', durable: true }, 'before');
  await until(1);
  // The handler returned: the Consumer acks; wait until the broker has it, so 'before' is not redelivered.
  const queue = (await f.listener.queues()).get('rc-durable')!;
  await within(
    (async () => {
      while (sub.stats.acknowledged < 1 || queue.cursor.inFlightCount > 0) await new Promise((r) => setTimeout(r, 10));
    })(),
    'the ack of the first message',
  );

  // Restart: same data dir, same port.
  await f.stop();
  const broker = await Broker.open({ dataDir: f.dataDir, fsync: 'always', fsyncIntervalMs: 1000 });
  const listener = createAmqpListener({ broker, logger: captureLogger().logger });
  restarted = { listener, broker };
  const reconnected = within(once(conn, 'connection'), 'reconnect', WAIT_MS * 2);
  await listener.listen('127.0.0.1', f.port);
  await reconnected;
  await within(once(sub, 'ready'), 'consumer ready again', WAIT_MS * 2);
  await within(pub.send({ routingKey: 'rc-durable', durable: true }, 'after'), 'publish after restart', WAIT_MS * 2);
  await until(2);
  assert.deepEqual(got, ['before', 'after']);
  const q = await conn.queueDeclare({ queue: 'rc-durable', durable: true, passive: true });
  assert.equal(q.consumerCount, 1);
});
