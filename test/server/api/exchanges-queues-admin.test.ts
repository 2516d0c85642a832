import { test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import { startApi } from './api-helper.js';
import { startTestServer, within } from './server-helper.js';

test('exchanges are declared with exchange.declare rules and deleted, honouring ifUnused', async (t) => {
  const api = await startApi(t);
  let res = await api.request('POST', '/api/exchanges', { name: 'orders', type: 'topic', arguments: { 'alternate-exchange': 'ae' } });
  assert.equal(res.status, 201);
  assert.equal(res.body.name, 'orders');
  assert.equal(res.body.type, 'topic');
  assert.equal(res.body.durable, true);
  assert.deepEqual(res.body.arguments, { 'alternate-exchange': 'ae' });
  res = await api.request('POST', '/api/exchanges', { name: 'orders', type: 'topic', arguments: { 'alternate-exchange': 'ae' } });
  assert.equal(res.status, 200, 'an equivalent declare is not an error');
  res = await api.request('POST', '/api/exchanges', { name: 'orders', type: 'fanout' });
  assert.equal(res.status, 409);
  assert.equal(res.body.error.code, 'TRIB_EXCHANGE_EXISTS');
  res = await api.request('POST', '/api/exchanges', { name: 'amq.mine', type: 'direct' });
  assert.equal(res.status, 403);
  assert.equal(res.body.error.code, 'TRIB_EXCHANGE_RESERVED');
  res = await api.request('POST', '/api/exchanges', { name: 'x', type: 'weird' });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.field, 'type');
  res = await api.request('POST', '/api/exchanges', { type: 'direct' });
  assert.equal(res.body.error.field, 'name');

  // A durable exchange survives in the metadata (what a restart replays).
  assert.ok(api.broker.metadata.get('exchange', 'orders'));

  res = await api.request('POST', '/api/queues', { name: 'q1' });
  assert.equal(res.status, 201);
  res = await api.request('POST', '/api/bindings', { source: 'orders', destination: 'q1', destinationType: 'queue', routingKey: 'eu.*' });
  assert.equal(res.status, 201);
  res = await api.request('DELETE', '/api/exchanges/orders?ifUnused=true');
  assert.equal(res.status, 409);
  assert.equal(res.body.error.code, 'TRIB_EXCHANGE_IN_USE');
  res = await api.request('DELETE', '/api/exchanges/orders?ifUnused=maybe');
  assert.equal(res.status, 400);
  assert.equal(res.body.error.field, 'query.ifUnused');
  res = await api.request('DELETE', '/api/exchanges/orders');
  assert.equal(res.status, 204);
  assert.equal(api.broker.metadata.get('exchange', 'orders'), undefined);
  res = await api.request('DELETE', '/api/exchanges/orders');
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_EXCHANGE_NOT_FOUND');
  res = await api.request('DELETE', '/api/exchanges/amq.direct');
  assert.equal(res.status, 403);
});

test('queues are declared with queue.declare argument checks, counted, purged and deleted', async (t) => {
  const api = await startApi(t);
  let res = await api.request('POST', '/api/queues', { name: 'jobs', arguments: { 'x-max-length': 10, 'x-message-ttl': 60000 } });
  assert.equal(res.status, 201);
  assert.equal(res.body.durable, true);
  assert.equal(res.body.exclusive, false);
  assert.deepEqual([res.body.messages, res.body.messagesIn, res.body.messagesOut], [0, 0, 0]);
  res = await api.request('POST', '/api/queues', { name: 'jobs', arguments: { 'x-max-length': 10, 'x-message-ttl': 60000 } });
  assert.equal(res.status, 200);
  res = await api.request('POST', '/api/queues', { name: 'jobs', durable: false });
  assert.equal(res.status, 409);
  assert.equal(res.body.error.code, 'TRIB_QUEUE_INEQUIVALENT');
  res = await api.request('POST', '/api/queues', { name: 'bad', arguments: { 'x-max-length': -1 } });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.field, 'arguments.x-max-length');
  res = await api.request('POST', '/api/queues', { name: 'bad', arguments: { 'x-overflow': 'explode' } });
  assert.equal(res.body.error.field, 'arguments.x-overflow');
  res = await api.request('POST', '/api/queues', { name: 'bad', exclusive: true });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.field, 'exclusive');
  res = await api.request('POST', '/api/queues', { name: 'amq.q' });
  assert.equal(res.status, 403);
  assert.equal(res.body.error.code, 'TRIB_QUEUE_RESERVED');

  res = await api.request('POST', '/api/bindings', { source: 'amq.direct', destination: 'jobs', destinationType: 'queue', routingKey: 'work' });
  assert.equal(res.status, 201);
  for (let i = 0; i < 3; i++) await api.request('POST', '/api/exchanges/amq.direct/publish', { value: i, routingKey: 'work' });
  res = await api.request('GET', '/api/queues/jobs');
  assert.deepEqual([res.body.messages, res.body.messagesIn, res.body.messagesOut], [3, 3, 0]);
  assert.deepEqual(res.body.bindings, [{ source: 'amq.direct', routingKey: 'work', arguments: {} }]);

  res = await api.request('DELETE', '/api/queues/jobs?ifEmpty=true');
  assert.equal(res.status, 409);
  assert.equal(res.body.error.code, 'TRIB_QUEUE_NOT_EMPTY');
  res = await api.request('POST', '/api/queues/jobs/purge');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { purged: 3 });
  res = await api.request('GET', '/api/queues/jobs');
  assert.deepEqual([res.body.messages, res.body.messagesIn, res.body.messagesOut], [0, 3, 3]);
  res = await api.request('DELETE', '/api/queues/jobs?ifEmpty=true&ifUnused=true');
  assert.equal(res.status, 204);
  res = await api.request('GET', '/api/queues/jobs');
  assert.equal(res.status, 404);
  res = await api.request('DELETE', '/api/queues/jobs');
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_QUEUE_NOT_FOUND');
  res = await api.request('POST', '/api/queues/jobs/purge');
  assert.equal(res.status, 404);
  const direct = (await api.request('GET', '/api/exchanges')).body.exchanges.find((e: { name: string }) => e.name === 'amq.direct');
  assert.deepEqual(direct.bindings, [], 'the queue’s bindings went with it');
});

test('bindings between exchanges route, unbind removes them, and missing ends are 404s', async (t) => {
  const api = await startApi(t);
  await api.request('POST', '/api/exchanges', { name: 'front', type: 'fanout' });
  await api.request('POST', '/api/exchanges', { name: 'back', type: 'direct' });
  await api.request('POST', '/api/queues', { name: 'sink' });
  let res = await api.request('POST', '/api/bindings', { source: 'front', destination: 'back', destinationType: 'exchange' });
  assert.equal(res.status, 201);
  assert.deepEqual(res.body, { source: 'front', destination: 'back', destinationType: 'exchange', routingKey: '', arguments: {}, created: true });
  res = await api.request('POST', '/api/bindings', { source: 'back', destination: 'sink', destinationType: 'queue', routingKey: 'k' });
  assert.equal(res.status, 201);
  res = await api.request('POST', '/api/bindings', { source: 'back', destination: 'sink', destinationType: 'queue', routingKey: 'k' });
  assert.equal(res.status, 200);
  assert.equal(res.body.created, false);
  res = await api.request('POST', '/api/exchanges/front/publish', { value: 'hop', encoding: 'text', routingKey: 'k' });
  assert.deepEqual(res.body, { routed: 1, deliveries: 0 });

  res = await api.request('DELETE', '/api/bindings', { source: 'front', destination: 'back', destinationType: 'exchange' });
  assert.equal(res.status, 204);
  res = await api.request('POST', '/api/exchanges/front/publish', { value: 'hop', encoding: 'text', routingKey: 'k' });
  assert.deepEqual(res.body, { routed: 0, deliveries: 0 });
  res = await api.request('DELETE', '/api/bindings', { source: 'front', destination: 'back', destinationType: 'exchange' });
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_BINDING_NOT_FOUND');

  res = await api.request('POST', '/api/bindings', { source: 'nope', destination: 'sink', destinationType: 'queue' });
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_EXCHANGE_NOT_FOUND');
  res = await api.request('POST', '/api/bindings', { source: 'back', destination: 'nope', destinationType: 'queue' });
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_QUEUE_NOT_FOUND');
  res = await api.request('POST', '/api/bindings', { source: 'back', destination: 'sink', destinationType: 'topic' });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.field, 'destinationType');
});

test('a queue declared and bound over HTTP is consumed by amqplib like any other', async (t) => {
  const s = await startTestServer(t);
  assert.equal((await s.request('POST', '/api/queues', { name: 'http-made', durable: true })).status, 201);
  assert.equal((await s.request('POST', '/api/bindings', { source: 'amq.topic', destination: 'http-made', destinationType: 'queue', routingKey: 'sensor.#' })).status, 201);
  const conn = await within(amqp.connect(`amqp://guest:guest@127.0.0.1:${s.port('amqp')}`), 'amqplib connect');
  s.beforeStop(() => conn.close());
  const ch = await conn.createChannel();
  // A passive declare finds it with the flags HTTP gave it.
  const ok = await ch.checkQueue('http-made');
  assert.equal(ok.queue, 'http-made');
  const got = new Promise<string>((resolve) => void ch.consume('http-made', (m) => m && resolve(m.content.toString()), { noAck: true }));
  assert.equal((await s.request('POST', '/api/subjects/sensor.a.b/publish', { value: 'warm', encoding: 'text' })).status, 200);
  assert.equal(await within(got, 'the delivery'), 'warm');
});
