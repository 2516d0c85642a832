/**
 * Shared set-up for the AMQP integration tests: a Broker over a temp data dir plus the AMQP listener on
 * 127.0.0.1:0, torn down with t.after(); amqplib connections closed after the test; a raw TCP client for
 * exact-bytes checks; awaiting with timeouts (no sleeps).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import amqp, { type ChannelModel } from 'amqplib';
import { Broker, type BrokerOptions } from '../../../src/core/broker.js';
import { createAmqpListener, type AmqpListener, type AmqpOptions } from '../../../src/protocols/amqp/index.js';
import { within } from '../../support/within.js';
import { captureLogger, type LogEntry } from '../../support/capture-logger.js';
export { within } from '../../support/within.js';
export { captureLogger, type LogEntry } from '../../support/capture-logger.js';

export const WAIT_MS = 5_000;


export interface Fixture {
  broker: Broker;
  listener: AmqpListener;
  port: number;
  url: string;
  dataDir: string;
  entries: LogEntry[];
  /** An amqplib connection closed after the test. */
  client(query?: string, user?: string, pass?: string): Promise<ChannelModel>;
  raw(): Promise<RawClient>;
  /** Closes listener and broker (the data dir stays until the test ends). */
  stop(): Promise<void>;
}

export interface StartOptions {
  amqp?: Partial<AmqpOptions>;
  broker?: Partial<BrokerOptions>;
  /** Reuse a data dir (restart tests); it is removed by whoever created it. */
  dataDir?: string;
}

export async function startAmqp(t: TestContext, opts: StartOptions = {}): Promise<Fixture> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'trib-amqp-')));
  const broker = await Broker.open({ dataDir, fsync: 'always', fsyncIntervalMs: 1000, ...opts.broker });
  const { logger, entries } = captureLogger();
  const listener = createAmqpListener({ broker, logger, options: opts.amqp });
  const [bound] = await listener.listen('127.0.0.1', 0);
  const clients: ChannelModel[] = [];
  const raws: RawClient[] = [];
  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      for (const c of clients) await within(c.close(), 'amqplib close', 2000).catch(() => undefined);
      for (const r of raws) r.socket.destroy();
      await listener.close();
      await broker.close();
    })();
    return stopped;
  };
  t.after(async () => {
    await stop();
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
  });
  const url = `amqp://guest:guest@127.0.0.1:${bound.port}`;
  return {
    broker,
    listener,
    port: bound.port,
    url,
    dataDir,
    entries,
    stop,
    async client(query = '', user = 'guest', pass = 'guest') {
      const c = await within(amqp.connect(`amqp://${user}:${pass}@127.0.0.1:${bound.port}${query}`), 'amqplib connect');
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    async raw() {
      const r = await RawClient.connect(bound.port);
      raws.push(r);
      return r;
    },
  };
}


/** Resolves once `n` values were pushed; `push` is the callback to give a consumer. */
export function collector<T>(n: number, what: string): { push: (v: T) => void; done: Promise<T[]>; items: T[] } {
  const items: T[] = [];
  let resolve!: (v: T[]) => void;
  const p = new Promise<T[]>((r) => (resolve = r));
  return {
    items,
    push: (v: T) => {
      items.push(v);
      if (items.length === n) resolve(items);
    },
    done: within(p, what),
  };
}

/** A plain TCP client: every byte received, and a way to await a condition on them. */
export class RawClient {
  data = Buffer.alloc(0);
  ended = false;
  private waiters: Array<() => void> = [];
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (b: Buffer) => {
      this.data = Buffer.concat([this.data, b]);
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

  send(b: Buffer): void {
    this.socket.write(b);
  }

  /** Resolves when `test(data)` holds (checked on every arrival). */
  async waitFor(test: (data: Buffer) => boolean, what: string): Promise<Buffer> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      if (test(this.data)) return this.data;
      if (this.ended) throw new Error(`connection closed before ${what}; got ${this.data.toString('hex').slice(-400)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${this.data.toString('hex').slice(-400)}`);
      await within(new Promise<void>((resolve) => this.waiters.push(resolve)), what, left).catch(() => undefined);
    }
  }

  waitClosed(): Promise<void> {
    return within(this.closed, 'the server to close the connection');
  }
}

/** Resolves once `cond()` holds, checked every few ms (for state with no event to await), within WAIT_MS. */
export function until(cond: () => boolean, what: string): Promise<void> {
  return within(
    new Promise<void>((resolve) => {
      const check = (): void => (cond() ? resolve() : void setTimeout(check, 5));
      check();
    }),
    what,
  );
}

/** Takes every message now ready in `queue` with basic.get (no-ack) and returns the bodies as strings. */
export async function drainQueue(ch: { get(queue: string, options?: { noAck?: boolean }): Promise<false | { content: Buffer }> }, queue: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: true });
    if (m === false) return out;
    out.push(m.content.toString());
  }
}
