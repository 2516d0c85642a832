/**
 * The Kafka server flags, through the real `tributary serve` binary and kafkajs: --kafka-auto-create,
 * --kafka-default-partitions and --kafka-max-request-bytes (and their variables and file keys).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { resolveConfig } from '../../../src/server/config.js';
import { EPHEMERAL, serveProcess, type Tributary } from '../../support/tributary-process.js';
import { within } from './harness.js';

async function served(t: TestContext, args: string[], env?: Record<string, string>): Promise<{ broker: Tributary; kafka: Kafka; port: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'trib-kafka-flags-'));
  const broker = serveProcess(dir, ['--data-dir', join(dir, 'data'), ...EPHEMERAL, ...args], env);
  t.after(async () => {
    broker.kill('SIGTERM');
    await broker.waitForExit().catch(() => broker.kill());
    await rm(dir, { recursive: true, force: true });
  });
  const { kafka: port } = await broker.ports();
  assert.ok(port !== undefined && port > 0, 'the start line names the kafka port');
  const kafka = new Kafka({ clientId: 'flags', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 50, maxRetryTime: 300 } });
  return { broker, kafka, port };
}

test('--kafka-auto-create false refuses producing to an unknown topic with UNKNOWN_TOPIC_OR_PARTITION', async (t) => {
  const { kafka } = await served(t, ['--kafka-auto-create', 'false']);
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  t.after(() => producer.disconnect());
  const err = await within(
    producer.send({ topic: 'never-made', acks: -1, messages: [{ value: 'x' }] }).then(
      () => null,
      (e: unknown) => e as Error & { type?: string; cause?: { type?: string } },
    ),
    'the refused send',
  );
  assert.ok(err !== null, 'the send fails');
  // kafkajs gives up after its retries with the last protocol error (wrapped in a KafkaJSNumberOfRetriesExceeded).
  const type = err.type ?? err.cause?.type;
  assert.equal(type, 'UNKNOWN_TOPIC_OR_PARTITION', String(err));
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  assert.ok(!(await admin.listTopics()).includes('never-made'), 'no topic was created');
  // CreateTopics still works: the flag governs only implicit creation.
  assert.equal(await admin.createTopics({ topics: [{ topic: 'made' }] }), true);
  await producer.send({ topic: 'made', acks: -1, messages: [{ value: 'y' }] });
  const [p0] = await admin.fetchTopicOffsets('made');
  assert.equal(p0!.high, '1');
});

test('with auto-create on (the default) producing creates the topic with --kafka-default-partitions partitions', async (t) => {
  const { kafka } = await served(t, ['--kafka-default-partitions', '3']);
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  t.after(() => producer.disconnect());
  await within(producer.send({ topic: 'made-on-demand', acks: -1, messages: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }, { key: 'c', value: '3' }] }), 'send');
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  const md = await admin.fetchTopicMetadata({ topics: ['made-on-demand'] });
  assert.equal(md.topics[0]!.partitions.length, 3);
  const offsets = await admin.fetchTopicOffsets('made-on-demand');
  assert.equal(offsets.reduce((n, o) => n + Number(o.high), 0), 3);
});

test('a request frame above --kafka-max-request-bytes closes the connection; the broker serves the next one', async (t) => {
  const { kafka, port, broker } = await served(t, ['--kafka-max-request-bytes', '4096'], { TRIBUTARY_KAFKA_AUTO_CREATE: 'on' });
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined); // a reset instead of a clean close is as good
  t.after(() => socket.destroy());
  await within(once(socket, 'connect'), 'raw connect');
  // Only the size prefix: the broker refuses from the header alone, before buffering 5000 bytes.
  const header = Buffer.alloc(4);
  header.writeInt32BE(5000);
  socket.write(header);
  await within(once(socket, 'close'), 'the broker closing the oversized connection');
  await within(broker.waitForLine((l) => String(l.msg).startsWith('closing kafka connection'), 'the close log line'), 'log line');
  // Requests below the limit pass: a small produce through kafkajs.
  const producer = kafka.producer();
  await producer.connect();
  t.after(() => producer.disconnect());
  await within(producer.send({ topic: 'small', acks: -1, messages: [{ value: 'fits' }] }), 'small send');
});

test('the Kafka flags resolve from variables and the file, and a bad boolean stops the start naming the flag', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'trib-kafka-flags-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const defaults = await resolveConfig({ cwd: dir, env: {} });
  assert.equal(defaults.config.kafkaAutoCreate, true);
  assert.equal(defaults.config.kafkaDefaultPartitions, 1);
  assert.equal(defaults.config.kafkaMaxRequestBytes, 100 * 1024 * 1024);
  const fromEnv = await resolveConfig({ cwd: dir, env: { TRIBUTARY_KAFKA_AUTO_CREATE: 'off', TRIBUTARY_KAFKA_DEFAULT_PARTITIONS: '4' } });
  assert.equal(fromEnv.config.kafkaAutoCreate, false);
  assert.equal(fromEnv.config.kafkaDefaultPartitions, 4);
  await writeFile(join(dir, 'tributary.yaml'), 'kafka:\n  autoCreate: false\n  maxRequestBytes: 65536\n');
  const fromFile = await resolveConfig({ cwd: dir, env: {} });
  assert.equal(fromFile.config.kafkaAutoCreate, false);
  assert.equal(fromFile.config.kafkaMaxRequestBytes, 65536);
  // The flag beats the file.
  assert.equal((await resolveConfig({ cwd: dir, env: {}, flags: { kafkaAutoCreate: 'true' } })).config.kafkaAutoCreate, true);
  await assert.rejects(resolveConfig({ cwd: dir, env: {}, flags: { kafkaAutoCreate: 'maybe' } }), (e: Error & { key?: string }) => e.key === '--kafka-auto-create');
  await assert.rejects(resolveConfig({ cwd: dir, env: {}, flags: { kafkaDefaultPartitions: '0' } }), (e: Error & { key?: string }) => e.key === '--kafka-default-partitions');
  await writeFile(join(dir, 'tributary.yaml'), 'kafka:\n  autoCreate: "yes"\n');
  await assert.rejects(resolveConfig({ cwd: dir, env: {} }), (e: Error & { key?: string }) => e.key === 'kafka.autoCreate');
});
