/**
 * The web console: the single-page app built into dist/console/ (console/*.ts compiled by
 * console/tsconfig.json, plus index.html, CSS and uPlot copied by scripts/build-console.mjs), served at `/`.
 *
 * Files are routed one by one (@fastify/static `wildcard: false`), never by a catch-all `/*`: a catch-all would
 * also take unknown `/api/...` GETs away from the API's JSON 404 and could shadow routes other plugins add
 * later (`/mqtt`). The console routes by URL fragment (`#/streams`), so it needs no fallback route either.
 * A checkout that has not built the console still starts; `/` then says how to build it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

/** dist/src/server/console.js -> dist/console/ */
export const CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

export async function registerConsole(app: FastifyInstance, options: { dir?: string } = {}): Promise<void> {
  const dir = options.dir ?? CONSOLE_DIR;
  if (!existsSync(`${dir}/index.html`)) {
    app.get('/', async (_req, reply) => reply.code(503).type('text/plain; charset=utf-8').send('The web console is not built: run `npm run build`.\n'));
    return;
  }
  await app.register(fastifyStatic, { root: dir, prefix: '/', wildcard: false, index: 'index.html', cacheControl: true, maxAge: 0 });
}
