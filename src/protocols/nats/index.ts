/**
 * The NATS listener: a TCP server whose connections are NatsSessions over the core Broker. It has the shape
 * server/listener-plugin.ts expects (`listen`, `close`) without importing server/ (layer rule).
 *
 * One flush scheduler for all connections: a session that has output marks itself dirty, and every dirty
 * session's batch is written after each chunk read from any client is processed (as nats-server flushes after
 * each read), with a setImmediate for output that arrives otherwise (Kafka produces, timers). So a publish
 * fanned out to many subscribers costs one socket write per subscriber per read, not one per message.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { TcpListener } from '../tcp-listener.js';
import type { Duplex } from 'node:stream';
import type { Broker } from '../../core/broker.js';
import type { Connection } from '../../core/connection-registry.js';
import { DEFAULT_MAX_PAYLOAD, MAX_CONTROL_LINE_SIZE } from './parser.js';
import { NatsSession, type NatsLogger, type NatsServerInfo, type NatsSessionOptions } from './session.js';
import { NO_CREDENTIALS, parseNatsCredentials } from './auth.js';

export { NatsSession } from './session.js';
export type { NatsLogger, NatsSessionOptions, NatsServerInfo } from './session.js';
export { parseNatsCredentials, type NatsCredentials } from './auth.js';

/** The version advertised in INFO: nats.js requires semver and gates features on it (specs/CLIENTS.md §4). */
export const NATS_SERVER_VERSION = '2.10.22';

export const DEFAULT_NATS_OPTIONS: NatsSessionOptions = {
  maxPayload: DEFAULT_MAX_PAYLOAD,
  maxControlLine: MAX_CONTROL_LINE_SIZE,
  // nats-server's default max_pending.
  maxPendingBytes: 64 * 1024 * 1024,
  // nats-server's defaults: PING every 2 minutes, 2 outstanding.
  pingIntervalMs: 120_000,
  maxPingsOut: 2,
  authRequired: false,
  authTimeoutMs: 2_000,
  maxSubscriptions: 0,
  maxInflightPublishes: 10_000,
  credentials: NO_CREDENTIALS,
};

/** The server options (server/config.ts) the listener reads; structural, since protocols do not import server/. */
export interface NatsConfig {
  natsMaxPayload: number;
  natsMaxPendingBytes: number;
  natsPingIntervalMs: number;
  natsMaxPingsOut: number;
  natsMaxSubscriptions: number;
  natsAuthRequired: boolean;
  natsTokens: string;
  natsNkeys: string;
}

/** Session options from the server's option table; throws on an nkey that does not decode. */
export function natsOptionsFromConfig(config: NatsConfig): Partial<NatsSessionOptions> {
  return {
    maxPayload: config.natsMaxPayload,
    maxPendingBytes: config.natsMaxPendingBytes,
    pingIntervalMs: config.natsPingIntervalMs,
    maxPingsOut: config.natsMaxPingsOut,
    maxSubscriptions: config.natsMaxSubscriptions,
    authRequired: config.natsAuthRequired,
    credentials: parseNatsCredentials(config.natsTokens, config.natsNkeys),
  };
}

export interface NatsListenerDeps {
  broker: Broker;
  logger: NatsLogger;
  options?: Partial<NatsSessionOptions> & { serverName?: string };
  /** Open-connections gauge (e.g. prom-client `connections.labels('nats')`). */
  connections?: { inc(): void; dec(): void };
  /** Slow-consumer counter (prom-client `tributary_nats_slow_consumers_total`). */
  slowConsumers?: { inc(): void };
}

export interface NatsListenerStats {
  connections: number;
  accepted: number;
  slowConsumers: number;
}

/**
 * Events: 'session' (NatsSession) on accept, 'slowConsumer' (NatsSession), 'pong' (NatsSession) when a client
 * answers a PING, 'sessionClosed' (NatsSession, reason).
 */
export interface NatsListener {
  listen(host: string, port: number): Promise<Array<{ address: string; port: number }>>;
  close(): Promise<void>;
  /** Serves a connection that did not come through the TCP server (TLS, WebSocket, an in-memory pair). */
  handle(stream: Duplex, peerAddress?: string, peerPort?: number): NatsSession;
  stats(): NatsListenerStats;
  /** The open sessions. */
  sessions(): NatsSession[];
  readonly events: EventEmitter;
}

export function createNatsListener(deps: NatsListenerDeps): NatsListener {
  const { serverName, ...rest } = deps.options ?? {};
  const options: NatsSessionOptions = { ...DEFAULT_NATS_OPTIONS };
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) (options as unknown as Record<string, unknown>)[k] = v;
  // As in nats-server: configuring tokens or nkeys makes every connection log in.
  if (options.credentials.tokens.size > 0 || options.credentials.nkeys.size > 0) options.authRequired = true;
  const serverId = randomBytes(12).toString('hex').toUpperCase();
  const info: NatsServerInfo = {
    server_id: serverId,
    server_name: serverName ?? `tributary-${serverId.slice(0, 8)}`,
    version: NATS_SERVER_VERSION,
    go: `node${process.versions.node}`,
    host: '0.0.0.0',
    port: 0,
  };
  const logger = deps.logger;
  const events = new EventEmitter();
  const sessions = new Set<NatsSession>();
  let nextClientId = 1;
  let accepted = 0;
  let slowConsumers = 0;

  let dirty: NatsSession[] = [];
  let flushing = false;
  const flushAll = (): void => {
    flushing = false;
    const list = dirty;
    dirty = [];
    for (let i = 0; i < list.length; i++) {
      try {
        list[i].flush();
      } catch (err) {
        logger.error({ err, cid: list[i].id }, 'nats flush failed');
        list[i].close('flush failed');
      }
    }
  };
  const afterRead = (): void => {
    if (dirty.length > 0) flushAll();
  };
  const scheduleFlush = (s: NatsSession): void => {
    dirty.push(s);
    if (!flushing) {
      flushing = true;
      setImmediate(flushAll);
    }
  };

  const handle = (stream: Duplex, peerAddress?: string, peerPort?: number): NatsSession => {
    accepted++;
    let registered: Connection | null = null;
    const session = new NatsSession(stream, {
      broker: deps.broker,
      logger,
      options,
      info,
      clientId: nextClientId++,
      peerAddress,
      peerPort,
      scheduleFlush,
      afterRead,
      onSlowConsumer: (s) => {
        slowConsumers++;
        deps.slowConsumers?.inc();
        events.emit('slowConsumer', s);
      },
      onPong: (s) => events.emit('pong', s),
      onClose: (s, reason) => {
        sessions.delete(s);
        deps.connections?.dec();
        deps.broker.connections.unregister(registered);
        logger.debug({ cid: s.id, peer: peerAddress, reason }, 'nats connection closed');
        events.emit('sessionClosed', s, reason);
      },
    });
    sessions.add(session);
    deps.connections?.inc();
    // Listed by the HTTP API; an admin close is -ERR 'Closed By Administrator', then the close.
    registered = deps.broker.connections.register({ protocol: 'nats', remoteAddress: peerAddress, remotePort: peerPort, principal: () => session.principal.name, clientId: () => session.clientName, traffic: session.traffic, transport: stream as { bytesRead?: number; bytesWritten?: number }, close: (reason) => session.fail('Closed By Administrator', reason) });
    session.start();
    events.emit('session', session);
    return session;
  };

  const tcp = new TcpListener('nats', (socket: Socket) => void handle(socket, socket.remoteAddress, socket.remotePort), logger);

  return {
    events,
    handle,
    sessions: () => [...sessions],
    stats: () => ({ connections: sessions.size, accepted, slowConsumers }),
    async listen(host: string, port: number) {
      const bound = await tcp.listen(host, port);
      // INFO tells clients the address actually bound.
      info.host = bound.address;
      info.port = bound.port;
      return [bound];
    },
    async close() {
      const stopped = tcp.stop();
      for (const s of [...sessions]) s.close('server shutdown');
      await stopped;
    },
  };
}
