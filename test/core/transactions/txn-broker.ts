/**
 * The transaction tests' broker: a file-backed Broker over a temp dir whose transaction coordinator runs on a
 * hand-driven clock with no timer, reopenable over the same dir, removed after the test.
 */
import type { TestContext } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../../src/core/broker.js';
import { ANONYMOUS } from '../../../src/core/principal.js';

export interface TxnBroker {
  dir: string;
  broker: Broker;
  /** The coordinator's clock (ms); tests move it by hand. */
  clock: { now: number };
  /** Closes the broker and opens it again over the same directory with the same options. */
  reopen(): Promise<Broker>;
}

export async function openTxnBroker(
  t: TestContext,
  options: { streams: Record<string, number>; transactionalIdExpirationMs?: number; startMs?: number },
): Promise<TxnBroker> {
  const dir = await mkdtemp(join(tmpdir(), 'trib-txn-'));
  const clock = { now: options.startMs ?? 1_000_000 };
  const brokerOptions = {
    dataDir: dir,
    fsync: 'always' as const,
    fsyncIntervalMs: 1000,
    // No timers: tests drive timeouts, expiry and snapshots themselves.
    transactions: { checkIntervalMs: 0, indexSnapshotIntervalMs: 0, now: () => clock.now, transactionalIdExpirationMs: options.transactionalIdExpirationMs },
  };
  const f: TxnBroker = {
    dir,
    broker: await Broker.open(brokerOptions),
    clock,
    async reopen() {
      await f.broker.close();
      f.broker = await Broker.open(brokerOptions);
      return f.broker;
    },
  };
  t.after(async () => {
    await f.broker.close();
    await rm(dir, { recursive: true, force: true });
  });
  for (const [name, partitions] of Object.entries(options.streams)) await f.broker.createStream(ANONYMOUS, { name, partitions });
  return f;
}
