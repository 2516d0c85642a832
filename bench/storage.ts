/**
 * Storage benchmark: PartitionLog append and read throughput for 1 KiB records in batches of 1, 100 and 1000,
 * under each fsync policy, against the raw limit of the same disk measured in the same run.
 *
 * Method: one producer appends pre-encoded batches and awaits each append (so `always` is one write + one
 * fsync per batch, the worst case for group commit). The baseline does the same with `fs` directly: a
 * positional write per batch into a fresh file on the same filesystem with the same fsync cadence (`always`: fdatasync after each
 * write, serially; `interval`: fdatasync every fsyncIntervalMs; `never`: none). Reads walk the log from
 * offset 0 with maxBytes 1 MiB; the read baseline is positional reads of the same file in 1 MiB chunks. Each
 * case is bounded by a byte budget and a time budget, so the whole run stays under about two minutes. Ours
 * and raw run alternately in steps of about 200 ms with the same batch counts, because this disk's speed
 * drifts by 30% from one second to the next and a sequential A-then-B comparison measures the drift.
 *
 * Usage: node dist/bench/run.js storage [--quick]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { PartitionLog } from '../src/storage/partition-log.js';
import { encodeRecordBatch } from '../src/storage/record-batch.js';
import type { FsyncPolicy } from '../src/storage/log.js';

const RECORD_BYTES = 1024;
const BATCH_SIZES = [1, 100, 1000];
const POLICIES: FsyncPolicy[] = ['always', 'interval', 'never'];
const FSYNC_INTERVAL_MS = 100;

interface Figures {
  batches: number;
  bytes: number;
  appendSeconds: number;
  latenciesMs: number[];
  readSeconds: number;
}

function p99(latencies: number[]): number {
  const sorted = Float64Array.from(latencies).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))];
}

function makeBatches(batchSize: number, pool: number): Buffer[] {
  const out: Buffer[] = [];
  for (let b = 0; b < pool; b++) {
    const records = [];
    for (let i = 0; i < batchSize; i++) records.push({ key: Buffer.from(`key-${i}`), value: Buffer.alloc(RECORD_BYTES, (b + i) & 0xff), timestamp: Date.now() });
    out.push(encodeRecordBatch(records));
  }
  return out;
}

function emptyFigures(): Figures {
  return { batches: 0, bytes: 0, appendSeconds: 0, latenciesMs: [], readSeconds: 0 };
}

/** Appends to a PartitionLog in steps, so steps can alternate with the raw baseline under the same disk load. */
class LogRunner {
  readonly figures = emptyFigures();
  private constructor(
    private readonly log: PartitionLog,
    private readonly batches: Buffer[],
  ) {}

  static async open(dir: string, policy: FsyncPolicy, batches: Buffer[]): Promise<LogRunner> {
    return new LogRunner(await PartitionLog.open(dir, { fsync: policy, fsyncIntervalMs: FSYNC_INTERVAL_MS, segmentBytes: 512 * 1024 * 1024, retentionMs: -1 }), batches);
  }

  /** Appends until `count` batches or `stepMs` elapsed; returns how many it appended. */
  async step(count: number, stepMs: number): Promise<number> {
    const f = this.figures;
    const t0 = performance.now();
    let n = 0;
    while (n < count) {
      const batch = this.batches[f.batches % this.batches.length];
      const s = performance.now();
      await this.log.append(batch);
      const e = performance.now();
      f.latenciesMs.push(e - s);
      f.batches++;
      f.bytes += batch.length;
      n++;
      if (e - t0 > stepMs) break;
    }
    f.appendSeconds += (performance.now() - t0) / 1000;
    return n;
  }

  async readAllAndClose(): Promise<void> {
    const f = this.figures;
    const r0 = performance.now();
    let offset = 0;
    let readBytes = 0;
    while (offset < this.log.highWatermark) {
      const { records } = await this.log.read(offset, 1024 * 1024);
      readBytes += records.length;
      // Walk the batch headers to the last batch's lastOffset (baseOffset low word + lastOffsetDelta).
      let p = 0;
      let last = offset;
      while (p < records.length) {
        last = records.readInt32BE(p + 4) + records.readInt32BE(p + 23);
        p += records.readInt32BE(p + 8) + 12;
      }
      offset = last + 1;
    }
    f.readSeconds = (performance.now() - r0) / 1000;
    if (readBytes !== f.bytes) throw new Error(`read ${readBytes} of ${f.bytes} bytes`);
    await this.log.close();
  }
}

function writeAt(fd: number, buf: Buffer, position: number): Promise<number> {
  return new Promise((resolve, reject) => fs.write(fd, buf, 0, buf.length, position, (err, n) => (err ? reject(err) : resolve(n))));
}
function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}
function readAt(fd: number, buf: Buffer, position: number): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buf, 0, buf.length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

/** The disk's limit for the same work: same batches, same write and fsync cadence, no broker code. */
class RawRunner {
  readonly figures = emptyFigures();
  private lastSync = performance.now();
  private constructor(
    private readonly fd: number,
    private readonly policy: FsyncPolicy,
    private readonly batches: Buffer[],
  ) {}

  static open(dir: string, policy: FsyncPolicy, batches: Buffer[]): RawRunner {
    return new RawRunner(fs.openSync(path.join(dir, 'raw.dat'), fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644), policy, batches);
  }

  async step(count: number): Promise<void> {
    const f = this.figures;
    const t0 = performance.now();
    for (let n = 0; n < count; n++) {
      const batch = this.batches[f.batches % this.batches.length];
      const s = performance.now();
      await writeAt(this.fd, batch, f.bytes);
      if (this.policy === 'always') await fdatasync(this.fd);
      else if (this.policy === 'interval' && s - this.lastSync >= FSYNC_INTERVAL_MS) {
        await fdatasync(this.fd);
        this.lastSync = performance.now();
      }
      f.latenciesMs.push(performance.now() - s);
      f.batches++;
      f.bytes += batch.length;
    }
    f.appendSeconds += (performance.now() - t0) / 1000;
  }

  async readAllAndClose(): Promise<void> {
    const r0 = performance.now();
    const chunk = Buffer.allocUnsafe(1024 * 1024);
    for (let pos = 0; pos < this.figures.bytes; ) pos += await readAt(this.fd, chunk, pos);
    this.figures.readSeconds = (performance.now() - r0) / 1000;
    fs.closeSync(this.fd);
  }
}

/** Alternates steps of ours and raw (same batch count each) until the byte or time budget is spent. */
async function benchCase(root: string, policy: FsyncPolicy, batchSize: number, byteBudget: number, timeBudgetMs: number): Promise<{ ours: Figures; raw: Figures }> {
  const batches = makeBatches(batchSize, batchSize === 1 ? 64 : 4);
  const maxBatches = Math.max(1, Math.floor(byteBudget / batches[0].length));
  const dir = await fs.promises.mkdtemp(path.join(root, `${policy}-${batchSize}-`));
  const ours = await LogRunner.open(path.join(dir, 'log'), policy, batches);
  const raw = RawRunner.open(dir, policy, batches);
  const t0 = performance.now();
  while (ours.figures.batches < maxBatches && performance.now() - t0 < timeBudgetMs) {
    const n = await ours.step(maxBatches - ours.figures.batches, 200);
    await raw.step(n);
  }
  await ours.readAllAndClose();
  await raw.readAllAndClose();
  await fs.promises.rm(dir, { recursive: true, force: true });
  return { ours: ours.figures, raw: raw.figures };
}

function fmt(n: number, digits = 1): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits);
}

export async function run(args: string[] = []): Promise<void> {
  const quick = args.includes('--quick');
  const byteBudget = (quick ? 32 : 128) * 1024 * 1024;
  // Each case runs ours and raw alternately, so a case takes about twice this.
  const timeBudgetMs = quick ? 1500 : 5000;
  const root = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'trib-bench-storage-'));
  console.log(`# storage bench — Node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, dir ${root}`);
  console.log(`# 1 KiB records; one producer awaiting each append; raw = fs.write (+ fdatasync per policy) of the same batches`);
  console.log('');
  const header = ['fsync', 'batch', 'records/s', 'MB/s', 'raw MB/s', 'ratio', 'p99 ms', 'raw p99 ms', 'read MB/s', 'raw read MB/s', 'read ratio'];
  const rows: string[][] = [];
  try {
    for (const policy of POLICIES) {
      for (const batchSize of BATCH_SIZES) {
        const { ours, raw } = await benchCase(root, policy, batchSize, byteBudget, timeBudgetMs);
        const mbps = ours.bytes / ours.appendSeconds / 1e6;
        const rawMbps = raw.bytes / raw.appendSeconds / 1e6;
        const readMbps = ours.bytes / ours.readSeconds / 1e6;
        const rawReadMbps = raw.bytes / raw.readSeconds / 1e6;
        const row = [
          policy,
          String(batchSize),
          fmt((ours.batches * batchSize) / ours.appendSeconds),
          fmt(mbps),
          fmt(rawMbps),
          (mbps / rawMbps).toFixed(2),
          p99(ours.latenciesMs).toFixed(2),
          p99(raw.latenciesMs).toFixed(2),
          fmt(readMbps),
          fmt(rawReadMbps),
          (readMbps / rawReadMbps).toFixed(2),
        ];
        rows.push(row);
        console.log(row.join('\t'));
      }
    }
  } finally {
    await fs.promises.rm(root, { recursive: true, force: true });
  }
  console.log('');
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padStart(widths[i])).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}
