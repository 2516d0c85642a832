/**
 * Shared set-up for the Kafka integration tests: a real Broker over a temp data dir plus the Kafka listener on
 * 127.0.0.1:0, torn down with t.after(); kafkajs clients (logLevel NOTHING) disconnected after the test; a
 * broker restart over the same data dir; awaiting with timeouts (no sleeps).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { Broker } from '../../../src/core/broker.js';
import { createKafkaListener, type KafkaListener, type KafkaListenerConfig } from '../../../src/protocols/kafka/index.js';
import { within } from '../../support/within.js';
import { captureLogger, type LogEntry } from '../../support/capture-logger.js';
export { within } from '../../support/within.js';
export { captureLogger, type LogEntry } from '../../support/capture-logger.js';

export const WAIT_MS = 15_000;


export interface Disconnectable {
  disconnect(): Promise<void>;
}

export interface KafkaFixture {
  broker: Broker;
  listener: KafkaListener;
  port: number;
  brokers: string[];
  entries: LogEntry[];
  /** A kafkajs client for this broker; connections made through `track` are closed after the test. */
  kafka(extra?: Partial<KafkaConfig>): Kafka;
  track<T extends Disconnectable>(client: T): T;
  /** Closes listener and broker, reopens both over the same data dir (same port when possible). */
  restart(): Promise<void>;
}

export async function startKafka(t: TestContext, config: Partial<KafkaListenerConfig> = {}): Promise<KafkaFixture> {
  const dataDir = await mkdtemp(join(tmpdir(), 'trib-kafka-'));
  const { logger, entries } = captureLogger();
  const clients: Disconnectable[] = [];
  const open = async (port: number): Promise<{ broker: Broker; listener: KafkaListener; port: number }> => {
    const broker = await Broker.open({ dataDir, fsync: 'always', fsyncIntervalMs: 100, groups: { minSessionTimeoutMs: 1000 } });
    const listener = createKafkaListener({ broker, logger, config: { advertisedHost: '127.0.0.1', ...config } });
    const [bound] = await listener.listen('127.0.0.1', port);
    return { broker, listener, port: bound.port };
  };
  let current = await open(0);
  const fixture: KafkaFixture = {
    broker: current.broker,
    listener: current.listener,
    port: current.port,
    brokers: [`127.0.0.1:${current.port}`],
    entries,
    kafka(extra = {}) {
      return new Kafka({ clientId: 'test', brokers: fixture.brokers, logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 50, maxRetryTime: 500 }, ...extra });
    },
    track(client) {
      clients.push(client);
      return client;
    },
    async restart() {
      await current.listener.close();
      await current.broker.close();
      current = await open(current.port);
      fixture.broker = current.broker;
      fixture.listener = current.listener;
    },
  };
  t.after(async () => {
    for (const c of clients) await c.disconnect().catch(() => undefined);
    await current.listener.close();
    await current.broker.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return fixture;
}


/** A promise resolved by calling `resolve`, for awaiting a condition reached in callbacks. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
