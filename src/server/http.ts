/**
 * The server's own HTTP listener, as a ProtocolPlugin: health, readiness and Prometheus metrics, and, when the
 * broker is the core Broker, the HTTP API (src/server/api/, documented at /openapi.json and docs/http-api.md).
 *
 * /healthz and /readyz answer 200 {"status":"ok"} only while the server is ready, and 503 with the state
 * ("starting", "stopping") otherwise, so a load balancer drains the broker as soon as shutdown begins.
 * Requests are not logged: probes arrive every few seconds and would drown the log.
 */
import Fastify, { LogController, type FastifyReply } from 'fastify';
import { readFileSync } from 'node:fs';
import type { BoundAddress, ProtocolContext, ProtocolPlugin } from './protocol-plugin.js';
import { Broker } from '../core/broker.js';
import { API_BODY_LIMIT_BYTES, registerApi } from './api/api-routes.js';

/** The package version, for /openapi.json (dist/src/server/http.js -> package.json). */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

export function createHttpPlugin(): ProtocolPlugin {
  let app: { close(): Promise<unknown> } | null = null;
  return {
    name: 'http',
    async start(ctx: ProtocolContext): Promise<BoundAddress[]> {
      // Fastify logs its own "Server listening at" at info; the server's single start line already names the
      // address, so fastify's logger starts at warn (or stricter, if the configured level is).
      const level = ctx.logger.levelVal >= 40 ? ctx.logger.level : 'warn';
      const instance = Fastify({
        loggerInstance: ctx.logger.child({}, { level }),
        logController: new LogController({ disableRequestLogging: true }),
        bodyLimit: API_BODY_LIMIT_BYTES,
      });
      app = instance;

      const health = async (_req: unknown, reply: FastifyReply): Promise<{ status: string }> => {
        if (ctx.isReady()) return { status: 'ok' };
        reply.code(503);
        const state = ctx.state();
        // Running, but the broker says it cannot serve (e.g. a storage failure it reported).
        return { status: state === 'ready' ? 'unavailable' : state };
      };
      instance.get('/healthz', health);
      instance.get('/readyz', health);
      instance.get('/metrics', async (_req, reply) => {
        reply.header('content-type', ctx.metrics.contentType);
        return ctx.metrics.render();
      });

      // Health and metrics work without a core Broker (the server's own tests run them over a stub handle).
      if (ctx.broker instanceof Broker) await instance.register(registerApi, { broker: ctx.broker, version: packageVersion() });

      const connections = ctx.metrics.connections.labels('http');
      instance.server.on('connection', (socket) => {
        connections.inc();
        socket.once('close', () => connections.dec());
      });

      await instance.listen({ host: ctx.config.host, port: ctx.config.httpPort });
      // addresses() lists every bound socket (`localhost` binds both 127.0.0.1 and ::1); strings are Unix sockets.
      return instance.addresses().flatMap((a) => (typeof a === 'string' ? [] : [{ address: a.address, port: a.port }]));
    },
    async stop(): Promise<void> {
      const instance = app;
      app = null;
      if (instance !== null) await instance.close();
    },
  };
}
