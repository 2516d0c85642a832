/**
 * The Kafka transaction server options — transaction.max.timeout.ms, the timed-out transaction check interval
 * (transaction.abort.timed.out.transaction.cleanup.interval.ms) and the transaction index snapshot interval —
 * from flags, variables and the file through the resolved config to the broker's coordinator, and their effect
 * through a real server and kafkajs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, stat } from 'node:fs/promises';
import { watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Kafka, logLevel } from 'kafkajs';
import { resolveConfig } from '../../../src/server/config.js';
import { defaultPlugins, startServer } from '../../../src/server/lifecycle.js';
import { brokerOptionsOf } from '../../support/broker-options-of.js';
import { serveCommand } from '../../../src/cli/serve.js';
import { Broker } from '../../../src/core/broker.js';
import { logDirectory, logName } from '../../../src/core/log-factory.js';
import { TXN_INDEX_SNAPSHOT_FILE } from '../../../src/core/transactions/txn-index-snapshot.js';
import { within } from '../../support/within.js';

/** The Kafka error types a kafkajs rejection carries, wrapped or not. */
function errorTypes(err: unknown): string {
  const parts: string[] = [];
  for (let e = err as { type?: string; message?: string; cause?: unknown; originalError?: unknown } | undefined; e !== undefined && e !== null && parts.length < 5; e = (e.cause ?? e.originalError) as typeof e) {
    parts.push(`${e.type ?? ''} ${e.message ?? ''}`);
  }
  return parts.join(' | ');
}

test("serve has the transaction flags, with Kafka's defaults (the check interval excepted)", async (t) => {
  const flags = serveCommand({ version: '0', openBroker: async () => ({ ready: true, close: async () => undefined }) }).options.map((o) => o.long);
  for (const flag of ['--kafka-transaction-max-timeout-ms', '--kafka-transaction-abort-timed-out-transaction-cleanup-interval-ms', '--kafka-txn-index-snapshot-interval-ms']) {
    assert.ok(flags.includes(flag), flag);
  }
  const dir = await mkdtemp(join(tmpdir(), 'trib-txn-opts-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { config } = await resolveConfig({ env: {}, cwd: dir, stdoutIsTTY: false });
  assert.equal(config.kafkaTransactionMaxTimeoutMs, 900_000);
  assert.equal(config.kafkaTransactionAbortTimedOutTransactionCleanupIntervalMs, 1000);
  assert.equal(config.kafkaTxnIndexSnapshotIntervalMs, 60_000);
  await assert.rejects(resolveConfig({ env: {}, cwd: dir, stdoutIsTTY: false, flags: { kafkaTransactionMaxTimeoutMs: '0' } }), /--kafka-transaction-max-timeout-ms/);
  await assert.rejects(resolveConfig({ env: {}, cwd: dir, stdoutIsTTY: false, flags: { kafkaTransactionAbortTimedOutTransactionCleanupIntervalMs: '0' } }), /--kafka-transaction-abort-timed-out-transaction-cleanup-interval-ms/);
});

test('the transaction options reach the broker from a flag, a variable and the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'trib-txn-opts-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'tributary.yaml'), 'kafka:\n  txnIndexSnapshotIntervalMs: 0\n');
  const { config } = await resolveConfig({
    env: { TRIBUTARY_KAFKA_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS: '250' },
    cwd: dir,
    stdoutIsTTY: false,
    flags: { httpPort: '0', kafkaTransactionMaxTimeoutMs: '60000' },
  });
  const seen = await brokerOptionsOf(config);
  assert.deepEqual(seen.transactions, { transactionalIdExpirationMs: 604_800_000, maxTimeoutMs: 60_000, checkIntervalMs: 250, indexSnapshotIntervalMs: 0 });
});

test('through a real server: a timeout above the maximum is refused, timed-out transactions are aborted on the check, index snapshots are written on the interval', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'trib-txn-opts-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { config } = await resolveConfig({
    env: {},
    cwd: dir,
    stdoutIsTTY: false,
    flags: {
      dataDir: join(dir, 'data'),
      kafkaPort: '0',
      kafkaTransactionMaxTimeoutMs: '5000',
      kafkaTransactionAbortTimedOutTransactionCleanupIntervalMs: '50',
      kafkaTxnIndexSnapshotIntervalMs: '100',
    },
  });
  let broker: Broker | null = null;
  const server = await startServer({
    config,
    version: '0',
    logger: pino({ level: 'silent' }),
    plugins: defaultPlugins().filter((p) => p.name === 'kafka'),
    openBroker: async (options) => (broker = await Broker.open(options)),
  });
  const clients: Array<{ disconnect(): Promise<void> }> = [];
  t.after(async () => {
    for (const c of clients) await c.disconnect().catch(() => undefined);
    await server.stop();
  });
  assert.ok(broker !== null);
  const b: Broker = broker;
  assert.equal(b.transactions.maxTimeoutMs, 5000);
  assert.equal(b.transactions.checkIntervalMs, 50);
  assert.equal(b.transactions.indexSnapshotIntervalMs, 100);
  const port = server.addresses.get('kafka')![0].port;
  const kafka = new Kafka({ clientId: 'opts', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 50, maxRetryTime: 200 } });

  // transaction.max.timeout.ms: InitProducerId asking for more is refused (not retriable), at the limit it is not.
  const tooLong = kafka.producer({ transactionalId: 'too-long', idempotent: true, maxInFlightRequests: 1, transactionTimeout: 5001 });
  clients.push(tooLong);
  await tooLong.connect();
  // kafkajs sends the transactional InitProducerId (with transactionTimeoutMs) on the first transaction().
  await assert.rejects(within(tooLong.transaction(), 'InitProducerId above the maximum'), (err) => /INVALID_TRANSACTION_TIMEOUT/.test(errorTypes(err)));

  const admin = kafka.admin();
  clients.push(admin);
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'opts' }], waitForLeaders: true });
  const producer = kafka.producer({ transactionalId: 'at-limit', idempotent: true, maxInFlightRequests: 1, transactionTimeout: 300 });
  clients.push(producer);
  await within(producer.connect(), 'connect');

  // The snapshot file appears while the broker runs (the default interval, a minute, would not write it here).
  const partitionDir = logDirectory(config.dataDir, logName('opts', 0));
  const snapshotWritten = new Promise<void>((resolve) => {
    const watcher = watch(partitionDir, (_event, name) => {
      if (name === TXN_INDEX_SNAPSHOT_FILE) {
        watcher.close();
        resolve();
      }
    });
    t.after(() => watcher.close());
  });
  const aborted = new Promise<void>((resolve) => {
    b.metadata.on('change', (kind: string, name: string, value: { state?: string } | null) => {
      if (kind === 'txn' && name === 'at-limit' && value?.state === 'CompleteAbort') resolve();
    });
  });
  const txn = await within(producer.transaction(), 'InitProducerId within the maximum');
  await txn.send({ topic: 'opts', messages: [{ value: 'left open' }] });
  // Open longer than its 300 ms timeout: the 50 ms check aborts it.
  await within(aborted, 'the timeout abort');
  await within(snapshotWritten, 'a periodic index snapshot');
  await stat(join(partitionDir, TXN_INDEX_SNAPSHOT_FILE));
});
