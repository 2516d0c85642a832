/**
 * Idempotent producers with several Produce requests in flight (ProducerStateManager pipelining): a kafkajs
 * idempotent producer with maxInFlightRequests 5 and many concurrent sends, and raw pipelined Produce requests
 * on one connection mixing new batches and retries. Every record must be stored once, batches in sequence order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../../src/protocols/kafka/codec/index.js';
import { encodeRecordBatch, iterateBatches, readBatchHeader, decodeRecords } from '../../../src/storage/record-batch.js';
import { startKafka, type KafkaFixture } from '../../integration/kafka/harness.js';
import { within } from '../../support/within.js';
import { rawKafka } from '../../integration/kafka/raw-client.js';

const T = { timeout: 60_000 };

interface StoredBatch {
  baseOffset: number;
  lastOffset: number;
  producerId: number;
  baseSequence: number;
  values: string[];
}

async function storedBatches(f: KafkaFixture, topic: string, partition: number): Promise<StoredBatch[]> {
  const stream = f.broker.requireStream(topic);
  const read = await stream.read(partition, 0, 64 * 1024 * 1024);
  return [...iterateBatches(read.records)].map(({ position, size }) => {
    const h = readBatchHeader(read.records, position);
    const values = decodeRecords(read.records.subarray(position, position + size)).map((r) => r.value!.toString());
    return { baseOffset: h.baseOffset, lastOffset: h.baseOffset + h.lastOffsetDelta, producerId: h.producerId, baseSequence: h.baseSequence, values };
  });
}

/** Batches follow each other in offsets and sequences, from sequence 0, all of one producer. */
function assertInSequence(batches: StoredBatch[]): void {
  let offset = 0;
  let seq = 0;
  for (const b of batches) {
    assert.equal(b.baseOffset, offset, 'offsets are contiguous');
    assert.equal(b.baseSequence, seq, 'sequences follow offsets');
    assert.equal(b.producerId, batches[0].producerId);
    offset = b.lastOffset + 1;
    seq += b.lastOffset - b.baseOffset + 1;
  }
}

test('a kafkajs idempotent producer with many concurrent sends stores each record once, in sequence order', T, async (t) => {
  const f = await startKafka(t);
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'piped', numPartitions: 3 }] });
  const producer = f.track(f.kafka().producer({ idempotent: true, maxInFlightRequests: 5 }));
  await producer.connect();
  const total = 300;
  const sends = Array.from({ length: total }, (_, i) =>
    producer.send({ topic: 'piped', acks: -1, messages: [{ key: `k${i % 7}`, value: `v${i}` }] }),
  );
  const results = await within(Promise.all(sends), `${total} concurrent sends`, 45_000);
  const seen = new Map<number, Set<string>>();
  for (const [r] of results) {
    assert.equal(r.errorCode, 0);
    const offsets = seen.get(r.partition) ?? new Set<string>();
    seen.set(r.partition, offsets);
    const offset = String(r.baseOffset);
    assert.ok(!offsets.has(offset), `offset ${offset} of partition ${r.partition} acknowledged twice`);
    offsets.add(offset);
  }
  const values: string[] = [];
  for (let p = 0; p < 3; p++) {
    const batches = await storedBatches(f, 'piped', p);
    assertInSequence(batches);
    values.push(...batches.flatMap((b) => b.values));
  }
  assert.equal(values.length, total, 'no record stored twice or lost');
  assert.deepEqual(new Set(values), new Set(Array.from({ length: total }, (_, i) => `v${i}`)));
});

test('pipelined Produce requests with retries on one connection: one copy of each batch, original offsets', T, async (t) => {
  const f = await startKafka(t);
  const raw = await rawKafka(t, f.port);
  await raw.request(ApiKey.CreateTopics, 4, { topics: [{ name: 'raw-piped', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  const init = await raw.request(ApiKey.InitProducerId, 1, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
  const pid = init.producerId as number;
  const batch = (seq: number, count: number): Buffer =>
    encodeRecordBatch(Array.from({ length: count }, (_, i) => ({ value: Buffer.from(`r${seq + i}`) })), { producerId: pid, producerEpoch: 0, baseSequence: seq });
  const produce = (records: Buffer) =>
    raw.request(ApiKey.Produce, 7, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'raw-piped', partitionData: [{ index: 0, records }] }] });
  // Sequences 0,2,5,6,9 (counts 2,3,1,3,2); each retried once right after a later batch was sent.
  const plan: Array<[number, number]> = [[0, 2], [2, 3], [0, 2], [5, 1], [2, 3], [6, 3], [5, 1], [9, 2], [6, 3], [9, 2]];
  const responses = await within(Promise.all(plan.map(([seq, count]) => produce(batch(seq, count)))), 'ten pipelined produce requests');
  const answered = responses.map((r) => r.responses[0].partitionResponses[0]);
  assert.deepEqual(answered.map((p) => p.errorCode), plan.map(() => ErrorCode.NONE));
  assert.deepEqual(answered.map((p) => Number(p.baseOffset)), [0, 2, 0, 5, 2, 6, 5, 9, 6, 9]);
  const stored = await storedBatches(f, 'raw-piped', 0);
  assertInSequence(stored);
  assert.deepEqual(stored.map((b) => b.baseSequence), [0, 2, 5, 6, 9]);
});
