import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker, type DeliveryTarget } from '../../../src/core/broker.js';
import { ANONYMOUS } from '../../../src/core/principal.js';
import type { Delivery } from '../../../src/core/cursor/cursor-state.js';
import { ATTR_TRANSACTIONAL, encodeRecordBatch } from '../../../src/storage/record-batch.js';

/** Resolves when `n` deliveries have arrived (10 s bound). */
function sink(): DeliveryTarget & { got: string[]; until(n: number): Promise<void> } {
  const waiters: Array<() => void> = [];
  const s = {
    got: [] as string[],
    deliver(d: Delivery) {
      s.got.push(d.record.value!.toString());
      for (const w of waiters.splice(0)) w();
    },
    async until(n: number) {
      const deadline = Date.now() + 10_000;
      while (s.got.length < n) {
        if (Date.now() > deadline) throw new Error(`only ${s.got.length} of ${n} deliveries: ${s.got.join(',')}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200).unref();
        });
      }
    },
  };
  return s;
}

test('a cursor reads a transactionally written stream read_committed: open transactions wait, aborted records and markers are skipped', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'trib-txn-view-'));
  const broker = await Broker.open({ dataDir: dir, fsync: 'always', fsyncIntervalMs: 1000, transactions: { checkIntervalMs: 0 } });
  t.after(async () => {
    await broker.close();
    await rm(dir, { recursive: true, force: true });
  });
  const stream = (await broker.createStream(ANONYMOUS, { name: 'kt', partitions: 1 }))!;
  const tc = broker.transactions;
  const { producerId: pid } = await tc.initProducerId('view', 60_000);
  let seq = 0;
  const produceTxn = async (value: string) => {
    const index = await tc.index.partition(stream, 0);
    const opened = index.begin(pid, stream.offsets(0).endOffset);
    const r = await stream.appendBatch(0, encodeRecordBatch([{ value: Buffer.from(value) }], { attributes: ATTR_TRANSACTIONAL, producerId: pid, producerEpoch: 0, baseSequence: seq++ }));
    if (opened) index.settleFirst(pid, r.baseOffset);
  };
  const plain = (value: string) => stream.appendBatch(0, encodeRecordBatch([{ value: Buffer.from(value) }]));

  await plain('p0');
  assert.equal(await tc.addPartitions('view', pid, 0, [{ topic: 'kt', partition: 0 }]), 'NONE');
  await produceTxn('aborted');
  assert.equal(await tc.endTxn('view', pid, 0, false), 'NONE');
  await plain('p1');
  assert.equal(await tc.addPartitions('view', pid, 0, [{ topic: 'kt', partition: 0 }]), 'NONE');
  await produceTxn('t1');
  await plain('p2'); // after the open transaction: waits with it (read_committed order)

  const cursor = await broker.createCursor(ANONYMOUS, { stream: 'kt', name: 'reader' });
  const s = sink();
  cursor.attach({ id: 'c', prefetchCount: 100, context: s });
  await s.until(2);
  assert.deepEqual(s.got, ['p0', 'p1']);

  assert.equal(await tc.endTxn('view', pid, 0, true), 'NONE');
  await s.until(4);
  assert.deepEqual(s.got, ['p0', 'p1', 't1', 'p2']);
  await plain('p3');
  await s.until(5);
  assert.deepEqual(s.got, ['p0', 'p1', 't1', 'p2', 'p3']);
});
