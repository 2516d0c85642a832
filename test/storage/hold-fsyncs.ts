/**
 * Holds every segment fdatasync open until released, and counts segment writes, by wrapping SegmentFile's
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

export function holdFsyncs(t: TestContext): FsyncHold {
  const proto = SegmentFile.prototype;
  const { datasync, writev, writevSync } = proto;
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
  const counted = (n: number): number => {
    writes++;
    bytesWritten += n;
    onWrite?.();
    const ready = byteWaiters.filter((w) => bytesWritten >= w.bytes);
    byteWaiters = byteWaiters.filter((w) => bytesWritten < w.bytes);
    for (const w of ready) w.resolve();
    return n;
  };
  // Small groups are written inline (writevSync), larger ones on the pool (writev): count both.
  proto.writev = async function (this: SegmentFile, buffers: Buffer[], position: number): Promise<number> {
    return counted(await writev.call(this, buffers, position));
  };
  proto.writevSync = function (this: SegmentFile, buffers: Buffer[], position: number): number {
    return counted(writevSync.call(this, buffers, position));
  };
  t.after(() => {
    proto.datasync = datasync;
    proto.writev = writev;
    proto.writevSync = writevSync;
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

