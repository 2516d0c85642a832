import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { Stream } from '../../../src/core/stream.js';
import { FileLogFactory, MemoryLogFactory } from '../../../src/core/log-factory.js';
import { MetadataStore } from '../../../src/core/metadata.js';
import { isBrokerError } from '../../../src/core/broker-error.js';
import { ProducerStateManager, MAX_CACHED_BATCHES, type IdempotentAppendResult } from '../../../src/core/idempotence/producer-state.js';
import { encodeRecordBatch, iterateBatches, readBatchHeader } from '../../../src/storage/record-batch.js';
import type { AppendResult } from '../../../src/storage/log.js';
import { within } from '../../support/within.js';

const T = { timeout: 20_000 };

function batch(producerId: number, baseSequence: number, count: number, producerEpoch = 0): Buffer {
  const records = Array.from({ length: count }, (_, i) => ({ value: Buffer.from(`s${baseSequence + i}`) }));
  return encodeRecordBatch(records, { producerId, producerEpoch, baseSequence });
}

async function memoryStream(name = 'idem'): Promise<{ stream: Stream; producers: ProducerStateManager }> {
  const factory = new MemoryLogFactory();
  const metadata = await MetadataStore.open(factory);
  const stream = await Stream.open(factory, { name, storage: 'memory' });
  return { stream, producers: new ProducerStateManager(metadata, { checkIntervalMs: 0 }) };
}

/** Stored batches of partition 0: [baseOffset, lastOffset, producerId, baseSequence]. */
async function stored(stream: Stream): Promise<Array<[number, number, number, number]>> {
  const read = await stream.read(0, 0, 64 * 1024 * 1024);
  return [...iterateBatches(read.records)].map(({ position }) => {
    const h = readBatchHeader(read.records, position);
    return [h.baseOffset, h.baseOffset + h.lastOffsetDelta, h.producerId, h.baseSequence];
  });
}

function offsetOf(r: IdempotentAppendResult): number {
  return r.kind === 'appended' ? r.result.baseOffset : r.baseOffset;
}

test('pipelined batches of one producer are checked in order and committed by one fsync', T, async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trib-idem-'));
  let fsyncs = 0;
  const factory = new FileLogFactory(dir, { observer: { onFsync: () => fsyncs++ } });
  const metadata = await MetadataStore.open(new MemoryLogFactory());
  const stream = await Stream.open(factory, { name: 'piped', configs: { fsync: 'always' } });
  t.after(async () => {
    await stream.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  const producers = new ProducerStateManager(metadata, { checkIntervalMs: 0 });
  // Warm up: the partition's state is rebuilt (a read) on the first idempotent batch.
  await producers.append(stream, 0, batch(7, 0, 2), () => stream.appendBatch(0, batch(7, 0, 2)));
  const before = fsyncs;
  const sends = Array.from({ length: 5 }, (_, i) => {
    const b = batch(7, 2 + 3 * i, 3);
    return producers.append(stream, 0, b, () => stream.appendBatch(0, b));
  });
  const results = await within(Promise.all(sends), 'five pipelined appends');
  assert.deepEqual(results.map(offsetOf), [2, 5, 8, 11, 14]);
  // Before pipelining each batch waited for the previous one's fsync: five. Now they share one group.
  assert.ok(fsyncs - before < 5, `expected the five batches to share fsyncs, got ${fsyncs - before}`);
  assert.deepEqual((await stored(stream)).map((b) => b[3]), [0, 2, 5, 8, 11, 14]);
});

test('a retry of a batch still in flight waits for it and answers with its offsets', T, async () => {
  const { stream, producers } = await memoryStream();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const first = batch(3, 0, 4);
  let appended = 0;
  // The first append is issued (offsets taken) but not acknowledged until the gate opens.
  const original = producers.append(stream, 0, first, () => {
    appended++;
    const p = stream.appendBatch(0, first);
    return gate.then(() => p);
  });
  const retry = producers.append(stream, 0, batch(3, 0, 4), () => {
    appended++;
    return stream.appendBatch(0, batch(3, 0, 4));
  });
  // The next batch is checked against the pending one and goes ahead without waiting for it.
  const next = producers.append(stream, 0, batch(3, 4, 1), () => stream.appendBatch(0, batch(3, 4, 1)));
  assert.equal(offsetOf(await within(next, 'the next batch')), 4);
  let retried = false;
  void retry.then(() => (retried = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(retried, false, 'the retry must not be answered before the original');
  release();
  const [a, b] = await within(Promise.all([original, retry]), 'original and retry');
  assert.equal(a.kind, 'appended');
  assert.deepEqual(b, { kind: 'duplicate', baseOffset: 0, lastOffset: 3 });
  assert.equal(appended, 1);
  assert.deepEqual(await stored(stream), [[0, 3, 3, 0], [4, 4, 3, 4]]);
});

test('a batch refused before it took offsets does not count for the next one', T, async () => {
  const { stream, producers } = await memoryStream();
  await producers.append(stream, 0, batch(1, 0, 1), () => stream.appendBatch(0, batch(1, 0, 1)));
  const corrupt = batch(1, 1, 2);
  corrupt[corrupt.length - 1] ^= 0xff; // CRC no longer matches
  const refused = producers.append(stream, 0, corrupt, () => stream.appendBatch(0, corrupt));
  // Pipelined behind the corrupt one with the sequence after it: out of order, as the corrupt batch never landed.
  const behind = producers.append(stream, 0, batch(1, 3, 1), () => stream.appendBatch(0, batch(1, 3, 1)));
  await assert.rejects(refused, (e: unknown) => isBrokerError(e, 'TRIB_CORRUPT_RECORD'));
  await assert.rejects(behind, (e: unknown) => isBrokerError(e, 'TRIB_OUT_OF_ORDER_SEQUENCE'));
  const again = await producers.append(stream, 0, batch(1, 1, 2), () => stream.appendBatch(0, batch(1, 1, 2)));
  assert.equal(offsetOf(again), 1);
});

test('a batch that failed after taking offsets is forgotten with those issued after it', T, async () => {
  const { stream, producers } = await memoryStream();
  await producers.append(stream, 0, batch(2, 0, 1), () => stream.appendBatch(0, batch(2, 0, 1)));
  // A log write failure: offsets were taken, then the append (and every one after it) rejects.
  const ioError = (): Error => Object.assign(new Error('disk gone'), { code: 'EIO' });
  const failing = (b: Buffer) => (): Promise<AppendResult> => {
    const p = stream.appendBatch(0, b);
    return p.then(() => Promise.reject(ioError()));
  };
  const a = producers.append(stream, 0, batch(2, 1, 1), failing(batch(2, 1, 1)));
  const b = producers.append(stream, 0, batch(2, 2, 1), failing(batch(2, 2, 1)));
  const retryOfA = producers.append(stream, 0, batch(2, 1, 1), () => stream.appendBatch(0, batch(2, 1, 1)));
  await assert.rejects(a, /disk gone/);
  await assert.rejects(b, /disk gone/);
  // The retry waited for `a`, saw it fail, and was checked again: the sequence after 0 is 1 again, so it is appended.
  const r = await within(retryOfA, 'retry of the failed batch');
  assert.equal(r.kind, 'appended');
  // And the batch after it is in order again.
  assert.equal((await producers.append(stream, 0, batch(2, 2, 1), () => stream.appendBatch(0, batch(2, 2, 1)))).kind, 'appended');
});

test('stale epochs and gaps are refused while batches are pending; an unknown producer is taken at any sequence', T, async () => {
  const { stream, producers } = await memoryStream();
  const sends = [
    producers.append(stream, 0, batch(5, 0, 2, 1), () => stream.appendBatch(0, batch(5, 0, 2, 1))),
    producers.append(stream, 0, batch(5, 2, 1, 0), () => stream.appendBatch(0, batch(5, 2, 1, 0))),
    producers.append(stream, 0, batch(5, 4, 1, 1), () => stream.appendBatch(0, batch(5, 4, 1, 1))),
    producers.append(stream, 0, batch(6, 3, 1, 0), () => stream.appendBatch(0, batch(6, 3, 1, 0))),
  ];
  const settled = await within(Promise.allSettled(sends), 'four appends');
  assert.equal(settled[0].status, 'fulfilled');
  const codes = settled.slice(1).map((s) => (s.status === 'rejected' && isBrokerError(s.reason) ? s.reason.code : s.status));
  assert.deepEqual(codes, ['TRIB_INVALID_PRODUCER_EPOCH', 'TRIB_OUT_OF_ORDER_SEQUENCE', 'fulfilled']);
});

/**
 * Model: a producer sends batches with consecutive sequences; any of the last MAX_CACHED_BATCHES sent may be
 * retried at any point after it (what a client with max.in.flight 5 can do); a corrupt copy of the next batch
 * may come first. The log acknowledges in an order fast-check chooses. Each sequence must be stored once, in
 * order, and every answer for a batch must name the offset it was stored at.
 */
test('any interleaving of pipelined batches and retries gives each sequence exactly one offset, in order', T, async () => {
  type Op = { kind: 'new'; count: number; corruptFirst: boolean } | { kind: 'retry'; back: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('new' as const), count: fc.integer({ min: 1, max: 4 }), corruptFirst: fc.boolean() }),
    fc.record({ kind: fc.constant('retry' as const), back: fc.integer({ min: 1, max: MAX_CACHED_BATCHES }) }),
  );
  await fc.assert(
    fc.asyncProperty(fc.scheduler(), fc.array(op, { minLength: 1, maxLength: 25 }), async (s, ops) => {
      const { stream, producers } = await memoryStream();
      const sent: Array<{ seq: number; count: number }> = [];
      const answers: Array<{ index: number; p: Promise<IdempotentAppendResult> }> = [];
      const corrupt: Array<Promise<IdempotentAppendResult>> = [];
      let seq = 0;
      const send = (b: Buffer): Promise<IdempotentAppendResult> =>
        producers.append(stream, 0, b, () => {
          const copy = Buffer.from(b);
          return s.schedule(stream.appendBatch(0, copy));
        });
      for (const o of ops) {
        if (o.kind === 'new') {
          if (o.corruptFirst) {
            const bad = batch(9, seq, o.count);
            bad[bad.length - 1] ^= 0x5a;
            corrupt.push(send(bad));
          }
          sent.push({ seq, count: o.count });
          answers.push({ index: sent.length - 1, p: send(batch(9, seq, o.count)) });
          seq += o.count;
        } else if (sent.length > 0) {
          const index = Math.max(0, sent.length - o.back);
          answers.push({ index, p: send(batch(9, sent[index].seq, sent[index].count)) });
        }
      }
      const results = await s.waitFor(Promise.all(answers.map((a) => a.p)));
      for (const c of await s.waitFor(Promise.allSettled(corrupt))) {
        assert.ok(c.status === 'rejected' && isBrokerError(c.reason, 'TRIB_CORRUPT_RECORD'));
      }
      const log = await stored(stream);
      // Each sent batch stored exactly once, in sequence order, at consecutive offsets.
      assert.deepEqual(log.map((b) => b[3]), sent.map((b) => b.seq));
      let next = 0;
      for (let i = 0; i < log.length; i++) {
        assert.equal(log[i][0], next);
        next = log[i][1] + 1;
        assert.equal(log[i][1] - log[i][0] + 1, sent[i].count);
      }
      for (let i = 0; i < answers.length; i++) assert.equal(offsetOf(results[i]), log[answers[i].index][0]);
      assert.equal(results.filter((r) => r.kind === 'appended').length, sent.length);
    }),
    { numRuns: 150 },
  );
});
