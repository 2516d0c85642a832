import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../../src/protocols/kafka/codec/index.js';
import { encodeRecordBatch, iterateBatches, readBatchHeader } from '../../../src/storage/record-batch.js';
import { startKafka, type KafkaFixture } from './harness.js';
import { rawKafka, type RawKafka } from './raw-client.js';

function batch(producerId: number, producerEpoch: number, baseSequence: number, values: string[]): Buffer {
  return encodeRecordBatch(values.map((v) => ({ value: Buffer.from(v) })), { producerId, producerEpoch, baseSequence });
}

async function produce(raw: RawKafka, topic: string, records: Buffer): Promise<{ errorCode: number; baseOffset: number }> {
  const res = await raw.request(ApiKey.Produce, 7, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
  const p = res.responses[0].partitionResponses[0];
  return { errorCode: p.errorCode, baseOffset: p.baseOffset };
}

async function storedBatches(f: KafkaFixture, topic: string): Promise<Array<{ baseOffset: number; producerId: number; baseSequence: number; count: number }>> {
  const read = await f.broker.requireStream(topic).read(0, 0, 10_000_000);
  return [...iterateBatches(read.records)].map(({ position }) => {
    const h = readBatchHeader(read.records, position);
    return { baseOffset: h.baseOffset, producerId: h.producerId, baseSequence: h.baseSequence, count: h.recordsCount };
  });
}

test('kafkajs idempotent producer gets a producer id and its batches carry sequences', async (t) => {
  const f = await startKafka(t);
  const producer = f.track(f.kafka().producer({ idempotent: true, maxInFlightRequests: 1 }));
  await producer.connect();
  for (let i = 0; i < 3; i++) {
    const res = await producer.send({ topic: 'idem', acks: -1, messages: [{ value: `a${i}` }, { value: `b${i}` }] });
    assert.equal(res[0].errorCode, 0);
    assert.equal(res[0].baseOffset, String(i * 2));
  }
  const batches = await storedBatches(f, 'idem');
  assert.deepEqual(batches.map((b) => b.baseSequence), [0, 2, 4]);
  assert.ok(batches.every((b) => b.producerId >= 0 && b.producerId === batches[0].producerId));
});

test('a retried batch is acknowledged with its original offset and not appended twice, across a restart', async (t) => {
  const f = await startKafka(t);
  let raw = await rawKafka(t, f.port);
  await raw.request(ApiKey.CreateTopics, 4, { topics: [{ name: 'dup', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  const init = await raw.request(ApiKey.InitProducerId, 1, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
  assert.equal(init.errorCode, ErrorCode.NONE);
  assert.equal(init.producerEpoch, 0);
  const pid = init.producerId;

  // A non-idempotent batch first, so the idempotent one does not start at offset 0.
  assert.equal((await produce(raw, 'dup', batch(-1, -1, -1, ['plain']))).baseOffset, 0);
  const first = batch(pid, 0, 0, ['x', 'y', 'z']);
  assert.deepEqual(await produce(raw, 'dup', Buffer.from(first)), { errorCode: ErrorCode.NONE, baseOffset: 1 });
  // The same request again (a retry after a lost response): same offset, nothing appended.
  assert.deepEqual(await produce(raw, 'dup', Buffer.from(first)), { errorCode: ErrorCode.NONE, baseOffset: 1 });
  assert.deepEqual(await produce(raw, 'dup', batch(pid, 0, 3, ['w'])), { errorCode: ErrorCode.NONE, baseOffset: 4 });
  // A gap in the sequence.
  assert.equal((await produce(raw, 'dup', batch(pid, 0, 9, ['gap']))).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  // A producer the partition has no state for (new, expired, or its records deleted) is taken at any sequence,
  // as Kafka 2.5+ does (KIP-360).
  assert.deepEqual(await produce(raw, 'dup', batch(pid + 1, 0, 7, ['late'])), { errorCode: ErrorCode.NONE, baseOffset: 5 });
  assert.deepEqual((await storedBatches(f, 'dup')).map((b) => [b.baseOffset, b.count]), [[0, 1], [1, 3], [4, 1], [5, 1]]);

  // Producer state and id allocation survive a restart: the duplicate is still recognised (state rebuilt from
  // the log's batch headers) and a new producer id is never one handed out before.
  raw.close();
  await f.restart();
  raw = await rawKafka(t, f.port);
  assert.deepEqual(await produce(raw, 'dup', Buffer.from(first)), { errorCode: ErrorCode.NONE, baseOffset: 1 });
  assert.equal((await produce(raw, 'dup', batch(pid, 0, 9, ['gap']))).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert.deepEqual(await produce(raw, 'dup', batch(pid, 0, 4, ['v'])), { errorCode: ErrorCode.NONE, baseOffset: 6 });
  const again = await raw.request(ApiKey.InitProducerId, 1, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
  assert.ok(again.producerId > pid, `new id ${again.producerId} after ${pid}`);

  // KIP-360 epoch bump: the new epoch starts at sequence 0 and fences the old one.
  const bumped = await raw.request(ApiKey.InitProducerId, 3, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: pid, producerEpoch: 0 });
  assert.deepEqual([bumped.errorCode, bumped.producerId, bumped.producerEpoch], [ErrorCode.NONE, pid, 1]);
  assert.equal((await produce(raw, 'dup', batch(pid, 1, 0, ['e1']))).baseOffset, 7);
  assert.equal((await produce(raw, 'dup', batch(pid, 0, 5, ['stale']))).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
  assert.equal((await storedBatches(f, 'dup')).length, 6);

  // A transactional id gets an id of its own from the transaction coordinator (transactions.test.ts).
  const txn = await raw.request(ApiKey.InitProducerId, 1, { transactionalId: 'tx', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
  assert.deepEqual([txn.errorCode, txn.producerEpoch], [ErrorCode.NONE, 0]);
  assert.notEqual(txn.producerId, pid);
});
