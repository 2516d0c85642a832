/**
 * Crash and restart survival of AMQP state on the real binary (`tributary serve`, fsync=always by default),
 * driven by amqplib: SIGKILL during a pipelined confirmed publish, SIGKILL with deliveries in flight, and a clean
 * SIGTERM restart with durable and transient topology.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type Channel, type ChannelModel, type ConsumeMessage, type Message } from 'amqplib';
import { EPHEMERAL, serveProcess, type Tributary } from '../../support/tributary-process.js';
import { collector, within } from './harness.js';

const WAIT_MS = 20_000;

interface Node {
  proc: Tributary;
  url: string;
  http: string;
  conns: ChannelModel[];
  connect(): Promise<ChannelModel>;
}

/** A temp data dir removed after the test, and every broker process started on it killed. */
async function dataDir(t: TestContext): Promise<{ dir: string; start(): Promise<Node> }> {
  const dir = await mkdtemp(join(tmpdir(), 'trib-amqp-crash-'));
  const nodes: Node[] = [];
  t.after(async () => {
    for (const n of nodes) {
      for (const c of n.conns) await within(c.close(), 'amqplib close', 2000).catch(() => undefined);
      n.proc.kill('SIGKILL');
      await n.proc.waitForExit().catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
  });
  return {
    dir,
    async start() {
      const proc = serveProcess(dir, ['--data-dir', dir, ...EPHEMERAL]);
      const ports = await proc.ports();
      const node: Node = {
        proc,
        url: `amqp://guest:guest@127.0.0.1:${ports.amqp}`,
        http: `http://127.0.0.1:${ports.http}`,
        conns: [],
        async connect() {
          const c = await within(amqp.connect(node.url), 'amqplib connect', WAIT_MS);
          c.on('error', () => undefined);
          node.conns.push(c);
          return c;
        },
      };
      nodes.push(node);
      return node;
    },
  };
}

/** Everything left in `queue`: consumed (prefetch 500, acked) until the queue reports no more ready messages. */
async function drain(ch: Channel, queue: string): Promise<ConsumeMessage[]> {
  const { messageCount } = await ch.checkQueue(queue);
  const got = collector<ConsumeMessage>(messageCount, `${messageCount} messages from ${queue}`);
  await ch.prefetch(500);
  const { consumerTag } = await ch.consume(queue, (m) => {
    if (m === null) return;
    got.push(m);
    ch.ack(m);
  });
  const all = messageCount === 0 ? [] : await within(got.done, `draining ${queue}`, WAIT_MS);
  await ch.cancel(consumerTag);
  // Nothing beyond what the count said (a duplicate would have arrived with the others).
  assert.equal(await ch.get(queue), false, `${queue} is empty after the drain`);
  return all;
}

const seqOf = (m: Message): number => Number(m.content.toString('utf8').slice(4));

/**
 * Record batches the broker has made durable, from `tributary_appends_total` (/metrics; counted after the write
 * and its fsync). On an otherwise idle broker the cursor store's writes are the only appends, so this is the one
 * signal that a consumer's acks and deliveries were persisted: AMQP confirms publishes, never acks.
 */
async function durableAppends(node: Node): Promise<number> {
  const res = await fetch(`${node.http}/metrics`);
  assert.equal(res.status, 200);
  const line = (await res.text()).split('\n').find((l) => l.startsWith('tributary_appends_total '));
  assert.ok(line !== undefined, 'the metrics have tributary_appends_total');
  return Number(line.slice(line.indexOf(' ') + 1));
}

/** Waits until the broker has made an append durable past `from`, then stayed still for a while (nothing pending). */
async function appendsSettled(node: Node, from: number): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  let last = -1;
  let stableSince = 0;
  for (;;) {
    const hw = await durableAppends(node);
    if (hw > from && hw === last) {
      if (Date.now() - stableSince >= 300) return;
    } else {
      last = hw;
      stableSince = Date.now();
    }
    if (Date.now() > deadline) throw new Error(`appends did not settle (${hw}, from ${from})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('every confirmed persistent message survives SIGKILL during a pipelined publish, once and in order', async (t) => {
  const d = await dataDir(t);
  const a = await d.start();
  const conn = await a.connect();
  const ch = await conn.createConfirmChannel();
  ch.on('error', () => undefined);
  await ch.assertQueue('crash-orders', { durable: true });

  const TOTAL = 50_000;
  const WINDOW = 500;
  const KILL_AFTER = 3_000;
  const confirmed = new Set<number>();
  const nacked = new Set<number>();
  let sent = 0;
  let inFlight = 0;
  let killed = false;
  let wake: (() => void) | null = null;
  const killedAt = new Promise<void>((resolve) => {
    const publishMore = (): void => {
      while (!killed && inFlight < WINDOW && sent < TOTAL) {
        const seq = ++sent;
        inFlight++;
        try {
          ch.publish('', 'crash-orders', Buffer.from(`msg-${seq}`), { persistent: true }, (err) => {
            inFlight--;
            if (err === null || err === undefined) confirmed.add(seq);
            else if (!killed) nacked.add(seq); // after the kill amqplib fails every outstanding publish
            if (!killed && confirmed.size >= KILL_AFTER) {
              // Mid-load: hundreds of publishes are still in flight.
              killed = true;
              a.proc.kill('SIGKILL');
              resolve();
            }
            wake?.();
          });
        } catch {
          return; // the channel closed under us
        }
      }
    };
    wake = publishMore;
    publishMore();
  });
  await within(killedAt, 'the kill point', WAIT_MS * 3);
  assert.equal(await a.proc.waitForExit(), null, 'the broker died by the signal');
  assert.ok(sent > confirmed.size, `publishes were in flight at the kill (${sent} sent, ${confirmed.size} confirmed)`);
  assert.equal(nacked.size, 0, 'no publish was nacked before the kill');
  const highestConfirmed = Math.max(...confirmed);

  const b = await d.start();
  const rx = await (await b.connect()).createChannel();
  const got = await drain(rx, 'crash-orders');
  const seqs = got.map(seqOf);
  assert.equal(new Set(seqs).size, seqs.length, 'no message is delivered twice');
  for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i - 1] < seqs[i], `order kept: ${seqs[i - 1]} before ${seqs[i]}`);
  const missing = [...confirmed].filter((s) => !seqs.includes(s));
  assert.deepEqual(missing, [], 'every confirmed message is present');
  for (const s of seqs) assert.ok(s >= 1 && s <= sent, `only published messages (${s})`);
  // Appends happen in publish order, so the survivors are a prefix of what was sent.
  assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1));
  assert.ok(seqs.length >= highestConfirmed);
  assert.ok(got.every((m) => !m.fields.redelivered && m.properties.deliveryMode === 2), 'never delivered before; persistent');
});

test('after SIGKILL, deliveries in flight come back redelivered and persisted acks are not redelivered', async (t) => {
  const d = await dataDir(t);
  const a = await d.start();
  const conn = await a.connect();
  const pub = await conn.createConfirmChannel();
  await pub.assertQueue('crash-work', { durable: true });
  for (let i = 1; i <= 100; i++) pub.sendToQueue('crash-work', Buffer.from(`job-${i}`), { persistent: true });
  await within(pub.waitForConfirms(), 'publisher confirms', WAIT_MS);

  // basic.get takes jobs 1-40 (no consumer, so nothing else is delivered); 1-30 are acked, 31-40 held.
  const worker = await conn.createChannel();
  const held: Message[] = [];
  for (let i = 0; i < 40; i++) {
    const m = await worker.get('crash-work');
    assert.ok(m !== false, `job ${i + 1} is there`);
    held.push(m as Message);
  }
  assert.deepEqual(held.map(seqOf), Array.from({ length: 40 }, (_, i) => i + 1));
  const before = await durableAppends(a);
  worker.ack(held[29], true);
  // A round trip on the same channel: the broker has applied the ack (methods of a channel run in order).
  assert.equal((await worker.checkQueue('crash-work')).messageCount, 60, '100 - 30 acked - 10 in flight');
  // AMQP has no confirm for an ack: wait until the cursor store wrote past them and has nothing more to write.
  await appendsSettled(a, before);
  a.proc.kill('SIGKILL');
  assert.equal(await a.proc.waitForExit(), null);

  const b = await d.start();
  const rx = await (await b.connect()).createChannel();
  const got = await drain(rx, 'crash-work');
  const seqs = got.map(seqOf);
  assert.equal(new Set(seqs).size, seqs.length, 'no message is delivered twice');
  // Nothing acked before the kill is lost either way: 31-100 are all there.
  for (let s = 31; s <= 100; s++) assert.ok(seqs.includes(s), `job ${s} survives`);
  assert.deepEqual(seqs, Array.from({ length: 70 }, (_, i) => i + 31), 'acked jobs are not redelivered; the rest in order');
  for (const m of got) {
    const s = seqOf(m);
    assert.equal(m.fields.redelivered, s <= 40, s <= 40 ? `job ${s} was in flight at the kill` : `job ${s} was never delivered`);
  }
});

test('a clean restart (SIGTERM) keeps durable queues, exchanges, bindings and persistent messages; transient queues go', async (t) => {
  const d = await dataDir(t);
  const a = await d.start();
  const ch = await (await a.connect()).createConfirmChannel();
  await ch.assertExchange('restart-events', 'topic', { durable: true });
  await ch.assertExchange('restart-fanin', 'fanout', { durable: true });
  await ch.bindExchange('restart-events', 'restart-fanin', '');
  await ch.assertQueue('restart-orders', { durable: true, arguments: { 'x-max-priority': 3 } });
  await ch.bindQueue('restart-orders', 'restart-events', 'orders.*');
  await ch.assertQueue('restart-scratch', { durable: false });
  await ch.bindQueue('restart-scratch', 'restart-events', 'orders.*');
  for (let i = 1; i <= 5; i++) ch.publish('restart-events', 'orders.created', Buffer.from(`before-${i}`), { persistent: true, headers: { n: i } });
  await within(ch.waitForConfirms(), 'confirms', WAIT_MS);
  a.proc.kill('SIGTERM');
  assert.equal(await a.proc.waitForExit(), 0, 'a clean shutdown exits 0');

  const b = await d.start();
  const conn = await b.connect();
  const ch2 = await conn.createConfirmChannel();
  // Passive declares succeed only for what survived.
  await ch2.checkExchange('restart-events');
  await ch2.checkExchange('restart-fanin');
  const orders = await ch2.checkQueue('restart-orders');
  assert.equal(orders.messageCount, 5);
  const probe = await conn.createChannel();
  probe.on('error', () => undefined);
  await assert.rejects(probe.checkQueue('restart-scratch'), /404/, 'the transient queue is gone');
  // Queue arguments survive: redeclaring without x-max-priority is inequivalent.
  const strict = await conn.createChannel();
  strict.on('error', () => undefined);
  await assert.rejects(strict.assertQueue('restart-orders', { durable: true }), /406/);
  // Both bindings survive: a publish through the fan-in exchange reaches the queue via restart-events.
  ch2.publish('restart-fanin', 'orders.paid', Buffer.from('after-1'), { persistent: true, headers: { n: 6 } });
  ch2.publish('restart-events', 'invoices.paid', Buffer.from('unrouted'), { persistent: true });
  await within(ch2.waitForConfirms(), 'confirms after restart', WAIT_MS);
  const got = await drain(ch2, 'restart-orders');
  assert.deepEqual(got.map((m) => m.content.toString()), ['before-1', 'before-2', 'before-3', 'before-4', 'before-5', 'after-1']);
  assert.deepEqual(got.map((m) => m.properties.headers?.n), [1, 2, 3, 4, 5, 6]);
  assert.ok(got.every((m) => m.properties.deliveryMode === 2), 'persistent');
  assert.deepEqual(got.map((m) => m.fields.exchange), [...Array<string>(5).fill('restart-events'), 'restart-fanin']);
  assert.deepEqual(got.map((m) => m.fields.routingKey), ['orders.created', 'orders.created', 'orders.created', 'orders.created', 'orders.created', 'orders.paid']);
});
