import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi } from './api-helper.js';
import { queueRegistryOf } from '../../../src/core/queue-registry.js';
import { ANONYMOUS } from '../../../src/core/principal.js';

test('publishing through an exchange appends to the bound queue, which is listed with its counts and bindings', async (t) => {
  const api = await startApi(t);
  const registry = await queueRegistryOf(api.broker, ANONYMOUS);
  await registry.declare(ANONYMOUS, { name: 'jobs', durable: true, owner: 'test' });
  await api.broker.bind(ANONYMOUS, 'amq.direct', { kind: 'queue', name: 'jobs' }, 'work');

  let res = await api.request('GET', '/api/exchanges');
  assert.equal(res.status, 200);
  const direct = res.body.exchanges.find((e: { name: string }) => e.name === 'amq.direct');
  assert.equal(direct.type, 'direct');
  assert.deepEqual(direct.bindings.map((b: { destination: string; routingKey: string }) => [b.destination, b.routingKey]), [['jobs', 'work']]);

  res = await api.request('POST', '/api/exchanges/amq.direct/publish', { value: 'do it', encoding: 'text', routingKey: 'work' });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { routed: 1, deliveries: 0 });
  res = await api.request('POST', '/api/exchanges/amq.direct/publish', { value: 'nowhere', routingKey: 'other' });
  assert.deepEqual(res.body, { routed: 0, deliveries: 0 });

  res = await api.request('GET', '/api/queues');
  assert.equal(res.status, 200);
  const jobs = res.body.queues.find((q: { name: string }) => q.name === 'jobs');
  assert.equal(jobs.messages, 1);
  assert.equal(jobs.consumers, 0);
  assert.equal(jobs.unacked, 0);
  assert.deepEqual(jobs.bindings.map((b: { source: string }) => b.source), ['amq.direct']);
  res = await api.request('GET', '/api/queues/jobs');
  assert.equal(res.body.name, 'jobs');
  assert.equal(res.body.durable, true);
});

test('an exchange publish through amq.topic also reaches subject subscribers', async (t) => {
  const api = await startApi(t);
  let seen = 0;
  const sub = api.broker.router.subscribe('t.>', () => seen++);
  t.after(() => void sub.unsubscribe());
  const res = await api.request('POST', '/api/exchanges/amq.topic/publish', { value: 1, routingKey: 't.x' });
  assert.equal(res.status, 200);
  assert.equal(res.body.deliveries, 1);
  assert.equal(seen, 1);
});

test('unknown exchanges and queues are 404s; bad bodies 400s', async (t) => {
  const api = await startApi(t);
  let res = await api.request('POST', '/api/exchanges/nope/publish', { value: 1 });
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_EXCHANGE_NOT_FOUND');
  res = await api.request('POST', '/api/exchanges/amq.direct/publish', { value: 1, routingKey: 5 });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.field, 'routingKey');
  res = await api.request('GET', '/api/queues/nope');
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_QUEUE_NOT_FOUND');
});

test('cursors are listed with their consumers and per-partition progress', async (t) => {
  const api = await startApi(t);
  await api.request('POST', '/api/streams', { name: 'c', partitions: 2 });
  await api.broker.createCursor(ANONYMOUS, { stream: 'c', name: 'reader', partitions: [1, 0] });
  await api.request('POST', '/api/streams/c/records', { value: 1, partition: 1 });
  let res = await api.request('GET', '/api/cursors?stream=c');
  assert.equal(res.status, 200);
  assert.equal(res.body.cursors.length, 1);
  const [cursor] = res.body.cursors;
  assert.equal(cursor.id, 'c/reader');
  assert.equal(cursor.consumers, 0);
  assert.deepEqual(
    cursor.levels.map((l: { partition: number; ackFloor: number }) => [l.partition, l.ackFloor]),
    [
      [1, 0],
      [0, 0],
    ],
  );
  res = await api.request('GET', '/api/cursors?stream=other');
  assert.deepEqual(res.body.cursors, []);
});
