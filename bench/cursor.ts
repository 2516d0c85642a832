/**
 * Cursor benchmark: deliver + ack throughput through a Cursor over a MemoryLog with one consumer at prefetch
 * 100 and 1000, without and with persistence (CursorStore on a second MemoryLog), against the raw MemoryLog
 * read + decode throughput of the same records measured in the same run (the baseline: the cursor cannot be
 * faster than reading and decoding what it delivers).
 *
 * Method: 200 000 records of 100 bytes in batches of 100. The consumer behaves like a client: deliveries are
 * collected and acked together once per tick (setImmediate), each ack individually (not ackUpTo). A run ends
 * when the ack floor reaches the end of the log. Each case runs three times alternating with the baseline;
 * the best of three is reported, and the ratio is cursor / baseline.
 *
 * Usage: node -e "import('./dist/bench/cursor.js').then((m) => m.run())"   (after npm run build)
 */
import { performance } from 'node:perf_hooks';
import { MemoryLog } from '../src/storage/memory-log.js';
import { decodeRecords, type RecordInput } from '../src/storage/record-batch.js';
import { Cursor } from '../src/core/cursor/cursor.js';
import { CursorStore } from '../src/core/cursor/cursor-store.js';
import type { Delivery } from '../src/core/cursor/cursor-state.js';

const RECORDS = 200_000;
const BATCH = 100;
const VALUE_BYTES = 100;
const ROUNDS = 3;

async function makeLog(): Promise<MemoryLog> {
  const log = new MemoryLog({ maxMessageBytes: 16 * 1024 * 1024 });
  const value = Buffer.alloc(VALUE_BYTES, 7);
  for (let i = 0; i < RECORDS; i += BATCH) {
    const batch: RecordInput[] = [];
    for (let j = 0; j < BATCH; j++) batch.push({ value, timestamp: 0 });
    await log.appendRecords(batch);
  }
  return log;
}

async function baseline(log: MemoryLog): Promise<number> {
  const t0 = performance.now();
  let offset = 0;
  let n = 0;
  while (offset < log.highWatermark) {
    const { records } = await log.read(offset, 512 * 1024);
    const decoded = decodeRecords(records);
    for (const r of decoded) if (r.offset >= offset) n++;
    offset = decoded[decoded.length - 1].offset + 1;
  }
  if (n !== RECORDS) throw new Error(`baseline read ${n} records`);
  return (performance.now() - t0) / 1000;
}

async function throughCursor(log: MemoryLog, prefetch: number, persist: boolean): Promise<number> {
  const store = persist ? await CursorStore.open(new MemoryLog({ maxMessageBytes: 16 * 1024 * 1024 })) : undefined;
  let pendingAcks: Delivery[] = [];
  let scheduled = false;
  let cursor!: Cursor;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const flushAcks = (): void => {
    scheduled = false;
    const acks = pendingAcks;
    pendingAcks = [];
    for (const d of acks) void cursor.ack(d);
    if (cursor.ackFloor() >= RECORDS) done();
  };
  const t0 = performance.now();
  cursor = await Cursor.open({
    id: 'bench',
    sources: [log],
    store,
    maxReadAheadRecords: Math.max(1000, prefetch * 2),
    deliver: (_c, d) => {
      pendingAcks.push(d);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flushAcks);
      }
    },
  });
  cursor.attach({ id: 'c', prefetchCount: prefetch });
  await finished;
  await cursor.flush();
  const seconds = (performance.now() - t0) / 1000;
  await cursor.close();
  return seconds;
}

export async function run(): Promise<void> {
  const log = await makeLog();
  console.log(`cursor bench: ${RECORDS} records x ${VALUE_BYTES} B, batches of ${BATCH}, node ${process.version}`);
  const cases: Array<{ name: string; prefetch: number; persist: boolean }> = [
    { name: 'cursor prefetch 100', prefetch: 100, persist: false },
    { name: 'cursor prefetch 1000', prefetch: 1000, persist: false },
    { name: 'cursor prefetch 100 + store', prefetch: 100, persist: true },
    { name: 'cursor prefetch 1000 + store', prefetch: 1000, persist: true },
  ];
  let baseBest = Infinity;
  const best = new Map<string, number>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) {
      baseBest = Math.min(baseBest, await baseline(log));
      const s = await throughCursor(log, c.prefetch, c.persist);
      best.set(c.name, Math.min(best.get(c.name) ?? Infinity, s));
    }
  }
  const baseRate = RECORDS / baseBest;
  console.log(`${'case'.padEnd(32)}${'msgs/s'.padStart(14)}${'ratio'.padStart(9)}`);
  console.log(`${'raw read+decode (baseline)'.padEnd(32)}${Math.round(baseRate).toLocaleString('en-US').padStart(14)}${'1.00'.padStart(9)}`);
  for (const c of cases) {
    const rate = RECORDS / best.get(c.name)!;
    console.log(`${c.name.padEnd(32)}${Math.round(rate).toLocaleString('en-US').padStart(14)}${(rate / baseRate).toFixed(2).padStart(9)}`);
  }
}
