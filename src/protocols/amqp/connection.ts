/**
 * AmqpConnection: one AMQP 0-9-1 client connection (specs/amqp/FACTS.md) over any Duplex — a net.Socket in
 * production, an in-memory pair in tests. It splits frames (codec FrameSplitter), runs the opening handshake
 * on channel 0 (protocol header, start/start-ok with PLAIN or AMQPLAIN against the broker's users, tune/tune-ok,
 * open), heartbeats both ways, and hands every other channel's frames to its AmqpChannel.
 *
 * Output: frames are queued and written once per tick (one socket write per batch of deliveries). A socket whose
 * buffer is over `HIGH_WATER_BYTES` makes deliveries return false (the cursor pauses that consumer) until 'drain'.
 *
 * Errors: no exception escapes. Codec errors (FrameError 501, other WireError 502) and hard AmqpErrors send
 * connection.close and wait for close-ok (or a grace period) before the socket is closed; soft errors close only
 * their channel (channel.ts). Every failure is logged once with the connection id and peer.
 */
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Broker } from '../../core/broker.js';
import { isBrokerError } from '../../core/broker-error.js';
import { anonymousPrincipal, type Principal } from '../../core/principal.js';
import type { Queue, QueueRegistry } from '../../core/queue-registry.js';
import { WireError } from '../../wire/index.js';
import {
  FRAME_MIN_SIZE,
  FrameError,
  FrameSplitter,
  FrameType,
  HEARTBEAT_FRAME,
  PROTOCOL_HEADER,
  ProtocolHeaderError,
  decodeFieldTable,
  decodeMethod,
  encodeMethodFrame,
  fieldTableFromObject,
  fieldTableToObject,
  type FieldTable,
  type Method,
  type MethodInit,
  type MethodName,
} from './codec/index.js';
import { AmqpChannel } from './channel.js';
import { AmqpError } from './reply-codes.js';

export interface AmqpLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface AmqpOptions {
  /** Largest frame offered in connection.tune (bytes, header and frame-end included). */
  frameMax: number;
  /** Highest channel number offered in connection.tune. */
  channelMax: number;
  /** Heartbeat interval offered in connection.tune (seconds; 0 = off). */
  heartbeatS: number;
  /** Largest message body accepted (basic.publish); larger → 406 PRECONDITION_FAILED on the channel. */
  maxMessageBytes: number;
  /** Time allowed for the handshake to complete (ms). */
  handshakeTimeoutMs: number;
  /** Publishes waiting for their appends before the socket stops being read (TCP backpressure). */
  maxInflightPublishes: number;
  /** Virtual hosts besides '/' (core tenants, added at listener creation). */
  vhosts: string[];
}

export const DEFAULT_AMQP_OPTIONS: AmqpOptions = {
  frameMax: 131_072,
  channelMax: 2047,
  heartbeatS: 60,
  maxMessageBytes: 16 * 1024 * 1024,
  handshakeTimeoutMs: 10_000,
  maxInflightPublishes: 10_000,
  vhosts: [],
};

/** What every connection of a listener shares. */
export interface AmqpConnectionDeps {
  broker: Broker;
  queues: QueueRegistry;
  logger: AmqpLogger;
  options: AmqpOptions;
  id: number;
  peerAddress?: string;
  peerPort?: number;
  /** Direct reply-to consumers of every connection of the listener, by token. */
  directReplies: Map<string, AmqpChannel>;
  onClose?(conn: AmqpConnection, reason: string): void;
  /** Observability hooks (tests await them): 'heartbeat-received', 'heartbeat-sent'. */
  onEvent?(conn: AmqpConnection, event: string): void;
}

/** Socket bytes buffered above which deliveries pause (TCP backpressure towards the cursor). */
const HIGH_WATER_BYTES = 1024 * 1024;
/** Time a connection.close waits for close-ok before the socket is destroyed. */
const CLOSE_GRACE_MS = 2000;

type State = 'header' | 'start-ok' | 'authenticating' | 'tune-ok' | 'open' | 'opened' | 'closing' | 'closed';

const SERVER_CAPABILITIES = {
  publisher_confirms: true,
  exchange_exchange_bindings: true,
  'basic.nack': true,
  consumer_cancel_notify: true,
  'connection.blocked': true,
  consumer_priorities: true,
  authentication_failure_close: true,
  per_consumer_qos: true,
  direct_reply_to: true,
};

export class AmqpConnection {
  readonly id: number;
  /** Stable identity for exclusive-queue ownership. */
  readonly owner: string;
  principal: Principal;
  frameMax = FRAME_MIN_SIZE;
  channelMax = 0;
  heartbeatS = 0;
  /** Messages published and delivered, for the connection registry (plain increments). */
  readonly traffic = { messagesIn: 0, messagesOut: 0 };
  /** The virtual host opened (connection.open): a core tenant. */
  vhost = '/';
  /** The client's `connection_name` property (amqplib clientProperties, rabbitmq-client connectionName), else null. */
  clientName: string | null = null;
  /** The client's declared capabilities (consumer_cancel_notify, connection.blocked, …). */
  clientCapabilities: { [key: string]: unknown } = {};
  private state: State = 'header';
  private readonly splitter: FrameSplitter;
  private readonly channels = new Map<number, AmqpChannel>();
  private readonly out: Buffer[] = [];
  private flushScheduled = false;
  /** Channels with publisher confirms settled but not yet sent (see beforeWrite). */
  private readonly confirming: AmqpChannel[] = [];
  private lastSentMs = Date.now();
  private lastReceivedMs = Date.now();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private handshakeTimer: NodeJS.Timeout | null = null;
  private closeTimer: NodeJS.Timeout | null = null;
  private inflightAppends = 0;
  private readPaused = false;
  /** Resource alarm in effect (broker.alarm): a publish blocks the connection. */
  private alarm: string | null = null;
  /** Blocked by the alarm: socket not read; `notified` when connection.blocked was sent. */
  private blocked: { notified: boolean } | null = null;

  constructor(
    readonly stream: Duplex,
    readonly deps: AmqpConnectionDeps,
  ) {
    this.id = deps.id;
    this.owner = `amqp-${deps.id}-${randomBytes(4).toString('hex')}`;
    this.principal = anonymousPrincipal(deps.peerAddress);
    this.splitter = new FrameSplitter(
      { onFrame: (type, channel, payload) => this.onFrameSafe(type, channel, payload), onProtocolHeader: () => this.onProtocolHeader() },
      { protocolHeader: true },
    );
  }

  get broker(): Broker {
    return this.deps.broker;
  }

  get queues(): QueueRegistry {
    return this.deps.queues;
  }

  get options(): AmqpOptions {
    return this.deps.options;
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  /** True when the socket is backed up: deliveries should pause. */
  get congested(): boolean {
    return this.stream.writableLength > HIGH_WATER_BYTES;
  }

  start(): void {
    this.stream.on('data', (chunk: Buffer) => this.onData(chunk));
    this.stream.on('error', (err) => {
      this.deps.logger.debug({ err, cid: this.id, peer: this.deps.peerAddress }, 'amqp socket error');
      this.teardown('socket error');
    });
    this.stream.on('close', () => this.teardown('socket closed'));
    this.stream.on('end', () => this.teardown('client ended'));
    this.stream.on('drain', () => {
      for (const ch of this.channels.values()) ch.resumeConsumers();
    });
    this.handshakeTimer = setTimeout(() => {
      if (this.state !== 'opened' && this.state !== 'closed') {
        this.deps.logger.warn({ cid: this.id, peer: this.deps.peerAddress }, 'amqp handshake timeout');
        this.destroy('handshake timeout');
      }
    }, this.options.handshakeTimeoutMs);
    this.handshakeTimer.unref();
  }

  // --- input ------------------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.lastReceivedMs = Date.now();
    try {
      this.splitter.push(chunk);
    } catch (err) {
      this.onInputError(err);
    }
  }

  private onInputError(err: unknown): void {
    if (err instanceof ProtocolHeaderError) {
      // §4.2.2: answer with the header we speak, then close.
      this.deps.logger.info({ cid: this.id, peer: this.deps.peerAddress }, 'amqp bad protocol header');
      this.stream.end(PROTOCOL_HEADER);
      this.teardown('bad protocol header');
      return;
    }
    // After a codec error the byte stream cannot be resynchronised (the splitter is spent), so a close-ok
    // could not be read: send connection.close and end the socket at once.
    if (err instanceof FrameError) {
      this.closeWithError(new AmqpError('FRAME_ERROR', err.message), true);
      this.destroy('frame error');
      return;
    }
    if (err instanceof WireError) {
      this.closeWithError(new AmqpError('SYNTAX_ERROR', err.message), true);
      this.destroy('syntax error');
      return;
    }
    if (err instanceof AmqpError) {
      this.closeWithError(err, true);
      return;
    }
    this.deps.logger.error({ err, cid: this.id, peer: this.deps.peerAddress }, 'amqp connection failed');
    this.closeWithError(new AmqpError('INTERNAL_ERROR', 'internal error'), false);
  }

  /**
   * Errors of one frame's content (a method that does not decode, a hard AmqpError) leave the framing intact, so
   * they are handled here and the client's close-ok can still be read; only the splitter's own errors reach
   * onInputError.
   */
  private onFrameSafe(type: number, channel: number, payload: Buffer): void {
    try {
      this.onFrame(type, channel, payload);
    } catch (err) {
      if (err instanceof AmqpError) this.closeWithError(err, true);
      else if (err instanceof WireError) this.closeWithError(new AmqpError('SYNTAX_ERROR', err.message), true);
      else {
        this.deps.logger.error({ err, cid: this.id, peer: this.deps.peerAddress }, 'amqp frame handling failed');
        this.closeWithError(new AmqpError('INTERNAL_ERROR', 'internal error'), false);
      }
    }
  }

  private onProtocolHeader(): void {
    this.state = 'start-ok';
    this.send(
      encodeMethodFrame(0, 'ConnectionStart', {
        versionMajor: 0,
        versionMinor: 9,
        serverProperties: fieldTableFromObject({
          product: 'Tributary',
          version: '0.1.0',
          platform: `Node.js ${process.version}`,
          copyright: 'Tributary authors',
          information: 'https://github.com/tributary',
          cluster_name: 'tributary',
          capabilities: SERVER_CAPABILITIES,
        }),
        mechanisms: Buffer.from('PLAIN AMQPLAIN'),
        locales: Buffer.from('en_US'),
      }),
    );
  }

  /** Called by the splitter for each frame; throws only codec errors and hard AmqpErrors (caught in onData). */
  private onFrame(type: number, channel: number, payload: Buffer): void {
    if (this.state === 'closed') return;
    if (type === FrameType.HEARTBEAT) {
      if (channel !== 0) throw new AmqpError('FRAME_ERROR', 'heartbeat frame on a channel other than 0');
      this.deps.onEvent?.(this, 'heartbeat-received');
      return;
    }
    if (this.state === 'closing') {
      // After sending connection.close, only close/close-ok count (§2.2.4).
      if (channel === 0 && type === FrameType.METHOD) {
        const m = decodeMethod(payload);
        if (m.name === 'ConnectionCloseOk') this.destroy('closed by server');
        else if (m.name === 'ConnectionClose') {
          this.send(encodeMethodFrame(0, 'ConnectionCloseOk', {}));
          this.flush();
          this.destroy('closed by server');
        }
      }
      return;
    }
    if (channel === 0) {
      if (type !== FrameType.METHOD) throw new AmqpError('UNEXPECTED_FRAME', `frame type ${type} on channel 0`);
      this.onConnectionMethod(decodeMethod(payload));
      return;
    }
    if (this.state !== 'opened') throw new AmqpError('CHANNEL_ERROR', `frame on channel ${channel} before connection.open`);
    const ch = this.channels.get(channel);
    if (ch === undefined) {
      if (type !== FrameType.METHOD) throw new AmqpError('CHANNEL_ERROR', `expected 'channel.open' on channel ${channel}`);
      const m = decodeMethod(payload);
      if (m.name !== 'ChannelOpen') throw new AmqpError('CHANNEL_ERROR', `expected 'channel.open' on channel ${channel}`, 20, 10);
      if (channel > this.channelMax) throw new AmqpError('CHANNEL_ERROR', `channel ${channel} is above channel_max ${this.channelMax}`, 20, 10);
      this.channels.set(channel, new AmqpChannel(this, channel));
      this.send(encodeMethodFrame(channel, 'ChannelOpenOk', {}));
      return;
    }
    ch.onFrame(type, payload);
  }

  private onConnectionMethod(m: Method): void {
    switch (m.name) {
      case 'ConnectionStartOk': {
        if (this.state !== 'start-ok') throw new AmqpError('COMMAND_INVALID', 'unexpected connection.start-ok', 10, 11);
        this.state = 'authenticating';
        const clientProperties = fieldTableToObject(m.args.clientProperties);
        const caps = clientProperties.capabilities;
        const name = clientProperties.connection_name;
        // Listed as the connection's clientId (HTTP API, CLI), as RabbitMQ shows it as the connection's name.
        if (typeof name === 'string' && name !== '') this.clientName = name;
        else if (Buffer.isBuffer(name) && name.length > 0) this.clientName = name.toString('utf8');
        if (caps !== null && typeof caps === 'object' && !Array.isArray(caps) && !Buffer.isBuffer(caps)) this.clientCapabilities = caps;
        void this.authenticate(m.args.mechanism, m.args.response);
        return;
      }
      case 'ConnectionTuneOk': {
        if (this.state !== 'tune-ok') throw new AmqpError('COMMAND_INVALID', 'unexpected connection.tune-ok', 10, 31);
        const { channelMax, frameMax, heartbeat } = m.args;
        if (frameMax !== 0 && frameMax < FRAME_MIN_SIZE) throw new AmqpError('NOT_ALLOWED', `frame_max ${frameMax} is below the minimum ${FRAME_MIN_SIZE}`, 10, 31);
        if (frameMax > this.options.frameMax) throw new AmqpError('NOT_ALLOWED', `frame_max ${frameMax} is above the maximum ${this.options.frameMax}`, 10, 31);
        this.frameMax = frameMax === 0 ? this.options.frameMax : frameMax;
        this.splitter.frameMax = this.frameMax;
        this.channelMax = channelMax === 0 ? this.options.channelMax : Math.min(channelMax, this.options.channelMax);
        this.heartbeatS = heartbeat;
        this.startHeartbeats();
        this.state = 'open';
        return;
      }
      case 'ConnectionOpen': {
        if (this.state !== 'open') throw new AmqpError('COMMAND_INVALID', 'unexpected connection.open', 10, 40);
        // A virtual host is a core tenant (its names scoped by tenantName); only configured ones exist.
        if (!this.broker.exchanges.hasTenant(m.args.virtualHost)) throw new AmqpError('NOT_ALLOWED', `vhost '${m.args.virtualHost}' not found`, 10, 40);
        // RabbitMQ: a user without permissions on the vhost may not open it (530, "access to vhost ... refused").
        try {
          this.broker.authorizer.checkVhostAccess(this.principal, m.args.virtualHost);
        } catch (err) {
          throw new AmqpError('NOT_ALLOWED', (err as Error).message, 10, 40);
        }
        this.vhost = m.args.virtualHost;
        this.state = 'opened';
        if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
        this.send(encodeMethodFrame(0, 'ConnectionOpenOk', {}));
        return;
      }
      case 'ConnectionClose':
        this.send(encodeMethodFrame(0, 'ConnectionCloseOk', {}));
        this.flush();
        this.stream.end();
        this.teardown('closed by client');
        return;
      case 'ConnectionCloseOk':
        this.destroy('close-ok');
        return;
      case 'ConnectionUpdateSecret':
        this.send(encodeMethodFrame(0, 'ConnectionUpdateSecretOk', {}));
        return;
      case 'ConnectionBlocked':
      case 'ConnectionUnblocked':
        return;
      default:
        throw new AmqpError('COMMAND_INVALID', `unexpected '${m.name}' on channel 0`);
    }
  }

  private async authenticate(mechanism: string, response: Buffer): Promise<void> {
    let user: string | undefined;
    let pass: string | undefined;
    try {
      if (mechanism === 'PLAIN') {
        // `authzid \0 authcid \0 password` (RFC 4616).
        const parts = response.toString('utf8').split('\0');
        if (parts.length === 3) [, user, pass] = parts;
      } else if (mechanism === 'AMQPLAIN') {
        // A field table without its length prefix.
        const withLength = Buffer.allocUnsafe(4 + response.length);
        withLength.writeUInt32BE(response.length, 0);
        response.copy(withLength, 4);
        const t = fieldTableToObject(decodeFieldTable(withLength) as FieldTable);
        const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined);
        user = text(t.LOGIN);
        pass = text(t.PASSWORD);
      } else {
        throw new AmqpError('ACCESS_REFUSED', `unsupported authentication mechanism '${mechanism}'`, 10, 11);
      }
      if (user === undefined || pass === undefined) throw new AmqpError('ACCESS_REFUSED', `malformed ${mechanism} response`, 10, 11);
      this.principal = await this.broker.users.authenticate(user, pass, this.deps.peerAddress, { mechanism: mechanism as 'PLAIN' | 'AMQPLAIN' });
    } catch (err) {
      if (this.state === 'closed') return;
      const reason =
        err instanceof AmqpError
          ? err
          : isBrokerError(err) || err instanceof WireError
            ? new AmqpError('ACCESS_REFUSED', `Login was refused using authentication mechanism ${mechanism}`, 10, 11)
            : new AmqpError('INTERNAL_ERROR', 'authentication failed', 10, 11);
      if (!(err instanceof AmqpError) && !isBrokerError(err) && !(err instanceof WireError)) {
        this.deps.logger.error({ err, cid: this.id, peer: this.deps.peerAddress }, 'amqp authentication error');
      }
      this.closeWithError(reason, true);
      return;
    }
    if (this.state !== 'authenticating') return;
    this.state = 'tune-ok';
    this.send(encodeMethodFrame(0, 'ConnectionTune', { channelMax: this.options.channelMax, frameMax: this.options.frameMax, heartbeat: this.options.heartbeatS }));
  }

  // --- heartbeats -------------------------------------------------------------------------------------

  private startHeartbeats(): void {
    if (this.heartbeatS <= 0) return;
    const periodMs = this.heartbeatS * 1000;
    this.heartbeatTimer = setInterval(() => {
      const now = Date.now();
      if (now - this.lastReceivedMs > 2 * periodMs) {
        this.deps.logger.info({ cid: this.id, peer: this.deps.peerAddress, heartbeatS: this.heartbeatS }, 'amqp missed heartbeats; closing');
        this.destroy('missed heartbeats');
        return;
      }
      if (now - this.lastSentMs >= periodMs / 2) {
        this.send(HEARTBEAT_FRAME);
        this.deps.onEvent?.(this, 'heartbeat-sent');
      }
    }, periodMs / 2);
    this.heartbeatTimer.unref();
  }

  // --- output -----------------------------------------------------------------------------------------

  /** Queues bytes for the socket; written once per tick. */
  send(buf: Buffer): void {
    if (this.state === 'closed') return;
    this.out.push(buf);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushLater);
    }
  }

  /**
   * `ch` has publisher confirms to send: it is asked (sendConfirms) just before the next write, so every
   * confirm settled until then goes out as one basic.ack. The channel calls this once per write (its own flag).
   */
  beforeWrite(ch: AmqpChannel): void {
    if (this.state === 'closed') return;
    this.confirming.push(ch);
    this.scheduleFlush();
  }

  /** flush() for setImmediate, made once rather than a closure per tick. */
  private readonly flushLater = (): void => this.flush();

  sendMethod<K extends MethodName>(channel: number, name: K, args: MethodInit<K>): void {
    this.send(encodeMethodFrame(channel, name, args));
  }

  flush(): void {
    this.flushScheduled = false;
    if (this.confirming.length > 0) {
      for (const ch of this.confirming) ch.sendConfirms();
      this.confirming.length = 0;
    }
    if (this.out.length === 0 || this.state === 'closed' || this.stream.destroyed) {
      this.out.length = 0;
      return;
    }
    // The array is reused: Buffer.concat copies, and a single buffer is taken out before the array is emptied.
    const data = this.out.length === 1 ? this.out[0] : Buffer.concat(this.out);
    this.out.length = 0;
    this.lastSentMs = Date.now();
    this.stream.write(data);
  }

  // --- closing ----------------------------------------------------------------------------------------

  /** A hard error: connection.close with its code, then close once the client answers (or after a grace). */
  closeWithError(err: AmqpError, log: boolean): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    if (log) {
      this.deps.logger.warn({ cid: this.id, peer: this.deps.peerAddress, protocol: 'amqp', code: err.replyCode, err: err.message }, `amqp connection error: ${err.replyText}`);
    }
    this.send(encodeMethodFrame(0, 'ConnectionClose', { replyCode: err.replyCode, replyText: err.replyText, classId: err.classId, methodId: err.methodId }));
    this.flush();
    this.state = 'closing';
    for (const ch of this.channels.values()) ch.teardown();
    this.closeTimer = setTimeout(() => this.destroy('close-ok timeout'), CLOSE_GRACE_MS);
    this.closeTimer.unref();
  }

  /** Server shutdown: connection.close 320 CONNECTION_FORCED. */
  close(reason: string): void {
    if (this.state === 'opened' || this.state === 'open' || this.state === 'tune-ok') {
      this.closeWithError(new AmqpError('CONNECTION_FORCED', reason), false);
    }
    this.destroy(reason);
  }

  private destroy(reason: string): void {
    this.flush();
    this.stream.end();
    this.stream.destroy();
    this.teardown(reason);
  }

  /** Releases everything the connection holds (consumers, unacked messages, exclusive queues). Idempotent. */
  private teardown(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const t of [this.heartbeatTimer, this.handshakeTimer, this.closeTimer]) if (t) clearTimeout(t);
    for (const ch of this.channels.values()) ch.teardown();
    this.channels.clear();
    // onClose only once exclusive queues are gone, so 'connectionClosed' observers see the final state.
    void this.queues
      .releaseOwner(this.principal, this.owner)
      .catch((err) => this.deps.logger.warn({ err, cid: this.id }, 'amqp exclusive queue cleanup failed'))
      .finally(() => this.deps.onClose?.(this, reason));
  }

  /**
   * Publisher backpressure (DESIGN.md "Backpressure"): past `maxInflightPublishes` appends not yet durable, the
   * socket is not read until half of them resolved.
   */
  appendStarted(): void {
    if (++this.inflightAppends === this.options.maxInflightPublishes && !this.readPaused) {
      this.readPaused = true;
      this.stream.pause();
    }
  }

  appendFinished(): void {
    if (--this.inflightAppends <= this.options.maxInflightPublishes / 2 && this.readPaused) {
      this.readPaused = false;
      if (this.state !== 'closed' && this.blocked === null) this.stream.resume();
    }
  }

  /**
   * The broker's resource alarm changed (`reason` as RabbitMQ words it, null when cleared). As in RabbitMQ a
   * connection is blocked only once it publishes during the alarm; clearing unblocks it (connection.unblocked
   * if connection.blocked was sent).
   */
  setAlarm(reason: string | null): void {
    this.alarm = reason;
    if (reason !== null || this.blocked === null) return;
    const { notified } = this.blocked;
    this.blocked = null;
    if (this.state === 'closed') return;
    if (notified) this.send(encodeMethodFrame(0, 'ConnectionUnblocked', {}));
    if (!this.readPaused) this.stream.resume();
  }

  /** A basic.publish arrived: during an alarm it blocks the connection (socket reads stop until cleared). */
  publishing(): void {
    if (this.alarm === null || this.blocked !== null || this.state === 'closed') return;
    const notified = this.clientCapabilities['connection.blocked'] === true;
    this.blocked = { notified };
    if (notified) this.send(encodeMethodFrame(0, 'ConnectionBlocked', { reason: this.alarm }));
    this.deps.logger.info({ cid: this.id, peer: this.deps.peerAddress, reason: this.alarm }, 'amqp connection blocked by a resource alarm');
    this.stream.pause();
  }

  /** channel.close-ok received, or channel.close answered: the channel number is free again. */
  forgetChannel(channel: number): void {
    this.channels.delete(channel);
  }

  /** A queue was deleted (by any connection): consumers on it are cancelled. */
  queueDeleted(queue: Queue): void {
    for (const ch of this.channels.values()) ch.queueDeleted(queue);
  }
}
