/**
 * GroupCommit: the log's single writer. It serialises every mutation of a partition — append groups and
 * exclusive tasks (roll, truncate, deleteRecords, retention, compaction swap, interval fsync, close) — in call
 * order, and coalesces appends into groups.
 *
 * Grouping rule: the first append queued while the writer is idle schedules a flush with `setImmediate`, so
 * every append made in the same turn of the event loop (including those from other I/O callbacks of the same
 * poll phase) joins one group; appends queued while a flush is in flight form the next group. One group = one
 * `writev` per segment; under fsync `always` the log runs its fdatasyncs behind the writes, one covering every
 * group written before it started (PartitionLog.syncLoop), and a group's promises resolve together after it.
 *
 * Invariants: groups and tasks run one at a time, in the order they were queued; an append queued before a
 * task is flushed before the task runs (truncate after append sees the append on disk).
 *
 * Crash behaviour: none of its own: it only orders work. Concurrency: one Node thread; no locks needed.
 */
import type { ByteChunks } from '../wire/index.js';

export interface PendingAppend {
  /** The batch bytes; ByteChunks when they are a Produce's socket reads (written with writev as they are). */
  batch: Buffer | ByteChunks;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  recordsCount: number;
  resolve: (value: { baseOffset: number; lastOffset: number; logAppendTime: number }) => void;
  reject: (err: unknown) => void;
}

type Op = { kind: 'appends'; items: PendingAppend[] } | { kind: 'task'; run: () => Promise<void> };

export class GroupCommit {
  private readonly flushGroup: (group: PendingAppend[]) => Promise<void>;
  private ops: Op[] = [];
  private running = false;
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];
  private readonly beforeTask: (() => Promise<void>) | undefined;

  /** `beforeTask` runs before each exclusive task (the log waits there for fsyncs it runs outside the writer). */
  constructor(flushGroup: (group: PendingAppend[]) => Promise<void>, beforeTask?: () => Promise<void>) {
    this.flushGroup = flushGroup;
    this.beforeTask = beforeTask;
  }

  get busy(): boolean {
    return this.running || this.ops.length > 0;
  }

  enqueue(item: PendingAppend): void {
    const last = this.ops[this.ops.length - 1];
    // Joining the trailing group keeps order: nothing queued after it has run yet.
    if (last !== undefined && last.kind === 'appends') last.items.push(item);
    else this.ops.push({ kind: 'appends', items: [item] });
    this.schedule();
  }

  /** Runs `fn` alone, after everything queued before it. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.ops.push({
        kind: 'task',
        run: () => fn().then(resolve, reject),
      });
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.runLoop();
    });
  }

  private async runLoop(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let op = this.ops.shift(); op !== undefined; op = this.ops.shift()) {
        if (op.kind === 'appends') {
          try {
            await this.flushGroup(op.items);
          } catch (err) {
            for (const p of op.items) p.reject(err);
          }
        } else {
          if (this.beforeTask !== undefined) await this.beforeTask();
          await op.run();
        }
      }
    } finally {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
