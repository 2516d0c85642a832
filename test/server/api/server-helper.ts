// A whole in-process server for the HTTP API tests that need real protocol clients: startServer (lifecycle.ts)
// with every default listener on 127.0.0.1:0 over a temp data dir, and a JSON request helper for its HTTP API.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Broker } from '../../../src/core/broker.js';
import { resolveConfig } from '../../../src/server/config.js';
import { startServer, type RunningServer } from '../../../src/server/lifecycle.js';
import { formatAddress } from '../../../src/server/protocol-plugin.js';
import { TIMEOUT_MS, type ApiReply } from './api-helper.js';

export interface TestServer {
  server: RunningServer;
  broker: Broker;
  base: string;
  port(protocol: 'kafka' | 'amqp' | 'nats' | 'mqtt' | 'http'): number;
  request(method: string, path: string, body?: unknown): Promise<ApiReply>;
  /**
   * Runs `close` (a client's disconnect) before the server stops: node:test runs after-hooks in the order they
   * were added, so a client closed by its own t.after would talk to a stopped server and keep retrying.
   */
  beforeStop(close: () => Promise<unknown>): void;
}

/** Rejects after `ms` naming what was awaited. */
export function within<T>(p: Promise<T>, what: string, ms = TIMEOUT_MS): Promise<T> {
  let timer!: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `cond` (bounded) until it holds: for state the server changes asynchronously. */
export async function eventually<T>(cond: () => Promise<T | undefined | false> | T | undefined | false, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startTestServer(t: { after(fn: () => Promise<void>): void }): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-api-server-'));
  const { config } = await resolveConfig({
    env: {},
    cwd: dir,
    stdoutIsTTY: false,
    flags: { dataDir: join(dir, 'data'), httpPort: '0', kafkaPort: '0', amqpPort: '0', natsPort: '0', mqttPort: '0', host: '127.0.0.1' },
  });
  let broker: Broker | null = null;
  const server = await startServer({
    config,
    version: 'test',
    logger: pino({ level: 'silent' }),
    // Short group timers so kafkajs consumers join and leave quickly.
    openBroker: async (options) => (broker = await Broker.open({ ...options, groups: { minSessionTimeoutMs: 1000, initialRebalanceDelayMs: 0 } })),
  });
  const closers: Array<() => Promise<unknown>> = [];
  t.after(async () => {
    for (const close of closers.reverse()) await within(close(), 'a client closing', 5000).catch(() => undefined);
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const port = (protocol: string): number => server.addresses.get(protocol)![0]!.port;
  const base = `http://${formatAddress(server.addresses.get('http')![0]!)}`;
  return {
    server,
    broker: broker!,
    base,
    port,
    beforeStop: (close) => void closers.push(close),
    async request(method, path, body) {
      const init: RequestInit = { method, signal: AbortSignal.timeout(TIMEOUT_MS) };
      if (body !== undefined) {
        init.body = JSON.stringify(body);
        init.headers = { 'content-type': 'application/json' };
      }
      const res = await fetch(base + path, init);
      const text = await res.text();
      return { status: res.status, body: text === '' ? undefined : JSON.parse(text), headers: res.headers };
    },
  };
}
