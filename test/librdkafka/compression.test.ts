/**
 * librdkafka's four compression codecs (compression.type gzip, snappy, lz4, zstd: the build's own codecs, not
 * the broker's) round-trip keys, values and headers through the broker, and the batches are stored and served
 * compressed as produced (attribute bits read from a raw Fetch).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey } from '../../src/protocols/kafka/codec/index.js';
import { batchSizeAt, readBatchHeader } from '../../src/storage/record-batch.js';
import { rawKafka } from '../integration/kafka/raw-client.js';
import { binding, skipReason } from './binding.js';
import { startServed } from './harness.js';
import { readTopic } from './read-topic.js';

const CODEC_BITS = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
const RECORDS = 200;

for (const codec of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
  test(`librdkafka compression.type=${codec}: keys, values and headers round-trip, batches stored compressed`, { skip: skipReason }, async (t) => {
    assert.ok(binding!.features.includes(codec), `this librdkafka build has ${codec} (features: ${binding!.features.join(',')})`);
    const f = await startServed(t);
    const topic = `z-${codec}`;
    const admin = f.admin();
    await f.wait(admin.connect(), 'the admin client to connect');
    await f.wait(admin.createTopics({ topics: [{ topic, numPartitions: 1 }] }), 'the topic');

    const producer = f.producer({ 'compression.type': codec });
    await f.wait(producer.connect(), 'the producer to connect');
    // Similar records sent together, so librdkafka builds multi-record batches worth compressing.
    const expected = (): Array<{ key: string | null; value: string; headers: { source: string; seq: string; bin: Buffer } }> =>
      Array.from({ length: RECORDS }, (_, i) => ({
        key: i % 10 === 0 ? null : `k${i % 7}`,
        value: `${codec} record ${i} ${'abc'.repeat(40)}`,
        headers: { source: 'librdkafka', seq: String(i), bin: Buffer.from([0, 255, i % 256]) },
      }));
    // A fresh copy: send() converts the messages it is given in place (values to Buffers).
    await f.wait(producer.send({ topic, messages: expected() }), `${RECORDS} ${codec} records`);

    const read = await readTopic(f, topic, (rs) => rs.length >= RECORDS);
    assert.deepEqual(
      read.map((r) => [r.offset, r.key, r.value]),
      expected().map((m, i) => [i, m.key, m.value]),
    );
    read.forEach((r, i) => {
      assert.equal(String(r.headers['source']), 'librdkafka');
      assert.equal(String(r.headers['seq']), String(i));
      assert.deepEqual(Buffer.from(r.headers['bin'] as Buffer), Buffer.from([0, 255, i % 256]));
    });

    // Served as produced: every batch carries the codec's attribute bits.
    const raw = await rawKafka(t, Number(f.bootstrap.split(':')[1]));
    const fetched = await f.wait(
      raw.request(ApiKey.Fetch, 4, { replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 16 << 20, topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 16 << 20 }] }] }),
      'a raw Fetch',
    );
    const records = fetched.responses[0]!.partitions[0]!.records!;
    assert.ok(records.length > 0);
    let batches = 0;
    for (let pos = 0; pos < records.length; pos += batchSizeAt(records, pos), batches++) {
      assert.equal(readBatchHeader(records, pos).attributes & 0x7, CODEC_BITS[codec]);
    }
    assert.ok(batches >= 1 && batches < RECORDS, `${batches} batches for ${RECORDS} records`);
    raw.close();
  });
}
