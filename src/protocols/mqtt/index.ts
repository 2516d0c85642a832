/**
 * The MQTT listener: a TCP server whose connections are MqttSessions over the core Broker. It has the shape
 * server/listener-plugin.ts expects (`listen`, `close`) without importing server/ (layer rule). Sessions by
 * Client Identifier (for takeover and persistent sessions) are shared by the listener's connections; retained
 * messages live in the core's RetainedStore, shared with every listener of the broker.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { TcpListener } from '../tcp-listener.js';
import type { Duplex } from 'node:stream';
import type { Broker } from '../../core/broker.js';
import { RetainedStore } from '../../core/retained-store.js';
import { MqttSession, subscribeEntry, type MqttLogger, type MqttSessionOptions } from './session.js';
import { MqttSessionState, SubEntry } from './session-state.js';
import { SessionStore } from './session-store.js';

export { MqttSession } from './session.js';
export type { MqttLogger, MqttSessionOptions } from './session.js';

export const DEFAULT_MQTT_OPTIONS: MqttSessionOptions = {
  maxPacketSize: 16 * 1024 * 1024,
  topicAliasMaximum: 64,
  maxQueuedMessages: 10_000,
  maxInflightPublishes: 10_000,
  maxPendingBytes: 64 * 1024 * 1024,
  allowAnonymous: true,
  connectTimeoutMs: 10_000,
  receiveMaximum: 65_535,
};

export interface MqttListenerDeps {
  broker: Broker;
  logger: MqttLogger;
  options?: Partial<MqttSessionOptions>;
  /** Open-connections gauge (e.g. prom-client `connections.labels('mqtt')`). */
  connections?: { inc(): void; dec(): void };
}

/** Events: 'session' (MqttSession) on accept, 'sessionClosed' (MqttSession, reason). */
export interface MqttListener {
  listen(host: string, port: number): Promise<Array<{ address: string; port: number }>>;
  close(): Promise<void>;
  /** Serves a connection that did not come through the TCP server (TLS, WebSocket, an in-memory pair). */
  handle(stream: Duplex, peerAddress?: string, peerPort?: number): MqttSession;
  /** Open connections. */
  connections(): MqttSession[];
  /** Sessions by Client Identifier (connected or kept for a disconnected client). */
  readonly sessions: ReadonlyMap<string, MqttSessionState>;
  readonly events: EventEmitter;
}

export function createMqttListener(deps: MqttListenerDeps): MqttListener {
  const options: MqttSessionOptions = { ...DEFAULT_MQTT_OPTIONS };
  for (const [k, v] of Object.entries(deps.options ?? {})) if (v !== undefined) (options as unknown as Record<string, unknown>)[k] = v;
  const logger = deps.logger;
  const events = new EventEmitter();
  const open = new Set<MqttSession>();
  const sessions = new Map<string, MqttSessionState>();
  const retained = RetainedStore.for(deps.broker);
  let nextId = 1;
  const store = new SessionStore(deps.broker.metadata, (err, clientId) => logger.warn({ err, clientId }, 'mqtt session could not be persisted'));
  const createState = (clientId: string): MqttSessionState => {
    const state = new MqttSessionState(clientId, options.maxQueuedMessages, (s) => {
      if (sessions.get(s.clientId) === s) sessions.delete(s.clientId);
      // An ended session is not restored at the next boot.
      if (!closing) void store.remove(s.clientId);
    });
    sessions.set(clientId, state);
    return state;
  };
  let closing = false;
  // Persistent sessions of the previous run: live again, offline, with their subscriptions.
  for (const rec of store.list()) {
    try {
      const state = createState(rec.clientId);
      state.expirySec = rec.expirySec;
      for (const r of rec.subscriptions) {
        const entry = new SubEntry(state, r.topicFilter, r.subjects, r.qos, r.retainAsPublished, r.subscriptionId, r.queueGroup, r.noLocal);
        subscribeEntry(deps.broker, entry);
        state.subs.set(r.topicFilter, entry);
      }
      state.startOffline();
    } catch (err) {
      logger.warn({ err, clientId: rec.clientId }, 'mqtt session could not be restored');
    }
  }

  const handle = (stream: Duplex, peerAddress?: string, peerPort?: number): MqttSession => {
    const session = new MqttSession(stream, {
      broker: deps.broker,
      logger,
      options,
      retained,
      sessions,
      store,
      createState,
      connectionId: nextId++,
      peerAddress,
      peerPort,
      onClose: (s, reason) => {
        open.delete(s);
        deps.connections?.dec();
        logger.debug({ cid: s.id, peer: peerAddress, clientId: s.clientId, reason }, 'mqtt connection closed');
        events.emit('sessionClosed', s, reason);
      },
    });
    open.add(session);
    deps.connections?.inc();
    session.start();
    events.emit('session', session);
    return session;
  };

  const tcp = new TcpListener('mqtt', (socket: Socket) => void handle(socket, socket.remoteAddress, socket.remotePort), logger);

  return {
    events,
    handle,
    sessions,
    connections: () => [...open],
    async listen(host: string, port: number) {
      return [await tcp.listen(host, port)];
    },
    async close() {
      const stopped = tcp.stop();
      // 5.0: DISCONNECT 0x8B Server shutting down; no Will for a server-side shutdown of a clean session? The
      // spec publishes the Will whenever the connection ends without DISCONNECT from the client, so it is kept.
      closing = true;
      for (const s of [...open]) s.close('server shutdown', { reasonCode: 0x8b, will: true });
      // Ends them in memory only: persistent ones stay in the store for the next boot.
      for (const st of [...sessions.values()]) st.end();
      await stopped;
    },
  };
}
