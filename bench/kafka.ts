/**
 * Kafka end-to-end benchmark: the real `tributary serve` binary as a child process (fresh temp data dir,
 * --fsync always), driven over loopback by librdkafka (kcat) and kafkajs. 1 KiB records, acks=all.
 *
 * - produce, librdkafka: `kcat -P -l <file of N lines>` with acks=all, linger.ms=5, timed from spawn to exit
 *   (kcat exits once every message is acknowledged), minus the time of a one-message kcat run (process start,
 *   metadata). One untimed run of min(N, 10000) records to another topic first warms the broker's JIT (a cold
 *   run of half a second is mostly compilation); then PRODUCE_ROUNDS timed runs, of which the median is
 *   reported with the spread. The ratio compares it to the storage engine's raw append measured in the same run: a
 *   PartitionLog in this process, fsync always, appending the same 1 KiB records in batches of the size the
 *   Kafka path actually stored (read back from the log), one awaited append after another, measured before and
 *   after the Kafka runs and averaged, because this disk's speed drifts. Target: ≥ 0.7.
 * - produce, kafkajs: sends of BATCH records, a few in flight at once.
 * - consume: kcat -C -e from the beginning, and a kafkajs consumer, reading all N records.
 * - latency: a kafkajs producer at a fixed rate (1000 records/s for 5 s, send time in the payload), a kafkajs
 *   consumer (maxWaitTimeInMs 100) measuring receive − send; p50/p99.
 * The broker's CPU seconds (from /proc) per phase are printed, to tell broker cost from client cost.
 *
 * Usage: node dist/bench/run.js kafka [--quick] [--messages N]
 * To profile the broker, run it by hand (Node 20 refuses --cpu-prof in NODE_OPTIONS, so it cannot be passed
 * through the child's environment): `node --cpu-prof --cpu-prof-dir=prof dist/src/cli/main.js serve --fsync
 * always ...`, drive it with the kcat command printed here, stop it with SIGTERM (the profile is written at exit).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { PartitionLog } from '../src/storage/partition-log.js';
import { encodeRecordBatch, batchSizeAt, readBatchHeader } from '../src/storage/record-batch.js';
import { EPHEMERAL, serveProcess, type Tributary } from '../test/support/tributary-process.js';

const RECORD_BYTES = 1024;
/** Timed kcat produce runs; the median is reported. */
const PRODUCE_ROUNDS = 3;
const TOPIC = 'bench';
const KCAT = process.env.KCAT ?? 'kcat';

interface Options {
  messages: number;
  latencySeconds: number;
  latencyRate: number;
}

function parseArgs(args: string[]): Options {
  const quick = args.includes('--quick');
  const at = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  return {
    messages: Number(at('--messages') ?? (quick ? 10_000 : 50_000)),
    latencySeconds: quick ? 2 : 5,
    latencyRate: 1000,
  };
}

function kcatAvailable(): boolean {
  try {
    execFileSync(KCAT, ['-V'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/** Runs kcat to completion; resolves with its wall time in seconds. */
async function timeKcat(args: string[]): Promise<number> {
  const t0 = performance.now();
  const child = spawn(KCAT, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  if (code !== 0) throw new Error(`kcat ${args.join(' ')} exited ${code}: ${stderr}`);
  return (performance.now() - t0) / 1000;
}

/** One 1 KiB line per message (1023 characters + newline), each a little different so compression is moot. */
function writeMessageFile(file: string, count: number): void {
  const fd = fs.openSync(file, 'w');
  const line = Buffer.alloc(RECORD_BYTES, 'x');
  line[RECORD_BYTES - 1] = 0x0a;
  const chunk: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const l = Buffer.from(line);
    l.write(String(i).padStart(10, '0'), 0, 'latin1');
    chunk.push(l);
    if (chunk.length === 1000) fs.writeSync(fd, Buffer.concat(chunk.splice(0)));
  }
  if (chunk.length > 0) fs.writeSync(fd, Buffer.concat(chunk));
  fs.closeSync(fd);
}

/** Records per stored batch in the topic's partition 0, from the broker's own files via a fresh read. */
async function storedBatchStats(dataDir: string, partitionDir: string): Promise<{ batches: number; records: number }> {
  const dir = path.join(dataDir, partitionDir);
  let batches = 0;
  let records = 0;
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.log'))) {
    const buf = fs.readFileSync(path.join(dir, name));
    for (let pos = 0; pos + 61 <= buf.length; pos += batchSizeAt(buf, pos)) {
      batches++;
      records += readBatchHeader(buf, pos).recordsCount;
    }
  }
  return { batches, records };
}

function findPartitionDir(dataDir: string, topic: string): string {
  // The layout belongs to storage; find the directory whose segment files hold this topic's partition 0.
  const stack = [''];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    for (const e of fs.readdirSync(path.join(dataDir, rel), { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const child = path.join(rel, e.name);
      if (child.includes(topic) && fs.readdirSync(path.join(dataDir, child)).some((n) => n.endsWith('.log'))) return child;
      stack.push(child);
    }
  }
  throw new Error(`no partition directory for ${topic} under ${dataDir}`);
}

/** The storage engine alone: awaited PartitionLog appends of `batchRecords` 1 KiB records, fsync always. */
async function rawAppend(root: string, batchRecords: number, totalBytes: number, timeBudgetMs: number): Promise<{ mbps: number; recordsPerSecond: number }> {
  const dir = await fs.promises.mkdtemp(path.join(root, 'raw-'));
  const log = await PartitionLog.open(dir, { fsync: 'always', fsyncIntervalMs: 1000, segmentBytes: 1024 * 1024 * 1024, retentionMs: -1 });
  const pool: Buffer[] = [];
  for (let b = 0; b < 4; b++) {
    const records = [];
    for (let i = 0; i < batchRecords; i++) records.push({ value: Buffer.alloc(RECORD_BYTES - 1, (b + i) & 0xff), timestamp: Date.now() });
    pool.push(encodeRecordBatch(records));
  }
  let bytes = 0;
  let records = 0;
  let n = 0;
  const t0 = performance.now();
  while (bytes < totalBytes && performance.now() - t0 < timeBudgetMs) {
    const batch = pool[n++ % pool.length]!;
    await log.append(batch);
    bytes += batch.length;
    records += batchRecords;
  }
  const seconds = (performance.now() - t0) / 1000;
  await log.close();
  await fs.promises.rm(dir, { recursive: true, force: true });
  return { mbps: bytes / seconds / 1e6, recordsPerSecond: records / seconds };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function kafkajsProduce(kafka: Kafka, count: number, batch: number, inFlight: number): Promise<number> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const value = Buffer.alloc(RECORD_BYTES - 1, 'y');
  const messages = Array.from({ length: batch }, () => ({ value }));
  let sent = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (sent < count) {
      sent += batch;
      await producer.send({ topic: TOPIC, acks: -1, messages });
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - t0) / 1000;
  await producer.disconnect();
  return sent / seconds;
}

async function kafkajsConsume(kafka: Kafka, count: number): Promise<number> {
  const consumer = kafka.consumer({ groupId: `bench-${Date.now()}`, maxWaitTimeInMs: 100, maxBytesPerPartition: 8 * 1024 * 1024, maxBytes: 16 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  let got = 0;
  let t0 = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      if (t0 === 0) t0 = performance.now();
      got += batch.messages.length;
      if (got >= count) resolveDone();
    },
  });
  const start = performance.now();
  await done;
  const seconds = (performance.now() - start) / 1000;
  await consumer.disconnect();
  return count / seconds;
}

async function latency(kafka: Kafka, rate: number, seconds: number): Promise<{ p50: number; p99: number; max: number; count: number }> {
  const topic = 'latency';
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: 'latency', maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const samples: number[] = [];
  const total = rate * seconds;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  let resolveJoined!: () => void;
  const joined = new Promise<void>((r) => (resolveJoined = r));
  consumer.on(consumer.events.GROUP_JOIN, () => resolveJoined());
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const now = performance.timeOrigin + performance.now();
      for (const m of batch.messages) samples.push(now - Number(m.value!.subarray(0, 20).toString('latin1')));
      if (samples.length >= total) resolveDone();
    },
  });
  await joined;
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  // Every 10 ms, the records due by now (rate/100 per tick on average), each carrying its send time.
  const pad = Buffer.alloc(RECORD_BYTES - 20, 'z');
  const t0 = performance.now();
  let sent = 0;
  const pending: Promise<unknown>[] = [];
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
    if (due > sent) {
      const now = String(performance.timeOrigin + performance.now()).padEnd(20, ' ').slice(0, 20);
      const messages = Array.from({ length: due - sent }, () => ({ value: Buffer.concat([Buffer.from(now, 'latin1'), pad]) }));
      sent = due;
      pending.push(producer.send({ topic, acks: -1, messages }));
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await Promise.all(pending);
  const timer = setTimeout(() => resolveDone(), 30_000);
  await done;
  clearTimeout(timer);
  await producer.disconnect();
  await consumer.disconnect();
  const sorted = Float64Array.from(samples).sort();
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted[sorted.length - 1] ?? NaN, count: samples.length };
}

function fmt(n: number, digits = 1): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits);
}

export async function run(args: string[] = []): Promise<void> {
  const o = parseArgs(args);
  const root = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'trib-bench-kafka-'));
  const dataDir = path.join(root, 'data');
  console.log(`# kafka bench — Node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, ${o.messages} x 1 KiB, acks=all, broker --fsync always, dir ${root}`);
  const hasKcat = kcatAvailable();
  if (!hasKcat) console.log(`# kcat not found ("${KCAT}"): the librdkafka rows are skipped (apt-get install kcat)`);
  const broker: Tributary = serveProcess(root, ['--data-dir', dataDir, '--fsync', 'always', '--kafka-auto-create', 'false', ...EPHEMERAL]);
  const rows: Array<[string, string]> = [];
  const row = (name: string, value: string): void => {
    rows.push([name, value]);
    console.log(`${name}\t${value}`);
  };
  try {
    const { kafka: port } = await broker.ports();
    const bootstrap = `127.0.0.1:${port}`;
    const kafka = new Kafka({ clientId: 'bench', brokers: [bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }, { topic: 'warmup', numPartitions: 1 }] });
    await admin.disconnect();

    const cpu = (): number => broker.cpuSeconds();
    let rawBefore: { mbps: number; recordsPerSecond: number } | null = null;
    let kcatProduce: { rps: number; mbps: number; batchRecords: number; cpu: number; runs: number[] } | null = null;
    /** Records in TOPIC so far (the consumers read them all). */
    let produced = 0;

    if (hasKcat) {
      const file = path.join(root, 'messages.txt');
      writeMessageFile(file, o.messages);
      const common = ['-b', bootstrap, '-q', '-X', 'acks=all', '-X', 'linger.ms=5', '-X', 'batch.num.messages=10000', '-X', 'queue.buffering.max.kbytes=2097151'];
      // A one-message run to the warm-up topic: process start, connection, metadata; subtracted below.
      writeMessageFile(path.join(root, 'one.txt'), 1);
      const startup = await timeKcat([...common, '-P', '-t', 'warmup', '-p', '0', '-l', path.join(root, 'one.txt')]);
      // Raw append first with librdkafka's default batch size of about 1 MB (batch.size), corrected below.
      const guessBatch = Math.floor(1_000_000 / (RECORD_BYTES + 8));
      rawBefore = await rawAppend(root, guessBatch, o.messages * RECORD_BYTES, 4000);
      const warmFile = path.join(root, 'warm.txt');
      writeMessageFile(warmFile, Math.min(o.messages, 10_000));
      await timeKcat([...common, '-P', '-t', 'warmup', '-p', '0', '-l', warmFile]);
      const produceArgs = [...common, '-P', '-t', TOPIC, '-p', '0', '-l', file];
      console.log(`# ${KCAT} ${produceArgs.join(' ')}  (x${PRODUCE_ROUNDS})`);
      const c0 = cpu();
      const mbpsRuns: number[] = [];
      for (let round = 0; round < PRODUCE_ROUNDS; round++) {
        const seconds = Math.max(0.001, (await timeKcat(produceArgs)) - startup);
        mbpsRuns.push((o.messages * RECORD_BYTES) / seconds / 1e6);
      }
      const c1 = cpu();
      produced += PRODUCE_ROUNDS * o.messages;
      const stats = await storedBatchStats(dataDir, findPartitionDir(dataDir, TOPIC));
      if (stats.records !== produced) throw new Error(`stored ${stats.records} of ${produced} records`);
      const batchRecords = Math.max(1, Math.round(stats.records / stats.batches));
      const sorted = [...mbpsRuns].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)]!;
      kcatProduce = { rps: (median * 1e6) / RECORD_BYTES, mbps: median, batchRecords, cpu: (c1 - c0) / PRODUCE_ROUNDS, runs: mbpsRuns };
      const rawAfter = await rawAppend(root, batchRecords, o.messages * RECORD_BYTES, 4000);
      const rawAgain = Math.abs(batchRecords - guessBatch) <= guessBatch * 0.05 ? rawBefore : await rawAppend(root, batchRecords, o.messages * RECORD_BYTES, 4000);
      const raw = { mbps: (rawAfter.mbps + rawAgain.mbps) / 2, recordsPerSecond: (rawAfter.recordsPerSecond + rawAgain.recordsPerSecond) / 2 };
      row(`produce librdkafka (kcat -P) records/s, median of ${PRODUCE_ROUNDS} warm runs`, fmt(kcatProduce.rps));
      row('produce librdkafka MB/s', fmt(kcatProduce.mbps));
      row('  MB/s of each run', kcatProduce.runs.map((m) => fmt(m)).join(' / '));
      row('  stored batches: records per batch', String(batchRecords));
      row('  kcat start-up subtracted, s', startup.toFixed(3));
      row('  broker CPU s per 100 MB', fmt((kcatProduce.cpu / (o.messages * RECORD_BYTES)) * 1e8, 2));
      // What the broker would reach if its CPU were the only limit: tells waiting (fsync, scheduling, one
      // request at a time per connection) from work.
      row('  broker CPU-bound ceiling MB/s (bytes / broker CPU s)', fmt((o.messages * RECORD_BYTES) / Math.max(0.001, kcatProduce.cpu) / 1e6));
      row('raw PartitionLog append MB/s (same batches, fsync always)', fmt(raw.mbps));
      row('ratio kafka-path / raw-append (target >= 0.7)', (kcatProduce.mbps / raw.mbps).toFixed(2));

      const cc0 = cpu();
      const consumeSeconds = await timeKcat(['-b', bootstrap, '-q', '-C', '-t', TOPIC, '-p', '0', '-o', 'beginning', '-e', '-f', '%o\n', '-X', 'fetch.wait.max.ms=50']);
      const cc1 = cpu();
      row('consume librdkafka (kcat -C -e) records/s', fmt(produced / Math.max(0.001, consumeSeconds - startup)));
      row('  broker CPU s per 100 MB', fmt(((cc1 - cc0) / (produced * RECORD_BYTES)) * 1e8, 2));
    }

    const jsCount = Math.min(o.messages, 20_000);
    const kc0 = cpu();
    const jsRps = await kafkajsProduce(kafka, jsCount, 500, 4);
    const kc1 = cpu();
    row('produce kafkajs (sends of 500, 4 in flight) records/s', fmt(jsRps));
    row('  MB/s', fmt((jsRps * RECORD_BYTES) / 1e6));
    row('  broker CPU s per 100 MB', fmt(((kc1 - kc0) / (jsCount * RECORD_BYTES)) * 1e8, 2));
    const total = produced + Math.ceil(jsCount / 500) * 500;
    const jsConsume = await kafkajsConsume(kafka, total);
    row('consume kafkajs records/s', fmt(jsConsume));

    const lat = await latency(kafka, o.latencyRate, o.latencySeconds);
    row(`end-to-end latency at ${o.latencyRate}/s for ${o.latencySeconds} s (kafkajs → kafkajs) p50 ms`, lat.p50.toFixed(2));
    row('  p99 ms', lat.p99.toFixed(2));
    row('  max ms', lat.max.toFixed(2));
    if (lat.count < o.latencyRate * o.latencySeconds) row('  WARNING: samples', `${lat.count} of ${o.latencyRate * o.latencySeconds}`);
    if (kcatProduce === null) row('ratio kafka-path / raw-append', 'n/a (needs kcat)');
  } finally {
    broker.kill('SIGTERM');
    await broker.waitForExit().catch(() => broker.kill('SIGKILL'));
    await fs.promises.rm(root, { recursive: true, force: true });
  }
  console.log('');
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`| ${'measure'.padEnd(w)} | value |`);
  console.log(`|${'-'.repeat(w + 2)}|-------|`);
  for (const [k, v] of rows) console.log(`| ${k.padEnd(w)} | ${v} |`);
}
