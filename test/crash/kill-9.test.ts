/**
 * kill -9 loop: a child appends with fsync always and prints each acknowledged record; the parent kills it at
 * a random moment, reopens the log and checks that every acknowledged record is there exactly once, in
 * order, that offsets are contiguous, and that nothing half-written is visible. The same directory is used
 * across iterations, so recovery runs on logs that were already recovered before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { iterateBatches, validateBatch } from '../../src/storage/record-batch.js';
import { readAll, recordingLogger, tempDir, withTimeout } from '../storage/temp-log.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'append-child.js');
const ITERATIONS = 25;

interface Ack {
  offset: number;
  value: number;
  count: number;
}

/** Runs the child until it has printed `killAfter` acks (or a time limit), then SIGKILLs it. */
function runChild(dir: string, start: number, killAfter: number): Promise<Ack[]> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, dir, String(start)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acks: Ack[] = [];
    let buffered = '';
    let killed = false;
    const kill = (): void => {
      if (!killed) {
        killed = true;
        proc.kill('SIGKILL');
      }
    };
    const limit = setTimeout(kill, 3_000);
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line === 'ready') continue;
        const [offset, value, count] = line.split(' ').map(Number);
        acks.push({ offset, value, count });
        if (acks.length >= killAfter) kill();
      }
    });
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      clearTimeout(limit);
      if (signal !== 'SIGKILL') reject(new Error(`child exited by itself: code ${code} signal ${signal}`));
      // Only complete lines count: a partial line was never fully acknowledged to us.
      else resolve(acks);
    });
  });
}

test('an acknowledged record survives kill -9, exactly once and in order', async (t) => {
  const dir = await tempDir(t, 'trib-kill9-');
  const acked = new Map<number, Ack>(); // value -> ack
  let next = 0;
  let warnings = 0;
  for (let iteration = 0; iteration < ITERATIONS; iteration++) {
    const killAfter = 1 + Math.floor(Math.random() * 60);
    const acks = await withTimeout(runChild(dir, next, killAfter), 10_000, `child iteration ${iteration}`);
    for (const a of acks) acked.set(a.value, a);

    const logger = recordingLogger();
    const log = await PartitionLog.open(dir, { fsync: 'always', segmentBytes: 16 * 1024, indexIntervalBytes: 512 }, { logger });
    warnings += logger.warnings.length;
    try {
      // Nothing half-written: every segment file is whole, valid batches, end to end.
      for (const name of (await fs.promises.readdir(dir)).filter((n) => n.endsWith('.log')).sort()) {
        const bytes = await fs.promises.readFile(path.join(dir, name));
        let end = 0;
        for (const { position, size } of iterateBatches(bytes)) {
          validateBatch(bytes.subarray(position, position + size));
          end = position + size;
        }
        assert.equal(end, bytes.length, `${name} ends with a partial batch`);
      }
      const records = await readAll(log, 0, 4096);
      // Contiguous offsets from 0.
      records.forEach((r, i) => assert.equal(r.offset, i));
      assert.equal(log.endOffset, records.length);
      // Each value appears once, as whole batches, in increasing order.
      const offsetOf = new Map<number, number>();
      let lastValue = -1;
      for (const r of records) {
        const [v, part] = r.value!.toString().split(':').map(Number);
        if (part === 0) {
          assert.ok(!offsetOf.has(v), `value ${v} stored twice`);
          offsetOf.set(v, r.offset);
        }
        assert.ok(v >= lastValue, `value ${v} after ${lastValue}: out of order`);
        lastValue = v;
      }
      for (const a of acked.values()) {
        assert.equal(offsetOf.get(a.value), a.offset, `acknowledged value ${a.value} at offset ${a.offset} is missing or moved`);
        for (let p = 0; p < a.count; p++) assert.equal(records[a.offset + p].value!.toString().split(':')[0], String(a.value));
      }
      next = lastValue + 1;
    } finally {
      await log.close();
    }
  }
  assert.ok(acked.size > ITERATIONS, `only ${acked.size} acknowledged records`);
  t.diagnostic(`${acked.size} acknowledged records over ${ITERATIONS} kills; ${warnings} torn tails truncated`);
});
