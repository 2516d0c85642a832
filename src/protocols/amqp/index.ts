/**
 * The AMQP 0-9-1 listener: a TCP server whose connections are AmqpConnections over the core Broker and its
 * QueueRegistry. It has the shape server/listener-plugin.ts expects (`listen`, `close`) without importing
 * server/ (layer rule). See docs/amqp.md.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { TcpListener } from '../tcp-listener.js';
import type { Duplex } from 'node:stream';
import type { Broker } from '../../core/broker.js';
import { ANONYMOUS } from '../../core/principal.js';
import { queueRegistryOf, type Queue, type QueueRegistry } from '../../core/queue-registry.js';
import { amqpDeadLetterHandler } from './dead-letter.js';
import { AmqpConnection, DEFAULT_AMQP_OPTIONS, type AmqpLogger, type AmqpOptions } from './connection.js';
import type { AmqpChannel } from './channel.js';
import type { Connection } from '../../core/connection-registry.js';

export { AmqpConnection, DEFAULT_AMQP_OPTIONS } from './connection.js';
export type { AmqpLogger, AmqpOptions } from './connection.js';

export interface AmqpListenerDeps {
  broker: Broker;
  logger: AmqpLogger;
  options?: Partial<AmqpOptions>;
  /** Open-connections gauge (e.g. prom-client `connections.labels('amqp')`). */
  connections?: { inc(): void; dec(): void };
}

/**
 * Events: 'connection' (AmqpConnection), 'connectionClosed' (AmqpConnection, reason), and the connection's own
 * events ('heartbeat-received', 'heartbeat-sent') with the connection as argument.
 */
export interface AmqpListener {
  listen(host: string, port: number): Promise<Array<{ address: string; port: number }>>;
  close(): Promise<void>;
  /** Serves a connection that did not come through the TCP server (TLS, an in-memory pair). */
  handle(stream: Duplex, peerAddress?: string, peerPort?: number): Promise<AmqpConnection>;
  connections(): AmqpConnection[];
  queues(): Promise<QueueRegistry>;
  readonly events: EventEmitter;
}

export function createAmqpListener(deps: AmqpListenerDeps): AmqpListener {
  const options: AmqpOptions = { ...DEFAULT_AMQP_OPTIONS };
  for (const [k, v] of Object.entries(deps.options ?? {})) if (v !== undefined) (options as unknown as Record<string, unknown>)[k] = v;
  const logger = deps.logger;
  // Each virtual host is a core tenant with its own amq.* exchanges (ExchangeRegistry.addTenant).
  for (const vhost of options.vhosts) deps.broker.exchanges.addTenant(vhost);
  const events = new EventEmitter();
  const open = new Set<AmqpConnection>();
  const registry = (): Promise<QueueRegistry> =>
    queueRegistryOf(deps.broker, ANONYMOUS).then((r) => {
      // Dead-letter exchanges are AMQP's: republishing with x-death needs the AMQP properties.
      r.deadLetterHandler ??= amqpDeadLetterHandler(deps.broker, r, logger);
      if (followedRegistry === null) {
        followedRegistry = r;
        r.events.on('deleted', onQueueDeleted);
      }
      return r;
    });
  const directReplies = new Map<string, AmqpChannel>();
  let nextId = 1;
  // The broker's memory/disk alarm blocks publishing connections (connection.blocked), as in RabbitMQ.
  const alarmReason = (): string | null => {
    const kinds = deps.broker.alarm.kinds;
    return kinds.length === 0 ? null : `low on ${kinds.join(' & ')}`;
  };
  const onAlarm = (): void => {
    const reason = alarmReason();
    for (const c of open) c.setAlarm(reason);
  };
  deps.broker.alarm.on('change', onAlarm);
  // A deleted vhost closes its connections, as RabbitMQ does (320 CONNECTION_FORCED), before its queues go.
  const offVhostDeleted = deps.broker.onVhostDeleted((vhost) => {
    for (const c of open) if (c.vhost === vhost) c.close(`vhost '${vhost}' is deleted`);
  });
  // Any deletion of a queue (another connection, the HTTP API, a vhost's deletion) cancels its consumers here.
  const onQueueDeleted = (q: Queue): void => {
    for (const c of open) c.queueDeleted(q);
  };
  let followedRegistry: QueueRegistry | null = null;

  const handle = async (stream: Duplex, peerAddress?: string, peerPort?: number): Promise<AmqpConnection> => {
    const queues = await registry();
    let registered: Connection | null = null;
    const conn = new AmqpConnection(stream, {
      broker: deps.broker,
      queues,
      directReplies,
      logger,
      options,
      id: nextId++,
      peerAddress,
      peerPort,
      onClose: (c, reason) => {
        if (!open.delete(c)) return;
        deps.connections?.dec();
        deps.broker.connections.unregister(registered);
        logger.debug({ cid: c.id, peer: peerAddress, reason }, 'amqp connection closed');
        events.emit('connectionClosed', c, reason);
      },
      onEvent: (c, event) => events.emit(event, c),
    });
    open.add(conn);
    conn.setAlarm(alarmReason());
    deps.connections?.inc();
    // Listed by the HTTP API; an admin close is connection.close 320 CONNECTION_FORCED (conn.close).
    registered = deps.broker.connections.register({ protocol: 'amqp', remoteAddress: peerAddress, remotePort: peerPort, principal: () => conn.principal.name, clientId: () => conn.clientName, traffic: conn.traffic, transport: stream as { bytesRead?: number; bytesWritten?: number }, close: (reason) => conn.close(reason) });
    conn.start();
    events.emit('connection', conn);
    return conn;
  };

  const tcp = new TcpListener('amqp', (socket: Socket) => {
    // Hold input until the session is attached (the registry promise is already settled by then).
    socket.pause();
    handle(socket, socket.remoteAddress, socket.remotePort).then(
      () => socket.resume(),
      (err: unknown) => {
        logger.error({ err, peer: socket.remoteAddress }, 'amqp connection setup failed');
        socket.destroy();
      },
    );
  }, logger);

  return {
    events,
    handle,
    connections: () => [...open],
    queues: registry,
    async listen(host: string, port: number) {
      // Open the queue registry first: transient queues of a previous run are deleted before anyone connects.
      await registry();
      return [await tcp.listen(host, port)];
    },
    async close() {
      deps.broker.alarm.off('change', onAlarm);
      offVhostDeleted();
      followedRegistry?.events.off('deleted', onQueueDeleted);
      const stopped = tcp.stop();
      for (const c of [...open]) c.close('broker shutdown');
      await stopped;
    },
  };
}
