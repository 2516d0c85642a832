import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi } from './api-helper.js';

test('a stream is created, listed, described, altered, grown and deleted', async (t) => {
  const api = await startApi(t);
  let res = await api.request('POST', '/api/streams', { name: 'orders', partitions: 2, subjects: ['orders.>'], configs: { 'retention.ms': 60000 } });
  assert.equal(res.status, 201);
  assert.equal(res.body.name, 'orders');
  assert.equal(res.body.partitions.length, 2);
  assert.deepEqual(res.body.partitions[0], { partition: 0, startOffset: 0, endOffset: 0, highWatermark: 0 });
  const retention = res.body.configs.find((c: { name: string }) => c.name === 'retention.ms');
  assert.equal(retention.value, '60000');
  assert.equal(retention.isDefault, false);

  res = await api.request('GET', '/api/streams');
  assert.equal(res.status, 200);
  assert.deepEqual(
    res.body.streams.map((s: { name: string }) => s.name),
    ['orders'],
    'internal streams are not listed',
  );

  res = await api.request('PATCH', '/api/streams/orders/configs', { configs: { 'retention.ms': null, 'max.message.bytes': '2048' } });
  assert.equal(res.status, 200);
  assert.equal(res.body.configs.find((c: { name: string }) => c.name === 'retention.ms').isDefault, true);
  assert.equal(res.body.configs.find((c: { name: string }) => c.name === 'max.message.bytes').value, '2048');

  res = await api.request('POST', '/api/streams/orders/partitions', { count: 3 });
  assert.equal(res.status, 200);
  assert.equal(res.body.partitions.length, 3);

  res = await api.request('DELETE', '/api/streams/orders');
  assert.equal(res.status, 204);
  res = await api.request('GET', '/api/streams/orders');
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_STREAM_NOT_FOUND');
});

test('creating a stream that exists is a 409; a bad name or config a 400', async (t) => {
  const api = await startApi(t);
  assert.equal((await api.request('POST', '/api/streams', { name: 's' })).status, 201);
  let res = await api.request('POST', '/api/streams', { name: 's' });
  assert.equal(res.status, 409);
  assert.equal(res.body.error.code, 'TRIB_STREAM_EXISTS');
  res = await api.request('POST', '/api/streams', { name: 'bad name!' });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, 'TRIB_INVALID_NAME');
  res = await api.request('POST', '/api/streams', { name: 't', configs: { 'no.such.key': '1' } });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, 'TRIB_INVALID_CONFIG');
  res = await api.request('POST', '/api/streams', { name: 't', unknownField: 1 });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, 'TRIB_HTTP_INVALID_REQUEST');
  res = await api.request('POST', '/api/streams', { partitions: 1 });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.field, 'name');
});

test('partitions can only grow, and the body needs a count', async (t) => {
  const api = await startApi(t);
  await api.request('POST', '/api/streams', { name: 'g', partitions: 2 });
  let res = await api.request('POST', '/api/streams/g/partitions', { count: 1 });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, 'TRIB_INVALID_CONFIG');
  res = await api.request('POST', '/api/streams/g/partitions', {});
  assert.equal(res.status, 400);
  assert.equal(res.body.error.field, 'count');
  res = await api.request('POST', '/api/streams/missing/partitions', { count: 4 });
  assert.equal(res.status, 404);
  res = await api.request('PATCH', '/api/streams/g/configs', { configs: { 'retention.ms': 'soon' } });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, 'TRIB_INVALID_CONFIG');
  res = await api.request('DELETE', '/api/streams/missing');
  assert.equal(res.status, 404);
});
