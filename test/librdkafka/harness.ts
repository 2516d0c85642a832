/**
 * Set-up for the librdkafka tier: the real `tributary serve` binary on a temp data directory with port 0 for
 * every listener (librdkafka's threads then never share an event loop with the broker they wait on), and the
 * binding's KafkaJS-compatible client for it. The client configuration is librdkafka's defaults apart from
 * `bootstrap.servers`; each test adds only what its feature needs (transactional.id, group.id, ...). The
 * binding's log lines are kept and appended to a failing wait's message instead of printed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { EPHEMERAL, serveProcess, type Tributary } from '../support/tributary-process.js';
import { within } from '../support/within.js';
import { binding, type Admin, type Consumer, type LogEntry, type Logger, type Producer, type RdConfig } from './binding.js';

export interface Disconnectable {
  disconnect(): Promise<void>;
}

export interface RdFixture {
  server: Tributary;
  bootstrap: string;
  /** Every log line of the binding's clients (librdkafka's included), oldest first. */
  log: LogEntry[];
  /** A producer, consumer or admin client of the binding with `config` added to `bootstrap.servers`; each is
   * disconnected after the test, before the broker stops. */
  producer(config?: RdConfig): Producer;
  consumer(config: RdConfig): Consumer;
  admin(): Admin;
  /** `within` whose timeout message ends with the binding's last log lines. */
  wait<T>(p: Promise<T>, what: string, ms?: number): Promise<T>;
}

type LogSink = Pick<Logger, 'info' | 'error' | 'warn' | 'debug'>;

/** Logger methods that record each line in `log` instead of printing it. */
function recorder(log: LogEntry[]): LogSink {
  return {
    info: (message, extra) => void log.push({ level: 'info', message, extra }),
    error: (message, extra) => void log.push({ level: 'error', message, extra }),
    warn: (message, extra) => void log.push({ level: 'warn', message, extra }),
    debug: (message, extra) => void log.push({ level: 'debug', message, extra }),
  };
}

export async function startServed(t: TestContext): Promise<RdFixture> {
  if (binding === null) throw new Error('the librdkafka tier is not installed; its tests are skipped with skipReason');
  const dir = await mkdtemp(join(tmpdir(), 'trib-rdkafka-'));
  const server = serveProcess(dir, ['--data-dir', join(dir, 'data'), ...EPHEMERAL]);
  const clients: Disconnectable[] = [];
  t.after(async () => {
    for (const c of clients.reverse()) await within(c.disconnect(), 'a librdkafka client to disconnect').catch(() => undefined);
    server.kill('SIGTERM');
    await server.waitForExit().catch(() => server.kill('SIGKILL'));
    await rm(dir, { recursive: true, force: true });
  });
  const ports = await server.ports();
  const bootstrap = `127.0.0.1:${ports['kafka']!}`;
  const log: LogEntry[] = [];
  const sink = recorder(log);
  const adminLogger: Logger = { ...sink, namespace: () => adminLogger, setLogLevel: () => undefined };
  // No kafkaJS block for producers and consumers: it would switch the binding to KafkaJS defaults (partitioner,
  // assignor, retries); their default logger is re-pointed instead. The admin client has no such accessor, and
  // its kafkaJS block changes nothing but the logger.
  const kafka = new binding.KafkaJS.Kafka({ 'bootstrap.servers': bootstrap });
  const track = <T extends Disconnectable>(client: T): T => (clients.push(client), client);
  return {
    server,
    bootstrap,
    log,
    producer: (config = {}) => {
      const p = track(kafka.producer(config));
      Object.assign(p.logger(), sink);
      return p;
    },
    consumer: (config) => {
      const c = track(kafka.consumer(config));
      Object.assign(c.logger(), sink);
      return c;
    },
    admin: () => track(kafka.admin({ kafkaJS: { logger: adminLogger } })),
    wait(p, what, ms) {
      let settled = false;
      const tracked = p.finally(() => (settled = true));
      return within(tracked, what, ms).catch((err: Error) => {
        if (settled) throw err; // the client's own error, passed on unchanged
        const tail = log.slice(-15).map((e) => `  ${e.level}: ${e.message}`).join('\n');
        throw new Error(`${err.message}\nlast librdkafka log lines:\n${tail}`);
      });
    },
  };
}
