/**
 * Cursor: the consuming side of a queue over one or more logs — the I/O shell around CursorState (pure) and
 * Dispatch (pure). It reads and decodes batches ahead of delivery, wakes on the logs' 'append' events (never
 * polls), pumps records to consumers through one `deliver(consumer, delivery)` callback, serves pulls
 * (AMQP basic.get, JetStream fetch), hands dead-letter decisions to the owner, and persists through a
 * CursorStore.
 *
 * Levels: `sources[0]` is the highest priority level (a priority queue keeps one log per level). Offsets are
 * per level, so a delivery's identity is (level, offset); a protocol's delivery tag is the protocol layer's.
 *
 * Memory: per level at most about `maxReadAheadRecords` decoded records / `maxReadAheadBytes` value bytes
 * are buffered (a read is issued when the buffer falls below half, for half the byte budget; one read
 * returns at least one whole batch, so one oversized batch may exceed it). In-flight and pending records
 * are held for redelivery: bounded by the consumers' prefetch plus what ack-wait expiry or detach returned.
 * Decoded records are views into the read buffer, so a held record keeps its read chunk alive.
 *
 * Ordering and re-entrancy: everything runs on the Node thread. A deliver callback may ack, nack or detach
 * synchronously; the state folds re-entrant pumps into the running one.
 *
 * Crash behaviour: see cursor-store.ts — after a restart in-flight records are redelivered with their
 * delivery count (redelivered = true), acked ones never are.
 */
import type { Log, ReadResult } from '../../storage/log.js';
import { ATTR_CONTROL, OFFSET_ATTRIBUTES, batchLastOffset, decodeRecordBatch, iterateBatches, type Record } from '../../storage/record-batch.js';
import { BrokerError } from '../broker-error.js';
import { Consumer, Dispatch, type ConsumerOptions, type DispatchMode } from './dispatch.js';
import {
  CursorState,
  type Clock,
  type CursorSink,
  type DeadLetterDecision,
  type Delivery,
  type TimerScheduler,
} from './cursor-state.js';
import type { CursorRegistration, CursorStore } from './cursor-store.js';
import { clampSnapshot } from './clamp-snapshot.js';

export type StartPolicy =
  | { kind: 'all' }
  | { kind: 'new' }
  | { kind: 'last' }
  | { kind: 'offset'; offset: number }
  | { kind: 'time'; timestampMs: number };

/** Identifies a delivery; a Delivery object is one. */
export interface DeliveryRef {
  readonly level: number;
  readonly offset: number;
}

export interface CursorOptions {
  /** Unique among the cursors sharing a store (e.g. `<stream>/<partition>/<queue>`). */
  id: string;
  /** One log per priority level, highest priority first. */
  sources: Log[];
  mode?: DispatchMode;
  /** Where a cursor without persisted state starts. Default 'all'. Ignored when state is restored. */
  startPolicy?: StartPolicy;
  ackWaitMs?: number;
  backoffMs?: number[];
  maxDeliveries?: number;
  matches?: (record: Record) => boolean;
  isExpired?: (record: Record, nowMs: number) => boolean;
  maxHeldRecords?: number;
  /** Called for every push delivery. Return false to pause the consumer (socket backed up) until resume(). */
  deliver: (consumer: Consumer, delivery: Delivery) => boolean | void;
  /**
   * Append the record to the dead-letter target with its history; the cursor acks it when this resolves.
   * Without it, dead-lettered records are dropped (acked at once).
   */
  deadLetter?: (decision: DeadLetterDecision) => Promise<void> | void;
  store?: CursorStore;
  clock?: Clock;
  timers?: TimerScheduler;
  maxReadAheadRecords?: number;
  maxReadAheadBytes?: number;
  onError?: (err: unknown) => void;
}

export interface FetchOptions {
  /** Owner of the pulled deliveries (e.g. a per-channel consumer so closing the channel returns them). */
  consumer?: Consumer;
  /** Ack at once (AMQP basic.get no-ack): nothing is left in flight. */
  autoAck?: boolean;
}

const RESOLVED = Promise.resolve();

async function startOffsetFor(log: Log, policy: StartPolicy): Promise<number> {
  const start = log.startOffset;
  const end = log.highWatermark;
  switch (policy.kind) {
    case 'all':
      return start;
    case 'new':
      return end;
    case 'last':
      return Math.max(start, end - 1);
    case 'offset':
      return Math.min(Math.max(policy.offset, start), end);
    case 'time': {
      const found = await log.offsetForTimestamp(policy.timestampMs);
      return found === null ? end : Math.max(found.offset, start);
    }
  }
}

function isOutOfRange(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'TRIB_OFFSET_OUT_OF_RANGE';
}

export class Cursor implements CursorSink {
  readonly id: string;
  readonly sources: readonly Log[];
  readonly state: CursorState;
  private readonly deliverFn: CursorOptions['deliver'];
  private readonly deadLetterFn: CursorOptions['deadLetter'];
  private readonly onError: (err: unknown) => void;
  private readonly store: CursorStore | undefined;
  private registration: CursorRegistration | null = null;
  private readonly maxRecords: number;
  private readonly maxBytes: number;
  private readonly reading: boolean[];
  private readonly loading: boolean[];
  private readonly appendListeners: Array<(hw: number) => void>;
  /** Per level: where the read in progress started, and its result handlers (made once: no closure per read). */
  private readonly readFrom: number[];
  private readonly onRead: Array<(result: ReadResult) => void>;
  private readonly onReadError: Array<(err: unknown) => void>;
  private readonly pullConsumer = new Consumer({ id: '__pull' }, -1);
  private pullOut: Delivery[] | null = null;
  private ioWaiters: Array<() => void> = [];
  private closed = false;
  private readonly pullSink: CursorSink;

  private constructor(options: CursorOptions, state: CursorState) {
    this.id = options.id;
    this.sources = options.sources;
    this.state = state;
    this.deliverFn = options.deliver;
    this.deadLetterFn = options.deadLetter;
    this.onError = options.onError ?? (() => {});
    this.store = options.store;
    this.maxRecords = Math.max(2, options.maxReadAheadRecords ?? 1000);
    this.maxBytes = Math.max(1024, options.maxReadAheadBytes ?? 1024 * 1024);
    this.reading = options.sources.map(() => false);
    this.loading = options.sources.map(() => false);
    // One listener per level, made once: nothing is allocated per append.
    this.appendListeners = options.sources.map((_, level) => (hw: number) => this.onAppend(level, hw));
    this.readFrom = options.sources.map(() => 0);
    this.onRead = options.sources.map((_, level) => (result: ReadResult) => this.readDone(level, result));
    this.onReadError = options.sources.map((_, level) => (err: unknown) => this.readFailed(level, err));
    state.onWake = () => this.pump();
    const self = this;
    this.pullSink = {
      deliver(_consumer, delivery) {
        self.pullOut!.push(delivery);
      },
      deadLetter: (d) => this.deadLetter(d),
      needRecords: (level) => this.needRecords(level),
    };
  }

  /**
   * Opens a cursor: restores its state from the store if it has any, otherwise resolves the start policy per
   * level; writes an initial checkpoint (so 'new' does not move on restart) and starts reading.
   */
  static async open(options: CursorOptions): Promise<Cursor> {
    if (options.sources.length === 0) throw new BrokerError('TRIB_INVALID_CONFIG', 'a cursor needs at least one source log');
    const persisted = options.store?.get(options.id);
    const startOffsets: number[] = [];
    for (const log of options.sources) {
      startOffsets.push(persisted !== undefined ? log.startOffset : await startOffsetFor(log, options.startPolicy ?? { kind: 'all' }));
    }
    const state = new CursorState({
      dispatch: new Dispatch(options.mode ?? 'shared'),
      startOffsets,
      clock: options.clock,
      timers: options.timers,
      ackWaitMs: options.ackWaitMs,
      backoffMs: options.backoffMs,
      maxDeliveries: options.maxDeliveries,
      matches: options.matches,
      isExpired: options.isExpired,
      maxHeldRecords: options.maxHeldRecords,
    });
    // A log that lost its unsynced tail (power loss) ends below what the cursor saw: see clamp-snapshot.ts.
    if (persisted !== undefined) state.restore(clampSnapshot(persisted, options.sources.map((log) => log.highWatermark)));
    const cursor = new Cursor(options, state);
    options.sources.forEach((log, level) => {
      // Retention may have removed records the persisted state still points at.
      if (log.startOffset > 0) state.skipTo(level, log.startOffset);
      state.setEndOffset(level, log.highWatermark);
      log.on('append', cursor.appendListeners[level]);
    });
    if (options.store !== undefined) {
      const { registration, persisted: written } = options.store.register(options.id, state);
      cursor.registration = registration;
      const store = options.store;
      state.onDirty = () => void store.schedule(registration);
      await written;
    }
    for (let l = 0; l < options.sources.length; l++) cursor.maybeRead(l);
    return cursor;
  }

  // ---- consumers ----------------------------------------------------------------------------------

  /** Attaches a consumer (throws TRIB_CONSUMER_EXCLUSIVE / TRIB_CONSUMER_EXISTS) and starts delivering to it. */
  attach(options: ConsumerOptions): Consumer {
    this.checkOpen();
    const c = this.state.dispatch.attach(options);
    this.pump();
    return c;
  }

  /** Detaches a consumer; its in-flight records return to the head (in offset order) for the others. */
  detach(consumer: Consumer | string): void {
    const c = typeof consumer === 'string' ? this.state.dispatch.get(consumer) : consumer;
    if (c === undefined) return;
    this.state.detach(c);
    this.pump();
  }

  /** Lets a paused consumer (deliver returned false) receive again. */
  resume(consumer: Consumer): void {
    consumer.paused = false;
    this.pump();
  }

  /** AMQP basic.qos on a consumer: new limits apply to the next delivery. */
  setPrefetch(consumer: Consumer, prefetchCount: number, prefetchBytes = consumer.prefetchBytes): void {
    consumer.prefetchCount = prefetchCount;
    consumer.prefetchBytes = prefetchBytes;
    this.pump();
  }

  get consumers(): readonly Consumer[] {
    return this.state.dispatch.consumers;
  }

  // ---- settling -----------------------------------------------------------------------------------
  // Each returns the promise of the write that makes the change durable (shared by all calls of a tick);
  // the in-memory state has already changed when it returns.

  ack(ref: DeliveryRef): Promise<void> {
    this.state.ack(ref.level, ref.offset);
    this.pump();
    return this.persisted();
  }

  /** AMQP multiple=true: every in-flight offset <= ref.offset at ref.level (of `consumer`, if given). */
  ackUpTo(ref: DeliveryRef, consumer?: Consumer): Promise<void> {
    this.state.ackUpTo(ref.level, ref.offset, consumer);
    this.pump();
    return this.persisted();
  }

  /** Negative ack; requeue (default true) returns it to the head, false dead-letters it ('rejected'). */
  nack(ref: DeliveryRef, options: { requeue?: boolean } = {}): Promise<void> {
    this.state.nack(ref.level, ref.offset, options.requeue ?? true, this);
    this.pump();
    return this.persisted();
  }

  /** AMQP basic.reject requeue=false: dead-letter as 'rejected'. */
  reject(ref: DeliveryRef): Promise<void> {
    return this.nack(ref, { requeue: false });
  }

  /** Resolves when every change so far is durable. */
  flush(): Promise<void> {
    return this.store?.flush() ?? RESOLVED;
  }

  private persisted(): Promise<void> {
    return this.registration === null ? RESOLVED : this.store!.schedule(this.registration);
  }

  // ---- pull ---------------------------------------------------------------------------------------

  /**
   * Takes up to `max` records now, highest level first, regardless of the dispatch mode (as RabbitMQ serves
   * basic.get beside consumers). Waits only for reads of records the logs already have; returns [] when the
   * queue is empty (AMQP get-empty). Pulled records are in flight until acked, unless autoAck.
   */
  async fetch(max: number, options: FetchOptions = {}): Promise<Delivery[]> {
    this.checkOpen();
    const consumer = options.consumer ?? this.pullConsumer;
    const out: Delivery[] = [];
    for (;;) {
      this.pullOut = out;
      let waiting: boolean;
      try {
        ({ waiting } = this.state.pull(consumer, max - out.length, this.pullSink));
      } finally {
        this.pullOut = null;
      }
      if (out.length >= max || !waiting || this.closed) break;
      this.kickReads();
      if (!this.ioPending()) break; // nothing will arrive (read error): return what we have
      await new Promise<void>((resolve) => this.ioWaiters.push(resolve));
    }
    if (options.autoAck === true) {
      for (const d of out) this.state.ack(d.level, d.offset);
      this.pump();
    }
    this.kickReads();
    return out;
  }

  /** AMQP basic.get: one record or null. */
  async get(options: FetchOptions = {}): Promise<Delivery | null> {
    const [d] = await this.fetch(1, options);
    return d ?? null;
  }

  // ---- pumping ------------------------------------------------------------------------------------

  /** Delivers what credit allows; also expires TTL'd records at the heads (call it to sweep an idle queue). */
  pump(): void {
    if (this.closed) return;
    this.state.pump(this);
    this.kickReads();
  }

  /** TTL sweep for idle queues: dead-letters expired records at the heads even with no consumer. */
  sweep(): void {
    this.pump();
  }

  /** CursorSink: push delivery. */
  deliver(consumer: Consumer, delivery: Delivery): boolean | void {
    try {
      return this.deliverFn(consumer, delivery);
    } catch (err) {
      // A throwing consumer would be fed again at once; pause it and let ack wait or detach recover.
      this.onError(err);
      return false;
    }
  }

  /** CursorSink: dead-letter decision. */
  deadLetter(decision: DeadLetterDecision): void {
    const fn = this.deadLetterFn;
    if (fn === undefined) {
      this.state.completeDeadLetter(decision.level, decision.offset);
      return;
    }
    let result: Promise<void> | void;
    try {
      result = fn(decision);
    } catch (err) {
      this.onError(err);
      this.state.failDeadLetter(decision.level, decision.offset);
      return;
    }
    if (result === undefined) {
      this.state.completeDeadLetter(decision.level, decision.offset);
      return;
    }
    result.then(
      () => {
        this.state.completeDeadLetter(decision.level, decision.offset);
      },
      (err: unknown) => {
        this.onError(err);
        this.state.failDeadLetter(decision.level, decision.offset);
      },
    );
  }

  /** CursorSink: pending records at the level must be loaded (after restore). */
  needRecords(level: number): void {
    if (this.loading[level] || this.closed) return;
    this.loading[level] = true;
    void this.loadPending(level);
  }

  private async loadPending(level: number): Promise<void> {
    const log = this.sources[level];
    try {
      for (;;) {
        const offset = this.state.firstUnloaded(level);
        if (offset < 0 || this.closed) break;
        if (offset < log.startOffset) {
          this.state.skipTo(level, log.startOffset);
          continue;
        }
        const { records } = await log.read(offset, this.maxBytes >> 1);
        const { decoded, end } = decodeChunk(records);
        if (end <= offset) {
          // Nothing readable at that offset (beyond the log end after a truncation): it is gone.
          this.state.recordMissing(level, offset);
          continue;
        }
        this.state.fillRange(level, decoded, offset, end);
        // One chunk is enough to deliver; the rest loads when reached, keeping memory bounded.
        if (this.state.firstUnloaded(level) !== offset) break;
      }
    } catch (err) {
      if (isOutOfRange(err)) this.state.skipTo(level, log.startOffset);
      else this.onError(err);
    } finally {
      this.loading[level] = false;
      this.wakeIo();
      this.pump();
    }
  }

  // ---- reading ------------------------------------------------------------------------------------

  private onAppend(level: number, highWatermark: number): void {
    this.state.setEndOffset(level, highWatermark);
    this.maybeRead(level);
  }

  private kickReads(): void {
    for (let l = 0; l < this.sources.length; l++) this.maybeRead(l);
  }

  private maybeRead(level: number): void {
    if (this.reading[level] || this.closed) return;
    const L = this.state.levels[level];
    if (L.readOffset >= L.endOffset) return;
    if (L.bufferedCount >= this.maxRecords >> 1 || L.bufferedBytes >= this.maxBytes >> 1) return;
    this.reading[level] = true;
    this.readLevel(level);
  }

  /**
   * Reads the level's next chunk. Runs once per append when a consumer keeps up, so it is not an async
   * function: the log's promise gets this level's two handlers, made once in the constructor.
   */
  private readLevel(level: number): void {
    const from = this.state.levels[level].readOffset;
    this.readFrom[level] = from;
    let read: Promise<ReadResult>;
    try {
      read = this.sources[level].read(from, this.maxBytes >> 1);
    } catch (err) {
      this.readFailed(level, err);
      return;
    }
    read.then(this.onRead[level], this.onReadError[level]);
  }

  private readDone(level: number, result: ReadResult): void {
    const L = this.state.levels[level];
    try {
      this.state.setEndOffset(level, result.highWatermark);
      const { decoded, end } = decodeChunk(result.records, Math.max(1, this.maxRecords - L.bufferedCount), this.readFrom[level]);
      this.state.pushRecords(level, decoded, end);
    } catch (err) {
      this.readFailed(level, err);
      return;
    }
    this.reading[level] = false;
    this.wakeIo();
    this.pump();
  }

  private readFailed(level: number, err: unknown): void {
    const log = this.sources[level];
    if (isOutOfRange(err) && this.state.levels[level].readOffset < log.startOffset) {
      this.state.skipTo(level, log.startOffset);
      this.reading[level] = false;
      this.wakeIo();
      this.pump();
      return;
    }
    this.onError(err);
    // Do not spin on a failing log: the next append event retries.
    this.reading[level] = false;
    this.wakeIo();
  }

  private ioPending(): boolean {
    for (let l = 0; l < this.sources.length; l++) if (this.reading[l] || this.loading[l]) return true;
    return false;
  }

  private wakeIo(): void {
    if (this.ioWaiters.length === 0) return;
    const waiters = this.ioWaiters;
    this.ioWaiters = [];
    for (const w of waiters) w();
  }

  // ---- lifecycle ----------------------------------------------------------------------------------

  get inFlightCount(): number {
    return this.state.inFlightCount;
  }

  get pendingCount(): number {
    return this.state.pendingCount;
  }

  /** Records not yet settled at the level (in flight, pending, dead-lettering, buffered and unread). */
  backlog(level = 0): number {
    return this.state.backlog(level);
  }

  ackFloor(level = 0): number {
    return this.state.levels[level].acks.floor;
  }

  private checkOpen(): void {
    if (this.closed) throw new BrokerError('TRIB_CURSOR_CLOSED', `cursor '${this.id}' is closed`);
  }

  /** Stops delivering, flushes pending persistence and detaches from the logs. State stays in the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.state.stopTimers();
    this.sources.forEach((log, level) => log.off('append', this.appendListeners[level]));
    this.wakeIo();
    if (this.registration !== null) {
      try {
        await this.store!.flush();
      } finally {
        this.store!.unregister(this.registration);
      }
    }
  }

  /** Closes and deletes the persisted state (queue deleted). */
  async delete(): Promise<void> {
    await this.close();
    await this.store?.remove(this.id);
  }
}

/**
 * Decodes non-control batches until about `limit` records; `end` is one past the last offset covered (the end
 * of the last batch taken whole, or the last record taken from a batch cut short), so the next read resumes
 * exactly there and nothing unread is mistaken for a gap.
 */
function decodeChunk(buf: Buffer, limit = Infinity, from = 0): { decoded: Record[]; end: number } {
  let decoded: Record[] | null = null;
  let end = -1;
  for (const { position } of iterateBatches(buf)) {
    const batchEnd = batchLastOffset(buf, position) + 1;
    if ((buf.readInt16BE(position + OFFSET_ATTRIBUTES) & ATTR_CONTROL) !== 0) {
      end = batchEnd;
      continue;
    }
    const batch = decodeRecordBatch(buf, position);
    const have = decoded === null ? 0 : decoded.length;
    let usable = 0;
    for (let i = 0; i < batch.length; i++) if (batch[i].offset >= from) usable++;
    if (have > 0 && have + usable > limit) {
      // Cut this batch short: take records up to the limit, end right after the last one taken.
      for (let i = 0; i < batch.length && decoded!.length < limit; i++) {
        if (batch[i].offset < from) continue;
        decoded!.push(batch[i]);
        end = batch[i].offset + 1;
      }
      break;
    }
    end = batchEnd;
    // The common case is one batch per read: use its array as is.
    if (decoded === null) decoded = batch;
    else for (let i = 0; i < batch.length; i++) decoded.push(batch[i]);
    if (decoded.length >= limit) break;
  }
  return { decoded: decoded ?? [], end };
}
