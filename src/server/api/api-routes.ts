/**
 * The HTTP API as one fastify plugin: error handling, WebSocket support and one route plugin per resource.
 * http.ts registers it on the server's listener when the broker is the core Broker.
 */
import type { FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import { installErrorHandlers } from './error-reply.js';
import { installBasicAuth, type ApiOptions } from './api-context.js';
import { streamRoutes } from './streams.js';
import { recordRoutes } from './records.js';
import { subjectRoutes } from './subjects.js';
import { exchangeRoutes } from './exchanges.js';
import { queueRoutes } from './queues.js';
import { cursorRoutes } from './cursors.js';
import { userRoutes } from './users.js';
import { groupRoutes } from './groups.js';
import { connectionRoutes } from './connections.js';
import { bindingRoutes } from './bindings.js';
import { aclRoutes } from './acls.js';
import { statusRoutes } from './status.js';
import { streamEventRoutes } from './stream-events.js';
import { openApiRoutes } from './openapi.js';
import { vhostRoutes } from './vhosts.js';
import { permissionRoutes } from './permissions.js';

/** Largest request body accepted (413 above it): a produce of 1000 records of ~1 KiB fits. */
export const API_BODY_LIMIT_BYTES = 4 * 1024 * 1024;

export async function registerApi(app: FastifyInstance, options: ApiOptions & { version: string }): Promise<void> {
  installErrorHandlers(app);
  // maxPayload bounds what a client may send us; we never read client frames beyond closing.
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  // After the websocket plugin: its onRequest hook marks upgrade requests, so a refused upgrade's socket is
  // still destroyed by its onResponse hook (otherwise the server's close would wait on it).
  if (options.auth === true) installBasicAuth(app, options.broker);
  const all = [streamRoutes, recordRoutes, streamEventRoutes, subjectRoutes, exchangeRoutes, queueRoutes, bindingRoutes, cursorRoutes, userRoutes, groupRoutes, connectionRoutes, aclRoutes, statusRoutes, vhostRoutes, permissionRoutes];
  for (const routes of all) {
    await app.register(routes, options);
  }
  await app.register(openApiRoutes, { version: options.version });
}

