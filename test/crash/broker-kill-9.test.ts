/**
 * Broker kill -9 loop: a child publishes and acknowledges through the core (stream `jobs`, cursor `workers`,
 * fsync always) and is SIGKILLed at random moments. After each kill the parent reopens the broker and checks
 * the two promises the core makes: every publish that resolved is stored exactly once and in order, and no
 * record whose ack resolved is ever delivered again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Broker } from '../../src/core/broker.js';
import type { Delivery } from '../../src/core/cursor/cursor-state.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'broker-child.js');
const ITERATIONS = 8;

function runChild(dir: string, start: number, killAfterLines: number): Promise<{ published: number[]; acked: number[] }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, dir, String(start)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const published: number[] = [];
    const acked: number[] = [];
    let lines = 0;
    let buffered = '';
    const kill = (): void => void proc.kill('SIGKILL');
    const limit = setTimeout(kill, 5_000);
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith('P ')) published.push(Number(line.slice(2)));
        else if (line.startsWith('A ')) acked.push(Number(line.slice(2)));
        if (++lines >= killAfterLines) kill();
      }
    });
    proc.on('error', reject);
    proc.on('exit', () => {
      clearTimeout(limit);
      resolve({ published, acked });
    });
  });
}

test('published and acknowledged messages survive kill -9 of the broker: stored once, never redelivered once acked', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trib-broker-crash-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const allPublished: number[] = [];
  const allAcked = new Set<number>();
  let next = 0;
  let redelivered = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const { published, acked } = await runChild(dir, next, 40 + Math.floor(Math.random() * 400));
    allPublished.push(...published);
    for (const a of acked) allAcked.add(a);
    next = Math.max(next, ...published.map((n) => n + 1)) + 1000; // never reuse a number a lost publish may have had

    const broker = await Broker.open({ dataDir: dir, fsync: 'always', fsyncIntervalMs: 1000 });
    try {
      const stream = broker.requireStream('jobs');
      const { startOffset, highWatermark } = stream.offsets(0);
      // Read what retention left (it may trim acked records) and check order and uniqueness of the values.
      const values: number[] = [];
      for (let offset = startOffset; offset < highWatermark; ) {
        const msgs = await stream.readMessages(0, offset, 1 << 20);
        for (const m of msgs) if (m.offset >= offset) values.push(Number(m.message.value!.toString()));
        offset = msgs[msgs.length - 1].offset + 1;
      }
      assert.equal(new Set(values).size, values.length, 'no message is stored twice');
      for (let k = 1; k < values.length; k++) assert.ok(values[k] > values[k - 1], 'stored in publish order');
      const stored = new Set(values);
      const firstKept = values.length > 0 ? values[0] : Infinity;
      for (const n of allPublished) {
        // Anything before the first kept record was trimmed by workqueue retention, which only happens once acked.
        if (n >= firstKept) assert.ok(stored.has(n), `acknowledged publish ${n} is stored`);
      }
      // Redelivery after the crash: nothing acked comes back.
      const cursor = broker.cursor('jobs', 'workers')!;
      const seen: Delivery[] = [];
      cursor.attach({ id: 'checker', prefetchCount: 0, context: { deliver: (d: Delivery) => void seen.push(d) } });
      // Wait (bounded) until everything unsettled has been handed to the checker.
      const deadline = Date.now() + 5_000;
      while (cursor.backlog(0) !== cursor.inFlightCount) {
        assert.ok(Date.now() < deadline, 'the cursor delivers its backlog');
        await new Promise<void>((resolve) => setTimeout(resolve, 5));
      }
      redelivered += seen.length;
      for (const d of seen) assert.ok(!allAcked.has(d.offset), `acked offset ${d.offset} was redelivered`);
      cursor.detach('checker');
    } finally {
      await broker.close();
    }
  }
  assert.ok(allPublished.length > 0 && allAcked.size > 0, 'the child made progress');
  assert.ok(redelivered > 0, 'unacked records were redelivered after the crashes');
});
