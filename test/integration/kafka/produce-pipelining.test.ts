/**
 * Produce pipelining (session.ts): Produce requests sent back to back on one connection overlap — their
 * appends join the same group commits — while every response still comes back in request order, per-partition
 * offsets follow arrival order, and a non-Produce request between them sees every Produce before it.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKey, decodeResponse, encodeRequest } from '../../../src/protocols/kafka/codec/index.js';
import { createKafkaListener } from '../../../src/protocols/kafka/index.js';
import { Broker } from '../../../src/core/broker.js';
import { anonymousPrincipal } from '../../../src/core/principal.js';
import { encodeRecordBatch } from '../../../src/storage/record-batch.js';
import { captureLogger, within } from './harness.js';

interface Served {
  broker: Broker;
  port: number;
  /** fdatasync calls of data logs since the broker opened. */
  fsyncs(): number;
}

async function serve(t: TestContext, kafkaAutoCreate = true): Promise<Served> {
  const dataDir = await mkdtemp(join(tmpdir(), 'trib-kafka-pipe-'));
  let fsyncs = 0;
  const broker = await Broker.open({ dataDir, fsync: 'always', fsyncIntervalMs: 100, storageObserver: { onFsync: () => fsyncs++ } });
  const listener = createKafkaListener({ broker, logger: captureLogger().logger, config: { advertisedHost: '127.0.0.1', kafkaAutoCreate } });
  const [bound] = await listener.listen('127.0.0.1', 0);
  t.after(async () => {
    await listener.close();
    await broker.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { broker, port: bound.port, fsyncs: () => fsyncs };
}

/** Writes every frame in one go and collects `count` response frames (without their size prefix). */
async function sendAll(t: TestContext, port: number, frames: Buffer[], count: number): Promise<Buffer[]> {
  const socket = net.connect(port, '127.0.0.1');
  t.after(() => socket.destroy());
  await within(once(socket, 'connect'), 'connect');
  const received: Buffer[] = [];
  let buf = Buffer.alloc(0);
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        received.push(buf.subarray(4, 4 + buf.readInt32BE(0)));
        buf = buf.subarray(4 + buf.readInt32BE(0));
      }
      if (received.length >= count) resolve();
    });
    socket.on('close', () => reject(new Error(`connection closed after ${received.length} of ${count} responses`)));
  });
  socket.write(Buffer.concat(frames));
  await within(done, `${count} responses`);
  return received;
}

function produceFrame(cid: number, topic: string, partition: number, records: number, acks = -1): Buffer {
  const batch = encodeRecordBatch(Array.from({ length: records }, (_, i) => ({ value: Buffer.from(`c${cid}-r${i}`) })));
  return encodeRequest(ApiKey.Produce, 7, cid, 'pipe', { transactionalId: null, acks, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }] });
}

test('pipelined Produce requests share group commits, keep arrival order per partition, and answer in order', async (t) => {
  const s = await serve(t);
  await s.broker.createStream(anonymousPrincipal(), { name: 'pipe', partitions: 2 });
  const frames: Buffer[] = [];
  const expected = new Map<number, { partition: number; baseOffset: number }>();
  const next = [0, 0];
  let listOffsetsCid = -1;
  const before = [0, 0];
  for (let cid = 1; cid <= 41; cid++) {
    if (cid === 21) {
      // A non-Produce request in the middle waits for every Produce before it and sees all of them.
      listOffsetsCid = cid;
      before[0] = next[0];
      before[1] = next[1];
      frames.push(encodeRequest(ApiKey.ListOffsets, 2, cid, 'pipe', { replicaId: -1, isolationLevel: 0, topics: [{ name: 'pipe', partitions: [0, 1].map((p) => ({ partitionIndex: p, timestamp: -1 })) }] }));
      continue;
    }
    const partition = cid % 2;
    const records = 1 + (cid % 3);
    frames.push(produceFrame(cid, 'pipe', partition, records));
    expected.set(cid, { partition, baseOffset: next[partition] });
    next[partition] += records;
  }
  const fsyncsBefore = s.fsyncs();
  const responses = await sendAll(t, s.port, frames, 41);
  for (let i = 0; i < responses.length; i++) {
    const cid = i + 1;
    if (cid === listOffsetsCid) {
      const lo = decodeResponse(responses[i], ApiKey.ListOffsets, 2);
      assert.equal(lo.correlationId, cid);
      assert.deepEqual(lo.body.topics[0].partitions.map((p) => p.offset), before, 'ListOffsets sees every earlier Produce');
      continue;
    }
    const res = decodeResponse(responses[i], ApiKey.Produce, 7);
    assert.equal(res.correlationId, cid, 'responses come back in request order');
    const p = res.body.responses[0].partitionResponses[0];
    assert.equal(p.errorCode, 0);
    assert.equal(p.index, expected.get(cid)!.partition);
    assert.equal(p.baseOffset, expected.get(cid)!.baseOffset, `request ${cid}: offsets follow arrival order`);
  }
  // One request at a time would need an fsync per Produce (40); pipelined ones share them.
  const used = s.fsyncs() - fsyncsBefore;
  assert.ok(used < 20, `40 pipelined Produce requests took ${used} fsyncs`);
  const stream = s.broker.requireStream('pipe');
  assert.deepEqual([0, 1].map((p) => stream.offsets(p).endOffset), next);
});

test('a failing Produce among pipelined ones gets its own error, in order, and harms none of the others', async (t) => {
  const s = await serve(t, false);
  await s.broker.createStream(anonymousPrincipal(), { name: 'pipe', partitions: 1 });
  const frames = [produceFrame(1, 'pipe', 0, 2), produceFrame(2, 'pipe', 7, 1), produceFrame(3, 'nope', 0, 1), produceFrame(4, 'pipe', 0, 1)];
  // acks=0 is answered by nothing: the next response is request 6's.
  frames.push(produceFrame(5, 'pipe', 0, 1, 0), produceFrame(6, 'pipe', 0, 1));
  const responses = await sendAll(t, s.port, frames, 5);
  const decoded = responses.map((r) => decodeResponse(r, ApiKey.Produce, 7));
  assert.deepEqual(decoded.map((d) => d.correlationId), [1, 2, 3, 4, 6]);
  const parts = decoded.map((d) => d.body.responses[0].partitionResponses[0]);
  assert.deepEqual(parts.map((p) => p.errorCode), [0, 3, 3, 0, 0], 'UNKNOWN_TOPIC_OR_PARTITION for the bad partition and topic');
  assert.deepEqual(parts.map((p) => p.baseOffset), [0, -1, -1, 2, 4]);
});
