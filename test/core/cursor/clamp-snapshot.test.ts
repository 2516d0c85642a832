/**
 * clampSnapshot and its use at Cursor.open: persisted cursor state that reaches past the end of its log (the
 * log lost an unsynced tail the cursor had already seen) is cut at the log's end, so the records that take
 * those offsets again are delivered rather than taken for acked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryLog } from '../../../src/storage/memory-log.js';
import { clampSnapshot } from '../../../src/core/cursor/clamp-snapshot.js';
import { Cursor } from '../../../src/core/cursor/cursor.js';
import { CursorStore } from '../../../src/core/cursor/cursor-store.js';
import type { Delivery } from '../../../src/core/cursor/cursor-state.js';
import { until, within } from './manual-clock.js';

test('a snapshot inside the log ends is returned unchanged', () => {
  const snap = { levels: [{ floor: 3, next: 8, ranges: [5, 6], counts: [4, 2] }] };
  assert.equal(clampSnapshot(snap, [8]), snap);
  assert.equal(clampSnapshot(snap, [100]), snap);
});

test('floor, next, acked ranges and delivery counts at or past the end are dropped', () => {
  const snap = {
    levels: [
      { floor: 2, next: 20, ranges: [4, 6, 9, 15, 17, 19], counts: [3, 2, 7, 4, 16, 3] },
      { floor: 10, next: 12, ranges: [], counts: [] },
      { floor: 1, next: 2, ranges: [], counts: [] },
    ],
  };
  const clamped = clampSnapshot(snap, [11, 5]);
  assert.deepEqual(clamped.levels[0], { floor: 2, next: 11, ranges: [4, 6, 9, 11], counts: [3, 2, 7, 4] });
  assert.deepEqual(clamped.levels[1], { floor: 5, next: 5, ranges: [], counts: [] });
  assert.equal(clamped.levels[2], snap.levels[2], 'a level without a known end is kept');
});

async function appendValues(log: MemoryLog, values: string[]): Promise<void> {
  for (const v of values) await log.appendRecords([{ value: Buffer.from(v), timestamp: 1_000 }]);
}

test('a cursor whose log lost records it had acked delivers the records that reuse those offsets', async () => {
  const storeLog = new MemoryLog({ cleanupPolicy: 'compact' });
  const store = await CursorStore.open(storeLog);
  // First life: ten records delivered and acked, the state durable in the store.
  const before = new MemoryLog();
  await appendValues(before, Array.from({ length: 10 }, (_, i) => `old${i}`));
  const seen: Delivery[] = [];
  const first = await within(Cursor.open({ id: 'q', sources: [before], store, deliver: (_c, d) => void seen.push(d) }));
  first.attach({ id: 'a', prefetchCount: 100 });
  await until(() => seen.length === 10, 'ten deliveries');
  await within(first.ackUpTo(seen[9]));
  await within(first.close());
  // A restart: the store replays its log.
  const restarted = await CursorStore.open(storeLog);
  assert.equal(restarted.get('q')!.levels[0].floor, 10);

  // After a power loss the log kept only four records; new publishes take offsets 4, 5, 6 again.
  const after = new MemoryLog();
  await appendValues(after, ['old0', 'old1', 'old2', 'old3']);
  const got: string[] = [];
  const second = await within(Cursor.open({ id: 'q', sources: [after], store: restarted, deliver: (_c, d) => void got.push(d.record.value!.toString()) }));
  second.attach({ id: 'a', prefetchCount: 100 });
  await appendValues(after, ['new4', 'new5', 'new6']);
  await until(() => got.length === 3, 'the three new records');
  assert.deepEqual(got, ['new4', 'new5', 'new6'], 'the acked records below the end stay acked; the new ones are delivered');
  await within(second.close());
  const again = await CursorStore.open(storeLog);
  assert.deepEqual(again.get('q')!.levels[0], { floor: 4, next: 7, ranges: [], counts: [] }, 'the clamped state replaced the persisted one');
});
