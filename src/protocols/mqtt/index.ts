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
import type { Connection } from '../../core/connection-registry.js';
import { RetainedStore } from '../../core/retained-store.js';
import { MqttSession, type MqttLogger, type MqttSessionOptions } from './session.js';
import { MqttSessionState, SubEntry, type SessionStateHooks } from './session-state.js';
import { SessionStore } from './session-store.js';
import { SessionQueue } from './session-queue.js';

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
  maxKeepAliveSec: 0,
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

/** The MQTT listener serving each broker, for transports that arrive elsewhere (WebSocket on the HTTP port). */
const listenersByBroker = new WeakMap<Broker, MqttListener>();

/** The open MQTT listener of `broker`, if one is listening. */
export function mqttListenerOf(broker: Broker): MqttListener | undefined {
  return listenersByBroker.get(broker);
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
  const broker = deps.broker;
  const stateHooks: SessionStateHooks = {
    onEnd(s, discard) {
      if (sessions.get(s.clientId) === s) sessions.delete(s.clientId);
      // An ended session is not restored at the next boot, and its stored messages go.
      if (!discard || closing) return;
      void store.remove(s.clientId);
      if (s.durable) SessionQueue.remove(broker, s.clientId).catch((err: unknown) => logger.warn({ err, clientId: s.clientId }, 'mqtt session queue could not be deleted'));
    },
    persist: (s) => (s.expirySec > 0 ? store.save(s.toRecord()) : Promise.resolve()),
    onStoreError: (s, err) => logger.warn({ err: (err as Error).message, clientId: s.clientId }, 'mqtt session message could not be stored; dropped'),
  };
  const createState = (clientId: string): MqttSessionState => {
    const state = new MqttSessionState(clientId, options.maxQueuedMessages, stateHooks);
    sessions.set(clientId, state);
    return state;
  };
  /** Makes a new session durable: its queue is created (empty) before CONNACK (state.ready). */
  const makeDurable = (state: MqttSessionState, fresh: boolean): void => {
    state.durable = true;
    const existing = fresh ? null : SessionQueue.existing(broker, state.clientId);
    if (existing !== null) {
      state.useQueue(existing, broker.router);
      return;
    }
    state.ready = SessionQueue.create(broker, state.clientId, options.maxPacketSize, fresh).then((q) => {
      if (!state.ended) state.useQueue(q, broker.router);
    });
  };
  let closing = false;
  // Persistent sessions of the previous run: live again, offline, with their subscriptions and stored messages.
  const restored = store.list();
  for (const rec of restored) {
    try {
      const state = createState(rec.clientId);
      state.expirySec = rec.expirySec;
      state.restoreIds(rec.inboundQos2 ?? [], rec.pubrel ?? []);
      for (const r of rec.subscriptions) {
        const entry = new SubEntry(state, r.topicFilter, r.subjects, r.qos, r.retainAsPublished, r.subscriptionId, r.queueGroup, r.noLocal);
        entry.start(broker.router);
        state.subs.set(r.topicFilter, entry);
      }
      makeDurable(state, false);
      state.ready.catch((err: unknown) => logger.warn({ err, clientId: rec.clientId }, 'mqtt session queue could not be opened'));
      state.startOffline();
    } catch (err) {
      logger.warn({ err, clientId: rec.clientId }, 'mqtt session could not be restored');
    }
  }
  // A crash between creating a session's queue and recording the session leaves a queue nobody owns.
  SessionQueue.removeOrphans(
    broker,
    restored.map((r) => r.clientId),
  ).then(
    (removed) => (removed.length > 0 ? logger.info({ removed }, 'mqtt removed session queues without a session') : undefined),
    (err: unknown) => logger.warn({ err }, 'mqtt orphan session queues could not be removed'),
  );

  const handle = (stream: Duplex, peerAddress?: string, peerPort?: number): MqttSession => {
    let registered: Connection | null = null;
    const session = new MqttSession(stream, {
      broker: deps.broker,
      logger,
      options,
      retained,
      sessions,
      store,
      createState,
      makeDurable: (state) => makeDurable(state, true),
      connectionId: nextId++,
      peerAddress,
      peerPort,
      onClose: (s, reason) => {
        open.delete(s);
        deps.connections?.dec();
        deps.broker.connections.unregister(registered);
        logger.debug({ cid: s.id, peer: peerAddress, clientId: s.clientId, reason }, 'mqtt connection closed');
        events.emit('sessionClosed', s, reason);
      },
    });
    open.add(session);
    deps.connections?.inc();
    // Listed by the HTTP API; an admin close is (MQTT 5) DISCONNECT 0x98 Administrative action.
    registered = deps.broker.connections.register({ protocol: 'mqtt', remoteAddress: peerAddress, remotePort: peerPort, principal: () => session.principal.name, clientId: () => session.clientId, traffic: session.traffic, transport: stream as { bytesRead?: number; bytesWritten?: number }, close: (reason) => session.close(reason, { reasonCode: 0x98, will: true }) });
    session.start();
    events.emit('session', session);
    return session;
  };

  const tcp = new TcpListener('mqtt', (socket: Socket) => void handle(socket, socket.remoteAddress, socket.remotePort), logger);

  const listener: MqttListener = {
    events,
    handle,
    sessions,
    connections: () => [...open],
    async listen(host: string, port: number) {
      const bound = await tcp.listen(host, port);
      listenersByBroker.set(deps.broker, listener);
      return [bound];
    },
    async close() {
      if (listenersByBroker.get(deps.broker) === listener) listenersByBroker.delete(deps.broker);
      const stopped = tcp.stop();
      // 5.0: DISCONNECT 0x8B Server shutting down; no Will for a server-side shutdown of a clean session? The
      // spec publishes the Will whenever the connection ends without DISCONNECT from the client, so it is kept.
      closing = true;
      for (const s of [...open]) s.close('server shutdown', { reasonCode: 0x8b, will: true });
      // Ends them in memory only: persistent ones stay in the store for the next boot.
      for (const st of [...sessions.values()]) st.end(false);
      await stopped;
    },
  };
  return listener;
}
