import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi } from './api-helper.js';

test('users are created, listed without credentials, and deleted', async (t) => {
  const api = await startApi(t);
  let res = await api.request('POST', '/api/users', { name: 'alice', password: 's3cret-pw', tags: ['monitoring'] });
  assert.equal(res.status, 201);
  assert.equal(res.body.name, 'alice');
  assert.deepEqual(res.body.tags, ['monitoring']);

  const list = await fetch(`${api.base}/api/users`, { signal: AbortSignal.timeout(10_000) });
  const text = await list.text();
  assert.equal(list.status, 200);
  assert.ok(!text.includes('s3cret-pw'), 'the password is never returned');
  assert.ok(!/credential|salt|storedKey|serverKey/i.test(text), 'nor any credential');
  assert.ok(JSON.parse(text).users.some((u: { name: string }) => u.name === 'alice'));

  res = await api.request('POST', '/api/users', { name: 'alice', password: 'other' });
  assert.equal(res.status, 409);
  assert.equal(res.body.error.code, 'TRIB_USER_EXISTS');

  res = await api.request('DELETE', '/api/users/alice');
  assert.equal(res.status, 204);
  res = await api.request('DELETE', '/api/users/alice');
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_USER_NOT_FOUND');
});

test('creating a user without a password is a 400 naming it', async (t) => {
  const api = await startApi(t);
  const res = await api.request('POST', '/api/users', { name: 'bob' });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.field, 'password');
});
