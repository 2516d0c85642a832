/**
 * The Kafka expiry options (transactional.id.expiration.ms, producer.id.expiration.ms) from the serve flags
 * through the resolved config to the broker's options, and their defaults (Kafka's).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../../src/server/config.js';
import { brokerOptionsOf } from '../../support/broker-options-of.js';
import { serveCommand } from '../../../src/cli/serve.js';

test('serve has the expiry flags, with Kafka\'s defaults', async (t) => {
  const flags = serveCommand({ version: '0', openBroker: async () => ({ ready: true, close: async () => undefined }) }).options.map((o) => o.long);
  assert.ok(flags.includes('--kafka-transactional-id-expiration-ms'));
  assert.ok(flags.includes('--kafka-producer-id-expiration-ms'));
  const dir = await mkdtemp(join(tmpdir(), 'trib-exp-opts-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { config } = await resolveConfig({ env: {}, cwd: dir, stdoutIsTTY: false });
  assert.equal(config.kafkaTransactionalIdExpirationMs, 604_800_000);
  assert.equal(config.kafkaProducerIdExpirationMs, 86_400_000);
});

test('the expiry options reach the broker', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'trib-exp-opts-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { config } = await resolveConfig({
    env: { TRIBUTARY_KAFKA_PRODUCER_ID_EXPIRATION_MS: '5000' },
    cwd: dir,
    stdoutIsTTY: false,
    flags: { httpPort: '0', kafkaTransactionalIdExpirationMs: '12345' },
  });
  const seen = await brokerOptionsOf(config);
  assert.equal(seen.transactions?.transactionalIdExpirationMs, 12345);
  assert.deepEqual(seen.producers, { producerIdExpirationMs: 5000 });
});
