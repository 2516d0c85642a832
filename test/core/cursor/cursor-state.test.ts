import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, rec, recs } from './harness.js';

test('records are delivered in offset order within the consumer prefetch', () => {
  const h = new Harness('exclusive');
  h.feed(0, recs(0, 10));
  const c = h.attach('a', 3);
  h.pump();
  assert.deepEqual(h.offsetsOf('a'), [0, 1, 2]);
  assert.equal(c.unackedCount, 3);
  assert.equal(h.state.ack(0, 0), true);
  h.pump();
  assert.deepEqual(h.offsetsOf('a'), [0, 1, 2, 3]);
  assert.equal(h.state.ack(0, 0), false, 'a second ack of the same offset is refused');
  assert.equal(h.state.ack(0, 9), false, 'an offset never delivered cannot be acked');
});

test('ackUpTo acks every in-flight offset up to the given one (AMQP multiple)', () => {
  const h = new Harness('shared');
  h.feed(0, recs(0, 6));
  const a = h.attach('a');
  h.pump();
  assert.equal(h.state.ackUpTo(0, 3, a), 4);
  assert.equal(h.state.levels[0].acks.floor, 4);
  assert.equal(h.state.inFlightCount, 2);
});

test('nack with requeue puts the record back at the head with its delivery count raised', () => {
  const h = new Harness('exclusive');
  h.feed(0, recs(0, 5));
  h.attach('a', 2);
  h.pump();
  h.take();
  assert.equal(h.state.nack(0, 1, true, h), true);
  h.pump();
  const [d] = h.take();
  assert.equal(d.offset, 1);
  assert.equal(d.count, 2);
  assert.equal(d.redelivered, true);
  h.state.ack(0, 0);
  h.pump();
  assert.deepEqual(h.take().map((x) => [x.offset, x.redelivered]), [[2, false]]);
});

test('reject dead-letters the record as rejected and it counts as acked', () => {
  const h = new Harness('shared');
  h.feed(0, recs(0, 2));
  h.attach('a');
  h.pump();
  h.state.nack(0, 0, false, h);
  assert.equal(h.deadLettered.length, 1);
  assert.equal(h.deadLettered[0].reason, 'rejected');
  assert.equal(h.deadLettered[0].deliveryCount, 1);
  assert.equal(h.state.isAcked(0, 0), true);
});

test('a dead-letter is acked only when the owner completes it', () => {
  const h = new Harness('shared');
  h.autoCompleteDeadLetters = false;
  h.feed(0, recs(0, 1));
  h.attach('a');
  h.pump();
  h.state.nack(0, 0, false, h);
  assert.equal(h.state.isAcked(0, 0), false);
  assert.equal(h.state.snapshot().levels[0].floor, 0, 'persisted as unacked until the dead-letter append lands');
  h.state.completeDeadLetter(0, 0);
  assert.equal(h.state.isAcked(0, 0), true);
});

test('an unacked delivery is redelivered after ackWaitMs, and not before', () => {
  const h = new Harness('exclusive', { ackWaitMs: 1000 });
  h.feed(0, recs(0, 2));
  h.attach('a', 1);
  h.pump();
  assert.deepEqual(h.take().map((d) => d.offset), [0]);
  h.clock.advance(999);
  assert.equal(h.delivered.length, 0);
  h.clock.advance(1);
  assert.deepEqual(h.take().map((d) => [d.offset, d.count, d.redelivered]), [[0, 2, true]]);
  h.state.ack(0, 0);
  h.pump();
  assert.deepEqual(h.take().map((d) => [d.offset, d.count]), [[1, 1]]);
});

test('backoff sets the deadline per delivery count, its last value repeating', () => {
  const h = new Harness('exclusive', { ackWaitMs: 30_000, backoffMs: [100, 500, 2000] });
  h.feed(0, recs(0, 1));
  h.attach('a');
  h.pump();
  h.take();
  const steps: Array<[number, number | null]> = [
    [99, null],
    [1, 2],
    [499, null],
    [1, 3],
    [1999, null],
    [1, 4],
    [2000, 5],
  ];
  for (const [ms, expectCount] of steps) {
    h.clock.advance(ms);
    const got = h.take();
    if (expectCount === null) assert.equal(got.length, 0, `nothing after ${ms} ms`);
    else assert.deepEqual(got.map((d) => d.count), [expectCount]);
  }
});

test('past maxDeliveries the record is dead-lettered with reason maxDeliveries and the queue moves on', () => {
  const h = new Harness('exclusive', { ackWaitMs: 100, maxDeliveries: 3 });
  h.feed(0, recs(0, 2));
  h.attach('a', 1);
  h.pump();
  h.clock.advance(100);
  h.clock.advance(100);
  assert.deepEqual(h.offsetsOf('a'), [0, 0, 0]);
  h.clock.advance(100);
  assert.equal(h.deadLettered.length, 1);
  assert.equal(h.deadLettered[0].reason, 'maxDeliveries');
  assert.equal(h.deadLettered[0].deliveryCount, 3);
  assert.equal(h.state.isAcked(0, 0), true);
  assert.deepEqual(h.offsetsOf('a'), [0, 0, 0, 1]);
});

test('a record whose TTL passed is dead-lettered as expired at the head, even with no consumer', () => {
  const h = new Harness('shared', { isExpired: (r, now) => r.timestamp + 50 <= now });
  const t = h.clock.now();
  h.feed(0, [rec(0, { ts: t - 100 }), rec(1, { ts: t - 60 }), rec(2, { ts: t })]);
  h.pump();
  assert.deepEqual(h.deadLettered.map((d) => [d.offset, d.reason]), [[0, 'expired'], [1, 'expired']]);
  assert.equal(h.state.levels[0].acks.floor, 2);
  h.clock.advance(50);
  h.pump();
  assert.equal(h.deadLettered.length, 3, 'a sweep (pump) expires the next head');
});

test('records that do not match the filter are acked without delivery', () => {
  const h = new Harness('shared', { matches: (r) => r.headers[0]?.value?.toString() === 'orders.eu' });
  h.feed(0, [rec(0, { subject: 'orders.us' }), rec(1, { subject: 'orders.eu' }), rec(2, { subject: 'orders.us' }), rec(3, { subject: 'orders.eu' })]);
  h.attach('a');
  h.pump();
  assert.deepEqual(h.offsetsOf('a'), [1, 3]);
  h.state.ack(0, 1);
  h.state.ack(0, 3);
  assert.equal(h.state.levels[0].acks.floor, 4);
});

test('a consumer detach returns its in-flight records to the head in offset order', () => {
  const h = new Harness('shared');
  h.feed(0, recs(0, 6));
  const a = h.attach('a', 3);
  h.attach('b', 3);
  h.pump();
  assert.deepEqual(h.offsetsOf('a'), [0, 2, 4]);
  h.take();
  h.state.detach(a);
  h.pump();
  assert.deepEqual(h.offsetsOf('b'), [], 'b is full');
  for (const o of [1, 3, 5]) h.state.ack(0, o);
  h.pump();
  assert.deepEqual(h.offsetsOf('b'), [0, 2, 4], 'the returned records come first, in offset order, flagged redelivered');
  assert.ok(h.delivered.every((d) => d.redelivered));
});

test('failover: the standby takes over on detach and gets the old in-flight records first', () => {
  const h = new Harness('failover');
  h.feed(0, recs(0, 5));
  const a = h.attach('a', 2);
  h.attach('b', 10);
  h.pump();
  assert.deepEqual(h.offsetsOf('a'), [0, 1]);
  assert.deepEqual(h.offsetsOf('b'), []);
  h.state.detach(a);
  h.pump();
  assert.deepEqual(h.offsetsOf('b'), [0, 1, 2, 3, 4]);
  assert.deepEqual(h.delivered.filter((d) => d.consumer === 'b').map((d) => d.redelivered), [true, true, false, false, false]);
});

test('shared: round-robin among consumers with credit, higher priority first', () => {
  const h = new Harness('shared');
  h.feed(0, recs(0, 10));
  h.attach('low', 0, { priority: 0 });
  h.attach('hi1', 2, { priority: 5 });
  h.attach('hi2', 2, { priority: 5 });
  h.pump();
  assert.deepEqual(h.offsetsOf('hi1'), [0, 2]);
  assert.deepEqual(h.offsetsOf('hi2'), [1, 3]);
  assert.deepEqual(h.offsetsOf('low'), [4, 5, 6, 7, 8, 9], 'the low-priority consumer gets what the others have no credit for');
});

test('prefetchBytes limits unacked bytes, but a consumer holding nothing may take one large record', () => {
  const h = new Harness('exclusive');
  h.feed(0, [rec(0, { value: 'x'.repeat(100) }), rec(1, { value: 'y'.repeat(10) }), rec(2, { value: 'z'.repeat(10) })]);
  h.attach('a', 0, { prefetchBytes: 50 });
  h.pump();
  assert.deepEqual(h.offsetsOf('a'), [0]);
  h.state.ack(0, 0);
  h.pump();
  assert.deepEqual(h.offsetsOf('a'), [0, 1, 2]);
});

test('deliver returning false pauses the consumer until resumed', () => {
  const h = new Harness('shared');
  h.feed(0, recs(0, 5));
  const a = h.attach('a');
  h.accept = false;
  h.pump();
  assert.deepEqual(h.offsetsOf('a'), [0]);
  a.paused = false;
  h.accept = true;
  h.pump();
  assert.deepEqual(h.offsetsOf('a'), [0, 1, 2, 3, 4]);
});

test('key-shared keeps each key on one consumer and holds back a blocked key without stalling others', () => {
  const h = new Harness('key-shared');
  const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7'];
  h.feed(0, recs(0, 80, (o) => keys[o % keys.length]));
  const a = h.attach('a', 3);
  h.attach('b', 100);
  h.pump();
  const owner = new Map<string, string>();
  for (const d of h.delivered) {
    const k = d.delivery.record.key!.toString();
    if (owner.has(k)) assert.equal(owner.get(k), d.consumer, `key ${k} stays on one consumer`);
    owner.set(k, d.consumer);
  }
  assert.equal(a.unackedCount, 3);
  const bKeys = [...owner].filter(([, c]) => c === 'b').map(([k]) => k);
  assert.ok(bKeys.length > 0, 'some keys go to b');
  // Every record of b's keys was delivered although a is full: a's keys are held back, not blocking.
  const bCount = h.delivered.filter((d) => d.consumer === 'b').length;
  assert.equal(bCount, bKeys.length * 10);
  // a's keys resume in order as a acks.
  const before = h.offsetsOf('a');
  for (const o of before) h.state.ack(0, o);
  h.pump();
  const aAll = h.offsetsOf('a');
  for (const k of owner.keys()) {
    if (owner.get(k) !== 'a') continue;
    const mine = h.delivered.filter((d) => d.consumer === 'a' && d.delivery.record.key!.toString() === k).map((d) => d.offset);
    assert.deepEqual(mine, [...mine].sort((x, y) => x - y), `key ${k} is delivered in order`);
  }
  assert.ok(aAll.length > before.length);
});

test('key-shared: a key with records in flight stays with its consumer when another attaches', () => {
  const h = new Harness('key-shared');
  h.feed(0, recs(0, 40, (o) => `key-${o % 20}`));
  h.attach('a', 20);
  h.pump();
  assert.equal(h.offsetsOf('a').length, 20);
  h.attach('b', 100);
  h.pump();
  assert.equal(h.offsetsOf('b').length, 0, 'every key is pinned to a by its in-flight record');
  for (let o = 0; o < 20; o++) h.state.ack(0, o);
  h.pump();
  assert.ok(h.offsetsOf('b').length > 0, 'after the acks, keys follow the ring to b');
});

test('priority levels: the highest non-empty level is always served first', () => {
  const h = new Harness('shared', {}, 3);
  h.feed(2, recs(0, 3));
  h.feed(1, recs(0, 2));
  h.attach('a', 1);
  h.pump();
  assert.deepEqual(h.take().map((d) => [d.level, d.offset]), [[1, 0]]);
  h.feed(0, recs(0, 1));
  h.state.ack(1, 0);
  h.pump();
  assert.deepEqual(h.take().map((d) => [d.level, d.offset]), [[0, 0]]);
  for (const [l, o] of [[0, 0]]) h.state.ack(l, o);
  h.pump();
  assert.deepEqual(h.take().map((d) => [d.level, d.offset]), [[1, 1]]);
});

test('a higher level with records not yet read blocks lower levels (strict priority)', () => {
  const h = new Harness('shared', {}, 2);
  h.feed(1, recs(0, 3));
  h.state.setEndOffset(0, 5); // level 0 has records the owner has not read yet
  h.attach('a');
  h.pump();
  assert.equal(h.delivered.length, 0);
  h.feed(0, recs(0, 5));
  h.pump();
  assert.deepEqual(h.delivered.map((d) => d.level), [0, 0, 0, 0, 0, 1, 1, 1]);
});

test('gaps in the log (compaction, control batches) are acked as they are passed', () => {
  const h = new Harness('shared');
  h.state.pushRecords(0, [rec(0), rec(3), rec(7)], 10);
  h.attach('a');
  h.pump();
  for (const o of [0, 3, 7]) h.state.ack(0, o);
  assert.equal(h.state.levels[0].acks.floor, 10);
});

test('snapshot and restore: acked offsets are never redelivered, in-flight ones are, with their count', () => {
  const h = new Harness('shared', { ackWaitMs: 100 });
  h.feed(0, recs(0, 10));
  h.attach('a', 6);
  h.pump();
  h.state.ack(0, 0);
  h.state.ack(0, 2);
  h.state.ack(0, 5);
  h.clock.advance(100); // 1, 3, 4 come back and are redelivered (count 2)
  h.state.ack(0, 1);
  const snap = h.state.snapshot();
  assert.equal(snap.levels[0].floor, 3);
  assert.equal(snap.levels[0].next, 9);

  const r = new Harness('shared');
  r.state.restore(JSON.parse(JSON.stringify(snap)));
  r.attach('b');
  r.pump();
  assert.deepEqual(r.needs, [0], 'the restored pending records must be loaded first');
  for (const o of [3, 4, 6, 7, 8]) r.state.fillRecord(0, rec(o));
  r.feed(0, recs(9, 10));
  r.pump();
  assert.deepEqual(r.delivered.map((d) => [d.offset, d.count, d.redelivered]), [
    [3, 3, true],
    [4, 3, true],
    [6, 2, true],
    [7, 2, true],
    [8, 2, true],
    [9, 1, false],
  ]);
});

test('drainDelta reports acks as ranges, and nothing when nothing changed', () => {
  const h = new Harness('shared');
  let dirtyCalls = 0;
  h.state.onDirty = () => dirtyCalls++;
  h.feed(0, recs(0, 100));
  h.attach('a');
  h.pump();
  h.state.drainDelta();
  for (let o = 10; o < 60; o++) h.state.ack(0, o);
  for (let o = 70; o < 80; o++) h.state.ack(0, o);
  const d = h.state.drainDelta()!;
  assert.deepEqual(d.levels[0].ranges, [10, 60, 70, 80]);
  assert.equal(d.levels[0].floor, 0);
  assert.equal(h.state.drainDelta(), null);
  assert.equal(dirtyCalls, 2, 'one dirty notification per drain cycle, not per ack');
});

test('settledBytes and inFlightBytes follow value bytes through deliver, ack, requeue and dead-lettering', () => {
  const h = new Harness('shared');
  h.autoCompleteDeadLetters = false;
  h.feed(0, [rec(0, { value: 'aaaa' }), rec(1, { value: 'bb' }), rec(2, { value: 'c' })]);
  h.attach('a');
  h.pump();
  assert.equal(h.state.inFlightBytes, 7);
  assert.equal(h.state.settledBytes, 0);
  h.state.ack(0, 0);
  assert.deepEqual([h.state.inFlightBytes, h.state.settledBytes], [3, 4]);
  h.state.nack(0, 1, true, h);
  assert.equal(h.state.inFlightBytes, 1, 'a requeued record is no longer in flight');
  h.state.nack(0, 2, false, h);
  assert.deepEqual([h.state.inFlightBytes, h.state.deadLetteringBytes, h.state.settledBytes], [0, 1, 4]);
  h.state.completeDeadLetter(0, 2);
  assert.deepEqual([h.state.deadLetteringBytes, h.state.settledBytes], [0, 5]);
  h.pump();
  assert.equal(h.state.inFlightBytes, 2, 'redelivered');
  assert.equal(h.state.ackUpTo(0, 1), 1);
  assert.deepEqual([h.state.inFlightBytes, h.state.settledBytes], [0, 7]);
});
