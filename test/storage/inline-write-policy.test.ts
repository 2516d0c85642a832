/**
 * InlineWritePolicy and its use by PartitionLog: small groups are written on the event-loop thread, large ones on
 * the pool, and one slow inline write sends writes to the pool for the back-off (with a warning), after which
 * small groups go inline again.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InlineWritePolicy } from '../../src/storage/inline-write-policy.js';
import { encodeRecordBatch } from '../../src/storage/record-batch.js';
import { watchSegmentWrites } from './hold-fsyncs.js';
import { openLog, readAll, recordingLogger, tempDir, value } from './temp-log.js';

test('the policy allows a group up to maxBytes, and nothing for backoffMs after a write slower than slowMs', () => {
  const p = new InlineWritePolicy(1000, 2, 500);
  assert.equal(p.allows(1000, 0), true);
  assert.equal(p.allows(1001, 0), false, 'larger groups go to the pool');
  assert.equal(p.took(2, 10), false, 'a write of exactly slowMs is not slow');
  assert.equal(p.allows(10, 10), true);
  assert.equal(p.took(2.5, 20), true, 'a slow write starts a back-off');
  assert.equal(p.allows(10, 519.9), false);
  assert.equal(p.took(3, 100), false, 'a slow write during a back-off extends it without a second warning');
  assert.equal(p.allows(10, 599.9), false);
  assert.equal(p.allows(10, 600), true, 'back inline once the back-off is over');
});

test('property: allows() is false exactly inside [slow write end, +backoffMs) or above maxBytes', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ gap: fc.double({ min: 0, max: 2000, noNaN: true }), ms: fc.double({ min: 0, max: 5, noNaN: true }), bytes: fc.integer({ min: 0, max: 2048 }) }), { maxLength: 50 }),
      (writes) => {
        const p = new InlineWritePolicy(1024, 2, 500);
        let now = 0;
        let poolUntil = -Infinity;
        for (const w of writes) {
          now += w.gap;
          assert.equal(p.allows(w.bytes, now), w.bytes <= 1024 && now >= poolUntil);
          const slow = w.ms > 2;
          assert.equal(p.took(w.ms, now), slow && now >= poolUntil);
          if (slow) poolUntil = now + 500;
        }
      },
    ),
  );
});

function batch(n: number, size: number): Buffer {
  return encodeRecordBatch([{ key: Buffer.from(`k${n}`), value: value(n, size), timestamp: 1_000 }]);
}

/** Counts segment writes by path for one test; `slowInlineMs` makes each inline write take that long. */
function countWrites(t: TestContext, slowInlineMs = 0): { inline: number; pool: number } {
  const counts = { inline: 0, pool: 0 };
  watchSegmentWrites(
    t,
    (path) => void counts[path]++,
    () => {
      // A page cache that throttles the writer, as seen from the event loop: the call takes slowInlineMs.
      const until = performance.now() + slowInlineMs;
      while (performance.now() < until);
    },
  );
  return counts;
}

for (const fsync of ['always', 'never'] as const) {
  test(`fsync ${fsync}: small groups are written inline, a group above maxBytes on the pool, and all read back`, async (t) => {
    const counts = countWrites(t);
    // No back-off here (slowMs Infinity): on a loaded machine a 1 KiB write can take more than 2 ms of wall time.
    const log = await openLog(t, await tempDir(t), { fsync }, { inlineWrites: new InlineWritePolicy(4096, Infinity) });
    await log.append(batch(0, 100));
    await log.append(batch(1, 100));
    assert.deepEqual(counts, { inline: 2, pool: 0 });
    await log.append(batch(2, 8192));
    assert.deepEqual(counts, { inline: 2, pool: 1 });
    await log.append(batch(3, 100));
    assert.deepEqual(counts, { inline: 3, pool: 1 });
    const records = await readAll(log);
    assert.deepEqual(
      records.map((r) => r.value?.length),
      [100, 8192, 100].flatMap((n, i) => (i === 0 ? [n, n] : [n])),
    );
  });
}

test('a slow inline write sends the next writes to the pool, with one warning naming the file, then inline again', async (t) => {
  const counts = countWrites(t, 5);
  const logger = recordingLogger();
  const log = await openLog(t, await tempDir(t), { fsync: 'always' }, { logger, inlineWrites: new InlineWritePolicy(64 * 1024, 2, 100) });
  await log.append(batch(0, 100));
  assert.deepEqual(counts, { inline: 1, pool: 0 });
  const warned = logger.warnings.filter((w) => /blocked the event loop/.test(w.msg));
  assert.equal(warned.length, 1);
  assert.match(JSON.stringify(warned[0].obj), /00000000000000000000\.log/);
  await log.append(batch(1, 100));
  await log.append(batch(2, 100));
  assert.deepEqual(counts, { inline: 1, pool: 2 }, 'during the back-off');
  await new Promise((r) => setTimeout(r, 120));
  await log.append(batch(3, 100));
  assert.deepEqual(counts, { inline: 2, pool: 2 }, 'after it');
  assert.equal((await readAll(log)).length, 4);
});
