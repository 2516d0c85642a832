/**
 * Produce frames larger than a socket read (64 KiB) are decoded from their reads in place and their batches
 * written to the log as those pieces (wire/byte-chunks.ts, FrameSplitter). Over a real socket: the stored
 * batch is byte for byte what was sent (base offset aside); a corrupted byte deep in the records gets
 * CORRUPT_MESSAGE and stores nothing; an idempotent retry of a large batch is recognised; live subscribers of
 * the topic's subject get the records; kafkajs reads them back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../../src/protocols/kafka/codec/index.js';
import { decodeRecords, encodeRecordBatch, iterateBatches } from '../../../src/storage/record-batch.js';
import type { Message } from '../../../src/core/message.js';
import { startKafka, within } from './harness.js';
import { rawKafka } from './raw-client.js';

const T = { timeout: 60_000 };

/** A batch of `count` records of 1 KiB, values `${tag}-<i>` padded. */
function bigBatch(tag: string, count: number, options: { producerId?: number; baseSequence?: number } = {}): Buffer {
  const records = Array.from({ length: count }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`${tag}-${i}-`.padEnd(1024, 'x')) }));
  return encodeRecordBatch(records, options.producerId === undefined ? {} : { producerId: options.producerId, producerEpoch: 0, baseSequence: options.baseSequence ?? 0 });
}

test('large Produce frames: stored byte for byte, corrupted or oversized ones refused, idempotent retries recognised, delivered live', T, async (t) => {
  const f = await startKafka(t);
  const raw = await rawKafka(t, f.port);
  await raw.request(ApiKey.CreateTopics, 4, { topics: [{ name: 'big', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  const live: Message[] = [];
  let allLive!: () => void;
  const liveDone = new Promise<void>((resolve) => (allLive = resolve));
  const sub = f.broker.router.subscribe('big', (m) => {
    if (live.push(m) === 1200) allLive();
  });
  t.after(() => sub.unsubscribe());
  const produce = async (records: Buffer) => {
    const res = await raw.request(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'big', partitionData: [{ index: 0, records }] }] });
    return res.responses[0].partitionResponses[0];
  };

  // 700 KiB: about eleven socket reads.
  const first = bigBatch('a', 700);
  const sent = Buffer.from(first);
  const r1 = await produce(first);
  assert.equal(r1.errorCode, ErrorCode.NONE);
  assert.equal(Number(r1.baseOffset), 0);

  const corrupt = bigBatch('bad', 500);
  corrupt[300_000] ^= 0x55;
  const r2 = await produce(corrupt);
  assert.equal(r2.errorCode, ErrorCode.CORRUPT_MESSAGE, 'a flipped byte in the middle of the records fails the CRC');

  // Over the topic's max.message.bytes, as socket reads too: MESSAGE_TOO_LARGE, nothing stored.
  await raw.request(ApiKey.CreateTopics, 4, { topics: [{ name: 'capped', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'max.message.bytes', value: '100000' }] }], timeoutMs: 5000, validateOnly: false });
  const capped = await raw.request(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'capped', partitionData: [{ index: 0, records: bigBatch('big', 300) }] }] });
  assert.equal(capped.responses[0].partitionResponses[0].errorCode, ErrorCode.MESSAGE_TOO_LARGE);
  assert.equal(f.broker.requireStream('capped').offsets(0).endOffset, 0);

  const r3 = await produce(bigBatch('c', 300));
  assert.equal(r3.errorCode, ErrorCode.NONE);
  assert.equal(Number(r3.baseOffset), 700, 'the refused batch took no offsets');

  // An idempotent producer's large batch, sent twice: the retry is answered with the first offsets.
  const init = await raw.request(ApiKey.InitProducerId, 1, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
  const idem = bigBatch('i', 200, { producerId: Number(init.producerId), baseSequence: 0 });
  const r4 = await produce(Buffer.from(idem));
  const r5 = await produce(Buffer.from(idem));
  assert.equal(r4.errorCode, ErrorCode.NONE);
  assert.equal(r5.errorCode, ErrorCode.NONE);
  assert.equal(Number(r4.baseOffset), 1000);
  assert.equal(Number(r5.baseOffset), 1000, 'the retry is recognised as the same batch');

  const stream = f.broker.requireStream('big');
  const read = await stream.read(0, 0, 64 * 1024 * 1024);
  const batches = [...iterateBatches(read.records)].map(({ position, size }) => read.records.subarray(position, position + size));
  assert.equal(batches.length, 3, 'three batches stored: the corrupted one and the retry are not');
  // Byte for byte what was sent, but for the base offset the log wrote (the CRC does not cover it).
  assert.ok(batches[0].subarray(8).equals(sent.subarray(8)), 'the first batch is stored as sent');
  assert.equal(batches[0].readBigInt64BE(0), 0n);
  assert.equal(batches[1].readBigInt64BE(0), 700n);
  const values = decodeRecords(read.records).map((r) => r.value!.toString().replace(/x+$/, ''));
  assert.equal(values.length, 1200);
  assert.equal(values[0], 'a-0-');
  assert.equal(values[699], 'a-699-');
  assert.equal(values[700], 'c-0-');
  assert.equal(values[1199], 'i-199-');

  await within(liveDone, 'live delivery of the produced records');
  assert.equal(live[0].value!.toString().replace(/x+$/, ''), 'a-0-');
  assert.equal(live[1199].value!.toString().replace(/x+$/, ''), 'i-199-');

  // A stock client reads them back.
  const consumer = f.track(f.kafka().consumer({ groupId: 'big-readers' }));
  await consumer.connect();
  await consumer.subscribe({ topic: 'big', fromBeginning: true });
  const seen: string[] = [];
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(message.value!.toString().replace(/x+$/, ''));
        if (seen.length === 1200) resolve();
      },
    });
  });
  await within(done, 'kafkajs reading 1200 records');
  assert.deepEqual(seen, values);
});
