/**
 * Stream: a named, partitioned, retained sequence of records — a Kafka topic, a JetStream stream, the log
 * behind an AMQP queue. N partitions, each a `Log` from a LogFactory; the subjects it captures from the
 * Router; a retention mode; a storage kind; Kafka-style string configs.
 *
 * Write paths:
 * - `appendBatch(partition, batch)`: the Kafka path. The producer's record batch is appended as received
 *   (bytes pass through; the log patches the base offset and validates length, magic and CRC-32C once).
 *   Once appended it emits `'produced' (partition, batches: (Buffer | ByteChunks)[])` (a batch still held as its
 *   socket reads stays ByteChunks; a listener joins it only if it needs the bytes), which the Broker turns into live Router
 *   deliveries (DESIGN.md "Interop naming"); core-internal appends (dead letters, delayed releases) pass
 *   `{ live: false }`.
 * - `publish(message)`: every other protocol. The partition is chosen like Kafka's default partitioner
 *   (keyed: toPositive(murmur2(key)) % partitions, so a key lands where a Kafka client would put it; unkeyed:
 *   sticky — every unkeyed message of one event-loop turn goes to one partition, the next turn to the next,
 *   round-robin). Messages are queued per partition and encoded into one batch per partition per turn
 *   (flushed in setImmediate, so every socket read of one poll phase coalesces); each publisher's promise
 *   resolves with its own {partition, offset} once the log acknowledges the batch (the fsync policy is met).
 *
 * Subject convention: a record's subject is its stream's name unless the record carries a `tributary-subject`
 * header (written only when the subject differs, so a Kafka consumer of topic `a.b` fed by MQTT `a/b` sees no
 * extra header); a reply subject is the `tributary-reply-to` header. `messageToRecord` / `recordToMessage`
 * are the two directions and strip any such headers the publisher tried to set itself.
 *
 * Retention modes: `limits` (age: retention.ms, bytes: retention.bytes per partition, count:
 * retention.messages per partition, the last via deleteRecords), `workqueue` (cursors report their ack floor
 * with setAckFloor; records below the lowest floor of all registered cursors are deleted), `compact`
 * (cleanup.policy contains `compact`; the log compacts itself when it can).
 *
 * Invariants: partition count only grows; per partition, offsets of acknowledged publishes are in call order;
 * a publish is never acknowledged before its log acknowledges the append.
 *
 * Crash behaviour: queued, unflushed publishes are lost with the process but were never acknowledged; the
 * definition (name, partitions, subjects, configs) is persisted by the caller in the MetadataStore
 * (`definition()`); trimming (count/workqueue) is re-applied at the next retention tick after a restart.
 *
 * Concurrency: one Node thread; all methods may be called at any time; after close() writes reject with
 * TRIB_LOG_CLOSED.
 */
import { EventEmitter } from 'node:events';
import { ByteChunks } from '../wire/index.js';
import { BrokerError, ERROR_CODES, type ErrorCode } from './broker-error.js';
import type { Message } from './message.js';
import { murmur2, toPositive } from './murmur2.js';
import { isCompactable, logName, type LogFactory, type StorageKind } from './log-factory.js';
import { readCommitted } from './transactions/committed-log-view.js';
import type { PartitionTxnIndex } from './transactions/partition-txn-index.js';
import { DEFAULT_LOG_CONFIG, type AppendResult, type CleanupPolicy, type FsyncPolicy, type Log, type LogConfig, type LogVisibility, type ReadResult } from '../storage/log.js';
import {
  ATTR_TIMESTAMP_TYPE_LOG_APPEND,
  BATCH_HEADER_SIZE,
  OFFSET_ATTRIBUTES,
  ATTR_CONTROL,
  OFFSET_MAX_TIMESTAMP,
  batchLastOffset,
  batchSizeAt,
  decodeRecordBatch,
  encodeRecordBatch,
  iterateBatches,
  updateBatchCrc,
  validateBatch,
  type Record as StoredRecord,
  type RecordHeader,
  type RecordInput,
} from '../storage/record-batch.js';

export type RetentionMode = 'limits' | 'workqueue' | 'compact';

/** Record header carrying the message's subject when it differs from the stream name. */
export const SUBJECT_HEADER = 'tributary-subject';
/** Record header carrying the reply subject (NATS reply, MQTT response topic, AMQP reply_to). */
export const REPLY_TO_HEADER = 'tributary-reply-to';

/** Kafka's topic name limit (249 leaves room for partition suffixes in directory names). */
export const MAX_STREAM_NAME_LENGTH = 249;
export const MAX_PARTITIONS = 10_000;

/** What the MetadataStore persists; `Stream.open(factory, definition)` reopens the same stream. */
export interface StreamDefinition {
  name: string;
  partitions: number;
  /** Base subject filters (the `subjects` config adds more). */
  subjects: string[];
  retention: RetentionMode;
  storage: StorageKind;
  /** Explicitly set configs, normalised (`retention.ms`: '3600000'); unset keys take the broker defaults. */
  configs: { [key: string]: string };
}

export interface StreamOptions {
  name: string;
  /** Default 1. */
  partitions?: number;
  /** Subject filters captured from the Router. Default: the stream's name (none for internal streams). */
  subjects?: string[];
  /** Default 'limits' ('compact' when cleanup.policy says so). */
  retention?: RetentionMode;
  /** Default 'file'. */
  storage?: StorageKind;
  /** Sugar for `max.message.bytes`. */
  maxMessageBytes?: number;
  /** Sugar for `retention.ms`. */
  maxAgeMs?: number;
  /** Sugar for `retention.bytes` (per partition, as in Kafka). */
  maxBytes?: number;
  /** Sugar for `retention.messages` (per partition). */
  maxMessages?: number;
  /** Kafka-style configs; see STREAM_CONFIGS. */
  configs?: { [key: string]: string };
}

export interface StreamDeps {
  /** Broker-wide defaults for every LogConfig field a stream does not set. */
  logDefaults?: Partial<LogConfig>;
  /** Allows names starting with `__` (the broker's own streams). */
  allowInternal?: boolean;
  /** Injected clock (ms) for LogAppendTime and tests. */
  now?: () => number;
  /**
   * The broker's Kafka transaction index: with it, readMessages returns committed records only (read_committed).
   * Without it (a stream outside a broker, which has no transactions) only control batches are skipped.
   */
  txnIndex?: PartitionTxnIndex;
}

export interface PublishAck {
  partition: number;
  offset: number;
}

export interface PartitionOffsets {
  startOffset: number;
  endOffset: number;
  highWatermark: number;
}

export interface StoredMessage {
  partition: number;
  offset: number;
  message: Message;
}

export interface ConfigEntry {
  name: string;
  value: string;
  isDefault: boolean;
  doc: string;
}

// --- configs ------------------------------------------------------------------------------------------------

interface ConfigSpec {
  doc: string;
  /** Returns the normalised value or throws a reason (the caller wraps it naming the key). */
  parse(value: string): string;
  defaultValue(defaults: LogConfig): string;
}

const INT32_MAX = 0x7fffffff;

function integer(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => string {
  return (value) => {
    const v = value.trim();
    if (!/^-?[0-9]+$/.test(v)) throw `'${value}' is not an integer`;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw `${v} is outside [${min}, ${max}]`;
    return String(n);
  };
}

function oneOf(...allowed: string[]): (value: string) => string {
  return (value) => {
    const v = value.trim();
    if (!allowed.includes(v)) throw `'${value}' is not one of ${allowed.join(', ')}`;
    return v;
  };
}

/**
 * Every config a stream accepts. Kafka's names and meanings where Kafka has the setting; `retention.messages`,
 * `subjects`, `fsync` and `fsync.interval.ms` are Tributary's. compression.type and min.insync.replicas are
 * validated and stored (Kafka tools send them) but have no effect on a single node.
 */
export const STREAM_CONFIGS: { readonly [key: string]: ConfigSpec } = {
  'retention.ms': { doc: 'Delete whole segments older than this (ms); -1 keeps forever.', parse: integer(-1), defaultValue: (d) => String(d.retentionMs) },
  'retention.bytes': { doc: 'Per partition: delete oldest segments while larger than this; -1 for no limit.', parse: integer(-1), defaultValue: (d) => String(d.retentionBytes) },
  'retention.messages': { doc: 'Per partition: keep at most this many records (deleteRecords); -1 for no limit.', parse: integer(-1), defaultValue: () => '-1' },
  'cleanup.policy': {
    doc: 'delete (retention by age/size), compact (newest record per key), or both.',
    parse: (value) => {
      const parts = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
      const set = new Set(parts);
      if (parts.length === 0 || parts.length !== set.size || parts.some((p) => p !== 'delete' && p !== 'compact')) {
        throw `'${value}' is not delete, compact or compact,delete`;
      }
      return set.size === 2 ? 'compact,delete' : parts[0];
    },
    defaultValue: (d) => d.cleanupPolicy,
  },
  'segment.bytes': { doc: 'Roll a segment at this size (bytes).', parse: integer(BATCH_HEADER_SIZE, INT32_MAX), defaultValue: (d) => String(d.segmentBytes) },
  'segment.ms': { doc: 'Roll a segment after this long (ms).', parse: integer(1), defaultValue: (d) => String(d.segmentMs) },
  'max.message.bytes': { doc: 'Largest record batch accepted (bytes).', parse: integer(BATCH_HEADER_SIZE, INT32_MAX), defaultValue: (d) => String(d.maxMessageBytes) },
  'message.timestamp.type': { doc: 'CreateTime (the producer\'s) or LogAppendTime (the broker\'s at append).', parse: oneOf('CreateTime', 'LogAppendTime'), defaultValue: () => 'CreateTime' },
  'delete.retention.ms': { doc: 'Compaction keeps tombstones at least this long (ms).', parse: integer(0), defaultValue: (d) => String(d.deleteRetentionMs) },
  'index.interval.bytes': { doc: 'Bytes of log between index entries.', parse: integer(0, INT32_MAX), defaultValue: (d) => String(d.indexIntervalBytes) },
  fsync: { doc: 'Durability: always (group commit before ack), interval, never.', parse: oneOf('always', 'interval', 'never'), defaultValue: (d) => d.fsync },
  'fsync.interval.ms': { doc: 'With fsync=interval: how often (ms).', parse: integer(1), defaultValue: (d) => String(d.fsyncIntervalMs) },
  visibility: {
    doc: 'With fsync=always, readers see a record once it is durable (fsynced) or once it is written (before its fsync; acks still wait for it).',
    parse: oneOf('durable', 'written'),
    defaultValue: (d) => d.visibility ?? 'durable',
  },
  subjects: {
    doc: 'Further subject filters captured, comma-separated (sensors.>,alerts.*).',
    parse: (value) => {
      const list = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
      for (const s of list) if (!isValidSubjectFilter(s)) throw `'${s}' is not a valid subject filter`;
      return list.join(',');
    },
    defaultValue: () => '',
  },
  'compression.type': { doc: 'Accepted for Kafka tools; batches are stored as produced.', parse: oneOf('producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd'), defaultValue: () => 'producer' },
  'min.insync.replicas': { doc: 'Accepted for Kafka tools; a single node is its own in-sync set.', parse: integer(1, INT32_MAX), defaultValue: () => '1' },
};

function invalidConfig(key: string, reason: string): BrokerError {
  return new BrokerError('TRIB_INVALID_CONFIG', `invalid config '${key}': ${reason}`);
}

/** Validates one config; returns the normalised value. Throws TRIB_INVALID_CONFIG naming the key. */
export function parseStreamConfig(key: string, value: unknown): string {
  const spec = Object.hasOwn(STREAM_CONFIGS, key) ? STREAM_CONFIGS[key] : undefined;
  if (spec === undefined) throw invalidConfig(key, 'unknown config');
  if (typeof value !== 'string') throw invalidConfig(key, 'value must be a string');
  try {
    return spec.parse(value);
  } catch (reason) {
    throw invalidConfig(key, String(reason));
  }
}

// --- names and subjects -------------------------------------------------------------------------------------

const STREAM_NAME = /^[a-zA-Z0-9._-]+$/;

export function isInternalStreamName(name: string): boolean {
  return name.startsWith('__');
}

/** Kafka's topic rules: [a-zA-Z0-9._-], 1..249 chars, not '.' or '..'; `__` names only when allowed. */
export function validateStreamName(name: string, allowInternal = false): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_STREAM_NAME_LENGTH) {
    throw new BrokerError('TRIB_INVALID_NAME', `stream name must be 1..${MAX_STREAM_NAME_LENGTH} characters`);
  }
  if (!STREAM_NAME.test(name) || name === '.' || name === '..') {
    throw new BrokerError('TRIB_INVALID_NAME', `stream name '${name}' may contain only a-z, A-Z, 0-9, '.', '_', '-' and may not be '.' or '..'`);
  }
  if (isInternalStreamName(name) && !allowInternal) {
    throw new BrokerError('TRIB_INVALID_NAME', `stream name '${name}' is reserved: names starting with '__' are internal`);
  }
}

/** Tokens separated by '.', none empty; '*' and '>' only as whole tokens; '>' only last. */
function isValidSubjectFilter(s: string): boolean {
  if (s.length === 0 || /\s/.test(s)) return false;
  const tokens = s.split('.');
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t === '') return false;
    if (t === '>' && i !== tokens.length - 1) return false;
    if (t.length > 1 && (t.includes('*') || t.includes('>'))) return false;
  }
  return true;
}

/** The subject a stream captures by default: its name, when that is a valid subject and not internal. */
function defaultSubjects(name: string): string[] {
  return !isInternalStreamName(name) && isValidSubjectFilter(name) ? [name] : [];
}

/**
 * Validates options into the definition that will be persisted. Pure: CreateTopics' validateOnly calls it.
 * Throws TRIB_INVALID_NAME, TRIB_INVALID_CONFIG (naming the key) or TRIB_SUBJECT_INVALID.
 */
export function resolveStreamDefinition(options: StreamOptions, allowInternal = false): StreamDefinition {
  validateStreamName(options.name, allowInternal);
  const partitions = options.partitions ?? 1;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw invalidConfig('partitions', `${partitions} is outside [1, ${MAX_PARTITIONS}]`);
  }
  const storage = options.storage ?? 'file';
  if (storage !== 'file' && storage !== 'memory') throw invalidConfig('storage', `'${String(storage)}' is not file or memory`);
  const subjects = options.subjects ?? defaultSubjects(options.name);
  for (const s of subjects) {
    if (typeof s !== 'string' || !isValidSubjectFilter(s)) throw new BrokerError('TRIB_SUBJECT_INVALID', `stream '${options.name}': '${String(s)}' is not a valid subject filter`);
  }

  const configs: { [key: string]: string } = {};
  const sugar: Array<[string, number | undefined]> = [
    ['max.message.bytes', options.maxMessageBytes],
    ['retention.ms', options.maxAgeMs],
    ['retention.bytes', options.maxBytes],
    ['retention.messages', options.maxMessages],
  ];
  for (const [key, value] of sugar) if (value !== undefined) configs[key] = parseStreamConfig(key, String(value));
  for (const [key, value] of Object.entries(options.configs ?? {})) {
    const normalised = parseStreamConfig(key, value);
    if (Object.hasOwn(configs, key) && configs[key] !== normalised) throw invalidConfig(key, `'${value}' conflicts with the typed option giving '${configs[key]}'`);
    configs[key] = normalised;
  }
  const retention = resolveRetention(options.retention, configs);
  return { name: options.name, partitions, subjects: [...new Set(subjects)], retention, storage, configs };
}

/** Keeps `retention` and `cleanup.policy` consistent (mutates configs to add cleanup.policy for 'compact'). */
function resolveRetention(requested: RetentionMode | undefined, configs: { [key: string]: string }): RetentionMode {
  if (requested !== undefined && requested !== 'limits' && requested !== 'workqueue' && requested !== 'compact') {
    throw invalidConfig('retention', `'${String(requested)}' is not limits, workqueue or compact`);
  }
  const policy = configs['cleanup.policy'];
  const compacting = policy !== undefined && policy.includes('compact');
  if (requested === 'compact') {
    if (policy === undefined) configs['cleanup.policy'] = 'compact';
    else if (!compacting) throw invalidConfig('cleanup.policy', `'${policy}' contradicts retention 'compact'`);
    return 'compact';
  }
  if (compacting) {
    if (requested !== undefined) throw invalidConfig('cleanup.policy', `'${policy}' contradicts retention '${requested}'`);
    return 'compact';
  }
  return requested ?? 'limits';
}

// --- message <-> record -------------------------------------------------------------------------------------

function isReservedHeader(key: string): boolean {
  return key === SUBJECT_HEADER || key === REPLY_TO_HEADER;
}

/**
 * The record a message is stored as in stream `streamName`: subject header only when the subject is not the
 * stream's name; reply header when there is a reply subject; headers the publisher set under those names are
 * dropped (they would lie about the subject).
 */
export function messageToRecord(streamName: string, message: Message): RecordInput {
  let headers = message.headers;
  if (headers.some((h) => isReservedHeader(h.key))) headers = headers.filter((h) => !isReservedHeader(h.key));
  const foreignSubject = message.subject !== streamName;
  if (foreignSubject || message.replyTo !== undefined) {
    headers = headers === message.headers ? headers.slice() : headers;
    if (foreignSubject) headers.push({ key: SUBJECT_HEADER, value: Buffer.from(message.subject, 'utf8') });
    if (message.replyTo !== undefined) headers.push({ key: REPLY_TO_HEADER, value: Buffer.from(message.replyTo, 'utf8') });
  }
  return { timestamp: message.timestamp, key: message.key, value: message.value, headers };
}

/** The message a stored record of stream `streamName` stands for (inverse of messageToRecord). */
export function recordToMessage(streamName: string, record: StoredRecord): Message {
  let subject = streamName;
  let replyTo: string | undefined;
  let headers: RecordHeader[] = record.headers;
  if (headers.some((h) => isReservedHeader(h.key))) {
    headers = [];
    for (const h of record.headers) {
      if (h.key === SUBJECT_HEADER && h.value !== null) subject = h.value.toString('utf8');
      else if (h.key === REPLY_TO_HEADER && h.value !== null) replyTo = h.value.toString('utf8');
      else if (!isReservedHeader(h.key)) headers.push(h);
    }
  }
  const message: Message = { subject, key: record.key, value: record.value, headers, timestamp: record.timestamp };
  if (replyTo !== undefined) message.replyTo = replyTo;
  return message;
}

/**
 * An upper bound of a record's encoded size: every varint at its widest. Used to refuse an oversized message
 * at publish time and to split a turn's records into batches under max.message.bytes without encoding twice.
 */
export function recordSizeBound(record: RecordInput): number {
  // length(5) attributes(1) timestampDelta(10) offsetDelta(5) keyLength(5) valueLength(5) headerCount(5)
  let size = 36 + (record.key?.length ?? 0) + (record.value?.length ?? 0);
  for (const h of record.headers ?? []) size += 10 + Buffer.byteLength(h.key) + (h.value?.length ?? 0);
  return size;
}

function toBrokerError(err: unknown): BrokerError {
  if (err instanceof BrokerError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && Object.hasOwn(ERROR_CODES, code)) {
    return new BrokerError(code as ErrorCode, (err as Error).message, { cause: err });
  }
  return new BrokerError('TRIB_STORAGE_IO', (err as Error)?.message ?? String(err), { cause: err });
}

// --- the stream ---------------------------------------------------------------------------------------------

interface Waiter {
  resolve(ack: PublishAck): void;
  reject(err: BrokerError): void;
}

/** Publishes waiting for this turn's flush, for one partition. */
interface PendingQueue {
  records: RecordInput[];
  sizes: number[];
  waiters: Waiter[];
}

export class Stream extends EventEmitter {
  readonly name: string;
  readonly internal: boolean;
  readonly storage: StorageKind;
  private _retention: RetentionMode;
  private readonly baseSubjects: string[];
  private configs: { [key: string]: string };
  private readonly logDefaults: LogConfig;
  private _logConfig: LogConfig;
  private readonly logs: Log[] = [];
  private readonly appendListeners: Array<(hw: number) => void> = [];
  private readonly factory: LogFactory;
  private readonly now: () => number;
  private readonly txnIndex: PartitionTxnIndex | undefined;

  private pending: Array<PendingQueue | undefined> = [];
  private flushScheduled: NodeJS.Immediate | null = null;
  /** Partition for this turn's unkeyed publishes; -1 until the first one (then fixed until the flush). */
  private stickyPartition = -1;
  private nextSticky = 0;
  /** Appends and trims in flight, so close() can wait for them. */
  private readonly inflight = new Set<Promise<unknown>>();
  /** Workqueue: each cursor's ack floor per partition. */
  private readonly floors = new Map<string, number[]>();
  private readonly trimDirty = new Set<number>();
  private trimScheduled: NodeJS.Immediate | null = null;
  private closed = false;

  private constructor(factory: LogFactory, def: StreamDefinition, deps: StreamDeps) {
    super();
    this.factory = factory;
    this.name = def.name;
    this.internal = isInternalStreamName(def.name);
    this.storage = def.storage;
    this._retention = def.retention;
    this.baseSubjects = def.subjects;
    this.configs = def.configs;
    this.logDefaults = { ...DEFAULT_LOG_CONFIG, ...deps.logDefaults };
    this._logConfig = this.buildLogConfig();
    this.now = deps.now ?? Date.now;
    this.txnIndex = deps.txnIndex;
  }

  /**
   * Creates the stream, or reopens it from its persisted definition (the factory creates missing logs and
   * opens existing ones). Throws TRIB_INVALID_NAME / TRIB_INVALID_CONFIG / TRIB_SUBJECT_INVALID.
   */
  static async open(factory: LogFactory, options: StreamOptions | StreamDefinition, deps: StreamDeps = {}): Promise<Stream> {
    const def = resolveStreamDefinition(options, deps.allowInternal ?? false);
    const stream = new Stream(factory, def, deps);
    await stream.openPartitions(def.partitions);
    return stream;
  }

  private async openPartitions(count: number): Promise<void> {
    const first = this.logs.length;
    const results = await Promise.allSettled(
      Array.from({ length: count }, (_, i) => this.factory.open(logName(this.name, first + i), { ...this._logConfig }, this.storage)),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(results.map((r) => (r.status === 'fulfilled' ? r.value.close().catch(() => undefined) : undefined)));
      throw toBrokerError((failed as PromiseRejectedResult).reason);
    }
    for (const r of results) {
      const log = (r as PromiseFulfilledResult<Log>).value;
      const partition = this.logs.length;
      const listener = (hw: number): void => {
        this.emit('append', partition, hw);
      };
      log.on('append', listener);
      this.logs.push(log);
      this.appendListeners.push(listener);
    }
  }

  // --- description ---

  get partitionCount(): number {
    return this.logs.length;
  }
  get retention(): RetentionMode {
    return this._retention;
  }
  /** Every subject filter the stream captures: the base list plus the `subjects` config. */
  get subjects(): string[] {
    const extra = this.configValue('subjects');
    return extra === '' ? [...this.baseSubjects] : [...new Set([...this.baseSubjects, ...extra.split(',')])];
  }
  get maxMessageBytes(): number {
    return this._logConfig.maxMessageBytes;
  }
  /** Per-partition record limit; -1 for none. */
  get maxMessages(): number {
    return Number(this.configValue('retention.messages'));
  }
  get logConfig(): Readonly<LogConfig> {
    return this._logConfig;
  }

  /** What to persist in the MetadataStore (kind 'stream'). */
  definition(): StreamDefinition {
    return {
      name: this.name,
      partitions: this.logs.length,
      subjects: [...this.baseSubjects],
      retention: this._retention,
      storage: this.storage,
      configs: { ...this.configs },
    };
  }

  /** The effective value of a config (explicit or default). */
  configValue(key: string): string {
    if (Object.hasOwn(this.configs, key)) return this.configs[key];
    const spec = STREAM_CONFIGS[key];
    if (spec === undefined) throw invalidConfig(key, 'unknown config');
    return spec.defaultValue(this.logDefaults);
  }

  /** Every config with its effective value (Kafka DescribeConfigs). */
  configEntries(): ConfigEntry[] {
    return Object.keys(STREAM_CONFIGS).map((name) => ({
      name,
      value: this.configValue(name),
      isDefault: !Object.hasOwn(this.configs, name),
      doc: STREAM_CONFIGS[name].doc,
    }));
  }

  /**
   * Sets (string) or resets to default (null) configs, all or nothing. Takes effect on the open logs at once
   * (they read their config on each operation). The caller persists `definition()` and re-reads `subjects`.
   */
  alterConfigs(changes: { [key: string]: string | null }): void {
    const next = { ...this.configs };
    for (const [key, value] of Object.entries(changes)) {
      if (value === null) {
        if (!Object.hasOwn(STREAM_CONFIGS, key)) throw invalidConfig(key, 'unknown config');
        delete next[key];
      } else {
        next[key] = parseStreamConfig(key, value);
      }
    }
    const policy = next['cleanup.policy'] ?? this.logDefaults.cleanupPolicy;
    let retention = this._retention;
    if (policy.includes('compact')) {
      if (retention === 'workqueue') throw invalidConfig('cleanup.policy', `'${policy}' contradicts retention 'workqueue'`);
      retention = 'compact';
    } else if (retention === 'compact') {
      retention = 'limits';
    }
    this.configs = next;
    this._retention = retention;
    this._logConfig = this.buildLogConfig();
    for (const log of this.logs) Object.assign(log.config, this._logConfig);
  }

  private buildLogConfig(): LogConfig {
    const v = (key: string): string => this.configValue(key);
    return {
      ...this.logDefaults,
      retentionMs: Number(v('retention.ms')),
      retentionBytes: Number(v('retention.bytes')),
      cleanupPolicy: v('cleanup.policy') as CleanupPolicy,
      segmentBytes: Number(v('segment.bytes')),
      segmentMs: Number(v('segment.ms')),
      maxMessageBytes: Number(v('max.message.bytes')),
      deleteRetentionMs: Number(v('delete.retention.ms')),
      indexIntervalBytes: Number(v('index.interval.bytes')),
      fsync: v('fsync') as FsyncPolicy,
      fsyncIntervalMs: Number(v('fsync.interval.ms')),
      visibility: v('visibility') as LogVisibility,
    };
  }

  private get logAppendTime(): boolean {
    return Object.hasOwn(this.configs, 'message.timestamp.type') && this.configs['message.timestamp.type'] === 'LogAppendTime';
  }

  private logFor(partition: number): Log {
    const log = Number.isInteger(partition) ? this.logs[partition] : undefined;
    if (log === undefined) throw new BrokerError('TRIB_PARTITION_NOT_FOUND', `stream '${this.name}' has no partition ${partition} (it has ${this.logs.length})`);
    return log;
  }

  /** The partition's log, for cursors and fetch paths that read directly. */
  partitionLog(partition: number): Log {
    return this.logFor(partition);
  }

  private assertOpen(): void {
    if (this.closed) throw new BrokerError('TRIB_LOG_CLOSED', `stream '${this.name}' is closed`);
  }

  // --- write side ---

  /**
   * Kafka produce: appends the producer's record batch(es) to a partition, bytes as received, and refuses a
   * batch over max.message.bytes. Every Log validates length, magic and CRC-32C on append, so one batch (the
   * usual case) is checked there only once; several batches in one buffer are all validated here first, so a
   * bad one appends none of them. With LogAppendTime the batch's timestamp type and maxTimestamp are set to
   * the broker's time (CRC validated, then recomputed), as Kafka does.
   * Throws TRIB_PARTITION_NOT_FOUND, TRIB_CORRUPT_RECORD, TRIB_MESSAGE_TOO_LARGE, TRIB_LOG_CLOSED.
   * Emits `'produced' (partition, batches)` after the append unless `options.live` is false.
   */
  async appendBatch(partition: number, input: Buffer | ByteChunks, options: { live?: boolean } = {}): Promise<AppendResult> {
    this.assertOpen();
    const log = this.logFor(partition);
    const corrupt = (reason: string, cause?: unknown): BrokerError =>
      new BrokerError('TRIB_CORRUPT_RECORD', `stream '${this.name}' partition ${partition}: ${reason}`, { cause });
    const tooLarge = (size: number): BrokerError =>
      new BrokerError('TRIB_MESSAGE_TOO_LARGE', `batch of ${size} bytes exceeds max.message.bytes ${this._logConfig.maxMessageBytes} of stream '${this.name}'`);
    // Records that came as socket reads (ByteChunks) stay pieces when they hold one batch (what every v3+
    // producer sends) and LogAppendTime need not rewrite them; otherwise they are joined, off the fast path.
    let records = input;
    if (records instanceof ByteChunks && (this.logAppendTime || records.length < BATCH_HEADER_SIZE || batchSizeAt(records) !== records.length)) records = records.join();
    const batches: Array<Buffer | ByteChunks> = [];
    if (records instanceof ByteChunks) {
      if (records.length > this._logConfig.maxMessageBytes) throw tooLarge(records.length);
      // The log patches the base offset into the first piece; with the header there, 'produced' sees it too.
      batches.push(records.withHead(BATCH_HEADER_SIZE));
    } else {
      let pos = 0;
      do {
        if (records.length - pos < BATCH_HEADER_SIZE) throw corrupt(`${records.length - pos} bytes at ${pos} are shorter than a batch header`);
        const size = batchSizeAt(records, pos);
        if (size < BATCH_HEADER_SIZE || size > records.length - pos) throw corrupt(`batch length ${size} at ${pos} does not fit ${records.length - pos} bytes`);
        if (size > this._logConfig.maxMessageBytes) throw tooLarge(size);
        batches.push(records.length === size ? records : records.subarray(pos, pos + size));
        pos += size;
      } while (pos < records.length);
    }
    const logAppendTime = this.logAppendTime;
    if (batches.length > 1 || logAppendTime) {
      for (const b of batches) {
        try {
          validateBatch(b);
        } catch (err) {
          throw corrupt((err as Error).message, err);
        }
      }
    }
    if (logAppendTime) {
      const now = this.now();
      // Joined above: with LogAppendTime no batch is ByteChunks.
      for (const b of batches as Buffer[]) {
        b.writeInt16BE(b.readInt16BE(OFFSET_ATTRIBUTES) | ATTR_TIMESTAMP_TYPE_LOG_APPEND, OFFSET_ATTRIBUTES);
        writeInt64(b, OFFSET_MAX_TIMESTAMP, now);
        updateBatchCrc(b);
      }
    }
    let results: AppendResult[];
    try {
      // Issue every append before awaiting any: the log assigns offsets in call order and commits them together.
      const done = Promise.all(batches.map((b) => log.append(b)));
      this.track(done);
      results = await done;
    } catch (err) {
      throw toBrokerError(err);
    }
    this.markTrimAfterAppend(partition);
    if (options.live !== false && this.listenerCount('produced') > 0) this.emit('produced', partition, batches);
    const last = results[results.length - 1];
    return { baseOffset: results[0].baseOffset, lastOffset: last.lastOffset, logAppendTime: last.logAppendTime };
  }

  /** The partition Kafka's default partitioner gives `key` (null: this turn's sticky partition). */
  partitionFor(key: Buffer | null): number {
    const n = this.logs.length;
    if (key !== null) return toPositive(murmur2(key)) % n;
    if (this.stickyPartition < 0 || this.stickyPartition >= n) {
      this.stickyPartition = this.nextSticky % n;
      this.nextSticky = (this.nextSticky + 1) % n;
    }
    return this.stickyPartition;
  }

  /**
   * Appends a message from any protocol. `partition` overrides the partitioner. Resolves once the batch it
   * went into is acknowledged by the log. Rejects with TRIB_MESSAGE_TOO_LARGE, TRIB_PARTITION_NOT_FOUND,
   * TRIB_LOG_CLOSED or the log's failure (as a BrokerError).
   */
  publish(message: Message, partition?: number): Promise<PublishAck> {
    try {
      this.assertOpen();
      const p = partition === undefined ? this.partitionFor(message.key) : partition;
      this.logFor(p);
      const record = messageToRecord(this.name, message);
      const size = recordSizeBound(record);
      if (BATCH_HEADER_SIZE + size > this._logConfig.maxMessageBytes) {
        throw new BrokerError('TRIB_MESSAGE_TOO_LARGE', `message of up to ${size} bytes exceeds max.message.bytes ${this._logConfig.maxMessageBytes} of stream '${this.name}'`);
      }
      let q = this.pending[p];
      if (q === undefined) {
        q = { records: [], sizes: [], waiters: [] };
        this.pending[p] = q;
      }
      const queue = q;
      queue.records.push(record);
      queue.sizes.push(size);
      if (this.flushScheduled === null) this.flushScheduled = setImmediate(() => this.flushPending());
      return new Promise<PublishAck>((resolve, reject) => {
        queue.waiters.push({ resolve, reject });
      });
    } catch (err) {
      return Promise.reject(toBrokerError(err));
    }
  }

  /**
   * The Router's capture target: a message whose subject matches one of `subjects` is published here.
   * Same promise as publish(), but already marked handled: a router that fans out without awaiting (at-most-
   * once publishers) must not turn a full or closed stream into an unhandledRejection that kills the broker.
   * A caller that awaits it (for a publisher ack) still sees the rejection.
   */
  capture(message: Message): Promise<PublishAck> {
    const ack = this.publish(message);
    ack.catch(() => undefined);
    return ack;
  }

  /** Encodes and appends every queued publish: one batch per partition (split only at max.message.bytes). */
  private flushPending(): void {
    this.flushScheduled = null;
    this.stickyPartition = -1;
    const max = this._logConfig.maxMessageBytes;
    for (let p = 0; p < this.pending.length; p++) {
      const q = this.pending[p];
      if (q === undefined) continue;
      this.pending[p] = undefined;
      let start = 0;
      let bytes = BATCH_HEADER_SIZE;
      for (let i = 0; i < q.records.length; i++) {
        if (i > start && bytes + q.sizes[i] > max) {
          this.appendChunk(p, q, start, i);
          start = i;
          bytes = BATCH_HEADER_SIZE;
        }
        bytes += q.sizes[i];
      }
      this.appendChunk(p, q, start, q.records.length);
    }
  }

  private appendChunk(partition: number, q: PendingQueue, start: number, end: number): void {
    const whole = start === 0 && end === q.records.length;
    const records = whole ? q.records : q.records.slice(start, end);
    const waiters = whole ? q.waiters : q.waiters.slice(start, end);
    let batch: Buffer;
    try {
      if (this.logAppendTime) {
        const now = this.now();
        for (const r of records) r.timestamp = now;
        batch = encodeRecordBatch(records, { attributes: ATTR_TIMESTAMP_TYPE_LOG_APPEND }, now);
      } else {
        batch = encodeRecordBatch(records, {}, this.now());
      }
    } catch (err) {
      const e = toBrokerError(err);
      for (const w of waiters) w.reject(e);
      return;
    }
    let appended: Promise<AppendResult>;
    try {
      appended = this.logs[partition].append(batch);
    } catch (err) {
      // A log may throw synchronously (closed); this runs in setImmediate, where a throw would crash the broker.
      const e = toBrokerError(err);
      for (const w of waiters) w.reject(e);
      return;
    }
    const done = appended.then(
      (result) => {
        for (let i = 0; i < waiters.length; i++) waiters[i].resolve({ partition, offset: result.baseOffset + i });
        this.markTrimAfterAppend(partition);
      },
      (err: unknown) => {
        const e = toBrokerError(err);
        for (const w of waiters) w.reject(e);
      },
    );
    this.track(done);
  }

  private track(p: Promise<unknown>): void {
    const forget = (): void => {
      this.inflight.delete(settled);
    };
    const settled: Promise<void> = p.then(forget, forget);
    this.inflight.add(settled);
  }

  // --- workqueue and count trimming ---

  /**
   * Workqueue streams: cursor `cursor` has acknowledged everything below `floor` in `partition`. Records
   * below the lowest floor of all registered cursors are deleted (coalesced, once per event-loop turn).
   * Ignored by other retention modes.
   */
  setAckFloor(partition: number, floor: number, cursor = 'default'): void {
    this.logFor(partition);
    let list = this.floors.get(cursor);
    if (list === undefined) {
      list = [];
      this.floors.set(cursor, list);
    }
    list[partition] = floor;
    this.markTrim(partition);
  }

  /** Forgets a cursor's floors (cursor deleted); the remaining cursors decide what is deleted. */
  removeCursor(cursor: string): void {
    if (this.floors.delete(cursor)) for (let p = 0; p < this.logs.length; p++) this.markTrim(p);
  }

  /** Lowest ack floor of all cursors for `partition`; -1 when no cursor reported one. */
  ackFloor(partition: number): number {
    if (this.floors.size === 0) return -1;
    let min = Infinity;
    for (const list of this.floors.values()) min = Math.min(min, list[partition] ?? 0);
    return min;
  }

  /** Where the partition's start offset should be by count limit and workqueue floors. */
  private trimTarget(partition: number): number {
    const log = this.logs[partition];
    let target = log.startOffset;
    const maxMessages = this.maxMessages;
    if (maxMessages >= 0) target = Math.max(target, log.endOffset - maxMessages);
    if (this._retention === 'workqueue') target = Math.max(target, this.ackFloor(partition));
    return Math.min(target, log.highWatermark);
  }

  /**
   * An append moves only a count limit's target. A workqueue's floors move with acks, which mark the partition
   * themselves (setAckFloor), so its appends schedule nothing: no immediate and no trim pass per message.
   */
  private markTrimAfterAppend(partition: number): void {
    if (this.maxMessages >= 0) this.markTrim(partition);
  }

  private markTrim(partition: number): void {
    if (this._retention !== 'workqueue' && this.maxMessages < 0) return;
    this.trimDirty.add(partition);
    if (this.trimScheduled === null && !this.closed) this.trimScheduled = setImmediate(() => void this.runTrims().catch(() => undefined));
  }

  private async runTrims(): Promise<number> {
    this.trimScheduled = null;
    const partitions = [...this.trimDirty];
    this.trimDirty.clear();
    let trimmed = 0;
    for (const p of partitions) {
      const log = this.logs[p];
      const target = this.trimTarget(p);
      if (target <= log.startOffset) continue;
      let done: Promise<number>;
      try {
        done = log.deleteRecords(target);
      } catch {
        continue; // closed underneath us: nothing to trim any more
      }
      this.track(done);
      // A failing delete (log closing) is retried at the next tick; records are merely kept longer.
      await done.then(() => trimmed++, () => undefined);
    }
    return trimmed;
  }

  // --- read side ---

  /** Whole batches from the one containing `offset` (Log.read semantics). */
  async read(partition: number, offset: number, maxBytes: number): Promise<ReadResult> {
    const log = this.logFor(partition);
    try {
      return await log.read(offset, maxBytes);
    } catch (err) {
      throw toBrokerError(err);
    }
  }

  /**
   * Decoded committed messages at or after `offset` (read_committed, for readers outside Kafka: the HTTP records
   * route and event stream): never a record of an aborted Kafka transaction, nor one at or past the last stable
   * offset, nor a control batch. Reads on past chunks holding no message (markers, aborted transactions) so that
   * an empty answer means nothing committed is readable from `offset` now: see lastStableOffset(). Never waits.
   */
  async readMessages(partition: number, offset: number, maxBytes: number): Promise<StoredMessage[]> {
    const log = this.logFor(partition);
    const out: StoredMessage[] = [];
    for (let from = offset; ; ) {
      let records: Buffer;
      try {
        records = this.txnIndex === undefined ? (await log.read(from, maxBytes)).records : (await readCommitted(log, this, partition, this.txnIndex, from, maxBytes)).records;
      } catch (err) {
        throw toBrokerError(err);
      }
      let next = from;
      for (const { position } of iterateBatches(records)) {
        const last = batchLastOffset(records, position);
        if (last >= next) next = last + 1;
        if (last < offset) continue;
        // Markers, and the record-less stand-ins readCommitted puts where an aborted transaction's batches were.
        if ((records.readInt16BE(position + OFFSET_ATTRIBUTES) & ATTR_CONTROL) !== 0) continue;
        for (const rec of decodeRecordBatch(records, position)) {
          // The first batch may start before `offset`, and deleteRecords may cut inside a batch.
          if (rec.offset >= offset) out.push({ partition, offset: rec.offset, message: recordToMessage(this.name, rec) });
        }
      }
      if (out.length > 0 || next <= from) return out;
      from = next;
    }
  }

  /**
   * Where committed reads of `partition` stop now: the first offset of its oldest open Kafka transaction, else the
   * high watermark. Builds the partition's transaction index first if nothing has since the start.
   */
  async lastStableOffset(partition: number): Promise<number> {
    const log = this.logFor(partition);
    if (this.txnIndex === undefined) return log.highWatermark;
    return (await this.txnIndex.ensure(this, partition)).lastStableOffset(log.highWatermark);
  }

  offsets(partition: number): PartitionOffsets {
    const log = this.logFor(partition);
    return { startOffset: log.startOffset, endOffset: log.endOffset, highWatermark: log.highWatermark };
  }

  /**
   * Kafka DeleteRecords: makes records before `beforeOffset` unreadable (-1 = the high watermark); durable before
   * it resolves with the new start offset. Throws TRIB_OFFSET_OUT_OF_RANGE beyond the high watermark.
   */
  async deleteRecords(partition: number, beforeOffset: number): Promise<number> {
    const log = this.logFor(partition);
    const target = beforeOffset === -1 ? log.highWatermark : beforeOffset;
    if (target < 0 || target > log.highWatermark) {
      throw new BrokerError('TRIB_OFFSET_OUT_OF_RANGE', `stream '${this.name}' partition ${partition}: offset ${beforeOffset} is beyond the high watermark ${log.highWatermark}`);
    }
    try {
      return await log.deleteRecords(target);
    } catch (err) {
      throw toBrokerError(err);
    }
  }

  async offsetForTimestamp(partition: number, timestamp: number): Promise<{ offset: number; timestamp: number } | null> {
    return this.logFor(partition).offsetForTimestamp(timestamp);
  }

  // --- lifecycle ---

  /**
   * Applies retention now to every partition: age/bytes (unless cleanup.policy is compact only), the count
   * limit, workqueue floors, then compaction where the log supports it. Returns segments/trims done.
   */
  async enforceRetention(now = this.now()): Promise<number> {
    this.assertOpen();
    const policy = this._logConfig.cleanupPolicy;
    let done = 0;
    for (let p = 0; p < this.logs.length; p++) {
      const log = this.logs[p];
      // MemoryLog does not look at cleanupPolicy: a compact-only stream must never lose data to age or size.
      if (policy.includes('delete')) done += await log.enforceRetention(now);
      this.trimDirty.add(p);
    }
    done += await this.runTrims();
    if (policy.includes('compact')) {
      for (const log of this.logs) if (isCompactable(log)) await log.compact(now);
    }
    return done;
  }

  /** Adds `count` partitions (Kafka CreatePartitions passes newTotal - partitionCount). Returns the new total. */
  async addPartitions(count: number): Promise<number> {
    this.assertOpen();
    if (!Number.isInteger(count) || count < 1 || this.logs.length + count > MAX_PARTITIONS) {
      throw invalidConfig('partitions', `cannot add ${count} partitions to ${this.logs.length} (limit ${MAX_PARTITIONS})`);
    }
    await this.openPartitions(count);
    return this.logs.length;
  }

  /** Flushes queued publishes, waits for appends in flight, closes the logs. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.flushScheduled !== null) {
      clearImmediate(this.flushScheduled);
      this.flushPending();
    }
    this.closed = true;
    if (this.trimScheduled !== null) {
      clearImmediate(this.trimScheduled);
      this.trimScheduled = null;
    }
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
    this.logs.forEach((log, i) => log.off('append', this.appendListeners[i]));
    await Promise.all(this.logs.map((log) => log.close()));
  }

  /** Closes the stream and removes its data from the factory. The caller deletes the metadata record first. */
  async delete(): Promise<void> {
    await this.close();
    for (let p = 0; p < this.logs.length; p++) await this.factory.remove(logName(this.name, p));
  }
}

function writeInt64(buf: Buffer, pos: number, value: number): void {
  const hi = Math.floor(value / 0x100000000);
  buf.writeInt32BE(hi, pos);
  buf.writeUInt32BE(value - hi * 0x100000000, pos + 4);
}
