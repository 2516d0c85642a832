/**
 * Durability and delivery of AMQP queues (docs/amqp.md "Durability and delivery"): a durable classic queue's
 * log has visibility 'written' (consumers see a message once written, before its fsync; confirms wait for the
 * fsync), a transient queue's cursor writes nothing to `__cursors`, and on the real binary every message a
 * consumer saw, and every confirmed one, survives kill -9.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type ChannelModel, type ConsumeMessage } from 'amqplib';
import { ANONYMOUS } from '../../../src/core/principal.js';
import { streamNameForQueue } from '../../../src/core/queue-registry.js';
import { EPHEMERAL, serveProcess, type Tributary } from '../../support/tributary-process.js';
import { collector, startAmqp, within } from '../../integration/amqp/harness.js';

const WAIT_MS = 20_000;

test('a durable classic queue is read before fsync; a stream queue and other streams are not', async (t) => {
  const f = await startAmqp(t);
  const ch = await (await f.client()).createChannel();
  await ch.assertQueue('classic-q', { durable: true });
  await ch.assertQueue('stream-q', { durable: true, arguments: { 'x-queue-type': 'stream' } });
  assert.equal(f.broker.stream(streamNameForQueue('classic-q'))!.configValue('visibility'), 'written');
  assert.equal(f.broker.stream(streamNameForQueue('stream-q'))!.configValue('visibility'), 'durable');
  // And the message still arrives, confirmed.
  const conf = await (await f.client()).createConfirmChannel();
  conf.sendToQueue('classic-q', Buffer.from('hello'), { persistent: true });
  await within(conf.waitForConfirms(), 'the confirm');
  const m = await within(ch.get('classic-q', { noAck: true }), 'basic.get');
  assert.ok(m !== false);
  assert.equal(m.content.toString(), 'hello');
});

test('a classic queue declared before visibility existed gets it at the next start', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'trib-amqp-visibility-'));
  const first = await startAmqp(t, { dataDir });
  const ch = await (await first.client()).createChannel();
  await ch.assertQueue('old-q', { durable: true });
  const stream = streamNameForQueue('old-q');
  // What an earlier version persisted: no visibility config.
  await first.broker.alterStreamConfigs(ANONYMOUS, stream, { visibility: null });
  assert.equal(first.broker.stream(stream)!.configValue('visibility'), 'durable');
  await first.stop();
  const second = await startAmqp(t, { dataDir });
  // Registered last so it runs after both fixtures' cleanup.
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  // The registry opens with the listener; a round trip makes sure it has.
  await (await (await second.client()).createChannel()).checkQueue('old-q');
  assert.equal(second.broker.stream(stream)!.configValue('visibility'), 'written');
});

test('a transient queue writes no cursor state: its deliveries and acks append nothing to file logs', async (t) => {
  let fileAppends = 0;
  const f = await startAmqp(t, { broker: { storageObserver: { onAppend: () => fileAppends++ } } });
  const conn = await f.client();
  const ch = await conn.createChannel();
  await ch.assertQueue('transient-q', { durable: false });
  const got = collector<ConsumeMessage>(200, '200 transient messages');
  await ch.prefetch(50);
  await ch.consume('transient-q', (m) => {
    if (m === null) return;
    got.push(m);
    ch.ack(m);
  });
  // The consumer's registration is done (consume-ok came back); from here only messages flow.
  await f.broker.cursorStore.flush();
  const before = fileAppends;
  assert.ok(before > 0, 'the observer sees file appends (the metadata of the declare)');
  for (let i = 0; i < 200; i++) ch.sendToQueue('transient-q', Buffer.from(`m${i}`));
  const all = await got.done;
  assert.deepEqual(all.map((m) => m.content.toString()), Array.from({ length: 200 }, (_, i) => `m${i}`));
  // A round trip after the last ack: the channel applied every ack before answering.
  assert.equal((await ch.checkQueue('transient-q')).messageCount, 0);
  await f.broker.cursorStore.flush();
  assert.equal(fileAppends, before, 'no append to __cursors (or any file log) for a transient queue');
});

test('every message a consumer saw, and every confirmed one, survives kill -9', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'trib-amqp-seen-'));
  const procs: Tributary[] = [];
  const conns: ChannelModel[] = [];
  t.after(async () => {
    for (const c of conns) await within(c.close(), 'amqplib close', 2000).catch(() => undefined);
    for (const p of procs) {
      p.kill('SIGKILL');
      await p.waitForExit().catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
  });
  const start = async (): Promise<{ proc: Tributary; connect(): Promise<ChannelModel> }> => {
    const proc = serveProcess(dir, ['--data-dir', dir, ...EPHEMERAL]);
    procs.push(proc);
    const { amqp: port } = await proc.ports();
    return {
      proc,
      async connect() {
        const c = await within(amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`), 'amqplib connect', WAIT_MS);
        c.on('error', () => undefined);
        conns.push(c);
        return c;
      },
    };
  };

  const a = await start();
  const pub = await (await a.connect()).createConfirmChannel();
  pub.on('error', () => undefined);
  await pub.assertQueue('seen-q', { durable: true });
  const sub = await (await a.connect()).createChannel();
  sub.on('error', () => undefined);
  // Unlimited prefetch and never an ack: everything the consumer sees stays in the queue across the crash.
  const seen = new Set<number>();
  await sub.consume('seen-q', (m) => {
    if (m !== null) seen.add(Number(m.content.toString().slice(4)));
  });

  const WINDOW = 500;
  const KILL_AFTER_SEEN = 3_000;
  const confirmed = new Set<number>();
  let sent = 0;
  let inFlight = 0;
  let killed = false;
  const killedAt = new Promise<void>((resolve) => {
    const publishMore = (): void => {
      while (!killed && inFlight < WINDOW) {
        const seq = ++sent;
        inFlight++;
        try {
          pub.publish('', 'seen-q', Buffer.from(`msg-${seq}`), { persistent: true }, (err) => {
            inFlight--;
            if (err === null || err === undefined) confirmed.add(seq);
            if (!killed && seen.size >= KILL_AFTER_SEEN) {
              killed = true;
              a.proc.kill('SIGKILL');
              resolve();
            }
            publishMore();
          });
        } catch {
          return; // the channel closed under us
        }
      }
    };
    publishMore();
  });
  await within(killedAt, 'the kill point', WAIT_MS * 3);
  assert.equal(await a.proc.waitForExit(), null, 'the broker died by the signal');
  const seenAtKill = [...seen];

  const b = await start();
  const rx = await (await b.connect()).createChannel();
  const { messageCount } = await rx.checkQueue('seen-q');
  const after = collector<ConsumeMessage>(messageCount, `${messageCount} messages after the restart`);
  await rx.prefetch(1000);
  await rx.consume('seen-q', (m) => {
    if (m === null) return;
    after.push(m);
    rx.ack(m);
  });
  const survivors = new Set((await within(after.done, 'the drain', WAIT_MS)).map((m) => Number(m.content.toString().slice(4))));
  assert.deepEqual(seenAtKill.filter((s) => !survivors.has(s)), [], 'every message a consumer saw is still there');
  assert.deepEqual([...confirmed].filter((s) => !survivors.has(s)), [], 'every confirmed message is still there');
  assert.ok(seenAtKill.length >= KILL_AFTER_SEEN);
});
