/**
 * Kafka transactions through real clients, unmodified: kafkajs 2.2.4 as transactional producer (InitProducerId
 * with a transactional id, AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, EndTxn) and as read_committed /
 * read_uncommitted consumer; kcat (librdkafka 2.0.2) as read_committed consumer. A raw client checks the last
 * stable offset through ListOffsets where kafkajs does not show it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import type { Kafka, Producer } from 'kafkajs';
import { ApiKey, ErrorCode } from '../../../src/protocols/kafka/codec/index.js';
import { ATTR_TRANSACTIONAL, encodeRecordBatch } from '../../../src/storage/record-batch.js';
import { startKafka, within, deferred, type KafkaFixture } from './harness.js';
import { rawKafka } from './raw-client.js';

const TXN_WAIT_MS = 20_000;

function txProducer(f: KafkaFixture, transactionalId: string, kafka: Kafka = f.kafka()): Producer {
  return f.track(kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 }));
}

/** Every value of `topic` as a consumer of the given isolation sees it, read until `last` arrives. */
async function readAll(f: KafkaFixture, topic: string, last: string, readUncommitted: boolean): Promise<string[]> {
  const consumer = f.track(f.kafka().consumer({ groupId: `reader-${topic}-${readUncommitted ? 'ru' : 'rc'}-${Math.random()}`, readUncommitted, maxWaitTimeInMs: 100, sessionTimeout: 6000, heartbeatInterval: 500 }));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const values: string[] = [];
  const done = deferred();
  await consumer.run({
    eachMessage: async ({ message }) => {
      const v = message.value?.toString() ?? '';
      values.push(v);
      if (v === last) done.resolve();
    },
  });
  await within(done.promise, `${readUncommitted ? 'read_uncommitted' : 'read_committed'} read of ${topic} up to ${last}`, TXN_WAIT_MS);
  await consumer.disconnect();
  return values;
}

/** ListOffsets latest (v2, isolation level 1 = read_committed, 0 = read_uncommitted). */
async function latest(t: Parameters<typeof rawKafka>[0], f: KafkaFixture, topic: string, isolationLevel: number): Promise<number> {
  const raw = await rawKafka(t, f.port);
  try {
    const res = await raw.request(ApiKey.ListOffsets, 2, { replicaId: -1, isolationLevel, topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -1 }] }] });
    const p = res.topics[0].partitions[0];
    assert.equal(p.errorCode, ErrorCode.NONE);
    return Number(p.offset);
  } finally {
    raw.close();
  }
}

/** The Kafka error type a kafkajs rejection carries (possibly wrapped), for fencing assertions. */
function errorTypes(err: unknown): string {
  const parts: string[] = [];
  for (let e = err as { type?: string; message?: string; cause?: unknown; originalError?: unknown } | undefined; e !== undefined && parts.length < 5; e = (e.cause ?? e.originalError) as typeof e) {
    parts.push(`${e.type ?? ''} ${e.message ?? ''}`);
  }
  return parts.join(' | ');
}

async function createTopics(f: KafkaFixture, ...topics: string[]): Promise<void> {
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.createTopics({ topics: topics.map((topic) => ({ topic })), waitForLeaders: true });
  await admin.disconnect();
}

test('kafkajs: a committed transaction is visible to read_committed consumers, an aborted one only to read_uncommitted', async (t) => {
  const f = await startKafka(t);
  await createTopics(f, 'tx-basic');
  const producer = txProducer(f, 'basic');
  await producer.connect();

  const t1 = await producer.transaction();
  await t1.send({ topic: 'tx-basic', messages: [{ value: 'c1' }, { value: 'c2' }] });
  // While the transaction is open the last stable offset stays at its first record.
  assert.equal(await latest(t, f, 'tx-basic', 1), 0);
  assert.equal(await latest(t, f, 'tx-basic', 0), 2);
  await t1.commit();
  assert.equal(await latest(t, f, 'tx-basic', 1), 3, 'two records and the COMMIT marker');

  const t2 = await producer.transaction();
  await t2.send({ topic: 'tx-basic', messages: [{ value: 'aborted1' }] });
  await t2.send({ topic: 'tx-basic', messages: [{ value: 'aborted2' }] });
  await t2.abort();

  const t3 = await producer.transaction();
  await t3.send({ topic: 'tx-basic', messages: [{ value: 'c3' }] });
  await t3.commit();

  assert.deepEqual(await readAll(f, 'tx-basic', 'c3', false), ['c1', 'c2', 'c3']);
  assert.deepEqual(await readAll(f, 'tx-basic', 'c3', true), ['c1', 'c2', 'aborted1', 'aborted2', 'c3']);
});

test('kafkajs consume-transform-produce: offsets sent in a transaction reach the group only when it commits; an aborted one in the middle leaves nothing', async (t) => {
  const f = await startKafka(t);
  await createTopics(f, 'ctp-in', 'ctp-out');
  const plain = f.track(f.kafka().producer());
  await plain.connect();
  await plain.send({ topic: 'ctp-in', acks: -1, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });

  const admin = f.track(f.kafka().admin());
  await admin.connect();
  const committed = async (): Promise<number> => Number((await admin.fetchOffsets({ groupId: 'ctp-group', topics: ['ctp-in'] }))[0]!.partitions[0]!.offset);

  const producer = txProducer(f, 'ctp');
  await producer.connect();
  const consumer = f.track(f.kafka().consumer({ groupId: 'ctp-group', maxWaitTimeInMs: 100, sessionTimeout: 6000, heartbeatInterval: 500 }));
  await consumer.connect();
  await consumer.subscribe({ topic: 'ctp-in', fromBeginning: true });
  const before: number[] = [];
  const after: number[] = [];
  const done = deferred();
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }) => {
      const value = message.value!.toString();
      const txn = await producer.transaction();
      await txn.send({ topic: 'ctp-out', messages: [{ value: value.toUpperCase() }] });
      await txn.sendOffsets({ consumerGroupId: 'ctp-group', topics: [{ topic, partitions: [{ partition, offset: String(Number(message.offset) + 1) }] }] });
      before.push(await committed());
      if (value === 'b') await txn.abort();
      else await txn.commit();
      after.push(await committed());
      if (after.length === 3) done.resolve();
    },
  });
  await within(done.promise, 'three consume-transform-produce transactions', TXN_WAIT_MS);
  await consumer.disconnect();

  assert.deepEqual(before, [-1, 1, 1], 'offsets before each transaction ended');
  assert.deepEqual(after, [1, 1, 3], 'offsets after commit, abort, commit');
  assert.deepEqual(await readAll(f, 'ctp-out', 'C', false), ['A', 'C']);
});

test('kafkajs: a zombie producer is fenced when its transactional id is initialised again, and its open transaction is aborted', async (t) => {
  const f = await startKafka(t);
  await createTopics(f, 'fence');
  const zombie = txProducer(f, 'fenced-id');
  await zombie.connect();
  const old = await zombie.transaction();
  await old.send({ topic: 'fence', messages: [{ value: 'zombie-1' }] });

  // The same transactional id again (kafkajs sends InitProducerId with it when the first transaction begins):
  // a higher epoch, and the zombie's transaction is aborted.
  const successor = txProducer(f, 'fenced-id');
  await successor.connect();
  const next = await successor.transaction();
  assert.equal(await latest(t, f, 'fence', 1), 2, 'the zombie record and its ABORT marker are stable');

  await assert.rejects(old.send({ topic: 'fence', messages: [{ value: 'zombie-2' }] }), (err) => /INVALID_PRODUCER_EPOCH|PRODUCER_FENCED/.test(errorTypes(err)));
  await assert.rejects(old.commit(), (err) => /INVALID_PRODUCER_EPOCH|PRODUCER_FENCED/.test(errorTypes(err)));

  await next.send({ topic: 'fence', messages: [{ value: 'successor' }] });
  await next.commit();
  assert.deepEqual(await readAll(f, 'fence', 'successor', false), ['successor']);
});

test('kafkajs: a transaction open across a broker restart commits afterwards, and one left open is aborted by the next producer of its id', async (t) => {
  const f = await startKafka(t);
  await createTopics(f, 'restart-tx');
  const kafka = f.kafka();
  const producer = txProducer(f, 'restart-id', kafka);
  await producer.connect();
  const txn = await producer.transaction();
  await txn.send({ topic: 'restart-tx', messages: [{ value: 'r1' }] });

  await f.restart();
  // Rebuilt from the log: the open transaction still holds the last stable offset at its first record.
  assert.equal(await latest(t, f, 'restart-tx', 1), 0);
  assert.equal(await latest(t, f, 'restart-tx', 0), 1);
  await txn.send({ topic: 'restart-tx', messages: [{ value: 'r2' }] });
  await txn.commit();
  assert.equal(await latest(t, f, 'restart-tx', 1), 3);

  const open = await producer.transaction();
  await open.send({ topic: 'restart-tx', messages: [{ value: 'left-open' }] });
  await f.restart();
  // A new producer of the same id (the old one "crashed"): its InitProducerId aborts what was left open.
  const successor = txProducer(f, 'restart-id');
  await successor.connect();
  const last = await successor.transaction();
  await last.send({ topic: 'restart-tx', messages: [{ value: 'r3' }] });
  await last.commit();

  assert.deepEqual(await readAll(f, 'restart-tx', 'r3', false), ['r1', 'r2', 'r3']);
  assert.deepEqual(await readAll(f, 'restart-tx', 'r3', true), ['r1', 'r2', 'left-open', 'r3']);
});

test('kafkajs: a transaction left open past its transaction timeout is aborted and its producer fenced', async (t) => {
  const f = await startKafka(t);
  await createTopics(f, 'tx-timeout');
  const producer = f.track(f.kafka().producer({ transactionalId: 'slow-id', idempotent: true, maxInFlightRequests: 1, transactionTimeout: 1000 }));
  await producer.connect();
  const aborted = deferred();
  f.broker.metadata.on('change', (kind: string, name: string, value: { state?: string } | null) => {
    if (kind === 'txn' && name === 'slow-id' && value?.state === 'CompleteAbort') aborted.resolve();
  });
  const txn = await producer.transaction();
  await txn.send({ topic: 'tx-timeout', messages: [{ value: 'too-slow' }] });
  await within(aborted.promise, 'the timeout abort', TXN_WAIT_MS);
  assert.equal(await latest(t, f, 'tx-timeout', 1), 2, 'the record and its ABORT marker are stable');
  await assert.rejects(txn.commit(), (err) => /INVALID_PRODUCER_EPOCH|PRODUCER_FENCED/.test(errorTypes(err)));

  const plain = f.track(f.kafka().producer());
  await plain.connect();
  await plain.send({ topic: 'tx-timeout', acks: -1, messages: [{ value: 'after' }] });
  assert.deepEqual(await readAll(f, 'tx-timeout', 'after', false), ['after']);
});

const KCAT = process.env.KCAT ?? 'kcat';
function hasKcat(): boolean {
  try {
    execFileSync(KCAT, ['-V'], { timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}
const noKcat = hasKcat() ? false : `kcat is not installed (looked for "${KCAT}"; .ci/run installs it)`;

test('kcat (librdkafka 2.0.2) as read_committed consumer does not print aborted records', { skip: noKcat }, async (t) => {
  const f = await startKafka(t);
  await createTopics(f, 'kcat-tx');
  const producer = txProducer(f, 'kcat-id');
  await producer.connect();
  for (const [value, commit] of [['k1', true], ['k2-aborted', false], ['k3', true]] as const) {
    const txn = await producer.transaction();
    await txn.send({ topic: 'kcat-tx', messages: [{ value }] });
    if (commit) await txn.commit();
    else await txn.abort();
  }
  const run = (isolation: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = execFile(KCAT, ['-C', '-b', f.brokers[0]!, '-t', 'kcat-tx', '-X', `isolation.level=${isolation}`, '-e', '-o', 'beginning', '-q', '-f', '%s\n'], { timeout: TXN_WAIT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
        if (err !== null) reject(new Error(`kcat failed (${err.message}): ${stderr}`));
        else resolve(stdout);
      });
      child.stdin!.end();
    });
  assert.deepEqual((await run('read_committed')).trim().split('\n'), ['k1', 'k3']);
  assert.deepEqual((await run('read_uncommitted')).trim().split('\n'), ['k1', 'k2-aborted', 'k3']);
});

test('raw requests: coordinator lookup, all-or-nothing AddPartitionsToTxn, produce outside the transaction, fencing codes by version', async (t) => {
  const f = await startKafka(t);
  await createTopics(f, 'raw-tx');
  const raw = await rawKafka(t, f.port);
  const coord = await raw.request(ApiKey.FindCoordinator, 3, { key: 'raw-id', keyType: 1, coordinatorKeys: [] });
  assert.deepEqual([coord.errorCode, coord.nodeId, coord.port], [ErrorCode.NONE, 0, f.port]);
  assert.equal((await raw.request(ApiKey.FindCoordinator, 3, { key: 'x', keyType: 2, coordinatorKeys: [] })).errorCode, ErrorCode.INVALID_REQUEST);
  assert.equal((await raw.request(ApiKey.InitProducerId, 4, { transactionalId: 'raw-id', transactionTimeoutMs: 0, producerId: -1, producerEpoch: -1 })).errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);
  const init = await raw.request(ApiKey.InitProducerId, 4, { transactionalId: 'raw-id', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
  assert.equal(init.errorCode, ErrorCode.NONE);
  const { producerId, producerEpoch } = init;

  const add = await raw.request(ApiKey.AddPartitionsToTxn, 3, {
    v3AndBelowTransactionalId: 'raw-id',
    v3AndBelowProducerId: producerId,
    v3AndBelowProducerEpoch: producerEpoch,
    v3AndBelowTopics: [{ name: 'raw-tx', partitions: [0] }, { name: 'no-such-topic', partitions: [0] }],
  });
  const codes = add.resultsByTopicV3AndBelow.map((r) => [r.name, r.resultsByPartition[0]!.partitionErrorCode]);
  assert.deepEqual(codes, [['raw-tx', ErrorCode.OPERATION_NOT_ATTEMPTED], ['no-such-topic', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]);

  // A transactional batch into a partition not added to the (not even open) transaction is refused.
  const batch = encodeRecordBatch([{ value: Buffer.from('x') }], { attributes: ATTR_TRANSACTIONAL, producerId, producerEpoch, baseSequence: 0 });
  const produce = await raw.request(ApiKey.Produce, 7, { transactionalId: 'raw-id', acks: -1, timeoutMs: 5000, topicData: [{ name: 'raw-tx', partitionData: [{ index: 0, records: batch }] }] });
  assert.equal(produce.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.INVALID_TXN_STATE);

  const again = await raw.request(ApiKey.InitProducerId, 4, { transactionalId: 'raw-id', transactionTimeoutMs: 60_000, producerId, producerEpoch });
  assert.deepEqual([again.errorCode, again.producerEpoch], [ErrorCode.NONE, producerEpoch + 1]);
  const end = (version: number) => raw.request(ApiKey.EndTxn, version, { transactionalId: 'raw-id', producerId, producerEpoch, committed: true });
  assert.equal((await end(1)).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH, 'v0–1 do not know PRODUCER_FENCED');
  assert.equal((await end(3)).errorCode, ErrorCode.PRODUCER_FENCED);
  const stale = await raw.request(ApiKey.InitProducerId, 4, { transactionalId: 'raw-id', transactionTimeoutMs: 60_000, producerId, producerEpoch });
  assert.equal(stale.errorCode, ErrorCode.PRODUCER_FENCED, 'KIP-360 re-init naming a stale epoch');
  const committedOffsets = await raw.request(ApiKey.TxnOffsetCommit, 3, {
    transactionalId: 'raw-id', groupId: 'g', producerId, producerEpoch: producerEpoch + 1, generationId: -1, memberId: '', groupInstanceId: null,
    topics: [{ name: 'raw-tx', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }],
  });
  assert.equal(committedOffsets.topics[0]!.partitions[0]!.errorCode, ErrorCode.INVALID_TXN_STATE, 'the group was not added to a transaction');
});
