/**
 * Reads outside Kafka see committed data only: records written by a kafkajs transactional producer, read back
 * through the HTTP records route (Stream.readMessages) and the HTTP event stream. Aborted transactions, control
 * records and anything at or past the last stable offset (an open transaction) never show.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Kafka, logLevel } from 'kafkajs';
import { Broker } from '../../../src/core/broker.js';
import { createHttpPlugin } from '../../../src/server/http.js';
import { createMetrics } from '../../../src/server/metrics.js';
import { resolveConfig } from '../../../src/server/config.js';
import { formatAddress } from '../../../src/server/protocol-plugin.js';
import { createKafkaListener } from '../../../src/protocols/kafka/index.js';
import { within } from '../../support/within.js';

const T = { timeout: 60_000 };

interface Setup {
  broker: Broker;
  kafka: Kafka;
  get(path: string): Promise<any>;
  base: string;
}

async function start(t: TestContext): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), 'trib-committed-http-'));
  const broker = await Broker.open({ dataDir: dir, fsync: 'never', fsyncIntervalMs: 1000 });
  const logger = pino({ level: 'silent' });
  const { config } = await resolveConfig({ env: {}, cwd: tmpdir(), stdoutIsTTY: false, flags: { httpPort: '0' } });
  const http = createHttpPlugin();
  const bound = await http.start({ config, broker, metrics: createMetrics(), logger, state: () => 'ready', isReady: () => true });
  const listener = createKafkaListener({ broker, logger, config: { advertisedHost: '127.0.0.1' } });
  const [kafkaBound] = await listener.listen('127.0.0.1', 0);
  const clients: Array<{ disconnect(): Promise<void> }> = [];
  t.after(async () => {
    for (const c of clients) await c.disconnect().catch(() => undefined);
    await listener.close();
    await http.stop();
    await broker.close();
    await rm(dir, { recursive: true, force: true });
  });
  const base = `http://${formatAddress(bound[0]!)}`;
  const kafka = new Kafka({ clientId: 'committed-http', brokers: [`127.0.0.1:${kafkaBound.port}`], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 50, maxRetryTime: 500 } });
  const track = kafka.producer.bind(kafka);
  kafka.producer = ((...args: Parameters<typeof track>) => {
    const p = track(...args);
    clients.push(p);
    return p;
  }) as typeof kafka.producer;
  return {
    broker,
    kafka,
    base,
    async get(path) {
      const res = await fetch(base + path, { signal: AbortSignal.timeout(10_000) });
      assert.equal(res.status, 200, await res.clone().text());
      return res.json();
    },
  };
}

test('the HTTP records route shows committed transactions only and stops at an open one', T, async (t) => {
  const s = await start(t);
  const admin = s.kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'ledger', numPartitions: 1 }] });
  await admin.disconnect();
  const txProducer = s.kafka.producer({ transactionalId: 'ledger-writer', idempotent: true, maxInFlightRequests: 1 });
  const plain = s.kafka.producer();
  await txProducer.connect();
  await plain.connect();
  const inTxn = async (values: string[], end: 'commit' | 'abort' | 'open') => {
    const tx = await txProducer.transaction();
    await tx.send({ topic: 'ledger', messages: values.map((value) => ({ value })) });
    if (end === 'commit') await tx.commit();
    else if (end === 'abort') await tx.abort();
    return tx;
  };
  await plain.send({ topic: 'ledger', messages: [{ value: 'plain-1' }] }); // offset 0
  await inTxn(['aborted-1', 'aborted-2'], 'abort'); // 1-2, ABORT marker 3
  await inTxn(['committed-1', 'committed-2'], 'commit'); // 4-5, COMMIT marker 6
  await inTxn(['aborted-3'], 'abort'); // 7, ABORT marker 8
  await inTxn(['committed-3'], 'commit'); // 9, COMMIT marker 10
  const open = await inTxn(['pending-1'], 'open'); // 11: the last stable offset while open
  await plain.send({ topic: 'ledger', messages: [{ value: 'after-open' }] }); // 12

  const page = await s.get('/api/streams/ledger/records?partition=0&offset=0');
  assert.deepEqual(page.records.map((r: any) => [r.offset, r.value]), [[0, 'plain-1'], [4, 'committed-1'], [5, 'committed-2'], [9, 'committed-3']]);
  assert.equal(page.nextOffset, 11, 'a reader pages on from the open transaction, not past it');
  assert.equal(page.highWatermark, 13);
  // A page of only aborted records and markers moves nextOffset over them, so paging never sticks.
  const aborted = await s.get('/api/streams/ledger/records?partition=0&offset=7&limit=1');
  assert.deepEqual(aborted.records.map((r: any) => r.value), ['committed-3']);
  // Starting past the open transaction's first offset shows nothing either: it is past the last stable offset.
  const beyond = await s.get('/api/streams/ledger/records?partition=0&offset=12');
  assert.deepEqual(beyond.records, []);
  assert.equal(beyond.nextOffset, 12);

  await open.commit(); // COMMIT marker 13
  const rest = await s.get(`/api/streams/ledger/records?partition=0&offset=${page.nextOffset}`);
  assert.deepEqual(rest.records.map((r: any) => [r.offset, r.value]), [[11, 'pending-1'], [12, 'after-open']]);
  assert.equal(rest.nextOffset, 14);

  // Stream.readMessages itself, as every non-Kafka reader uses it: no control records, nothing aborted.
  const all = await s.broker.requireStream('ledger').readMessages(0, 0, 1 << 20);
  assert.deepEqual(all.map((m) => m.message.value?.toString()), ['plain-1', 'committed-1', 'committed-2', 'committed-3', 'pending-1', 'after-open']);
});

test('the HTTP event stream holds back an open transaction and sends it once committed, never an aborted one', T, async (t) => {
  const s = await start(t);
  const admin = s.kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'feed', numPartitions: 1 }] });
  await admin.disconnect();
  const txProducer = s.kafka.producer({ transactionalId: 'feed-writer', idempotent: true, maxInFlightRequests: 1 });
  await txProducer.connect();
  const aborted = await txProducer.transaction();
  await aborted.send({ topic: 'feed', messages: [{ value: 'no-1' }] });
  await aborted.abort();
  const open = await txProducer.transaction();
  await open.send({ topic: 'feed', messages: [{ value: 'yes-1' }] });

  const ac = new AbortController();
  t.after(() => ac.abort());
  const res = await fetch(`${s.base}/api/streams/feed/events?partition=0&from=earliest`, { signal: ac.signal });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const seen: string[] = [];
  let buffered = '';
  const nextRecord = async (): Promise<string> => {
    for (;;) {
      const line = buffered.split('\n').find((l) => l.startsWith('data: '));
      if (line !== undefined) {
        buffered = buffered.slice(buffered.indexOf(line) + line.length + 1);
        return JSON.parse(line.slice(6)).value as string;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error('event stream ended');
      buffered += Buffer.from(value).toString();
    }
  };
  while (!buffered.includes(': subscribed')) {
    const { value, done } = await within(reader.read(), 'the subscribed comment');
    if (done) throw new Error('event stream ended');
    buffered += Buffer.from(value).toString();
  }
  const first = nextRecord();
  // The open transaction's record must not arrive before its commit (nor the aborted one, ever).
  let early = false;
  void first.then(() => (early = true));
  // A read of what is stored, then a turn of the event loop: the follower has had its chance to send early.
  await s.broker.requireStream('feed').readMessages(0, 0, 1 << 20);
  await new Promise((r) => setImmediate(r));
  assert.equal(early, false);
  await open.commit();
  seen.push(await within(first, 'the committed record'));
  assert.deepEqual(seen, ['yes-1']);
  ac.abort();
});
