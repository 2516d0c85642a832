/**
 * LogFactory: how the core gets a partition `Log` without knowing whether it is file-backed or in memory.
 * Stream and MetadataStore are written against this interface only; the server picks the factory.
 *
 * Names: a log is named `<stream>/<partition>` (`orders/0`, `__metadata/0`). The stream part follows the
 * stream naming rules (stream.ts); the partition part is a non-negative decimal integer. Any other shape is
 * refused with TRIB_INVALID_NAME here, so a hostile name can never reach a path join (no `..`, no `/`).
 *
 * Factories:
 * - FileLogFactory(dataDir): `file` logs are PartitionLogs in `<dataDir>/streams/<stream>/<partition>`;
 *   `memory` logs are fresh MemoryLogs (nothing survives a restart, by design).
 * - MemoryLogFactory: everything in memory. A `file` log is kept by the factory across close()/open() so that
 *   tests can "restart" a component over the same data (the factory's lifetime plays the disk's); a `memory`
 *   log is forgotten when closed, as a real memory stream is forgotten at shutdown.
 *
 * Crash behaviour: remove() of a file log deletes the directory recursively; a crash part-way leaves a
 * partial directory that the next open() recovers as a (shorter) log, so callers delete the metadata record
 * first and the directory second (an orphan directory is harmless; a stream without data is not).
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs/promises';
import path from 'node:path';
import { BrokerError } from './broker-error.js';
import { MemoryLog } from '../storage/memory-log.js';
import { PartitionLog, type PartitionLogOptions } from '../storage/partition-log.js';
import type { AppendResult, Log, LogConfig, ReadResult } from '../storage/log.js';
import type { RecordInput } from '../storage/record-batch.js';

export type StorageKind = 'file' | 'memory';

export interface LogFactory {
  /**
   * Opens the log `name` (`<stream>/<partition>`), creating it if it does not exist. Opening a log that is
   * already open is a caller bug; the result is undefined.
   */
  open(name: string, config: LogConfig, storage: StorageKind): Promise<Log>;
  /** Deletes the log's data. The log must be closed first. Removing a missing log is not an error. */
  remove(name: string): Promise<void>;
}

/** A log that can compact itself (cleanup.policy=compact); PartitionLog is one. */
export interface CompactableLog extends Log {
  compact(now?: number): Promise<unknown>;
}

export function isCompactable(log: Log): log is CompactableLog {
  return typeof (log as Partial<CompactableLog>).compact === 'function';
}

const STREAM_PART = /^[a-zA-Z0-9._-]{1,249}$/;
const PARTITION_PART = /^(0|[1-9][0-9]{0,8})$/;

/** Splits and checks a log name; throws TRIB_INVALID_NAME. */
export function parseLogName(name: string): { stream: string; partition: number } {
  const slash = name.lastIndexOf('/');
  const stream = name.slice(0, slash);
  const partition = name.slice(slash + 1);
  if (slash < 0 || !STREAM_PART.test(stream) || stream === '.' || stream === '..' || !PARTITION_PART.test(partition)) {
    throw new BrokerError('TRIB_INVALID_NAME', `log name '${name}' is not <stream>/<partition>`);
  }
  return { stream, partition: Number(partition) };
}

export function logName(stream: string, partition: number): string {
  return `${stream}/${partition}`;
}

/** Directory of a file log under `dataDir`. */
export function logDirectory(dataDir: string, name: string): string {
  const { stream, partition } = parseLogName(name);
  return path.join(dataDir, 'streams', stream, String(partition));
}

export class FileLogFactory implements LogFactory {
  constructor(
    readonly dataDir: string,
    private readonly options: PartitionLogOptions = {},
  ) {}

  async open(name: string, config: LogConfig, storage: StorageKind): Promise<Log> {
    const dir = logDirectory(this.dataDir, name);
    if (storage === 'memory') return new MemoryLog(config);
    await fs.mkdir(dir, { recursive: true });
    return PartitionLog.open(dir, config, this.options);
  }

  async remove(name: string): Promise<void> {
    const dir = logDirectory(this.dataDir, name);
    await fs.rm(dir, { recursive: true, force: true });
    // Drop the stream directory once its last partition is gone; ignore "not empty" (other partitions remain).
    await fs.rmdir(path.dirname(dir)).catch(() => undefined);
  }
}

export class MemoryLogFactory implements LogFactory {
  /** `file` logs, kept across close/open for the factory's lifetime (the simulated disk). */
  private readonly kept = new Map<string, MemoryLog>();

  async open(name: string, config: LogConfig, storage: StorageKind): Promise<Log> {
    parseLogName(name);
    if (storage === 'memory') return new MemoryLog(config);
    let log = this.kept.get(name);
    if (log === undefined) {
      log = new MemoryLog(config);
      this.kept.set(name, log);
    } else {
      // A reopen may carry a changed config (alterConfigs then restart), as a PartitionLog's would.
      Object.assign(log.config, config);
    }
    return new MemoryLogHandle(log);
  }

  async remove(name: string): Promise<void> {
    this.kept.delete(name);
  }

  /** Names of the `file` logs the factory holds (for tests). */
  names(): string[] {
    return [...this.kept.keys()].sort();
  }
}

/**
 * An open handle on a kept MemoryLog: closing it closes the handle, not the data, so the next open() sees
 * the same records and offsets, as a reopened PartitionLog would.
 */
class MemoryLogHandle extends EventEmitter implements Log {
  private closed = false;
  private readonly forward = (hw: number): void => {
    this.emit('append', hw);
  };

  constructor(private readonly inner: MemoryLog) {
    super();
    inner.on('append', this.forward);
  }

  get startOffset(): number {
    return this.inner.startOffset;
  }
  get endOffset(): number {
    return this.inner.endOffset;
  }
  get highWatermark(): number {
    return this.inner.highWatermark;
  }
  get config(): LogConfig {
    return this.inner.config;
  }
  get sizeBytes(): number {
    return this.inner.sizeBytes;
  }

  private assertOpen(): void {
    if (this.closed) throw new BrokerError('TRIB_LOG_CLOSED', 'log is closed');
  }

  async append(batch: Buffer): Promise<AppendResult> {
    this.assertOpen();
    return this.inner.append(batch);
  }
  async appendRecords(records: readonly RecordInput[]): Promise<AppendResult> {
    this.assertOpen();
    return this.inner.appendRecords(records);
  }
  read(offset: number, maxBytes: number): Promise<ReadResult> {
    return this.inner.read(offset, maxBytes);
  }
  offsetForTimestamp(timestamp: number): Promise<{ offset: number; timestamp: number } | null> {
    return this.inner.offsetForTimestamp(timestamp);
  }
  async truncate(offset: number): Promise<void> {
    this.assertOpen();
    return this.inner.truncate(offset);
  }
  async deleteRecords(beforeOffset: number): Promise<number> {
    this.assertOpen();
    return this.inner.deleteRecords(beforeOffset);
  }
  async enforceRetention(now?: number): Promise<number> {
    this.assertOpen();
    return this.inner.enforceRetention(now);
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.inner.off('append', this.forward);
  }
}
