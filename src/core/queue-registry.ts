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
import { BrokerError, isBrokerError } from './broker-error.js';
import type { Broker } from './broker.js';
import type { Cursor } from './cursor/cursor.js';
import type { Principal } from './principal.js';
import type { Stream, PublishAck } from './stream.js';
import type { RecordHeader } from '../storage/record-batch.js';

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
  /** '' asks for a server-generated name (amq.gen-…). */
  name: string;
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

  constructor(
    readonly definition: QueueDefinition,
    readonly stream: Stream,
    readonly cursor: Cursor,
    owner: string | null,
  ) {
    this.owner = owner;
  }

  get name(): string {
    return this.definition.name;
  }

  /** Ready messages: neither in flight nor settled. */
  get messageCount(): number {
    return Math.max(0, this.cursor.backlog(0) - this.inFlight());
  }

  get consumerCount(): number {
    return this.cursor.consumers.length;
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

  private constructor(private readonly broker: Broker) {}

  /**
   * Loads the persisted queues: durable ones are reattached to their stream and cursor (which the Broker
   * reopened); transient ones are deleted, with their stream, cursor and bindings.
   */
  static async open(broker: Broker, principal: Principal): Promise<QueueRegistry> {
    const registry = new QueueRegistry(broker);
    for (const { value: def } of broker.metadata.list('queue')) {
      const stream = broker.stream(def.stream);
      const cursor = broker.cursor(def.stream, CURSOR_NAME);
      if (!def.durable || def.exclusive || stream === undefined || cursor === undefined) {
        await registry.destroy(principal, def).catch(() => undefined);
        continue;
      }
      registry.queues.set(def.name, new Queue(def, stream, cursor, null));
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
      name = SERVER_NAMED_PREFIX + randomBytes(16).toString('base64url');
    } else {
      if (Buffer.byteLength(name, 'utf8') > MAX_QUEUE_NAME_BYTES) throw new BrokerError('TRIB_QUEUE_INVALID_NAME', `queue name longer than ${MAX_QUEUE_NAME_BYTES} bytes`);
      if (options.passive !== true && name.startsWith('amq.') && !this.queues.has(name)) {
        throw new BrokerError('TRIB_QUEUE_RESERVED', `queue name '${name}' contains reserved prefix 'amq.*'`);
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
    const durable = options.durable === true && !exclusive;
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
        retention: 'workqueue',
        storage: durable ? 'file' : 'memory',
        subjects: [],
        ...(options.maxMessageBytes === undefined ? {} : { maxMessageBytes: options.maxMessageBytes + RECORD_OVERHEAD_BYTES }),
      }))!;
    }
    const cursor = await this.broker.createCursor(principal, { stream: def.stream, name: CURSOR_NAME, mode: 'shared' });
    await this.broker.metadata.put('queue', name, def);
    const queue = new Queue(def, stream, cursor, exclusive ? options.owner : null);
    this.queues.set(name, queue);
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
    await this.destroy(principal, q.definition);
    return count;
  }

  /** queue.purge: acks every ready message (in-flight ones stay with their consumers). Resolves with the count. */
  async purge(name: string, owner?: string): Promise<number> {
    const q = this.require(name, owner);
    let count = 0;
    for (;;) {
      const batch = await q.cursor.fetch(1000, { autoAck: true });
      count += batch.length;
      if (batch.length === 0) break;
    }
    return count;
  }

  /** Appends a message to the queue's stream; resolves when it is durable per the stream's policy. */
  publish(queue: Queue, value: Buffer, headers: RecordHeader[], timestamp = Date.now()): Promise<PublishAck> {
    return queue.stream.publish({ subject: queue.stream.name, key: null, value, headers, timestamp }, 0);
  }

  /** A connection closed: its exclusive queues are deleted. */
  async releaseOwner(principal: Principal, owner: string): Promise<void> {
    for (const q of [...this.queues.values()]) {
      if (q.owner === owner) await this.delete(principal, q.name).catch(() => undefined);
    }
  }

  /** A consumer left: an auto-delete queue that had consumers and has none now is deleted. */
  async consumerLeft(principal: Principal, queue: Queue): Promise<void> {
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
}

const registries = new WeakMap<Broker, Promise<QueueRegistry>>();

/** The one QueueRegistry of a broker, opened on first use (every protocol shares it). */
export function queueRegistryOf(broker: Broker, principal: Principal): Promise<QueueRegistry> {
  let r = registries.get(broker);
  if (r === undefined) {
    r = QueueRegistry.open(broker, principal);
    registries.set(broker, r);
  }
  return r;
}
