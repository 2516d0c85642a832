/**
 * Dispatch: the consumers attached to one cursor and the choice of which one gets the next record.
 *
 * Modes (DESIGN "Core model" → Cursor; Pulsar subscription types; RabbitMQ single active consumer):
 * - exclusive:  one consumer; a second attach throws BrokerError TRIB_CONSUMER_EXCLUSIVE. Strict order.
 * - failover:   many attach, one is active (highest priority, then earliest attach); the rest stand by. The
 *               active consumer keeps its place when a better one attaches (as RabbitMQ single active
 *               consumer), so order is never broken by a takeover; on its detach the next one takes over and
 *               receives the old one's in-flight records first (the cursor returns them to the head).
 * - shared:     round-robin among the consumers with credit; among those, higher priority first
 *               (RabbitMQ consumer priorities). Ordered only per consumer.
 * - key-shared: a key is pinned to one consumer. While a key has records in flight it stays with the consumer
 *               holding them (so per-key order survives attach/detach); otherwise it goes where a consistent
 *               hash ring of the consumers puts it, so an attach or detach moves only the keys on the ring arc
 *               it gains or loses. Keys are identified by a 32-bit FNV-1a hash of their bytes; two keys with
 *               the same hash are pinned together, which is stricter, never wrong. Priority is ignored.
 *
 * Credit (AMQP basic.qos prefetch semantics): a consumer may hold at most `prefetchCount` unsettled records
 * (0 = unlimited) and, if `prefetchBytes` > 0, at most that many unsettled value bytes — except that a consumer
 * holding nothing may always take one record, however large, so a big message cannot stall a queue. A paused
 * consumer (the protocol's socket is backed up) has no credit until resumed.
 *
 * Pure state: no I/O, no timers. The cursor state calls `onDeliver`/`onSettle` to keep credit and pins.
 */
import { BrokerError } from '../broker-error.js';

export type DispatchMode = 'exclusive' | 'failover' | 'shared' | 'key-shared';

export interface ConsumerOptions {
  /** Unique within the cursor (AMQP consumer tag, JetStream consumer instance, Pulsar consumer name). */
  id: string;
  /** Higher is served first (shared mode) or chosen first as the active consumer (failover). Default 0. */
  priority?: number;
  /** Max unsettled records; 0 = unlimited (AMQP prefetch-count 0). Default 0. */
  prefetchCount?: number;
  /** Max unsettled value bytes; 0 = unlimited (AMQP prefetch-size). Default 0. */
  prefetchBytes?: number;
  /** Anything the protocol layer wants back with each delivery (its channel, its subscription). */
  context?: unknown;
}

export class Consumer {
  readonly id: string;
  readonly priority: number;
  prefetchCount: number;
  prefetchBytes: number;
  readonly context: unknown;
  /** Attach order, for failover succession and round-robin fairness. */
  readonly attachSeq: number;
  unackedCount = 0;
  unackedBytes = 0;
  paused = false;
  attached = true;

  constructor(options: ConsumerOptions, attachSeq: number) {
    this.id = options.id;
    this.priority = options.priority ?? 0;
    this.prefetchCount = options.prefetchCount ?? 0;
    this.prefetchBytes = options.prefetchBytes ?? 0;
    this.context = options.context;
    this.attachSeq = attachSeq;
  }

  /** May take a record of `bytes` value bytes now. */
  hasCredit(bytes: number): boolean {
    if (this.paused || !this.attached) return false;
    if (this.prefetchCount > 0 && this.unackedCount >= this.prefetchCount) return false;
    if (this.prefetchBytes > 0 && this.unackedCount > 0 && this.unackedBytes + bytes > this.prefetchBytes) return false;
    return true;
  }

  /** May take some record (ignoring its size). */
  hasAnyCredit(): boolean {
    return !this.paused && this.attached && (this.prefetchCount === 0 || this.unackedCount < this.prefetchCount);
  }
}

/** Virtual nodes per consumer on the key-shared hash ring: more spreads keys more evenly. */
const RING_POINTS_PER_CONSUMER = 64;

/**
 * 32-bit FNV-1a over bytes, then murmur3's fmix32 finaliser: without it, keys that differ only in their last
 * byte (`k1`, `k2`) land close together on the ring and pile onto one consumer.
 */
export function hashKey(key: Buffer | null): number {
  let h = 0x811c9dc5;
  if (key !== null) {
    for (let i = 0; i < key.length; i++) {
      h ^= key[i];
      h = Math.imul(h, 0x01000193);
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hashString(s: string): number {
  return hashKey(Buffer.from(s, 'utf8'));
}

interface KeyPin {
  consumer: Consumer;
  inFlight: number;
}

export class Dispatch {
  readonly mode: DispatchMode;
  /** In attach order. */
  private list: Consumer[] = [];
  private byId = new Map<string, Consumer>();
  private attachCounter = 0;
  private rr = 0;
  private active: Consumer | null = null;
  // key-shared: the ring (sorted points and their consumers) and the pins of keys with records in flight.
  private ringPoints: number[] = [];
  private ringOwners: Consumer[] = [];
  private pins = new Map<number, KeyPin>();

  constructor(mode: DispatchMode = 'shared') {
    this.mode = mode;
  }

  get consumers(): readonly Consumer[] {
    return this.list;
  }

  get size(): number {
    return this.list.length;
  }

  /** The active consumer in exclusive/failover mode. */
  get activeConsumer(): Consumer | null {
    return this.active;
  }

  get(id: string): Consumer | undefined {
    return this.byId.get(id);
  }

  attach(options: ConsumerOptions): Consumer {
    if (this.byId.has(options.id)) throw new BrokerError('TRIB_CONSUMER_EXISTS', `consumer '${options.id}' is already attached`);
    if (this.mode === 'exclusive' && this.list.length > 0) {
      throw new BrokerError('TRIB_CONSUMER_EXCLUSIVE', `cursor is exclusive and consumer '${this.list[0].id}' is attached`);
    }
    const c = new Consumer(options, this.attachCounter++);
    this.list.push(c);
    this.byId.set(c.id, c);
    if ((this.mode === 'exclusive' || this.mode === 'failover') && this.active === null) this.active = c;
    if (this.mode === 'key-shared') this.rebuildRing();
    return c;
  }

  /** Removes the consumer; the cursor state returns its in-flight records to the head before calling this. */
  detach(consumer: Consumer): void {
    if (!consumer.attached || this.byId.get(consumer.id) !== consumer) return;
    consumer.attached = false;
    this.byId.delete(consumer.id);
    const i = this.list.indexOf(consumer);
    this.list.splice(i, 1);
    if (this.rr > i) this.rr--;
    if (this.active === consumer) this.active = this.bestStandby();
    if (this.mode === 'key-shared') {
      // Pins of its keys are released as its in-flight records are returned (onSettle); drop any leftovers.
      for (const [k, pin] of this.pins) if (pin.consumer === consumer) this.pins.delete(k);
      this.rebuildRing();
    }
  }

  /** Is there any consumer that could take some record now? */
  anyCredit(): boolean {
    if (this.mode === 'exclusive' || this.mode === 'failover') return this.active !== null && this.active.hasAnyCredit();
    for (let i = 0; i < this.list.length; i++) if (this.list[i].hasAnyCredit()) return true;
    return false;
  }

  /**
   * The consumer that should get a record with this key hash and value size now, or null if the consumer
   * it must go to has no credit (or none is attached).
   */
  pick(keyHash: number, bytes: number): Consumer | null {
    switch (this.mode) {
      case 'exclusive':
      case 'failover': {
        const a = this.active;
        return a !== null && a.hasCredit(bytes) ? a : null;
      }
      case 'shared':
        return this.pickShared(bytes);
      case 'key-shared': {
        const c = this.ownerOf(keyHash);
        return c !== null && c.hasCredit(bytes) ? c : null;
      }
    }
  }

  /** The consumer a key currently belongs to (pinned, or by the ring), whether or not it has credit. */
  ownerOf(keyHash: number): Consumer | null {
    const pin = this.pins.get(keyHash);
    if (pin !== undefined) return pin.consumer;
    const points = this.ringPoints;
    if (points.length === 0) return null;
    // First ring point >= hash, wrapping around.
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid] < keyHash) lo = mid + 1;
      else hi = mid;
    }
    return this.ringOwners[lo === points.length ? 0 : lo];
  }

  onDeliver(consumer: Consumer, bytes: number, keyHash: number): void {
    consumer.unackedCount++;
    consumer.unackedBytes += bytes;
    if (this.mode === 'key-shared') {
      const pin = this.pins.get(keyHash);
      if (pin === undefined) this.pins.set(keyHash, { consumer, inFlight: 1 });
      else pin.inFlight++;
    }
  }

  onSettle(consumer: Consumer, bytes: number, keyHash: number): void {
    consumer.unackedCount--;
    consumer.unackedBytes -= bytes;
    if (this.mode === 'key-shared') {
      const pin = this.pins.get(keyHash);
      if (pin !== undefined && pin.consumer === consumer && --pin.inFlight === 0) this.pins.delete(keyHash);
    }
  }

  /** Number of keys currently pinned by in-flight records (key-shared). */
  get pinnedKeys(): number {
    return this.pins.size;
  }

  private pickShared(bytes: number): Consumer | null {
    const list = this.list;
    const n = list.length;
    let best: Consumer | null = null;
    let bestIndex = -1;
    for (let k = 0; k < n; k++) {
      const i = (this.rr + k) % n;
      const c = list[i];
      if ((best === null || c.priority > best.priority) && c.hasCredit(bytes)) {
        best = c;
        bestIndex = i;
      }
    }
    // Next search starts after the chosen one: round-robin within its priority.
    if (best !== null) this.rr = (bestIndex + 1) % n;
    return best;
  }

  private bestStandby(): Consumer | null {
    let best: Consumer | null = null;
    for (const c of this.list) if (best === null || c.priority > best.priority) best = c;
    return best;
  }

  private rebuildRing(): void {
    const entries: Array<{ point: number; owner: Consumer }> = [];
    for (const c of this.list) {
      for (let v = 0; v < RING_POINTS_PER_CONSUMER; v++) entries.push({ point: hashString(`${c.id}#${v}`), owner: c });
    }
    // Ties broken by id so the ring does not depend on attach order.
    entries.sort((a, b) => a.point - b.point || (a.owner.id < b.owner.id ? -1 : a.owner.id > b.owner.id ? 1 : 0));
    this.ringPoints = entries.map((e) => e.point);
    this.ringOwners = entries.map((e) => e.owner);
  }
}
