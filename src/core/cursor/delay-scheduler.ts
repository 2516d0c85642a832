/**
 * DelayScheduler: delayed delivery (AMQP x-delayed-message, SQS DelaySeconds, JetStream-style scheduled
 * publish). A delayed record is appended to an internal delay log and handed to `release(target, record)` —
 * the broker appends it to its target — once its due time has come.
 *
 * Delay log record format:
 *   key     = dueTimeMs as int64 big-endian (8 bytes) + UTF-8 target id
 *   value   = the original value
 *   headers = the original headers, then `x-tributary-delay-target` (UTF-8 target id) and, when the original
 *             record had a key, `x-tributary-delay-key` (the original key); both are removed on release
 *   timestamp = the original record's timestamp (or the schedule time), kept on release
 * The delay log must not be subject to age or size retention (the broker creates it with retention off);
 * records below `ackFloor` are released and may be deleted.
 *
 * Released set: which delay-log offsets have been released is an AckSet persisted through the CursorStore
 * under this scheduler's id (same format and guarantees as a cursor). Release is at-least-once: the target
 * append is awaited before the offset is acked, so a crash between the two releases the record again after
 * restart; an offset whose ack was persisted is never released again.
 *
 * Bounded memory — the window: the scheduler never holds all pending delayed records. It keeps an index of
 * (dueTimeMs, offset) for at most `maxIndexed` of the earliest-due unreleased records, and a `horizon` such
 * that every unreleased record due before the horizon is in the index (Infinity when nothing was left out).
 * A record scheduled at or after the horizon, or evicted because the index is full, only lowers the horizon;
 * it stays in the log. When the index runs empty while the horizon is finite, the log is rescanned from the
 * ack floor (skipping released offsets), keeping the `maxIndexed` earliest in a bounded max-heap — O(pending
 * records) of reading per `maxIndexed` releases, O(maxIndexed) memory. Record bodies are read only for the
 * batch being released.
 *
 * Timer: one, for the earliest indexed due time (injected TimerScheduler; tests use a manual clock).
 * Crash behaviour: the delay log is the source of truth; restart = restore the released set, rescan, re-arm.
 */
import type { Log } from '../../storage/log.js';
import { ATTR_CONTROL, OFFSET_ATTRIBUTES, batchLastOffset, decodeRecordBatch, iterateBatches, type Record, type RecordHeader, type RecordInput } from '../../storage/record-batch.js';
import { BrokerError } from '../broker-error.js';
import { AckSet } from './ack-set.js';
import { systemClock, systemTimers, type Clock, type CursorSnapshot, type TimerScheduler } from './cursor-state.js';
import type { CursorRegistration, CursorStateSource, CursorStore } from './cursor-store.js';

export const DELAY_TARGET_HEADER = 'x-tributary-delay-target';
export const DELAY_KEY_HEADER = 'x-tributary-delay-key';

export interface DelaySchedulerOptions {
  /** Id of the released set in the store (e.g. `__delay/<broker>`). */
  id: string;
  log: Log;
  store?: CursorStore;
  /** Appends the record to its target; the record counts as released when this resolves. */
  release: (target: string, record: RecordInput) => Promise<void>;
  clock?: Clock;
  timers?: TimerScheduler;
  /** Max (dueTime, offset) pairs held in memory. Default 10 000. */
  maxIndexed?: number;
  /** Max records released per round. Default 256. */
  releaseBatch?: number;
  /** After a failed release, retry this much later. Default 1000. */
  retryDelayMs?: number;
  readBytes?: number;
  onError?: (err: unknown) => void;
}

interface IndexEntry {
  dueMs: number;
  offset: number;
}

function before(a: IndexEntry, b: IndexEntry): boolean {
  return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.offset < b.offset);
}

export function encodeDelayKey(dueMs: number, target: string): Buffer {
  const t = Buffer.from(target, 'utf8');
  const key = Buffer.allocUnsafe(8 + t.length);
  key.writeBigInt64BE(BigInt(Math.trunc(dueMs)), 0);
  t.copy(key, 8);
  return key;
}

export function decodeDelayKey(key: Buffer): { dueMs: number; target: string } {
  return { dueMs: Number(key.readBigInt64BE(0)), target: key.toString('utf8', 8) };
}

/** The record to append to the target: original key, value, headers and timestamp. */
export function releasedRecord(r: Record): RecordInput {
  let key: Buffer | null = null;
  const headers: RecordHeader[] = [];
  for (const h of r.headers) {
    if (h.key === DELAY_TARGET_HEADER) continue;
    if (h.key === DELAY_KEY_HEADER) key = h.value;
    else headers.push(h);
  }
  return { key, value: r.value, headers, timestamp: r.timestamp };
}

/** Persistence adapter: the released set as a one-level cursor state. */
class ReleasedSet implements CursorStateSource {
  acks: AckSet;
  private journal: number[] = [];
  onDirty: (() => void) | null = null;
  private dirty = false;

  constructor(acks: AckSet) {
    this.acks = acks;
  }

  add(offset: number): void {
    if (!this.acks.add(offset)) return;
    const j = this.journal;
    if (j.length > 0 && j[j.length - 1] === offset) j[j.length - 1] = offset + 1;
    else j.push(offset, offset + 1);
    if (!this.dirty) {
      this.dirty = true;
      this.onDirty?.();
    }
  }

  drainDelta(): CursorSnapshot | null {
    if (!this.dirty) return null;
    this.dirty = false;
    const ranges = this.journal;
    this.journal = [];
    return { levels: [{ floor: this.acks.floor, next: this.acks.highestAckedEnd, ranges, counts: [] }] };
  }

  snapshot(): CursorSnapshot {
    this.dirty = false;
    this.journal = [];
    return { levels: [{ floor: this.acks.floor, next: this.acks.highestAckedEnd, ranges: this.acks.ranges(), counts: [] }] };
  }
}

export class DelayScheduler {
  readonly log: Log;
  private readonly release: DelaySchedulerOptions['release'];
  private readonly store: CursorStore | undefined;
  private registration: CursorRegistration | null = null;
  private readonly clock: Clock;
  private readonly timers: TimerScheduler;
  private readonly maxIndexed: number;
  private readonly releaseBatch: number;
  private readonly retryDelayMs: number;
  private readonly readBytes: number;
  private readonly onError: (err: unknown) => void;
  private readonly released: ReleasedSet;
  /** Sorted by (dueMs, offset) descending: the earliest is last, so taking it is a pop. */
  private index: IndexEntry[] = [];
  private horizonMs = Infinity;
  private scanning = false;
  /** Entries scheduled while a scan runs, inserted when it ends. */
  private scheduledDuringScan: IndexEntry[] = [];
  private releasing = false;
  private timerHandle: unknown = null;
  private timerAtMs = Infinity;
  /** After a failed release, no round before this time. */
  private retryAtMs = 0;
  private closed = false;
  private idle: Promise<void> = Promise.resolve();
  private readonly onTimer = (): void => {
    this.timerHandle = null;
    this.timerAtMs = Infinity;
    this.kick();
  };

  private constructor(options: DelaySchedulerOptions, released: ReleasedSet) {
    this.log = options.log;
    this.release = options.release;
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? systemTimers;
    this.maxIndexed = Math.max(1, options.maxIndexed ?? 10_000);
    this.releaseBatch = Math.max(1, options.releaseBatch ?? 256);
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.readBytes = options.readBytes ?? 1024 * 1024;
    this.onError = options.onError ?? (() => {});
    this.released = released;
  }

  /** Restores the released set, scans the delay log for the earliest-due window and arms the timer. */
  static async open(options: DelaySchedulerOptions): Promise<DelayScheduler> {
    const persisted = options.store?.get(options.id)?.levels[0];
    const acks = persisted !== undefined ? AckSet.from(persisted.floor, persisted.ranges) : new AckSet(options.log.startOffset);
    if (acks.floor < options.log.startOffset) acks.advanceFloor(options.log.startOffset);
    const released = new ReleasedSet(acks);
    const s = new DelayScheduler(options, released);
    if (options.store !== undefined) {
      const { registration, persisted: written } = options.store.register(options.id, released);
      s.registration = registration;
      const store = options.store;
      released.onDirty = () => void store.schedule(registration);
      await written;
    }
    await s.rescan();
    s.kick();
    return s;
  }

  /**
   * Appends a delayed record; it is released to `target` at `dueAtMs` (at once if that has passed). Resolves
   * when the delay log acknowledged the append (durable under its fsync policy).
   */
  async schedule(target: string, record: RecordInput, dueAtMs: number): Promise<{ offset: number }> {
    if (this.closed) throw new BrokerError('TRIB_CURSOR_CLOSED', 'delay scheduler is closed');
    const headers: RecordHeader[] = record.headers !== undefined ? record.headers.slice() : [];
    headers.push({ key: DELAY_TARGET_HEADER, value: Buffer.from(target, 'utf8') });
    if (record.key !== undefined && record.key !== null) headers.push({ key: DELAY_KEY_HEADER, value: record.key });
    const { baseOffset } = await this.log.appendRecords([
      { key: encodeDelayKey(dueAtMs, target), value: record.value, headers, timestamp: record.timestamp ?? this.clock.now() },
    ]);
    const entry = { dueMs: Math.trunc(dueAtMs), offset: baseOffset };
    if (this.scanning) this.scheduledDuringScan.push(entry);
    else this.insert(entry);
    this.kick();
    return { offset: baseOffset };
  }

  /** Delay-log offsets below this are all released (the broker may delete them). */
  get ackFloor(): number {
    return this.released.acks.floor;
  }

  /** Index entries held in memory (at most maxIndexed). */
  get indexedCount(): number {
    return this.index.length;
  }

  /** Every unreleased record due before this is indexed; Infinity when the index holds all of them. */
  get horizon(): number {
    return this.horizonMs;
  }

  /** Earliest due time indexed, or Infinity. */
  get nextDueMs(): number {
    return this.index.length === 0 ? Infinity : this.index[this.index.length - 1].dueMs;
  }

  /** Resolves when the current release round (if any) has finished. */
  whenIdle(): Promise<void> {
    return this.idle;
  }

  /** Stops the timer, waits for a running round, flushes the released set. Does not close the log. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timerHandle !== null) this.timers.clearTimer(this.timerHandle);
    this.timerHandle = null;
    await this.idle;
    if (this.registration !== null) {
      try {
        await this.store!.flush();
      } finally {
        this.store!.unregister(this.registration);
      }
    }
  }

  // ---- index --------------------------------------------------------------------------------------

  private insert(e: IndexEntry): void {
    if (this.released.acks.has(e.offset)) return;
    if (e.dueMs >= this.horizonMs) return; // beyond the window: the next rescan finds it
    const idx = this.index;
    // Binary search in the descending array for the position of e.
    let lo = 0;
    let hi = idx.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(e, idx[mid])) lo = mid + 1;
      else hi = mid;
    }
    if (lo < idx.length && idx[lo].offset === e.offset) return; // already indexed (seen by a scan)
    if (lo === idx.length) idx.push(e);
    else idx.splice(lo, 0, e);
    if (idx.length > this.maxIndexed) {
      // Evict the latest-due entry; it and everything due after it wait for a rescan.
      const evicted = idx.shift()!;
      if (evicted.dueMs < this.horizonMs) this.horizonMs = evicted.dueMs;
    }
  }

  /**
   * Rebuilds the index from the delay log: the `maxIndexed` earliest-due unreleased records, with a bounded
   * max-heap (the root is the latest-due kept entry, replaced when an earlier one is found).
   */
  private async rescan(): Promise<void> {
    this.scanning = true;
    try {
      const heap: IndexEntry[] = [];
      let horizon = Infinity;
      const acks = this.released.acks;
      let offset = Math.max(acks.floor, this.log.startOffset);
      const end = this.log.highWatermark;
      while (offset < end && !this.closed) {
        offset = acks.nextUnacked(offset);
        if (offset >= end) break;
        const { records } = await this.log.read(offset, this.readBytes);
        let advanced = false;
        for (const { position } of iterateBatches(records)) {
          const batchEnd = batchLastOffset(records, position) + 1;
          if ((records.readInt16BE(position + OFFSET_ATTRIBUTES) & ATTR_CONTROL) === 0) {
            for (const r of decodeRecordBatch(records, position)) {
              if (r.offset < offset || r.key === null || r.key.length < 8 || acks.has(r.offset)) continue;
              const e = { dueMs: Number(r.key.readBigInt64BE(0)), offset: r.offset };
              if (heap.length < this.maxIndexed) heapPush(heap, e);
              else if (before(e, heap[0])) {
                const evicted = heap[0];
                heap[0] = e;
                heapSiftDown(heap, 0);
                if (evicted.dueMs < horizon) horizon = evicted.dueMs;
              } else if (e.dueMs < horizon) horizon = e.dueMs;
            }
          }
          if (batchEnd > offset) {
            offset = batchEnd;
            advanced = true;
          }
        }
        if (!advanced) break;
      }
      heap.sort((a, b) => (before(a, b) ? 1 : before(b, a) ? -1 : 0));
      this.index = heap;
      this.horizonMs = horizon;
    } finally {
      this.scanning = false;
      const late = this.scheduledDuringScan;
      this.scheduledDuringScan = [];
      for (const e of late) this.insert(e);
    }
  }

  // ---- release ------------------------------------------------------------------------------------

  /** Starts a release round unless one is running; it re-arms the timer when done. */
  private kick(): void {
    if (this.releasing || this.closed) return;
    this.releasing = true;
    this.idle = this.releaseRounds().finally(() => {
      this.releasing = false;
    });
  }

  private async releaseRounds(): Promise<void> {
    try {
      for (;;) {
        if (this.closed) return;
        if (this.index.length === 0) {
          if (this.horizonMs === Infinity) return;
          await this.rescan();
          if (this.index.length === 0) return;
          continue;
        }
        const now = this.clock.now();
        const due: IndexEntry[] = [];
        while (due.length < this.releaseBatch && this.index.length > 0 && this.index[this.index.length - 1].dueMs <= now) {
          due.push(this.index.pop()!);
        }
        if (due.length === 0) return;
        if (now < this.retryAtMs) return;
        let ok = false;
        try {
          ok = await this.releaseEntries(due);
        } finally {
          if (!ok) {
            // Put them back and retry later rather than spinning on a failing target or log.
            for (const e of due) this.insert(e);
            this.retryAtMs = this.clock.now() + this.retryDelayMs;
          }
        }
        if (!ok) return;
        this.retryAtMs = 0;
      }
    } catch (err) {
      this.onError(err);
      this.retryAtMs = this.clock.now() + this.retryDelayMs;
    } finally {
      if (this.index.length > 0 || this.horizonMs !== Infinity) {
        const at = Math.max(this.index.length > 0 ? this.nextDueMs : this.clock.now(), this.retryAtMs);
        if (this.timerHandle === null || at < this.timerAtMs) this.armTimer(at);
      }
    }
  }

  /** Reads the records of `due` (in due order), releases them in that order, then acks them. */
  private async releaseEntries(due: IndexEntry[]): Promise<boolean> {
    const byOffset = due.slice().sort((a, b) => a.offset - b.offset);
    const found = new Map<number, Record>();
    let i = 0;
    while (i < byOffset.length) {
      const offset = byOffset[i].offset;
      if (offset < this.log.startOffset) {
        i++; // deleted from under us: nothing to release
        continue;
      }
      const { records } = await this.log.read(offset, this.readBytes);
      let end = offset;
      for (const { position } of iterateBatches(records)) {
        end = Math.max(end, batchLastOffset(records, position) + 1);
        if ((records.readInt16BE(position + OFFSET_ATTRIBUTES) & ATTR_CONTROL) !== 0) continue;
        for (const r of decodeRecordBatch(records, position)) found.set(r.offset, r);
      }
      if (end === offset) end = offset + 1;
      while (i < byOffset.length && byOffset[i].offset < end) i++;
    }
    // Issued in due order without awaiting each: the target log assigns offsets in call order.
    const releases: Promise<void>[] = [];
    for (const e of due) {
      const r = found.get(e.offset);
      if (r === undefined || r.key === null) continue;
      releases.push(this.release(decodeDelayKey(r.key).target, releasedRecord(r)));
    }
    const results = await Promise.allSettled(releases);
    let ok = true;
    for (const res of results) {
      if (res.status === 'rejected') {
        ok = false;
        this.onError(res.reason);
      }
    }
    if (!ok) return false; // release is at-least-once: the ones that did land are released again later
    for (const e of due) this.released.add(e.offset);
    return true;
  }

  private armTimer(atMs: number): void {
    if (this.closed) return;
    if (this.timerHandle !== null) this.timers.clearTimer(this.timerHandle);
    this.timerAtMs = atMs;
    this.timerHandle = this.timers.setTimer(atMs, this.onTimer);
  }
}

function heapPush(heap: IndexEntry[], e: IndexEntry): void {
  heap.push(e);
  let i = heap.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!before(heap[p], heap[i])) break;
    [heap[p], heap[i]] = [heap[i], heap[p]];
    i = p;
  }
}

function heapSiftDown(heap: IndexEntry[], i: number): void {
  const n = heap.length;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < n && before(heap[m], heap[l])) m = l;
    if (r < n && before(heap[m], heap[r])) m = r;
    if (m === i) return;
    [heap[m], heap[i]] = [heap[i], heap[m]];
    i = m;
  }
}
