/**
 * StartOffsetFile: a partition's `log-start-offset` file, the start offset raised by deleteRecords.
 *
 * Why it is not written by the log's writer: deleteRecords runs for Kafka's DeleteRecords and for every
 * workqueue stream (queue) at each retention check, where the consumers' ack floors are applied. Written as an
 * exclusive writer task (temp file, two fsyncs, a rename: 0.7 ms median, 6 ms p99 on our CI machine), each held
 * the appends queued behind it and emptied the log's tail cache. Here writes run beside the appends (0.24 ms
 * median in place), one at a time; calls made while one runs share the next write (the highest offset asked for).
 *
 * On-disk format: the decimal offset, zero-padded to RECORD_BYTES - 1 digits, and a newline. Older files hold
 * the unpadded decimal; both parse the same.
 *
 * Crash behaviour: the first write creates the file durably (temp file, fsync, rename, directory fsync). Later
 * writes overwrite those same RECORD_BYTES in place and fdatasync: the size does not change, so no metadata
 * (and no journal commit) is involved, and a record this small lies in one disk sector, which a disk writes
 * whole or not at all. Should the file still be unreadable, the log falls back to its first segment (records
 * deleted since are readable again; a workqueue's cursor floor still hides them) and says so in the log.
 *
 * Concurrency: one Node thread; `persist` calls resolve in order of the value written, never before it is
 * durable.
 */
import fs from 'node:fs';
import { SegmentFile, writeFileAtomic } from './segment-file.js';

/** Bytes of one record: 20 digits (more than the 16 of Number.MAX_SAFE_INTEGER) and '\n'. */
const RECORD_BYTES = 21;

interface Waiter {
  offset: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class StartOffsetFile {
  readonly path: string;
  /** Highest offset durable in the file (-1: none written by this process yet). */
  private written = -1;
  private exists = false;
  private waiters: Waiter[] = [];
  private running: Promise<void> | null = null;

  constructor(path: string) {
    this.path = path;
  }

  /** The offset in the file; null when there is none, NaN when it does not parse. */
  async read(): Promise<number | null> {
    const buf = await SegmentFile.readOptional(this.path);
    if (buf === null) return null;
    // Anything but one record (an older unpadded file, or damage) is replaced whole by the first write.
    this.exists = buf.length === RECORD_BYTES;
    const text = buf.toString('latin1').trim();
    const value = /^[0-9]+$/.test(text) ? Number(text) : NaN;
    return Number.isSafeInteger(value) ? value : NaN;
  }

  /** Resolves once the file durably holds `offset` or more. */
  persist(offset: number): Promise<void> {
    if (offset <= this.written) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ offset, resolve, reject });
      this.running ??= this.run();
    });
  }

  /** Resolves once no write is running or owed. */
  async idle(): Promise<void> {
    while (this.running !== null) await this.running;
  }

  private async run(): Promise<void> {
    try {
      while (this.waiters.length > 0) {
        const batch = this.waiters;
        this.waiters = [];
        let target = this.written;
        for (const w of batch) target = Math.max(target, w.offset);
        try {
          if (target > this.written) await this.write(target);
          this.written = Math.max(this.written, target);
        } catch (err) {
          for (const w of batch) w.reject(err);
          continue;
        }
        for (const w of batch) w.resolve();
      }
    } finally {
      this.running = null;
    }
  }

  private async write(offset: number): Promise<void> {
    const record = Buffer.from(`${String(offset).padStart(RECORD_BYTES - 1, '0')}\n`, 'latin1');
    if (!this.exists) {
      await writeFileAtomic(this.path, record, true);
      this.exists = true;
      return;
    }
    const file = await fs.promises.open(this.path, 'r+');
    try {
      let done = 0;
      while (done < record.length) done += (await file.write(record, done, record.length - done, done)).bytesWritten;
      await file.datasync();
    } finally {
      await file.close();
    }
  }
}
