import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryLog } from '../../../src/storage/memory-log.js';
import { Cursor, type CursorOptions } from '../../../src/core/cursor/cursor.js';
import type { Delivery } from '../../../src/core/cursor/cursor-state.js';
import type { Consumer } from '../../../src/core/cursor/dispatch.js';
import { ManualClock, settle, until, within } from './manual-clock.js';

async function append(log: MemoryLog, n: number, prefix = 'm', perBatch = 1): Promise<void> {
  for (let i = 0; i < n; i += perBatch) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + perBatch); j++) batch.push({ value: Buffer.from(`${prefix}${j}`), timestamp: 1000 + j });
    await log.appendRecords(batch);
  }
}

interface Opened {
  cursor: Cursor;
  got: Array<{ consumer: string; d: Delivery; value: string }>;
}

async function open(sources: MemoryLog[], extra: Partial<CursorOptions> = {}): Promise<Opened> {
  const got: Opened['got'] = [];
  const cursor = await within(
    Cursor.open({
      id: 'q',
      sources,
      deliver: (c: Consumer, d: Delivery) => {
        got.push({ consumer: c.id, d, value: d.record.value!.toString() });
      },
      ...extra,
    }),
  );
  return { cursor, got };
}

test('records appended after a consumer attached are delivered (woken by append events, not polling)', async () => {
  const log = new MemoryLog();
  const { cursor, got } = await open([log]);
  cursor.attach({ id: 'a', prefetchCount: 10 });
  await settle();
  assert.equal(got.length, 0);
  await append(log, 5);
  await until(() => got.length === 5, 'five deliveries');
  assert.deepEqual(got.map((g) => g.value), ['m0', 'm1', 'm2', 'm3', 'm4']);
  await cursor.close();
});

test('prefetch limits unacked deliveries; each ack lets one more through', async () => {
  const log = new MemoryLog();
  await append(log, 6, 'm', 3);
  const { cursor, got } = await open([log]);
  cursor.attach({ id: 'a', prefetchCount: 2 });
  await until(() => got.length === 2, 'two deliveries');
  await settle();
  assert.equal(got.length, 2);
  await within(cursor.ack(got[0].d));
  assert.equal(got.length, 3);
  await within(cursor.ackUpTo(got[2].d));
  assert.deepEqual(got.map((g) => g.d.offset), [0, 1, 2, 3, 4]);
  await cursor.close();
});

test('priority queue: the highest level is served first', async () => {
  const high = new MemoryLog();
  const low = new MemoryLog();
  await append(low, 3, 'low');
  await append(high, 2, 'high');
  const { cursor, got } = await open([high, low]);
  cursor.attach({ id: 'a', prefetchCount: 1 });
  const seen: string[] = [];
  for (let i = 0; i < 5; i++) {
    await until(() => got.length === i + 1, `delivery ${i}`);
    seen.push(got[i].value);
    if (i === 2) await append(high, 1, 'late'); // arrives while level 1 is being served
    await until(() => cursor.state.levels[0].endOffset === (i >= 2 ? 3 : 2), 'high watermark seen');
    void cursor.ack(got[i].d);
  }
  await until(() => got.length === 6, 'last delivery');
  seen.push(got[5].value);
  assert.deepEqual(seen, ['high0', 'high1', 'low0', 'late0', 'low1', 'low2']);
  await cursor.close();
});

test('start policies: all, new, last, offset, time', async () => {
  const log = new MemoryLog();
  await append(log, 10);
  const first = async (policy: CursorOptions['startPolicy']): Promise<number | null> => {
    const { cursor } = await open([log], { startPolicy: policy });
    const d = await within(cursor.get({ autoAck: true }));
    await cursor.close();
    return d?.offset ?? null;
  };
  assert.equal(await first({ kind: 'all' }), 0);
  assert.equal(await first({ kind: 'new' }), null);
  assert.equal(await first({ kind: 'last' }), 9);
  assert.equal(await first({ kind: 'offset', offset: 4 }), 4);
  assert.equal(await first({ kind: 'time', timestampMs: 1006 }), 6);
  assert.equal(await first({ kind: 'time', timestampMs: 99_999 }), null);
});

test('get/fetch pull records without consumers; autoAck leaves nothing in flight; get on an empty queue is null', async () => {
  const log = new MemoryLog();
  await append(log, 3);
  const { cursor } = await open([log]);
  const batch = await within(cursor.fetch(2));
  assert.deepEqual(batch.map((d) => d.offset), [0, 1]);
  assert.equal(cursor.inFlightCount, 2);
  await cursor.ack(batch[0]);
  await cursor.nack(batch[1]);
  const again = await within(cursor.get({ autoAck: true }));
  assert.equal(again?.offset, 1);
  assert.equal(again?.redelivered, true);
  assert.equal((await within(cursor.get({ autoAck: true })))?.offset, 2);
  assert.equal(await within(cursor.get()), null);
  assert.equal(cursor.inFlightCount, 0);
  assert.equal(cursor.ackFloor(), 3);
  await cursor.close();
});

test('read-ahead is bounded: an idle cursor over a large log buffers only a window', async () => {
  const log = new MemoryLog();
  await append(log, 3000, 'm', 10);
  const { cursor } = await open([log], { maxReadAheadRecords: 100, maxReadAheadBytes: 64 * 1024 });
  await settle(10);
  const L = cursor.state.levels[0];
  assert.ok(L.bufferedCount <= 100 + 10, `buffered ${L.bufferedCount}`);
  assert.ok(L.bufferedCount > 0);
  const got = await within(cursor.fetch(500, { autoAck: true }));
  assert.equal(got.length, 500, 'a pull larger than the window still gets everything, window by window');
  await settle(10);
  assert.ok(L.bufferedCount <= 110);
  await cursor.close();
});

test('dead-lettered records are acked only after the dead-letter append resolves', async () => {
  const log = new MemoryLog();
  await append(log, 2);
  let release!: () => void;
  const decisions: string[] = [];
  const { cursor, got } = await open([log], {
    deadLetter: (d) => {
      decisions.push(`${d.offset}:${d.reason}`);
      return new Promise<void>((resolve) => (release = resolve));
    },
  });
  cursor.attach({ id: 'a' });
  await until(() => got.length === 2, 'deliveries');
  await cursor.reject(got[0].d);
  assert.deepEqual(decisions, ['0:rejected']);
  assert.equal(cursor.ackFloor(), 0);
  release();
  await until(() => cursor.ackFloor() === 1, 'acked after the dead-letter append');
  await cursor.close();
});

test('ack wait redelivers through the cursor with the injected clock', async () => {
  const log = new MemoryLog();
  await append(log, 1);
  const clock = new ManualClock();
  const { cursor, got } = await open([log], { ackWaitMs: 5000, clock, timers: clock });
  cursor.attach({ id: 'a' });
  await until(() => got.length === 1, 'first delivery');
  clock.advance(5000);
  assert.equal(got.length, 2);
  assert.equal(got[1].d.deliveryCount, 2);
  await cursor.close();
});

test('exclusive cursor refuses a second consumer; detach lets the next one attach and get the in-flight records', async () => {
  const log = new MemoryLog();
  await append(log, 3);
  const { cursor, got } = await open([log], { mode: 'exclusive' });
  const a = cursor.attach({ id: 'a', prefetchCount: 2 });
  assert.throws(() => cursor.attach({ id: 'b' }), /exclusive/);
  await until(() => got.length === 2, 'a has two');
  cursor.detach(a);
  cursor.attach({ id: 'b' });
  await until(() => got.length === 5, 'b has all three');
  assert.deepEqual(got.slice(2).map((g) => [g.consumer, g.d.offset, g.d.redelivered]), [
    ['b', 0, true],
    ['b', 1, true],
    ['b', 2, false],
  ]);
  await cursor.close();
});
