/**
 * SegmentFile: the I/O of one segment — its `.log` file descriptor, positional reads and writes, fsync,
 * truncation, and writing/reading its two index files. Pure state lives in segment.ts.
 *
 * On-disk format: see segment.ts (`.log` = Kafka v2 batches back to back), offset-index.ts and time-index.ts.
 *
 * Invariants:
 * - writes are positional (`pwritev` at the segment's size, never O_APPEND, whose position Linux ignores),
 *   so the in-memory size is the single source of truth for where the next batch goes;
 * - index files are replaced atomically (write `<name>.tmp`, rename), so a reader of the directory sees the old
 *   or the new index, never half of one. They are not fsynced: they are rebuilt when they do not check out.
 *
 * Crash behaviour: nothing here acknowledges anything; the caller decides when `datasync` must have completed.
 * `fdatasync` (not `fsync`) is enough: it flushes the data and the file size, which is all a reader needs.
 *
 * Concurrency: one fd per file, shared by the writer and all readers (positional I/O has no shared cursor).
 * Readers `acquire()`/`release()` it; an fd is closed only when no read holds it (`closeWhenIdle`), so a
 * descriptor number is never reused under a read in flight. Unlinking a file while a read holds its fd is
 * safe on POSIX: the read sees the old bytes.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { segmentFileName } from './segment.js';

const fsOpen = promisify(fs.open);
const fsClose = promisify(fs.close);
const fsRead = promisify(fs.read);
const fsWrite = promisify(fs.write);

/** fs.writev resolving to the byte count (promisify's result object is an allocation we do not need). */
export function writevAt(fd: number, buffers: Buffer[], position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.writev(fd, buffers, position, (err, bytesWritten) => (err ? reject(err) : resolve(bytesWritten)));
  });
}
const fsFdatasync = promisify(fs.fdatasync);
const fsFtruncate = promisify(fs.ftruncate);

export class SegmentFile {
  readonly dir: string;
  readonly baseOffset: number;
  readonly logPath: string;
  readonly indexPath: string;
  readonly timeIndexPath: string;
  private fd = -1;
  private opening: Promise<number> | null = null;
  private refs = 0;
  /** The active segment keeps its fd for the writer; sealed ones close it when idle. */
  pinned = false;
  private closeRequested = false;

  constructor(dir: string, baseOffset: number) {
    this.dir = dir;
    this.baseOffset = baseOffset;
    this.logPath = path.join(dir, segmentFileName(baseOffset, 'log'));
    this.indexPath = path.join(dir, segmentFileName(baseOffset, 'index'));
    this.timeIndexPath = path.join(dir, segmentFileName(baseOffset, 'timeindex'));
  }

  get name(): string {
    return path.basename(this.logPath);
  }

  get isOpen(): boolean {
    return this.fd >= 0;
  }

  get inUse(): boolean {
    return this.refs > 0;
  }

  /** Creates the `.log` file if missing and opens it read-write (O_CREAT without O_TRUNC or O_APPEND). */
  async openForWrite(): Promise<void> {
    this.pinned = true;
    this.closeRequested = false;
    if (this.fd >= 0) return;
    if (this.opening) {
      await this.opening;
      return;
    }
    this.fd = await fsOpen(this.logPath, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  }

  /** Takes a reference on the fd, opening the file read-only-on-demand if needed. Pair with `release()`. */
  async acquire(): Promise<number> {
    this.refs++;
    this.closeRequested = false;
    if (this.fd >= 0) return this.fd;
    try {
      if (!this.opening) {
        this.opening = fsOpen(this.logPath, fs.constants.O_RDWR).finally(() => {
          this.opening = null;
        });
        this.fd = await this.opening;
      } else {
        this.fd = await this.opening;
      }
      return this.fd;
    } catch (err) {
      this.refs--;
      throw err;
    }
  }

  release(): void {
    this.refs--;
    if (this.refs === 0 && this.closeRequested) void this.close();
  }

  /** Closes the fd now if no read holds it, otherwise when the last one releases it. */
  closeWhenIdle(): void {
    if (this.pinned) return;
    if (this.refs > 0) this.closeRequested = true;
    else void this.close();
  }

  async close(): Promise<void> {
    this.pinned = false;
    this.closeRequested = false;
    if (this.opening) await this.opening.catch(() => undefined);
    const fd = this.fd;
    if (fd < 0) return;
    this.fd = -1;
    await fsClose(fd);
  }

  /** The fd for the writer (the active segment's fd is always open). */
  get writeFd(): number {
    if (this.fd < 0) throw new Error(`segment ${this.name} is not open for writing`);
    return this.fd;
  }

  writev(buffers: Buffer[], position: number): Promise<number> {
    return writevAt(this.writeFd, buffers, position);
  }

  /** The same write on the calling thread (InlineWritePolicy decides when). */
  writevSync(buffers: Buffer[], position: number): number {
    return fs.writevSync(this.writeFd, buffers, position);
  }

  datasync(): Promise<void> {
    return fsFdatasync(this.writeFd);
  }

  async truncate(sizeBytes: number): Promise<void> {
    await fsFtruncate(this.writeFd, sizeBytes);
  }

  /** Reads exactly `length` bytes at `position` into `buf` (from 0); returns how many were there (EOF stops). */
  static async readFully(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fsRead(fd, buf, done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  async fileSize(): Promise<number> {
    try {
      return (await fs.promises.stat(this.logPath)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
  }

  /** Writes both index files, each atomically (temp + rename). */
  async writeIndexes(offsetIndex: Buffer, timeIndex: Buffer): Promise<void> {
    await writeFileAtomic(this.indexPath, offsetIndex, false);
    await writeFileAtomic(this.timeIndexPath, timeIndex, false);
  }

  /** Contents of an index file, or null when missing. */
  static async readOptional(file: string): Promise<Buffer | null> {
    try {
      return await fs.promises.readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /** Reads the last `bytes` bytes of a file (for the last time-index entry), or null if it is shorter. */
  static async readTail(file: string, bytes: number): Promise<{ tail: Buffer; sizeBytes: number } | null> {
    let fd: number;
    try {
      fd = await fsOpen(file, fs.constants.O_RDONLY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      const size = (await fs.promises.stat(file)).size;
      if (size < bytes) return { tail: Buffer.alloc(0), sizeBytes: size };
      const tail = Buffer.allocUnsafe(bytes);
      const n = await SegmentFile.readFully(fd, tail, bytes, size - bytes);
      return { tail: tail.subarray(0, n), sizeBytes: size };
    } finally {
      await fsClose(fd);
    }
  }

  /** Closes the fd (when idle) and unlinks the three files. */
  async delete(): Promise<void> {
    this.pinned = false;
    this.closeWhenIdle();
    await Promise.all([unlinkIfExists(this.logPath), unlinkIfExists(this.indexPath), unlinkIfExists(this.timeIndexPath)]);
  }
}

export async function unlinkIfExists(file: string): Promise<void> {
  try {
    await fs.promises.unlink(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Replaces `file` with `data` atomically: write `file.tmp`, optionally fsync it, rename over `file`, and when
 * `durable` also fsync the directory so the rename itself survives power loss.
 */
export async function writeFileAtomic(file: string, data: Buffer, durable: boolean): Promise<void> {
  const tmp = `${file}.tmp`;
  const fd = await fsOpen(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
  try {
    let done = 0;
    while (done < data.length) done += (await fsWrite(fd, data, done, data.length - done, done)).bytesWritten;
    if (durable) await fsFdatasync(fd);
  } finally {
    await fsClose(fd);
  }
  await fs.promises.rename(tmp, file);
  if (durable) await fsyncDir(path.dirname(file));
}

/** fsync of a directory makes file creations, renames and unlinks in it durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = await fsOpen(dir, fs.constants.O_RDONLY);
  try {
    await promisify(fs.fsync)(fd);
  } finally {
    await fsClose(fd);
  }
}
