/**
 * CursorState: the pure state machine of a cursor (the consuming side of a queue, a JetStream consumer, a
 * Pulsar subscription) over one or more priority levels, each level being one log. No I/O: the owner
 * (cursor.ts) feeds it decoded records, and time comes from an injected Clock and TimerScheduler so tests are
 * deterministic.
 *
 * Per level, every offset of the log is in exactly one of these places (the property test checks it):
 *   acked        in the AckSet (below the floor or in a range above it): acked, dead-lettered, or skipped by
 *                the filter. Never delivered again.
 *   in flight    delivered to a consumer, unsettled; has a delivery count, an owner and maybe a deadline.
 *   dead-lettering  handed to the owner's dead-letter target, waiting for that append; acked when it lands.
 *   pending      below `next`, to be (re)delivered first, in offset order: returned by ack-wait expiry, nack
 *                with requeue, consumer detach, restore after restart (record not loaded yet), or held back by
 *                key-shared because its key's consumer had no credit (delivery count 0).
 *   buffered     at or above `next`, read from the log but not yet taken.
 *   unread       at or above the buffer's end.
 * `next` only moves forward; everything below it was taken from the buffer once (gaps in the log — control
 * batches, compacted-away records — are acked as they are passed).
 *
 * Delivery order per level: pending first (oldest offset first), then buffered. Levels are served highest
 * (index 0) first; a lower level is served only when every higher level is empty or — key-shared only — all
 * of its candidates belong to consumers without credit. A level whose log has records not yet buffered is
 * "waiting" and blocks lower levels until its read completes (strict priority).
 *
 * Redelivery: a delivery's deadline is now + backoffMs[count-1] (the last element repeating) or ackWaitMs
 * (0 = no deadline). Deadlines live in one FIFO per distinct delay (a delivery made later with the same delay
 * expires later), so the earliest deadline is the minimum over a few list heads; ack unlinks in O(1). One
 * timer is armed for the earliest deadline. Expiry, nack-requeue and detach return the record to pending;
 * its next delivery has count + 1 and `redelivered` true. A candidate whose count reached maxDeliveries is
 * dead-lettered instead ('maxDeliveries'); reject or nack without requeue dead-letters at once ('rejected');
 * a candidate for which `isExpired(record, now)` holds is dead-lettered when it reaches the head ('expired').
 *
 * Journal: every change that persistence must see (acks as ranges, delivery counts of pending/redelivered
 * records, `next`) is recorded and drained by cursor-store.ts as one delta per tick; `snapshot()` is the full
 * state for checkpoints and `restore()` rebuilds from it: unacked offsets below `next` become pending with
 * their delivery count (so they are redelivered, flagged redelivered), acked ones are never delivered again.
 *
 * Crash behaviour: none here (no I/O); see cursor-store.ts.
 */
import type { Record } from '../../storage/record-batch.js';
import { AckSet } from './ack-set.js';
import { type Consumer, type Dispatch, hashKey } from './dispatch.js';
import { IntegerMap } from '../integer-map.js';

export interface Clock {
  now(): number;
}

/** Single-shot timers at absolute times of the Clock. */
export interface TimerScheduler {
  setTimer(atMs: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = { now: () => Date.now() };

export const systemTimers: TimerScheduler = {
  setTimer(atMs, fn) {
    const t = setTimeout(fn, Math.max(0, atMs - Date.now()));
    // A cursor's redelivery timer must not keep a stopping broker alive.
    t.unref();
    return t;
  },
  clearTimer(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

export type DeadLetterReason = 'maxDeliveries' | 'rejected' | 'expired';

/** What the protocol layer sees for each delivery. Valid until settled; the identity is (level, offset). */
export interface Delivery {
  readonly level: number;
  readonly offset: number;
  readonly record: Record;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  /** True when this record was delivered before (AMQP redelivered, JetStream NumDelivered > 1). */
  readonly redelivered: boolean;
  readonly consumer: Consumer | null;
}

export interface DeadLetterDecision {
  readonly level: number;
  readonly offset: number;
  readonly record: Record;
  readonly reason: DeadLetterReason;
  /** Times it was delivered before being dead-lettered. */
  readonly deliveryCount: number;
  readonly timeMs: number;
}

const PENDING = 0;
const IN_FLIGHT = 1;
const DEAD_LETTERING = 2;

/**
 * One record known to the cursor below `next`. It is also the Delivery handed out (no extra object per
 * delivery); its record is non-null whenever it is delivered (pending entries are loaded first).
 */
export class Entry {
  readonly level: number;
  readonly offset: number;
  record: Record | null;
  deliveryCount: number;
  consumer: Consumer | null = null;
  state = PENDING;
  keyHash = 0;
  bytes = 0;
  deadlineMs = 0;
  // Deadline list links.
  prev: Entry | null = null;
  next: Entry | null = null;
  bucket: DeadlineBucket | null = null;

  constructor(level: number, offset: number, record: Record | null, deliveryCount: number) {
    this.level = level;
    this.offset = offset;
    this.record = record;
    this.deliveryCount = deliveryCount;
  }

  get redelivered(): boolean {
    return this.deliveryCount > 1;
  }
}

/** Doubly linked FIFO of in-flight entries sharing one delay, hence ordered by deadline. */
class DeadlineBucket {
  head: Entry | null = null;
  tail: Entry | null = null;
  constructor(readonly delayMs: number) {}

  push(e: Entry): void {
    e.bucket = this;
    e.prev = this.tail;
    e.next = null;
    if (this.tail === null) this.head = e;
    else this.tail.next = e;
    this.tail = e;
  }

  unlink(e: Entry): void {
    if (e.prev === null) this.head = e.next;
    else e.prev.next = e.next;
    if (e.next === null) this.tail = e.prev;
    else e.next.prev = e.prev;
    e.prev = e.next = null;
    e.bucket = null;
  }
}

/** Entries sorted by offset, with O(1) removal at the front (the common case). */
class OffsetQueue {
  private items: Entry[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  at(i: number): Entry {
    return this.items[this.head + i];
  }

  removeAt(i: number): Entry {
    if (i === 0) {
      const e = this.items[this.head];
      this.items[this.head++] = undefined as unknown as Entry;
      if (this.head === this.items.length) {
        this.items = [];
        this.head = 0;
      } else if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      return e;
    }
    return this.items.splice(this.head + i, 1)[0];
  }

  /** Index of the first entry with offset >= `offset`. */
  lowerBound(offset: number): number {
    let lo = this.head;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.items[mid].offset < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo - this.head;
  }

  insert(e: Entry): void {
    const n = this.items.length;
    if (n === this.head || this.items[n - 1].offset < e.offset) this.items.push(e);
    else this.items.splice(this.head + this.lowerBound(e.offset), 0, e);
  }

  indexOf(offset: number): number {
    const i = this.lowerBound(offset);
    return i < this.length && this.at(i).offset === offset ? i : -1;
  }
}

/** Per-level state. */
export class LevelState {
  readonly index: number;
  acks: AckSet;
  /** Every offset below this has been taken from the buffer once (delivered, held, skipped or acked). */
  next: number;
  /** End (exclusive) of what has been buffered: the next read starts here. */
  readOffset: number;
  /** The log's high watermark as last seen; records in [readOffset, endOffset) are unread. */
  endOffset: number;
  buffer: Record[] = [];
  head = 0;
  bufferedBytes = 0;
  readonly pending = new OffsetQueue();
  /** Per-message churn: an IntegerMap, not a Map (see integer-map.ts: a Map's rehashes cost GC pauses). */
  readonly inFlight = new IntegerMap<Entry>();
  readonly deadLettering = new Map<number, Entry>();
  heldCount = 0;
  // Journal since the last drain: acked ranges as [start, end, ...] and explicit delivery counts.
  journalAcks: number[] = [];
  journalCounts = new Map<number, number>();

  constructor(index: number, start: number) {
    this.index = index;
    this.acks = new AckSet(start);
    this.next = start;
    this.readOffset = start;
    this.endOffset = start;
  }

  get bufferedCount(): number {
    return this.buffer.length - this.head;
  }
}

/** Persisted form of one level; `ranges` and `counts` are flat pairs. */
export interface LevelSnapshot {
  floor: number;
  next: number;
  /** Acked ranges above the floor: [start, end, ...] (end exclusive). In a delta: ranges acked since the last. */
  ranges: number[];
  /** [offset, deliveryCount, ...] for unacked offsets below `next` whose count is not 1. */
  counts: number[];
}

export interface CursorSnapshot {
  levels: LevelSnapshot[];
}

/** The owner's side of a pump: where deliveries and decisions go. Called synchronously. */
export interface CursorSink {
  /** Hand the record to the consumer; returning false pauses the consumer until resumed. */
  deliver(consumer: Consumer, delivery: Delivery): boolean | void;
  /** Append it to the dead-letter target, then call completeDeadLetter (or failDeadLetter). */
  deadLetter(decision: DeadLetterDecision): void;
  /** Pending entries at this level have no record in memory (after restore): load them (fillRecord). */
  needRecords(level: number): void;
}

export interface CursorStateOptions {
  dispatch: Dispatch;
  /** Start offset per level (its length is the number of levels). */
  startOffsets: number[];
  clock?: Clock;
  timers?: TimerScheduler;
  /** Redelivery deadline after a delivery; 0 = none (AMQP: until the consumer goes away). */
  ackWaitMs?: number;
  /** Deadline per delivery count (1st, 2nd, ...; the last repeats), overriding ackWaitMs (JetStream BackOff). */
  backoffMs?: number[];
  /** Dead-letter instead of delivering a record already delivered this many times; 0 = unlimited. */
  maxDeliveries?: number;
  /** Filter: records for which this is false are acked without delivery. */
  matches?: (record: Record) => boolean;
  /** TTL: checked when a record reaches the head of delivery; true dead-letters it as 'expired'. */
  isExpired?: (record: Record, nowMs: number) => boolean;
  /** key-shared: max records held back (pending with count 0) per level before the level counts as blocked. */
  maxHeldRecords?: number;
  /** Called after the redelivery timer moved records to pending (the owner should pump). */
  onWake?: () => void;
  /** Called when the journal goes from empty to non-empty (the owner schedules a persist). */
  onDirty?: () => void;
}

const EMPTY = 0;
const NO_CREDIT = 1;
const WAITING = 2;
const BLOCKED = 3;

const matchAll = (): boolean => true;
const neverExpired = (): boolean => false;

function valueBytes(r: Record): number {
  return r.value === null ? 0 : r.value.length;
}

export class CursorState {
  readonly dispatch: Dispatch;
  readonly levels: LevelState[];
  readonly clock: Clock;
  private readonly timers: TimerScheduler;
  readonly ackWaitMs: number;
  readonly backoffMs: readonly number[];
  readonly maxDeliveries: number;
  private readonly matches: (record: Record) => boolean;
  private readonly isExpired: (record: Record, nowMs: number) => boolean;
  private readonly maxHeld: number;
  private readonly keyShared: boolean;
  onWake: (() => void) | undefined;
  onDirty: (() => void) | undefined;
  private dirty = false;

  private buckets = new Map<number, DeadlineBucket>();
  private timerHandle: unknown = null;
  private timerAtMs = Infinity;
  private readonly onTimer = (): void => this.fireTimer();

  private pumping = false;
  private pumpAgain = false;
  // Bumped whenever a pending queue changes outside a scan (re-entrant ack/nack from a deliver callback),
  // so a scan in progress restarts instead of using stale indices.
  private pendingVersion = 0;
  private delivered = 0;
  /**
   * Value bytes of the records settled as acked since this state was made (acks, dead-letters done, filtered),
   * counting only records whose bytes were known (loaded); and of the records in flight now. A queue derives its
   * ready bytes from them (x-max-length-bytes): bytes appended − settledBytes − inFlightBytes − deadLetteringBytes.
   */
  settledBytes = 0;
  inFlightBytes = 0;

  constructor(options: CursorStateOptions) {
    this.dispatch = options.dispatch;
    this.levels = options.startOffsets.map((start, i) => new LevelState(i, start));
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? systemTimers;
    this.ackWaitMs = options.ackWaitMs ?? 0;
    this.backoffMs = options.backoffMs ?? [];
    this.maxDeliveries = options.maxDeliveries ?? 0;
    this.matches = options.matches ?? matchAll;
    this.isExpired = options.isExpired ?? neverExpired;
    this.maxHeld = options.maxHeldRecords ?? 1000;
    this.keyShared = this.dispatch.mode === 'key-shared';
    this.onWake = options.onWake;
    this.onDirty = options.onDirty;
  }

  // ---- feeding records ----------------------------------------------------------------------------

  /** Records read from the level's log, in offset order; `readEnd` is the offset after the last batch read. */
  pushRecords(level: number, records: readonly Record[], readEnd: number): void {
    const L = this.levels[level];
    if (L.head === L.buffer.length) {
      // All taken (and their slots cleared): the same array serves the next read.
      L.buffer.length = 0;
      L.head = 0;
    } else if (L.head > 0) {
      L.buffer = L.buffer.slice(L.head);
      L.head = 0;
    }
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      // A read returns whole batches: drop what precedes the read position.
      if (r.offset < L.readOffset) continue;
      L.buffer.push(r);
      L.bufferedBytes += valueBytes(r);
    }
    if (readEnd > L.readOffset) L.readOffset = readEnd;
    if (L.readOffset > L.endOffset) L.endOffset = L.readOffset;
  }

  /** The log's high watermark moved (or is first known). */
  setEndOffset(level: number, endOffset: number): void {
    const L = this.levels[level];
    if (endOffset > L.endOffset) L.endOffset = endOffset;
  }

  /** A pending record loaded after restore. */
  fillRecord(level: number, record: Record): void {
    const L = this.levels[level];
    const i = L.pending.indexOf(record.offset);
    if (i < 0) return;
    const e = L.pending.at(i);
    if (e.record !== null) return;
    this.attachRecord(e, record);
  }

  /**
   * Records read for loading pending entries: every pending entry without a record whose offset lies in
   * [from, to) gets its record, or — when the log has no record there (compaction hole, control batch) — is
   * settled as acked.
   */
  fillRange(level: number, records: readonly Record[], from: number, to: number): void {
    const L = this.levels[level];
    let j = 0;
    for (let i = L.pending.lowerBound(from); i < L.pending.length; ) {
      const e = L.pending.at(i);
      if (e.offset >= to) break;
      if (e.record !== null) {
        i++;
        continue;
      }
      while (j < records.length && records[j].offset < e.offset) j++;
      if (j < records.length && records[j].offset === e.offset) {
        this.attachRecord(e, records[j]);
        i++;
      } else {
        this.recordMissing(level, e.offset); // removes it: do not advance i
      }
    }
  }

  /** Offset of the first pending entry at the level whose record is not loaded, or -1. */
  firstUnloaded(level: number): number {
    const p = this.levels[level].pending;
    for (let i = 0; i < p.length; i++) if (p.at(i).record === null) return p.at(i).offset;
    return -1;
  }

  /** A pending record turned out not to exist (compacted away, deleted by retention): it counts as acked. */
  recordMissing(level: number, offset: number): void {
    const L = this.levels[level];
    const i = L.pending.indexOf(offset);
    if (i >= 0) this.removePendingCounted(L, i);
    this.ackOffset(L, offset);
  }

  /**
   * The log no longer has records below `startOffset` (retention, deleteRecords): everything below it that
   * is not in flight is settled as acked.
   */
  skipTo(level: number, startOffset: number): void {
    const L = this.levels[level];
    while (L.pending.length > 0 && L.pending.at(0).offset < startOffset && L.pending.at(0).record === null) {
      this.recordMissing(level, L.pending.at(0).offset);
    }
    if (L.next < startOffset) {
      this.ackRange(L, L.next, startOffset);
      L.next = startOffset;
      this.markDirty();
    }
    while (L.head < L.buffer.length && L.buffer[L.head].offset < startOffset) {
      L.bufferedBytes -= valueBytes(L.buffer[L.head]);
      L.buffer[L.head++] = undefined as unknown as Record;
    }
    if (L.readOffset < startOffset) L.readOffset = startOffset;
    if (L.endOffset < startOffset) L.endOffset = startOffset;
  }

  // ---- delivering ---------------------------------------------------------------------------------

  /** Delivers as much as credit allows, highest level first. Re-entrant calls are folded into one loop. */
  pump(sink: CursorSink): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        for (let l = 0; l < this.levels.length; l++) {
          const status = this.pumpLevel(this.levels[l], sink, null, Infinity);
          if (status === NO_CREDIT || status === WAITING) break;
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Pull (AMQP basic.get, JetStream fetch): takes up to `max` records for `consumer` regardless of the dispatch
   * mode, highest level first. Returns how many were delivered through `sink.deliver`, and whether it stopped
   * because a level is waiting for a read or a record load (the caller awaits that and pulls again).
   */
  pull(consumer: Consumer, max: number, sink: CursorSink): { delivered: number; waiting: boolean } {
    // A pull from inside a deliver callback would corrupt the running scan; it gets nothing this time.
    if (this.pumping) return { delivered: 0, waiting: false };
    this.pumping = true;
    let total = 0;
    let waiting = false;
    try {
      for (let l = 0; l < this.levels.length && total < max; l++) {
        this.delivered = 0;
        const status = this.pumpLevel(this.levels[l], sink, consumer, max - total);
        total += this.delivered;
        if (status === WAITING && total < max) {
          waiting = true;
          break;
        }
        if (status === NO_CREDIT) break;
      }
    } finally {
      this.pumping = false;
    }
    if (this.pumpAgain) this.pump(sink);
    return { delivered: total, waiting };
  }

  private pumpLevel(L: LevelState, sink: CursorSink, forced: Consumer | null, max: number): number {
    const dispatch = this.dispatch;
    const keyShared = this.keyShared && forced === null;
    const now = this.clock.now();
    let blocked: Set<number> | null = null;
    let i = 0;
    let count = 0;
    let version = this.pendingVersion;
    for (;;) {
        if (count >= max) return NO_CREDIT;
        if (i < L.pending.length) {
          const e = L.pending.at(i);
          const r = e.record;
          if (r === null) {
            sink.needRecords(L.index);
            return WAITING;
          }
          if (!this.matches(r)) {
            this.removePendingCounted(L, i, false);
            this.ackOffset(L, e.offset, e.bytes);
            continue;
          }
          if (this.isExpired(r, now)) {
            this.removePendingCounted(L, i, false);
            this.startDeadLetter(L, e, 'expired', sink, now);
            continue;
          }
          if (this.maxDeliveries > 0 && e.deliveryCount >= this.maxDeliveries) {
            this.removePendingCounted(L, i, false);
            this.startDeadLetter(L, e, 'maxDeliveries', sink, now);
            continue;
          }
          if (blocked !== null && blocked.has(e.keyHash)) {
            i++;
            continue;
          }
          const c = forced !== null ? (forced.hasCredit(e.bytes) ? forced : null) : dispatch.pick(e.keyHash, e.bytes);
          if (c === null) {
            if (!keyShared || !dispatch.anyCredit()) return NO_CREDIT;
            (blocked ??= new Set()).add(e.keyHash);
            i++;
            continue;
          }
          this.removePendingCounted(L, i, false);
          this.deliverEntry(L, e, c, sink, now, true);
          count++;
          this.delivered++;
          if (this.pendingVersion !== version) {
            version = this.pendingVersion;
            i = 0;
          }
          continue;
        }
        if (L.head >= L.buffer.length) {
          // Trailing gap: batches read but with no deliverable record (control batches, compaction holes).
          if (L.readOffset > L.next) {
            this.ackRange(L, L.next, L.readOffset);
            L.next = L.readOffset;
            this.markDirty();
          }
          if (L.readOffset < L.endOffset) return WAITING;
          return i > 0 ? BLOCKED : EMPTY;
        }
        const r = L.buffer[L.head];
        if (r.offset < L.next || L.acks.has(r.offset)) {
          // Acked before a restart that did not persist `next` this far; never deliver it again.
          this.consumeBuffered(L, r);
          continue;
        }
        if (!this.matches(r)) {
          this.consumeBuffered(L, r);
          this.ackOffset(L, r.offset, valueBytes(r));
          continue;
        }
        if (this.isExpired(r, now)) {
          this.consumeBuffered(L, r);
          this.startDeadLetter(L, new Entry(L.index, r.offset, r, 0), 'expired', sink, now);
          continue;
        }
        const bytes = valueBytes(r);
        const keyHash = this.keyShared ? hashKey(r.key) : 0;
        let c: Consumer | null = null;
        if (blocked === null || !blocked.has(keyHash)) {
          c = forced !== null ? (forced.hasCredit(bytes) ? forced : null) : dispatch.pick(keyHash, bytes);
        }
        if (c === null) {
          if (!keyShared || !dispatch.anyCredit()) return NO_CREDIT;
          // key-shared: hold it back (pending, count 0) so other keys can flow; per-key order is kept because
          // later records of a blocked key are held too, and pending is served before the buffer.
          if (L.heldCount >= this.maxHeld) return BLOCKED;
          this.consumeBuffered(L, r);
          const held = new Entry(L.index, r.offset, r, 0);
          held.keyHash = keyHash;
          held.bytes = bytes;
          L.pending.insert(held);
          L.heldCount++;
          this.journalCount(L, r.offset, 0);
          (blocked ??= new Set()).add(keyHash);
          i = L.pending.length;
          continue;
        }
        this.consumeBuffered(L, r);
        const e = new Entry(L.index, r.offset, r, 0);
        e.keyHash = keyHash;
        e.bytes = bytes;
        this.deliverEntry(L, e, c, sink, now, false);
        count++;
        this.delivered++;
        if (this.pendingVersion !== version) {
          version = this.pendingVersion;
          i = 0;
        }
      }
  }

  private consumeBuffered(L: LevelState, r: Record): void {
    // Drop the buffer's reference: a buffer array that outlived a young-generation GC would otherwise keep every
    // record taken from it (and the chunk its bytes view) alive, and promoted, until the next full GC.
    L.buffer[L.head++] = undefined as unknown as Record;
    L.bufferedBytes -= valueBytes(r);
    if (r.offset > L.next) this.ackRange(L, L.next, r.offset); // a gap in the log (compaction, control batch)
    if (r.offset >= L.next) {
      L.next = r.offset + 1;
      this.markDirty();
    }
  }

  private deliverEntry(L: LevelState, e: Entry, c: Consumer, sink: CursorSink, now: number, fromPending: boolean): void {
    e.deliveryCount++;
    e.consumer = c;
    e.state = IN_FLIGHT;
    L.inFlight.set(e.offset, e);
    this.dispatch.onDeliver(c, e.bytes, e.keyHash);
    this.inFlightBytes += e.bytes;
    // First deliveries straight from the buffer are implied by `next` (count 1); anything else is explicit.
    if (fromPending) this.journalCount(L, e.offset, e.deliveryCount);
    const delayMs = this.delayFor(e.deliveryCount);
    if (delayMs > 0) {
      e.deadlineMs = now + delayMs;
      let b = this.buckets.get(delayMs);
      if (b === undefined) this.buckets.set(delayMs, (b = new DeadlineBucket(delayMs)));
      b.push(e);
      if (e.deadlineMs < this.timerAtMs) this.armTimer(e.deadlineMs);
    }
    if (sink.deliver(c, e as Delivery) === false) c.paused = true;
  }

  private delayFor(deliveryCount: number): number {
    const b = this.backoffMs;
    if (b.length > 0) return b[Math.min(deliveryCount - 1, b.length - 1)];
    return this.ackWaitMs;
  }

  // ---- settling -----------------------------------------------------------------------------------

  /**
   * Acks one offset that is in flight or pending (e.g. acked after a restart). Returns false if it was not
   * (already acked, never delivered, or being dead-lettered).
   */
  ack(level: number, offset: number): boolean {
    const L = this.levels[level];
    let e = L.inFlight.get(offset);
    if (e !== undefined) {
      this.settleInFlight(L, e);
    } else {
      const i = L.pending.indexOf(offset);
      if (i < 0) return false;
      e = this.removePendingCounted(L, i);
    }
    this.ackOffset(L, offset, e.bytes);
    return true;
  }

  /** AMQP multiple=true: acks every in-flight offset <= `offset` at the level (of `consumer`, if given). */
  ackUpTo(level: number, offset: number, consumer?: Consumer): number {
    const L = this.levels[level];
    let n = 0;
    for (const e of L.inFlight.values()) {
      if (e.offset > offset || (consumer !== undefined && e.consumer !== consumer)) continue;
      this.settleInFlight(L, e);
      this.ackOffset(L, e.offset, e.bytes);
      n++;
    }
    return n;
  }

  /**
   * Negative ack. requeue (default true): back to the head of pending for redelivery (or dead-lettered as
   * 'maxDeliveries' when it reaches the head with its count at the limit). requeue false: dead-letter
   * 'rejected'. Returns false if the offset was not in flight.
   */
  nack(level: number, offset: number, requeue: boolean, sink: CursorSink): boolean {
    const L = this.levels[level];
    const e = L.inFlight.get(offset);
    if (e === undefined) return false;
    this.settleInFlight(L, e);
    if (requeue) this.returnToPending(L, e);
    else this.startDeadLetter(L, e, 'rejected', sink, this.clock.now());
    return true;
  }

  /** Returns every in-flight record of `consumer` to pending (in offset order), then removes it from dispatch. */
  detach(consumer: Consumer): number {
    let n = 0;
    for (const L of this.levels) {
      for (const e of L.inFlight.values()) {
        if (e.consumer !== consumer) continue;
        this.settleInFlight(L, e);
        this.returnToPending(L, e);
        n++;
      }
    }
    this.dispatch.detach(consumer);
    return n;
  }

  /** The dead-letter target accepted the record: it is settled as acked. */
  completeDeadLetter(level: number, offset: number): void {
    const L = this.levels[level];
    const e = L.deadLettering.get(offset);
    if (e === undefined) return;
    L.deadLettering.delete(offset);
    this.ackOffset(L, offset, e.record === null ? e.bytes : valueBytes(e.record));
  }

  /**
   * The dead-letter append failed: the record stays unsettled (not redelivered in this run, so a broken target
   * cannot cause a hot loop) and is persisted as unacked, so a restart delivers or dead-letters it again.
   */
  failDeadLetter(level: number, offset: number): void {
    // Nothing to change: it stays in `deadLettering`, which snapshots count as unacked.
    void level;
    void offset;
  }

  /** Moves every delivery whose deadline passed to pending. Returns how many. Called by the timer. */
  expireDue(nowMs = this.clock.now()): number {
    let n = 0;
    for (const b of this.buckets.values()) {
      while (b.head !== null && b.head.deadlineMs <= nowMs) {
        const e = b.head;
        const L = this.levels[e.level];
        this.settleInFlight(L, e);
        this.returnToPending(L, e);
        n++;
      }
      if (b.head === null) this.buckets.delete(b.delayMs);
    }
    return n;
  }

  private fireTimer(): void {
    this.timerHandle = null;
    this.timerAtMs = Infinity;
    const n = this.expireDue();
    this.rearm();
    if (n > 0) this.onWake?.();
  }

  private armTimer(atMs: number): void {
    if (this.timerHandle !== null) this.timers.clearTimer(this.timerHandle);
    this.timerAtMs = atMs;
    this.timerHandle = this.timers.setTimer(atMs, this.onTimer);
  }

  private rearm(): void {
    let min = Infinity;
    for (const b of this.buckets.values()) if (b.head !== null && b.head.deadlineMs < min) min = b.head.deadlineMs;
    if (min < Infinity) this.armTimer(min);
  }

  /** Stops the redelivery timer (cursor closing). */
  stopTimers(): void {
    if (this.timerHandle !== null) this.timers.clearTimer(this.timerHandle);
    this.timerHandle = null;
    this.timerAtMs = Infinity;
  }

  private settleInFlight(L: LevelState, e: Entry): void {
    L.inFlight.delete(e.offset);
    if (e.bucket !== null) {
      const b = e.bucket;
      b.unlink(e);
      // Empty buckets are dropped lazily by expireDue; the timer may fire once for nothing, which is cheap.
    }
    if (e.consumer !== null) this.dispatch.onSettle(e.consumer, e.bytes, e.keyHash);
    this.inFlightBytes -= e.bytes;
    e.consumer = null;
  }

  private returnToPending(L: LevelState, e: Entry): void {
    e.state = PENDING;
    L.pending.insert(e);
    this.pendingVersion++;
  }

  /**
   * Removes pending entry i. `external` is true everywhere but inside the scan itself, which adjusts its own
   * index; an external removal (a re-entrant ack from a deliver callback) makes a running scan restart.
   */
  private removePendingCounted(L: LevelState, i: number, external = true): Entry {
    if (external) this.pendingVersion++;
    const e = L.pending.removeAt(i);
    if (e.deliveryCount === 0) L.heldCount--;
    return e;
  }

  private startDeadLetter(L: LevelState, e: Entry, reason: DeadLetterReason, sink: CursorSink, now: number): void {
    e.state = DEAD_LETTERING;
    L.deadLettering.set(e.offset, e);
    sink.deadLetter({ level: L.index, offset: e.offset, record: e.record!, reason, deliveryCount: e.deliveryCount, timeMs: now });
  }

  private attachRecord(e: Entry, r: Record): void {
    e.record = r;
    e.bytes = valueBytes(r);
    e.keyHash = this.keyShared ? hashKey(r.key) : 0;
  }

  // ---- journal and persistence ----------------------------------------------------------------------

  /** Acks one offset; `bytes` is its record's value size when known (settledBytes). */
  private ackOffset(L: LevelState, offset: number, bytes = 0): void {
    if (!L.acks.add(offset)) return;
    this.settledBytes += bytes;
    const j = L.journalAcks;
    const n = j.length;
    if (n > 0 && j[n - 1] === offset) j[n - 1] = offset + 1;
    else j.push(offset, offset + 1);
    if (L.journalCounts.size > 0) L.journalCounts.delete(offset);
    this.markDirty();
  }

  private ackRange(L: LevelState, from: number, to: number): void {
    if (L.acks.addRange(from, to) === 0) return;
    const j = L.journalAcks;
    const n = j.length;
    if (n > 0 && j[n - 1] === from) j[n - 1] = to;
    else j.push(from, to);
    this.markDirty();
  }

  private journalCount(L: LevelState, offset: number, count: number): void {
    L.journalCounts.set(offset, count);
    this.markDirty();
  }

  private markDirty(): void {
    if (this.dirty) return;
    this.dirty = true;
    this.onDirty?.();
  }

  /** True when changes await persistence. */
  get isDirty(): boolean {
    return this.dirty;
  }

  /** The changes since the last drain (acks as ranges, explicit counts, floor and next), or null if none. */
  drainDelta(): CursorSnapshot | null {
    if (!this.dirty) return null;
    this.dirty = false;
    const levels: LevelSnapshot[] = [];
    for (const L of this.levels) {
      const counts: number[] = [];
      for (const [o, c] of L.journalCounts) if (!L.acks.has(o)) counts.push(o, c);
      levels.push({ floor: L.acks.floor, next: L.next, ranges: L.journalAcks, counts });
      L.journalAcks = [];
      L.journalCounts.clear();
    }
    return { levels };
  }

  /** The full state (for a checkpoint). Also clears the journal: a checkpoint supersedes pending deltas. */
  snapshot(): CursorSnapshot {
    this.dirty = false;
    const levels: LevelSnapshot[] = [];
    for (const L of this.levels) {
      const counts: number[] = [];
      const add = (e: Entry): void => {
        if (e.deliveryCount !== 1) counts.push(e.offset, e.deliveryCount);
      };
      for (const e of L.inFlight.values()) add(e);
      for (const e of L.deadLettering.values()) add(e);
      for (let i = 0; i < L.pending.length; i++) add(L.pending.at(i));
      levels.push({ floor: L.acks.floor, next: L.next, ranges: L.acks.ranges(), counts });
      L.journalAcks = [];
      L.journalCounts.clear();
    }
    return { levels };
  }

  /**
   * Rebuilds from persisted state (levels beyond the snapshot keep their start offsets). Must be called before
   * anything is delivered. Unacked offsets below `next` become pending with their count; their records are
   * loaded on demand (sink.needRecords).
   */
  restore(snapshot: CursorSnapshot): void {
    for (let l = 0; l < this.levels.length && l < snapshot.levels.length; l++) {
      const s = snapshot.levels[l];
      const L = this.levels[l];
      L.acks = AckSet.from(s.floor, s.ranges);
      L.next = Math.max(s.next, L.acks.floor);
      L.readOffset = L.next;
      if (L.endOffset < L.next) L.endOffset = L.next;
      const counts = new Map<number, number>();
      for (let i = 0; i + 1 < s.counts.length; i += 2) counts.set(s.counts[i], s.counts[i + 1]);
      L.acks.forEachGap(L.acks.floor, L.next, (start, end) => {
        for (let o = start; o < end; o++) {
          const count = counts.get(o) ?? 1;
          L.pending.insert(new Entry(l, o, null, count));
          if (count === 0) L.heldCount++;
        }
      });
    }
  }

  // ---- introspection ------------------------------------------------------------------------------

  isInFlight(level: number, offset: number): boolean {
    return this.levels[level].inFlight.has(offset);
  }

  isAcked(level: number, offset: number): boolean {
    return this.levels[level].acks.has(offset);
  }

  get inFlightCount(): number {
    let n = 0;
    for (const L of this.levels) n += L.inFlight.size;
    return n;
  }

  get pendingCount(): number {
    let n = 0;
    for (const L of this.levels) n += L.pending.length;
    return n;
  }

  /** Value bytes of the records being dead-lettered now (known records only). */
  get deadLetteringBytes(): number {
    let n = 0;
    for (const L of this.levels) for (const e of L.deadLettering.values()) n += e.record === null ? e.bytes : valueBytes(e.record);
    return n;
  }

  get deadLetteringCount(): number {
    let n = 0;
    for (const L of this.levels) n += L.deadLettering.size;
    return n;
  }

  /** Records not yet settled that the cursor knows of or that are still unread (a queue's message count). */
  backlog(level: number): number {
    const L = this.levels[level];
    return L.inFlight.size + L.pending.length + L.deadLettering.size + Math.max(0, L.endOffset - L.next);
  }

  /** Earliest armed redelivery deadline (Infinity if none). */
  get nextDeadlineMs(): number {
    return this.timerAtMs;
  }
}
