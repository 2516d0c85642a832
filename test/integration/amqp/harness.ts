/**
 * Shared set-up for the AMQP integration tests: a Broker over a temp data dir plus the AMQP listener on
 * 127.0.0.1:0, torn down with t.after() (test/support/broker-fixture.ts); amqplib connections closed after the
 * test; a raw TCP client for exact-bytes checks; awaiting with timeouts (no sleeps).
 */
import type { TestContext } from 'node:test';
import amqp, { type ChannelModel } from 'amqplib';
import type { Broker, BrokerOptions } from '../../../src/core/broker.js';
import { createAmqpListener, type AmqpListener, type AmqpOptions } from '../../../src/protocols/amqp/index.js';
import { startBroker } from '../../support/broker-fixture.js';
import { RawClient } from '../../support/raw-client.js';
import { within } from '../../support/within.js';
import type { LogEntry } from '../../support/capture-logger.js';
export { within } from '../../support/within.js';
export { captureLogger, type LogEntry } from '../../support/capture-logger.js';
export { RawClient } from '../../support/raw-client.js';

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
  const b = await startBroker(t, {
    name: 'amqp',
    broker: { fsync: 'always', ...opts.broker },
    dataDir: opts.dataDir,
    listener: (deps) => createAmqpListener({ ...deps, options: opts.amqp }),
  });
  const port = b.port;
  return {
    broker: b.broker,
    listener: b.listener,
    port,
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    dataDir: b.dataDir,
    entries: b.entries,
    stop: () => b.stop(),
    async client(query = '', user = 'guest', pass = 'guest') {
      const c = await within(amqp.connect(`amqp://${user}:${pass}@127.0.0.1:${port}${query}`), 'amqplib connect');
      c.on('error', () => undefined);
      b.onStop(() => within(c.close(), 'amqplib close', 2000));
      return c;
    },
    async raw() {
      const r = await RawClient.connect(port, WAIT_MS);
      b.onStop(() => r.socket.destroy());
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
