import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { createHttpPlugin } from '../../../src/server/http.js';
import { createMetrics } from '../../../src/server/metrics.js';
import { resolveConfig } from '../../../src/server/config.js';
import { formatAddress } from '../../../src/server/protocol-plugin.js';
import { openBroker, TIMEOUT_MS } from './api-helper.js';

async function startAuthApi(t: { after(fn: () => Promise<void>): void }) {
  const { broker, cleanup } = await openBroker();
  const { config } = await resolveConfig({ env: {}, cwd: tmpdir(), stdoutIsTTY: false, flags: { httpPort: '0', httpAuth: 'on' } });
  const plugin = createHttpPlugin();
  const bound = await plugin.start({ config, broker, metrics: createMetrics(), logger: pino({ level: 'silent' }), state: () => 'ready', isReady: () => true });
  t.after(async () => {
    await plugin.stop();
    await cleanup();
  });
  const base = `http://${formatAddress(bound[0]!)}`;
  const request = async (method: string, path: string, user?: string, body?: unknown) => {
    const headers: { [k: string]: string } = {};
    if (user !== undefined) headers.authorization = `Basic ${Buffer.from(user).toString('base64')}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(TIMEOUT_MS) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text === '' ? undefined : text.startsWith('{') ? JSON.parse(text) : text };
  };
  return { broker, base, request };
}

test('with --http-auth on, API requests need basic auth of a known user; probes and metrics stay open', async (t) => {
  const api = await startAuthApi(t);
  await api.broker.users.create('alice', 's3cret');

  let res = await api.request('GET', '/api/streams');
  assert.equal(res.status, 401);
  assert.equal(res.body.error.code, 'TRIB_AUTHENTICATION_FAILED');
  assert.match(res.headers.get('www-authenticate')!, /^Basic realm="tributary"/);
  res = await api.request('GET', '/api/streams', 'alice:wrong');
  assert.equal(res.status, 401);
  res = await api.request('GET', '/api/streams', 'nobody:s3cret');
  assert.equal(res.status, 401);
  res = await api.request('GET', '/api/streams', 'alice:s3cret');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('www-authenticate'), null);
  // The remembered login is used again, and still checked against the user store.
  res = await api.request('GET', '/api/streams', 'alice:s3cret');
  assert.equal(res.status, 200);

  assert.equal((await api.request('GET', '/healthz')).status, 200);
  assert.equal((await api.request('GET', '/metrics')).status, 200);

  // A WebSocket upgrade without credentials is refused before the upgrade.
  const ws = new WebSocket(`${api.base.replace('http', 'ws')}/api/subjects/a/ws`);
  ws.on('error', () => undefined);
  const status = await new Promise<number>((resolve) =>
    ws.once('unexpected-response', (req, r) => {
      // With this listener set, ws leaves the refused request open: end it, or the server waits on it.
      req.destroy();
      resolve(r.statusCode!);
    }),
  );
  assert.equal(status, 401);

  await api.broker.users.delete('alice');
  res = await api.request('GET', '/api/streams', 'alice:s3cret');
  assert.equal(res.status, 401, 'a deleted user loses access at once');
});

test('an authenticated request acts as its user for the ACLs', async (t) => {
  const api = await startAuthApi(t);
  await api.broker.users.create('alice', 'a');
  await api.broker.users.create('bob', 'b');
  for (const resourceType of ['cluster', 'stream']) {
    const res = await api.request('POST', '/api/acls', 'alice:a', { principal: 'alice', resourceType, resourceName: '*', operation: '*', permission: 'allow' });
    assert.equal(res.status, 201);
  }
  let res = await api.request('POST', '/api/streams', 'bob:b', { name: 'bobs' });
  assert.equal(res.status, 403);
  assert.equal(res.body.error.code, 'TRIB_UNAUTHORIZED');
  assert.match(res.body.error.message, /'bob'/);
  res = await api.request('POST', '/api/streams', 'alice:a', { name: 'alices' });
  assert.equal(res.status, 201);
});
