/**
 * QueueRegistry: the core's queues (an AMQP queue, and later an SQS-style queue from any protocol). A queue is
 * a Stream with `workqueue` retention and one `shared` Cursor named `queue` (DESIGN.md "Queue semantics on a
 * log"); this file only adds what a queue has beyond those two: a protocol-level name, RabbitMQ's declare rules
 * (durable, exclusive, auto-delete, server-named), and the mapping from the queue name to a stream name.
 *
 * Names: an AMQP queue name is any UTF-8 string of up to 255 bytes; stream names are [a-zA-Z0-9._-]{1,249}.
 * A name made only of stream characters (up to 200 of them) is stored as `amqp-q.n.<name>`; any other as
 * `amqp-q.h.<sha256 hex, 40 chars>` (hashed, not reversible: the queue name itself is in the definition).
 * Both forms live under the `amqp-q.` prefix, so they never collide with a Kafka topic a user names.
 *
 * Persistence: every queue's definition is kept in `__metadata` (kind 'queue'). Durable queues use 'file'
 * storage and come back after a restart with their cursor (ack state). Transient and exclusive queues use
 * 'memory' storage and are deleted at the next open, as RabbitMQ deletes them when the node restarts.
 *
 * Records: a queue's records carry the publisher's properties as record headers (see QUEUE_HEADERS), so a
 * consumer of another protocol sees the content type, correlation id, message id and user headers by name.
 *
 * Concurrency: methods that change the registry are async (metadata writes) and may interleave; declare of the
 * same name twice at once is serialised by `pending`, so both callers see one queue.
 */
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { BrokerError, isBrokerError } from './broker-error.js';
import type { Broker } from './broker.js';
import { DEFAULT_TENANT, splitTenantName, tenantName } from './exchange-registry.js';
import { Cursor, type StartPolicy } from './cursor/cursor.js';
import type { DeadLetterDecision, Delivery } from './cursor/cursor-state.js';
import type { Consumer } from './cursor/dispatch.js';
import type { Principal } from './principal.js';
import type { Stream, PublishAck } from './stream.js';
import { ATTR_CONTROL, OFFSET_ATTRIBUTES, decodeRecordBatch, iterateBatches, type Record, type RecordHeader } from '../storage/record-batch.js';

/** Record headers a queue message carries (beyond the publisher's own headers). */
export const QUEUE_HEADERS = {
  /** The AMQP content-header payload as published (properties, passed through to AMQP consumers). */
  amqpProperties: 'amqp-properties',
  exchange: 'amqp-exchange',
  routingKey: 'amqp-routing-key',
  contentType: 'content-type',
  contentEncoding: 'content-encoding',
  correlationId: 'correlation-id',
  messageId: 'message-id',
  replyTo: 'reply-to',
} as const;

/** Header holding a queued record's absolute expiry (ms since the epoch, decimal), set from TTLs at publish. */
export const EXPIRES_AT_HEADER = 'tributary-expires-at';

/** Why a queue dead-letters a message, in RabbitMQ's words (x-death `reason`). */
export type QueueDeadLetterReason = 'rejected' | 'expired' | 'maxlen' | 'delivery_limit';

/** What is dead-lettered: a stored record, or (reject-publish-dlx) a message that was never stored. */
export type DeadLetterMessage = Pick<Record, 'value' | 'headers' | 'timestamp'>;

/**
 * Republishes a dead-lettered message (the protocol layer's job: AMQP routes it through the queue's
 * x-dead-letter-exchange with x-death). Resolves once the republish is durable; the source then acks it.
 */
export type QueueDeadLetterHandler = (queue: Queue, message: DeadLetterMessage, reason: QueueDeadLetterReason) => Promise<void>;

/** x-overflow behaviours (RabbitMQ). */
export type OverflowMode = 'drop-head' | 'reject-publish' | 'reject-publish-dlx';

/** The queue arguments this registry acts on, parsed and validated from the declare's arguments table. */
export interface QueueArguments {
  messageTtlMs?: number;
  maxLength?: number;
  /** x-max-length-bytes: ready message body bytes allowed (RabbitMQ counts bodies only). */
  maxLengthBytes?: number;
  overflow: OverflowMode;
  deadLetterExchange?: string;
  deadLetterRoutingKey?: string;
  /** Highest priority (x-max-priority); the stream has maxPriority + 1 partitions, one per level. */
  maxPriority?: number;
  singleActiveConsumer: boolean;
  /** x-expires: the queue is deleted after this long unused (no consumers, no declare, no basic.get). */
  expiresMs?: number;
  /** x-delivery-limit: redeliveries allowed before the message is dead-lettered ('delivery_limit'). */
  deliveryLimit?: number;
  queueType: QueueType;
  /** Stream queues: x-max-age (ms) and x-max-length-bytes as the log's retention; x-stream-max-segment-size-bytes. */
  streamMaxAgeMs?: number;
  streamMaxBytes?: number;
  streamSegmentBytes?: number;
}

export type QueueType = 'classic' | 'quorum' | 'stream';

/** Queue arguments a stream queue refuses (RabbitMQ: "invalid arg ... of queue type rabbit_stream_queue"). */
const NOT_FOR_STREAMS = [
  'x-dead-letter-exchange',
  'x-dead-letter-routing-key',
  'x-max-length',
  'x-message-ttl',
  'x-overflow',
  'x-max-priority',
  'x-expires',
  'x-single-active-consumer',
  'x-delivery-limit',
] as const;

/** Arguments compared on redeclare (RabbitMQ's equivalence check). */
const EQUIVALENCE_ARGS = [
  'x-message-ttl',
  'x-max-length',
  'x-max-length-bytes',
  'x-overflow',
  'x-dead-letter-exchange',
  'x-dead-letter-routing-key',
  'x-max-priority',
  'x-single-active-consumer',
  'x-delivery-limit',
  'x-expires',
  'x-max-age',
  'x-stream-max-segment-size-bytes',
] as const;

/** Until a sweep finds nothing left, an idle queue with expiring messages is swept this often. */
const SWEEP_INTERVAL_MS = 1000;

/** Longest queue name, in UTF-8 bytes (AMQP shortstr). */
export const MAX_QUEUE_NAME_BYTES = 255;
export const SERVER_NAMED_PREFIX = 'amq.gen-';
const STREAM_PREFIX = 'amqp-q.';
const CURSOR_NAME = 'queue';

/** The core error codes queue operations fail with (all in broker-error.ts's catalogue). */
export type QueueErrorCode =
  | 'TRIB_QUEUE_NOT_FOUND'
  | 'TRIB_QUEUE_INEQUIVALENT'
  | 'TRIB_QUEUE_LOCKED'
  | 'TRIB_QUEUE_IN_USE'
  | 'TRIB_QUEUE_NOT_EMPTY'
  | 'TRIB_QUEUE_RESERVED'
  | 'TRIB_QUEUE_INVALID_NAME';

/** The persisted definition (metadata kind 'queue', name = queue name). */
export interface QueueDefinition {
  name: string;
  stream: string;
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  arguments: { [key: string]: unknown };
}

declare module './metadata.js' {
  interface MetadataKinds {
    queue: QueueDefinition;
  }
}

export interface DeclareQueueOptions {
  /** '' asks for a server-generated name (amq.gen-…). A tenant's queue has a scoped name (tenantName). */
  name: string;
  /** The tenant (AMQP vhost) a server-generated name is made for; default '/'. */
  tenant?: string;
  durable?: boolean;
  exclusive?: boolean;
  autoDelete?: boolean;
  passive?: boolean;
  arguments?: { [key: string]: unknown };
  /** Identity of the declaring connection: an exclusive queue belongs to it. */
  owner: string;
  /** Largest message body the protocol accepts; the stream's max.message.bytes is set to hold it. */
  maxMessageBytes?: number;
}

/** Room for a record's headers (AMQP properties) and the batch header beside the largest body. */
const RECORD_OVERHEAD_BYTES = 256 * 1024;

export interface QueueStats {
  messageCount: number;
  consumerCount: number;
}

/** A live queue: its definition, stream and cursor, and who owns it when exclusive. */
export class Queue {
  /** Owning connection for an exclusive queue, else null. */
  owner: string | null;
  /** A consumer holds the queue exclusively (basic.consume exclusive=1). */
  exclusiveConsumer = false;
  /** Set once the queue had a consumer: an auto-delete queue goes when the last one leaves. */
  hadConsumer = false;
  /** Parsed x-arguments. */
  readonly args: QueueArguments;
  /** Appends started and not yet resolved (counted against x-max-length). */
  pendingAppends = 0;
  /**
   * Body bytes of every unsettled message counted at the last (re)count, plus those appended since (appends in
   * progress included), and the cursor's settledBytes at that recount. Kept only with x-max-length-bytes.
   */
  bytesIn = 0;
  settledBytesBase = 0;
  /** A drop-head trim is running. */
  trimming = false;
  /** TTL sweep timer and when it fires (ms). */
  sweepTimer: NodeJS.Timeout | null = null;
  sweepAtMs = Infinity;
  /** x-expires: last use (ms) and the timer that checks it. */
  lastUsedMs = Date.now();
  expiryTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly definition: QueueDefinition,
    readonly stream: Stream,
    /** The shared cursor; null for a stream queue, whose consumers each read with their own (openReader). */
    readonly sharedCursor: Cursor | null,
    owner: string | null,
  ) {
    this.owner = owner;
    this.args = parseQueueArguments(definition.arguments);
  }

  /** The shared cursor of a classic (or quorum) queue; a stream queue has none (TRIB_QUEUE_INEQUIVALENT). */
  get cursor(): Cursor {
    if (this.sharedCursor === null) throw new BrokerError('TRIB_QUEUE_INEQUIVALENT', `queue '${this.definition.name}' is a stream: it has no shared cursor`);
    return this.sharedCursor;
  }

  /** Delivered and not yet acknowledged (a stream queue: 0, its readers' credit is not tracked here). */
  get unackedCount(): number {
    return this.sharedCursor?.inFlightCount ?? 0;
  }

  /** Stream queues: consumers reading with their own position (openReader). */
  readers = 0;

  /** x-queue-type stream: a log read by each consumer from its own offset; nothing is removed by acks. */
  get isStream(): boolean {
    return this.args.queueType === 'stream';
  }

  /** Priority levels (partitions of the stream); 1 without x-max-priority. */
  get levels(): number {
    return (this.args.maxPriority ?? 0) + 1;
  }

  get name(): string {
    return this.definition.name;
  }

  /**
   * Ready messages: neither in flight, nor being dead-lettered (gone from the queue, as RabbitMQ counts it; the
   * source ack follows once the republish is durable, which a DLX consumer may not wait for), nor settled. A
   * stream queue: the records its log holds.
   */
  get messageCount(): number {
    if (this.isStream) {
      const log = this.stream.partitionLog(0);
      return log.highWatermark - log.startOffset;
    }
    let backlog = 0;
    for (let l = 0; l < this.levels; l++) backlog += this.cursor.backlog(l);
    return Math.max(0, backlog - this.inFlight() - this.cursor.state.deadLetteringCount);
  }

  get consumerCount(): number {
    return this.isStream ? this.readers : this.cursor.consumers.length;
  }

  /**
   * A stream queue consumer's own position: a non-durable cursor over the log from `start` (x-stream-offset).
   * Acks only return credit; nothing is persisted and the log keeps its records (retention decides). Close it
   * with closeReader.
   */
  async openReader(id: string, start: StartPolicy, deliver: (consumer: Consumer, delivery: Delivery) => boolean | void, onError: (err: unknown) => void): Promise<Cursor> {
    const log = this.stream.partitionLog(0);
    // Every reader listens to the log's appends: many consumers of one stream are normal, not a leak.
    if (log.getMaxListeners() !== 0) log.setMaxListeners(0);
    const reader = await Cursor.open({ id: `${this.definition.stream}/reader/${id}`, sources: [log], mode: 'exclusive', startPolicy: start, deliver, onError });
    this.readers++;
    return reader;
  }

  closeReader(reader: Cursor): void {
    this.readers--;
    void reader.close().catch(() => undefined);
  }

  /**
   * Ready body bytes (x-max-length-bytes): counted in, minus what the cursor settled since the recount, minus
   * what is in flight or being dead-lettered. Appends in progress count as ready. Tracked only with the argument.
   */
  get readyBytes(): number {
    const st = this.cursor.state;
    return Math.max(0, this.bytesIn - (st.settledBytes - this.settledBytesBase) - st.inFlightBytes - st.deadLetteringBytes);
  }

  /** Over x-max-length or x-max-length-bytes (drop-head trims until it is not). */
  get overLimit(): boolean {
    const a = this.args;
    return (a.maxLength !== undefined && this.messageCount > a.maxLength) || (a.maxLengthBytes !== undefined && this.readyBytes > a.maxLengthBytes);
  }

  private inFlight(): number {
    return this.cursor.inFlightCount;
  }
}

/** The stream name a queue name is stored under (see the header). */
export function streamNameForQueue(name: string): string {
  if (/^[a-zA-Z0-9._-]{1,200}$/.test(name)) return `${STREAM_PREFIX}n.${name}`;
  return `${STREAM_PREFIX}h.${createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 40)}`;
}

export class QueueRegistry {
  private readonly queues = new Map<string, Queue>();
  private readonly pending = new Map<string, Promise<unknown>>();
  /** Set by the protocol that owns dead-letter exchanges (AMQP); without it dead-lettering waits (see hooks). */
  deadLetterHandler: QueueDeadLetterHandler | null = null;
  /**
   * 'deleted' (Queue): every delete, whoever asked (a client, the HTTP API, auto-delete, x-expires, a vhost's
   * deletion), emitted once the queue is out of the registry, so protocols cancel its consumers (AMQP basic.cancel).
   */
  readonly events = new EventEmitter();

  private constructor(
    private readonly broker: Broker,
    private readonly principal: Principal,
  ) {}

  /**
   * Loads the persisted queues: durable ones are reattached to their stream and cursor (which the Broker
   * reopened); transient ones are deleted, with their stream, cursor and bindings.
   */
  static async open(broker: Broker, principal: Principal): Promise<QueueRegistry> {
    const registry = new QueueRegistry(broker, principal);
    for (const { value: def } of broker.metadata.list('queue')) {
      const stream = broker.stream(def.stream);
      const cursor = broker.cursor(def.stream, CURSOR_NAME);
      const isStream = parseQueueArguments(def.arguments).queueType === 'stream';
      if (!def.durable || def.exclusive || stream === undefined || (cursor === undefined && !isStream)) {
        await registry.destroy(principal, def).catch(() => undefined);
        continue;
      }
      // Stream queues made by earlier versions carry an unused shared cursor: it goes (each consumer reads with its own).
      if (isStream && cursor !== undefined) await broker.deleteCursor(principal, def.stream, CURSOR_NAME).catch(() => undefined);
      // Classic queues declared before visibility 'written' existed get it too (once: it is then persisted).
      if (!isStream && !Object.hasOwn(stream.definition().configs, 'visibility')) await broker.alterStreamConfigs(principal, def.stream, { visibility: 'written' });
      const queue = new Queue(def, stream, isStream ? null : cursor!, null);
      registry.queues.set(def.name, queue);
      if (!isStream) registry.installHooks(queue);
      if (queue.args.maxLengthBytes !== undefined) await recountBytes(queue);
      registry.armSweep(queue, Date.now());
      registry.touch(queue);
    }
    return registry;
  }

  get(name: string): Queue | undefined {
    return this.queues.get(name);
  }

  has(name: string): boolean {
    return this.queues.has(name);
  }

  /** The queue, or TRIB_QUEUE_NOT_FOUND. With `owner`, TRIB_QUEUE_LOCKED when another connection owns it. */
  require(name: string, owner?: string): Queue {
    const q = this.queues.get(name);
    if (q === undefined) throw new BrokerError('TRIB_QUEUE_NOT_FOUND', `no queue '${name}'`);
    if (owner !== undefined) this.checkOwner(q, owner);
    return q;
  }

  [Symbol.iterator](): IterableIterator<Queue> {
    return this.queues.values();
  }

  /** queue.declare with RabbitMQ's rules. Resolves with the queue and whether it was created. */
  async declare(principal: Principal, options: DeclareQueueOptions): Promise<{ queue: Queue; created: boolean }> {
    let name = options.name;
    if (name === '') {
      if (options.passive === true) throw new BrokerError('TRIB_QUEUE_NOT_FOUND', 'a passive declare needs a queue name');
      name = tenantName(options.tenant ?? DEFAULT_TENANT, SERVER_NAMED_PREFIX + randomBytes(16).toString('base64url'));
    } else {
      const own = splitTenantName(name).name;
      if (Buffer.byteLength(own, 'utf8') > MAX_QUEUE_NAME_BYTES) throw new BrokerError('TRIB_QUEUE_INVALID_NAME', `queue name longer than ${MAX_QUEUE_NAME_BYTES} bytes`);
      if (options.passive !== true && own.startsWith('amq.') && !this.queues.has(name)) {
        throw new BrokerError('TRIB_QUEUE_RESERVED', `queue name '${own}' contains reserved prefix 'amq.*'`);
      }
    }
    const inFlight = this.pending.get(name);
    if (inFlight !== undefined) await inFlight.catch(() => undefined);
    const existing = this.queues.get(name);
    if (options.passive === true) {
      if (existing === undefined) throw new BrokerError('TRIB_QUEUE_NOT_FOUND', `no queue '${name}'`);
      this.checkOwner(existing, options.owner);
      return { queue: existing, created: false };
    }
    if (existing !== undefined) {
      this.checkOwner(existing, options.owner);
      assertEquivalent(existing.definition, options);
      this.touch(existing);
      return { queue: existing, created: false };
    }
    const work = this.create(principal, name, options);
    this.pending.set(name, work);
    try {
      return { queue: await work, created: true };
    } finally {
      this.pending.delete(name);
    }
  }

  private async create(principal: Principal, name: string, options: DeclareQueueOptions): Promise<Queue> {
    const exclusive = options.exclusive === true;
    const args = parseQueueArguments(options.arguments ?? {});
    if (args.queueType !== 'classic' && (options.durable !== true || exclusive || options.autoDelete === true)) {
      throw new BrokerError('TRIB_QUEUE_INEQUIVALENT', `invalid property for ${args.queueType} queue '${name}': it must be durable, not exclusive and not auto-delete`);
    }
    const isStream = args.queueType === 'stream';
    const durable = options.durable === true && !exclusive;
    const levels = (args.maxPriority ?? 0) + 1;
    const def: QueueDefinition = {
      name,
      stream: streamNameForQueue(name),
      durable: options.durable === true,
      exclusive,
      autoDelete: options.autoDelete === true,
      arguments: options.arguments ?? {},
    };
    // An orphan of a crash between stream creation and the definition write is reused.
    let stream = this.broker.stream(def.stream);
    if (stream === undefined) {
      stream = (await this.broker.createStream(principal, {
        name: def.stream,
        // A stream queue is a log with retention limits (RabbitMQ streams); a classic queue a workqueue.
        retention: isStream ? 'limits' : 'workqueue',
        storage: durable ? 'file' : 'memory',
        subjects: [],
        partitions: levels,
        ...(options.maxMessageBytes === undefined ? {} : { maxMessageBytes: options.maxMessageBytes + RECORD_OVERHEAD_BYTES }),
        ...(isStream ? { maxAgeMs: args.streamMaxAgeMs ?? -1, maxBytes: args.streamMaxBytes ?? -1 } : {}),
        ...(args.streamSegmentBytes !== undefined ? { configs: { 'segment.bytes': String(args.streamSegmentBytes) } } : {}),
        // A classic queue's consumers see a message once it is written, before its fsync, as RabbitMQ delivers
        // before it persists; confirms still wait for the fsync (docs/amqp.md "Durability and delivery").
        ...(isStream ? {} : { configs: { visibility: 'written' } }),
      }))!;
    }
    // Levels highest first: the cursor serves partition `maxPriority` before the lower ones.
    const partitions = Array.from({ length: levels }, (_, i) => levels - 1 - i);
    const hooked: { queue: Queue | null } = { queue: null };
    if (!isStream) this.broker.setCursorHooks(`${def.stream}/${CURSOR_NAME}`, this.hooksFor(() => hooked.queue));
    // A stream queue has no shared cursor: every consumer reads the log from its own position (openReader).
    const cursor = isStream ? null : await this.broker.createCursor(principal, {
      stream: def.stream,
      name: CURSOR_NAME,
      mode: args.singleActiveConsumer ? 'failover' : 'shared',
      ...(levels > 1 ? { partitions } : {}),
      // RabbitMQ counts redeliveries: limit N allows N + 1 deliveries.
      ...(args.deliveryLimit !== undefined ? { maxDeliveries: args.deliveryLimit + 1 } : {}),
    });
    await this.broker.metadata.put('queue', name, def);
    const queue = new Queue(def, stream, cursor, exclusive ? options.owner : null);
    hooked.queue = queue;
    this.queues.set(name, queue);
    this.touch(queue);
    return queue;
  }

  /**
   * queue.delete: removes its bindings, stream and cursor. Resolves with the number of messages it held.
   * TRIB_QUEUE_IN_USE with ifUnused and consumers; TRIB_QUEUE_NOT_EMPTY with ifEmpty and messages.
   */
  async delete(principal: Principal, name: string, options: { ifUnused?: boolean; ifEmpty?: boolean; owner?: string } = {}): Promise<number> {
    const q = this.queues.get(name);
    if (q === undefined) return 0;
    if (options.owner !== undefined) this.checkOwner(q, options.owner);
    if (options.ifUnused === true && q.consumerCount > 0) throw new BrokerError('TRIB_QUEUE_IN_USE', `queue '${name}' in use`);
    const count = q.messageCount;
    if (options.ifEmpty === true && count > 0) throw new BrokerError('TRIB_QUEUE_NOT_EMPTY', `queue '${name}' not empty`);
    this.queues.delete(name);
    this.events.emit('deleted', q);
    if (q.sweepTimer !== null) clearTimeout(q.sweepTimer);
    if (q.expiryTimer !== null) clearTimeout(q.expiryTimer);
    await this.destroy(principal, q.definition);
    return count;
  }

  /** queue.purge: acks every ready message (in-flight ones stay with their consumers). Resolves with the count. */
  async purge(name: string, owner?: string): Promise<number> {
    const q = this.require(name, owner);
    if (q.isStream) throw new BrokerError('TRIB_QUEUE_INEQUIVALENT', `queue '${name}' is a stream: it cannot be purged`);
    let count = 0;
    for (;;) {
      const batch = await q.cursor.fetch(1000, { autoAck: true });
      count += batch.length;
      if (batch.length === 0) break;
    }
    return count;
  }

  /**
   * Appends a message to the queue's stream; resolves when it is durable per the stream's policy, or with null
   * when x-max-length with reject-publish(-dlx) refused it. `priority` picks the level (x-max-priority);
   * `expirationMs` is the message's own TTL (AMQP expiration), combined with the queue's x-message-ttl.
   */
  publish(queue: Queue, value: Buffer, headers: RecordHeader[], timestamp = Date.now(), options: { priority?: number; expirationMs?: number } = {}): Promise<PublishAck | null> {
    const a = queue.args;
    // The usual queue (no length limit, no TTL) needs no bookkeeping around the append: hand back the stream's
    // own promise rather than one more async frame per message.
    if (a.maxLength === undefined && a.maxLengthBytes === undefined && a.messageTtlMs === undefined && options.expirationMs === undefined) {
      const level = queue.levels === 1 ? 0 : Math.max(0, Math.min(options.priority ?? 0, queue.levels - 1));
      return queue.stream.publish({ subject: queue.stream.name, key: null, value, headers, timestamp }, level);
    }
    return this.publishLimited(queue, value, headers, timestamp, options);
  }

  /** publish() for a queue with x-max-length(-bytes) or a TTL. */
  private async publishLimited(queue: Queue, value: Buffer, headers: RecordHeader[], timestamp: number, options: { priority?: number; expirationMs?: number }): Promise<PublishAck | null> {
    const a = queue.args;
    // RabbitMQ's will_overflow: refused when one more message would exceed x-max-length or x-max-length-bytes.
    if (
      a.overflow !== 'drop-head' &&
      ((a.maxLength !== undefined && queue.messageCount + queue.pendingAppends >= a.maxLength) ||
        (a.maxLengthBytes !== undefined && queue.readyBytes + value.length > a.maxLengthBytes))
    ) {
      if (a.overflow === 'reject-publish-dlx') await this.deadLetter(queue, { value, headers, timestamp }, 'maxlen');
      return null;
    }
    let ttl = a.messageTtlMs;
    if (options.expirationMs !== undefined) ttl = ttl === undefined ? options.expirationMs : Math.min(ttl, options.expirationMs);
    let recordHeaders = headers;
    if (ttl !== undefined) {
      const expiresAt = timestamp + ttl;
      recordHeaders = [...headers, { key: EXPIRES_AT_HEADER, value: Buffer.from(String(expiresAt)) }];
      this.armSweep(queue, expiresAt);
    }
    const level = queue.levels === 1 ? 0 : Math.max(0, Math.min(options.priority ?? 0, queue.levels - 1));
    queue.pendingAppends++;
    const counted = a.maxLengthBytes === undefined ? 0 : value.length;
    queue.bytesIn += counted;
    try {
      return await queue.stream.publish({ subject: queue.stream.name, key: null, value, headers: recordHeaders, timestamp }, level);
    } catch (err) {
      queue.bytesIn -= counted;
      throw err;
    } finally {
      queue.pendingAppends--;
      if ((a.maxLength !== undefined || a.maxLengthBytes !== undefined) && a.overflow === 'drop-head') void this.trim(queue);
    }
  }

  /**
   * A message reached the queue's stream without publish() (a delayed message released by the core's delay
   * scheduler): counted for x-max-length-bytes.
   */
  appended(streamName: string, bytes: number): void {
    for (const q of this.queues.values()) {
      if (q.definition.stream === streamName) {
        if (q.args.maxLengthBytes !== undefined) q.bytesIn += bytes;
        return;
      }
    }
  }

  /** x-overflow drop-head: dead-letters (or drops) the oldest ready messages until the queue fits. */
  private async trim(queue: Queue): Promise<void> {
    if (queue.trimming) return;
    queue.trimming = true;
    try {
      while (queue.overLimit && this.queues.get(queue.name) === queue) {
        const d = await queue.cursor.get();
        if (d === null) break;
        await this.deadLetter(queue, d.record, 'maxlen').catch(() => undefined);
        void queue.cursor.ack(d);
      }
    } finally {
      queue.trimming = false;
    }
  }

  private deadLetter(queue: Queue, message: DeadLetterMessage, reason: QueueDeadLetterReason): Promise<void> {
    if (queue.args.deadLetterExchange === undefined) return Promise.resolve();
    if (this.deadLetterHandler === null) return Promise.reject(new BrokerError('TRIB_QUEUE_NOT_FOUND', 'no dead-letter handler installed'));
    return this.deadLetterHandler(queue, message, reason);
  }

  /** The cursor hooks of a queue: TTL from EXPIRES_AT_HEADER, dead-lettering through the handler. */
  private hooksFor(queue: () => Queue | null): { isExpired: (r: Record, nowMs: number) => boolean; deadLetter: (d: DeadLetterDecision) => Promise<void> } {
    return {
      isExpired: (record, nowMs) => {
        // Asked for every record delivered: an indexed loop, as for-of allocated an iterator per record here.
        const headers = record.headers;
        for (let i = 0; i < headers.length; i++) {
          const h = headers[i];
          if (h.key === EXPIRES_AT_HEADER && h.value !== null) return Number(h.value.toString('latin1')) <= nowMs;
        }
        return false;
      },
      deadLetter: (d) => {
        const q = queue();
        if (q === null) return Promise.reject(new BrokerError('TRIB_QUEUE_NOT_FOUND', 'queue not open yet'));
        const reason: QueueDeadLetterReason = d.reason === 'maxDeliveries' ? 'delivery_limit' : d.reason;
        return this.deadLetter(q, d.record, reason);
      },
    };
  }

  private installHooks(queue: Queue): void {
    this.broker.setCursorHooks(`${queue.definition.stream}/${CURSOR_NAME}`, this.hooksFor(() => queue));
  }

  /**
   * Records a use of the queue (declare, basic.get, a consumer leaving) for x-expires: an unused queue without
   * consumers is deleted once x-expires has passed since its last use.
   */
  touch(queue: Queue): void {
    const expiresMs = queue.args.expiresMs;
    if (expiresMs === undefined) return;
    queue.lastUsedMs = Date.now();
    if (queue.expiryTimer !== null) clearTimeout(queue.expiryTimer);
    const check = (): void => {
      queue.expiryTimer = null;
      if (this.queues.get(queue.name) !== queue) return;
      const idleMs = Date.now() - queue.lastUsedMs;
      if (queue.consumerCount === 0 && idleMs >= expiresMs) {
        void this.delete(this.principal, queue.name).catch(() => undefined);
        return;
      }
      const waitMs = queue.consumerCount > 0 ? expiresMs : expiresMs - idleMs;
      queue.expiryTimer = setTimeout(check, waitMs);
      queue.expiryTimer.unref();
    };
    queue.expiryTimer = setTimeout(check, expiresMs);
    queue.expiryTimer.unref();
  }

  /** Makes sure the queue is swept for expired messages at `atMs` (and then every second while not empty). */
  private armSweep(queue: Queue, atMs: number): void {
    if (queue.sweepTimer !== null && queue.sweepAtMs <= atMs) return;
    if (queue.sweepTimer !== null) clearTimeout(queue.sweepTimer);
    queue.sweepAtMs = atMs;
    queue.sweepTimer = setTimeout(() => {
      queue.sweepTimer = null;
      queue.sweepAtMs = Infinity;
      if (this.queues.get(queue.name) !== queue || queue.sharedCursor === null) return;
      queue.sharedCursor.sweep();
      if (queue.messageCount > 0) this.armSweep(queue, Date.now() + SWEEP_INTERVAL_MS);
    }, Math.max(0, atMs - Date.now() + 1));
    queue.sweepTimer.unref();
  }

  /** A connection closed: its exclusive queues are deleted. */
  async releaseOwner(principal: Principal, owner: string): Promise<void> {
    for (const q of [...this.queues.values()]) {
      if (q.owner === owner) await this.delete(principal, q.name).catch(() => undefined);
    }
  }

  /** A consumer left: an auto-delete queue that had consumers and has none now is deleted. */
  async consumerLeft(principal: Principal, queue: Queue): Promise<void> {
    this.touch(queue);
    if (queue.definition.autoDelete && queue.hadConsumer && queue.consumerCount === 0 && this.queues.get(queue.name) === queue) {
      await this.delete(principal, queue.name);
    }
  }

  private checkOwner(q: Queue, owner: string): void {
    if (q.owner !== null && q.owner !== owner) {
      throw new BrokerError('TRIB_QUEUE_LOCKED', `cannot obtain exclusive access to locked queue '${q.name}'`);
    }
  }

  private async destroy(principal: Principal, def: QueueDefinition): Promise<void> {
    this.broker.setCursorHooks(`${def.stream}/${CURSOR_NAME}`, undefined);
    await this.broker.removeQueueBindings(principal, def.name);
    if (this.broker.stream(def.stream) !== undefined) {
      try {
        await this.broker.deleteStream(principal, def.stream);
      } catch (err) {
        if (!isBrokerError(err, 'TRIB_STREAM_NOT_FOUND')) throw err;
      }
    }
    if (this.broker.metadata.get('queue', def.name) !== undefined) await this.broker.metadata.delete('queue', def.name);
  }
}

/** RabbitMQ's queue equivalence: durable, exclusive and auto-delete must match an existing queue's. */
function assertEquivalent(existing: QueueDefinition, requested: DeclareQueueOptions): void {
  const check = (arg: string, want: boolean, have: boolean): void => {
    if (want !== have) {
      throw new BrokerError('TRIB_QUEUE_INEQUIVALENT', `inequivalent arg '${arg}' for queue '${existing.name}': received '${want}' but current is '${have}'`);
    }
  };
  check('durable', requested.durable === true, existing.durable);
  check('exclusive', requested.exclusive === true, existing.exclusive);
  check('auto_delete', requested.autoDelete === true, existing.autoDelete);
  const want = requested.arguments ?? {};
  for (const arg of EQUIVALENCE_ARGS) {
    const a = existing.arguments[arg];
    const b = want[arg];
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      throw new BrokerError('TRIB_QUEUE_INEQUIVALENT', `inequivalent arg '${arg}' for queue '${existing.name}': received ${JSON.stringify(b) ?? 'none'} but current is ${JSON.stringify(a) ?? 'none'}`);
    }
  }
  const typeOf = (args: { [key: string]: unknown }): unknown => args['x-queue-type'] ?? 'classic';
  if (typeOf(existing.arguments) !== typeOf(want)) {
    throw new BrokerError('TRIB_QUEUE_INEQUIVALENT', `inequivalent arg 'x-queue-type' for queue '${existing.name}'`);
  }
}

/**
 * Parses and validates the x-arguments a queue acts on (RabbitMQ's names and rules; a bad value is 406).
 * Unknown arguments are kept in the definition and ignored, as RabbitMQ does.
 */
export function parseQueueArguments(raw: { [key: string]: unknown }): QueueArguments {
  const bad = (arg: string, why: string): never => {
    throw new BrokerError('TRIB_QUEUE_INEQUIVALENT', `invalid arg '${arg}': ${why}`);
  };
  const nonNegInt = (arg: string): number | undefined => {
    const v = raw[arg];
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) return bad(arg, `expected a non-negative integer, got ${String(v)}`);
    return n;
  };
  const str = (arg: string): string | undefined => {
    const v = raw[arg];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') return bad(arg, 'expected a string');
    return v;
  };
  const overflow = str('x-overflow') ?? 'drop-head';
  if (overflow !== 'drop-head' && overflow !== 'reject-publish' && overflow !== 'reject-publish-dlx') bad('x-overflow', `unknown value '${overflow}'`);
  const queueType = str('x-queue-type') ?? 'classic';
  if (queueType !== 'classic' && queueType !== 'quorum' && queueType !== 'stream') bad('x-queue-type', `unknown queue type '${queueType}'`);
  const stream = queueType === 'stream';
  if (stream) {
    for (const arg of NOT_FOR_STREAMS) if (raw[arg] !== undefined) bad(arg, 'not supported by queue type stream');
  }
  const maxAge = str('x-max-age');
  const streamMaxAgeMs = maxAge === undefined ? undefined : parseMaxAge(maxAge) ?? bad('x-max-age', `'${maxAge}' is not a number and one of Y M D h m s`);
  const maxPriority = nonNegInt('x-max-priority');
  if (maxPriority !== undefined && (maxPriority < 1 || maxPriority > 255)) bad('x-max-priority', 'must be between 1 and 255');
  const expiresMs = nonNegInt('x-expires');
  if (expiresMs === 0) bad('x-expires', 'must be positive');
  const sac = raw['x-single-active-consumer'];
  if (sac !== undefined && typeof sac !== 'boolean') bad('x-single-active-consumer', 'expected a boolean');
  return {
    messageTtlMs: nonNegInt('x-message-ttl'),
    maxLength: nonNegInt('x-max-length'),
    // For a stream, x-max-length-bytes is the log's retention (whole segments), not a ready-bytes limit.
    maxLengthBytes: stream ? undefined : nonNegInt('x-max-length-bytes'),
    streamMaxBytes: stream ? nonNegInt('x-max-length-bytes') : undefined,
    streamMaxAgeMs,
    streamSegmentBytes: nonNegInt('x-stream-max-segment-size-bytes'),
    overflow: overflow as OverflowMode,
    deadLetterExchange: str('x-dead-letter-exchange'),
    deadLetterRoutingKey: str('x-dead-letter-routing-key'),
    maxPriority,
    singleActiveConsumer: sac === true,
    deliveryLimit: nonNegInt('x-delivery-limit'),
    expiresMs,
    queueType: queueType as QueueType,
  };
}

const AGE_UNIT_MS: { [unit: string]: number } = { Y: 365 * 86_400_000, M: 30 * 86_400_000, D: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };

/** RabbitMQ's x-max-age (and x-stream-offset interval) syntax: digits and one unit of Y M D h m s; ms or null. */
export function parseMaxAge(value: string): number | null {
  const m = /^([0-9]+)([YMDhms])$/.exec(value);
  return m === null ? null : Number(m[1]) * AGE_UNIT_MS[m[2]];
}

/**
 * Recounts a queue's unsettled body bytes from its logs and cursor (after a restart): every record from the ack
 * floor to the end that the cursor has not acked. Bounded by x-max-length-bytes plus what is in flight.
 */
async function recountBytes(queue: Queue): Promise<void> {
  const cursor = queue.cursor;
  const base = cursor.state.settledBytes;
  let bytes = 0;
  for (let level = 0; level < cursor.sources.length; level++) {
    const log = cursor.sources[level];
    let offset = Math.max(cursor.ackFloor(level), log.startOffset);
    while (offset < log.highWatermark) {
      const { records } = await log.read(offset, 1024 * 1024);
      let next = offset;
      for (const { position } of iterateBatches(records)) {
        const control = (records.readInt16BE(position + OFFSET_ATTRIBUTES) & ATTR_CONTROL) !== 0;
        for (const r of decodeRecordBatch(records, position)) {
          next = Math.max(next, r.offset + 1);
          if (!control && r.offset >= offset && !cursor.state.isAcked(level, r.offset)) bytes += r.value === null ? 0 : r.value.length;
        }
      }
      if (next <= offset) break;
      offset = next;
    }
  }
  queue.bytesIn = bytes;
  queue.settledBytesBase = base;
}

const registries = new WeakMap<Broker, Promise<QueueRegistry>>();
/** Registries already open (the delay scheduler may release before any protocol opened one). */
const openRegistries = new WeakMap<Broker, QueueRegistry>();

/** The core's delay scheduler appended to `streamName`: a queue with x-max-length-bytes counts it. */
export function noteQueueAppend(broker: Broker, streamName: string, bytes: number): void {
  openRegistries.get(broker)?.appended(streamName, bytes);
}

/** The one QueueRegistry of a broker, opened on first use (every protocol shares it). */
export function queueRegistryOf(broker: Broker, principal: Principal): Promise<QueueRegistry> {
  let r = registries.get(broker);
  if (r === undefined) {
    r = QueueRegistry.open(broker, principal).then((registry) => {
      openRegistries.set(broker, registry);
      return registry;
    });
    registries.set(broker, r);
  }
  return r;
}
