/**
 * The data directory's two guard files, checked before anything else touches the directory.
 *
 * `LOCK` — JSON `{ pid, hostname, startedAt, token }`: at most one broker per data directory, because two
 * processes appending to the same segment files would interleave batches and corrupt them. It is created
 * atomically (written in full to a temporary name, then hard-linked to `LOCK`, which fails if it exists), so
 * nobody ever reads a half-written lock. A lock whose pid is no longer running is stale (the holder crashed or
 * was killed -9) and is taken over; the takeover renames the stale file away first and checks it renamed the
 * file it judged stale, so two brokers racing over one stale lock cannot both win. A lock naming our own pid
 * that this process does not hold is also stale: in a container the broker is often pid 1 on every start.
 * Liveness is checked with signal 0, so the lock protects against processes of the same host and pid namespace;
 * it is not a lock for a directory shared over the network.
 *
 * `FORMAT` — JSON `{ "format": 1, "createdBy": "<version>" }`: the on-disk layout version. A new (empty)
 * directory gets one; a directory with another format is refused rather than misread; a non-empty directory
 * without one is refused too, since it is most likely not a data directory at all (`--data-dir ~`).
 *
 * Every failure is a DataDirError naming the path and the problem; the server logs it and exits 1.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { link, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { readFileSync, unlinkSync } from 'node:fs';

/** The layout version this build reads and writes. */
export const DATA_DIR_FORMAT = 1;

export const LOCK_FILE = 'LOCK';
export const FORMAT_FILE = 'FORMAT';

export type DataDirProblem = 'locked' | 'incompatible' | 'not-a-data-dir' | 'io';

export class DataDirError extends Error {
  readonly path: string;
  readonly problem: DataDirProblem;
  constructor(path: string, problem: DataDirProblem, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DataDirError';
    this.path = path;
    this.problem = problem;
  }
}

export interface LockInfo {
  pid: number;
  hostname: string;
  startedAt: string;
  token: string;
}

export interface DataDir {
  /** Absolute path of the directory. */
  readonly path: string;
  readonly format: number;
  /** Version of Tributary that created the directory. */
  readonly createdBy: string;
  /** True when this open created the FORMAT file (a fresh directory). */
  readonly created: boolean;
  /** The holder of a stale lock that was taken over, for the start log. */
  readonly staleLock: LockInfo | null;
  /** Removes LOCK if it is still ours. Idempotent. */
  release(): Promise<void>;
  /** The same, synchronously, for a forced exit where no promise will run. */
  releaseSync(): void;
}

// Paths whose lock this process holds: a second open in the same process must be refused, not treated as
// stale because the pid is our own.
const heldLocks = new Set<string>();

/** Creates (if needed), locks and format-checks a data directory. */
export async function openDataDir(path: string, options: { version: string }): Promise<DataDir> {
  try {
    await mkdir(path, { recursive: true });
  } catch (err) {
    throw ioError(path, 'cannot create the data directory', err);
  }
  try {
    if (!(await stat(path)).isDirectory()) throw new DataDirError(path, 'io', `data directory ${path} is not a directory`);
  } catch (err) {
    if (err instanceof DataDirError) throw err;
    throw ioError(path, 'cannot read the data directory', err);
  }

  const lockPath = join(path, LOCK_FILE);
  const { info, stale } = await acquireLock(path, lockPath);
  heldLocks.add(path);
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    heldLocks.delete(path);
    try {
      const current = parseLock(await readFile(lockPath, 'utf8'));
      if (current?.token === info.token) await unlink(lockPath);
    } catch {
      // Already gone, or the directory vanished: nothing of ours is left to release.
    }
  };
  const releaseSync = (): void => {
    if (released) return;
    released = true;
    heldLocks.delete(path);
    try {
      if (parseLock(readFileSync(lockPath, 'utf8'))?.token === info.token) unlinkSync(lockPath);
    } catch {
      // As above.
    }
  };

  try {
    const format = await checkFormat(path, options.version);
    return { path, ...format, staleLock: stale, release, releaseSync };
  } catch (err) {
    await release();
    throw err;
  }
}

async function acquireLock(dir: string, lockPath: string): Promise<{ info: LockInfo; stale: LockInfo | null }> {
  const info: LockInfo = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString(), token: randomBytes(8).toString('hex') };
  const tmpPath = join(dir, `${LOCK_FILE}.${info.token}.tmp`);
  try {
    const fh = await open(tmpPath, 'wx');
    try {
      await fh.writeFile(JSON.stringify(info) + '\n');
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw ioError(dir, 'cannot write to the data directory', err);
  }

  let stale: LockInfo | null = null;
  try {
    // Bounded: each round either wins, refuses, or removes one stale lock; more rounds mean a race we lose.
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(tmpPath, lockPath);
        return { info, stale };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(dir, `cannot create ${LOCK_FILE}`, err);
      }
      let text: string;
      try {
        text = await readFile(lockPath, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile: try again
        throw ioError(dir, `cannot read ${LOCK_FILE}`, err);
      }
      const holder = parseLock(text);
      if (holder !== null && isHeldByLiveProcess(dir, holder)) {
        throw new DataDirError(
          dir,
          'locked',
          `data directory ${dir} is in use by another Tributary process (pid ${holder.pid} on ${holder.hostname}, ` +
            `started ${holder.startedAt}); stop it or choose another --data-dir. If no such process exists, delete ${lockPath}.`,
        );
      }
      // Stale (or unreadable garbage, which no Tributary writes). Move it aside, then make sure what we moved
      // is what we judged: if another broker replaced it meanwhile, put theirs back and look again.
      const asidePath = join(dir, `${LOCK_FILE}.${info.token}.stale`);
      try {
        await rename(lockPath, asidePath);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw ioError(dir, `cannot remove stale ${LOCK_FILE}`, err);
      }
      const moved = await readFile(asidePath, 'utf8').catch(() => '');
      if (moved !== text) {
        await link(asidePath, lockPath).catch(() => undefined);
        await unlink(asidePath).catch(() => undefined);
        continue;
      }
      await unlink(asidePath).catch(() => undefined);
      stale = holder ?? { pid: 0, hostname: '?', startedAt: '?', token: '' };
    }
    throw new DataDirError(dir, 'locked', `could not lock data directory ${dir}: another process keeps taking ${LOCK_FILE}`);
  } finally {
    await unlink(tmpPath).catch(() => undefined);
  }
}

function parseLock(text: string): LockInfo | null {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.pid !== 'number' || !Number.isInteger(v.pid) || v.pid <= 0) return null;
    return { pid: v.pid, hostname: String(v.hostname ?? '?'), startedAt: String(v.startedAt ?? '?'), token: String(v.token ?? '') };
  } catch {
    return null;
  }
}

function isHeldByLiveProcess(dir: string, holder: LockInfo): boolean {
  if (holder.pid === process.pid) return heldLocks.has(dir);
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user — still alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function checkFormat(dir: string, version: string): Promise<{ format: number; createdBy: string; created: boolean }> {
  const formatPath = join(dir, FORMAT_FILE);
  let text: string | null = null;
  try {
    text = await readFile(formatPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(dir, `cannot read ${formatPath}`, err);
  }

  if (text === null) {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch (err) {
      throw ioError(dir, 'cannot list the data directory', err);
    }
    // Our own leftovers (a lock being taken, a FORMAT write cut short by a crash) do not make it foreign.
    const foreign = entries.filter((e) => e !== LOCK_FILE && !e.startsWith(`${LOCK_FILE}.`) && e !== `${FORMAT_FILE}.tmp`);
    if (foreign.length > 0) {
      throw new DataDirError(
        dir,
        'not-a-data-dir',
        `${dir} is not empty and has no ${FORMAT_FILE} file, so it is not a Tributary data directory ` +
          `(found ${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}); choose an empty or new --data-dir`,
      );
    }
    await writeFormat(dir, formatPath, version);
    return { format: DATA_DIR_FORMAT, createdBy: version, created: true };
  }

  let parsed: { format?: unknown; createdBy?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    throw new DataDirError(dir, 'incompatible', `${formatPath} is not valid JSON; this data directory cannot be read`);
  }
  if (typeof parsed !== 'object' || parsed === null || typeof parsed.format !== 'number') {
    throw new DataDirError(dir, 'incompatible', `${formatPath} has no numeric "format" field; this data directory cannot be read`);
  }
  if (parsed.format !== DATA_DIR_FORMAT) {
    throw new DataDirError(
      dir,
      'incompatible',
      `data directory ${dir} has format ${parsed.format}` +
        (typeof parsed.createdBy === 'string' ? ` (created by Tributary ${parsed.createdBy})` : '') +
        `, but Tributary ${version} reads only format ${DATA_DIR_FORMAT}`,
    );
  }
  return { format: parsed.format, createdBy: typeof parsed.createdBy === 'string' ? parsed.createdBy : 'unknown', created: false };
}

/** Writes FORMAT so that a crash leaves either no file or a complete one: temp file, fsync, rename, fsync dir. */
async function writeFormat(dir: string, formatPath: string, version: string): Promise<void> {
  const tmp = `${formatPath}.tmp`;
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify({ format: DATA_DIR_FORMAT, createdBy: version }) + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, formatPath);
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch (err) {
    throw ioError(dir, `cannot write ${formatPath}`, err);
  }
}

function ioError(dir: string, what: string, err: unknown): DataDirError {
  const e = err as NodeJS.ErrnoException;
  const reason = e.code === 'EEXIST' ? 'it exists and is not a directory' : e.code === 'EACCES' || e.code === 'EPERM' ? 'permission denied' : e.code === 'ENOTDIR' ? 'a path component is not a directory' : e.code === 'EROFS' ? 'read-only file system' : (e.code ?? e.message);
  return new DataDirError(dir, 'io', `${what} ${dir}: ${reason}`, { cause: err });
}
