import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { openBroker, startApi } from './api-helper.js';
import { registerApi } from '../../../src/server/api/api-routes.js';

test('every registered /api route appears in the OpenAPI document', async (t) => {
  const { broker, cleanup } = await openBroker();
  const app = Fastify();
  t.after(async () => {
    await app.close();
    await cleanup();
  });
  const routes: string[] = [];
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    // HEAD routes are fastify's automatic twins of GET routes.
    for (const m of methods) if (m !== 'HEAD' && r.url.startsWith('/api')) routes.push(`${m.toLowerCase()} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
  });
  await app.register(registerApi, { broker, version: 'test' });
  await app.ready();
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: { [p: string]: { [m: string]: unknown } } };
  const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
  assert.ok(routes.length >= 15, `found ${routes.length} routes`);
  for (const r of routes) assert.ok(documented.includes(r), `${r} is documented`);
  for (const d of documented) assert.ok(routes.includes(d), `${d} is a real route`);
});

test('/openapi.json is served as an OpenAPI 3 document with request schemas', async (t) => {
  const api = await startApi(t);
  const res = await api.request('GET', '/openapi.json');
  assert.equal(res.status, 200);
  assert.match(res.body.openapi, /^3\./);
  const create = res.body.paths['/api/streams'].post;
  const schema = create.requestBody.content['application/json'].schema;
  assert.ok(schema.properties.name, 'the create body names its fields');
  assert.deepEqual(schema.required, ['name']);
  const read = res.body.paths['/api/streams/{name}/records'].get;
  assert.ok(read.parameters.some((p: { name: string; in: string }) => p.name === 'offset' && p.in === 'query'));
});
