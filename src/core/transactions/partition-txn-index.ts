/**
 * Per-partition transaction index (KIP-98): for each partition, the first offset of every ongoing transaction
 * (by producer id) and the aborted transactions (producerId, firstOffset, lastOffset = the ABORT marker's
 * offset). From it come the last stable offset (LSO: the first offset of the oldest ongoing transaction, else
 * the high watermark) and the `abortedTransactions` a read_committed Fetch returns.
 *
 * Persistence: none of its own. The log holds every transactional batch and every marker, so the index of a
 * partition is rebuilt from its log the first time it is needed after a (re)start (one scan of the batch
 * headers; only control batches' one record is decoded). A transaction whose marker never reached the log
 * (broker stopped mid-transaction) is ongoing again after the rebuild, and the coordinator finishes it
 * (commit, abort on InitProducerId, or abort on timeout). Aborted entries wholly below the log start offset
 * are dropped as retention removes their records.
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
 * so nothing is appended to a partition's transactional state while its rebuild runs.
 */
import { ControlType, batchBaseOffset, batchLastOffset, batchProducerId, controlBatchType, isControlBatch, isTransactionalDataBatch, iterateBatches } from '../../storage/record-batch.js';
import type { Stream } from '../stream.js';

/** Bytes read per step of a rebuild. */
const REBUILD_READ_BYTES = 4 * 1024 * 1024;

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
}

export class PartitionTxnIndex {
  private readonly byStream = new WeakMap<Stream, Entry[]>();

  /**
   * The partition's state if it is already built, else undefined (no I/O). A partition that was never written
   * transactionally since the start is never built by Fetch (see handlers/fetch.ts), which spares it the scan.
   */
  built(stream: Stream, partition: number): PartitionTxns | undefined {
    const entry = this.byStream.get(stream)?.[partition];
    return entry !== undefined && entry.done ? entry.txns : undefined;
  }

  /** The partition's transaction state, rebuilt from its log on first use. */
  partition(stream: Stream, partition: number): Promise<PartitionTxns> {
    let list = this.byStream.get(stream);
    if (list === undefined) {
      list = [];
      this.byStream.set(stream, list);
    }
    let entry = list[partition];
    if (entry === undefined) {
      const txns = new PartitionTxns();
      const created: Entry = { txns, ready: rebuild(stream, partition, txns).then(() => txns), done: false };
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

}

async function rebuild(stream: Stream, partition: number, txns: PartitionTxns): Promise<void> {
  let { startOffset: offset, highWatermark } = stream.offsets(partition);
  while (offset < highWatermark) {
    const read = await stream.read(partition, offset, REBUILD_READ_BYTES);
    if (read.records.length === 0) break;
    const last = txns.applyBatches(read.records);
    if (last < offset) break; // no progress: stop rather than loop
    offset = last + 1;
    highWatermark = read.highWatermark;
  }
}
