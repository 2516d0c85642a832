/**
 * Transaction index snapshots under kill -9: a child runs transactions (commit and abort), writing index
 * snapshots every few ms, and is SIGKILLed at random moments; after each kill the parent reopens the broker from
 * the child's last snapshot, checks the index against a full scan of the log and what committed reads show, and
 * closes cleanly (writing a snapshot of its own the next child starts from).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Broker } from '../../../src/core/broker.js';
import { logDirectory, logName } from '../../../src/core/log-factory.js';
import { PartitionTxnIndex } from '../../../src/core/transactions/partition-txn-index.js';
import { TXN_INDEX_SNAPSHOT_FILE, decodeTxnIndexSnapshot } from '../../../src/core/transactions/txn-index-snapshot.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'txn-index-child.js');
const ITERATIONS = 6;

function runChild(dir: string, start: number, killAfterLines: number): Promise<{ committed: number[]; aborted: number[]; next: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, dir, String(start)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const committed: number[] = [];
    const aborted: number[] = [];
    let next = start;
    let lines = 0;
    let buffered = '';
    const kill = (): void => void proc.kill('SIGKILL');
    const limit = setTimeout(kill, 10_000);
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const [kind, value] = buffered.slice(0, nl).split(' ');
        buffered = buffered.slice(nl + 1);
        if (kind === 'C') committed.push(Number(value));
        if (kind === 'A') aborted.push(Number(value));
        if (kind === 'O') next = Number(value) + 1;
        if (++lines === killAfterLines) kill();
      }
    });
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      clearTimeout(limit);
      if (signal !== 'SIGKILL') reject(new Error(`child exited with ${code ?? signal} before the kill`));
      else resolve({ committed, aborted, next });
    });
  });
}

function comparable(txns: { ongoing: Map<number, number>; aborted: Array<{ producerId: number; firstOffset: number; lastOffset: number }> }) {
  return { ongoing: [...txns.ongoing].sort((a, b) => a[0] - b[0]), aborted: txns.aborted.map((a) => ({ ...a })) };
}

test('after kill -9 the index from the last snapshot plus the log tail equals a full scan, and committed reads agree', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trib-txn-kill-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const committed = new Set<number>();
  const aborted = new Set<number>();
  let next = 0;
  let fromSnapshot = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const run = await runChild(dir, next, 8 + Math.floor(Math.random() * 60));
    for (const n of run.committed) committed.add(n);
    for (const n of run.aborted) aborted.add(n);
    next = run.next + 1;

    const broker = await Broker.open({ dataDir: dir, fsync: 'always', fsyncIntervalMs: 1000, transactions: { checkIntervalMs: 0 } });
    try {
      const stream = broker.requireStream('ledger');
      const file = path.join(logDirectory(dir, logName('ledger', 0)), TXN_INDEX_SNAPSHOT_FILE);
      const snapshot = decodeTxnIndexSnapshot(await readFile(file).catch(() => Buffer.alloc(0)));
      const reads: number[] = [];
      const read = stream.read.bind(stream);
      stream.read = (partition, offset, maxBytes) => {
        reads.push(offset);
        return read(partition, offset, maxBytes);
      };
      const index = comparable(await broker.transactions.index.partition(stream, 0));
      if (snapshot !== null) {
        fromSnapshot++;
        assert.ok(reads.every((o) => o >= snapshot.offset), `iteration ${i}: scan from ${reads[0]}, snapshot at ${snapshot.offset}`);
      }
      stream.read = read;
      assert.deepEqual(index, comparable(await new PartitionTxnIndex().partition(stream, 0)), `iteration ${i}: index differs from a full scan`);

      // Committed reads: every acknowledged commit is visible, no acknowledged abort ever is.
      const visible = new Set<string>();
      for (let offset = stream.offsets(0).startOffset; ; ) {
        const page = await stream.readMessages(0, offset, 1 << 20);
        if (page.length === 0) break;
        for (const m of page) visible.add(m.message.value!.toString());
        offset = page[page.length - 1].offset + 1;
      }
      for (const n of committed) assert.ok(visible.has(String(n)), `iteration ${i}: committed ${n} not visible`);
      for (const n of aborted) assert.ok(!visible.has(String(n)), `iteration ${i}: aborted ${n} visible`);
    } finally {
      await broker.close();
    }
  }
  assert.ok(fromSnapshot >= ITERATIONS - 1, `restarts from a snapshot: ${fromSnapshot}`);
});
