/**
 * Shared set-up for the NATS integration tests: a Broker over a temp data dir plus a NATS listener on
 * 127.0.0.1:0, torn down with t.after() (test/support/broker-fixture.ts); a raw TCP client for exact-bytes
 * checks; awaiting with timeouts.
 */
import type { TestContext } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Broker, BrokerOptions } from '../../../src/core/broker.js';
import { createNatsListener, type NatsListener, type NatsSessionOptions } from '../../../src/protocols/nats/index.js';
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
  const b = await startBroker(t, { name: 'nats', broker: brokerOptions, listener: (deps) => createNatsListener({ ...deps, options }) });
  const servers = `127.0.0.1:${b.port}`;
  return {
    broker: b.broker,
    listener: b.listener,
    port: b.port,
    servers,
    entries: b.entries,
    async client(extra = {}) {
      const nc = await connect({ servers, reconnect: false, timeout: WAIT_MS, ...extra });
      b.onStop(() => (nc.isClosed() ? undefined : nc.close()));
      return nc;
    },
    async raw() {
      const r = await RawClient.connect(b.port, WAIT_MS);
      b.onStop(() => r.socket.destroy());
      return r;
    },
  };
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
