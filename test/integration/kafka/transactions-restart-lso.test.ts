/**
 * read_committed answers right after a broker restart, before anything has built the partition's transaction
 * index: an open transaction at offset 0, plain records at 1 and 2 (a chunk with no transactional batch).
 * A read_committed Fetch from offset 1 must return nothing with lastStableOffset 0 (raw client, exact fields),
 * and a kafkajs read_committed consumer starting at offset 1 must see p1 and p2 only once the transaction ends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Producer } from 'kafkajs';
import { ApiKey, ErrorCode } from '../../../src/protocols/kafka/codec/index.js';
import { startKafka, within, deferred, type KafkaFixture } from './harness.js';
import { rawKafka } from './raw-client.js';

const TOPIC = 'lso-restart';
const WAIT_MS = 20_000;

/** The open transaction (t1 at offset 0) and p1, p2 after it; returns the still-open transaction's producer. */
async function openTransactionThenPlain(f: KafkaFixture): Promise<{ producer: Producer; commit: () => Promise<void> }> {
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC }], waitForLeaders: true });
  await admin.disconnect();
  const producer = f.track(f.kafka().producer({ transactionalId: 'lso-open', idempotent: true, maxInFlightRequests: 1 }));
  await producer.connect();
  const txn = await producer.transaction();
  await txn.send({ topic: TOPIC, messages: [{ value: 't1' }] });
  const plain = f.track(f.kafka().producer());
  await plain.connect();
  await plain.send({ topic: TOPIC, acks: -1, messages: [{ value: 'p1' }] });
  await plain.send({ topic: TOPIC, acks: -1, messages: [{ value: 'p2' }] });
  return { producer, commit: () => txn.commit() };
}

test('after a restart, a read_committed Fetch past an open transaction\'s first offset returns nothing and lastStableOffset = that offset', async (t) => {
  const f = await startKafka(t);
  await openTransactionThenPlain(f);
  await f.restart();
  assert.equal(f.broker.transactions.index.built(f.broker.requireStream(TOPIC), 0), undefined, 'nothing built the index since the restart');

  const raw = await rawKafka(t, f.port);
  const fetch = async (isolationLevel: number) => {
    const res = await raw.request(ApiKey.Fetch, 11, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 1, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [],
      rackId: '',
    });
    const p = res.responses[0].partitions[0];
    assert.equal(p.errorCode, ErrorCode.NONE);
    return { highWatermark: Number(p.highWatermark), lastStableOffset: Number(p.lastStableOffset), bytes: p.records?.length ?? 0 };
  };
  assert.deepEqual(await fetch(1), { highWatermark: 3, lastStableOffset: 0, bytes: 0 });
  const uncommitted = await fetch(0);
  assert.equal(uncommitted.lastStableOffset, 3);
  assert.ok(uncommitted.bytes > 0, 'read_uncommitted still reads p1 and p2');

  // The same answer on a fresh restart when ListOffsets (read_committed) asks first.
  await f.restart();
  const raw2 = await rawKafka(t, f.port);
  const listOffset = async (isolationLevel: number, timestamp: number): Promise<number> => {
    const res = await raw2.request(ApiKey.ListOffsets, 2, { replicaId: -1, isolationLevel, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, timestamp }] }] });
    assert.equal(res.topics[0].partitions[0].errorCode, ErrorCode.NONE);
    return Number(res.topics[0].partitions[0].offset);
  };
  assert.equal(await listOffset(1, -1), 0);
  // By timestamp (0: the first record, t1): read_committed is never pointed at or past the LSO (Kafka's answer).
  assert.equal(await listOffset(1, 0), -1);
  assert.equal(await listOffset(0, 0), 0);
  raw.close();
  raw2.close();
});

test('kafkajs: after a restart, a read_committed consumer starting past an open transaction\'s first offset sees the records after it only once it commits', async (t) => {
  const f = await startKafka(t);
  const { commit } = await openTransactionThenPlain(f);
  const groupId = 'lso-reader';
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  // The group resumes at offset 1, past the transaction's first offset: its fetches never touch offset 0.
  await admin.setOffsets({ groupId, topic: TOPIC, partitions: [{ partition: 0, offset: '1' }] });
  await admin.disconnect();
  await f.restart();

  const consumer = f.track(f.kafka().consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 100, sessionTimeout: 6000, heartbeatInterval: 500 }));
  const values: string[] = [];
  const twoFetches = deferred();
  let fetches = 0;
  consumer.on(consumer.events.FETCH, () => {
    if (++fetches === 2) twoFetches.resolve();
  });
  const bothSeen = deferred();
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC });
  await consumer.run({
    eachMessage: async ({ message }) => {
      values.push(message.value?.toString() ?? '');
      if (values.length === 2) bothSeen.resolve();
    },
  });
  await within(twoFetches.promise, 'two read_committed fetches', WAIT_MS);
  assert.deepEqual(values, [], 'nothing past the open transaction before it ends');

  await commit();
  await within(bothSeen.promise, 'p1 and p2 after the commit', WAIT_MS);
  assert.deepEqual(values, ['p1', 'p2']);
});

test('after a restart, one read_committed Fetch over several partitions answers each with its own last stable offset', async (t) => {
  const f = await startKafka(t);
  const topic = 'lso-restart-multi';
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = f.track(f.kafka().producer({ transactionalId: 'lso-multi', idempotent: true, maxInFlightRequests: 1 }));
  await producer.connect();
  const txn = await producer.transaction();
  // Open on partitions 0 and 2 (offset 0 each); partition 1 is never written transactionally.
  await txn.send({ topic, messages: [{ value: 't0', partition: 0 }, { value: 't2', partition: 2 }] });
  const plain = f.track(f.kafka().producer());
  await plain.connect();
  for (const partition of [0, 1, 2]) await plain.send({ topic, acks: -1, messages: [{ value: `a${partition}`, partition }, { value: `b${partition}`, partition }] });
  await f.restart();

  const raw = await rawKafka(t, f.port);
  const res = await raw.request(ApiKey.Fetch, 11, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 1,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic, partitions: [0, 1, 2].map((partition) => ({ partition, currentLeaderEpoch: -1, fetchOffset: 1, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 16 })) }],
    forgottenTopicsData: [],
    rackId: '',
  });
  const got = res.responses[0].partitions.map((p) => ({ partition: p.partitionIndex, errorCode: p.errorCode, highWatermark: Number(p.highWatermark), lastStableOffset: Number(p.lastStableOffset), hasRecords: (p.records?.length ?? 0) > 0 }));
  assert.deepEqual(got, [
    { partition: 0, errorCode: ErrorCode.NONE, highWatermark: 3, lastStableOffset: 0, hasRecords: false },
    { partition: 1, errorCode: ErrorCode.NONE, highWatermark: 2, lastStableOffset: 2, hasRecords: true },
    { partition: 2, errorCode: ErrorCode.NONE, highWatermark: 3, lastStableOffset: 0, hasRecords: false },
  ]);
  raw.close();
  await txn.abort();
});
