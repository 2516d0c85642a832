import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryLog } from '../../../src/storage/memory-log.js';
import { decodeRecords, type RecordInput } from '../../../src/storage/record-batch.js';
import type { AppendResult } from '../../../src/storage/log.js';
import { Cursor, type CursorOptions } from '../../../src/core/cursor/cursor.js';
import { CursorStore, type CursorStoreOptions } from '../../../src/core/cursor/cursor-store.js';
import type { Delivery } from '../../../src/core/cursor/cursor-state.js';
import { settle, until, within } from './manual-clock.js';

/** A MemoryLog whose appends can be held back or made to fail, and are counted. */
class GatedLog extends MemoryLog {
  appends = 0;
  fail = false;
  gate: Promise<void> | null = null;
  override async append(batch: Buffer): Promise<AppendResult> {
    this.appends++;
    if (this.fail) throw new Error('disk full');
    if (this.gate !== null) await this.gate;
    return super.append(batch);
  }
}

async function fill(log: MemoryLog, n: number): Promise<void> {
  const recs: RecordInput[] = [];
  for (let i = 0; i < n; i++) recs.push({ value: Buffer.from(`m${i}`) });
  await log.appendRecords(recs);
}

async function openCursor(data: MemoryLog, cursors: MemoryLog, extra: Partial<CursorOptions> = {}, storeOptions: CursorStoreOptions = {}) {
  const store = await within(CursorStore.open(cursors, { checkpointEvery: 4, ...storeOptions }));
  const got: Delivery[] = [];
  const cursor = await within(Cursor.open({ id: 'orders/0/q', sources: [data], store, deliver: (_c, d) => void got.push(d), ...extra }));
  return { store, cursor, got };
}

test('acked records are never redelivered after a restart; in-flight ones are, with their delivery count', async () => {
  const data = new MemoryLog();
  const cursors = new MemoryLog();
  await fill(data, 10);
  const first = await openCursor(data, cursors);
  first.cursor.attach({ id: 'a', prefetchCount: 6 });
  await until(() => first.got.length === 6, 'six deliveries');
  await within(Promise.all([0, 1, 2, 4].map((o) => first.cursor.ack(first.got[o]))));
  await until(() => first.got.length === 10, 'the freed credit takes 6..9');
  await first.cursor.nack(first.got[5]); // 5 goes back and is delivered again (count 2)
  await until(() => first.got.length === 11, 'redelivery of 5');
  await within(first.cursor.flush());
  // Crash: the first cursor is simply abandoned (no close); a new store replays the same log.
  first.cursor.state.stopTimers();

  const second = await openCursor(data, cursors);
  second.cursor.attach({ id: 'b' });
  await until(() => second.got.length === 6, 'redeliveries and the rest');
  assert.deepEqual(
    second.got.map((d) => [d.offset, d.deliveryCount, d.redelivered]),
    [
      [3, 2, true],
      [5, 3, true],
      [6, 2, true],
      [7, 2, true],
      [8, 2, true],
      [9, 2, true],
    ],
  );
  await second.cursor.close();
  await first.cursor.close();
});

test('acks of one tick are written as one append, and ack() resolves only after it', async () => {
  const data = new MemoryLog();
  const cursors = new GatedLog();
  await fill(data, 200);
  const { cursor, got } = await openCursor(data, cursors);
  cursor.attach({ id: 'a' });
  await until(() => got.length === 200, 'all delivered');
  await within(cursor.flush());
  const before = cursors.appends;
  let open!: () => void;
  cursors.gate = new Promise<void>((resolve) => (open = resolve));
  let resolved = 0;
  const promises = got.map((d) => cursor.ack(d).then(() => void resolved++));
  assert.equal(new Set(promises.map(() => 1)).size, 1);
  // The write starts once the store's write interval since the flush's write has passed.
  await until(() => cursors.appends > before, 'the acks written');
  await settle(5);
  assert.equal(cursors.appends - before, 1, 'one append for 200 acks');
  assert.equal(resolved, 0, 'not durable yet: the append is held');
  open();
  await within(Promise.all(promises));
  assert.equal(resolved, 200);
  cursors.gate = null;
  await cursor.close();
});

test('writes start at most once per minWriteIntervalMs, and flush() writes what is pending at once', async () => {
  const data = new MemoryLog();
  const cursors = new GatedLog();
  await fill(data, 3);
  // An interval no test machine reaches by accident: only flush() can write the second change early.
  const { store, cursor, got } = await openCursor(data, cursors, {}, { minWriteIntervalMs: 60_000 });
  cursor.attach({ id: 'a' });
  await until(() => got.length === 3, 'delivered');
  await until(() => cursors.appends === 1, 'the first write goes out at once');
  let acked = false;
  const ack = cursor.ack(got[0]).then(() => (acked = true));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(cursors.appends, 1, 'the ack waits for the interval');
  assert.equal(acked, false);
  await within(store.flush());
  assert.equal(cursors.appends, 2, 'flush wrote it without waiting');
  await within(ack);
  const replayed = await CursorStore.open(cursors);
  assert.equal(replayed.get('orders/0/q')!.levels[0].floor, 1, 'the ack is in the log');
  await cursor.close();
});

test('a failed append rejects the ack promise and the next write is a full checkpoint', async () => {
  const data = new MemoryLog();
  const cursors = new GatedLog();
  await fill(data, 4);
  const { cursor, got, store } = await openCursor(data, cursors);
  cursor.attach({ id: 'a' });
  await until(() => got.length === 4, 'delivered');
  await within(cursor.flush());
  cursors.fail = true;
  await assert.rejects(within(cursor.ack(got[0])), /disk full/);
  cursors.fail = false;
  await within(cursor.ack(got[1]));
  const last = decodeRecords((await cursors.read(cursors.endOffset - 1, 1 << 20)).records).at(-1)!;
  assert.equal(last.key!.toString(), 'orders/0/q', 'written under the checkpoint key');
  assert.equal(JSON.parse(last.value!.toString()).t, 'c');
  const replayed = await CursorStore.open(cursors);
  assert.deepEqual(replayed.get('orders/0/q')!.levels[0].floor, 2, 'the ack lost with the failed append is in the checkpoint');
  await cursor.close();
  await store.close();
});

test('replay gives the same state after compaction keeps only the newest record per key', async () => {
  const data = new MemoryLog();
  const cursors = new MemoryLog();
  await fill(data, 50);
  const { cursor, got } = await openCursor(data, cursors);
  cursor.attach({ id: 'a' });
  await until(() => got.length === 50, 'delivered');
  // Many write cycles (checkpointEvery 4): acks in a scattered order, each tick its own write.
  const order = got.map((d) => d.offset).sort((a, b) => ((a * 37) % 50) - ((b * 37) % 50));
  for (const o of order.slice(0, 41)) await within(cursor.ack(got[o]));
  const full = (await CursorStore.open(cursors)).get('orders/0/q');

  const all = decodeRecords((await cursors.read(0, 1 << 24)).records);
  const newest = new Map<string, number>();
  all.forEach((r, i) => newest.set(r.key!.toString('latin1'), i));
  const compacted = new MemoryLog();
  const kept = all.filter((r, i) => newest.get(r.key!.toString('latin1')) === i);
  assert.ok(kept.length < all.length, 'compaction removed something');
  await compacted.appendRecords(kept.map((r) => ({ key: r.key, value: r.value })));
  const afterCompaction = (await CursorStore.open(compacted)).get('orders/0/q');
  assert.deepEqual(afterCompaction, full);
  await cursor.close();
});

test("a 'new' start position is persisted at once, so records appended while the broker was down are not skipped", async () => {
  const data = new MemoryLog();
  const cursors = new MemoryLog();
  await fill(data, 5);
  const first = await openCursor(data, cursors, { startPolicy: { kind: 'new' } });
  await first.cursor.close();
  await fill(data, 3);
  const second = await openCursor(data, cursors, { startPolicy: { kind: 'new' } });
  second.cursor.attach({ id: 'a' });
  await until(() => second.got.length === 3, 'the three records appended while closed');
  assert.deepEqual(second.got.map((d) => d.offset), [5, 6, 7]);
  await second.cursor.close();
});

test('deleting a cursor tombstones its state', async () => {
  const data = new MemoryLog();
  const cursors = new MemoryLog();
  await fill(data, 2);
  const { cursor } = await openCursor(data, cursors);
  await within(cursor.delete());
  assert.equal((await CursorStore.open(cursors)).get('orders/0/q'), undefined);
});

/** A MemoryLog that also keeps every RecordInput it was given, as a log holding on to its input could. */
class KeepingLog extends MemoryLog {
  readonly given: RecordInput[] = [];
  override appendRecords(records: readonly RecordInput[]): Promise<AppendResult> {
    this.given.push(...records);
    return super.appendRecords(records);
  }
}

test('each write goes under its slot key, and key buffers shared by later writes never change a record already given to the log', async () => {
  const data = new MemoryLog();
  const cursors = new KeepingLog();
  await fill(data, 12);
  const { store, cursor, got } = await openCursor(data, cursors);
  cursor.attach({ id: 'a' });
  await until(() => got.length === 12, 'delivered');
  for (const d of got) await within(cursor.ack(d));
  // checkpointEvery 4: a checkpoint, then deltas in slots 1..3, then a checkpoint again, and so on.
  const keys = cursors.given.map((r) => r.key!.toString('utf8'));
  assert.ok(keys.length >= 9, `enough writes to wrap the slots (${keys.length})`);
  keys.forEach((k, i) => assert.equal(k, i % 4 === 0 ? 'orders/0/q' : `orders/0/q\u0000${i % 4}`, `write ${i}`));
  // The same key Buffer serves a slot every time; what the log was given earlier still reads the same.
  assert.equal(cursors.given[1].key, cursors.given[5].key, 'slot 1 reuses its key buffer');
  // Every value is its own buffer: the first delta still says what it said, after all the writes since.
  const firstDelta = JSON.parse(cursors.given[1].value!.toString('utf8'));
  assert.equal(firstDelta.t, 'd');
  assert.equal(firstDelta.s, 1);
  const replayed = (await CursorStore.open(cursors)).get('orders/0/q')!;
  assert.equal(replayed.levels[0].floor, 12, 'every ack replays');
  await cursor.close();
  await store.close();
});

test('a cursor whose state cannot be read fails that write only: the store goes on and the next write is a checkpoint', async () => {
  const cursors = new MemoryLog();
  const store = await within(CursorStore.open(cursors, { checkpointEvery: 4 }));
  let broken = false;
  const source = {
    drainDelta: () => {
      if (broken) throw new Error('state unreadable');
      return { levels: [{ floor: 1, next: 2, ranges: [], counts: [] }] };
    },
    snapshot: () => ({ levels: [{ floor: 3, next: 3, ranges: [], counts: [] }] }),
  };
  const { registration, persisted } = store.register('s', source);
  await within(persisted);
  broken = true;
  await assert.rejects(within(store.schedule(registration)), /state unreadable/);
  broken = false;
  await within(store.schedule(registration));
  const last = decodeRecords((await cursors.read(cursors.endOffset - 1, 1 << 20)).records).at(-1)!;
  assert.equal(last.key!.toString(), 's', 'written under the checkpoint key');
  assert.equal((await CursorStore.open(cursors)).get('s')!.levels[0].floor, 3);
  await store.close();
});
