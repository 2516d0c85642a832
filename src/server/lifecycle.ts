/**
 * Start and stop, in a fixed order so each step can rely on the one before:
 *
 *   start: resolve config → logger → data directory (LOCK, FORMAT) → broker (injected OpenBroker) → plugins in
 *          order → one "listening" line naming every bound address → ready
 *   stop:  not ready (/readyz 503) → plugins in reverse (stop accepting, close sessions) → broker.close()
 *          (flushes logs) → release LOCK → exit 0
 *
 * A failure at any start step undoes the steps already done (so a refused start never leaves a LOCK behind),
 * logs one line and exits 1. SIGINT/SIGTERM start a graceful stop; a second signal exits at once (1), releasing
 * the lock synchronously — storage is crash-safe by design, so this loses only what was not yet acknowledged.
 */
import type { Logger } from 'pino';
import { resolveConfig, logConfigFrom, parseNameList, parseUsers, ConfigError, type Config, type ConfigInputs } from './config.js';
import { openDataDir, DataDirError, type DataDir } from './data-dir.js';
import { createLogger } from './log.js';
import { tuneGarbageCollector } from './gc-tuning.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createHttpPlugin } from './http.js';
import { createAmqpListener } from '../protocols/amqp/index.js';
import { listenerPlugin } from './listener-plugin.js';
import { createNatsListener, natsOptionsFromConfig } from '../protocols/nats/index.js';
import { createMqttListener } from '../protocols/mqtt/index.js';
import { createKafkaListener } from '../protocols/kafka/index.js';
import { formatAddress, type BoundAddress, type ProtocolPlugin, type ServerState } from './protocol-plugin.js';
import type { BrokerHandle, OpenBroker } from './broker-handle.js';

export interface StartOptions {
  config: Config;
  version: string;
  openBroker: OpenBroker;
  logger: Logger;
  /** Listeners to start, in order; defaults to the HTTP health/metrics listener. */
  plugins?: ProtocolPlugin[];
  metrics?: Metrics;
}

export interface RunningServer {
  readonly state: ServerState;
  /** Bound addresses by plugin name, with the actual ports. */
  readonly addresses: ReadonlyMap<string, BoundAddress[]>;
  readonly dataDir: DataDir;
  readonly metrics: Metrics;
  /** Graceful stop; idempotent (a second call returns the same promise). */
  stop(): Promise<void>;
  /** For a forced exit: drops the lock synchronously and nothing else. */
  abandon(): void;
}

/** The default listeners. Protocol plugins are added here as they are written. */
export function defaultPlugins(): ProtocolPlugin[] {
  return [
    createHttpPlugin(),
    listenerPlugin('amqp', (c) => c.amqpPort, (d) => createAmqpListener({ broker: d.broker, logger: d.logger, connections: d.metrics.connections.labels('amqp'), options: { vhosts: parseNameList(d.config.amqpVhosts) } })),
    listenerPlugin('mqtt', (c) => c.mqttPort, (d) => createMqttListener({ broker: d.broker, logger: d.logger, connections: d.metrics.connections.labels('mqtt'), options: { maxKeepAliveSec: d.config.mqttMaxKeepalive } })),
    listenerPlugin('kafka', (c) => c.kafkaPort, (d) =>
      createKafkaListener({
        broker: d.broker,
        logger: d.logger,
        config: {
          advertisedHost: d.config.advertisedHost,
          kafkaAutoCreate: d.config.kafkaAutoCreate,
          kafkaDefaultPartitions: d.config.kafkaDefaultPartitions,
          kafkaMaxRequestBytes: d.config.kafkaMaxRequestBytes,
        },
      }),
    ),
    listenerPlugin('nats', (c) => c.natsPort, (d) =>
      createNatsListener({
        broker: d.broker,
        logger: d.logger,
        options: natsOptionsFromConfig(d.config),
        connections: d.metrics.connections.labels('nats'),
        slowConsumers: d.metrics.natsSlowConsumers,
      }),
    ),
  ];
}

/** Opens the data directory and the broker and starts the listeners; undoes all of it if any step fails. */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { config, logger } = options;
  const metrics = options.metrics ?? createMetrics();
  const plugins = options.plugins ?? defaultPlugins();
  let state: ServerState = 'starting';

  const dataDir = await openDataDir(config.dataDir, { version: options.version });
  if (dataDir.staleLock !== null) {
    logger.warn({ dataDir: dataDir.path, stalePid: dataDir.staleLock.pid }, `took over a stale lock left by pid ${dataDir.staleLock.pid} (it is no longer running)`);
  }
  if (dataDir.created) logger.info({ dataDir: dataDir.path }, `created data directory ${dataDir.path}`);

  let broker: BrokerHandle | null = null;
  const started: ProtocolPlugin[] = [];
  const addresses = new Map<string, BoundAddress[]>();

  const undo = async (): Promise<void> => {
    for (const plugin of [...started].reverse()) {
      try {
        await plugin.stop();
      } catch (err) {
        logger.error({ err, protocol: plugin.name }, `stopping ${plugin.name} failed`);
      }
    }
    started.length = 0;
    if (broker !== null) {
      try {
        await broker.close();
      } catch (err) {
        logger.error({ err }, 'closing the broker failed');
      }
    }
    await dataDir.release();
  };

  try {
    broker = await options.openBroker({
      dataDir: dataDir.path,
      fsync: config.fsync,
      fsyncIntervalMs: config.fsyncIntervalMs,
      logDefaults: logConfigFrom(config),
      advertisedHost: config.advertisedHost,
      storageObserver: metrics.storageObserver,
      logger: logger.child({ component: 'broker' }),
      users: parseUsers(config.users),
      loopbackUsers: parseNameList(config.loopbackUsers),
      resourceAlarm: { memoryHighWatermark: Number(config.memoryHighWatermark), diskFreeLimitBytes: config.diskFreeLimit },
      transactions: {
        transactionalIdExpirationMs: config.kafkaTransactionalIdExpirationMs,
        maxTimeoutMs: config.kafkaTransactionMaxTimeoutMs,
        checkIntervalMs: config.kafkaTransactionAbortTimedOutTransactionCleanupIntervalMs,
        indexSnapshotIntervalMs: config.kafkaTxnIndexSnapshotIntervalMs,
      },
      producers: { producerIdExpirationMs: config.kafkaProducerIdExpirationMs },
    });
    const handle = broker;
    for (const plugin of plugins) {
      const bound = await plugin.start({
        config,
        broker: handle,
        metrics,
        logger: logger.child({ protocol: plugin.name }),
        state: () => state,
        isReady: () => state === 'ready' && handle.ready,
        listeners: () => addresses,
      });
      started.push(plugin);
      addresses.set(plugin.name, bound);
    }
  } catch (err) {
    state = 'stopping';
    await undo();
    state = 'stopped';
    throw err;
  }

  state = 'ready';
  const listening = [...addresses].map(([name, bound]) => `${name}=${bound.map(formatAddress).join(',')}`).join(' ');
  logger.info(
    { version: options.version, dataDir: dataDir.path, listeners: Object.fromEntries([...addresses].map(([n, b]) => [n, b.map(formatAddress)])) },
    `listening ${listening}`,
  );

  let stopping: Promise<void> | null = null;
  return {
    get state() {
      return state;
    },
    addresses,
    dataDir,
    metrics,
    stop() {
      stopping ??= (async () => {
        state = 'stopping';
        await undo();
        state = 'stopped';
      })();
      return stopping;
    },
    abandon() {
      state = 'stopped';
      dataDir.releaseSync();
    },
  };
}

export interface RunOptions {
  inputs?: ConfigInputs;
  version: string;
  openBroker: OpenBroker;
  plugins?: () => ProtocolPlugin[];
  /** process.exit, replaceable in tests. */
  exit?: (code: number) => void;
}

/**
 * The whole life of `tributary serve`: start, then wait for a signal and stop. Exits the process: 0 after a
 * graceful stop, 1 on a failed start, a failed stop or a forced (second-signal) exit.
 */
export async function runServer(options: RunOptions): Promise<void> {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const inputs = options.inputs ?? {};
  const stdoutIsTTY = inputs.stdoutIsTTY ?? Boolean(process.stdout.isTTY);

  let config: Config;
  let logger: Logger;
  try {
    const resolved = await resolveConfig(inputs);
    config = resolved.config;
    logger = createLogger({ level: config.logLevel, format: config.logFormat });
    // What each setting resolved to and where it came from: the first thing to check when a flag seems ignored.
    logger.debug({ config, sources: resolved.sources }, 'configuration resolved');
  } catch (err) {
    // No config, so no chosen log format: use what the default would have been.
    const fallback = createLogger({ level: 'info', format: stdoutIsTTY ? 'pretty' : 'json' });
    fallback.fatal({ key: err instanceof ConfigError ? err.key : undefined }, `cannot start: ${describe(err)}`);
    exit(1);
    return;
  }
  // Before any traffic: V8 must not learn to pretenure per-message objects (gc-tuning.ts).
  logger.debug({ v8Flags: tuneGarbageCollector() }, 'garbage collector tuned');

  // Handlers go in before the start, not after: a signal arriving between the "listening" line and their
  // installation would otherwise kill the process with the default action, skipping the graceful stop.
  let server: RunningServer | null = null;
  let pending: NodeJS.Signals | null = null;
  const shutdown = (running: RunningServer, signal: NodeJS.Signals): void => {
    logger.info(`received ${signal}: shutting down`);
    running.stop().then(
      () => {
        logger.info('stopped');
        exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, `shutdown failed: ${describe(err)}`);
        running.abandon();
        exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (server === null) {
      if (pending === null) {
        // Still starting: finish (so the start's own cleanup paths stay simple), then stop at once.
        pending = signal;
        logger.info(`received ${signal} while starting: will stop as soon as started`);
        return;
      }
      logger.warn(`received ${signal} again: exiting without finishing start`);
      exit(1);
      return;
    }
    if (server.state === 'stopping' || server.state === 'stopped') {
      logger.warn(`received ${signal} again: exiting without finishing shutdown`);
      server.abandon();
      exit(1);
      return;
    }
    shutdown(server, signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    server = await startServer({ config, version: options.version, openBroker: options.openBroker, logger, plugins: options.plugins?.() });
  } catch (err) {
    logger.fatal(err instanceof DataDirError ? { dataDir: err.path, problem: err.problem } : { err }, `cannot start: ${describe(err)}`);
    exit(1);
    return;
  }
  if (pending !== null) shutdown(server, pending);

  // A bug that escapes every handler leaves the broker in an unknown state: log it, drop the lock, exit 1.
  // Storage recovers the tail at the next open, so exiting is safer than carrying on.
  const running = server;
  const onFatal = (err: unknown): void => {
    logger.fatal({ err }, `unexpected error, exiting: ${describe(err)}`);
    running.abandon();
    exit(1);
  };
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
