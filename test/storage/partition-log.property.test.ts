/**
 * Property tests: random sequences of appends (sizes, batch shapes), reopens and truncations against a
 * simple model, with tiny segments and index intervals so rolls and index lookups happen constantly; and
 * random tears of the active segment, after which the log must be a whole-batch prefix of what was written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { encodeRecordBatch } from '../../src/storage/record-batch.js';
import { readAll, silentLogger } from './temp-log.js';

type Op = { kind: 'append'; sizes: number[] } | { kind: 'reopen' } | { kind: 'truncate'; at: number } | { kind: 'read'; at: number; maxBytes: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('append' as const), sizes: fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 5 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('read' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), maxBytes: fc.integer({ min: 1, max: 3000 }) }) },
);

const configArb = fc.record({
  segmentBytes: fc.integer({ min: 200, max: 3000 }),
  indexIntervalBytes: fc.integer({ min: 0, max: 600 }),
  fsync: fc.constantFrom('always' as const, 'never' as const),
});

function recordValue(offset: number, size: number): Buffer {
  const b = Buffer.alloc(size + 8, offset % 256);
  b.writeDoubleBE(offset, 0);
  return b;
}

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'trib-prop-'));
  try {
    return await fn(dir);
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

test('every record is readable from any offset, in order, across rolls, reopens and truncations', async () => {
  await fc.assert(
    fc.asyncProperty(configArb, fc.array(opArb, { minLength: 1, maxLength: 40 }), async (config, ops) =>
      withDir(async (dir) => {
        let log = await PartitionLog.open(dir, config, { logger: silentLogger });
        // The model: batch boundaries and each record's value size, by offset.
        const model: { size: number; batchBase: number }[] = [];
        try {
          for (const op of ops) {
            if (op.kind === 'append') {
              const base = model.length;
              const res = await log.append(encodeRecordBatch(op.sizes.map((s, i) => ({ value: recordValue(base + i, s), timestamp: 1_000 + base }))));
              assert.equal(res.baseOffset, base);
              op.sizes.forEach((s) => model.push({ size: s, batchBase: base }));
            } else if (op.kind === 'reopen') {
              await log.close();
              log = await PartitionLog.open(dir, config, { logger: silentLogger });
            } else if (op.kind === 'truncate') {
              const at = Math.floor(op.at * model.length);
              await log.truncate(at);
              // Whole batches go: the end is the base of the batch holding `at`.
              if (at < model.length) model.length = model[at].batchBase;
            } else {
              const at = Math.floor(op.at * model.length);
              const recs = await readAll(log, at, op.maxBytes);
              assert.equal(recs.length, model.length - at);
            }
            assert.equal(log.endOffset, model.length);
            assert.equal(log.highWatermark, model.length);
          }
          await log.close();
          log = await PartitionLog.open(dir, config, { logger: silentLogger });
          assert.equal(log.endOffset, model.length);
          for (let from = 0; from < model.length; from += 1 + Math.floor(model.length / 7)) {
            const recs = await readAll(log, from, 700);
            assert.equal(recs.length, model.length - from);
            recs.forEach((r, i) => {
              assert.equal(r.offset, from + i);
              assert.deepEqual(r.value, recordValue(from + i, model[from + i].size));
            });
          }
        } finally {
          await log.close();
        }
      }),
    ),
    { numRuns: 30 },
  );
});

test('after a tear anywhere in the active segment, the log is a whole-batch prefix of what was written', async () => {
  await fc.assert(
    fc.asyncProperty(
      configArb,
      fc.array(fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 30 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      async (config, batches, cut) =>
        withDir(async (dir) => {
          const log = await PartitionLog.open(dir, config, { logger: silentLogger });
          const bases: number[] = [];
          let next = 0;
          for (const sizes of batches) {
            bases.push(next);
            await log.append(encodeRecordBatch(sizes.map((s, i) => ({ value: recordValue(next + i, s), timestamp: 5 }))));
            next += sizes.length;
          }
          await log.close();
          const active = (await fs.promises.readdir(dir)).filter((n) => n.endsWith('.log')).sort().pop()!;
          const file = path.join(dir, active);
          const size = (await fs.promises.stat(file)).size;
          await fs.promises.truncate(file, Math.floor(cut * size));
          const reopened = await PartitionLog.open(dir, config, { logger: silentLogger });
          try {
            const end = reopened.endOffset;
            assert.ok(bases.includes(end) || end === next, `end ${end} is not a batch boundary`);
            const recs = await readAll(reopened, 0, 900);
            assert.equal(recs.length, end);
            recs.forEach((r, i) => assert.deepEqual(r.value, recordValue(i, r.value!.length - 8)));
            assert.equal((await reopened.append(encodeRecordBatch([{ value: Buffer.from('after') }]))).baseOffset, end);
          } finally {
            await reopened.close();
          }
        }),
    ),
    { numRuns: 40 },
  );
});
