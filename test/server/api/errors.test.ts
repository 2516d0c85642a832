import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi } from './api-helper.js';
import { API_BODY_LIMIT_BYTES } from '../../../src/server/api/api-routes.js';
import { BROKER_ERROR_STATUS, errorReply } from '../../../src/server/api/error-reply.js';
import { BrokerError, ERROR_CODES, type ErrorCode } from '../../../src/core/broker-error.js';

test('a core error keeps its TRIB_* code and maps to its HTTP status', async (t) => {
  const api = await startApi(t);
  const res = await api.request('GET', '/api/streams/nope');
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_STREAM_NOT_FOUND');
  assert.match(res.body.error.message, /nope/);
});

test('every TRIB_* code has an HTTP status in the table', () => {
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    const { status, body } = errorReply(new BrokerError(code));
    assert.equal(status, BROKER_ERROR_STATUS[code], code);
    assert.equal(body.error.code, code);
  }
});

test('an unexpected error is a 500 that does not leak its message', () => {
  const { status, body } = errorReply(new Error('secret detail'));
  assert.equal(status, 500);
  assert.deepEqual(body, { error: { code: 'TRIB_HTTP_INTERNAL', message: 'internal error' } });
});

test('a body that fails validation is a 400 naming the field', async (t) => {
  const api = await startApi(t);
  const res = await api.request('POST', '/api/streams', { name: 'a', partitions: 'two' });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, 'TRIB_HTTP_INVALID_REQUEST');
  assert.equal(res.body.error.field, 'partitions');
  assert.match(res.body.error.message, /^partitions: /);
});

test('malformed JSON is a 400 with a JSON error', async (t) => {
  const api = await startApi(t);
  const res = await api.request('POST', '/api/streams', undefined, { rawBody: '{"name":' });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, 'TRIB_HTTP_INVALID_REQUEST');
});

test('a body over the limit is refused with 413', async (t) => {
  const api = await startApi(t);
  const res = await api.request('POST', '/api/streams', undefined, { rawBody: JSON.stringify({ name: 'x'.repeat(API_BODY_LIMIT_BYTES) }) });
  assert.equal(res.status, 413);
  assert.equal(res.body.error.code, 'TRIB_HTTP_BODY_TOO_LARGE');
});

test('an unknown route is a JSON 404', async (t) => {
  const api = await startApi(t);
  const res = await api.request('GET', '/api/nothing-here');
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_HTTP_ROUTE_NOT_FOUND');
});

test('health and metrics still answer beside the API', async (t) => {
  const api = await startApi(t);
  assert.equal((await api.request('GET', '/healthz')).status, 200);
});
