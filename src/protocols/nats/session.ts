/**
 * NatsSession: one NATS client connection (specs/nats/FACTS.md) over any Duplex — a net.Socket in production,
 * an in-memory pair in tests. It feeds socket chunks to the Parser, implements its Dispatcher against the core
 * Broker, and writes INFO, MSG/HMSG, PING/PONG, +OK and -ERR.
 *
 * Lifecycle: INFO is written at once; CONNECT sets the options (verbose, pedantic, echo, headers,
 * no_responders) and, when credentials are given or auth is required, authenticates asynchronously. While the
 * login is pending the socket is paused and ops already parsed are deferred, so the client's `CONNECT … PING`
 * gets its PONG only once it is logged in (nats.js treats that PONG as "connected").
 *
 * Delivery path (the hot one): the Router calls `deliver()` synchronously inside the publisher's publish. The
 * MSG/HMSG is written straight into this connection's output buffer (no per-message object); the buffer is
 * written to the socket once per tick (the listener's flush scheduler runs every dirty session in one
 * setImmediate). Control replies (PONG, +OK, -ERR) go through the same buffer so their order relative to
 * deliveries is the order the server produced them.
 *
 * Limits: pending bytes (socket.writableLength + the unflushed buffer) over `maxPendingBytes` → -ERR 'Slow
 * Consumer' and close; the publisher is never blocked by a subscriber (DESIGN.md "Backpressure"). A PING is
 * sent every `pingIntervalMs`; more than `maxPingsOut` unanswered → -ERR 'Stale Connection' and close.
 *
 * Errors: no exception escapes. Parser errors (NatsProtocolError) send their -ERR and close; 'Invalid Subject'
 * and permission violations send -ERR and keep the connection; anything unexpected is logged once with the
 * connection id and peer, and closes this connection only.
 */
import type { Duplex } from 'node:stream';
import type { Broker } from '../../core/broker.js';
import { isBrokerError } from '../../core/broker-error.js';
import type { Message } from '../../core/message.js';
import { anonymousPrincipal, authenticatedPrincipal, type Principal } from '../../core/principal.js';
import type { Subscription } from '../../core/router/router.js';
import { isValidSubject, isValidSubjectFilter } from '../../core/router/subject.js';
import type { RecordHeader } from '../../storage/record-batch.js';
import { OK, PING, PONG, encodeErr, encodeInfo, sizeOfMsg, writeMsg } from './encoder.js';
import { NO_RESPONDERS_HEADERS, decodeHeaders, encodeHeaders } from './headers.js';
import { NatsErr, NatsProtocolError } from './nats-error.js';
import { newNonce, principalOfNkey, principalOfToken, type NatsCredentials } from './auth.js';
import { Parser, type Dispatcher } from './parser.js';

export interface NatsLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface NatsSessionOptions {
  /** Largest PUB/HPUB (headers + payload) accepted and advertised as INFO max_payload. */
  maxPayload: number;
  maxControlLine: number;
  /** Bytes a connection may have waiting to be written before it is cut as a slow consumer. */
  maxPendingBytes: number;
  /** 0 disables server PINGs. */
  pingIntervalMs: number;
  /** Unanswered PINGs tolerated; one more → 'Stale Connection'. */
  maxPingsOut: number;
  /** Advertise auth_required and refuse every op before a CONNECT with valid user/pass. */
  authRequired: boolean;
  /** With authRequired: time allowed between accept and CONNECT. */
  authTimeoutMs: number;
  /** 0 = unlimited. */
  maxSubscriptions: number;
  /** Publishes waiting for their stream appends before the socket stops being read (TCP backpressure). */
  maxInflightPublishes: number;
  /** Token and nkey logins (auth.ts); with nkeys, INFO carries a nonce. */
  credentials: NatsCredentials;
}

/** INFO fields that are the same for every connection of a listener. */
export interface NatsServerInfo {
  server_id: string;
  server_name: string;
  version: string;
  go: string;
  host: string;
  port: number;
}

export interface NatsSessionDeps {
  broker: Broker;
  logger: NatsLogger;
  options: NatsSessionOptions;
  info: NatsServerInfo;
  clientId: number;
  peerAddress?: string;
  peerPort?: number;
  /** Called once per tick at most, to have `flush()` run later in the tick; default: own setImmediate. */
  scheduleFlush?: (session: NatsSession) => void;
  /** Called after each chunk read from the client is processed, to write the output it produced; default: flush this session. */
  afterRead?: () => void;
  /** Called when the session is cut as a slow consumer (before it closes). */
  onSlowConsumer?: (session: NatsSession) => void;
  /** Called when the client answers a PING (tests observe keep-alive with it). */
  onPong?: (session: NatsSession) => void;
  /** Called once when the session has closed. */
  onClose?: (session: NatsSession, reason: string) => void;
}

/** A Message published by a NATS client: it keeps the raw header block so NATS subscribers get it byte-for-byte. */
interface NatsMessage extends Message {
  natsHeaders?: Buffer;
}

const EMPTY = Buffer.alloc(0);
const NO_HEADERS: RecordHeader[] = Object.freeze([]) as unknown as RecordHeader[];
/**
 * Output chunk sizes: a connection starts with a small chunk (idle connections hold little) and doubles it while
 * batches fill it, up to the maximum, halving again when batches shrink.
 */
const MIN_OUT_CHUNK = 4 * 1024;
const MAX_OUT_CHUNK = 64 * 1024;
/** Grace for a closing socket to flush its goodbye before it is destroyed. */
const CLOSE_GRACE_MS = 2000;
/** Header blocks encoded for non-NATS messages, once per message however many NATS subscribers get it. */
const encodedHeaders = new WeakMap<Message, Buffer>();

function headerBlockOf(m: Message): Buffer | undefined {
  const raw = (m as NatsMessage).natsHeaders;
  if (raw !== undefined) return raw;
  if (m.headers.length === 0) return undefined;
  let block = encodedHeaders.get(m);
  if (block === undefined) {
    const entries: Array<[string, string]> = [];
    for (const h of m.headers) {
      // A header that cannot be written as a NATS header line is dropped rather than sent broken.
      if (h.key.length === 0 || /[\r\n:]/.test(h.key)) continue;
      const v = h.value === null ? '' : h.value.toString('utf8');
      if (/[\r\n]/.test(v)) continue;
      entries.push([h.key, v]);
    }
    block = encodeHeaders({ entries });
    encodedHeaders.set(m, block);
  }
  return block;
}

function toRecordHeaders(block: Buffer): RecordHeader[] {
  try {
    const h = decodeHeaders(block);
    if (h.entries.length === 0) return NO_HEADERS;
    const out: RecordHeader[] = new Array(h.entries.length);
    for (let i = 0; i < h.entries.length; i++) out[i] = { key: h.entries[i][0], value: Buffer.from(h.entries[i][1], 'utf8') };
    return out;
  } catch {
    // nats-server does not validate header blocks either: NATS subscribers still get the raw block.
    return NO_HEADERS;
  }
}

/** One SUB of this connection. */
class NatsSub {
  sub!: Subscription;
  /** Auto-unsubscribe after this many deliveries (UNSUB sid max); 0 = none. */
  max = 0;
  /** Deliveries made outside the Router (no-responders status), added to sub.deliveries for `max`. */
  direct = 0;
  readonly handler: (m: Message) => void;
  constructor(
    readonly session: NatsSession,
    readonly sid: string,
  ) {
    this.handler = (m) => session.deliver(this, m);
  }
}

interface ConnectOptions {
  verbose?: unknown;
  pedantic?: unknown;
  echo?: unknown;
  headers?: unknown;
  no_responders?: unknown;
  user?: unknown;
  pass?: unknown;
  auth_token?: unknown;
  nkey?: unknown;
  sig?: unknown;
  protocol?: unknown;
  name?: unknown;
  lang?: unknown;
  version?: unknown;
}

export class NatsSession implements Dispatcher {
  readonly id: number;
  private readonly socket: Duplex;
  private readonly broker: Broker;
  private readonly logger: NatsLogger;
  private readonly opts: NatsSessionOptions;
  private readonly deps: NatsSessionDeps;
  private readonly parser: Parser;

  /** Read by the connection registry (listing); the session itself only assigns it. */
  principal: Principal;
  /** Messages published and delivered, for the connection registry (plain increments). */
  readonly traffic = { messagesIn: 0, messagesOut: 0 };
  /** CONNECT processed (and, if any, the login done). */
  private connected = false;
  private verbose = false;
  private pedantic = false;
  private echo = true;
  private headers = false;
  private noResponders = false;
  clientName: string | undefined;

  private readonly subs = new Map<string, NatsSub>();
  private readonly bySubscription = new Map<Subscription, NatsSub>();

  // Output: deliveries and control lines written into `out` up to `outLen`; `full` holds filled chunks.
  private out: Buffer | null = null;
  private outLen = 0;
  private full: Buffer[] = [];
  private fullBytes = 0;
  private chunkSize = MIN_OUT_CHUNK;
  private flushScheduled = false;

  /** Ops parsed while a login is pending, run in order once it succeeds. */
  private deferred: Array<() => void> | null = null;
  private inflight = 0;
  private pausedForInflight = false;
  private pingsOut = 0;
  private pingTimer: NodeJS.Timeout | null = null;
  private authTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private closeReason = '';
  /** Sent in INFO when nkey logins are configured; the client signs it. */
  private nonce: string | undefined;
  private lastValidSubject: string | undefined;

  private readonly onData = (chunk: Buffer): void => this.receive(chunk);
  private readonly onPublished = (): void => this.publishDone();
  private readonly onPublishFailed = (err: unknown): void => {
    this.publishDone();
    this.publishFailed(err);
  };
  private readonly flushNow = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  constructor(socket: Duplex, deps: NatsSessionDeps) {
    this.socket = socket;
    this.deps = deps;
    this.broker = deps.broker;
    this.logger = deps.logger;
    this.opts = deps.options;
    this.id = deps.clientId;
    this.principal = anonymousPrincipal(deps.peerAddress);
    this.parser = new Parser(this, { maxPayload: this.opts.maxPayload, maxControlLine: this.opts.maxControlLine });
  }

  /** Sends INFO and starts reading. */
  start(): void {
    const info: Record<string, unknown> = {
      ...this.deps.info,
      headers: true,
      max_payload: this.opts.maxPayload,
      proto: 1,
      client_id: this.id,
    };
    if (this.deps.peerAddress !== undefined) info.client_ip = this.deps.peerAddress;
    if (this.opts.authRequired) info.auth_required = true;
    if (this.opts.credentials.nkeys.size > 0) {
      this.nonce = newNonce();
      info.nonce = this.nonce;
    }
    this.socket.on('data', this.onData);
    this.socket.on('end', () => this.close('client closed'));
    this.socket.on('close', () => this.close('socket closed'));
    this.socket.on('error', (err: Error) => {
      this.logger.debug({ err, cid: this.id, peer: this.peer() }, 'nats socket error');
      this.close('socket error');
    });
    this.socket.write(encodeInfo(info));
    if (this.opts.authRequired && this.opts.authTimeoutMs > 0) {
      this.authTimer = setTimeout(() => {
        if (!this.connected) this.fail(NatsErr.AuthorizationTimeout, 'no CONNECT in time');
      }, this.opts.authTimeoutMs);
      this.authTimer.unref?.();
    }
    if (this.opts.pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => this.pingTick(), this.opts.pingIntervalMs);
      this.pingTimer.unref?.();
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes waiting to be written: the socket's buffer and this tick's unflushed output. */
  get pendingBytes(): number {
    return this.socket.writableLength + this.fullBytes + this.outLen;
  }

  /** Who this connection is logged in as ('anonymous' until a login). */
  get principalName(): string {
    return this.principal.name;
  }

  get subscriptionCount(): number {
    return this.subs.size;
  }

  private peer(): string {
    return this.deps.peerAddress === undefined ? 'in-memory' : `${this.deps.peerAddress}:${this.deps.peerPort ?? 0}`;
  }

  // --- input ------------------------------------------------------------------------------------------------

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.parser.parse(chunk);
    } catch (err) {
      this.handleError(err);
    }
    // As nats-server's readLoop flushes clients after each read: what this read produced goes out now, not
    // after the further reads libuv makes in the same tick (up to 32 per socket), so subscribers work in
    // parallel with the publisher instead of waiting for one large burst.
    if (this.deps.afterRead !== undefined) this.deps.afterRead();
    else if (this.flushScheduled) this.flush();
  }

  private handleError(err: unknown): void {
    if (this.closed) return;
    if (err instanceof NatsProtocolError) {
      this.logger.info({ cid: this.id, peer: this.peer(), err: err.message }, `nats protocol error: ${err.errText}`);
      this.fail(err.errText, err.message);
      return;
    }
    this.logger.error({ err, cid: this.id, peer: this.peer() }, 'nats session failed; closing the connection');
    this.fail(NatsErr.ParserError, 'internal error');
  }

  /** While a login is pending, ops are kept for later; true when `op` was deferred. */
  private defer(op: () => void): boolean {
    if (this.deferred === null) return false;
    this.deferred.push(op);
    return true;
  }

  /** With auth required, nothing but CONNECT is accepted before the login (nats-server expectConnect). */
  private refuseBeforeConnect(): boolean {
    if (this.connected || !this.opts.authRequired) return false;
    this.fail(NatsErr.AuthorizationViolation, 'op before CONNECT');
    return true;
  }

  onConnect(json: string): void {
    if (this.defer(() => this.onConnect(json))) return;
    let c: ConnectOptions;
    try {
      const parsed: unknown = JSON.parse(json);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('CONNECT is not a JSON object');
      c = parsed as ConnectOptions;
    } catch (err) {
      throw new NatsProtocolError(NatsErr.ParserError, `bad CONNECT JSON: ${(err as Error).message}`, 0);
    }
    if (typeof c.protocol === 'number' && c.protocol > 1) throw new NatsProtocolError(NatsErr.InvalidClientProtocol, `protocol ${c.protocol}`, 0);
    this.verbose = c.verbose === true;
    this.pedantic = c.pedantic === true;
    this.echo = c.echo !== false;
    this.headers = c.headers === true;
    // The 503 status is a header block: only a client that takes headers can be sent it.
    this.noResponders = this.headers && c.no_responders === true;
    if (typeof c.name === 'string') this.clientName = c.name;
    if (this.connected) {
      this.ok();
      return;
    }
    const login = this.login(c);
    if (login === null) {
      if (!this.opts.authRequired) {
        this.loggedIn(this.principal);
        return;
      }
      this.fail(NatsErr.AuthorizationViolation, 'no credentials');
      return;
    }
    if (login instanceof Error) {
      this.refuseLogin(login);
      return;
    }
    if (!(login instanceof Promise)) {
      this.loggedIn(login);
      return;
    }
    this.deferred = [];
    this.socket.pause();
    login.then(
      (principal) => {
        if (this.closed) return;
        this.loggedIn(principal);
        this.runDeferred();
        if (!this.closed && !this.pausedForInflight) this.socket.resume();
      },
      (err: unknown) => {
        if (!this.closed) this.refuseLogin(err as Error);
      },
    );
  }

  /**
   * The login a CONNECT asks for, in nats-server's order (auth.go processClientOrLeafAuthentication): an nkey
   * signature when nkeys are configured, else a token when tokens are, else user/pass against the user store
   * (asynchronous). Null when the CONNECT carries no credentials that apply; an Error when they are wrong.
   * Credentials of a kind that is not configured are ignored, as nats-server ignores them.
   */
  private login(c: ConnectOptions): Principal | Error | Promise<Principal> | null {
    const credentials = this.opts.credentials;
    const peer = this.deps.peerAddress;
    if (credentials.nkeys.size > 0 && typeof c.nkey === 'string' && c.nkey !== '') {
      const name = principalOfNkey(credentials, c.nkey, this.nonce ?? '', typeof c.sig === 'string' ? c.sig : '');
      return name === undefined ? new Error(`nkey ${c.nkey} not allowed or signature invalid`) : authenticatedPrincipal(name, 'nkey', peer);
    }
    if (credentials.tokens.size > 0 && typeof c.auth_token === 'string') {
      const name = principalOfToken(credentials, c.auth_token);
      return name === undefined ? new Error('unknown token') : authenticatedPrincipal(name, 'token', peer);
    }
    if (typeof c.user === 'string' || typeof c.pass === 'string') return this.broker.users.authenticate(String(c.user ?? ''), String(c.pass ?? ''), peer);
    return null;
  }

  private loggedIn(principal: Principal): void {
    this.principal = principal;
    this.connected = true;
    this.clearAuthTimer();
    this.ok();
  }

  private refuseLogin(err: Error): void {
    this.logger.info({ cid: this.id, peer: this.peer(), err: err.message }, 'nats authorization violation');
    this.fail(NatsErr.AuthorizationViolation, 'bad credentials');
  }

  private runDeferred(): void {
    const ops = this.deferred ?? [];
    this.deferred = null;
    try {
      for (let i = 0; i < ops.length; i++) {
        if (this.closed) return;
        if (this.deferred !== null) {
          // A deferred CONNECT started another login: keep the rest behind it.
          (this.deferred as Array<() => void>).push(...ops.slice(i));
          return;
        }
        ops[i]();
      }
    } catch (err) {
      this.handleError(err);
    }
  }

  private clearAuthTimer(): void {
    if (this.authTimer !== null) clearTimeout(this.authTimer);
    this.authTimer = null;
  }

  onPub(subject: string, reply: string | undefined, payload: Buffer): void {
    if (this.deferred !== null) {
      this.deferred.push(() => this.publish(subject, reply, undefined, payload));
      return;
    }
    this.publish(subject, reply, undefined, payload);
  }

  onHpub(subject: string, reply: string | undefined, headers: Buffer, payload: Buffer): void {
    if (this.deferred !== null) {
      this.deferred.push(() => this.publish(subject, reply, headers, payload));
      return;
    }
    this.publish(subject, reply, headers, payload);
  }

  private publish(subject: string, reply: string | undefined, headerBlock: Buffer | undefined, payload: Buffer): void {
    if (this.closed || this.refuseBeforeConnect()) return;
    this.traffic.messagesIn++;
    // The Router refuses invalid subjects; answering here keeps the -ERR in order with +OK and deliveries.
    // Publishers mostly repeat a subject: the last valid one is not validated again.
    if ((subject !== this.lastValidSubject && !isValidSubject(subject)) || (reply !== undefined && !isValidSubject(reply))) {
      this.sendErr(NatsErr.InvalidSubject);
      return;
    }
    this.lastValidSubject = subject;
    const broker = this.broker;
    try {
      broker.check(this.principal, 'publish', 'subject', subject);
    } catch (err) {
      if (!isBrokerError(err, 'TRIB_UNAUTHORIZED')) throw err;
      this.sendErr(`${NatsErr.PermissionsViolationPublish} ${subject}`);
      return;
    }
    // No one to answer a request: tell the requester at once (client.go sendNoRespondersErr-like; captures count
    // as interest, since a stream stores the request).
    if (reply !== undefined && this.noResponders && !broker.hasInterest(subject)) {
      this.noRespondersTo(reply);
      this.ok();
      return;
    }
    const message: NatsMessage = {
      subject,
      key: null,
      value: payload,
      headers: headerBlock === undefined ? NO_HEADERS : toRecordHeaders(headerBlock),
      timestamp: Date.now(),
      replyTo: reply,
      origin: this,
      natsHeaders: headerBlock,
    };
    // client.go processPub answers +OK for the PUB line, before the message is routed (and echoed back).
    this.ok();
    // Live deliveries happen synchronously in here; a promise comes back only when streams or queues append
    // it (no promise per message for plain pub/sub).
    let stored: Promise<unknown> | null;
    try {
      stored = broker.publishNoWait(this.principal, message);
    } catch (err) {
      this.publishFailed(err);
      return;
    }
    if (stored === null) return;
    this.inflight++;
    stored.then(this.onPublished, this.onPublishFailed);
    if (this.inflight > this.opts.maxInflightPublishes && !this.pausedForInflight) {
      this.pausedForInflight = true;
      this.socket.pause();
    }
  }

  private publishDone(): void {
    this.inflight--;
    if (this.pausedForInflight && this.inflight <= this.opts.maxInflightPublishes >>> 1) {
      this.pausedForInflight = false;
      if (!this.closed && this.deferred === null) this.socket.resume();
    }
  }

  private publishFailed(err: unknown): void {
    if (this.closed) return;
    // At-most-once: a stream that could not append does not fail the NATS publisher (no ack to fail), but say so.
    this.logger.warn({ err, cid: this.id, peer: this.peer() }, 'nats publish was not stored');
  }

  /** Delivers the 503 status to this connection's own subscription matching `reply` (if it has one). */
  private noRespondersTo(reply: string): void {
    const matches = this.broker.router.matchSubscriptions(reply);
    for (let i = 0; i < matches.length; i++) {
      const ns = matches[i].origin === this ? this.bySubscription.get(matches[i]) : undefined;
      if (ns === undefined || matches[i].closed) continue;
      ns.direct++;
      this.write(reply, ns, undefined, NO_RESPONDERS_HEADERS, EMPTY);
      this.checkMax(ns);
      return;
    }
  }

  onSub(subject: string, queue: string | undefined, sid: string): void {
    if (this.defer(() => this.onSub(subject, queue, sid))) return;
    if (this.closed || this.refuseBeforeConnect()) return;
    if (!isValidSubjectFilter(subject)) {
      this.sendErr(NatsErr.InvalidSubject);
      return;
    }
    if (this.subs.has(sid)) {
      // nats-server keeps the first subscription of a sid.
      this.ok();
      return;
    }
    if (this.opts.maxSubscriptions > 0 && this.subs.size >= this.opts.maxSubscriptions) {
      this.sendErr(NatsErr.MaxSubscriptionsExceeded);
      return;
    }
    try {
      this.broker.check(this.principal, 'subscribe', 'subject', subject);
    } catch (err) {
      if (!isBrokerError(err, 'TRIB_UNAUTHORIZED')) throw err;
      this.sendErr(queue === undefined ? `${NatsErr.PermissionsViolationSubscription} ${subject}` : `${NatsErr.PermissionsViolationSubscription} ${subject} using queue "${queue}"`);
      return;
    }
    const ns = new NatsSub(this, sid);
    ns.sub = this.broker.router.subscribe(subject, ns.handler, { queueGroup: queue, noLocal: !this.echo, origin: this });
    this.subs.set(sid, ns);
    this.bySubscription.set(ns.sub, ns);
    this.ok();
  }

  onUnsub(sid: string, max: number | undefined): void {
    if (this.defer(() => this.onUnsub(sid, max))) return;
    if (this.closed || this.refuseBeforeConnect()) return;
    const ns = this.subs.get(sid);
    if (ns !== undefined) {
      // client.go processUnsub: a max above what was delivered defers the removal; anything else removes now.
      if (max !== undefined && max > ns.sub.deliveries + ns.direct) ns.max = max;
      else this.removeSub(ns);
    }
    this.ok();
  }

  onPing(): void {
    if (this.defer(() => this.onPing())) return;
    if (this.closed || this.refuseBeforeConnect()) return;
    this.enqueue(PONG);
  }

  onPong(): void {
    if (this.defer(() => this.onPong())) return;
    this.pingsOut = 0;
    this.deps.onPong?.(this);
  }

  private removeSub(ns: NatsSub): void {
    ns.sub.unsubscribe();
    this.subs.delete(ns.sid);
    this.bySubscription.delete(ns.sub);
  }

  private checkMax(ns: NatsSub): void {
    if (ns.max > 0 && ns.sub.deliveries + ns.direct >= ns.max) this.removeSub(ns);
  }

  // --- output -----------------------------------------------------------------------------------------------

  /** The Router's handler for every subscription of this connection. Must not throw, never blocks. */
  deliver(ns: NatsSub, m: Message): void {
    if (this.closed) return;
    const hdr = this.headers ? headerBlockOf(m) : undefined;
    this.write(m.subject, ns, m.replyTo, hdr, m.value ?? EMPTY);
    this.checkMax(ns);
  }

  private write(subject: string, ns: NatsSub, reply: string | undefined, hdr: Buffer | undefined, payload: Buffer): void {
    const size = sizeOfMsg(subject, ns.sid, reply, hdr, payload.length);
    if (this.pendingBytes + size > this.opts.maxPendingBytes) {
      this.slowConsumer(size);
      return;
    }
    this.traffic.messagesOut++;
    const buf = this.reserve(size);
    this.outLen = writeMsg(buf, this.outLen, subject, ns.sid, reply, hdr, payload);
    this.scheduleFlush();
  }

  /** Room for `size` more bytes in `out`; a filled chunk is moved to `full`. */
  private reserve(size: number): Buffer {
    let out = this.out;
    if (out !== null && out.length - this.outLen >= size) return out;
    if (out !== null && this.outLen > 0) {
      this.full.push(out.subarray(0, this.outLen));
      this.fullBytes += this.outLen;
      if (this.chunkSize < MAX_OUT_CHUNK) this.chunkSize *= 2;
    }
    out = Buffer.allocUnsafe(size > this.chunkSize ? size : this.chunkSize);
    this.out = out;
    this.outLen = 0;
    return out;
  }

  /** Copies a control line (PONG, +OK, -ERR) into the output so it keeps its place after earlier deliveries. */
  private enqueue(bytes: Buffer): void {
    if (this.closed) return;
    const buf = this.reserve(bytes.length);
    this.outLen += bytes.copy(buf, this.outLen);
    this.scheduleFlush();
  }

  private ok(): void {
    if (this.verbose) this.enqueue(OK);
  }

  /** -ERR that keeps the connection open. */
  private sendErr(text: string): void {
    this.enqueue(encodeErr(text));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    if (this.deps.scheduleFlush !== undefined) this.deps.scheduleFlush(this);
    else setImmediate(this.flushNow);
  }

  /** Writes everything queued in one socket write (or one corked burst when it spans chunks). */
  flush(): void {
    this.flushScheduled = false;
    if (this.closed && !this.socket.writable) return;
    const out = this.out;
    const len = this.outLen;
    if (len === 0 && this.full.length === 0) return;
    const full = this.full;
    const socket = this.socket;
    if (full.length > 0) socket.cork();
    for (let i = 0; i < full.length; i++) socket.write(full[i]);
    if (full.length > 0) {
      this.full = [];
      this.fullBytes = 0;
    }
    if (out !== null && len > 0) {
      if (len >= out.length >>> 1) {
        // Mostly full: hand the buffer itself to the socket and start a new one next time.
        socket.write(out.subarray(0, len));
        this.out = null;
      } else {
        // A small batch: copy it out (pooled for small sizes) and keep the chunk for the next tick, unless
        // batches have shrunk well below it: then shrink, so a quiet connection does not pin a big buffer.
        socket.write(Buffer.from(out.subarray(0, len)));
        if (len < this.chunkSize >>> 2 && this.chunkSize > MIN_OUT_CHUNK) {
          this.chunkSize >>>= 1;
          if (out.length > this.chunkSize) this.out = null;
        }
      }
      this.outLen = 0;
    }
    if (full.length > 0) socket.uncork();
  }

  private pingTick(): void {
    if (this.closed) return;
    if (this.pingsOut + 1 > this.opts.maxPingsOut) {
      this.logger.info({ cid: this.id, peer: this.peer(), pingsOut: this.pingsOut }, 'nats stale connection');
      this.fail(NatsErr.StaleConnection, `${this.pingsOut} PINGs unanswered`);
      return;
    }
    this.pingsOut++;
    this.enqueue(PING);
  }

  private slowConsumer(size: number): void {
    this.logger.warn(
      { cid: this.id, peer: this.peer(), pendingBytes: this.pendingBytes, messageBytes: size, maxPendingBytes: this.opts.maxPendingBytes },
      'nats slow consumer; closing the connection',
    );
    this.deps.onSlowConsumer?.(this);
    // What is queued would only make the backlog longer: drop it, say why, close.
    this.out = null;
    this.outLen = 0;
    this.full = [];
    this.fullBytes = 0;
    this.fail(NatsErr.SlowConsumer, 'pending bytes over the limit');
  }

  // --- closing ----------------------------------------------------------------------------------------------

  /** Sends `-ERR '<text>'` after what is queued, then closes (also an administrator's close). */
  fail(text: string, detail: string): void {
    if (this.closed) return;
    this.closeReason = `${text}: ${detail}`;
    this.enqueue(encodeErr(text));
    this.close(this.closeReason);
  }

  /** Flushes what is queued, ends the socket (destroyed after a grace period) and drops every subscription. */
  close(reason = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    if (this.closeReason === '') this.closeReason = reason;
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.clearAuthTimer();
    this.deferred = null;
    for (const ns of this.subs.values()) ns.sub.unsubscribe();
    this.subs.clear();
    this.bySubscription.clear();
    this.socket.off('data', this.onData);
    try {
      if (this.socket.writable) {
        this.flush();
        this.socket.end();
      }
    } catch (err) {
      this.logger.debug({ err, cid: this.id, peer: this.peer() }, 'nats socket end failed');
    }
    this.out = null;
    this.full = [];
    if (!this.socket.destroyed) {
      const t = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
      t.unref?.();
      this.socket.once('close', () => clearTimeout(t));
    }
    this.deps.onClose?.(this, this.closeReason);
  }
}
