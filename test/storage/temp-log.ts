/**
 * Test support for storage tests: temporary partition directories cleaned up after the test, and readers
 * that walk a log from an offset to its high watermark.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { PartitionLog, type PartitionLogOptions } from '../../src/storage/partition-log.js';
import type { Log, LogConfig } from '../../src/storage/log.js';
import { batchLastOffset, decodeRecords, iterateBatches, validateBatch, type Record } from '../../src/storage/record-batch.js';

const cleanups = new WeakMap<TestContext, (() => Promise<unknown>)[]>();

/** Registers `fn` to run after the test, last registered first (a log closes before its directory goes). */
export function onCleanup(t: TestContext, fn: () => Promise<unknown>): void {
  let list = cleanups.get(t);
  if (list === undefined) {
    list = [];
    cleanups.set(t, list);
    const run = list;
    t.after(async () => {
      for (const f of run.reverse()) await f();
    });
  }
  list.push(fn);
}

export async function tempDir(t: TestContext, prefix = 'trib-storage-'): Promise<string> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), prefix));
  onCleanup(t, () => fs.promises.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Opens a PartitionLog in `dir` and closes it after the test (closing twice is harmless). */
export async function openLog(t: TestContext, dir: string, config: Partial<LogConfig> = {}, options: PartitionLogOptions = {}): Promise<PartitionLog> {
  const log = await PartitionLog.open(dir, config, options);
  onCleanup(t, () => log.close());
  return log;
}

/** Every record from `from` to the high watermark, reading `maxBytes` at a time; checks every batch. */
export async function readAll(log: Log, from = log.startOffset, maxBytes = 64 * 1024): Promise<Record[]> {
  const out: Record[] = [];
  let offset = from;
  while (offset < log.highWatermark) {
    const { records } = await log.read(offset, maxBytes);
    if (records.length === 0) break;
    let last = offset;
    for (const { position, size } of iterateBatches(records)) {
      validateBatch(records.subarray(position, position + size));
      last = batchLastOffset(records, position);
    }
    for (const rec of decodeRecords(records)) if (rec.offset >= offset) out.push(rec);
    offset = last + 1;
  }
  return out;
}

export function value(n: number, size = 16): Buffer {
  const buf = Buffer.alloc(Math.max(size, 8), n % 251);
  buf.writeUInt32BE(n >>> 0, 0);
  return buf;
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

export const silentLogger = { warn(): void {}, info(): void {} };

export function recordingLogger(): { warn(obj: object, msg: string): void; info(obj: object, msg: string): void; warnings: { obj: object; msg: string }[] } {
  const warnings: { obj: object; msg: string }[] = [];
  return { warnings, warn: (obj, msg) => warnings.push({ obj, msg }), info: () => undefined };
}
