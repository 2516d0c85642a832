/**
 * MqttSession: one MQTT 3.1.1 / 5.0 network connection (specs/mqtt/FACTS.md) over any Duplex — a net.Socket in
 * production, an in-memory pair in tests. Bytes go through the codec's PacketSplitter and decodePacket; each
 * packet is handled here against the core Broker; the per-Client-Identifier state that outlives the connection
 * (subscriptions, unacknowledged QoS 1/2, queued messages) is an MqttSessionState it attaches to.
 *
 * Lifecycle: the first packet must be CONNECT [MQTT-3.1.0-1]. Login is asynchronous (PBKDF2): the socket is
 * paused and packets already read are held, then handled in order after CONNACK. Session takeover: a CONNECT
 * with a Client Identifier that is connected closes the older connection (v5: DISCONNECT 0x8E) [MQTT-3.1.4-2].
 * Keep alive: nothing received for 1.5 × Keep Alive closes the connection (v5: DISCONNECT 0x8D) [MQTT-3.1.2-24].
 *
 * Acknowledgements: PUBACK (QoS 1) and PUBREC (QoS 2) are sent only once broker.publish() has resolved, i.e.
 * the message is durable in every capturing stream (DESIGN.md "an ack is never sent before the policy is met"),
 * and, for RETAIN, the retained store's write is durable too. QoS 2 inbound is exactly once to the Router: the
 * packet id is remembered from PUBLISH to PUBREL and a re-sent PUBLISH is not routed again.
 *
 * Output: packets are encoded at once and written to the socket in one corked burst per tick.
 *
 * Errors: no exception escapes. A packet the codec rejects (MqttProtocolError) or a protocol violation closes
 * the connection with its reason code (v5 DISCONNECT; before CONNACK, a CONNACK refusal or a plain close) and
 * one log line; anything unexpected closes with 0x83. The Will is published on every close but a normal
 * DISCONNECT [MQTT-3.1.2-8].
 */
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Broker } from '../../core/broker.js';
import { isBrokerError } from '../../core/broker-error.js';
import { anonymousPrincipal, authenticatedPrincipal, type Principal } from '../../core/principal.js';
import { SCRAM_MECHANISMS, ScramServerSession, type ScramMechanism } from '../../core/users/scram.js';
import type { RetainedStore } from '../../core/retained-store.js';
import { mqttFilterToSubjectFilters, mqttTopicToSubject, parseMqttSharedSubscription } from '../../core/router/translate.js';
import {
  MqttProtocolError,
  PacketSplitter,
  PacketType,
  ReasonCode,
  connackReturnCodeV4,
  decodePacket,
  encodePacket,
  type ConnectPacket,
  type MqttPacket,
  type MqttVersion,
  type Properties,
  type PubAckPacket,
  type PublishPacket,
  type QoS,
  type SubscribePacket,
  type Subscription as MqttSubscription,
  type UnsubscribePacket,
  type Will,
} from './codec/index.js';
import { publishToMessage } from './message-map.js';
import { encodePublish } from './publish-encoder.js';
import { MqttSessionState, SESSION_NEVER_EXPIRES, SubEntry, type SessionConnection } from './session-state.js';
import type { SessionStore } from './session-store.js';

export interface MqttLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface MqttSessionOptions {
  /** Largest packet accepted (and advertised in v5 CONNACK Maximum Packet Size). */
  maxPacketSize: number;
  /** Topic aliases a v5 client may use towards the server (CONNACK Topic Alias Maximum); 0 = none. */
  topicAliasMaximum: number;
  /** QoS 1/2 messages kept per session while offline or flow-controlled; more are dropped. */
  maxQueuedMessages: number;
  /** Publishes awaiting their stream appends before the socket stops being read (TCP backpressure). */
  maxInflightPublishes: number;
  /** Bytes waiting in the socket beyond which QoS 0 deliveries to this client are dropped. */
  maxPendingBytes: number;
  /** Accept CONNECT without a user name (as the anonymous principal). */
  allowAnonymous: boolean;
  /** Time allowed between accept and CONNECT. */
  connectTimeoutMs: number;
  /**
   * Inbound QoS 1/2 publishes a v5 client may have unacknowledged (CONNACK Receive Maximum, advertised when below
   * 65,535); one more → DISCONNECT 0x93.
   */
  receiveMaximum: number;
  /**
   * Largest Keep Alive allowed (s); 0 = the client's own. A v5 client asking for more (or for none) is told this
   * value in CONNACK Server Keep Alive; a 3.1.1 client asking for more is refused (return code 2, as mosquitto).
   */
  maxKeepAliveSec: number;
}

/** What the session needs from its listener. */
export interface MqttSessionDeps {
  broker: Broker;
  logger: MqttLogger;
  options: MqttSessionOptions;
  retained: RetainedStore;
  /** Sessions by Client Identifier (shared by all connections of the listener). */
  sessions: Map<string, MqttSessionState>;
  /** Where persistent sessions are kept. */
  store: SessionStore;
  /** Creates (and registers) the state of a new session. */
  createState(clientId: string): MqttSessionState;
  /** Gives a new persistent session its durable queue (state.ready settles when it is open). */
  makeDurable(state: MqttSessionState): void;
  connectionId: number;
  peerAddress?: string;
  peerPort?: number;
  onClose?: (session: MqttSession, reason: string) => void;
}

/** A tick's output up to this size is written as one Buffer; more is written packet by packet, corked. */
const COALESCE_MAX_BYTES = 64 * 1024;

/** Grace for a closing socket to flush its goodbye before it is destroyed. */
const CLOSE_GRACE_MS = 2000;

interface CloseOptions {
  /** v5 DISCONNECT reason to send (only once connected). */
  reasonCode?: number;
  /** Publish the Will (every close except a normal DISCONNECT). */
  will: boolean;
}

export class MqttSession implements SessionConnection {
  readonly id: number;
  private readonly socket: Duplex;
  private readonly deps: MqttSessionDeps;
  private readonly broker: Broker;
  private readonly logger: MqttLogger;
  private readonly opts: MqttSessionOptions;
  private readonly splitter: PacketSplitter;

  version: MqttVersion = 4;
  /** 'authenticating': a v5 enhanced-auth exchange before CONNACK (only AUTH and DISCONNECT are read). */
  private phase: 'new' | 'authenticating' | 'connecting' | 'connected' | 'closed' = 'new';
  /** The CONNECT's Authentication Method (v5 enhanced authentication), for AUTH and re-authentication. */
  private authMethod: ScramMechanism | undefined;
  /** The SCRAM exchange in progress (at CONNECT or a re-authentication). */
  private scram: ScramServerSession | null = null;
  private pendingConnect: { p: ConnectPacket; assigned: boolean } | null = null;
  /** server-final-message, sent as Authentication Data in CONNACK. */
  private connackAuthData: Buffer | undefined;
  private held: Array<[number, Buffer]> = [];
  /** Read by the connection registry (listing); the session itself only assigns it. */
  principal: Principal;
  /** PUBLISH packets received and sent, for the connection registry (plain increments). */
  readonly traffic = { messagesIn: 0, messagesOut: 0 };
  clientId = '';
  private state: MqttSessionState | null = null;
  private will: Will | undefined;
  private readonly topicAliases = new Map<number, string>();
  clientReceiveMax = 65_535;
  private clientMaxPacketSize = 0;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  private out: Buffer[] = [];
  private flushScheduled = false;
  private inflight = 0;
  /** Inbound QoS 1/2 publishes not yet completed (PUBACK sent / PUBREL received), for Receive Maximum. */
  private inboundUnacked = 0;
  private pausedForInflight = false;
  private closeReason = '';

  private readonly onData = (chunk: Buffer): void => this.receive(chunk);
  private readonly flushNow = (): void => this.flush();

  constructor(socket: Duplex, deps: MqttSessionDeps) {
    this.socket = socket;
    this.deps = deps;
    this.broker = deps.broker;
    this.logger = deps.logger;
    this.opts = deps.options;
    this.id = deps.connectionId;
    this.principal = anonymousPrincipal(deps.peerAddress);
    this.splitter = new PacketSplitter({ onPacket: (first, body) => this.onPacket(first, body) }, { maxPacketSize: this.opts.maxPacketSize });
  }

  start(): void {
    this.socket.on('data', this.onData);
    this.socket.on('end', () => this.close('client closed the connection', { will: true }));
    this.socket.on('close', () => this.close('socket closed', { will: true }));
    this.socket.on('error', (err: Error) => {
      this.logger.debug({ err, cid: this.id, peer: this.peer() }, 'mqtt socket error');
      this.close('socket error', { will: true });
    });
    if (this.opts.connectTimeoutMs > 0) {
      this.connectTimer = setTimeout(() => {
        if (this.phase === 'new') {
          this.logger.info({ cid: this.id, peer: this.peer() }, 'mqtt connection closed: no CONNECT in time');
          this.close('no CONNECT in time', { will: false });
        }
      }, this.opts.connectTimeoutMs);
      this.connectTimer.unref?.();
    }
  }

  get isClosed(): boolean {
    return this.phase === 'closed';
  }

  get isConnected(): boolean {
    return this.phase === 'connected';
  }

  private peer(): string {
    return this.deps.peerAddress === undefined ? 'in-memory' : `${this.deps.peerAddress}:${this.deps.peerPort ?? 0}`;
  }

  // --- input ------------------------------------------------------------------------------------------------

  private receive(chunk: Buffer): void {
    if (this.phase === 'closed') return;
    // [MQTT-3.1.2-24] any bytes count as activity for keep alive.
    this.keepAliveTimer?.refresh();
    try {
      this.splitter.push(chunk);
    } catch (err) {
      this.handleError(err);
    }
  }

  private onPacket(first: number, body: Buffer): void {
    if (this.phase === 'closed') return;
    if (this.phase === 'connecting') {
      // Node does not reuse socket chunks, so holding the view is safe.
      this.held.push([first, body]);
      return;
    }
    this.dispatch(first, body);
  }

  private dispatch(first: number, body: Buffer): void {
    if (this.phase === 'authenticating') {
      // 5.0 §4.12: until CONNACK a client using enhanced authentication sends only AUTH or DISCONNECT.
      const p = decodePacket(first, body, this.version);
      if (p.type === 'auth') return this.onAuth(p);
      if (p.type === 'disconnect') return this.close('client disconnected during authentication', { will: false });
      throw new MqttProtocolError(ReasonCode.ProtocolError, 'fixedHeader.type', 0, `${p.type.toUpperCase()} during enhanced authentication`);
    }
    if (this.phase === 'new') {
      if (first >> 4 !== PacketType.CONNECT) {
        // [MQTT-3.1.0-1] the first packet must be CONNECT; nothing to answer with.
        throw new MqttProtocolError(ReasonCode.ProtocolError, 'fixedHeader.type', 0, `packet type ${first >> 4} before CONNECT`);
      }
      this.onConnect(decodePacket(first, body, 4) as ConnectPacket);
      return;
    }
    const p: MqttPacket = decodePacket(first, body, this.version);
    switch (p.type) {
      case 'publish': return this.onPublish(p);
      case 'puback': this.state!.onPuback(p.packetId); return;
      case 'pubrec': this.state!.onPubrec(p.packetId, p.reasonCode); return;
      case 'pubrel': return this.onPubrel(p);
      case 'pubcomp': this.state!.onPubcomp(p.packetId); return;
      case 'subscribe': return this.onSubscribe(p);
      case 'unsubscribe': return this.onUnsubscribe(p);
      case 'pingreq': this.write(encodePacket({ type: 'pingresp' }, this.version)); return;
      case 'disconnect': return this.onDisconnect(p.reasonCode, p.properties);
      case 'connect':
        // [MQTT-3.1.0-2] a second CONNECT is a protocol violation.
        throw new MqttProtocolError(ReasonCode.ProtocolError, 'connect', 0, 'second CONNECT');
      case 'auth':
        return this.onAuth(p);
      default:
        throw new MqttProtocolError(ReasonCode.ProtocolError, 'fixedHeader.type', 0, `${p.type.toUpperCase()} is sent by servers only`);
    }
  }

  private handleError(err: unknown): void {
    if (this.phase === 'closed') return;
    if (err instanceof MqttProtocolError) {
      this.logger.info(
        { cid: this.id, peer: this.peer(), clientId: this.clientId, reasonCode: err.reasonCode, err: err.message },
        'mqtt protocol error; closing the connection',
      );
      if (this.phase === 'new' && err.reasonCode === ReasonCode.UnsupportedProtocolVersion) {
        // The client's version is unknown: answer as 3.1.1 does (return code 1), which v5 clients also read.
        this.write(encodePacket({ type: 'connack', sessionPresent: false, reasonCode: 1 }, 4));
      }
      this.close(err.message, { reasonCode: err.reasonCode, will: true });
      return;
    }
    this.logger.error({ err, cid: this.id, peer: this.peer(), clientId: this.clientId }, 'mqtt session failed; closing the connection');
    this.close('internal error', { reasonCode: ReasonCode.ImplementationSpecificError, will: true });
  }

  // --- CONNECT ----------------------------------------------------------------------------------------------

  private onConnect(p: ConnectPacket): void {
    this.version = p.protocolLevel === 5 ? 5 : 4;
    this.phase = 'connecting';
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    const props = p.properties;
    const method = props?.authenticationMethod;
    if (method !== undefined && !(SCRAM_MECHANISMS as readonly string[]).includes(method)) {
      this.refuse(ReasonCode.BadAuthenticationMethod, `authentication method ${method} is not supported`);
      return;
    }
    const maxKeepAlive = this.opts.maxKeepAliveSec;
    if (this.version === 4 && maxKeepAlive > 0 && p.keepAliveSec > maxKeepAlive) {
      // 3.1.1 cannot be told another Keep Alive: refused as mosquitto refuses it (identifier rejected).
      this.refuse(ReasonCode.ClientIdentifierNotValid, `keep alive ${p.keepAliveSec} s is above the server's ${maxKeepAlive} s`);
      return;
    }
    let clientId = p.clientId;
    let assigned = false;
    if (clientId.length === 0) {
      // [MQTT-3.1.3-7]/[MQTT-3.1.3-8]: 3.1.1 assigns an id only for a clean session.
      if (this.version === 4 && !p.cleanStart) {
        this.refuse(ReasonCode.ClientIdentifierNotValid, 'empty client id without clean session');
        return;
      }
      clientId = `tributary-${randomBytes(8).toString('hex')}`;
      assigned = true;
    }
    if (props?.receiveMaximum !== undefined) this.clientReceiveMax = props.receiveMaximum;
    if (props?.maximumPacketSize !== undefined) this.clientMaxPacketSize = props.maximumPacketSize;
    this.clientId = clientId;
    if (method !== undefined) {
      this.startAuth(p, method as ScramMechanism, assigned);
      return;
    }
    let login: Promise<Principal>;
    if (p.username !== undefined) {
      login = this.broker.users.authenticate(p.username, p.password === undefined ? '' : p.password.toString('utf8'), this.deps.peerAddress);
    } else if (this.opts.allowAnonymous) {
      login = Promise.resolve(anonymousPrincipal(this.deps.peerAddress));
    } else {
      this.refuse(ReasonCode.NotAuthorized, 'no user name and anonymous access is off');
      return;
    }
    this.socket.pause();
    login.then(
      (principal) => {
        if (this.phase !== 'connecting') return;
        this.principal = principal;
        try {
          this.accept(p, assigned);
        } catch (err) {
          this.handleError(err);
        }
      },
      (err: unknown) => {
        if (this.phase !== 'connecting') return;
        this.refuse(ReasonCode.BadUserNameOrPassword, `login of '${p.username}' failed: ${(err as Error).message}`);
      },
    );
  }

  // --- enhanced authentication (5.0 §4.12): SCRAM-SHA-256/512 against the core user store ------------------

  /** CONNECT with Authentication Method: client-first in its Authentication Data; answers AUTH 0x18 server-first. */
  private startAuth(p: ConnectPacket, method: ScramMechanism, assigned: boolean): void {
    this.authMethod = method;
    const first = this.scramFirst(p.properties?.authenticationData);
    if (first === null) return this.refuse(ReasonCode.NotAuthorized, 'malformed SCRAM client-first message');
    this.pendingConnect = { p, assigned };
    this.phase = 'authenticating';
    this.writeAuth(ReasonCode.ContinueAuthentication, first);
    if (this.opts.connectTimeoutMs > 0) {
      // The exchange must finish within the CONNECT timeout too.
      this.connectTimer = setTimeout(() => {
        if (this.phase === 'authenticating') this.refuse(ReasonCode.NotAuthorized, 'enhanced authentication not completed in time');
      }, this.opts.connectTimeoutMs);
      this.connectTimer.unref?.();
    }
  }

  /** Starts a SCRAM exchange; server-first, or null when client-first is malformed. */
  private scramFirst(data: Buffer | undefined): Buffer | null {
    const users = this.broker.users;
    this.scram = new ScramServerSession(this.authMethod!, (name, m) => users.scramCredential(name, m));
    try {
      return Buffer.from(this.scram.clientFirst(data ?? Buffer.alloc(0)), 'utf8');
    } catch {
      this.scram = null;
      return null;
    }
  }

  private writeAuth(reasonCode: number, data: Buffer): void {
    this.write(encodePacket({ type: 'auth', reasonCode, properties: { authenticationMethod: this.authMethod!, authenticationData: data } }, 5));
  }

  /** AUTH: client-final of a CONNECT or re-authentication exchange, or (0x19) the start of a re-authentication. */
  private onAuth(p: Extract<MqttPacket, { type: 'auth' }>): void {
    if (this.authMethod === undefined) {
      // 5.0 §4.12: AUTH only from a client that named an Authentication Method at CONNECT.
      throw new MqttProtocolError(ReasonCode.ProtocolError, 'auth', 0, 'AUTH without an authentication method');
    }
    if (p.properties?.authenticationMethod !== this.authMethod) {
      throw new MqttProtocolError(ReasonCode.ProtocolError, 'auth.authenticationMethod', 0, 'AUTH with another authentication method than CONNECT');
    }
    const data = p.properties.authenticationData;
    if (p.reasonCode === ReasonCode.ReAuthenticate) {
      if (this.phase !== 'connected' || this.scram !== null) throw new MqttProtocolError(ReasonCode.ProtocolError, 'auth.reasonCode', 0, 're-authentication out of order');
      const first = this.scramFirst(data);
      if (first === null) return this.close('malformed SCRAM client-first at re-authentication', { reasonCode: ReasonCode.NotAuthorized, will: true });
      this.writeAuth(ReasonCode.ContinueAuthentication, first);
      return;
    }
    const scram = this.scram;
    if (p.reasonCode !== ReasonCode.ContinueAuthentication || scram === null) {
      throw new MqttProtocolError(ReasonCode.ProtocolError, 'auth.reasonCode', 0, `unexpected AUTH reason 0x${p.reasonCode.toString(16)}`);
    }
    this.scram = null;
    let principal: Principal | null = null;
    let final: Buffer | undefined;
    try {
      const result = scram.clientFinal(data ?? Buffer.alloc(0));
      final = Buffer.from(result.response, 'utf8');
      const name = scram.username!;
      if (result.ok && (scram.authzid === undefined || scram.authzid === name)) {
        this.broker.users.checkPeer(name, this.deps.peerAddress);
        principal = authenticatedPrincipal(name, this.authMethod, this.deps.peerAddress);
      }
    } catch {
      principal = null;
    }
    if (this.phase === 'authenticating') {
      if (principal === null) return this.refuse(ReasonCode.BadUserNameOrPassword, `SCRAM login of '${scram.username ?? ''}' failed`);
      const pending = this.pendingConnect!;
      this.pendingConnect = null;
      this.principal = principal;
      this.connackAuthData = final;
      this.phase = 'connecting';
      if (this.connectTimer !== null) clearTimeout(this.connectTimer);
      this.connectTimer = null;
      this.socket.pause();
      this.accept(pending.p, pending.assigned);
      return;
    }
    // Re-authentication keeps the connection's identity: another user is refused (5.0 §4.12.1).
    if (principal === null || principal.name !== this.principal.name) {
      this.logger.info({ cid: this.id, peer: this.peer(), clientId: this.clientId, user: scram.username }, 'mqtt re-authentication failed');
      return this.close('re-authentication failed', { reasonCode: ReasonCode.NotAuthorized, will: true });
    }
    this.principal = principal;
    this.writeAuth(ReasonCode.Success, final!);
  }

  /** CONNACK with an error reason (v5) or return code (3.1.1), then close. */
  private refuse(reason: number, detail: string): void {
    this.logger.info({ cid: this.id, peer: this.peer(), clientId: this.clientId, reasonCode: reason, detail }, 'mqtt connection refused');
    const code = this.version === 5 ? reason : connackReturnCodeV4(reason);
    if (code !== undefined) this.write(encodePacket({ type: 'connack', sessionPresent: false, reasonCode: code }, this.version));
    this.close(detail, { will: false });
  }

  private accept(p: ConnectPacket, assigned: boolean): void {
    const sessions = this.deps.sessions;
    const clientId = this.clientId;
    const previous = sessions.get(clientId);
    const previousConnection = previous?.connection;
    if (previousConnection instanceof MqttSession && previousConnection !== this) previousConnection.takeOver();
    let state = sessions.get(clientId);
    if (state !== undefined && p.cleanStart) {
      // [MQTT-3.1.2-4]/5.0 Clean Start: discard what the old session had.
      state.end();
      state = undefined;
    }
    const sessionPresent = state !== undefined;
    if (state === undefined) state = this.deps.createState(clientId);
    state.expirySec = this.version === 5 ? (p.properties?.sessionExpiryInterval ?? 0) : p.cleanStart ? 0 : SESSION_NEVER_EXPIRES;
    // A new persistent session gets its durable queue before CONNACK (a resumed one has it already).
    if (!sessionPresent && state.expirySec > 0) this.deps.makeDurable(state);
    this.persist(state);
    this.state = state;
    const ready = state;
    ready.ready.then(
      () => {
        if (this.phase === 'connecting') {
          // A clean start of another connection with this id ended the session meanwhile: that one won.
          if (ready.ended) this.close('session taken over', { will: false });
          else this.connected(p, ready, sessionPresent, assigned);
        } else if (ready.connection === null && !ready.ended) ready.startOffline();
      },
      (err: unknown) => {
        this.logger.warn({ err, cid: this.id, clientId }, 'mqtt session queue could not be created');
        ready.end();
        if (this.phase === 'connecting') this.refuse(ReasonCode.ServerUnavailable, 'session queue could not be created');
      },
    );
  }

  private connected(p: ConnectPacket, state: MqttSessionState, sessionPresent: boolean, assigned: boolean): void {
    const clientId = this.clientId;
    // Another connection with this id that attached while this one waited for the session is taken over.
    const other = state.connection;
    if (other instanceof MqttSession && other !== this) other.takeOver();
    if (state.ended) return this.close('session ended while connecting', { will: false });
    this.will = p.will;
    this.phase = 'connected';
    let props: Properties | undefined;
    if (this.version === 5) {
      props = {
        topicAliasMaximum: this.opts.topicAliasMaximum,
        maximumPacketSize: this.opts.maxPacketSize,
        retainAvailable: 1,
        wildcardSubscriptionAvailable: 1,
        subscriptionIdentifierAvailable: 1,
        sharedSubscriptionAvailable: 1,
      };
      if (assigned) props.assignedClientIdentifier = clientId;
      if (this.opts.receiveMaximum < 65_535) props.receiveMaximum = this.opts.receiveMaximum;
      if (this.connackAuthData !== undefined) {
        props.authenticationMethod = this.authMethod;
        props.authenticationData = this.connackAuthData;
      }
    }
    let keepAliveSec = p.keepAliveSec;
    const maxKeepAlive = this.opts.maxKeepAliveSec;
    if (props !== undefined && maxKeepAlive > 0 && (keepAliveSec === 0 || keepAliveSec > maxKeepAlive)) {
      // 5.0 §3.2.2.3.14: the client must use the Server Keep Alive instead of its own.
      keepAliveSec = maxKeepAlive;
      props.serverKeepAlive = maxKeepAlive;
    }
    this.write(encodePacket({ type: 'connack', sessionPresent, reasonCode: 0, ...(props !== undefined ? { properties: props } : {}) }, this.version));
    if (keepAliveSec > 0) {
      this.keepAliveTimer = setTimeout(() => this.keepAliveExpired(keepAliveSec), keepAliveSec * 1500);
      this.keepAliveTimer.unref?.();
    }
    this.logger.debug({ cid: this.id, peer: this.peer(), clientId, version: this.version, sessionPresent, user: this.principal.name }, 'mqtt client connected');
    state.resume(this);
    const held = this.held;
    this.held = [];
    for (const [first, body] of held) {
      if (this.phase !== 'connected') return;
      this.dispatch(first, body);
    }
    if (this.phase === 'connected' && !this.pausedForInflight) this.socket.resume();
  }

  /** Another connection took this Client Identifier over [MQTT-3.1.4-2]. */
  takeOver(): void {
    this.logger.info({ cid: this.id, peer: this.peer(), clientId: this.clientId }, 'mqtt session taken over');
    this.close('session taken over', { reasonCode: ReasonCode.SessionTakenOver, will: true });
  }

  private keepAliveExpired(keepAliveSec: number): void {
    if (this.phase !== 'connected') return;
    this.logger.info({ cid: this.id, peer: this.peer(), clientId: this.clientId, keepAliveSec }, 'mqtt keep alive timeout');
    this.close('keep alive timeout', { reasonCode: ReasonCode.KeepAliveTimeout, will: true });
  }

  // --- PUBLISH ----------------------------------------------------------------------------------------------

  private onPublish(p: PublishPacket): void {
    const props = p.properties;
    let topic = p.topic;
    if (props?.topicAlias !== undefined) {
      const alias = props.topicAlias;
      // 5.0 §3.3.2.3.4: 0 or above our Topic Alias Maximum is an error.
      if (alias === 0 || alias > this.opts.topicAliasMaximum) throw new MqttProtocolError(ReasonCode.TopicAliasInvalid, 'publish.topicAlias', 0, `topic alias ${alias}`);
      if (topic.length === 0) {
        const known = this.topicAliases.get(alias);
        if (known === undefined) throw new MqttProtocolError(ReasonCode.ProtocolError, 'publish.topicAlias', 0, `unknown topic alias ${alias}`);
        topic = known;
      } else {
        this.topicAliases.set(alias, topic);
      }
    }
    if (props?.subscriptionIdentifiers !== undefined) {
      throw new MqttProtocolError(ReasonCode.ProtocolError, 'publish.subscriptionIdentifier', 0, 'Subscription Identifier from a client');
    }
    let subject: string;
    let replyTo: string | undefined;
    try {
      subject = mqttTopicToSubject(topic);
      if (props?.responseTopic !== undefined) replyTo = mqttTopicToSubject(props.responseTopic);
    } catch (err) {
      if (!isBrokerError(err, 'TRIB_SUBJECT_INVALID')) throw err;
      throw new MqttProtocolError(ReasonCode.TopicNameInvalid, 'publish.topic', 0, (err as Error).message);
    }
    const state = this.state!;
    const id = p.packetId ?? 0;
    if (p.qos === 2 && state.inboundQos2.has(id)) {
      // A re-send of a message already routed: acknowledge again, do not route again [MQTT-4.3.3-9].
      this.ack('pubrec', id, 0);
      return;
    }
    if (p.qos > 0 && this.version === 5 && this.inboundUnacked >= this.opts.receiveMaximum) {
      // 5.0 §3.3.4: more unacknowledged QoS 1/2 PUBLISHes than our Receive Maximum.
      throw new MqttProtocolError(ReasonCode.ReceiveMaximumExceeded, 'publish', 0, `more than ${this.opts.receiveMaximum} unacknowledged publishes`);
    }
    if (props?.payloadFormatIndicator === 1 && !isUtf8(p.payload)) {
      // 5.0 §3.3.2.3.2: the payload claims to be UTF-8 and is not.
      this.logger.debug({ cid: this.id, clientId: this.clientId, topic }, 'mqtt payload is not the UTF-8 it claims to be');
      if (p.qos > 0) this.ack(p.qos === 1 ? 'puback' : 'pubrec', id, ReasonCode.PayloadFormatInvalid);
      return;
    }
    if (p.qos > 0) this.inboundUnacked++;
    if (p.qos === 2) state.inboundQos2.add(id);
    const now = Date.now();
    const message = publishToMessage(subject, p.qos, p.retain, p.payload, props, replyTo, state, now);
    this.traffic.messagesIn++;
    let work: Promise<unknown> = this.broker.publish(this.principal, message);
    if (p.retain) {
      const attributes: { [key: string]: number } = { qos: p.qos };
      if (props?.payloadFormatIndicator !== undefined) attributes.payloadFormatIndicator = props.payloadFormatIndicator;
      // The retained store is written only once the publish was allowed.
      work = work.then(() =>
        this.deps.retained.set({
          subject,
          value: p.payload,
          headers: message.headers,
          timestamp: now,
          ...(replyTo !== undefined ? { replyTo } : {}),
          ...(message.mqtt?.expiresAtMs !== undefined ? { expiresAtMs: message.mqtt.expiresAtMs } : {}),
          attributes,
        }),
      );
    }
    // A persistent session keeps the id with its record before PUBREC, so a restart still knows it was routed.
    if (p.qos === 2 && state.durable) work = work.then(() => state.persist());
    this.inflight++;
    if (this.inflight > this.opts.maxInflightPublishes && !this.pausedForInflight) {
      this.pausedForInflight = true;
      this.socket.pause();
    }
    work.then(
      () => {
        this.publishDone();
        if (p.qos === 1) this.inboundUnacked--;
        if (p.qos === 1) this.ack('puback', id, 0);
        else if (p.qos === 2) this.ack('pubrec', id, 0);
      },
      (err: unknown) => {
        this.publishDone();
        this.publishFailed(p, err);
      },
    );
  }

  private publishDone(): void {
    this.inflight--;
    if (this.pausedForInflight && this.inflight <= this.opts.maxInflightPublishes >>> 1) {
      this.pausedForInflight = false;
      if (this.phase === 'connected') this.socket.resume();
    }
  }

  private publishFailed(p: PublishPacket, err: unknown): void {
    if (this.phase !== 'connected') return;
    const unauthorized = isBrokerError(err, 'TRIB_UNAUTHORIZED');
    this.logger.warn({ err: (err as Error).message, cid: this.id, peer: this.peer(), clientId: this.clientId, topic: p.topic, qos: p.qos }, 'mqtt publish failed');
    if (p.qos === 0) return;
    const id = p.packetId!;
    this.inboundUnacked--;
    if (this.version === 5) {
      if (p.qos === 2) this.state?.inboundQos2.delete(id);
      this.ack(p.qos === 1 ? 'puback' : 'pubrec', id, unauthorized ? ReasonCode.NotAuthorized : ReasonCode.UnspecifiedError);
      return;
    }
    // 3.1.1 has no negative acknowledgement: closing makes the client send it again [MQTT-4.4.0-1].
    this.close('publish failed', { will: true });
  }

  private ack(type: PubAckPacket['type'], packetId: number, reasonCode: number): void {
    if (this.phase !== 'connected') return;
    this.write(encodePacket({ type, packetId, reasonCode }, this.version));
  }

  private onPubrel(p: PubAckPacket): void {
    const state = this.state!;
    const had = state.inboundQos2.delete(p.packetId);
    if (had && this.inboundUnacked > 0) this.inboundUnacked--;
    const code = had || this.version === 4 ? 0 : ReasonCode.PacketIdentifierNotFound;
    // Persistent: the id is forgotten durably before PUBCOMP lets the client reuse it.
    if (had && state.durable) void state.persist().then(() => this.ack('pubcomp', p.packetId, code));
    else this.ack('pubcomp', p.packetId, code);
  }

  // --- SUBSCRIBE / UNSUBSCRIBE -------------------------------------------------------------------------------

  private onSubscribe(p: SubscribePacket): void {
    const state = this.state!;
    const subId = p.properties?.subscriptionIdentifiers?.[0];
    const codes: number[] = [];
    const retainedFor: SubEntry[] = [];
    for (const s of p.subscriptions) codes.push(this.subscribeOne(state, s, subId, retainedFor));
    this.write(encodePacket({ type: 'suback', packetId: p.packetId, reasonCodes: codes }, this.version));
    this.persist(state);
    // Retained messages after the SUBACK [MQTT-3.8.4-4], each with RETAIN=1.
    for (const entry of retainedFor) {
      for (const r of this.deps.retained.match(entry.subjects, { excludeDollar: true })) state.deliverRetained(entry, r);
    }
  }

  private subscribeOne(state: MqttSessionState, s: MqttSubscription, subId: number | undefined, retainedFor: SubEntry[]): number {
    const failure = this.version === 5 ? ReasonCode.TopicFilterInvalid : 0x80;
    let filter = s.topicFilter;
    let queueGroup: string | undefined;
    let subjects: string[];
    try {
      const shared = this.version === 5 ? parseMqttSharedSubscription(filter) : null;
      if (shared !== null) {
        // [MQTT-3.8.3-4] No Local on a shared subscription is a Protocol Error.
        if (s.noLocal) throw new MqttProtocolError(ReasonCode.ProtocolError, 'subscribe.options', 0, 'No Local on a shared subscription');
        queueGroup = filter;
        filter = shared.filter;
      }
      subjects = mqttFilterToSubjectFilters(filter);
    } catch (err) {
      if (!isBrokerError(err, 'TRIB_SUBJECT_INVALID')) throw err;
      this.logger.debug({ cid: this.id, clientId: this.clientId, filter: s.topicFilter, err: (err as Error).message }, 'mqtt invalid topic filter');
      return failure;
    }
    try {
      for (const f of subjects) this.broker.check(this.principal, 'subscribe', 'subject', f);
    } catch (err) {
      if (!isBrokerError(err, 'TRIB_UNAUTHORIZED')) throw err;
      return this.version === 5 ? ReasonCode.NotAuthorized : 0x80;
    }
    const granted = (s.qos > 2 ? 2 : s.qos) as QoS;
    const existing = state.subs.get(s.topicFilter);
    if (existing !== undefined) existing.stop();
    const entry = new SubEntry(state, s.topicFilter, subjects, granted, s.retainAsPublished, subId, queueGroup, s.noLocal);
    entry.start(this.broker.router);
    state.subs.set(s.topicFilter, entry);
    // Retain Handling: 0 always, 1 only for a new subscription, 2 never; never for shared subscriptions.
    if (queueGroup === undefined && (s.retainHandling === 0 || (s.retainHandling === 1 && existing === undefined))) retainedFor.push(entry);
    return granted;
  }

  private onUnsubscribe(p: UnsubscribePacket): void {
    const state = this.state!;
    const codes: number[] = [];
    for (const f of p.topicFilters) {
      const entry = state.subs.get(f);
      if (entry === undefined) {
        codes.push(ReasonCode.NoSubscriptionExisted);
        continue;
      }
      entry.stop();
      state.subs.delete(f);
      codes.push(ReasonCode.Success);
    }
    this.persist(state);
    this.write(encodePacket({ type: 'unsuback', packetId: p.packetId, reasonCodes: this.version === 5 ? codes : [] }, this.version));
  }

  // --- DISCONNECT -------------------------------------------------------------------------------------------

  private onDisconnect(reasonCode: number, props: Properties | undefined): void {
    const state = this.state!;
    if (props?.sessionExpiryInterval !== undefined) {
      // 5.0 §3.14.2.2.2: a session that was to end with the connection cannot be extended at DISCONNECT.
      if (state.expirySec === 0 && props.sessionExpiryInterval !== 0) {
        throw new MqttProtocolError(ReasonCode.ProtocolError, 'disconnect.sessionExpiryInterval', 0, 'session expiry set at DISCONNECT after 0 at CONNECT');
      }
      state.expirySec = props.sessionExpiryInterval;
      this.persist(state);
    }
    this.close('client disconnected', { will: reasonCode === ReasonCode.DisconnectWithWillMessage });
  }

  /** Keeps a persistent session's subscriptions in the SessionStore (and drops the record of one that is not). */
  private persist(state: MqttSessionState): void {
    if (state.expirySec > 0) void this.deps.store.save(state.toRecord());
    else void this.deps.store.remove(state.clientId);
  }

  // --- output -----------------------------------------------------------------------------------------------

  /** SessionConnection: a PUBLISH or PUBREL from the session state. */
  writePacket(p: PublishPacket | PubAckPacket): boolean {
    if (this.phase !== 'connected') return false;
    let buf: Buffer;
    try {
      buf = p.type === 'publish' ? encodePublish(p, this.version) : encodePacket(p, this.version);
    } catch (err) {
      // A message that cannot be expressed in MQTT (a header value over 65,535 bytes): skip it, keep the session.
      this.logger.warn({ err: (err as Error).message, cid: this.id, clientId: this.clientId, type: p.type }, 'mqtt packet could not be encoded; dropped');
      return false;
    }
    // 5.0 §3.1.2.11.4: a packet over the client's Maximum Packet Size is discarded as if sent.
    if (this.clientMaxPacketSize > 0 && buf.length > this.clientMaxPacketSize) return false;
    if (p.type === 'publish' && p.qos === 0 && this.socket.writableLength > this.opts.maxPendingBytes) return false;
    if (p.type === 'publish') this.traffic.messagesOut++;
    this.write(buf);
    return true;
  }

  private write(buf: Buffer): void {
    this.out.push(buf);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushNow);
    }
  }

  /** Writes everything queued in one corked burst. */
  flush(): void {
    this.flushScheduled = false;
    const out = this.out;
    if (out.length === 0) return;
    this.out = [];
    if (!this.socket.writable) return;
    if (out.length === 1) {
      this.socket.write(out[0]);
      return;
    }
    let bytes = 0;
    for (let i = 0; i < out.length; i++) bytes += out[i].length;
    if (bytes <= COALESCE_MAX_BYTES) {
      // Small packets (acks, 128 B publishes): one copy into one chunk costs less than a write request per packet.
      this.socket.write(Buffer.concat(out, bytes));
      return;
    }
    this.socket.cork();
    for (let i = 0; i < out.length; i++) this.socket.write(out[i]);
    this.socket.uncork();
  }

  // --- closing ----------------------------------------------------------------------------------------------

  /** Flushes, optionally says DISCONNECT (v5), ends the socket, publishes the Will if due, detaches the state. */
  close(reason: string, options: CloseOptions = { will: true }): void {
    if (this.phase === 'closed') return;
    const wasConnected = this.phase === 'connected';
    if (wasConnected && this.version === 5 && options.reasonCode !== undefined) {
      this.write(encodePacket({ type: 'disconnect', reasonCode: options.reasonCode }, 5));
    }
    this.phase = 'closed';
    this.closeReason = reason;
    if (this.keepAliveTimer !== null) clearTimeout(this.keepAliveTimer);
    this.keepAliveTimer = null;
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.held = [];
    this.socket.off('data', this.onData);
    try {
      if (this.socket.writable) {
        this.flush();
        this.socket.end();
      }
    } catch (err) {
      this.logger.debug({ err, cid: this.id, peer: this.peer() }, 'mqtt socket end failed');
    }
    this.out = [];
    if (!this.socket.destroyed) {
      const t = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
      t.unref?.();
      this.socket.once('close', () => clearTimeout(t));
    }
    const state = this.state;
    if (state !== null && wasConnected) {
      const will = this.will;
      if (options.will && will !== undefined) {
        const principal = this.principal;
        state.scheduleWill(() => this.publishWill(will, principal, state), will.properties?.willDelayInterval ?? 0);
      }
      state.detach(this);
    }
    this.deps.onClose?.(this, this.closeReason);
  }

  private publishWill(will: Will, principal: Principal, origin: object): void {
    let subject: string;
    let replyTo: string | undefined;
    try {
      subject = mqttTopicToSubject(will.topic);
      if (will.properties?.responseTopic !== undefined) replyTo = mqttTopicToSubject(will.properties.responseTopic);
    } catch (err) {
      this.logger.warn({ clientId: this.clientId, topic: will.topic, err: (err as Error).message }, 'mqtt will has an invalid topic; not published');
      return;
    }
    const now = Date.now();
    const m = publishToMessage(subject, will.qos, will.retain, will.payload, will.properties, replyTo, origin, now);
    this.logger.debug({ clientId: this.clientId, topic: will.topic }, 'mqtt publishing will');
    let work: Promise<unknown> = this.broker.publish(principal, m);
    if (will.retain) {
      work = work.then(() =>
        this.deps.retained.set({
          subject,
          value: will.payload,
          headers: m.headers,
          timestamp: now,
          ...(replyTo !== undefined ? { replyTo } : {}),
          attributes: { qos: will.qos },
        }),
      );
    }
    work.catch((err: unknown) => this.logger.warn({ err: (err as Error).message, clientId: this.clientId, topic: will.topic }, 'mqtt will was not published'));
  }
}
