/**
 * Shared set-up for the NATS integration tests: a Broker over a temp data dir plus a NATS listener on
 * 127.0.0.1:0, torn down with t.after(); a raw TCP client for exact-bytes checks; awaiting with timeouts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Broker, type BrokerOptions } from '../../../src/core/broker.js';
import { createNatsListener, type NatsListener, type NatsSessionOptions } from '../../../src/protocols/nats/index.js';
import { within } from '../../support/within.js';
import { captureLogger, type LogEntry } from '../../support/capture-logger.js';
export { within } from '../../support/within.js';
export { captureLogger, type LogEntry } from '../../support/capture-logger.js';

export const WAIT_MS = 5_000;


export interface Fixture {
  broker: Broker;
  listener: NatsListener;
  port: number;
  servers: string;
  entries: LogEntry[];
  /** A nats.js connection closed after the test. */
  client(options?: Record<string, unknown>): Promise<NatsConnection>;
  /** A raw TCP client closed after the test. */
  raw(): Promise<RawClient>;
}

export async function startNats(t: TestContext, options: Partial<NatsSessionOptions> = {}, brokerOptions: Partial<BrokerOptions> = {}): Promise<Fixture> {
  const dataDir = await mkdtemp(join(tmpdir(), 'trib-nats-'));
  const broker = await Broker.open({ dataDir, fsync: 'never', fsyncIntervalMs: 1000, ...brokerOptions });
  const { logger, entries } = captureLogger();
  const listener = createNatsListener({ broker, logger, options });
  const [bound] = await listener.listen('127.0.0.1', 0);
  const clients: NatsConnection[] = [];
  const raws: RawClient[] = [];
  t.after(async () => {
    for (const nc of clients) if (!nc.isClosed()) await nc.close().catch(() => undefined);
    for (const r of raws) r.socket.destroy();
    await listener.close();
    await broker.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  const servers = `127.0.0.1:${bound.port}`;
  return {
    broker,
    listener,
    port: bound.port,
    servers,
    entries,
    async client(extra = {}) {
      const nc = await connect({ servers, reconnect: false, timeout: WAIT_MS, ...extra });
      clients.push(nc);
      return nc;
    },
    async raw() {
      const r = await RawClient.connect(bound.port);
      raws.push(r);
      return r;
    },
  };
}


/** A plain TCP client: everything received, as latin1 text, and a way to await a pattern in it. */
export class RawClient {
  text = '';
  ended = false;
  private waiters: Array<() => void> = [];
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (s: string) => {
      this.text += s;
      this.wake();
    });
    socket.on('error', () => undefined);
    this.closed = once(socket, 'close').then(() => {
      this.ended = true;
      this.wake();
    });
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = netConnect(port, '127.0.0.1');
    await within(once(socket, 'connect'), 'raw connect');
    return new RawClient(socket);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(s: string | Buffer): void {
    this.socket.write(s);
  }

  /** Resolves when the received text matches `re` (checked on every arrival). */
  async waitFor(re: RegExp, what = String(re)): Promise<RegExpMatchArray> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const m = this.text.match(re);
      if (m !== null) return m;
      if (this.ended) throw new Error(`connection closed before ${what}; got ${JSON.stringify(this.text.slice(-500))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.text.slice(-500))}`);
      await within(new Promise<void>((resolve) => this.waiters.push(resolve)), what, left).catch(() => undefined);
    }
  }

  waitClosed(): Promise<void> {
    return within(this.closed, 'the server to close the connection');
  }
}

/** Collects messages of a nats.js subscription until `n` have arrived. */
export function collect<T>(iter: AsyncIterable<T>, n: number, what: string): Promise<T[]> {
  return within(
    (async () => {
      const out: T[] = [];
      if (n === 0) return out;
      for await (const m of iter) {
        out.push(m);
        if (out.length >= n) break;
      }
      return out;
    })(),
    what,
  );
}
