import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, type Consumer, type EachMessagePayload } from 'kafkajs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { Broker } from '../../../src/core/broker.js';
import { registerApi } from '../../../src/server/api/api-routes.js';
import { startApi } from './api-helper.js';
import { eventually, startTestServer, within, type TestServer } from './server-helper.js';

const CONSUMER = { sessionTimeout: 6000, rebalanceTimeout: 6000, heartbeatInterval: 300, maxWaitTimeInMs: 200 };

function kafka(s: TestServer): Kafka {
  return new Kafka({ clientId: 'api-test', brokers: [`127.0.0.1:${s.port('kafka')}`], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 50, maxRetryTime: 500 } });
}

async function produce(s: TestServer, topic: string, partition: number, count: number): Promise<void> {
  const res = await s.request('POST', `/api/streams/${topic}/records`, { records: Array.from({ length: count }, (_, i) => ({ value: `p${partition}-${i}`, encoding: 'text', partition })) });
  assert.equal(res.status, 200);
}

/** Runs a consumer of `groupId` on `topic`; resolves with it once `count` messages arrived. */
async function consume(s: TestServer, groupId: string, topic: string, count: number, seen: EachMessagePayload[] = []): Promise<Consumer> {
  const consumer = kafka(s).consumer({ groupId, ...CONSUMER });
  s.beforeStop(() => consumer.disconnect());
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let done!: () => void;
  const enough = new Promise<void>((r) => (done = r));
  await consumer.run({
    eachMessage: async (p) => {
      seen.push(p);
      if (seen.length >= count) done();
    },
  });
  await within(enough, `${count} messages for ${groupId}`, 20_000);
  return consumer;
}

test('a kafkajs consumer group is listed and described with its assignment and lag, and cannot be reset while live', async (t) => {
  const s = await startTestServer(t);
  assert.equal((await s.request('POST', '/api/streams', { name: 'orders', partitions: 2 })).status, 201);
  await produce(s, 'orders', 0, 5);
  await produce(s, 'orders', 1, 5);
  const consumer = await consume(s, 'billing', 'orders', 10);

  // kafkajs commits after each batch: wait until both partitions are committed at their end.
  const live = await eventually(async () => {
    const r = await s.request('GET', '/api/groups/billing');
    return r.status === 200 && r.body.totalLag === 0 && r.body.offsets.length === 2 && r.body.offsets.every((o: { committedOffset: number | null }) => o.committedOffset === 5) ? r.body : undefined;
  }, 'committed offsets at the end');
  assert.equal(live.state, 'Stable');
  assert.equal(live.protocolType, 'consumer');
  assert.ok(live.protocol.length > 0, 'the chosen assignor is named');
  assert.ok(live.generationId >= 1);
  assert.equal(live.members.length, 1);
  assert.equal(live.members[0].clientId, 'api-test');
  assert.deepEqual(live.members[0].assignment, [{ topic: 'orders', partitions: [0, 1] }]);
  assert.deepEqual(live.offsets.map((o: { partition: number; endOffset: number; lag: number }) => [o.partition, o.endOffset, o.lag]), [
    [0, 5, 0],
    [1, 5, 0],
  ]);

  let res = await s.request('GET', '/api/groups');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.groups, [{ groupId: 'billing', state: 'Stable', protocolType: 'consumer', members: 1 }]);

  // Kafka's tool requires an inactive group for a reset or a delete.
  res = await s.request('POST', '/api/groups/billing/reset-offsets', { topic: 'orders', to: 'earliest' });
  assert.equal(res.status, 409);
  assert.equal(res.body.error.code, 'TRIB_GROUP_NOT_EMPTY');
  res = await s.request('DELETE', '/api/groups/billing');
  assert.equal(res.status, 409);
  assert.equal(res.body.error.code, 'TRIB_GROUP_NOT_EMPTY');

  await within(consumer.disconnect(), 'consumer disconnect');
  await produce(s, 'orders', 1, 3);
  res = await s.request('GET', '/api/groups/billing');
  assert.equal(res.body.state, 'Empty');
  assert.deepEqual(res.body.members, []);
  assert.equal(res.body.totalLag, 3);
  const p1 = res.body.offsets.find((o: { partition: number }) => o.partition === 1);
  assert.deepEqual([p1.topic, p1.committedOffset, p1.endOffset, p1.lag], ['orders', 5, 8, 3]);
  res = await s.request('GET', '/api/groups');
  assert.deepEqual(res.body.groups, [{ groupId: 'billing', state: 'Empty', protocolType: 'consumer', members: 0 }]);
});

test('reset-offsets commits durably and a consumer of the group resumes from the reset offsets', async (t) => {
  const s = await startTestServer(t);
  await s.request('POST', '/api/streams', { name: 'events', partitions: 2 });
  await produce(s, 'events', 0, 6);
  await produce(s, 'events', 1, 4);
  const first = await consume(s, 'replayer', 'events', 10);
  await eventually(async () => (await s.request('GET', '/api/groups/replayer')).body.totalLag === 0, 'the first run committed');
  await within(first.disconnect(), 'consumer disconnect');

  let res = await s.request('POST', '/api/groups/replayer/reset-offsets', { topic: 'events', partitions: [0], to: 'offset', offset: 4 });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { offsets: [{ topic: 'events', partition: 0, offset: 4 }] });
  res = await s.request('POST', '/api/groups/replayer/reset-offsets', { topic: 'events', partitions: [1], to: 'earliest' });
  assert.deepEqual(res.body.offsets, [{ topic: 'events', partition: 1, offset: 0 }]);
  // Committed through the coordinator's store: the answer and the description agree.
  res = await s.request('GET', '/api/groups/replayer');
  assert.deepEqual(res.body.offsets.map((o: { partition: number; committedOffset: number }) => [o.partition, o.committedOffset]), [
    [0, 4],
    [1, 0],
  ]);
  assert.equal(res.body.totalLag, 2 + 4);

  // A consumer of the group starts from the committed offsets, not from the beginning.
  const seen: EachMessagePayload[] = [];
  await consume(s, 'replayer', 'events', 6, seen);
  const got = seen.map((p) => `${p.partition}:${p.message.offset}`).sort();
  assert.deepEqual(got, ['0:4', '0:5', '1:0', '1:1', '1:2', '1:3']);
});

test('reset to latest and to a timestamp, and delete an inactive group', async (t) => {
  const api = await startApi(t);
  await api.request('POST', '/api/streams', { name: 'ts', partitions: 1 });
  const before = Date.now();
  await api.request('POST', '/api/streams/ts/records', { records: [{ value: 1, timestamp: before - 10_000 }, { value: 2, timestamp: before - 5_000 }, { value: 3, timestamp: before }] });
  let res = await api.request('POST', '/api/groups/tools/reset-offsets', { topic: 'ts', to: 'latest' });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.offsets, [{ topic: 'ts', partition: 0, offset: 3 }]);
  res = await api.request('POST', '/api/groups/tools/reset-offsets', { topic: 'ts', to: 'timestamp', timestamp: new Date(before - 6_000).toISOString() });
  assert.deepEqual(res.body.offsets, [{ topic: 'ts', partition: 0, offset: 1 }]);
  res = await api.request('POST', '/api/groups/tools/reset-offsets', { topic: 'ts', to: 'offset', offset: 99 });
  assert.deepEqual(res.body.offsets, [{ topic: 'ts', partition: 0, offset: 3 }], 'clamped to the end, as Kafka’s tool does');
  res = await api.request('GET', '/api/groups/tools');
  assert.equal(res.body.state, 'Empty');
  assert.equal(res.body.totalLag, 0);

  res = await api.request('DELETE', '/api/groups/tools');
  assert.equal(res.status, 204);
  res = await api.request('GET', '/api/groups/tools');
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_GROUP_NOT_FOUND');
  res = await api.request('DELETE', '/api/groups/tools');
  assert.equal(res.status, 404);
});

test('group requests are validated and name the bad field', async (t) => {
  const api = await startApi(t);
  await api.request('POST', '/api/streams', { name: 'v', partitions: 1 });
  const cases: Array<[unknown, string]> = [
    [{ topic: 'v', to: 'offset' }, 'offset'],
    [{ topic: 'v', to: 'timestamp' }, 'timestamp'],
    [{ topic: 'v', to: 'sometime' }, 'to'],
    [{ to: 'earliest' }, 'topic'],
    [{ topic: 'v', to: 'earliest', partitions: [-1] }, 'partitions.0'],
    [{ topic: 'v', to: 'earliest', extra: 1 }, ''],
  ];
  for (const [body, field] of cases) {
    const res = await api.request('POST', '/api/groups/g/reset-offsets', body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.error.code, 'TRIB_HTTP_INVALID_REQUEST');
    if (field !== '') assert.equal(res.body.error.field, field);
  }
  let res = await api.request('POST', '/api/groups/g/reset-offsets', { topic: 'nope', to: 'earliest' });
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_STREAM_NOT_FOUND');
  res = await api.request('POST', '/api/groups/g/reset-offsets', { topic: 'v', partitions: [3], to: 'earliest' });
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_PARTITION_NOT_FOUND');
  res = await api.request('GET', '/api/groups/none');
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_GROUP_NOT_FOUND');
});

test('reset offsets are durable: a restarted broker has them', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-api-groups-'));
  const open = () => Broker.open({ dataDir: dir, fsync: 'never', fsyncIntervalMs: 1000 });
  let broker = await open();
  let app = Fastify();
  await app.register(registerApi, { broker, version: 'test' });
  await app.inject({ method: 'POST', url: '/api/streams', payload: { name: 'd', partitions: 1 } });
  await app.inject({ method: 'POST', url: '/api/streams/d/records', payload: { records: [{ value: 1 }, { value: 2 }, { value: 3 }] } });
  const res = await app.inject({ method: 'POST', url: '/api/groups/durable/reset-offsets', payload: { topic: 'd', to: 'offset', offset: 2 } });
  assert.equal(res.statusCode, 200);
  await app.close();
  await broker.close();

  broker = await open();
  app = Fastify();
  t.after(async () => {
    await app.close();
    await broker.close();
    await rm(dir, { recursive: true, force: true });
  });
  await app.register(registerApi, { broker, version: 'test' });
  const described = (await app.inject({ method: 'GET', url: '/api/groups/durable' })).json();
  assert.deepEqual(described.offsets.map((o: { committedOffset: number; lag: number }) => [o.committedOffset, o.lag]), [[2, 1]]);
});
