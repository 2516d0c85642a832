/**
 * MetadataStore: the broker's durable state — streams and their configs, exchanges and bindings, queues,
 * cursor definitions, users, ACLs — kept in the internal compacted log `__metadata/0` and replayed at boot
 * into in-memory maps that every read is served from.
 *
 * Record format (one record per change):
 *   key   = UTF-8 `<kind>/<name>`; the kind is everything before the first '/', the name may contain '/'.
 *   value = UTF-8 JSON of the entry, or null: a tombstone (the entry was deleted).
 *   The reserved key `_format/version` holds {"version": N}; written first into an empty log.
 * Compaction (newest record per key) therefore keeps exactly the current state, and replay is last-wins.
 *
 * Invariants:
 * - `put`/`delete` resolve only after the log acknowledged the append (durable under the log's fsync policy,
 *   `always` by default); the in-memory map changes at that moment, so a reader never sees state a crash
 *   could take back. Writes to the same key are applied in call order (the log assigns offsets in call order).
 * - Forward compatibility: kinds this version does not know are replayed and kept (list/get/dump show them)
 *   and otherwise ignored. A format version newer than FORMAT_VERSION refuses to boot
 *   (TRIB_DATA_DIR_INCOMPATIBLE) rather than misread state.
 * - A record whose value is not valid JSON is skipped with a warning naming its offset; replay continues
 *   (losing one entry is better than a broker that cannot boot; the warning makes it visible).
 *
 * Crash behaviour: an append torn by a crash is truncated by the log's recovery and was never acknowledged,
 * so replay after a crash yields exactly the acknowledged changes.
 *
 * Events: 'change' (kind, name, value | null) after each applied put/delete (not during replay).
 */
import { EventEmitter } from 'node:events';
import { BrokerError } from './broker-error.js';
import { type LogFactory, type StorageKind } from './log-factory.js';
import { DEFAULT_LOG_CONFIG, type Log, type LogConfig } from '../storage/log.js';
import { ATTR_CONTROL, OFFSET_ATTRIBUTES, batchLastOffset, decodeRecordBatch, iterateBatches } from '../storage/record-batch.js';
import type { StreamDefinition } from './stream.js';
import type { UserRecord } from './users/user-store.js';
import type { AclEntry } from './authorizer.js';

export const METADATA_LOG_NAME = '__metadata/0';
export const FORMAT_VERSION = 1;
const FORMAT_KEY = '_format/version';
/** Bytes per replay read: a bound on memory at boot, not on entry size (a read returns at least one batch). */
const REPLAY_READ_BYTES = 1024 * 1024;

/** The metadata log's config: compacted, never deleted by age or size, fsync before acknowledging. */
export const METADATA_LOG_CONFIG: LogConfig = {
  ...DEFAULT_LOG_CONFIG,
  cleanupPolicy: 'compact',
  retentionMs: -1,
  retentionBytes: -1,
  fsync: 'always',
  segmentBytes: 16 * 1024 * 1024,
  maxMessageBytes: 16 * 1024 * 1024,
};

/**
 * Value types of the kinds the core knows. Other modules add theirs by declaration merging:
 *   declare module '../core/metadata.js' { interface MetadataKinds { exchange: ExchangeDefinition } }
 */
export interface MetadataKinds {
  stream: StreamDefinition;
  user: UserRecord;
  acl: AclEntry;
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface MetadataLogger {
  warn(obj: object, msg: string): void;
}

export interface MetadataStoreOptions {
  /** Storage of the metadata log; 'file' except in tests or a deliberately ephemeral broker. */
  storage?: StorageKind;
  logger?: MetadataLogger;
  /** Overrides of METADATA_LOG_CONFIG (fsync policy from the broker config, for instance). */
  logConfig?: Partial<LogConfig>;
}

const KIND = /^[a-z_][a-z0-9_-]*$/;

function checkKey(kind: string, name: string): string {
  if (!KIND.test(kind) || kind === '_format') throw new BrokerError('TRIB_INVALID_NAME', `metadata kind '${kind}' is not [a-z_][a-z0-9_-]*`);
  if (typeof name !== 'string' || name.length === 0) throw new BrokerError('TRIB_INVALID_NAME', `metadata ${kind} name must be a non-empty string`);
  return `${kind}/${name}`;
}

export class MetadataStore extends EventEmitter {
  private readonly entries = new Map<string, Map<string, unknown>>();
  private _formatVersion = 0;
  private closed = false;

  private constructor(
    readonly log: Log,
    private readonly logger: MetadataLogger | undefined,
  ) {
    super();
  }

  /** Opens `__metadata/0` from the factory and replays it. */
  static async open(factory: LogFactory, options: MetadataStoreOptions = {}): Promise<MetadataStore> {
    const log = await factory.open(METADATA_LOG_NAME, { ...METADATA_LOG_CONFIG, ...options.logConfig }, options.storage ?? 'file');
    try {
      return await MetadataStore.fromLog(log, options.logger);
    } catch (err) {
      await log.close().catch(() => undefined);
      throw err;
    }
  }

  /** Replays an already open log (tests, or a caller that manages the log itself). */
  static async fromLog(log: Log, logger?: MetadataLogger): Promise<MetadataStore> {
    const store = new MetadataStore(log, logger);
    await store.replay();
    if (store._formatVersion === 0) {
      if (log.highWatermark > log.startOffset) {
        // State written before format records existed would be version 1; there is no older format.
        store._formatVersion = 1;
      } else {
        await log.appendRecords([{ key: Buffer.from(FORMAT_KEY), value: Buffer.from(JSON.stringify({ version: FORMAT_VERSION })) }]);
        store._formatVersion = FORMAT_VERSION;
      }
    }
    return store;
  }

  /** The data format version found (or written) at open. */
  get formatVersion(): number {
    return this._formatVersion;
  }

  private async replay(): Promise<void> {
    let offset = this.log.startOffset;
    while (offset < this.log.highWatermark) {
      const { records } = await this.log.read(offset, REPLAY_READ_BYTES);
      let next = offset;
      for (const { position } of iterateBatches(records)) {
        const last = batchLastOffset(records, position);
        if (last < offset) continue;
        next = last + 1;
        if ((records.readInt16BE(position + OFFSET_ATTRIBUTES) & ATTR_CONTROL) !== 0) continue;
        for (const rec of decodeRecordBatch(records, position)) {
          if (rec.offset < offset || rec.key === null) continue;
          this.applyRecord(rec.offset, rec.key.toString('utf8'), rec.value);
        }
      }
      if (next === offset) {
        throw new BrokerError('TRIB_CORRUPT_RECORD', `metadata replay made no progress at offset ${offset}`);
      }
      offset = next;
    }
  }

  private applyRecord(offset: number, key: string, value: Buffer | null): void {
    const slash = key.indexOf('/');
    if (slash <= 0) {
      this.logger?.warn({ offset, key }, 'metadata: record key is not <kind>/<name>; skipped');
      return;
    }
    let parsed: unknown = null;
    if (value !== null) {
      try {
        parsed = JSON.parse(value.toString('utf8'));
      } catch (err) {
        this.logger?.warn({ offset, key, err: (err as Error).message }, 'metadata: record value is not JSON; skipped');
        return;
      }
    }
    if (key === FORMAT_KEY) {
      const version = (parsed as { version?: unknown } | null)?.version;
      if (typeof version !== 'number' || version > FORMAT_VERSION) {
        throw new BrokerError('TRIB_DATA_DIR_INCOMPATIBLE', `metadata format version ${String(version)} is newer than this broker's ${FORMAT_VERSION}`);
      }
      this._formatVersion = version;
      return;
    }
    this.apply(key.slice(0, slash), key.slice(slash + 1), value === null ? undefined : parsed);
  }

  private apply(kind: string, name: string, value: unknown): void {
    let map = this.entries.get(kind);
    if (value === undefined) {
      map?.delete(name);
      if (map?.size === 0) this.entries.delete(kind);
      return;
    }
    if (map === undefined) {
      map = new Map();
      this.entries.set(kind, map);
    }
    map.set(name, value);
  }

  /**
   * Writes an entry; resolves once durable. The value must be JSON-serialisable; it is stored as a deep copy
   * (what JSON.parse(JSON.stringify(value)) gives), so later mutation of the caller's object changes nothing.
   */
  put<K extends keyof MetadataKinds>(kind: K, name: string, value: MetadataKinds[K]): Promise<void>;
  put(kind: string, name: string, value: unknown): Promise<void>;
  async put(kind: string, name: string, value: unknown): Promise<void> {
    const key = checkKey(kind, name);
    if (value === undefined || value === null) throw new BrokerError('TRIB_INVALID_CONFIG', `metadata ${key}: value must not be null (use delete)`);
    const json = JSON.stringify(value);
    await this.append(key, Buffer.from(json, 'utf8'));
    const copy: unknown = JSON.parse(json);
    this.apply(kind, name, copy);
    this.emit('change', kind, name, copy);
  }

  /** Writes a tombstone; resolves once durable. Deleting a missing entry still writes (idempotent). */
  async delete(kind: string, name: string): Promise<void> {
    const key = checkKey(kind, name);
    await this.append(key, null);
    this.apply(kind, name, undefined);
    this.emit('change', kind, name, null);
  }

  private async append(key: string, value: Buffer | null): Promise<void> {
    if (this.closed) throw new BrokerError('TRIB_LOG_CLOSED', 'metadata store is closed');
    await this.log.appendRecords([{ key: Buffer.from(key, 'utf8'), value }]);
  }

  get<K extends keyof MetadataKinds>(kind: K, name: string): MetadataKinds[K] | undefined;
  get(kind: string, name: string): unknown;
  get(kind: string, name: string): unknown {
    return this.entries.get(kind)?.get(name);
  }

  has(kind: string, name: string): boolean {
    return this.entries.get(kind)?.has(name) ?? false;
  }

  /** Entries of one kind, sorted by name. Values are the store's own objects: do not mutate them. */
  list<K extends keyof MetadataKinds>(kind: K): Array<{ name: string; value: MetadataKinds[K] }>;
  list(kind: string): Array<{ name: string; value: unknown }>;
  list(kind: string): Array<{ name: string; value: unknown }> {
    const map = this.entries.get(kind);
    if (map === undefined) return [];
    return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, value]) => ({ name, value }));
  }

  /** Every kind present, known or not, sorted. */
  kinds(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** The whole state as plain objects (kind -> name -> value), sorted; for tests, backups and the console. */
  dump(): { [kind: string]: { [name: string]: unknown } } {
    const out: { [kind: string]: { [name: string]: unknown } } = {};
    for (const kind of this.kinds()) {
      out[kind] = {};
      for (const { name, value } of this.list(kind)) out[kind][name] = value;
    }
    return out;
  }

  /** Closes the log. Later writes reject with TRIB_LOG_CLOSED; reads keep answering from memory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.log.close();
  }
}
