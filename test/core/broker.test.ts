import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker, DEAD_LETTER_HEADERS, type BrokerOptions, type DeliveryTarget } from '../../src/core/broker.js';
import { ANONYMOUS } from '../../src/core/principal.js';
import { isBrokerError } from '../../src/core/broker-error.js';
import type { Delivery } from '../../src/core/cursor/cursor-state.js';
import type { Message } from '../../src/core/message.js';

/** Brokers opened on each temp dir, closed before the dir is removed (after-hooks run in order). */
const opened = new Map<string, Broker[]>();

async function dataDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'trib-broker-'));
  opened.set(dir, []);
  t.after(async () => {
    for (const b of opened.get(dir)!) await b.close();
    opened.delete(dir);
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

async function openBroker(t: TestContext, dir: string, extra: Partial<BrokerOptions> = {}): Promise<Broker> {
  const broker = await Broker.open({ dataDir: dir, fsync: 'always', fsyncIntervalMs: 1000, ...extra });
  opened.get(dir)!.push(broker);
  return broker;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function message(subject: string, value: string, key: string | null = null): Message {
  return { subject, key: key === null ? null : Buffer.from(key), value: Buffer.from(value), headers: [], timestamp: Date.now() };
}

/** A consumer context that collects deliveries and resolves once `n` have arrived. */
function collector(n: number): DeliveryTarget & { got: Delivery[]; done: Promise<void> } {
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  const got: Delivery[] = [];
  return {
    got,
    done,
    deliver(d: Delivery) {
      got.push(d);
      if (got.length === n) resolve();
    },
  };
}

test('streams, cursors and users persist across a broker restart', async (t) => {
  const dir = await dataDir(t);
  const first = await openBroker(t, dir);
  await first.createStream(ANONYMOUS, { name: 'orders', partitions: 3, subjects: ['orders.>'], configs: { 'retention.ms': '3600000' } });
  await first.createCursor(ANONYMOUS, { stream: 'orders', name: 'billing', partitions: [0, 1, 2] });
  await first.users.create('alice', 'wonderland');
  await first.close();

  const second = await openBroker(t, dir);
  const orders = second.requireStream('orders');
  assert.equal(orders.partitionCount, 3);
  assert.deepEqual(orders.subjects.includes('orders.>'), true);
  assert.equal(orders.configValue('retention.ms'), '3600000');
  assert.ok(second.cursor('orders', 'billing'));
  const principal = await second.users.authenticate('alice', 'wonderland', '10.0.0.1');
  assert.equal(principal.name, 'alice');
});

test('a publish reaches live subscribers at once and resolves after every capturing stream stored it', async (t) => {
  const broker = await openBroker(t, await dataDir(t));
  await broker.createStream(ANONYMOUS, { name: 'sensors', subjects: ['sensors.>'] });
  const live: string[] = [];
  broker.router.subscribe('sensors.*', (m) => live.push(m.subject));
  const result = await broker.publish(ANONYMOUS, message('sensors.t1', '21.5'));
  assert.equal(result.deliveries, 1);
  assert.deepEqual(live, ['sensors.t1']);
  assert.equal(result.stored.length, 1);
  const stored = await broker.requireStream('sensors').readMessages(0, 0, 1 << 20);
  assert.equal(stored.length, 1);
  assert.equal(stored[0].message.subject, 'sensors.t1', 'the subject survives storage');
  assert.equal(stored[0].message.value!.toString(), '21.5');
});

test('acked records are never redelivered after a restart; unacked ones are, marked redelivered', async (t) => {
  const dir = await dataDir(t);
  const first = await openBroker(t, dir);
  await first.createStream(ANONYMOUS, { name: 'jobs', retention: 'workqueue' });
  for (let i = 0; i < 10; i++) await first.publish(ANONYMOUS, message('jobs', `job-${i}`));
  const cursor = await first.createCursor(ANONYMOUS, { stream: 'jobs', name: 'workers' });
  const sink = collector(10);
  cursor.attach({ id: 'w1', prefetchCount: 10, context: sink });
  await withTimeout(sink.done, 5000, 'ten deliveries');
  // Ack the first six; four stay in flight when the broker stops.
  await Promise.all(sink.got.slice(0, 6).map((d) => cursor.ack(d)));
  await first.close();

  const second = await openBroker(t, dir);
  const again = second.cursor('jobs', 'workers')!;
  const sink2 = collector(4);
  again.attach({ id: 'w2', prefetchCount: 10, context: sink2 });
  await withTimeout(sink2.done, 5000, 'four redeliveries');
  assert.deepEqual(
    sink2.got.map((d) => d.record.value!.toString()),
    ['job-6', 'job-7', 'job-8', 'job-9'],
  );
  assert.ok(sink2.got.every((d) => d.redelivered));
});

test('a record dead-lettered after max deliveries lands in the dead-letter stream with its history', async (t) => {
  const broker = await openBroker(t, await dataDir(t));
  await broker.createStream(ANONYMOUS, { name: 'tasks' });
  await broker.createStream(ANONYMOUS, { name: 'tasks-dlq', subjects: [] });
  const cursor = await broker.createCursor(ANONYMOUS, { stream: 'tasks', name: 'c', maxDeliveries: 2, deadLetterStream: 'tasks-dlq' });
  const dlq = broker.requireStream('tasks-dlq');
  const appended = new Promise<void>((resolve) => dlq.once('append', () => resolve()));
  cursor.attach({
    id: 'rejecter',
    prefetchCount: 1,
    context: {
      deliver(d: Delivery) {
        // Nack with requeue until the cursor gives up on the record.
        queueMicrotask(() => void cursor.nack(d, { requeue: true }));
      },
    },
  });
  await broker.publish(ANONYMOUS, message('tasks', 'poison'));
  await withTimeout(appended, 5000, 'the dead-letter append');
  const [dead] = await dlq.readMessages(0, 0, 1 << 20);
  assert.equal(dead.message.value!.toString(), 'poison');
  const header = (k: string) => dead.message.headers.find((h) => h.key === k)?.value?.toString();
  assert.equal(header(DEAD_LETTER_HEADERS.reason), 'maxDeliveries');
  assert.equal(header(DEAD_LETTER_HEADERS.source), 'tasks/c');
  assert.equal(header(DEAD_LETTER_HEADERS.count), '2');
});

test('a delayed record is released into its stream when due, also after a restart in between', async (t) => {
  const dir = await dataDir(t);
  const first = await openBroker(t, dir);
  await first.createStream(ANONYMOUS, { name: 'reminders' });
  const dueAtMs = Date.now() + 400;
  await first.scheduleDelayed(ANONYMOUS, 'reminders', 0, { value: Buffer.from('wake up'), headers: [] }, dueAtMs);
  assert.equal(first.requireStream('reminders').offsets(0).highWatermark, 0, 'not visible before it is due');
  await first.close();

  const second = await openBroker(t, dir);
  const stream = second.requireStream('reminders');
  if (stream.offsets(0).highWatermark === 0) {
    await withTimeout(new Promise<void>((resolve) => stream.once('append', () => resolve())), 5000, 'the delayed release');
  }
  assert.ok(Date.now() >= dueAtMs, 'released no earlier than due');
  const got = await stream.readMessages(0, 0, 1 << 20);
  assert.deepEqual(got.map((m) => m.message.value!.toString()), ['wake up']);
  // Released exactly once, even across another restart.
  await second.close();
  const third = await openBroker(t, dir);
  await third.delays.whenIdle();
  assert.equal(third.requireStream('reminders').offsets(0).highWatermark, 1);
});

test('a workqueue stream deletes what every cursor acknowledged when retention runs', async (t) => {
  const broker = await openBroker(t, await dataDir(t), { logDefaults: undefined });
  await broker.createStream(ANONYMOUS, { name: 'wq', retention: 'workqueue', configs: { 'segment.bytes': '1024' } });
  for (let i = 0; i < 50; i++) await broker.publish(ANONYMOUS, message('wq', 'x'.repeat(100)));
  const cursor = await broker.createCursor(ANONYMOUS, { stream: 'wq', name: 'only' });
  const sink = collector(50);
  cursor.attach({ id: 'c', prefetchCount: 0, context: sink });
  await withTimeout(sink.done, 5000, '50 deliveries');
  await Promise.all(sink.got.map((d) => cursor.ack(d)));
  await broker.runRetention();
  const offsets = broker.requireStream('wq').offsets(0);
  assert.ok(offsets.startOffset > 0, `acked records were deleted (start ${offsets.startOffset})`);
  assert.ok(offsets.startOffset <= 50);
});

test('bad requests get a BrokerError with a stable code and change nothing', async (t) => {
  const broker = await openBroker(t, await dataDir(t));
  await broker.createStream(ANONYMOUS, { name: 'a' });
  await assert.rejects(broker.createStream(ANONYMOUS, { name: 'a' }), (e) => isBrokerError(e, 'TRIB_STREAM_EXISTS'));
  await assert.rejects(broker.createStream(ANONYMOUS, { name: 'bad/name' }), (e) => isBrokerError(e, 'TRIB_INVALID_NAME'));
  await assert.rejects(broker.createStream(ANONYMOUS, { name: '__internal' }), (e) => isBrokerError(e, 'TRIB_INVALID_NAME'));
  await assert.rejects(broker.createStream(ANONYMOUS, { name: 'b', configs: { 'retention.ms': 'soon' } }), (e) => isBrokerError(e, 'TRIB_INVALID_CONFIG'));
  await assert.rejects(broker.deleteStream(ANONYMOUS, 'missing'), (e) => isBrokerError(e, 'TRIB_STREAM_NOT_FOUND'));
  await assert.rejects(broker.createCursor(ANONYMOUS, { stream: 'a', name: 'c', partitions: [5] }), (e) => isBrokerError(e, 'TRIB_PARTITION_NOT_FOUND'));
  await assert.rejects(broker.addPartitions(ANONYMOUS, 'a', 1), (e) => isBrokerError(e, 'TRIB_INVALID_CONFIG'));
  assert.deepEqual(broker.streams().map((s) => s.name), ['a']);
});

test('every operation asks the authorizer: a denied principal changes nothing', async (t) => {
  const broker = await openBroker(t, await dataDir(t));
  await broker.createStream(ANONYMOUS, { name: 'guarded' });
  await broker.authorizer.add({ principal: 'mallory', resourceType: 'stream', pattern: '*', action: '*', permission: 'deny' });
  await broker.authorizer.add({ principal: 'mallory', resourceType: 'subject', pattern: '*', action: '*', permission: 'deny' });
  const mallory = await (async () => {
    await broker.users.create('mallory', 'pw');
    return broker.users.authenticate('mallory', 'pw', '127.0.0.1');
  })();
  await assert.rejects(broker.deleteStream(mallory, 'guarded'), (e) => isBrokerError(e, 'TRIB_UNAUTHORIZED'));
  await assert.rejects(broker.createStream(mallory, { name: 'mine' }), (e) => isBrokerError(e, 'TRIB_UNAUTHORIZED'));
  await assert.rejects(broker.publish(mallory, message('guarded', 'x')), (e) => isBrokerError(e, 'TRIB_UNAUTHORIZED'));
  assert.ok(broker.stream('guarded'));
  assert.equal(broker.requireStream('guarded').offsets(0).highWatermark, 0);
});

test('deleting a stream removes its cursors and its data; a new stream of the same name starts empty', async (t) => {
  const dir = await dataDir(t);
  const broker = await openBroker(t, dir);
  await broker.createStream(ANONYMOUS, { name: 'temp' });
  await broker.createCursor(ANONYMOUS, { stream: 'temp', name: 'c' });
  await broker.publish(ANONYMOUS, message('temp', 'old'));
  await broker.deleteStream(ANONYMOUS, 'temp');
  assert.equal(broker.cursor('temp', 'c'), undefined);
  await broker.createStream(ANONYMOUS, { name: 'temp' });
  assert.equal(broker.requireStream('temp').offsets(0).highWatermark, 0);
});

test('durable exchanges and their bindings survive a restart; transient ones do not', async (t) => {
  const dir = await dataDir(t);
  const first = await openBroker(t, dir);
  await first.declareExchange(ANONYMOUS, { name: 'events', type: 'topic', durable: true });
  await first.declareExchange(ANONYMOUS, { name: 'scratch', type: 'fanout', durable: false });
  await first.bind(ANONYMOUS, 'events', { kind: 'queue', name: 'audit' }, 'orders.#');
  await first.bind(ANONYMOUS, 'amq.topic', { kind: 'exchange', name: 'events' }, 'orders.*');
  await first.close();

  const second = await openBroker(t, dir);
  assert.equal(second.exchanges.get('scratch'), undefined);
  assert.deepEqual([...second.exchanges.route('events', 'orders.eu.created')], ['audit']);
  assert.deepEqual([...second.exchanges.route('amq.topic', 'orders.created')], ['audit'], 'amq.topic → events → audit');
  await second.unbind(ANONYMOUS, 'events', { kind: 'queue', name: 'audit' }, 'orders.#');
  await second.deleteExchange(ANONYMOUS, 'events');
  await second.close();

  const third = await openBroker(t, dir);
  assert.equal(third.exchanges.get('events'), undefined);
  assert.equal(third.exchanges.route('amq.topic', 'orders.created').size, 0, 'the binding to the deleted exchange went with it');
});
