/**
 * TransactionCoordinator: Kafka transactions (KIP-98) for the one node, which coordinates every transactional
 * id. It maps a transactional id to a producer id and epoch, tracks the transaction in flight (its partitions,
 * the groups whose offsets it commits, and those offsets), and ends it by writing a COMMIT or ABORT marker
 * (a control batch) into every partition of the transaction; committed offsets reach the group only then.
 *
 * State machine per transactional id (Kafka's names):
 *   Empty ──AddPartitions/AddOffsets──▶ Ongoing ──EndTxn(commit)──▶ PrepareCommit ──markers──▶ CompleteCommit
 *                                        │      ──EndTxn(abort) / timeout / InitProducerId──▶ PrepareAbort ──▶ CompleteAbort
 *   Complete* ──AddPartitions──▶ Ongoing;  any but Prepare* ──InitProducerId──▶ Empty with epoch + 1
 * Every request names (producerId, epoch): another id → INVALID_PRODUCER_ID_MAPPING, another epoch →
 * PRODUCER_FENCED (handlers turn it into INVALID_PRODUCER_EPOCH for old request versions). InitProducerId bumps
 * the epoch, which fences the previous holder of the transactional id (a zombie), and aborts its open
 * transaction with the new epoch. A transaction open longer than its timeout is aborted with an epoch bump, so
 * the late producer is fenced too. Epoch 32767 is never handed out: past 32766 a new producer id starts at 0.
 *
 * Durability: each id's state is one entry (kind `txn`) in the broker's MetadataStore (compacted, fsync
 * always), written before a request is answered and before markers are written (Prepare*), and again after
 * (Complete*). At open, a transaction left in Prepare* by a stop or crash is completed (markers written again:
 * a second marker for a closed transaction changes nothing); an Ongoing one resumes with its timeout counted
 * from its start. Pending transactional offsets live in the same entry, so they survive a restart too.
 *
 * Expiry (bounded memory, Kafka transactional.id.expiration.ms): an id with no transaction in flight (Empty or
 * Complete*) whose state was last written `transactionalIdExpirationMs` ago is forgotten — its entry deleted from
 * the MetadataStore (a tombstone in the compacted `__metadata`) and from memory — by the same timer as the
 * timeout check. Its producer is then unknown (INVALID_PRODUCER_ID_MAPPING); an InitProducerId for the id gets a
 * new producer id, never the old one (ids are never reused), so nothing of the old producer is confused with it.
 * Entries written before `lastUpdateMs` existed count from the coordinator's start. A timer of its own writes the
 * partition index snapshots every `indexSnapshotIntervalMs` (partition-txn-index.ts).
 *
 * Server options (Kafka's names): transaction.max.timeout.ms (`maxTimeoutMs`), the timed-out transaction check
 * interval (transaction.abort.timed.out.transaction.cleanup.interval.ms, `checkIntervalMs`; it also runs the
 * expiry of idle ids, which Kafka checks on a separate hourly timer), and `indexSnapshotIntervalMs`.
 *
 * Concurrency: one Node thread; the requests of one transactional id run one at a time (a promise chain), so a
 * commit and a fencing InitProducerId never interleave; expiry takes the same lock.
 */
import type { MetadataStore } from '../metadata.js';
import type { Stream } from '../stream.js';
import type { ProducerStateManager } from '../idempotence/producer-state.js';
import type { OffsetCommitInput } from '../consumer-group/offset-store.js';
import { ControlType, batchProducerId, encodeControlBatch, isTransactionalDataBatch, iterateBatches, batchBaseOffset, batchLastOffset } from '../../storage/record-batch.js';
import { PartitionTxnIndex } from './partition-txn-index.js';

export type TxnState = 'Empty' | 'Ongoing' | 'PrepareCommit' | 'PrepareAbort' | 'CompleteCommit' | 'CompleteAbort';

/** Kafka's error names, as the Kafka layer maps them (like GroupErrorName). */
export type TxnErrorName =
  | 'NONE'
  | 'INVALID_PRODUCER_ID_MAPPING'
  | 'PRODUCER_FENCED'
  | 'INVALID_PRODUCER_EPOCH'
  | 'INVALID_TXN_STATE'
  | 'INVALID_TRANSACTION_TIMEOUT'
  | 'CONCURRENT_TRANSACTIONS'
  | 'COORDINATOR_NOT_AVAILABLE';

export interface PendingOffset extends OffsetCommitInput {
  groupId: string;
}

/** The persisted state of one transactional id (metadata kind `txn`, name = the transactional id). */
export interface TxnMetadata {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  timeoutMs: number;
  state: TxnState;
  /** [topic, partition] of the transaction in flight (or just ended). */
  partitions: Array<[string, number]>;
  groups: string[];
  pendingOffsets: PendingOffset[];
  /** When the transaction in flight began (ms), -1 when none. */
  startMs: number;
  /** When this entry was last written (ms), for expiry; absent in entries written by earlier versions. */
  lastUpdateMs?: number;
}

declare module '../metadata.js' {
  interface MetadataKinds {
    txn: TxnMetadata;
  }
}

/** What the coordinator needs from the broker (the Broker satisfies it). */
export interface TransactionHost {
  readonly metadata: MetadataStore;
  stream(name: string): Stream | undefined;
  /** Makes committed offsets of a group visible (the GroupCoordinator's OffsetStore). */
  commitGroupOffsets(groupId: string, commits: OffsetCommitInput[]): Promise<void>;
  /** Hands a committed transaction's batches of one partition to live subscribers (`load` reads them). */
  deliverCommitted?(stream: Stream, load: () => Promise<Buffer[]>): Promise<void>;
}

export interface TransactionCoordinatorOptions {
  /** Kafka's transaction.max.timeout.ms: longer timeouts are refused. Default 900 000. */
  maxTimeoutMs?: number;
  /**
   * Kafka's transaction.abort.timed.out.transaction.cleanup.interval.ms: how often timed-out transactions (and
   * expired ids) are looked for (ms); 0 disables the timer (tests call abortExpired, expireTransactionalIds).
   * Default 1000 (Kafka's is 10 000: a timed-out transaction holds every read_committed reader back until then).
   */
  checkIntervalMs?: number;
  now?: () => number;
  /** How often the partition index snapshots are written (ms, a timer of its own); 0 only at close. Default 60 000. */
  indexSnapshotIntervalMs?: number;
  /** Kafka transactional.id.expiration.ms: an idle id (no transaction in flight) is forgotten this long after its last update. Default 604 800 000 (7 days). */
  transactionalIdExpirationMs?: number;
  /** The per-partition index to keep (the broker creates it first, for cursors opened before the coordinator). */
  index?: PartitionTxnIndex;
  onError?: (err: unknown, transactionalId: string) => void;
}

const KIND = 'txn';
export const DEFAULT_TRANSACTIONAL_ID_EXPIRATION_MS = 604_800_000;
/** Kafka's transaction.max.timeout.ms default. */
export const DEFAULT_TRANSACTION_MAX_TIMEOUT_MS = 900_000;
export const DEFAULT_TRANSACTION_CHECK_INTERVAL_MS = 1000;
export const DEFAULT_TXN_INDEX_SNAPSHOT_INTERVAL_MS = 60_000;
/** The last epoch handed out for one producer id (Kafka keeps Short.MaxValue for itself). */
const MAX_EPOCH = 32766;
const COORDINATOR_EPOCH = 0;
/** Bytes per read while collecting a committed transaction's batches for live delivery. */
const DELIVERY_READ_BYTES = 1024 * 1024;

export class TransactionCoordinator {
  /** Last stable offsets and aborted transactions, per partition. */
  readonly index: PartitionTxnIndex;
  private readonly txns = new Map<string, TxnMetadata>();
  private readonly byProducerId = new Map<number, string>();
  private readonly locks = new Map<string, Promise<unknown>>();
  /** transaction.max.timeout.ms: InitProducerId with a longer timeout gets INVALID_TRANSACTION_TIMEOUT. */
  readonly maxTimeoutMs: number;
  /** The timed-out transaction (and id expiry) check interval, 0 = no timer. */
  readonly checkIntervalMs: number;
  /** The partition index snapshot interval, 0 = only when the broker closes a stream. */
  readonly indexSnapshotIntervalMs: number;
  private readonly now: () => number;
  private readonly expirationMs: number;
  private timer: NodeJS.Timeout | null = null;
  private snapshotTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private snapshotting: Promise<unknown> | null = null;

  private constructor(
    private readonly host: TransactionHost,
    private readonly producers: ProducerStateManager,
    private readonly options: TransactionCoordinatorOptions,
  ) {
    this.maxTimeoutMs = options.maxTimeoutMs ?? DEFAULT_TRANSACTION_MAX_TIMEOUT_MS;
    this.checkIntervalMs = options.checkIntervalMs ?? DEFAULT_TRANSACTION_CHECK_INTERVAL_MS;
    this.indexSnapshotIntervalMs = options.indexSnapshotIntervalMs ?? DEFAULT_TXN_INDEX_SNAPSHOT_INTERVAL_MS;
    this.now = options.now ?? Date.now;
    this.expirationMs = options.transactionalIdExpirationMs ?? DEFAULT_TRANSACTIONAL_ID_EXPIRATION_MS;
    this.index = options.index ?? new PartitionTxnIndex();
  }

  /** Loads every transactional id, completes transactions left half-ended, starts the timeout check. */
  static async open(host: TransactionHost, producers: ProducerStateManager, options: TransactionCoordinatorOptions = {}): Promise<TransactionCoordinator> {
    const c = new TransactionCoordinator(host, producers, options);
    const openedMs = c.now();
    for (const { value } of host.metadata.list(KIND)) c.remember(value.lastUpdateMs === undefined ? { ...value, lastUpdateMs: openedMs } : value);
    for (const meta of [...c.txns.values()]) {
      if (meta.state !== 'PrepareCommit' && meta.state !== 'PrepareAbort') continue;
      await c.locked(meta.transactionalId, () => c.complete(meta)).catch((err) => c.options.onError?.(err, meta.transactionalId));
    }
    if (c.checkIntervalMs > 0) {
      c.timer = setInterval(() => {
        void c.abortExpired();
        void c.expireTransactionalIds();
      }, c.checkIntervalMs);
      c.timer.unref();
    }
    // Its own timer: a snapshot interval shorter than the check interval still holds.
    if (c.indexSnapshotIntervalMs > 0) {
      c.snapshotTimer = setInterval(() => c.snapshotIndex(), c.indexSnapshotIntervalMs);
      c.snapshotTimer.unref();
    }
    return c;
  }

  /** The state of a transactional id (a copy), or undefined. */
  describe(transactionalId: string): TxnMetadata | undefined {
    const m = this.txns.get(transactionalId);
    return m === undefined ? undefined : structuredClone(m);
  }

  // --- requests -----------------------------------------------------------------------------------------

  /**
   * InitProducerId with a transactional id: a new producer id (epoch 0) the first time; afterwards the same id
   * with the next epoch, which fences the previous producer and aborts its open transaction. `expected` is the
   * (producerId, epoch) a v3+ client names when it re-initialises itself (KIP-360); it must be the current one.
   */
  initProducerId(
    transactionalId: string,
    timeoutMs: number,
    expected: { producerId: number; producerEpoch: number } | null = null,
  ): Promise<{ error: TxnErrorName; producerId: number; producerEpoch: number }> {
    const fail = (error: TxnErrorName) => ({ error, producerId: -1, producerEpoch: -1 });
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > this.maxTimeoutMs) return Promise.resolve(fail('INVALID_TRANSACTION_TIMEOUT'));
    return this.locked(transactionalId, async () => {
      if (this.closed) return fail('COORDINATOR_NOT_AVAILABLE');
      let meta = this.txns.get(transactionalId);
      if (meta === undefined) {
        const producerId = await this.producers.allocateProducerId();
        meta = { transactionalId, producerId, producerEpoch: 0, timeoutMs, state: 'Empty', partitions: [], groups: [], pendingOffsets: [], startMs: -1 };
        await this.persist(meta);
        return { error: 'NONE' as const, producerId, producerEpoch: 0 };
      }
      if (expected !== null && expected.producerId >= 0 && (expected.producerId !== meta.producerId || expected.producerEpoch !== meta.producerEpoch)) {
        return fail('PRODUCER_FENCED');
      }
      if (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') await this.complete(meta);
      const reset = { timeoutMs, state: 'Empty' as const, partitions: [], groups: [], pendingOffsets: [], startMs: -1 };
      if (meta.state === 'Ongoing') {
        // Fence first (the new epoch is durable before any marker), then abort with the new epoch.
        await this.fenceAndAbort(meta);
        meta = this.txns.get(transactionalId)!;
        // The fencing epoch may be the one past the last usable: then the id changes.
        const ids = meta.producerEpoch > MAX_EPOCH ? { producerId: await this.producers.allocateProducerId(), producerEpoch: 0 } : {};
        await this.persist({ ...meta, ...ids, ...reset });
      } else {
        await this.persist({ ...meta, ...(await this.bumped(meta)), ...reset });
      }
      const now = this.txns.get(transactionalId)!;
      return { error: 'NONE' as const, producerId: now.producerId, producerEpoch: now.producerEpoch };
    });
  }

  /** AddPartitionsToTxn: the partitions join the transaction (which begins if none is open). */
  addPartitions(transactionalId: string, producerId: number, producerEpoch: number, partitions: Array<{ topic: string; partition: number }>): Promise<TxnErrorName> {
    return this.joinTransaction(transactionalId, producerId, producerEpoch, (next) => {
      const known = new Set(next.partitions.map(([t, p]) => `${t}\0${p}`));
      const added = partitions.filter(({ topic, partition }) => !known.has(`${topic}\0${partition}`) && known.add(`${topic}\0${partition}`));
      next.partitions = [...next.partitions, ...added.map(({ topic, partition }): [string, number] => [topic, partition])];
      return added.length > 0;
    });
  }

  /** AddOffsetsToTxn: the group's offsets may be committed in this transaction. */
  addOffsets(transactionalId: string, producerId: number, producerEpoch: number, groupId: string): Promise<TxnErrorName> {
    return this.joinTransaction(transactionalId, producerId, producerEpoch, (next) => {
      if (next.groups.includes(groupId)) return false;
      next.groups = [...next.groups, groupId];
      return true;
    });
  }

  /**
   * TxnOffsetCommit: offsets held in the transaction until it ends — written to the group at commit, dropped
   * at abort. The group must have been added (AddOffsetsToTxn) to the open transaction.
   */
  commitOffsets(transactionalId: string, producerId: number, producerEpoch: number, groupId: string, commits: OffsetCommitInput[]): Promise<TxnErrorName> {
    return this.withProducer(transactionalId, producerId, producerEpoch, async (meta) => {
      if (meta.state !== 'Ongoing' || !meta.groups.includes(groupId)) return 'INVALID_TXN_STATE';
      if (commits.length === 0) return 'NONE';
      await this.persist({ ...meta, pendingOffsets: [...meta.pendingOffsets, ...commits.map((c) => ({ ...c, groupId }))] });
      return 'NONE';
    });
  }

  /** EndTxn: commit or abort the open transaction; a retry of an end already done answers NONE. */
  endTxn(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): Promise<TxnErrorName> {
    return this.withProducer(transactionalId, producerId, producerEpoch, async (m) => {
      switch (m.state) {
        case 'Ongoing':
          await this.persist({ ...m, state: commit ? 'PrepareCommit' : 'PrepareAbort' });
          await this.complete(this.txns.get(transactionalId)!);
          return 'NONE';
        case 'PrepareCommit':
        case 'PrepareAbort':
          if ((m.state === 'PrepareCommit') !== commit) return 'INVALID_TXN_STATE';
          await this.complete(m);
          return 'NONE';
        case 'CompleteCommit':
          return commit ? 'NONE' : 'INVALID_TXN_STATE';
        case 'CompleteAbort':
          return commit ? 'INVALID_TXN_STATE' : 'NONE';
        default:
          return 'INVALID_TXN_STATE';
      }
    });
  }

  /**
   * Whether a transactional batch of (producerId, epoch) may be appended to topic/partition: the producer must
   * hold the newest epoch of its transactional id and have added the partition to its open transaction.
   */
  checkProduce(producerId: number, producerEpoch: number, topic: string, partition: number): TxnErrorName {
    const tid = this.byProducerId.get(producerId);
    const meta = tid === undefined ? undefined : this.txns.get(tid);
    if (meta === undefined || meta.producerId !== producerId) return 'INVALID_PRODUCER_ID_MAPPING';
    if (producerEpoch !== meta.producerEpoch) return 'INVALID_PRODUCER_EPOCH';
    if (meta.state !== 'Ongoing' || !meta.partitions.some(([t, p]) => t === topic && p === partition)) return 'INVALID_TXN_STATE';
    return 'NONE';
  }

  /** Aborts (with an epoch bump, fencing the producer) every transaction open longer than its timeout. */
  async abortExpired(now = this.now()): Promise<number> {
    let aborted = 0;
    for (const meta of [...this.txns.values()]) {
      if (meta.state !== 'Ongoing' || meta.startMs < 0 || meta.startMs + meta.timeoutMs > now) continue;
      const tid = meta.transactionalId;
      await this.locked(tid, async () => {
        const m = this.txns.get(tid);
        if (m === undefined || m.state !== 'Ongoing' || m.startMs + m.timeoutMs > now || this.closed) return;
        await this.fenceAndAbort(m);
        aborted++;
      }).catch((err) => this.options.onError?.(err, tid));
    }
    return aborted;
  }

  /**
   * Forgets every transactional id with no transaction in flight whose state is at least
   * transactional.id.expiration.ms old (from `__metadata` too). Returns how many were forgotten.
   */
  async expireTransactionalIds(now = this.now()): Promise<number> {
    const expired = (m: TxnMetadata | undefined): m is TxnMetadata =>
      m !== undefined && (m.state === 'Empty' || m.state === 'CompleteCommit' || m.state === 'CompleteAbort') && (m.lastUpdateMs ?? now) + this.expirationMs <= now;
    let forgotten = 0;
    for (const meta of [...this.txns.values()]) {
      if (!expired(meta)) continue;
      const tid = meta.transactionalId;
      await this.locked(tid, async () => {
        // Checked again under the lock: a request queued before this one may have used the id meanwhile.
        const m = this.txns.get(tid);
        if (this.closed || !expired(m)) return;
        await this.host.metadata.delete(KIND, tid);
        this.txns.delete(tid);
        if (this.byProducerId.get(m.producerId) === tid) this.byProducerId.delete(m.producerId);
        forgotten++;
      }).catch((err) => this.options.onError?.(err, tid));
    }
    return forgotten;
  }

  /** Writes the partition index snapshots unless a round is still being written (a slow disk skips a tick). */
  private snapshotIndex(): void {
    if (this.snapshotting !== null || this.closed) return;
    this.snapshotting = this.index
      .snapshotAll()
      .catch(() => undefined) // each failed write is reported through the index's onSnapshotError
      .finally(() => {
        this.snapshotting = null;
      });
  }

  /** Stops the timeout check; requests still running finish, new ones answer COORDINATOR_NOT_AVAILABLE. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    if (this.snapshotTimer !== null) clearInterval(this.snapshotTimer);
    this.timer = null;
    this.snapshotTimer = null;
    await Promise.allSettled([...this.locks.values(), this.snapshotting]);
  }

  // --- internals ----------------------------------------------------------------------------------------

  /**
   * Runs `fn` under the id's lock once the request's producer id and epoch are checked against the id's: another
   * id → INVALID_PRODUCER_ID_MAPPING, another epoch → PRODUCER_FENCED.
   */
  private withProducer(transactionalId: string, producerId: number, producerEpoch: number, fn: (meta: TxnMetadata) => Promise<TxnErrorName>): Promise<TxnErrorName> {
    return this.locked(transactionalId, async () => {
      const meta = this.txns.get(transactionalId);
      if (this.closed) return 'COORDINATOR_NOT_AVAILABLE';
      if (meta === undefined || meta.producerId !== producerId) return 'INVALID_PRODUCER_ID_MAPPING';
      if (meta.producerEpoch !== producerEpoch) return 'PRODUCER_FENCED';
      return fn(meta);
    });
  }

  /**
   * AddPartitions/AddOffsets: `add` changes a copy of the open transaction — a fresh one after Empty/Complete*
   * — and says whether it changed; it is persisted when it did or when the transaction just began.
   * CONCURRENT_TRANSACTIONS while the previous transaction is still ending.
   */
  private joinTransaction(transactionalId: string, producerId: number, producerEpoch: number, add: (next: TxnMetadata) => boolean): Promise<TxnErrorName> {
    return this.withProducer(transactionalId, producerId, producerEpoch, async (meta) => {
      if (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') return 'CONCURRENT_TRANSACTIONS';
      const began = meta.state !== 'Ongoing';
      const next: TxnMetadata = began ? { ...meta, state: 'Ongoing', partitions: [], groups: [], pendingOffsets: [], startMs: this.now() } : { ...meta };
      if (add(next) || began) await this.persist(next);
      return 'NONE';
    });
  }

  /**
   * Aborts the open transaction with the next epoch (at most 32767, one past the last handed out), so the
   * producer that opened it is fenced; markers keep the producer id, which the partitions know it by.
   */
  private async fenceAndAbort(meta: TxnMetadata): Promise<void> {
    await this.persist({ ...meta, producerEpoch: meta.producerEpoch + 1, state: 'PrepareAbort' });
    await this.complete(this.txns.get(meta.transactionalId)!);
  }

  /** The next (producerId, epoch) of a transactional id: the next epoch, or a new id once epochs run out. */
  private async bumped(meta: TxnMetadata): Promise<{ producerId: number; producerEpoch: number }> {
    if (meta.producerEpoch + 1 <= MAX_EPOCH) return { producerId: meta.producerId, producerEpoch: meta.producerEpoch + 1 };
    return { producerId: await this.producers.allocateProducerId(), producerEpoch: 0 };
  }

  /**
   * Finishes a Prepare* transaction: a marker into every partition (all durable), then — for a commit — the
   * offsets into their groups and the records to live subscribers; then Complete*.
   */
  private async complete(meta: TxnMetadata): Promise<void> {
    const commit = meta.state === 'PrepareCommit';
    const type = commit ? ControlType.Commit : ControlType.Abort;
    const delivered: Array<{ stream: Stream; partition: number; first: number; marker: number }> = [];
    await Promise.all(
      meta.partitions.map(async ([topic, partition]) => {
        const stream = this.host.stream(topic);
        // A partition whose topic was deleted (or shrank, which Kafka never does) has nothing to mark.
        if (stream === undefined || partition < 0 || partition >= stream.partitionCount) return;
        const txns = await this.index.partition(stream, partition);
        const first = txns.ongoing.get(meta.producerId);
        const marker = encodeControlBatch({ producerId: meta.producerId, producerEpoch: meta.producerEpoch, type, coordinatorEpoch: COORDINATOR_EPOCH }, this.now());
        // Bracketed so an index snapshot never sees the marker in the log but not yet in the index.
        txns.markerIssued();
        try {
          const result = await stream.appendBatch(partition, marker, { live: false });
          txns.end(meta.producerId, result.baseOffset, type);
          if (commit && first !== undefined) delivered.push({ stream, partition, first, marker: result.baseOffset });
        } finally {
          txns.markerSettled();
        }
      }),
    );
    if (commit) {
      const byGroup = new Map<string, OffsetCommitInput[]>();
      for (const { groupId, ...c } of meta.pendingOffsets) {
        let list = byGroup.get(groupId);
        if (list === undefined) byGroup.set(groupId, (list = []));
        list.push(c);
      }
      for (const [groupId, commits] of byGroup) await this.host.commitGroupOffsets(groupId, commits);
    }
    await this.persist({ ...meta, state: commit ? 'CompleteCommit' : 'CompleteAbort', pendingOffsets: [], startMs: -1 });
    // Before EndTxn is answered, so a record produced after the commit is never delivered before the commit's.
    for (const d of delivered) {
      await this.host.deliverCommitted?.(d.stream, () => transactionBatches(d.stream, d.partition, meta.producerId, d.first, d.marker));
    }
  }

  private async persist(meta: TxnMetadata): Promise<void> {
    const stamped = { ...meta, lastUpdateMs: this.now() };
    await this.host.metadata.put(KIND, meta.transactionalId, stamped);
    this.remember(stamped);
  }

  private remember(meta: TxnMetadata): void {
    const old = this.txns.get(meta.transactionalId);
    if (old !== undefined && old.producerId !== meta.producerId) this.byProducerId.delete(old.producerId);
    this.txns.set(meta.transactionalId, meta);
    this.byProducerId.set(meta.producerId, meta.transactionalId);
  }

  private locked<T>(transactionalId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(transactionalId) ?? Promise.resolve();
    const run = prev.then(fn);
    const tail = run.catch(() => undefined);
    this.locks.set(transactionalId, tail);
    void tail.then(() => {
      if (this.locks.get(transactionalId) === tail) this.locks.delete(transactionalId);
    });
    return run;
  }
}

/** The data batches of `producerId`'s transaction on one partition: those in [first, marker). */
async function transactionBatches(stream: Stream, partition: number, producerId: number, first: number, marker: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let offset = Math.max(first, stream.offsets(partition).startOffset);
  while (offset < marker) {
    const read = await stream.read(partition, offset, DELIVERY_READ_BYTES);
    let next = offset;
    for (const { position, size } of iterateBatches(read.records)) {
      const base = batchBaseOffset(read.records, position);
      if (base >= marker) return out;
      next = batchLastOffset(read.records, position) + 1;
      if (base >= offset && isTransactionalDataBatch(read.records, position) && batchProducerId(read.records, position) === producerId) {
        out.push(Buffer.from(read.records.subarray(position, position + size)));
      }
    }
    if (next <= offset) break;
    offset = next;
  }
  return out;
}
