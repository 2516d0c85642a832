import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryLog } from '../../../src/storage/memory-log.js';
import type { RecordInput } from '../../../src/storage/record-batch.js';
import { CursorStore } from '../../../src/core/cursor/cursor-store.js';
import { DelayScheduler, type DelaySchedulerOptions } from '../../../src/core/cursor/delay-scheduler.js';
import { ManualClock, settle, until, within } from './manual-clock.js';

interface Released {
  target: string;
  record: RecordInput;
}

async function openScheduler(log: MemoryLog, cursors: MemoryLog, clock: ManualClock, out: Released[], extra: Partial<DelaySchedulerOptions> = {}) {
  const store = await within(CursorStore.open(cursors));
  const scheduler = await within(
    DelayScheduler.open({
      id: '__delay',
      log,
      store,
      clock,
      timers: clock,
      release: async (target, record) => void out.push({ target, record }),
      ...extra,
    }),
  );
  return { store, scheduler };
}

const value = (r: Released): string => r.record.value!.toString();

test('delayed records are released in due order, each only from its due time, with key and headers kept', async () => {
  const log = new MemoryLog();
  const clock = new ManualClock();
  const out: Released[] = [];
  const { scheduler } = await openScheduler(log, new MemoryLog(), clock, out);
  const t0 = clock.now();
  await scheduler.schedule('q.b', { value: Buffer.from('third'), key: Buffer.from('k3') }, t0 + 300);
  await scheduler.schedule('q.a', { value: Buffer.from('first'), headers: [{ key: 'h', value: Buffer.from('1') }] }, t0 + 100);
  await scheduler.schedule('q.a', { value: Buffer.from('second') }, t0 + 200);
  clock.advance(99);
  await settle();
  assert.equal(out.length, 0);
  clock.advance(1);
  await until(() => out.length === 1, 'first release');
  assert.equal(out[0].target, 'q.a');
  assert.deepEqual(out[0].record.headers, [{ key: 'h', value: Buffer.from('1') }], 'internal headers are removed');
  assert.equal(out[0].record.key, null);
  await scheduler.whenIdle();
  clock.advance(200);
  await until(() => out.length === 3, 'the other two');
  assert.deepEqual(out.map(value), ['first', 'second', 'third']);
  assert.equal(out[2].record.key!.toString(), 'k3');
  await scheduler.whenIdle();
  await until(() => scheduler.ackFloor === 3, 'all released');
  await scheduler.close();
});

test('a restart releases what was not yet released and never re-releases what was', async () => {
  const log = new MemoryLog();
  const cursors = new MemoryLog();
  const clock = new ManualClock();
  const out: Released[] = [];
  const first = await openScheduler(log, cursors, clock, out);
  const t0 = clock.now();
  for (let i = 0; i < 6; i++) await first.scheduler.schedule('q', { value: Buffer.from(`m${i}`) }, t0 + 100 * (i + 1));
  clock.advance(300);
  await until(() => out.length === 3, 'three released');
  await first.scheduler.whenIdle();
  await within(first.store.flush());
  // Crash: abandon the first scheduler without closing; only the logs survive.
  const clock2 = new ManualClock(clock.now());
  const out2: Released[] = [];
  const second = await openScheduler(log, cursors, clock2, out2);
  await settle();
  assert.equal(out2.length, 0, 'nothing due yet, and nothing released twice');
  clock2.advance(1000);
  await until(() => out2.length === 3, 'the other three');
  assert.deepEqual(out2.map(value), ['m3', 'm4', 'm5']);
  await first.scheduler.close();
  await second.scheduler.close();
});

test('a release is retried when the target append fails, and only acked once it succeeds', async () => {
  const log = new MemoryLog();
  const clock = new ManualClock();
  const out: Released[] = [];
  let failures = 1;
  const { scheduler } = await openScheduler(log, new MemoryLog(), clock, out, {
    retryDelayMs: 500,
    onError: () => {},
    release: async (target, record) => {
      if (failures-- > 0) throw new Error('target is gone');
      out.push({ target, record });
    },
  });
  await scheduler.schedule('q', { value: Buffer.from('x') }, clock.now() + 10);
  clock.advance(10);
  await scheduler.whenIdle();
  await settle();
  assert.equal(out.length, 0);
  assert.equal(scheduler.ackFloor, 0);
  clock.advance(500);
  await until(() => out.length === 1, 'retried');
  await scheduler.whenIdle();
  assert.equal(scheduler.ackFloor, 1);
  await scheduler.close();
});

test('memory is bounded: only a window of due times is indexed, and the log is rescanned when it runs out', async () => {
  const log = new MemoryLog();
  const clock = new ManualClock();
  const out: Released[] = [];
  const t0 = clock.now();
  // Written straight to the delay log in scrambled due order (as if scheduled before a restart).
  const n = 500;
  const seed = await openScheduler(log, new MemoryLog(), clock, [], { maxIndexed: 1000 });
  for (let i = 0; i < n; i++) {
    const due = t0 + 1000 + ((i * 7919) % n) * 10;
    await seed.scheduler.schedule('q', { value: Buffer.from(String(due)) }, due);
  }
  await seed.scheduler.close();

  const { scheduler } = await openScheduler(log, new MemoryLog(), clock, out, { maxIndexed: 32, releaseBatch: 8 });
  assert.ok(scheduler.indexedCount <= 32);
  assert.ok(scheduler.horizon < Infinity, 'some records were left in the log');
  let maxIndexed = 0;
  for (let step = 0; step < n && out.length < n; step++) {
    clock.advance(20);
    await scheduler.whenIdle();
    await settle(2);
    maxIndexed = Math.max(maxIndexed, scheduler.indexedCount);
  }
  await until(() => out.length === n, 'everything released');
  assert.ok(maxIndexed <= 32, `index stayed within its window (max ${maxIndexed})`);
  const dues = out.map((r) => Number(value(r)));
  assert.deepEqual(dues, [...dues].sort((a, b) => a - b), 'released in due order across rescans');
  for (const d of dues) assert.ok(d <= clock.now());
  await scheduler.close();
});
