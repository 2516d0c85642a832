/**
 * librdkafka's idempotent producer (enable.idempotence: InitProducerId, then sequence numbers per partition with
 * up to five requests in flight) against the broker's sequence checks: thousands of sends issued without
 * awaiting each other are each stored once and, per key, in the order they were sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { skipReason, type RecordMetadata } from './binding.js';
import { startServed } from './harness.js';
import { readTopic } from './read-topic.js';

const RECORDS = 3000;
const KEYS = 6;

test('an idempotent librdkafka producer with many sends in flight stores every record once, in order per key', { skip: skipReason }, async (t) => {
  const f = await startServed(t);
  const admin = f.admin();
  await f.wait(admin.connect(), 'the admin client to connect');
  await f.wait(admin.createTopics({ topics: [{ topic: 'idem', numPartitions: 3 }] }), 'the topic');

  const producer = f.producer({ 'enable.idempotence': true });
  await f.wait(producer.connect(), 'the idempotent producer to connect (InitProducerId)');
  // One send per record, none awaited before the next: librdkafka batches them and pipelines the batches.
  const sends: Array<Promise<RecordMetadata[]>> = [];
  for (let i = 0; i < RECORDS; i++) sends.push(producer.send({ topic: 'idem', messages: [{ key: `key-${i % KEYS}`, value: `${i}` }] }));
  const acks = (await f.wait(Promise.all(sends), `${RECORDS} acknowledgements`, 60_000)).flat();
  assert.equal(acks.length, RECORDS);
  assert.ok(acks.every((a) => a.errorCode === 0));

  // Each send's delivery report names its own offset: no two the same.
  const seen = new Set(acks.map((a) => `${a.partition}/${a.baseOffset}`));
  assert.equal(seen.size, RECORDS, 'no two acknowledgements name the same offset');

  const ends = await f.wait(admin.fetchTopicOffsets('idem'), 'the topic offsets');
  assert.equal(ends.reduce((n, p) => n + Number(p.high), 0), RECORDS, 'the partitions hold exactly the records sent');

  const records = await readTopic(f, 'idem', (rs) => rs.length >= RECORDS);
  assert.equal(records.length, RECORDS);
  const byKey = new Map<string, number[]>();
  for (const r of records) {
    if (!byKey.has(r.key!)) byKey.set(r.key!, []);
    byKey.get(r.key!)!.push(Number(r.value));
  }
  assert.equal(byKey.size, KEYS);
  for (const [key, values] of byKey) {
    const k = Number(key.slice('key-'.length));
    const sent = Array.from({ length: RECORDS / KEYS }, (_, j) => j * KEYS + k);
    assert.deepEqual(values, sent, `${key}: every record once, in the order sent`);
  }
  // Each key went to one partition, and each partition's offsets run 0..n-1 without a gap or a repeat.
  const partitions = new Map<number, number[]>();
  for (const r of records) {
    if (!partitions.has(r.partition)) partitions.set(r.partition, []);
    partitions.get(r.partition)!.push(r.offset);
  }
  for (const [p, offsets] of partitions) assert.deepEqual(offsets, offsets.map((_, i) => i), `partition ${p} offsets are dense`);
});
