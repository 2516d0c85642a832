/**
 * Holds every segment fdatasync open until released, and counts segment writes (both paths), by wrapping SegmentFile's
 * methods for one test (restored after it): "while an fsync runs" becomes a state a test controls instead of a
 * race on the machine's speed.
 */
import type { TestContext } from 'node:test';
import { SegmentFile } from '../../src/storage/segment-file.js';
import { withTimeout } from './temp-log.js';

export interface FsyncHold {
  /** Lets every held fsync run, and every later one at once. */
  release(): void;
  /** Segment writes completed so far. */
  writes(): number;
  fsyncsStarted(): number;
  /** Resolves when the next segment write completes. */
  nextWrite(): Promise<void>;
  /** Resolves once `bytes` bytes in all have been written to segments. */
  written(bytes: number): Promise<void>;
}

/**
 * Wraps SegmentFile's two write paths for one test (restored after it): `onWrite` hears each completed write,
 * by path (inline = writevSync on the event loop, pool = writev); `beforeInline` runs before each inline one.
 */
export function watchSegmentWrites(t: TestContext, onWrite: (path: 'inline' | 'pool', bytes: number) => void, beforeInline?: () => void): void {
  const proto = SegmentFile.prototype;
  const { writev, writevSync } = proto;
  proto.writev = async function (this: SegmentFile, buffers: Buffer[], position: number): Promise<number> {
    const n = await writev.call(this, buffers, position);
    onWrite('pool', n);
    return n;
  };
  proto.writevSync = function (this: SegmentFile, buffers: Buffer[], position: number): number {
    beforeInline?.();
    const n = writevSync.call(this, buffers, position);
    onWrite('inline', n);
    return n;
  };
  t.after(() => {
    proto.writev = writev;
    proto.writevSync = writevSync;
  });
}

export function holdFsyncs(t: TestContext): FsyncHold {
  const proto = SegmentFile.prototype;
  const { datasync } = proto;
  let held: Array<() => void> = [];
  let releasing = false;
  let writes = 0;
  let started = 0;
  let bytesWritten = 0;
  let onWrite: (() => void) | null = null;
  let byteWaiters: Array<{ bytes: number; resolve: () => void }> = [];
  proto.datasync = function (this: SegmentFile): Promise<void> {
    started++;
    const run = (): Promise<void> => datasync.call(this);
    if (releasing) return run();
    return new Promise<void>((resolve, reject) => held.push(() => run().then(resolve, reject)));
  };
  watchSegmentWrites(t, (_path, n) => {
    writes++;
    bytesWritten += n;
    onWrite?.();
    const ready = byteWaiters.filter((w) => bytesWritten >= w.bytes);
    byteWaiters = byteWaiters.filter((w) => bytesWritten < w.bytes);
    for (const w of ready) w.resolve();
  });
  t.after(() => {
    proto.datasync = datasync;
  });
  return {
    release() {
      releasing = true;
      const h = held;
      held = [];
      for (const go of h) go();
    },
    writes: () => writes,
    fsyncsStarted: () => started,
    nextWrite: () =>
      withTimeout(
        new Promise<void>((resolve) => {
          onWrite = () => {
            onWrite = null;
            resolve();
          };
        }),
        10_000,
        'a segment write',
      ),
    written: (bytes) =>
      withTimeout(
        new Promise<void>((resolve) => {
          if (bytesWritten >= bytes) resolve();
          else byteWaiters.push({ bytes, resolve });
        }),
        10_000,
        `${bytes} bytes written`,
      ),
  };
}

