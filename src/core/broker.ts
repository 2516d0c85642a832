/**
 * Broker: the core assembled — the one object every protocol plugin is handed. It owns the log factory, the
 * metadata store (replayed at boot), users and the authorizer, the Router, every Stream (reopened from its
 * persisted definition and wired into the Router as a capture target), the cursor store (`__cursors`), the
 * delay scheduler (`__delay`) and the retention/compaction timer.
 *
 * Every operation that names a resource takes the caller's Principal and asks the Authorizer first (allow-all
 * until ACLs exist). Protocol handlers call these methods; they never reach into the pieces' internals for a
 * write, so authorization, persistence and routing stay in one place.
 *
 * Ordering rules (crash safety):
 * - create: the definition is validated (pure), persisted in `__metadata`, then the logs are created. A crash
 *   in between leaves a definition whose logs are created empty at the next boot.
 * - delete: the definition is removed first, then the data. A crash in between leaves an orphan directory,
 *   which is harmless (a later stream of the same name reuses and truncates nothing: see deleteStream).
 * - publish: resolves once every capturing stream has appended per its fsync policy, so a protocol that
 *   acknowledges on this promise (AMQP confirm, MQTT PUBACK, HTTP 200) never acknowledges what is not durable.
 *
 * The data directory itself (lock, FORMAT file) belongs to the server: it is locked and checked before open().
 */
import { ByteChunks } from '../wire/index.js';
import { BrokerError } from './broker-error.js';
import { FileLogFactory, logDirectory, logName, type LogFactory } from './log-factory.js';
import { FileTxnIndexSnapshots } from './transactions/txn-index-snapshot.js';
import { MetadataStore } from './metadata.js';
import { Authorizer, type Action, type ResourceType } from './authorizer.js';
import { UserStore, type SeedUser } from './users/user-store.js';
import { Router } from './router/router.js';
import { DEFAULT_TENANT, ExchangeRegistry, splitTenantName, type DeclareResult, type UnbindResult } from './exchange-registry.js';
import type { Destination, ExchangeOptions, FieldTable } from './exchange.js';
import { Stream, resolveStreamDefinition, type PublishAck, type StreamDefinition, type StreamOptions } from './stream.js';
import { CursorStore } from './cursor/cursor-store.js';
import { DelayScheduler } from './cursor/delay-scheduler.js';
import { ResourceAlarm, type ResourceAlarmOptions } from './resource-alarm.js';
import { Cursor, type StartPolicy } from './cursor/cursor.js';
import type { DispatchMode } from './cursor/dispatch.js';
import type { DeadLetterDecision, Delivery } from './cursor/cursor-state.js';
import { subjectMatchesFilter, validateSubjectFilter } from './router/subject.js';
import type { Message } from './message.js';
import { DEFAULT_LOG_CONFIG, type FsyncPolicy, type LogConfig, type StorageObserver } from '../storage/log.js';
import {
  ATTR_CONTROL,
  ATTR_TRANSACTIONAL,
  OFFSET_ATTRIBUTES,
  decodeRecordBatch,
  encodeRecordBatch,
  type Record,
  type RecordHeader,
  type RecordInput,
} from '../storage/record-batch.js';
import { SUBJECT_HEADER, recordToMessage } from './stream.js';
import { QUEUE_HEADERS, noteQueueAppend, queueRegistryOf } from './queue-registry.js';
import { subjectToAmqpRoutingKey } from './router/translate.js';
import { ANONYMOUS, type Principal } from './principal.js';
import { GroupCoordinator, type ConsumerGroupOptions } from './consumer-group/index.js';
import { ProducerStateManager, type ProducerStateOptions } from './idempotence/producer-state.js';
import { CommittedLogView, PartitionTxnIndex, TransactionCoordinator, type TransactionCoordinatorOptions } from './transactions/index.js';
import { ConnectionRegistry } from './connection-registry.js';

/** Logging calls the broker makes; a pino logger satisfies it (core does not depend on pino). */
export interface BrokerLogger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

export interface BrokerOptions {
  /** Absolute path of a data directory the server has locked and format-checked. */
  dataDir: string;
  /** Default durability for streams that do not set their own. */
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  /** Defaults for every stream's logs (segment size, retention, fsync). */
  logDefaults?: LogConfig;
  /** Host clients are told to connect to (Kafka Metadata). */
  advertisedHost?: string;
  storageObserver?: StorageObserver;
  logger?: BrokerLogger;
  /** Users created or reset at boot. */
  users?: SeedUser[];
  /** Users that may log in only from loopback; default ['guest'] as in RabbitMQ. */
  loopbackUsers?: string[];
  /** How often retention, compaction and workqueue trimming run (ms). Default 30 000. */
  retentionCheckIntervalMs?: number;
  /** Keep every log in memory (tests, a deliberately ephemeral broker). Default false. */
  inMemory?: boolean;
  /** Inject a log factory (tests). Overrides dataDir/inMemory. */
  logFactory?: LogFactory;
  /** Consumer group limits and timers (tests shorten them). */
  groups?: ConsumerGroupOptions;
  /** Memory and disk alarms (memory high watermark, disk free limit); see resource-alarm.ts. */
  resourceAlarm?: Omit<ResourceAlarmOptions, 'dataDir'>;
  /** Kafka transaction timeouts and clock (tests shorten them). */
  transactions?: TransactionCoordinatorOptions;
  /** Idempotent-producer state expiry (producer.id.expiration.ms) and clock. */
  producers?: ProducerStateOptions;
}

/**
 * What a protocol attaches to a cursor as a consumer's `context`: the cursor hands it each delivery.
 * Return false when the consumer's socket is backed up; call `cursor.resume(consumer)` once it drains.
 */
export interface DeliveryTarget {
  deliver(delivery: Delivery): boolean | void;
}

/** A durable cursor's persisted definition (metadata kind 'cursor', name = cursor id). */
export interface CursorDefinition {
  /** `<stream>/<name>`. */
  id: string;
  stream: string;
  name: string;
  /** Partitions served, highest priority first (a priority queue keeps one partition per level). */
  partitions: number[];
  mode: DispatchMode;
  startPolicy: StartPolicy;
  ackWaitMs?: number;
  backoffMs?: number[];
  maxDeliveries?: number;
  /** Only records whose subject matches are delivered; the rest are skipped (acked). */
  filterSubject?: string;
  /** Stream that dead-lettered records are appended to (with their history in headers). */
  deadLetterStream?: string;
}

/**
 * Behaviour a protocol layer attaches to a cursor at run time (not persisted): `isExpired` is asked when a
 * record reaches the head (TTL); `deadLetter` receives every dead-letter decision of a cursor without a
 * deadLetterStream (e.g. republish through an AMQP dead-letter exchange); the record is acked in the source
 * once the returned promise resolves.
 */
export interface CursorHooks {
  isExpired?: (record: Record, nowMs: number) => boolean;
  deadLetter?: (decision: DeadLetterDecision) => Promise<void> | void;
}

export type CursorOptionsInput = Omit<CursorDefinition, 'id' | 'partitions' | 'mode' | 'startPolicy'> &
  Partial<Pick<CursorDefinition, 'partitions' | 'mode' | 'startPolicy'>>;

/** Headers a dead-lettered record carries in addition to its own (the AMQP layer adds x-death from these). */
export const DEAD_LETTER_HEADERS = {
  reason: 'tributary-dead-letter-reason',
  source: 'tributary-dead-letter-source',
  count: 'tributary-dead-letter-count',
  time: 'tributary-dead-letter-time',
} as const;

const CURSORS_STREAM = '__cursors';
const AMQ_TOPIC = 'amq.topic';
const DELAY_STREAM = '__delay';
const NO_LOG: BrokerLogger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Marks the appends of streams a client can see. publish() reports only those as `stored`: the Router also
 * hands it what other capture targets return (an MQTT persistent session's append to its internal `__mqtt.s.*`
 * queue), and internal streams are no client's business. A mark on the promise rather than a WeakSet of them:
 * it is set for every captured message, on the NATS hot path too, where one property store is cheap and a
 * WeakSet entry per promise is not (ephemeron bookkeeping at every GC).
 */
const VISIBLE_APPEND = Symbol('visibleAppend');
type CaptureResult = Promise<unknown> & { [VISIBLE_APPEND]?: true };

/** The Router's capture target for one stream: captured publishes are appended to it. */
class StreamCapture {
  constructor(readonly stream: Stream) {}
  capture(message: Message): Promise<PublishAck> {
    const ack: Promise<PublishAck> & CaptureResult = this.stream.capture(message);
    if (!this.stream.internal) ack[VISIBLE_APPEND] = true;
    return ack;
  }
}

/** A virtual host created at run time (metadata kind 'vhost', name = the vhost). */
export interface VhostRecord {
  name: string;
  /** ms since the epoch. */
  createdAt: number;
}

declare module './metadata.js' {
  interface MetadataKinds {
    vhost: VhostRecord;
  }
}

export class Broker {
  readonly router: Router;
  readonly exchanges: ExchangeRegistry;
  readonly advertisedHost: string;
  /** RabbitMQ-style memory and disk alarms; protocols block publishers while alarmed (`alarm.force` for tests). */
  readonly alarm: ResourceAlarm;
  /** Every open client connection of every protocol (listed and closed through the HTTP API and CLI). */
  readonly connections = new ConnectionRegistry();
  private readonly streamsByName = new Map<string, Stream>();
  private readonly capturesByName = new Map<string, StreamCapture>();
  /** Per produced-to stream: the OTHER streams whose subjects match its name (deliverProduced); reset by wire/unwire. */
  private readonly producedCaptures = new Map<string, StreamCapture[]>();
  private readonly cursorsById = new Map<string, { def: CursorDefinition; cursor: Cursor }>();
  /** Per-cursor hooks a protocol layer sets (TTL, dead-letter to an exchange); see setCursorHooks. */
  private readonly cursorHooks = new Map<string, CursorHooks>();
  private retentionTimer: NodeJS.Timeout | null = null;
  private retentionRunning: Promise<void> | null = null;
  private _ready = false;
  private closing: Promise<void> | null = null;

  private constructor(
    readonly options: BrokerOptions,
    readonly factory: LogFactory,
    readonly metadata: MetadataStore,
    readonly users: UserStore,
    readonly authorizer: Authorizer,
    readonly cursorStore: CursorStore,
    private readonly logDefaults: LogConfig,
    private readonly logger: BrokerLogger,
  ) {
    this.router = new Router({ logger: { warn: (obj, msg) => logger.warn(obj, msg) } });
    this.exchanges = new ExchangeRegistry();
    this.advertisedHost = options.advertisedHost ?? '127.0.0.1';
    this.alarm = new ResourceAlarm({ ...options.resourceAlarm, dataDir: options.dataDir });
  }

  /** The delay scheduler (set once open; release appends into the target stream). */
  delays!: DelayScheduler;

  /**
   * Every consumer group and its committed offsets (`__consumer_offsets`), set once open. Kafka's group APIs
   * drive it; the HTTP API and the CLI read and reset it.
   */
  groups!: GroupCoordinator;

  /** Kafka producer ids and idempotent sequence state (one per broker, shared by every Kafka listener). */
  producers!: ProducerStateManager;

  /** Kafka transactions: transactional ids, markers, last stable offsets (`txn` entries in `__metadata`). */
  transactions!: TransactionCoordinator;

  /** Open and aborted Kafka transactions per partition (cursors read through it: CommittedLogView). */
  private readonly txnIndex = new PartitionTxnIndex({
    // Snapshots live in each file partition's log directory; memory logs do not outlive the process anyway.
    snapshots: new FileTxnIndexSnapshots((stream, partition) =>
      // Not for a stream deleted meanwhile: its directory may already belong to a new stream of the same name.
      this.factory instanceof FileLogFactory && stream.storage === 'file' && this.stream(stream.name) === stream
        ? logDirectory(this.factory.dataDir, logName(stream.name, partition))
        : null,
    ),
    onSnapshotError: (err, stream, partition) => this.logger.warn({ err, stream, partition }, 'transaction index snapshot failed; the index is rebuilt from the log'),
  });

  /**
   * Opens the broker over `options.dataDir`: replays metadata, seeds users, reopens every stream (recovering
   * its logs) and wires it into the Router, opens the cursor store and the delay scheduler, starts retention.
   */
  static async open(options: BrokerOptions): Promise<Broker> {
    const logger = options.logger ?? NO_LOG;
    const logDefaults: LogConfig = {
      ...DEFAULT_LOG_CONFIG,
      ...options.logDefaults,
      fsync: options.fsync,
      fsyncIntervalMs: options.fsyncIntervalMs,
    };
    const storageLogger = {
      warn: (obj: object, msg: string) => logger.warn(obj, msg),
      info: (obj: object, msg: string) => logger.info(obj, msg),
    };
    const factory =
      options.logFactory ??
      (options.inMemory
        ? new (await import('./log-factory.js')).MemoryLogFactory()
        : new FileLogFactory(options.dataDir, { observer: options.storageObserver, logger: storageLogger }));
    const metadata = await MetadataStore.open(factory, { logger: storageLogger });
    const closeOnFailure: Array<() => Promise<unknown>> = [() => metadata.close()];
    try {
      const users = await UserStore.open(metadata, { users: options.users, loopbackUsers: options.loopbackUsers });
      const authorizer = new Authorizer(metadata);
      const cursorLog = await factory.open(
        logName(CURSORS_STREAM, 0),
        // Cursor state follows the broker's fsync policy: under `always` an ack is durable when its write resolves.
        { ...logDefaults, cleanupPolicy: 'compact', retentionMs: -1, retentionBytes: -1 },
        'file',
      );
      closeOnFailure.push(() => cursorLog.close());
      const cursorStore = await CursorStore.open(cursorLog, { onError: (err) => logger.error({ err }, 'cursor state write failed') });
      const broker = new Broker(options, factory, metadata, users, authorizer, cursorStore, logDefaults, logger);
      closeOnFailure.push(() => broker.closeStreams());
      broker.exchanges.restore(metadata.list('exchange').map(({ value }) => value));
      // Virtual hosts created at run time (createVhost) are back before any protocol accepts a connection.
      for (const { value } of metadata.list('vhost')) broker.exchanges.addTenant(value.name);
      for (const { value } of metadata.list('stream')) {
        await broker.openStream(value);
      }
      for (const { value } of metadata.list('cursor')) {
        const d = value as CursorDefinition;
        if (broker.streamsByName.has(d.stream)) await broker.startCursor(d);
        else logger.warn({ cursor: d.id }, 'cursor definition refers to a missing stream; ignored');
      }
      const delayLog = await factory.open(logName(DELAY_STREAM, 0), { ...logDefaults, fsync: 'always', retentionMs: -1, retentionBytes: -1 }, 'file');
      closeOnFailure.push(() => delayLog.close());
      broker.delays = await DelayScheduler.open({
        id: DELAY_STREAM,
        log: delayLog,
        store: cursorStore,
        release: (target, record) => broker.releaseDelayed(target, record),
        onError: (err) => logger.warn({ err }, 'delayed release failed; will retry'),
      });
      broker.groups = await GroupCoordinator.open(broker, options.groups ?? {});
      closeOnFailure.push(async () => broker.groups.close());
      broker.producers = new ProducerStateManager(metadata, options.producers);
      closeOnFailure.push(async () => broker.producers.close());
      broker.transactions = await TransactionCoordinator.open(
        {
          metadata,
          stream: (name) => broker.stream(name),
          commitGroupOffsets: (groupId, commits) => broker.groups.offsets.commit(groupId, commits),
          deliverCommitted: (stream, load) => broker.deliverCommitted(stream, load),
        },
        broker.producers,
        { index: broker.txnIndex, onError: (err, transactionalId) => logger.warn({ err, transactionalId }, 'completing a transaction failed; retried on the next request'), ...options.transactions },
      );
      closeOnFailure.push(() => broker.transactions.close());
      broker.startRetention();
      broker.alarm.start();
      broker._ready = true;
      logger.info({ streams: broker.streamsByName.size, dataDir: options.dataDir }, 'broker open');
      return broker;
    } catch (err) {
      for (const close of closeOnFailure.reverse()) await close().catch(() => undefined);
      throw err;
    }
  }

  get ready(): boolean {
    return this._ready;
  }

  // --- authorization ------------------------------------------------------------------------------------

  /** Throws TRIB_UNAUTHORIZED unless `principal` may do `action` on the resource. */
  check(principal: Principal, action: Action, type: ResourceType, name: string): void {
    this.authorizer.check(principal, action, { type, name });
  }

  // --- streams ------------------------------------------------------------------------------------------

  stream(name: string): Stream | undefined {
    return this.streamsByName.get(name);
  }

  /** The stream `name`, or TRIB_STREAM_NOT_FOUND. */
  requireStream(name: string): Stream {
    const s = this.streamsByName.get(name);
    if (!s) throw new BrokerError('TRIB_STREAM_NOT_FOUND', `stream '${name}' does not exist`);
    return s;
  }

  /** Every user-visible stream (internal `__` streams are listed only when asked). */
  streams(options: { includeInternal?: boolean } = {}): Stream[] {
    const out: Stream[] = [];
    for (const s of this.streamsByName.values()) if (options.includeInternal || !s.internal) out.push(s);
    return out;
  }

  /**
   * Creates a stream. `validateOnly` checks everything (name, configs, authorization) and creates nothing,
   * as Kafka's CreateTopics validateOnly does.
   */
  async createStream(principal: Principal, options: StreamOptions, createOptions: { validateOnly?: boolean; allowInternal?: boolean } = {}): Promise<Stream | null> {
    this.check(principal, 'create', 'stream', options.name);
    const def = resolveStreamDefinition(options, createOptions.allowInternal ?? false);
    if (this.streamsByName.has(def.name)) throw new BrokerError('TRIB_STREAM_EXISTS', `stream '${def.name}' already exists`);
    if (createOptions.validateOnly) return null;
    await this.metadata.put('stream', def.name, def);
    return this.openStream(def);
  }

  /** Deletes a stream: its definition first, then its logs, cursors' state and consumer groups' offsets. */
  async deleteStream(principal: Principal, name: string): Promise<void> {
    this.check(principal, 'delete', 'stream', name);
    const stream = this.requireStream(name);
    for (const { definition } of this.cursors(name)) await this.deleteCursor(principal, name, definition.name);
    await this.metadata.delete('stream', name);
    this.unwire(stream);
    await stream.delete();
    // Internal streams (the offsets stream itself among them) have no group offsets.
    if (!stream.internal) await this.groups?.offsets.deleteTopic(name);
  }

  /** Changes Kafka-style configs (null resets a key to its default) and persists the new definition. */
  async alterStreamConfigs(principal: Principal, name: string, changes: { [key: string]: string | null }, options: { validateOnly?: boolean } = {}): Promise<void> {
    this.check(principal, 'alter', 'stream', name);
    const stream = this.requireStream(name);
    if (options.validateOnly) {
      // Validate against a copy of the definition without touching the live stream.
      const def = stream.definition();
      const configs = { ...def.configs };
      for (const [k, v] of Object.entries(changes)) {
        if (v === null) delete configs[k];
        else configs[k] = v;
      }
      resolveStreamDefinition({ ...def, configs }, stream.internal);
      return;
    }
    stream.alterConfigs(changes);
    await this.metadata.put('stream', name, stream.definition());
    this.wire(stream);
  }

  /** Grows a stream to `total` partitions (Kafka CreatePartitions semantics: never shrinks). */
  async addPartitions(principal: Principal, name: string, total: number): Promise<void> {
    this.check(principal, 'alter', 'stream', name);
    const stream = this.requireStream(name);
    if (!Number.isInteger(total) || total <= stream.partitionCount) {
      throw new BrokerError('TRIB_INVALID_CONFIG', `stream '${name}' has ${stream.partitionCount} partitions; the new count must be larger (got ${total})`);
    }
    await stream.addPartitions(total - stream.partitionCount);
    await this.metadata.put('stream', name, stream.definition());
  }

  private async openStream(def: StreamDefinition): Promise<Stream> {
    const stream = await Stream.open(this.factory, def, { logDefaults: this.logDefaults, allowInternal: true, txnIndex: this.txnIndex });
    this.streamsByName.set(def.name, stream);
    this.wire(stream);
    if (!stream.internal) stream.on('produced', (_partition: number, batches: Array<Buffer | ByteChunks>) => this.deliverProduced(stream, batches));
    return stream;
  }

  /**
   * Interop (DESIGN.md "Interop naming"): records produced through Kafka to a topic go to the live Router
   * subscribers of the topic's subject — the topic's name, whatever `tributary-subject` header a producer set —
   * and to every OTHER stream whose `subjects` match it ("a publish goes … to every stream whose subjects
   * match"), but not to the topic itself (stored already). Those appends are not awaited by the producer's ack
   * (it was sent when the topic's own append was durable); a failed one is logged. A `tributary-reply-to`
   * header becomes the reply subject.
   * Control batches (transaction markers) and transactional batches (not yet committed) are skipped. Costs
   * nothing beyond one trie lookup when no live subscriber matches. Runs after the append is acknowledged by the
   * log; a failure is logged, never thrown into the produce path.
   */
  private deliverProduced(stream: Stream, batches: ReadonlyArray<Buffer | ByteChunks>, committed = false): void {
    const subject = stream.name;
    let live: boolean;
    let captures: StreamCapture[];
    try {
      captures = this.capturesOfProduced(stream);
      live = this.router.hasSubscribers(subject) || (this.exchanges.get(AMQ_TOPIC)?.bindingCount ?? 0) > 0;
    } catch {
      return; // a topic name that is not a valid subject has no live subscribers
    }
    if (!live && captures.length === 0) return;
    try {
      for (const bytes of batches) {
        if ((bytes.readInt16BE(OFFSET_ATTRIBUTES) & (committed ? ATTR_CONTROL : ATTR_CONTROL | ATTR_TRANSACTIONAL)) !== 0) continue;
        // Someone listens: a batch still held as socket reads is joined to be decoded.
        const batch = bytes instanceof ByteChunks ? bytes.join() : bytes;
        for (const record of decodeRecordBatch(batch)) {
          const message = recordToMessage(subject, record);
          message.subject = subject;
          for (let i = 0; i < captures.length; i++) {
            const target = captures[i].stream.name;
            captures[i].capture(message).catch((err: unknown) => this.logger.warn({ err, stream: stream.name, target }, 'capture of a produced record by another stream failed'));
          }
          if (!live) continue;
          this.router.deliverLive(message);
          this.routeToTopicQueues(message)?.catch((err: unknown) => this.logger.warn({ err, stream: stream.name }, 'amq.topic queue append of a produced record failed'));
        }
      }
    } catch (err) {
      this.logger.warn({ err, stream: stream.name }, 'live delivery of produced records failed');
    }
  }

  /**
   * A Kafka transaction committed: its batches on one partition of `stream` (read by `load` only when someone
   * listens live) go to live subscribers now, as produced records do; aborted transactions never come here.
   */
  async deliverCommitted(stream: Stream, load: () => Promise<Buffer[]>): Promise<void> {
    if (stream.internal) return;
    try {
      if (!this.router.hasSubscribers(stream.name) && (this.exchanges.get(AMQ_TOPIC)?.bindingCount ?? 0) === 0) return;
    } catch {
      return; // not a valid subject: no live subscribers
    }
    await load().then(
      (batches) => this.deliverProduced(stream, batches, true),
      (err: unknown) => this.logger.warn({ err, stream: stream.name }, 'reading a committed transaction for live delivery failed'),
    );
  }

  /** The streams other than `stream` that capture its name as a subject (cached until streams change). */
  private capturesOfProduced(stream: Stream): StreamCapture[] {
    let list = this.producedCaptures.get(stream.name);
    if (list === undefined) {
      list = [];
      try {
        for (const capture of this.capturesByName.values()) {
          const other = capture.stream;
          if (other === stream || other.internal) continue;
          if (other.subjects.some((filter) => subjectMatchesFilter(filter, stream.name))) list.push(capture);
        }
      } catch {
        list = []; // a topic name that is not a valid subject is captured by nobody
      }
      this.producedCaptures.set(stream.name, list);
    }
    return list;
  }

  /** (Re)registers the stream's subject filters as Router captures. */
  private wire(stream: Stream): void {
    this.producedCaptures.clear();
    let capture = this.capturesByName.get(stream.name);
    if (capture) this.router.removeCaptures(capture);
    else {
      capture = new StreamCapture(stream);
      this.capturesByName.set(stream.name, capture);
    }
    for (const filter of stream.subjects) this.router.addCapture(filter, capture);
  }

  private unwire(stream: Stream): void {
    this.producedCaptures.clear();
    const capture = this.capturesByName.get(stream.name);
    if (capture) this.router.removeCaptures(capture);
    this.capturesByName.delete(stream.name);
    this.streamsByName.delete(stream.name);
  }

  // --- exchanges ----------------------------------------------------------------------------------------

  /**
   * Declares an exchange (RabbitMQ's equivalence rules; see ExchangeRegistry). A durable one is persisted,
   * with its bindings, in `__metadata` and is back after a restart; a transient one is not.
   */
  async declareExchange(principal: Principal, options: ExchangeOptions, flags: { passive?: boolean } = {}): Promise<DeclareResult> {
    this.check(principal, flags.passive ? 'describe' : 'create', 'exchange', options.name);
    const result = this.exchanges.declare(options, flags);
    if (result.created) await this.persistExchanges([options.name]);
    return result;
  }

  /** Deletes an exchange (and auto-delete exchanges that lose their last binding through it). */
  async deleteExchange(principal: Principal, name: string, options: { ifUnused?: boolean } = {}): Promise<string[]> {
    this.check(principal, 'delete', 'exchange', name);
    // Bindings from other exchanges to this one go with it, so their sources change too.
    const sources = this.exchanges.sourcesOf({ kind: 'exchange', name });
    const deleted = this.exchanges.delete(name, options);
    await this.persistExchanges([...sources, ...deleted]);
    return deleted;
  }

  /** Binds a queue or an exchange to `source`; persisted when the source is durable. */
  async bind(principal: Principal, source: string, destination: Destination, routingKey = '', args: FieldTable = {}): Promise<boolean> {
    this.check(principal, 'alter', 'exchange', source);
    const added = this.exchanges.bind(source, destination, routingKey, args);
    if (added) await this.persistExchanges([source]);
    return added;
  }

  async unbind(principal: Principal, source: string, destination: Destination, routingKey = '', args: FieldTable = {}): Promise<UnbindResult> {
    this.check(principal, 'alter', 'exchange', source);
    const result = this.exchanges.unbind(source, destination, routingKey, args);
    if (result.removed) await this.persistExchanges([source, ...result.deleted]);
    return result;
  }

  /**
   * A queue was deleted (QueueRegistry): removes every binding to it and persists the exchanges that changed.
   * Returns the exchanges auto-deleted as a consequence.
   */
  async removeQueueBindings(principal: Principal, queue: string): Promise<string[]> {
    this.check(principal, 'delete', 'queue', queue);
    const sources = this.exchanges.sourcesOf({ kind: 'queue', name: queue });
    const deleted = this.exchanges.removeQueue(queue);
    await this.persistExchanges([...sources, ...deleted]);
    return deleted;
  }

  /** Writes the current definition of each named exchange (or its tombstone when it is gone or transient). */
  private async persistExchanges(names: Iterable<string>): Promise<void> {
    for (const name of new Set(names)) {
      if (name === '') continue;
      const ex = this.exchanges.get(name);
      if (ex && ex.durable) await this.metadata.put('exchange', name, ex.toJSON());
      else if (this.metadata.get('exchange', name) !== undefined) await this.metadata.delete('exchange', name);
    }
  }

  // --- virtual hosts ------------------------------------------------------------------------------------

  /** The virtual hosts (core tenants), '/' first. */
  vhosts(): string[] {
    return this.exchanges.tenantNames();
  }

  /**
   * Creates a virtual host (a tenant with its own amq.* exchanges) and persists it (`vhost/<name>`), so it is
   * back after a restart. Idempotent: false when it existed. Seeding from the config goes through here too.
   */
  async createVhost(principal: Principal, name: string): Promise<boolean> {
    this.check(principal, 'alter', 'cluster', '*');
    const created = !this.exchanges.hasTenant(name);
    // addTenant validates the name (TRIB_INVALID_NAME for '' or a NUL) before anything is written.
    this.exchanges.addTenant(name);
    if (name !== DEFAULT_TENANT && this.metadata.get('vhost', name) === undefined) await this.metadata.put('vhost', name, { name, createdAt: Date.now() });
    return created;
  }

  /**
   * Registers what a protocol does when a vhost is deleted (AMQP: close its connections in it with 320
   * CONNECTION_FORCED). Returns the unregister function.
   */
  onVhostDeleted(hook: (vhost: string) => void | Promise<void>): () => void {
    this.vhostDeletedHooks.add(hook);
    return () => this.vhostDeletedHooks.delete(hook);
  }

  private readonly vhostDeletedHooks = new Set<(vhost: string) => void | Promise<void>>();

  /**
   * Deletes a virtual host as RabbitMQ does: no new session may open it, the sessions in it are closed
   * (onVhostDeleted hooks), then its queues (with their streams and cursors), its exchanges and the users'
   * permissions on it go. TRIB_VHOST_NOT_FOUND, TRIB_VHOST_RESERVED for '/'.
   */
  async deleteVhost(principal: Principal, name: string): Promise<void> {
    this.check(principal, 'alter', 'cluster', '*');
    if (name === DEFAULT_TENANT) throw new BrokerError('TRIB_VHOST_RESERVED', "the default vhost '/' cannot be deleted");
    if (!this.exchanges.removeTenant(name)) throw new BrokerError('TRIB_VHOST_NOT_FOUND', `no vhost '${name}'`);
    for (const hook of this.vhostDeletedHooks) await hook(name);
    const queues = await queueRegistryOf(this, principal);
    for (const q of [...queues]) if (splitTenantName(q.name).tenant === name && q.name !== splitTenantName(q.name).name) await queues.delete(principal, q.name);
    await this.persistExchanges(this.exchanges.removeTenantExchanges(name));
    await this.authorizer.permissions.clearAll({ vhost: name });
    if (this.metadata.get('vhost', name) !== undefined) await this.metadata.delete('vhost', name);
  }

  // --- cursors ------------------------------------------------------------------------------------------

  cursor(streamName: string, name: string): Cursor | undefined {
    return this.cursorsById.get(`${streamName}/${name}`)?.cursor;
  }

  cursors(streamName?: string): Array<{ definition: CursorDefinition; cursor: Cursor }> {
    const out: Array<{ definition: CursorDefinition; cursor: Cursor }> = [];
    for (const { def, cursor } of this.cursorsById.values()) {
      if (streamName === undefined || def.stream === streamName) out.push({ definition: def, cursor });
    }
    return out;
  }

  /**
   * Creates a durable cursor on a stream, or returns the existing one when its settings are the same
   * (TRIB_CURSOR_EXISTS otherwise). Its definition is persisted and its state (ack floor, acked ranges,
   * delivery counts) is kept in `__cursors`, so it resumes where it was after a restart or a crash.
   * Consumers attach with `cursor.attach({ id, prefetchCount, context: DeliveryTarget })`.
   */
  async createCursor(principal: Principal, options: CursorOptionsInput): Promise<Cursor> {
    this.check(principal, 'consume', 'stream', options.stream);
    const stream = this.requireStream(options.stream);
    if (!/^[a-zA-Z0-9._~-]{1,255}$/.test(options.name)) {
      throw new BrokerError('TRIB_INVALID_NAME', `cursor name '${options.name}' must be 1-255 of [a-zA-Z0-9._~-]`);
    }
    const partitions = options.partitions ?? [0];
    for (const p of partitions) {
      if (!Number.isInteger(p) || p < 0 || p >= stream.partitionCount) {
        throw new BrokerError('TRIB_PARTITION_NOT_FOUND', `stream '${stream.name}' has no partition ${p}`);
      }
    }
    if (options.filterSubject !== undefined) validateSubjectFilter(options.filterSubject);
    if (options.deadLetterStream !== undefined) this.requireStream(options.deadLetterStream);
    const def: CursorDefinition = {
      ...options,
      id: `${options.stream}/${options.name}`,
      partitions,
      mode: options.mode ?? 'shared',
      startPolicy: options.startPolicy ?? { kind: 'all' },
    };
    const existing = this.cursorsById.get(def.id);
    if (existing) {
      if (JSON.stringify(existing.def) !== JSON.stringify(def)) {
        throw new BrokerError('TRIB_CURSOR_EXISTS', `cursor '${def.id}' exists with different settings`);
      }
      return existing.cursor;
    }
    await this.metadata.put('cursor', def.id, def);
    return this.startCursor(def);
  }

  /**
   * Sets (or, with undefined, clears) the hooks of cursor `id` (`<stream>/<name>`); they are not persisted, so
   * the owner sets them again after a restart, and may set them before the cursor exists. Without a
   * `deadLetter` hook (and no deadLetterStream) dead-lettered records are dropped.
   */
  setCursorHooks(id: string, hooks: CursorHooks | undefined): void {
    if (hooks === undefined) this.cursorHooks.delete(id);
    else this.cursorHooks.set(id, hooks);
  }

  /** Deletes a cursor: its definition, then its persisted state. Attached consumers are dropped. */
  async deleteCursor(principal: Principal, streamName: string, name: string): Promise<void> {
    this.check(principal, 'delete', 'stream', streamName);
    const id = `${streamName}/${name}`;
    const entry = this.cursorsById.get(id);
    if (!entry) throw new BrokerError('TRIB_CURSOR_NOT_FOUND', `cursor '${id}' does not exist`);
    await this.metadata.delete('cursor', id);
    this.cursorsById.delete(id);
    this.streamsByName.get(streamName)?.removeCursor(id);
    await entry.cursor.delete();
  }

  private async startCursor(def: CursorDefinition): Promise<Cursor> {
    const stream = this.requireStream(def.stream);
    const filter = def.filterSubject;
    const cursor = await Cursor.open({
      id: def.id,
      // read_committed: records of open Kafka transactions wait for the commit, aborted ones are skipped.
      sources: def.partitions.map((p) => new CommittedLogView(stream, p, this.txnIndex)),
      mode: def.mode,
      startPolicy: def.startPolicy,
      ackWaitMs: def.ackWaitMs,
      backoffMs: def.backoffMs,
      maxDeliveries: def.maxDeliveries,
      matches: filter === undefined ? undefined : (record) => subjectMatchesFilter(filter, recordSubject(stream.name, record)),
      deliver: (consumer, delivery) => (consumer.context as DeliveryTarget).deliver(delivery),
      deadLetter: def.deadLetterStream === undefined ? (decision) => this.cursorHooks.get(def.id)?.deadLetter?.(decision) : (decision) => this.deadLetter(def, decision),
      isExpired: (record, nowMs) => this.cursorHooks.get(def.id)?.isExpired?.(record, nowMs) === true,
      // A memory stream starts empty after a restart, so its cursors' state is not worth a durable write.
      store: stream.storage === 'memory' ? undefined : this.cursorStore,
      onError: (err) => this.logger.warn({ err, cursor: def.id }, 'cursor error'),
    });
    this.cursorsById.set(def.id, { def, cursor });
    return cursor;
  }

  /** Appends a dead-lettered record to the cursor's dead-letter stream, with its history in headers. */
  private async deadLetter(def: CursorDefinition, decision: DeadLetterDecision): Promise<void> {
    const target = this.streamsByName.get(def.deadLetterStream!);
    if (!target) {
      this.logger.warn({ cursor: def.id, offset: decision.offset }, 'dead-letter stream is gone; record dropped');
      return;
    }
    const r = decision.record;
    const headers: RecordHeader[] = [
      ...r.headers,
      { key: DEAD_LETTER_HEADERS.reason, value: Buffer.from(decision.reason) },
      { key: DEAD_LETTER_HEADERS.source, value: Buffer.from(def.id) },
      { key: DEAD_LETTER_HEADERS.count, value: Buffer.from(String(decision.deliveryCount)) },
      { key: DEAD_LETTER_HEADERS.time, value: Buffer.from(String(decision.timeMs)) },
    ];
    const partition = target.partitionFor(r.key);
    await target.appendBatch(partition, encodeRecordBatch([{ key: r.key, value: r.value, headers, timestamp: r.timestamp }]), { live: false });
  }

  /** Reports each open cursor's ack floor to its stream, so workqueue streams can delete what all acked. */
  private reportAckFloors(): void {
    for (const { def, cursor } of this.cursorsById.values()) {
      const stream = this.streamsByName.get(def.stream);
      if (!stream) continue;
      def.partitions.forEach((p, level) => stream.setAckFloor(p, cursor.ackFloor(level), def.id));
    }
  }

  // --- publish ------------------------------------------------------------------------------------------

  /**
   * Publishes on the Router: live subscribers get it at once (at most once), and every stream whose subjects
   * match appends it. Resolves when those appends are durable per each stream's fsync policy, with the
   * number of live deliveries and the offsets in the streams a client can see (not internal `__` ones).
   */
  async publish(principal: Principal, message: Message): Promise<{ deliveries: number; stored: PublishAck[] }> {
    this.check(principal, 'publish', 'subject', message.subject);
    const pending: unknown[] = [];
    const deliveries = this.router.publish(message, pending);
    const queued = this.routeToTopicQueues(message);
    const results = pending.length === 0 ? [] : await Promise.all(pending);
    // A capture target may also return undefined (nothing to wait for).
    const stored = results.filter((_, i) => (pending[i] as CaptureResult | undefined)?.[VISIBLE_APPEND] === true) as PublishAck[];
    if (queued !== null) await queued;
    return { deliveries, stored };
  }

  /**
   * publish() for at-most-once publishers (NATS core) on their hot path: the same routing, but no promise per
   * message — null when nothing was stored or queued, else a promise that settles when those appends do.
   * Throws (synchronously) what publish() would reject with.
   */
  publishNoWait(principal: Principal, message: Message): Promise<unknown> | null {
    this.check(principal, 'publish', 'subject', message.subject);
    const pending: Promise<unknown>[] = [];
    this.router.publish(message, pending);
    const queued = this.routeToTopicQueues(message);
    if (queued !== null) pending.push(queued);
    return pending.length === 0 ? null : pending.length === 1 ? pending[0] : Promise.all(pending);
  }

  /**
   * True when a publish on `subject` would reach anyone: a live subscription, a capturing stream or an AMQP
   * queue bound to `amq.topic` (NATS no-responders).
   */
  hasInterest(subject: string): boolean {
    if (this.router.hasInterest(subject)) return true;
    const topic = this.exchanges.get(AMQ_TOPIC);
    if (topic === undefined || topic.bindingCount === 0) return false;
    const routingKey = subjectToAmqpRoutingKey(subject);
    return routingKey !== null && this.exchanges.route(AMQ_TOPIC, routingKey).size > 0;
  }

  /**
   * Interop (DESIGN.md "Interop naming"): a message published on the Router by another protocol (or produced
   * through Kafka) also goes to the AMQP queues bound to `amq.topic` whose binding matches the subject as a
   * routing key (core/router/translate.ts). A message that came from AMQP (it carries the `amqp-exchange`
   * header) was routed to its queues by the channel already. The queue record gets the message's headers plus
   * `amqp-exchange`, `amqp-routing-key` and `reply-to`, which the AMQP layer turns into properties
   * (docs/interop.md). Returns the queues' appends, or null when no queue matched (one map lookup when
   * amq.topic has no bindings).
   */
  private routeToTopicQueues(message: Message): Promise<unknown> | null {
    const topic = this.exchanges.get(AMQ_TOPIC);
    if (topic === undefined || topic.bindingCount === 0 || message.value === null) return null;
    const headers = message.headers;
    for (let i = 0; i < headers.length; i++) if (headers[i].key === QUEUE_HEADERS.exchange) return null;
    const routingKey = subjectToAmqpRoutingKey(message.subject);
    if (routingKey === null) return null;
    const names = [...this.exchanges.route(AMQ_TOPIC, routingKey)];
    if (names.length === 0) return null;
    const value = message.value;
    const recordHeaders: RecordHeader[] = [
      { key: QUEUE_HEADERS.exchange, value: Buffer.from(AMQ_TOPIC, 'utf8') },
      { key: QUEUE_HEADERS.routingKey, value: Buffer.from(routingKey, 'utf8') },
    ];
    for (const h of headers) if (!h.key.startsWith('tributary-') && h.key !== QUEUE_HEADERS.replyTo) recordHeaders.push(h);
    if (message.replyTo !== undefined) recordHeaders.push({ key: QUEUE_HEADERS.replyTo, value: Buffer.from(message.replyTo, 'utf8') });
    return queueRegistryOf(this, ANONYMOUS).then((registry) =>
      Promise.all(
        names.map((name) => {
          const queue = registry.get(name);
          return queue === undefined ? undefined : registry.publish(queue, value, recordHeaders, message.timestamp);
        }),
      ),
    );
  }

  // --- delayed delivery ---------------------------------------------------------------------------------

  /**
   * Schedules `record` for `<stream>/<partition>` at `dueAtMs` (durable: survives restart and kill -9).
   * Resolves once the delayed record itself is durable.
   */
  async scheduleDelayed(principal: Principal, streamName: string, partition: number, record: RecordInput, dueAtMs: number): Promise<void> {
    this.check(principal, 'write', 'stream', streamName);
    const stream = this.requireStream(streamName);
    if (!Number.isInteger(partition) || partition < 0 || partition >= stream.partitionCount) {
      throw new BrokerError('TRIB_PARTITION_NOT_FOUND', `stream '${streamName}' has no partition ${partition}`);
    }
    await this.delays.schedule(logName(streamName, partition), record, dueAtMs);
  }

  private async releaseDelayed(target: string, record: RecordInput): Promise<void> {
    const slash = target.lastIndexOf('/');
    const stream = this.streamsByName.get(target.slice(0, slash));
    if (!stream) {
      // The target was deleted while the record waited: nothing to deliver to; count it as released.
      this.logger.warn({ target }, 'delayed record dropped: its target stream no longer exists');
      return;
    }
    const partition = Number(target.slice(slash + 1));
    await stream.appendBatch(Math.min(partition, stream.partitionCount - 1), encodeRecordBatch([record]), { live: false });
    // A queue with x-max-length-bytes counts the bytes it holds.
    noteQueueAppend(this, stream.name, record.value?.length ?? 0);
  }

  // --- retention ----------------------------------------------------------------------------------------

  private startRetention(): void {
    const intervalMs = this.options.retentionCheckIntervalMs ?? 30_000;
    this.retentionTimer = setInterval(() => void this.runRetention(), intervalMs);
    this.retentionTimer.unref();
  }

  /** Applies retention, compaction and workqueue trimming to every stream once (never two runs at a time). */
  runRetention(now = Date.now()): Promise<void> {
    if (this.retentionRunning) return this.retentionRunning;
    this.retentionRunning = (async () => {
      this.reportAckFloors();
      for (const stream of this.streamsByName.values()) {
        try {
          await stream.enforceRetention(now);
        } catch (err) {
          this.logger.warn({ err, stream: stream.name }, 'retention failed');
        }
      }
    })().finally(() => {
      this.retentionRunning = null;
    });
    return this.retentionRunning;
  }

  // --- lifecycle ----------------------------------------------------------------------------------------

  private async closeStreams(): Promise<void> {
    for (const stream of this.streamsByName.values()) {
      try {
        await stream.close();
        // Appends have settled: each built transaction index is exact for its log, so a restart scans only past it.
        for (let p = 0; p < stream.partitionCount; p++) await this.txnIndex.saveSnapshot(stream, p);
      } catch (err) {
        this.logger.error({ err, stream: stream.name }, 'closing stream failed');
      }
    }
  }

  /** Stops timers, flushes cursor state and every log per its policy, and closes them. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this._ready = false;
    this.closing = (async () => {
      if (this.retentionTimer) clearInterval(this.retentionTimer);
      this.alarm.stop();
      await this.retentionRunning;
      await this.delays.close();
      await this.transactions.close();
      this.producers.close();
      this.groups.close();
      for (const { cursor } of this.cursorsById.values()) await cursor.close().catch((err) => this.logger.warn({ err }, 'closing cursor failed'));
      await this.closeStreams();
      await this.cursorStore.close();
      await this.metadata.close();
      this.logger.info({}, 'broker closed');
    })();
    return this.closing;
  }
}

/** The subject a stored record was published on: its subject header, else the stream's name. */
export function recordSubject(streamName: string, record: Record): string {
  for (const h of record.headers) {
    if (h.key === SUBJECT_HEADER && h.value !== null) return h.value.toString('utf8');
  }
  return streamName;
}
