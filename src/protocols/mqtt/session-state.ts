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
 * Kept in memory only: a broker restart ends every session (persisting them is listed in docs/mqtt.md).
 * Bounded: at most `maxQueued` messages wait; more are dropped and counted.
 */
import type { Subscription } from '../../core/router/router.js';
import type { PubAckPacket, PublishPacket, QoS } from './codec/index.js';
import { messageToProperties, type MqttMessage } from './message-map.js';
import { subjectToMqttTopic } from '../../core/router/translate.js';
import type { RetainedMessage } from '../../core/retained-store.js';
import type { SessionRecord } from './session-store.js';

const EMPTY = Buffer.alloc(0);
/** Session Expiry Interval meaning "never" (5.0 §3.1.2.11.2). */
export const SESSION_NEVER_EXPIRES = 0xffffffff;

/** What the state needs of the connection currently attached to it. */
export interface SessionConnection {
  /** The client's Receive Maximum: QoS 1/2 PUBLISHes it accepts unacknowledged. */
  readonly clientReceiveMax: number;
  /** Writes one packet; false when it was not sent (too large for the client, or the connection is backed up). */
  writePacket(p: PublishPacket | PubAckPacket): boolean;
}

export class SubEntry {
  sub!: Subscription;
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
    this.handler = (m) => state.deliver(this, m, false);
  }
}

interface Outbound {
  packet: PublishPacket;
  /** 'publish': waiting for PUBACK/PUBREC; 'pubrel': PUBREL sent, waiting for PUBCOMP. */
  phase: 'publish' | 'pubrel';
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
  /** Waiting QoS 1/2 messages, with their absolute expiry (Message Expiry Interval) if any. */
  private queue: Array<{ packet: PublishPacket; expiresAtMs: number | undefined }> = [];
  private nextId = 1;
  private expiryTimer: NodeJS.Timeout | null = null;
  private willTimer: NodeJS.Timeout | null = null;
  private pendingWill: (() => void) | null = null;

  constructor(
    readonly clientId: string,
    private readonly maxQueued: number,
    private readonly onEnd: (state: MqttSessionState) => void,
  ) {}

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
    return this.queue.length;
  }

  /** The Router's handler (and retained delivery): builds this client's PUBLISH for `m`. Never throws. */
  deliver(entry: SubEntry, m: MqttMessage, retained: boolean): void {
    if (this.ended) return;
    const now = Date.now();
    let props = messageToProperties(m, now);
    if (props === null) return; // expired [MQTT-3.3.2-5]
    const topic = subjectToMqttTopic(m.subject);
    if (topic === null) return; // a subject with no MQTT topic (NATS `a/b.c`)
    const a = m.mqtt;
    const msgQos: QoS = a === undefined ? 1 : a.qos;
    const qos = (entry.qos < msgQos ? entry.qos : msgQos) as QoS;
    // [MQTT-3.3.1-9]/[MQTT-3.3.1-12]: live forwards carry RETAIN=0 unless Retain As Published.
    const retain = retained || (entry.retainAsPublished && a !== undefined && a.retain);
    if (entry.subscriptionId !== undefined) props = { ...props, subscriptionIdentifiers: [entry.subscriptionId] };
    const p: PublishPacket = { type: 'publish', dup: false, qos, retain, topic, payload: m.value ?? EMPTY };
    if (props !== undefined) p.properties = props;
    this.send(p);
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
    if (c !== null && this.queue.length === 0 && this.outbound.size < c.clientReceiveMax) {
      this.sendTracked(c, p);
      return;
    }
    if (this.queue.length >= this.maxQueued) {
      this.dropped++;
      return;
    }
    const left = p.properties?.messageExpiryInterval;
    this.queue.push({ packet: p, expiresAtMs: left === undefined ? undefined : Date.now() + left * 1000 });
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
    while (c !== null && this.connection === c && this.queue.length > 0 && this.outbound.size < c.clientReceiveMax) {
      const { packet, expiresAtMs } = this.queue.shift()!;
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
    if (o === undefined || o.phase !== 'publish' || o.packet.qos !== 1) return false;
    this.outbound.delete(id);
    this.pump();
    return true;
  }

  /** PUBREC: answer PUBREL (or, on an error reason, forget the message: 5.0 §4.3.3). */
  onPubrec(id: number, reasonCode: number): boolean {
    const o = this.outbound.get(id);
    if (o === undefined || o.packet.qos !== 2) return false;
    if (reasonCode >= 0x80) {
      this.outbound.delete(id);
      this.pump();
      return true;
    }
    o.phase = 'pubrel';
    this.connection?.writePacket({ type: 'pubrel', packetId: id, reasonCode: 0 });
    return true;
  }

  onPubcomp(id: number): boolean {
    const o = this.outbound.get(id);
    if (o === undefined || o.phase !== 'pubrel') return false;
    this.outbound.delete(id);
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
      if (o.phase === 'publish') c.writePacket({ ...o.packet, dup: true });
      else c.writePacket({ type: 'pubrel', packetId: id, reasonCode: 0 });
    }
    this.pump();
  }

  /** The connection ended: the session ends now, or after its expiry interval. */
  detach(c: SessionConnection): void {
    if (this.connection !== c) return;
    this.connection = null;
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

  /** Ends the session: subscriptions, queues and timers go; a pending Will is published. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const e of this.subs.values()) e.sub.unsubscribe();
    this.subs.clear();
    this.outbound.clear();
    this.queue = [];
    this.inboundQos2.clear();
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    this.fireWill();
    this.connection = null;
    this.onEnd(this);
  }
}
