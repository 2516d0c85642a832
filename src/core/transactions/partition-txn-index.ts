/**
 * Per-partition transaction index (KIP-98): for each partition, the first offset of every ongoing transaction
 * (by producer id) and the aborted transactions (producerId, firstOffset, lastOffset = the ABORT marker's
 * offset). From it come the last stable offset (LSO: the first offset of the oldest ongoing transaction, else
 * the high watermark) and the `abortedTransactions` a read_committed Fetch returns.
 *
 * Persistence: the log holds every transactional batch and every marker, so the index of a partition is rebuilt
 * from its log the first time it is needed after a (re)start (a scan of the batch headers; only control
 * batches' one record is decoded). "Needed" means any answer that depends on it — a committed read (cursors,
 * Stream.readMessages), a read_committed Fetch, ListOffsets read_committed, the LSO, a transactional produce
 * or marker — whatever the chunk read holds: only the index knows that a transaction opened before the
 * chunk is still open. All of them go through `ensure`, which shares one build among concurrent callers and
 * is synchronous once built. To spare most of that scan, a snapshot of the state (txn-index-snapshot.ts)
 * is written periodically (the coordinator's timer calls snapshotAll) and when the broker closes its streams,
 * exact for the log below its offset (see saveSnapshot for why); the rebuild starts from the newest valid
 * snapshot and scans only past its offset. A kill -9 leaves the last snapshot written, still exact for the log
 * below its offset, so the restart scans what was written since, never wrongly.
 * A transaction whose marker never reached the log (broker stopped mid-transaction) is ongoing again after the
 * rebuild, and the coordinator finishes it (commit, abort on InitProducerId, or abort on timeout). Aborted
 * entries wholly below the log start offset are dropped as retention removes their records.
 *
 * Rules while running:
 * - a transactional data batch of a producer with no ongoing transaction on the partition opens one. Its first
 *   offset is registered (as the log end offset) before the append, so the LSO never lets a reader past it,
 *   moved to the batch's real base offset once the append returns, and forgotten if the append fails (the
 *   caller serialises a producer's appends to a partition, so nothing else of it was appended meanwhile);
 * - a COMMIT marker closes the producer's transaction; an ABORT marker closes it and records it as aborted. A
 *   marker for a producer with no ongoing transaction (a marker written again after a restart) changes nothing.
 *
 * Concurrency: one Node thread. `partition()` resolves after the rebuild; callers register and append after it,
 * so nothing is appended to a partition's transactional state while its rebuild runs. Rebuilds of different
 * partitions run at most `maxConcurrentRebuilds` at once, in the order first asked; none waits on another.
 */
import { ControlType, batchBaseOffset, batchLastOffset, batchProducerId, controlBatchType, isControlBatch, isTransactionalDataBatch, iterateBatches } from '../../storage/record-batch.js';
import type { Stream } from '../stream.js';
import type { TxnIndexSnapshot, TxnIndexSnapshots } from './txn-index-snapshot.js';

/** Bytes read per step of a rebuild. */
const REBUILD_READ_BYTES = 4 * 1024 * 1024;
/**
 * Rebuilds running at once. After a restart many partitions are first read at about the same moment (queues'
 * cursors, a consumer fetching hundreds of partitions); unbounded, their scans would hold a read buffer each.
 */
const DEFAULT_MAX_CONCURRENT_REBUILDS = 4;

export interface AbortedTxn {
  producerId: number;
  firstOffset: number;
  lastOffset: number;
}

export class PartitionTxns {
  /** producerId → first offset of its ongoing transaction on this partition. */
  readonly ongoing = new Map<number, number>();
  /** In marker order (increasing lastOffset). */
  readonly aborted: AbortedTxn[] = [];

  /** Markers appended to this partition whose `end` has not run yet (snapshots wait for none). */
  private markersInFlight = 0;

  /** Readers waiting for every transaction opened at or before their offset to end. */
  private waiters: Array<{ offset: number; resolve: () => void }> = [];

  /** The last stable offset given the partition's high watermark. */
  lastStableOffset(highWatermark: number): number {
    let lso = highWatermark;
    for (const first of this.ongoing.values()) if (first < lso) lso = first;
    return lso;
  }

  /**
   * A transactional batch of `producerId` is about to be appended at or after `provisionalFirst` (the log end
   * offset now). Returns true when this opened the producer's transaction here.
   */
  begin(producerId: number, provisionalFirst: number): boolean {
    if (this.ongoing.has(producerId)) return false;
    this.ongoing.set(producerId, provisionalFirst);
    return true;
  }

  /** The opening batch was appended at `baseOffset` (never below the provisional offset). */
  settleFirst(producerId: number, baseOffset: number): void {
    const first = this.ongoing.get(producerId);
    if (first !== undefined && baseOffset > first) {
      this.ongoing.set(producerId, baseOffset);
      this.wake();
    }
  }

  /** The append that opened `producerId`'s transaction here failed, and nothing of it was appended since. */
  cancel(producerId: number): void {
    if (this.ongoing.delete(producerId)) this.wake();
  }

  /** A marker of `type` for `producerId` was appended at `markerOffset`. */
  end(producerId: number, markerOffset: number, type: ControlType): void {
    const first = this.ongoing.get(producerId);
    if (first === undefined) return;
    this.ongoing.delete(producerId);
    if (type === ControlType.Abort) this.aborted.push({ producerId, firstOffset: first, lastOffset: markerOffset });
    this.wake();
  }

  /** A marker is about to be appended; `markerSettled` follows once it was recorded by `end` (or failed). */
  markerIssued(): void {
    this.markersInFlight++;
  }

  markerSettled(): void {
    this.markersInFlight--;
  }

  /**
   * Whether the state is exact for the log below `highWatermark`: no marker between its append and its `end`
   * (a log whose fsync is pipelined shows it before it is acknowledged), and no transaction registered at or
   * past the high watermark (its opening batch issued, not yet visible).
   */
  settledAt(highWatermark: number): boolean {
    if (this.markersInFlight > 0) return false;
    for (const first of this.ongoing.values()) if (first >= highWatermark) return false;
    return true;
  }

  /** Whether the batch of `producerId` at `offset` belongs to an aborted transaction. */
  isAborted(producerId: number, offset: number): boolean {
    for (const a of this.aborted) if (a.producerId === producerId && a.firstOffset <= offset && offset <= a.lastOffset) return true;
    return false;
  }

  /** Resolves once no transaction that began at or before `offset` is open (at once when none is). */
  stableBeyond(offset: number): Promise<void> {
    if (this.oldestOpen() > offset) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ offset, resolve }));
  }

  private oldestOpen(): number {
    let oldest = Infinity;
    for (const first of this.ongoing.values()) if (first < oldest) oldest = first;
    return oldest;
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const oldest = this.oldestOpen();
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (oldest > w.offset) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  /**
   * Aborted transactions overlapping [fromOffset, toOffset): what a read_committed consumer needs to drop the
   * aborted records of a fetch covering that range. Sorted by first offset (kafkajs walks them in that order).
   */
  abortedBetween(fromOffset: number, toOffset: number): AbortedTxn[] {
    const out = this.aborted.filter((a) => a.lastOffset >= fromOffset && a.firstOffset < toOffset);
    return out.sort((a, b) => a.firstOffset - b.firstOffset);
  }

  /** Forgets aborted transactions that end before `startOffset` (their records are gone). */
  prune(startOffset: number): void {
    let n = 0;
    while (n < this.aborted.length && this.aborted[n].lastOffset < startOffset) n++;
    if (n > 0) this.aborted.splice(0, n);
  }

  /** The state as a snapshot exact for the log below `offset`. */
  snapshot(offset: number): TxnIndexSnapshot {
    return { offset, ongoing: [...this.ongoing], aborted: this.aborted.map((a) => ({ ...a })) };
  }

  /** Takes the state of a snapshot (before any batch is applied). */
  restore(snapshot: TxnIndexSnapshot): void {
    for (const [producerId, first] of snapshot.ongoing) this.ongoing.set(producerId, first);
    this.aborted.push(...snapshot.aborted);
  }

  /** Applies the batches of one read (rebuild). */
  applyBatches(records: Buffer): number {
    let last = -1;
    for (const { position } of iterateBatches(records)) {
      const batchLast = batchLastOffset(records, position);
      if (batchLast > last) last = batchLast;
      if (isTransactionalDataBatch(records, position)) {
        this.begin(batchProducerId(records, position), batchBaseOffset(records, position));
      } else if (isControlBatch(records, position)) {
        const type = controlBatchType(records, position);
        if (type !== null) this.end(batchProducerId(records, position), batchBaseOffset(records, position), type);
      }
    }
    return last;
  }
}

interface Entry {
  txns: PartitionTxns;
  ready: Promise<PartitionTxns>;
  done: boolean;
  /** Offset of the newest snapshot written or loaded (-1: none), so an unchanged partition is not written again. */
  savedOffset: number;
  /** The snapshot write in flight. */
  saving: Promise<boolean> | null;
}

export interface PartitionTxnIndexOptions {
  /** Where snapshots are kept; without, every rebuild scans the whole log. */
  snapshots?: TxnIndexSnapshots;
  /** Told about a snapshot that could not be read or written (the index carries on without it). */
  onSnapshotError?: (err: unknown, stream: string, partition: number) => void;
  /** Rebuilds (snapshot load + scan) running at once; the others queue. Default 4. */
  maxConcurrentRebuilds?: number;
}

export class PartitionTxnIndex {
  private readonly byStream = new WeakMap<Stream, Entry[]>();
  /** Streams with an index, for snapshotAll; weak so a deleted stream's index goes with it. */
  private readonly streams = new Set<WeakRef<Stream>>();
  private rebuilding = 0;
  private readonly rebuildQueue: Array<() => void> = [];

  constructor(private readonly options: PartitionTxnIndexOptions = {}) {}

  /** The partition's state if it is already built, else undefined (no I/O). */
  built(stream: Stream, partition: number): PartitionTxns | undefined {
    const entry = this.byStream.get(stream)?.[partition];
    return entry !== undefined && entry.done ? entry.txns : undefined;
  }

  /**
   * The partition's state, built first when it is not yet: what every answer depending on the index awaits.
   * Once built it returns the state itself (no promise made, no I/O); before that, every caller awaits the one
   * shared build.
   *
   * Built lazily, on a partition's first need, rather than eagerly at open in the background: Broker.open does
   * not wait either way, but an eager build would read every partition's log since its snapshot at startup —
   * competing for the disk with log recovery and the first clients on a broker with many partitions — and
   * would also scan partitions nobody reads committed (read_uncommitted Kafka consumers, idle streams). Lazily,
   * the scan is paid once, by the first committed read of a partition that has one, and bounded by its snapshot.
   */
  ensure(stream: Stream, partition: number): PartitionTxns | Promise<PartitionTxns> {
    return this.built(stream, partition) ?? this.partition(stream, partition);
  }

  /** The partition's transaction state, rebuilt from its log on first use (prefer `ensure` on read paths). */
  partition(stream: Stream, partition: number): Promise<PartitionTxns> {
    let list = this.byStream.get(stream);
    if (list === undefined) {
      list = [];
      this.byStream.set(stream, list);
      this.streams.add(new WeakRef(stream));
    }
    let entry = list[partition];
    if (entry === undefined) {
      const txns = new PartitionTxns();
      const created: Entry = {
        txns,
        ready: this.limited(() => this.rebuild(stream, partition, txns)).then((loaded) => {
          created.savedOffset = loaded;
          return txns;
        }),
        done: false,
        savedOffset: -1,
        saving: null,
      };
      void created.ready.then(() => {
        created.done = true;
      }, () => undefined);
      entry = created;
      list[partition] = created;
      // A failed rebuild (log closed while reading) is retried by the next caller.
      created.ready.catch(() => {
        if (list![partition] === created) delete list![partition];
      });
    }
    const { txns } = entry;
    return entry.ready.then(() => {
      txns.prune(stream.offsets(partition).startOffset);
      return txns;
    });
  }

  /**
   * Writes the snapshot of a built partition whose log grew since the last one, if nothing is in flight on it.
   * Returns whether one was written.
   *
   * Why the state captured here is exact for the log below the high watermark: data batches change the state
   * when issued (a transaction's opening batch is registered at its real offset), so with end offset = high
   * watermark and no transaction registered at or past it, every one of them is below it and applied. Markers
   * change it when acknowledged (`end`), which can come after the high watermark passed them (pipelined fsync):
   * the coordinator brackets each marker with markerIssued/markerSettled, and no snapshot is taken in between.
   */
  async saveSnapshot(stream: Stream, partition: number): Promise<boolean> {
    const { snapshots } = this.options;
    const entry = this.byStream.get(stream)?.[partition];
    if (snapshots === undefined || entry === undefined || !entry.done) return false;
    if (entry.saving !== null) await entry.saving;
    const { startOffset, endOffset, highWatermark } = stream.offsets(partition);
    // An append issued but not acknowledged (or failed after taking offsets): the state may be ahead of the log.
    if (endOffset !== highWatermark || !entry.txns.settledAt(highWatermark) || highWatermark === entry.savedOffset || entry.saving !== null) return false;
    entry.txns.prune(startOffset);
    const snapshot = entry.txns.snapshot(highWatermark);
    const saving = snapshots.save(stream, partition, snapshot).then(
      () => {
        entry.savedOffset = snapshot.offset;
        return true;
      },
      (err: unknown) => {
        this.options.onSnapshotError?.(err, stream.name, partition);
        return false;
      },
    );
    entry.saving = saving;
    try {
      return await saving;
    } finally {
      entry.saving = null;
    }
  }

  /** saveSnapshot for every built partition of every stream (a periodic checkpoint). Returns how many were written. */
  async snapshotAll(): Promise<number> {
    let written = 0;
    for (const ref of [...this.streams]) {
      const stream = ref.deref();
      const list = stream === undefined ? undefined : this.byStream.get(stream);
      if (stream === undefined || list === undefined) {
        this.streams.delete(ref);
        continue;
      }
      for (let p = 0; p < list.length; p++) if (list[p] !== undefined && (await this.saveSnapshot(stream, p))) written++;
    }
    return written;
  }

  /** Runs `fn` once fewer than maxConcurrentRebuilds are running (in the order asked). */
  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    const max = Math.max(1, this.options.maxConcurrentRebuilds ?? DEFAULT_MAX_CONCURRENT_REBUILDS);
    if (this.rebuilding >= max) await new Promise<void>((resolve) => this.rebuildQueue.push(resolve));
    else this.rebuilding++;
    try {
      return await fn();
    } finally {
      // The slot passes straight to the next in line, so `rebuilding` counts it still taken.
      const next = this.rebuildQueue.shift();
      if (next !== undefined) next();
      else this.rebuilding--;
    }
  }

  /**
   * Loads the snapshot if it is valid for the log as it is now, then applies the log from there on. Resolves
   * with the loaded snapshot's offset, -1 when none was used.
   */
  private async rebuild(stream: Stream, partition: number, txns: PartitionTxns): Promise<number> {
    let from = stream.offsets(partition).startOffset;
    let loaded = -1;
    const { snapshots } = this.options;
    if (snapshots !== undefined) {
      try {
        const snapshot = await snapshots.load(stream, partition);
        if (snapshot !== null && snapshot.offset <= stream.offsets(partition).highWatermark) {
          txns.restore(snapshot);
          from = Math.max(from, snapshot.offset);
          loaded = snapshot.offset;
        } else if (snapshot !== null) {
          // Past the recovered log end (a torn tail was cut): the log may grow back past it with other batches.
          await snapshots.remove(stream, partition);
        }
      } catch (err) {
        this.options.onSnapshotError?.(err, stream.name, partition);
      }
    }
    await scan(stream, partition, txns, from);
    return loaded;
  }
}

async function scan(stream: Stream, partition: number, txns: PartitionTxns, from: number): Promise<void> {
  let offset = from;
  let { highWatermark } = stream.offsets(partition);
  while (offset < highWatermark) {
    const read = await stream.read(partition, offset, REBUILD_READ_BYTES);
    if (read.records.length === 0) break;
    const last = txns.applyBatches(read.records);
    if (last < offset) break; // no progress: stop rather than loop
    offset = last + 1;
    highWatermark = read.highWatermark;
  }
}
