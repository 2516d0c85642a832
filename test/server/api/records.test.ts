import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi } from './api-helper.js';

test('records are produced as JSON, text and base64 and read back with their offsets', async (t) => {
  const api = await startApi(t);
  await api.request('POST', '/api/streams', { name: 'events', partitions: 2 });
  let live = 0;
  const sub = api.broker.router.subscribe('events', () => live++);
  t.after(() => void sub.unsubscribe());
  let res = await api.request('POST', '/api/streams/events/records', { value: { n: 1 }, key: 'k1', headers: { h: 'v' }, partition: 0 });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { offsets: [{ partition: 0, offset: 0 }] });
  assert.equal(live, 1, 'a produced record reaches live subscribers of the stream subject');

  res = await api.request('POST', '/api/streams/events/records', {
    records: [
      { value: 'plain text', encoding: 'text', partition: 0 },
      { value: Buffer.from([0xff, 0x00, 0xfe]).toString('base64'), encoding: 'base64', partition: 0 },
      { value: null, key: 'gone', partition: 0 },
    ],
  });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.offsets, [
    { partition: 0, offset: 1 },
    { partition: 0, offset: 2 },
    { partition: 0, offset: 3 },
  ]);

  res = await api.request('GET', '/api/streams/events/records?partition=0&offset=0&limit=10');
  assert.equal(res.status, 200);
  assert.equal(res.body.nextOffset, 4);
  assert.equal(res.body.highWatermark, 4);
  const [json, text, bytes, tombstone] = res.body.records;
  assert.equal(json.offset, 0);
  assert.deepEqual(JSON.parse(json.value), { n: 1 });
  assert.equal(json.encoding, 'text');
  assert.equal(json.key, 'k1');
  assert.deepEqual(json.headers.filter((h: { key: string }) => h.key === 'h'), [{ key: 'h', value: 'v', encoding: 'text' }]);
  assert.equal(text.value, 'plain text');
  assert.deepEqual({ value: bytes.value, encoding: bytes.encoding }, { value: '/wD+', encoding: 'base64' });
  assert.deepEqual({ value: tombstone.value, encoding: tombstone.encoding, key: tombstone.key }, { value: null, encoding: null, key: 'gone' });
});

test('reads are paged by limit and nextOffset, and can start from a timestamp', async (t) => {
  const api = await startApi(t);
  await api.request('POST', '/api/streams', { name: 'p' });
  const records = Array.from({ length: 5 }, (_, i) => ({ value: i, timestamp: 1_000 + i }));
  assert.equal((await api.request('POST', '/api/streams/p/records', { records })).status, 200);

  let res = await api.request('GET', '/api/streams/p/records?limit=2');
  assert.deepEqual(res.body.records.map((r: { offset: number }) => r.offset), [0, 1]);
  assert.equal(res.body.nextOffset, 2);
  res = await api.request('GET', `/api/streams/p/records?offset=${res.body.nextOffset}&limit=2`);
  assert.deepEqual(res.body.records.map((r: { value: string }) => r.value), ['2', '3']);
  res = await api.request('GET', '/api/streams/p/records?offset=5');
  assert.deepEqual(res.body.records, [], 'reading at the high watermark is an empty page');
  assert.equal(res.body.nextOffset, 5);

  res = await api.request('GET', '/api/streams/p/records?timestamp=1003');
  assert.deepEqual(res.body.records.map((r: { offset: number }) => r.offset), [3, 4]);
  res = await api.request('GET', `/api/streams/p/records?timestamp=${encodeURIComponent(new Date(1_004).toISOString())}`);
  assert.deepEqual(res.body.records.map((r: { offset: number }) => r.offset), [4]);
});

test('produce and read validation errors name the field', async (t) => {
  const api = await startApi(t);
  await api.request('POST', '/api/streams', { name: 'v' });
  let res = await api.request('POST', '/api/streams/v/records', { value: 'not base64!', encoding: 'base64' });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.field, 'value');
  res = await api.request('POST', '/api/streams/v/records', { records: [{ value: 1 }, { value: 2, encoding: 'hex' }] });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.field, 'records.1.encoding');
  res = await api.request('POST', '/api/streams/v/records', { records: [] });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.field, 'records');
  res = await api.request('POST', '/api/streams/v/records', { value: 1, encoding: 'text' });
  assert.equal(res.status, 400);
  assert.match(res.body.error.message, /must be a string/);
  res = await api.request('POST', '/api/streams/v/records', { value: 1, partition: 7 });
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_PARTITION_NOT_FOUND');
  res = await api.request('POST', '/api/streams/none/records', { value: 1 });
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_STREAM_NOT_FOUND');

  res = await api.request('GET', '/api/streams/v/records?limit=0');
  assert.equal(res.status, 400);
  assert.equal(res.body.error.field, 'query.limit');
  res = await api.request('GET', '/api/streams/v/records?offset=0&timestamp=5');
  assert.equal(res.status, 400);
  res = await api.request('GET', '/api/streams/v/records?bogus=1');
  assert.equal(res.status, 400);
  res = await api.request('GET', '/api/streams/v/records?partition=3');
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_PARTITION_NOT_FOUND');
});

test('a record larger than the stream allows is a 413 with the core code', async (t) => {
  const api = await startApi(t);
  await api.request('POST', '/api/streams', { name: 'small', configs: { 'max.message.bytes': 1024 } });
  const res = await api.request('POST', '/api/streams/small/records', { value: 'x'.repeat(4096), encoding: 'text' });
  assert.equal(res.status, 413);
  assert.equal(res.body.error.code, 'TRIB_MESSAGE_TOO_LARGE');
});
