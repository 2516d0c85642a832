/**
 * SessionQueue: the durable message queue of one persistent MQTT session (Clean Session 0 / Session Expiry > 0).
 * It is a core queue — an internal `workqueue` Stream `__mqtt.s.<sha256(clientId), 40 hex>` (file storage, no
 * captured subjects, one partition) plus one `exclusive` Cursor named `session` — so storage, ordering, ack
 * tracking and trimming are the core's (DESIGN.md "a queue is a log plus a cursor").
 *
 * Why one stream per session, not one shared stream with a cursor per session: a cursor reads every record of
 * its stream, so N sessions on one stream would each scan every other session's messages, and a workqueue
 * segment could only be deleted once every session had passed it (one client that never returns would pin the
 * whole stream). Per session, a message is read once, deleted once its own session acked it, and session
 * expiry deletes the stream with everything in it. The cost is a stream (a directory and its open segment)
 * per persistent session.
 *
 * Records: the payload as value, the message's headers (user properties, content type, correlation data),
 * subject and reply-to as every stream stores them (stream.ts), plus `tributary-mqtt` (MQTT_HEADER), a fixed
 * 14-byte binary header with what the PUBLISH needs that a core Message does not carry:
 *
 *   byte 0      flags: bits 0-1 QoS (1 or 2, already min(subscription, message)), bit 2 RETAIN to send,
 *               bit 3 Payload Format Indicator present, bit 4 expiry present, bit 5 Subscription Identifier present
 *   byte 1      Payload Format Indicator
 *   bytes 2-9   absolute expiry, ms since the epoch (float64 BE)
 *   bytes 10-13 Subscription Identifier (uint32 BE)
 *
 * Crash behaviour: a message is acknowledged to its publisher only after the append is durable per the
 * stream's fsync policy (the session's subscriptions are Router captures, and Broker.publish awaits captures).
 * The cursor's state is in `__cursors`: after a restart every unacknowledged record is delivered again
 * (redelivered, so DUP=1), acknowledged ones never are.
 *
 * Concurrency: creating and deleting the stream of one Client Identifier are serialised (`serial`), so a new
 * session never races with the deletion of the previous one of the same id.
 */
import { createHash } from 'node:crypto';
import type { Broker, DeliveryTarget } from '../../core/broker.js';
import type { Cursor } from '../../core/cursor/cursor.js';
import type { Consumer } from '../../core/cursor/dispatch.js';
import type { Delivery } from '../../core/cursor/cursor-state.js';
import type { Message } from '../../core/message.js';
import { ANONYMOUS } from '../../core/principal.js';
import type { Stream } from '../../core/stream.js';
import type { RecordHeader } from '../../storage/record-batch.js';
import type { QoS } from './codec/index.js';

export const SESSION_STREAM_PREFIX = '__mqtt.s.';
const CURSOR_NAME = 'session';
export const MQTT_HEADER = 'tributary-mqtt';
const HEADER_SIZE = 14;
/** Room for headers and the batch header beside the largest payload. */
const RECORD_OVERHEAD_BYTES = 256 * 1024;

/** What a stored session message carries besides the core Message. */
export interface StoredAttributes {
  qos: QoS;
  retain: boolean;
  payloadFormatIndicator?: number;
  expiresAtMs?: number;
  subscriptionId?: number;
}

export function encodeAttributes(a: StoredAttributes): Buffer {
  const b = Buffer.alloc(HEADER_SIZE);
  let flags = a.qos | (a.retain ? 4 : 0);
  if (a.payloadFormatIndicator !== undefined) {
    flags |= 8;
    b[1] = a.payloadFormatIndicator;
  }
  if (a.expiresAtMs !== undefined) {
    flags |= 16;
    b.writeDoubleBE(a.expiresAtMs, 2);
  }
  if (a.subscriptionId !== undefined) {
    flags |= 32;
    b.writeUInt32BE(a.subscriptionId, 10);
  }
  b[0] = flags;
  return b;
}

/** The attributes of a stored record, or null when it has none (not written by this module). */
export function decodeAttributes(headers: readonly RecordHeader[]): StoredAttributes | null {
  for (let i = headers.length - 1; i >= 0; i--) {
    const h = headers[i];
    if (h.key !== MQTT_HEADER || h.value === null || h.value.length < HEADER_SIZE) continue;
    const v = h.value;
    const flags = v[0];
    const a: StoredAttributes = { qos: (flags & 3) as QoS, retain: (flags & 4) !== 0 };
    if (flags & 8) a.payloadFormatIndicator = v[1];
    if (flags & 16) a.expiresAtMs = v.readDoubleBE(2);
    if (flags & 32) a.subscriptionId = v.readUInt32BE(10);
    return a;
  }
  return null;
}

/** The stream of a Client Identifier's session (any UTF-8 id maps to a valid internal stream name). */
export function sessionStreamName(clientId: string): string {
  return SESSION_STREAM_PREFIX + createHash('sha256').update(clientId, 'utf8').digest('hex').slice(0, 40);
}

const chains = new WeakMap<Broker, Map<string, Promise<unknown>>>();

/** Runs `op` after every earlier op on the same stream name has settled. */
function serial<T>(broker: Broker, name: string, op: () => Promise<T>): Promise<T> {
  let m = chains.get(broker);
  if (m === undefined) chains.set(broker, (m = new Map()));
  const prev = m.get(name) ?? Promise.resolve();
  const next = prev.then(op, op);
  const tail = next.catch(() => undefined);
  m.set(name, tail);
  void tail.then(() => {
    if (m!.get(name) === tail) m!.delete(name);
  });
  return next;
}

async function deleteStream(broker: Broker, name: string): Promise<void> {
  broker.setCursorHooks(`${name}/${CURSOR_NAME}`, undefined);
  if (broker.stream(name) !== undefined) await broker.deleteStream(ANONYMOUS, name);
}

export class SessionQueue {
  private consumer: Consumer | null = null;

  private constructor(
    readonly stream: Stream,
    readonly cursor: Cursor,
  ) {}

  private static install(broker: Broker, name: string): void {
    // An expired message is dropped when it reaches the head [MQTT-3.3.2-5] (no dead-letter target).
    broker.setCursorHooks(`${name}/${CURSOR_NAME}`, {
      isExpired: (record, nowMs) => {
        const exp = decodeAttributes(record.headers)?.expiresAtMs;
        return exp !== undefined && exp <= nowMs;
      },
    });
  }

  /** The queue a restored session had, if the broker reopened its stream and cursor at boot. */
  static existing(broker: Broker, clientId: string): SessionQueue | null {
    const name = sessionStreamName(clientId);
    const stream = broker.stream(name);
    const cursor = broker.cursor(name, CURSOR_NAME);
    if (stream === undefined || cursor === undefined) return null;
    SessionQueue.install(broker, name);
    return new SessionQueue(stream, cursor);
  }

  /**
   * A new, empty queue for `clientId`. With `fresh`, a stream left by an earlier session of that id (a crash
   * before its deletion completed) is deleted first; without it (restoring), one is reused.
   */
  static create(broker: Broker, clientId: string, maxMessageBytes: number, fresh: boolean): Promise<SessionQueue> {
    const name = sessionStreamName(clientId);
    return serial(broker, name, async () => {
      if (fresh) await deleteStream(broker, name);
      else {
        const q = SessionQueue.existing(broker, clientId);
        if (q !== null) return q;
      }
      const stream =
        broker.stream(name) ??
        (await broker.createStream(
          ANONYMOUS,
          { name, retention: 'workqueue', storage: 'file', subjects: [], partitions: 1, maxMessageBytes: maxMessageBytes + RECORD_OVERHEAD_BYTES },
          { allowInternal: true },
        ))!;
      SessionQueue.install(broker, name);
      const cursor = await broker.createCursor(ANONYMOUS, { stream: name, name: CURSOR_NAME, mode: 'exclusive' });
      return new SessionQueue(stream, cursor);
    });
  }

  /** Deletes the queue of `clientId` (session ended), after any creation still in progress. */
  static remove(broker: Broker, clientId: string): Promise<void> {
    const name = sessionStreamName(clientId);
    return serial(broker, name, () => deleteStream(broker, name));
  }

  /** Deletes session streams that no persisted session owns (a crash between creating one and recording it). */
  static async removeOrphans(broker: Broker, clientIds: Iterable<string>): Promise<string[]> {
    const owned = new Set<string>();
    for (const id of clientIds) owned.add(sessionStreamName(id));
    const removed: string[] = [];
    for (const s of broker.streams({ includeInternal: true })) {
      if (s.name.startsWith(SESSION_STREAM_PREFIX) && !owned.has(s.name)) {
        await serial(broker, s.name, () => deleteStream(broker, s.name));
        removed.push(s.name);
      }
    }
    return removed;
  }

  /** Messages stored and not yet delivered or acknowledged. */
  get backlog(): number {
    return this.cursor.backlog(0);
  }

  /** Stores a message; resolves when it is durable per the stream's fsync policy. */
  append(message: Message, attributes: StoredAttributes): Promise<unknown> {
    const headers = message.headers.slice();
    headers.push({ key: MQTT_HEADER, value: encodeAttributes(attributes) });
    return this.stream.publish({ ...message, headers }, 0);
  }

  /** Starts delivering to `target`, at most `window` unacknowledged at a time (the client's Receive Maximum). */
  attach(target: DeliveryTarget, window: number): void {
    this.detach();
    this.consumer = this.cursor.attach({ id: 'mqtt', prefetchCount: window, context: target });
  }

  /** Stops delivering: what is in flight goes back to the head, delivered again (redelivered) on attach. */
  detach(): void {
    const c = this.consumer;
    this.consumer = null;
    if (c !== null) this.cursor.detach(c);
  }

  /** The target returned false (the connection could not take it): try again. */
  resume(): void {
    if (this.consumer !== null) this.cursor.resume(this.consumer);
  }

  ack(d: Delivery): void {
    void this.cursor.ack(d);
  }
}
