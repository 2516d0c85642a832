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
import { formatAddress, type BoundAddress, type ProtocolContext, type ProtocolPlugin } from './protocol-plugin.js';
import { Broker } from '../core/broker.js';
import { API_BODY_LIMIT_BYTES, registerApi } from './api/api-routes.js';
import { registerBrokerMetrics } from './broker-metrics.js';
import { registerConsole } from './console.js';
import { registerMqttWebSocket } from './mqtt-websocket.js';

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
  let ownAddresses: BoundAddress[] = [];
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
      // /api/status names every listener: the server's map when it gives one (read per request, once all are
      // bound), else this listener's own addresses.
      const listeners = (): { [name: string]: string[] } => {
        const all = ctx.listeners?.() ?? new Map<string, BoundAddress[]>();
        const out: { [name: string]: string[] } = { http: ownAddresses.map(formatAddress) };
        for (const [name, bound] of all) out[name] = bound.map(formatAddress);
        return out;
      };
      if (ctx.broker instanceof Broker) {
        await instance.register(registerApi, { broker: ctx.broker, version: packageVersion(), listeners, startedAtMs: Date.now(), auth: ctx.config.httpAuth === 'on' });
        // Stream, queue, group and protocol series, computed from the broker when /metrics is scraped.
        registerBrokerMetrics(ctx.metrics, ctx.broker);
      }
      // The web console (dist/console/) at `/`: one route per built file, so every other path stays free.
      await instance.register(registerConsole);
      // MQTT over WebSocket (docs/mqtt.md): GET /mqtt upgrades into the MQTT listener.
      if (ctx.broker instanceof Broker) await instance.register(registerMqttWebSocket, { broker: ctx.broker });

      const connections = ctx.metrics.connections.labels('http');
      const registry = ctx.broker instanceof Broker ? ctx.broker.connections : null;
      instance.server.on('connection', (socket) => {
        connections.inc();
        const registered = registry?.register({ protocol: 'http', remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, transport: socket, close: () => socket.destroy() });
        socket.once('close', () => {
          connections.dec();
          registry?.unregister(registered);
        });
      });

      await instance.listen({ host: ctx.config.host, port: ctx.config.httpPort });
      // addresses() lists every bound socket (`localhost` binds both 127.0.0.1 and ::1); strings are Unix sockets.
      ownAddresses = instance.addresses().flatMap((a) => (typeof a === 'string' ? [] : [{ address: a.address, port: a.port }]));
      return ownAddresses;
    },
    async stop(): Promise<void> {
      const instance = app;
      app = null;
      if (instance !== null) await instance.close();
    },
  };
}
