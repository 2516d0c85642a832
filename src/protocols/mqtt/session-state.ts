/**
 * MqttSessionState: the MQTT "session" of one Client Identifier (FACTS.md "Session state"), which outlives a
 * network connection when Clean Session = 0 (3.1.1) or Session Expiry Interval > 0 (5.0):
 *
 * - subscriptions (each a live Router subscription, so messages keep arriving while the client is offline);
 * - outbound QoS 1/2 messages sent and not yet acknowledged, by packet id, in send order (re-sent with DUP=1,
 *   or as PUBREL once PUBREC came, when the client resumes the session [MQTT-4.4.0-1]);
 * - outbound QoS 1/2 messages queued: while offline, or while the client's Receive Maximum is used up;
 * - inbound QoS 2 packet ids received and not yet released (exactly-once: a re-sent PUBLISH with one of these
 *   ids is acknowledged again but not routed again);
 * - a delayed Will (5.0 Will Delay Interval), cancelled if the session is resumed in time.
 *
 * A persistent session (Session Expiry > 0 when it was created, or restored at boot) is `durable`: its QoS 1/2
 * messages go through its SessionQueue (a core stream + cursor, session-queue.ts) instead of the in-memory
 * queue, so they survive a restart; its non-shared subscriptions are also Router captures, so a publisher's
 * PUBACK waits until the message is durable in the session's queue. Its inbound QoS 2 ids and outbound ids
 * awaiting PUBCOMP are saved with the session record (session-store.ts). QoS 0 messages are never stored.
 * Bounded: at most `maxQueued` messages wait; more are dropped and counted.
 */
import type { Router, Subscription } from '../../core/router/router.js';
import type { Message } from '../../core/message.js';
import type { Delivery } from '../../core/cursor/cursor-state.js';
import { recordToMessage } from '../../core/stream.js';
import type { PubAckPacket, PublishPacket, QoS } from './codec/index.js';
import { messageToProperties, type MqttMessage } from './message-map.js';
import { subjectToMqttTopic } from '../../core/router/translate.js';
import type { RetainedMessage } from '../../core/retained-store.js';
import type { SessionRecord } from './session-store.js';
import { decodeAttributes, type SessionQueue, type StoredAttributes } from './session-queue.js';

const EMPTY = Buffer.alloc(0);

// One message reaches its subscribers one after another: translate its subject once, not per subscriber.
let lastSubject = '';
let lastTopic: string | null = '';
function topicOf(subject: string): string | null {
  if (subject !== lastSubject) {
    lastTopic = subjectToMqttTopic(subject);
    lastSubject = subject;
  }
  return lastTopic;
}
/** Session Expiry Interval meaning "never" (5.0 §3.1.2.11.2). */
export const SESSION_NEVER_EXPIRES = 0xffffffff;

/** What the state needs of the connection currently attached to it. */
export interface SessionConnection {
  /** The client's Receive Maximum: QoS 1/2 PUBLISHes it accepts unacknowledged. */
  readonly clientReceiveMax: number;
  /** Writes one packet; false when it was not sent (too large for the client, or the connection is backed up). */
  writePacket(p: PublishPacket | PubAckPacket): boolean;
}

/**
 * One subscription of a session. It always has a live Router subscription; in a durable session a non-shared
 * one is also a Router capture target (Router.publish awaits captures, so the publisher's ack waits for the
 * append). Router.publish calls captures before handlers, so the handler skips the message it was just
 * captured; messages that reach only live subscribers (Kafka produce) come through the handler.
 */
export class SubEntry {
  private sub: Subscription | null = null;
  private router: Router | null = null;
  private lastCaptured: Message | null = null;
  /** [MQTT-4.7.2-1] a filter starting with a wildcard does not match `$` topics (captures do not apply it). */
  private readonly wildcardFirst: boolean;
  readonly handler: (m: MqttMessage) => void;
  constructor(
    readonly state: MqttSessionState,
    readonly topicFilter: string,
    readonly subjects: readonly string[],
    readonly qos: QoS,
    readonly retainAsPublished: boolean,
    readonly subscriptionId: number | undefined,
    readonly queueGroup: string | undefined,
    readonly noLocal: boolean,
  ) {
    this.wildcardFirst = subjects.some((f) => f.charCodeAt(0) === 0x2a || f.charCodeAt(0) === 0x3e);
    this.handler = (m) => {
      if (m === this.lastCaptured) {
        this.lastCaptured = null;
        return;
      }
      void state.deliver(this, m, false);
    };
  }

  /** Starts receiving from `router` (again, after the session became durable). */
  start(router: Router): void {
    this.stop();
    this.sub = router.subscribe(this.subjects, this.handler, { queueGroup: this.queueGroup, noLocal: this.noLocal, origin: this.state, excludeDollar: true });
    if (this.state.queue !== null && this.queueGroup === undefined) {
      for (const f of this.subjects) router.addCapture(f, this);
      this.router = router;
    }
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.sub = null;
    this.router?.removeCaptures(this);
    this.router = null;
    this.lastCaptured = null;
  }

  /** Router CaptureTarget: the store's promise for a durable QoS 1/2 delivery, else undefined. */
  capture(m: MqttMessage): unknown {
    this.lastCaptured = m;
    if (this.noLocal && m.origin === this.state) return undefined;
    if (this.wildcardFirst && m.subject.charCodeAt(0) === 0x24) return undefined;
    return this.state.deliver(this, m, false);
  }
}

interface Outbound {
  packet: PublishPacket | null;
  /** 'publish': waiting for PUBACK/PUBREC; 'pubrel': PUBREL sent, waiting for PUBCOMP. */
  phase: 'publish' | 'pubrel';
  /** A durable session's message: acked in its cursor on PUBACK / PUBREC. */
  delivery?: Delivery;
}

/** What the state asks of its listener. */
export interface SessionStateHooks {
  /** The session ended; `discard`: for good (not a server shutdown), so its durable queue goes too. */
  onEnd(state: MqttSessionState, discard: boolean): void;
  /** Saves the session record (persistent sessions); resolves when durable (a failure is logged, not thrown). */
  persist(state: MqttSessionState): Promise<void>;
  /** A stored message could not be appended (logged by the listener). */
  onStoreError(state: MqttSessionState, err: unknown): void;
}

export class MqttSessionState {
  readonly subs = new Map<string, SubEntry>();
  readonly outbound = new Map<number, Outbound>();
  readonly inboundQos2 = new Set<number>();
  connection: SessionConnection | null = null;
  /** Seconds the session lives after its connection ends; 0 = ends with it. */
  expirySec = 0;
  /** Messages dropped because the queue was full. */
  dropped = 0;
  ended = false;
  /** Persistent from creation (or restored): QoS 1/2 messages go through `queue` once it is open. */
  durable = false;
  /** The durable queue, once open. */
  queue: SessionQueue | null = null;
  /** Settles when the durable queue is open (at once for sessions that have none); CONNACK waits for it. */
  ready: Promise<void> = Promise.resolve();
  /** Waiting QoS 1/2 messages of a session without a durable queue, with their absolute expiry if any. */
  private memQueue: Array<{ packet: PublishPacket; expiresAtMs: number | undefined }> = [];
  private nextId = 1;
  private expiryTimer: NodeJS.Timeout | null = null;
  private willTimer: NodeJS.Timeout | null = null;
  private pendingWill: (() => void) | null = null;

  constructor(
    readonly clientId: string,
    private readonly maxQueued: number,
    private readonly hooks: SessionStateHooks,
  ) {}

  /** The durable queue is open: subscriptions start capturing into it. */
  useQueue(queue: SessionQueue, router: Router): void {
    this.queue = queue;
    for (const e of this.subs.values()) e.start(router);
    const c = this.connection;
    if (c !== null) queue.attach(this.target, Math.min(c.clientReceiveMax, 65_535));
  }

  /** Inbound QoS 2 ids and outbound ids awaiting PUBCOMP, from the session record (restored at boot). */
  restoreIds(inboundQos2: readonly number[], pubrel: readonly number[]): void {
    for (const id of inboundQos2) this.inboundQos2.add(id);
    for (const id of pubrel) this.outbound.set(id, { packet: null, phase: 'pubrel' });
  }

  /** Saves the record of a persistent session (ids changed); resolves when durable. */
  persist(): Promise<void> {
    return this.hooks.persist(this);
  }

  /** What SessionStore keeps of this session. */
  toRecord(): SessionRecord {
    return {
      clientId: this.clientId,
      expirySec: this.expirySec,
      subscriptions: [...this.subs.values()].map((e) => ({
        topicFilter: e.topicFilter,
        subjects: [...e.subjects],
        qos: e.qos,
        noLocal: e.noLocal,
        retainAsPublished: e.retainAsPublished,
        ...(e.subscriptionId !== undefined ? { subscriptionId: e.subscriptionId } : {}),
        ...(e.queueGroup !== undefined ? { queueGroup: e.queueGroup } : {}),
      })),
      inboundQos2: [...this.inboundQos2],
      pubrel: [...this.outbound].filter(([, o]) => o.phase === 'pubrel').map(([id]) => id),
    };
  }

  /** A session restored at boot has no connection: its expiry runs from now. */
  startOffline(): void {
    this.connection = null;
    if (this.expirySec !== SESSION_NEVER_EXPIRES && this.expirySec > 0) {
      this.expiryTimer = setTimeout(() => this.end(), this.expirySec * 1000);
      this.expiryTimer.unref?.();
    }
  }

  get queued(): number {
    return this.memQueue.length + (this.queue?.backlog ?? 0);
  }

  /**
   * The Router's handler and capture (and retained delivery): builds this client's PUBLISH for `m`, or, for a
   * durable session at QoS 1/2, stores it and returns the store's promise. Never throws.
   */
  deliver(entry: SubEntry, m: MqttMessage, retained: boolean): Promise<unknown> | undefined {
    if (this.ended) return undefined;
    const a = m.mqtt;
    const msgQos: QoS = a === undefined ? 1 : a.qos;
    const qos = (entry.qos < msgQos ? entry.qos : msgQos) as QoS;
    // [MQTT-3.3.1-9]/[MQTT-3.3.1-12]: live forwards carry RETAIN=0 unless Retain As Published.
    const retain = retained || (entry.retainAsPublished && a !== undefined && a.retain);
    if (qos > 0 && this.queue !== null) return this.store(entry, m, qos, retain);
    const now = Date.now();
    let props = messageToProperties(m, now);
    if (props === null) return undefined; // expired [MQTT-3.3.2-5]
    const topic = topicOf(m.subject);
    if (topic === null) return undefined; // a subject with no MQTT topic (NATS `a/b.c`)
    if (entry.subscriptionId !== undefined) props = { ...props, subscriptionIdentifiers: [entry.subscriptionId] };
    const p: PublishPacket = { type: 'publish', dup: false, qos, retain, topic, payload: m.value ?? EMPTY };
    if (props !== undefined) p.properties = props;
    this.send(p);
    return undefined;
  }

  /** Appends a QoS 1/2 message to the durable queue; the promise never rejects (a failure drops it, logged). */
  private store(entry: SubEntry, m: MqttMessage, qos: QoS, retain: boolean): Promise<unknown> | undefined {
    const queue = this.queue!;
    const a = m.mqtt;
    if (a?.expiresAtMs !== undefined && a.expiresAtMs <= Date.now()) return undefined;
    if (subjectToMqttTopic(m.subject) === null) return undefined;
    if (queue.backlog >= this.maxQueued) {
      this.dropped++;
      return undefined;
    }
    const attrs: StoredAttributes = { qos, retain };
    if (a?.payloadFormatIndicator !== undefined) attrs.payloadFormatIndicator = a.payloadFormatIndicator;
    if (a?.expiresAtMs !== undefined) attrs.expiresAtMs = a.expiresAtMs;
    if (entry.subscriptionId !== undefined) attrs.subscriptionId = entry.subscriptionId;
    return queue.append(m, attrs).catch((err: unknown) => {
      this.dropped++;
      this.hooks.onStoreError(this, err);
    });
  }

  /** The cursor's DeliveryTarget: one stored message to send (false: no connection, hold it). */
  private readonly target = { deliver: (d: Delivery): boolean | void => this.deliverStored(d) };

  private deliverStored(d: Delivery): boolean | void {
    const c = this.connection;
    const queue = this.queue;
    if (c === null || queue === null) return false;
    const attrs = decodeAttributes(d.record.headers);
    const m: MqttMessage = recordToMessage(queue.stream.name, d.record);
    const topic = subjectToMqttTopic(m.subject);
    if (attrs === null || topic === null) {
      queue.ack(d);
      return;
    }
    m.mqtt = { qos: attrs.qos, retain: attrs.retain };
    if (attrs.payloadFormatIndicator !== undefined) m.mqtt.payloadFormatIndicator = attrs.payloadFormatIndicator;
    if (attrs.expiresAtMs !== undefined) m.mqtt.expiresAtMs = attrs.expiresAtMs;
    let props = messageToProperties(m, Date.now());
    if (props === null) {
      queue.ack(d); // expired while waiting [MQTT-3.3.2-5]
      return;
    }
    if (attrs.subscriptionId !== undefined) props = { ...props, subscriptionIdentifiers: [attrs.subscriptionId] };
    // [MQTT-3.3.1-1] DUP=1 for a message sent before (in flight at a disconnect or a restart).
    const p: PublishPacket = { type: 'publish', dup: d.redelivered, qos: attrs.qos, retain: attrs.retain, topic, payload: m.value ?? EMPTY };
    if (props !== undefined) p.properties = props;
    // The id follows the offset, so a message re-sent after a restart keeps its packet id.
    let id = (d.offset % 0xffff) + 1;
    if (this.outbound.has(id)) id = this.allocateId();
    p.packetId = id;
    this.outbound.set(id, { packet: p, phase: 'publish', delivery: d });
    if (!c.writePacket(p)) {
      // Too large for this client (5.0 §3.1.2.11.4: discard as if completed).
      this.outbound.delete(id);
      queue.ack(d);
    }
  }

  /** Delivers a stored retained message to one subscription, with RETAIN=1. */
  deliverRetained(entry: SubEntry, r: RetainedMessage): void {
    const attrs = r.attributes ?? {};
    const m: MqttMessage = {
      subject: r.subject,
      key: null,
      value: r.value,
      headers: r.headers,
      timestamp: r.timestamp,
      mqtt: { qos: (typeof attrs.qos === 'number' ? attrs.qos : 1) as QoS, retain: true },
    };
    if (r.replyTo !== undefined) m.replyTo = r.replyTo;
    if (r.expiresAtMs !== undefined) m.mqtt!.expiresAtMs = r.expiresAtMs;
    if (typeof attrs.payloadFormatIndicator === 'number') m.mqtt!.payloadFormatIndicator = attrs.payloadFormatIndicator;
    if (Array.isArray(attrs.userProperties)) m.mqtt!.userProperties = attrs.userProperties as Array<[string, string]>;
    this.deliver(entry, m, true);
  }

  private send(p: PublishPacket): void {
    const c = this.connection;
    if (p.qos === 0) {
      // At most once: nobody connected, nothing kept.
      if (c !== null) c.writePacket(p);
      return;
    }
    if (c !== null && this.memQueue.length === 0 && this.outbound.size < c.clientReceiveMax) {
      this.sendTracked(c, p);
      return;
    }
    if (this.memQueue.length >= this.maxQueued) {
      this.dropped++;
      return;
    }
    const left = p.properties?.messageExpiryInterval;
    this.memQueue.push({ packet: p, expiresAtMs: left === undefined ? undefined : Date.now() + left * 1000 });
  }

  private sendTracked(c: SessionConnection, p: PublishPacket): void {
    p.packetId = this.allocateId();
    this.outbound.set(p.packetId, { packet: p, phase: 'publish' });
    if (!c.writePacket(p)) {
      // Too large for this client (5.0 §3.1.2.11.4: discard as if completed).
      this.outbound.delete(p.packetId);
    }
  }

  private allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id === 0xffff ? 1 : id + 1;
      if (!this.outbound.has(id)) return id;
    }
  }

  /** Sends queued messages while the client's Receive Maximum allows. */
  private pump(): void {
    const c = this.connection;
    while (c !== null && this.connection === c && this.memQueue.length > 0 && this.outbound.size < c.clientReceiveMax) {
      const { packet, expiresAtMs } = this.memQueue.shift()!;
      if (expiresAtMs !== undefined) {
        // [MQTT-3.3.2-5]/[MQTT-3.3.2-6]: an expired message is not sent; otherwise it carries the time left.
        const leftMs = expiresAtMs - Date.now();
        if (leftMs <= 0) continue;
        packet.properties = { ...packet.properties, messageExpiryInterval: Math.ceil(leftMs / 1000) };
      }
      this.sendTracked(c, packet);
    }
  }

  onPuback(id: number): boolean {
    const o = this.outbound.get(id);
    if (o === undefined || o.phase !== 'publish' || o.packet?.qos !== 1) return false;
    this.outbound.delete(id);
    if (o.delivery !== undefined) this.queue?.ack(o.delivery);
    this.pump();
    return true;
  }

  /** PUBREC: answer PUBREL (or, on an error reason, forget the message: 5.0 §4.3.3). */
  onPubrec(id: number, reasonCode: number): boolean {
    const o = this.outbound.get(id);
    if (o === undefined || o.packet?.qos !== 2) return false;
    const delivery = o.delivery;
    o.delivery = undefined;
    if (reasonCode >= 0x80) {
      this.outbound.delete(id);
      if (delivery !== undefined) this.queue?.ack(delivery);
      this.pump();
      return true;
    }
    o.phase = 'pubrel';
    if (delivery !== undefined) {
      // The message is the client's now; what remains is the PUBREL, kept with the session record.
      const queue = this.queue;
      void this.persist().then(() => queue?.ack(delivery));
    }
    this.connection?.writePacket({ type: 'pubrel', packetId: id, reasonCode: 0 });
    return true;
  }

  onPubcomp(id: number): boolean {
    const o = this.outbound.get(id);
    if (o === undefined || o.phase !== 'pubrel') return false;
    this.outbound.delete(id);
    if (this.durable) void this.persist();
    this.pump();
    return true;
  }

  /** Attaches a connection: cancels expiry and a delayed Will, re-sends what is unacknowledged, in order. */
  resume(c: SessionConnection): void {
    this.connection = c;
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    if (this.willTimer !== null) clearTimeout(this.willTimer);
    this.willTimer = null;
    this.pendingWill = null;
    for (const [id, o] of this.outbound) {
      if (o.phase === 'publish') c.writePacket({ ...o.packet!, dup: true });
      else c.writePacket({ type: 'pubrel', packetId: id, reasonCode: 0 });
    }
    this.pump();
    // Stored messages: those in flight at the last disconnect come first again (redelivered), in order.
    this.queue?.attach(this.target, Math.min(c.clientReceiveMax, 65_535));
  }

  /** The connection ended: the session ends now, or after its expiry interval. */
  detach(c: SessionConnection): void {
    if (this.connection !== c) return;
    this.connection = null;
    if (this.queue !== null) {
      // Unacknowledged stored messages go back to the cursor's head; resume() sends them again.
      for (const [id, o] of this.outbound) if (o.delivery !== undefined) this.outbound.delete(id);
      this.queue.detach();
    }
    if (this.expirySec === 0) {
      this.end();
      return;
    }
    if (this.expirySec !== SESSION_NEVER_EXPIRES) {
      this.expiryTimer = setTimeout(() => this.end(), this.expirySec * 1000);
      this.expiryTimer.unref?.();
    }
  }

  /**
   * A Will to publish: now, or after `delaySec` unless the session is resumed first; in any case no later than
   * the end of the session (5.0 §3.1.3.2.2).
   */
  scheduleWill(publish: () => void, delaySec: number): void {
    if (delaySec <= 0) {
      publish();
      return;
    }
    this.pendingWill = publish;
    this.willTimer = setTimeout(() => this.fireWill(), delaySec * 1000);
    this.willTimer.unref?.();
  }

  private fireWill(): void {
    const w = this.pendingWill;
    this.pendingWill = null;
    if (this.willTimer !== null) clearTimeout(this.willTimer);
    this.willTimer = null;
    w?.();
  }

  /**
   * Ends the session: subscriptions, queues and timers go; a pending Will is published. `discard` false (server
   * shutdown) ends it in memory only: a persistent session's record and durable queue stay for the next boot.
   */
  end(discard = true): void {
    if (this.ended) return;
    this.ended = true;
    for (const e of this.subs.values()) e.stop();
    this.subs.clear();
    this.outbound.clear();
    this.memQueue = [];
    this.queue?.detach();
    this.queue = null;
    this.inboundQos2.clear();
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    this.fireWill();
    this.connection = null;
    this.hooks.onEnd(this, discard);
  }
}
