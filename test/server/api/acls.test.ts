import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi } from './api-helper.js';

test('ACL entries are added, listed, filtered and removed, and take effect at once', async (t) => {
  const api = await startApi(t);
  let res = await api.request('GET', '/api/acls');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { acls: [] });

  // The API's caller is the anonymous principal of its address: allow it everything first, then deny a stream.
  res = await api.request('POST', '/api/acls', { principal: '*', resourceType: 'cluster', resourceName: '*', operation: '*', permission: 'allow' });
  assert.equal(res.status, 201);
  assert.deepEqual(res.body, { principal: '*', resourceType: 'cluster', resourceName: '*', patternType: 'literal', operation: '*', permission: 'allow', host: '*' });
  for (const resourceType of ['stream', 'group', 'queue', 'exchange', 'subject', 'user']) {
    await api.request('POST', '/api/acls', { principal: '*', resourceType, resourceName: '*', operation: '*', permission: 'allow' });
  }
  res = await api.request('POST', '/api/acls', { principal: '*', resourceType: 'stream', resourceName: 'secret.', patternType: 'prefix', operation: 'create', permission: 'deny', host: '127.0.0.1' });
  assert.equal(res.status, 201);

  res = await api.request('POST', '/api/streams', { name: 'secret.plans' });
  assert.equal(res.status, 403);
  assert.equal(res.body.error.code, 'TRIB_UNAUTHORIZED');
  res = await api.request('POST', '/api/streams', { name: 'public' });
  assert.equal(res.status, 201);

  res = await api.request('GET', '/api/acls?permission=deny');
  assert.deepEqual(res.body.acls, [{ principal: '*', resourceType: 'stream', resourceName: 'secret.', patternType: 'prefix', operation: 'create', permission: 'deny', host: '127.0.0.1' }]);
  res = await api.request('GET', '/api/acls?resourceType=stream');
  assert.equal(res.body.acls.length, 2);

  res = await api.request('DELETE', '/api/acls', { permission: 'deny', resourceName: 'secret.' });
  assert.equal(res.status, 200);
  assert.equal(res.body.removed.length, 1);
  res = await api.request('POST', '/api/streams', { name: 'secret.plans' });
  assert.equal(res.status, 201, 'the deny is gone');
  res = await api.request('GET', '/api/acls');
  assert.equal(res.body.acls.length, 7);
});

test('ACL requests are validated and name the field', async (t) => {
  const api = await startApi(t);
  const base = { principal: 'alice', resourceType: 'stream', resourceName: 'x', operation: 'read', permission: 'allow' };
  const cases: Array<[object, string]> = [
    [{ ...base, resourceType: 'table' }, 'resourceType'],
    [{ ...base, operation: 'fly' }, 'operation'],
    [{ ...base, permission: 'maybe' }, 'permission'],
    [{ ...base, patternType: 'regex' }, 'patternType'],
    [{ ...base, principal: '' }, 'principal'],
    [{ ...base, resourceName: undefined }, 'resourceName'],
  ];
  for (const [body, field] of cases) {
    const res = await api.request('POST', '/api/acls', body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.error.field, field);
  }
  let res = await api.request('DELETE', '/api/acls', {});
  assert.equal(res.status, 400, 'an empty filter would remove everything');
  res = await api.request('GET', '/api/acls?colour=red');
  assert.equal(res.status, 400);
  res = await api.request('GET', '/api/acls');
  assert.deepEqual(res.body.acls, []);
});
