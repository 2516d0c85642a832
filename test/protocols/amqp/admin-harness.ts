/**
 * Set-up for the AMQP tests that drive the broker's HTTP API as well (vhosts, permissions, admin deletes): one
 * Broker over a temp data dir, the AMQP listener and the HTTP API both on 127.0.0.1:0, stopped in order (clients,
 * HTTP, AMQP, broker) by one t.after. `restart()` reopens the same data dir.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import amqp, { type ChannelModel } from 'amqplib';
import { pino } from 'pino';
import { Broker } from '../../../src/core/broker.js';
import { createAmqpListener, type AmqpListener, type AmqpOptions } from '../../../src/protocols/amqp/index.js';
import { createHttpPlugin } from '../../../src/server/http.js';
import { createMetrics } from '../../../src/server/metrics.js';
import { resolveConfig } from '../../../src/server/config.js';
import { formatAddress } from '../../../src/server/protocol-plugin.js';
import { within } from '../../support/within.js';
import { captureLogger, type LogEntry } from '../../support/capture-logger.js';

export { within };

export interface ApiReply {
  status: number;
  body: any;
}

export interface AdminFixture {
  broker: Broker;
  listener: AmqpListener;
  amqpPort: number;
  entries: LogEntry[];
  dataDir: string;
  /** An amqplib connection to `vhost` ('/' by default) as user/pass (guest), closed after the test. */
  connect(vhost?: string, user?: string, pass?: string, socketOptions?: { clientProperties?: { [key: string]: unknown } }): Promise<ChannelModel>;
  /** The same, resolving with the error when the broker refuses the connection. */
  refused(vhost?: string, user?: string, pass?: string): Promise<Error>;
  /** An HTTP API request; `auth` = [user, password] sends HTTP basic auth (for `httpAuth: true`). */
  api(method: string, path: string, body?: unknown, auth?: [string, string]): Promise<ApiReply>;
  /** Closes everything and opens a new broker, listener and API over the same data dir. */
  restart(): Promise<void>;
}

interface Running {
  broker: Broker;
  listener: AmqpListener;
  amqpPort: number;
  http: { stop(): Promise<void> };
  base: string;
}

export async function startAdmin(t: TestContext, amqpOptions: Partial<AmqpOptions> = {}, options: { httpAuth?: boolean } = {}): Promise<AdminFixture> {
  const dataDir = await mkdtemp(join(tmpdir(), 'trib-amqp-admin-'));
  const { logger, entries } = captureLogger();
  const clients: ChannelModel[] = [];
  const open = async (): Promise<Running> => {
    const broker = await Broker.open({ dataDir, fsync: 'always', fsyncIntervalMs: 1000 });
    const listener = createAmqpListener({ broker, logger, options: amqpOptions });
    const [bound] = await listener.listen('127.0.0.1', 0);
    const { config } = await resolveConfig({ env: {}, cwd: tmpdir(), stdoutIsTTY: false, flags: { httpPort: '0', host: '127.0.0.1', httpAuth: options.httpAuth === true ? 'on' : 'off' } });
    const http = createHttpPlugin();
    const addresses = await http.start({ config, broker, metrics: createMetrics(), logger: pino({ level: 'silent' }), state: () => 'ready', isReady: () => true });
    return { broker, listener, amqpPort: bound!.port, http, base: `http://${formatAddress(addresses[0]!)}` };
  };
  const close = async (r: Running): Promise<void> => {
    for (const c of clients.splice(0)) await within(c.close(), 'amqplib close', 2000).catch(() => undefined);
    await r.http.stop();
    await r.listener.close();
    await r.broker.close();
  };
  let running = await open();
  t.after(async () => {
    await close(running);
    await rm(dataDir, { recursive: true, force: true });
  });
  const url = (vhost: string, user: string, pass: string): string => `amqp://${user}:${pass}@127.0.0.1:${running.amqpPort}/${encodeURIComponent(vhost)}`;
  const fixture: AdminFixture = {
    get broker() {
      return running.broker;
    },
    get listener() {
      return running.listener;
    },
    get amqpPort() {
      return running.amqpPort;
    },
    entries,
    dataDir,
    async connect(vhost = '/', user = 'guest', pass = 'guest', socketOptions = {}) {
      const c = await within(amqp.connect(url(vhost, user, pass), socketOptions), `amqplib connect to vhost ${vhost}`);
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    async refused(vhost = '/', user = 'guest', pass = 'guest') {
      const result = await within(
        amqp.connect(url(vhost, user, pass)).then(
          (c) => {
            clients.push(c);
            return null;
          },
          (err: Error) => err,
        ),
        `amqplib connect to vhost ${vhost} (expected to fail)`,
      );
      if (result === null) throw new Error(`the connection to vhost ${vhost} was accepted`);
      return result;
    },
    async api(method, path, body, auth) {
      const headers: { [k: string]: string } = {};
      const init: RequestInit = { method, headers, signal: AbortSignal.timeout(10_000) };
      if (body !== undefined) {
        init.body = JSON.stringify(body);
        headers['content-type'] = 'application/json';
      }
      if (auth !== undefined) headers['authorization'] = `Basic ${Buffer.from(`${auth[0]}:${auth[1]}`).toString('base64')}`;
      const res = await fetch(running.base + path, init);
      const text = await res.text();
      return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
    },
    async restart() {
      await close(running);
      running = await open();
    },
  };
  return fixture;
}

/** The reply code and text of the last AMQP connection error the broker logged (e.g. 530 on connection.open). */
export function lastConnectionError(entries: LogEntry[]): { code: number; text: string } | undefined {
  for (let i = entries.length - 1; i >= 0; i--) {
    const o = entries[i]!.obj as { code?: number; err?: string };
    if (typeof o.code === 'number' && typeof o.err === 'string' && /amqp connection error/.test(entries[i]!.msg)) return { code: o.code, text: o.err };
  }
  return undefined;
}
