import { test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs, { CompressionTypes, type EachMessagePayload } from 'kafkajs';
import { startKafka, within, deferred } from './harness.js';
import { CompressionType, OFFSET_ATTRIBUTES, ATTR_COMPRESSION_MASK, decodeRecordBatch, iterateBatches } from '../../../src/storage/record-batch.js';
import { lz4Compress, lz4Decompress, snappyCompressXerial, snappyDecompress, zstdCompress, zstdDecompress } from '../../../src/protocols/kafka/compression.js';

const { CompressionCodecs } = kafkajs;

// kafkajs ships gzip only; other codecs are user-supplied objects. These are built on the same npm packages the
// broker uses; snappy is sent xerial-framed (as the Java client does) so the broker's framing decoder is exercised.
CompressionCodecs[CompressionTypes.Snappy] = () => ({
  compress: async (encoder: { buffer: Buffer }) => snappyCompressXerial(encoder.buffer),
  decompress: async (buffer: Buffer) => snappyDecompress(buffer),
});
CompressionCodecs[CompressionTypes.LZ4] = () => ({
  compress: async (encoder: { buffer: Buffer }) => lz4Compress(encoder.buffer),
  decompress: async (buffer: Buffer) => lz4Decompress(buffer),
});
CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  compress: async (encoder: { buffer: Buffer }) => zstdCompress(encoder.buffer),
  decompress: async (buffer: Buffer) => zstdDecompress(buffer),
});

const CODECS = [
  { name: 'gzip', kafkajs: CompressionTypes.GZIP, stored: CompressionType.Gzip },
  { name: 'snappy', kafkajs: CompressionTypes.Snappy, stored: CompressionType.Snappy },
  { name: 'lz4', kafkajs: CompressionTypes.LZ4, stored: CompressionType.Lz4 },
  { name: 'zstd', kafkajs: CompressionTypes.ZSTD, stored: CompressionType.Zstd },
] as const;

test('all four codecs round trip through kafkajs, are stored as sent, and decode for other protocols', async (t) => {
  const f = await startKafka(t);
  const producer = f.track(f.kafka().producer());
  await producer.connect();
  const payload = 'payload-'.repeat(250);
  const expected = new Map<string, string[]>();
  for (const c of CODECS) {
    const topic = `z-${c.name}`;
    const values = Array.from({ length: 40 }, (_, i) => `${c.name}:${i}:${payload}`);
    expected.set(topic, values);
    const res = await producer.send({ topic, compression: c.kafkajs, messages: values.map((value, i) => ({ key: String(i), value, headers: { codec: c.name } })) });
    assert.equal(res[0].errorCode, 0);
  }

  // Stored as sent: one batch, its compression bits unchanged, far smaller than the payload; and the core's
  // decoder (what AMQP/NATS/MQTT deliveries use) reads every record back.
  for (const c of CODECS) {
    const topic = `z-${c.name}`;
    const read = await f.broker.requireStream(topic).read(0, 0, 10_000_000);
    const batches = [...iterateBatches(read.records)];
    assert.equal(batches.length, 1, c.name);
    assert.equal(read.records.readInt16BE(OFFSET_ATTRIBUTES) & ATTR_COMPRESSION_MASK, c.stored, c.name);
    assert.ok(read.records.length < (40 * payload.length) / 4, `${c.name} stored ${read.records.length} bytes`);
    const records = decodeRecordBatch(read.records, 0);
    assert.deepEqual(records.map((r) => r.value?.toString()), expected.get(topic));
    assert.deepEqual(records.map((r) => r.offset), Array.from({ length: 40 }, (_, i) => i));
    assert.equal(records[3].headers[0].value?.toString(), c.name);
    const messages = await f.broker.requireStream(topic).readMessages(0, 10, 10_000_000);
    assert.equal(messages.length, 30);
  }

  const consumer = f.track(f.kafka().consumer({ groupId: 'z-all', sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 200 }));
  await consumer.connect();
  await consumer.subscribe({ topics: [...expected.keys()], fromBeginning: true });
  const got = new Map<string, string[]>();
  let total = 0;
  const done = deferred();
  await consumer.run({
    eachMessage: async ({ topic, message }: EachMessagePayload) => {
      const list = got.get(topic) ?? [];
      list.push(message.value?.toString() ?? '');
      got.set(topic, list);
      if (++total >= 160) done.resolve();
    },
  });
  await within(done.promise, '160 compressed messages');
  for (const [topic, values] of expected) assert.deepEqual(got.get(topic), values, topic);
});
