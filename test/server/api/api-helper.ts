// Shared set-up for the HTTP API tests: a real Broker on a temp dir behind the real HTTP plugin on port 0.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Broker } from '../../../src/core/broker.js';
import { createHttpPlugin } from '../../../src/server/http.js';
import { createMetrics } from '../../../src/server/metrics.js';
import { resolveConfig } from '../../../src/server/config.js';
import { formatAddress } from '../../../src/server/protocol-plugin.js';

export const TIMEOUT_MS = 10_000;

export interface ApiReply {
  status: number;
  body: any;
  headers: Headers;
}

export interface TestApi {
  base: string;
  broker: Broker;
  /** Stops the HTTP listener early (idempotent; the test's cleanup stops it too). */
  stop(): Promise<void>;
  request(method: string, path: string, body?: unknown, init?: { rawBody?: string; contentType?: string }): Promise<ApiReply>;
}

/** A Broker on a fresh temp dir, and how to close it and remove the dir. */
export async function openBroker(): Promise<{ broker: Broker; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-api-'));
  const broker = await Broker.open({ dataDir: dir, fsync: 'never', fsyncIntervalMs: 1000 });
  return {
    broker,
    cleanup: async () => {
      await broker.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function startApi(t: { after(fn: () => Promise<void>): void }): Promise<TestApi> {
  const { broker, cleanup } = await openBroker();
  const { config } = await resolveConfig({ env: {}, cwd: tmpdir(), stdoutIsTTY: false, flags: { httpPort: '0' } });
  const plugin = createHttpPlugin();
  const bound = await plugin.start({
    config,
    broker,
    metrics: createMetrics(),
    logger: pino({ level: 'silent' }),
    state: () => 'ready',
    isReady: () => true,
  });
  // One hook, so the listener (and its live subscriptions) stops before the broker closes.
  t.after(async () => {
    await plugin.stop();
    await cleanup();
  });
  const base = `http://${formatAddress(bound[0]!)}`;
  return {
    base,
    broker,
    stop: () => plugin.stop(),
    async request(method, path, body, init = {}) {
      const payload = init.rawBody ?? (body === undefined ? undefined : JSON.stringify(body));
      const headers: { [k: string]: string } = {};
      if (payload !== undefined) headers['content-type'] = init.contentType ?? 'application/json';
      const res = await fetch(base + path, { method, body: payload, headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
      const text = await res.text();
      return { status: res.status, body: text === '' ? undefined : JSON.parse(text), headers: res.headers };
    },
  };
}
