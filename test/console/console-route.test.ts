// src/server/console.ts on its own: the built files at `/`, and a clear 503 where the console was not built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { registerConsole } from '../../src/server/console.js';

test('the console directory is served file by file, with index.html at /', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-console-dir-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>c</title>');
  await writeFile(join(dir, 'app.js'), 'export {};');
  const app = Fastify();
  t.after(() => app.close());
  await app.register(registerConsole, { dir });
  const index = await app.inject({ method: 'GET', url: '/' });
  assert.equal(index.statusCode, 200);
  assert.match(index.headers['content-type'] as string, /^text\/html/);
  assert.equal(index.body, '<!doctype html><title>c</title>');
  assert.equal((await app.inject({ method: 'GET', url: '/app.js' })).statusCode, 200);
  // No catch-all: other paths stay free for the API and other plugins (their own 404 handler answers).
  assert.equal((await app.inject({ method: 'GET', url: '/api/anything' })).statusCode, 404);
  assert.equal((await app.inject({ method: 'GET', url: '/../package.json' })).statusCode, 404);
});

test('a checkout without a built console answers / with 503 and how to build it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-console-empty-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const app = Fastify();
  t.after(() => app.close());
  await app.register(registerConsole, { dir });
  const res = await app.inject({ method: 'GET', url: '/' });
  assert.equal(res.statusCode, 503);
  assert.match(res.body, /npm run build/);
});
