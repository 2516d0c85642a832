/**
 * SIGKILL of the real `tributary serve` binary (--fsync always) while kafkajs produces with acks=all, then a
 * restart on the same data directory and Kafka port. Every acknowledged record must be there exactly once and
 * in order; a record whose send was not acknowledged may or may not be. An idempotent producer keeps retrying
 * its in-flight batch across the restart, and the broker (rebuilding producer state from the log's batch
 * headers) must not store it twice.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { EPHEMERAL, serveProcess, type Tributary } from '../../support/tributary-process.js';
import { deferred, within } from './harness.js';

const TOPIC = 'ledger';
const PER_SEND = 5;
/** Records acknowledged before the kill (the kill lands while the next send is in flight). */
const KILL_AFTER = 400;

interface Served {
  broker: Tributary;
  port: number;
}

async function serve(t: TestContext, dir: string, kafkaPort: number): Promise<Served> {
  const args = ['--data-dir', join(dir, 'data'), '--fsync', 'always', ...EPHEMERAL.filter((_, i, a) => a[i] !== '--kafka-port' && a[i - 1] !== '--kafka-port'), '--kafka-port', String(kafkaPort)];
  const broker = serveProcess(dir, args);
  t.after(() => broker.kill('SIGKILL'));
  const { kafka: port } = await broker.ports();
  return { broker, port: port! };
}

function client(port: number, retries: number): Kafka {
  return new Kafka({ clientId: 'crash', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, connectionTimeout: 1000, retry: { retries, initialRetryTime: 100, maxRetryTime: 1000 } });
}

/** Reads the whole partition with a fresh consumer, up to its high watermark. */
async function readAll(port: number): Promise<number[]> {
  const kafka = client(port, 10);
  const admin = kafka.admin();
  await admin.connect();
  const [{ high }] = (await admin.fetchTopicOffsets(TOPIC)) as Array<{ high: string }>;
  await admin.disconnect();
  const values: number[] = [];
  if (Number(high) === 0) return values;
  const consumer = kafka.consumer({ groupId: `verify-${Date.now()}`, maxWaitTimeInMs: 100 });
  const done = deferred();
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      values.push(Number(message.value!.toString()));
      if (Number(message.offset) + 1 >= Number(high)) done.resolve();
    },
  });
  try {
    await within(done.promise, `reading ${high} records`);
  } finally {
    await consumer.disconnect();
  }
  return values;
}

/**
 * Produces numbered records PER_SEND at a time, sequentially, recording what was acknowledged; SIGKILLs the
 * broker once KILL_AFTER records are acknowledged. Idempotent: restarts it at once, so the in-flight send is
 * retried into the new process, and sends 100 more. Plain: stops at the first failed send, then restarts.
 */
async function produceThroughCrash(t: TestContext, idempotent: boolean): Promise<{ acked: Set<number>; stored: number[]; attempted: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'trib-kafka-crash-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const first = await serve(t, dir, 0);
  const port = first.port;
  const admin = client(port, 5).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }] });
  await admin.disconnect();

  // The idempotent producer retries long enough to outlive the restart; the plain one does not retry at all,
  // so each record is sent at most once and any duplicate would be the broker's doing.
  const producer: Producer = client(port, idempotent ? 30 : 0).producer({ idempotent, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  t.after(() => producer.disconnect().catch(() => undefined));
  const acked = new Set<number>();
  let next = 0;
  let second: Served | null = null;
  const total = idempotent ? KILL_AFTER + 100 : Number.POSITIVE_INFINITY;
  while (next < total) {
    const numbers = Array.from({ length: PER_SEND }, (_, i) => next + i);
    next += PER_SEND;
    // Settled into a value at once: the send may fail while the kill below is awaited.
    const sending = producer.send({ topic: TOPIC, acks: -1, messages: numbers.map((n) => ({ partition: 0, value: String(n) })) }).then(
      () => null,
      (err: unknown) => err,
    );
    if (acked.size === KILL_AFTER) {
      // Mid-load: this send is in flight (or about to be) when the broker dies.
      first.broker.kill('SIGKILL');
      await within(first.broker.exited, 'the broker to die');
      if (idempotent) second = await serve(t, dir, port);
    }
    const err = await sending;
    if (err !== null) {
      if (idempotent) throw new Error(`the idempotent producer gave up across the restart: ${String(err)}`);
      break;
    }
    for (const n of numbers) acked.add(n);
  }
  await producer.disconnect().catch(() => undefined);
  second ??= await serve(t, dir, port);
  const stored = await readAll(second.port);
  return { acked, stored, attempted: next };
}

function assertExactlyOnceInOrder(acked: Set<number>, stored: number[], attempted: number): void {
  assert.ok(acked.size >= KILL_AFTER, `acknowledged ${acked.size}`);
  // In order, and nothing stored twice.
  for (let i = 1; i < stored.length; i++) assert.ok(stored[i]! > stored[i - 1]!, `offset ${i}: ${stored[i - 1]} then ${stored[i]}`);
  const present = new Set(stored);
  const missing = [...acked].filter((n) => !present.has(n));
  assert.deepEqual(missing, [], 'every acknowledged record survived the kill');
  // Only numbers that were sent, and whatever unacknowledged ones survived are whole sends at the end.
  assert.ok(stored.every((n) => n < attempted), 'nothing invented');
}

test('kill -9 under acks=all load: every acknowledged record survives exactly once, in order (plain producer)', async (t) => {
  const { acked, stored, attempted } = await produceThroughCrash(t, false);
  assertExactlyOnceInOrder(acked, stored, attempted);
  // A send not acknowledged may be stored (the ack was lost with the process) — then whole, as the last batch.
  const extra = stored.filter((n) => !acked.has(n));
  assert.ok(extra.length === 0 || extra.length === PER_SEND, `unacknowledged records stored: ${extra.join(',')}`);
});

test('kill -9 under acks=all load: an idempotent producer retries across the restart and nothing is stored twice', async (t) => {
  const { acked, stored, attempted } = await produceThroughCrash(t, true);
  assertExactlyOnceInOrder(acked, stored, attempted);
  // Every send was eventually acknowledged, so the log is exactly 0..attempted-1.
  assert.deepEqual(stored, Array.from({ length: attempted }, (_, i) => i));
});
