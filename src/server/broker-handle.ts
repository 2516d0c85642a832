/**
 * What the server needs from the broker, and no more: lifecycle.ts is written against `OpenBroker`, so the
 * real core/broker.ts plugs in without the server changing. `Broker.open(options)` satisfies `OpenBroker`
 * structurally as long as its options accept the fields of `BrokerOptions` and the broker has `ready` and
 * `close()`; core does not (and by the layer rule must not) import this file.
 */
import type { FsyncPolicy, LogConfig, StorageObserver } from '../storage/log.js';

/** The logging calls the broker makes; a pino Logger satisfies it. Defined by the core, which must not depend on pino. */
export type { BrokerLogger } from '../core/broker.js';
import type { BrokerLogger } from '../core/broker.js';

export interface BrokerOptions {
  /** Absolute path; exists, is locked by this process and has a current FORMAT file. */
  dataDir: string;
  /** Default durability for streams that do not set their own. */
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  /** Defaults for new streams' logs (segment size, retention, fsync), from the config. */
  logDefaults: LogConfig;
  /** Host clients are told to connect to (Kafka Metadata responses). */
  advertisedHost: string;
  /** Pass to every PartitionLog so appends, fsyncs and open segments reach /metrics. */
  storageObserver: StorageObserver;
  logger: BrokerLogger;
  /** Users created or reset at boot (from the `users` option). */
  users: Array<{ name: string; password: string }>;
  /** Users allowed only from loopback addresses. */
  loopbackUsers: string[];
  /** Memory and disk alarms (core/resource-alarm.ts), from the memoryHighWatermark and diskFreeLimit options. */
  resourceAlarm?: { memoryHighWatermark: number; diskFreeLimitBytes: number };
  /**
   * Kafka transactional.id.expiration.ms, transaction.max.timeout.ms, the timed-out transaction check interval
   * and the transaction index snapshot interval (core/transactions/transaction-coordinator.ts).
   */
  transactions?: { transactionalIdExpirationMs: number; maxTimeoutMs?: number; checkIntervalMs?: number; indexSnapshotIntervalMs?: number };
  /** Kafka producer.id.expiration.ms (core/idempotence/producer-state.ts). */
  producers?: { producerIdExpirationMs: number };
}

export interface BrokerHandle {
  /** True once open (metadata replayed, logs recovered) and until close begins. */
  readonly ready: boolean;
  /** Flushes every log per its policy and closes it; resolves when nothing more will be written. */
  close(): Promise<void>;
}

export type OpenBroker = (options: BrokerOptions) => Promise<BrokerHandle>;
