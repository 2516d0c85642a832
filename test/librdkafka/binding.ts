/**
 * librdkafka 2.x for the optional librdkafka test tier: @confluentinc/kafka-javascript (the binding that builds
 * librdkafka from source) lives in its own package, test/librdkafka/package.json, because its install compiles
 * librdkafka for minutes and every `npm ci` of the project would pay that. `npm run setup:librdkafka` installs it
 * (.ci/run does). This file loads it at run time with createRequire, so the project builds and `npm test` runs
 * without it; `skipReason` says why the tier is skipped when it is absent.
 *
 * Only the parts of the binding's KafkaJS-compatible API that the tests use are typed here (its own types
 * cannot be imported: they are not there when the tier is not installed).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const tierDir = fileURLToPath(new URL('../../../test/librdkafka/', import.meta.url));
const PACKAGE = '@confluentinc/kafka-javascript';

/** librdkafka error codes the tests name (rdkafka.h `RD_KAFKA_RESP_ERR__*`, negative for local events). */
export const ERR__ASSIGN_PARTITIONS = -175;
export const ERR__REVOKE_PARTITIONS = -174;

/** Called by the binding on each rebalance before it applies the change; returning nothing keeps its default. */
export type RebalanceCallback = (err: { code: number; message: string }, assignment: TopicPartition[]) => void;

/** librdkafka configuration properties, passed through unchanged (CONFIGURATION.md names). */
export type RdConfig = Record<string, string | number | boolean | RebalanceCallback>;

export interface LogEntry {
  level: 'error' | 'warn' | 'info' | 'debug';
  message: string;
  extra?: object;
}

/** The KafkaJS-style logger the binding calls with librdkafka's log lines and its own. */
export interface Logger {
  info(message: string, extra?: object): void;
  error(message: string, extra?: object): void;
  warn(message: string, extra?: object): void;
  debug(message: string, extra?: object): void;
  namespace(namespace: string, logLevel?: number): Logger;
  setLogLevel(logLevel: number): void;
}

export type Headers = Record<string, Buffer | string | Array<Buffer | string> | undefined>;

export interface Message {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  partition?: number;
  headers?: Headers;
}

export interface RecordMetadata {
  topicName: string;
  partition: number;
  errorCode: number;
  offset?: string;
  baseOffset?: string;
}

export interface TopicOffsets {
  topic: string;
  partitions: Array<{ partition: number; offset: string }>;
}

export interface Producer {
  connect(): Promise<void>;
  /** The binding's default logger object, whose methods the harness replaces to record instead of print. */
  logger(): Logger;
  disconnect(): Promise<void>;
  send(record: { topic: string; messages: Message[] }): Promise<RecordMetadata[]>;
  flush(args?: { timeout?: number }): Promise<void>;
  /** Begins a transaction; the returned object is the producer itself. */
  transaction(): Promise<Producer>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  sendOffsets(args: { consumer: Consumer; topics: TopicOffsets[] }): Promise<void>;
}

export interface ConsumedMessage {
  key: Buffer | null;
  value: Buffer | null;
  offset: string;
  timestamp: string;
  headers?: Headers;
}

export interface EachMessagePayload {
  topic: string;
  partition: number;
  message: ConsumedMessage;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface Consumer {
  connect(): Promise<void>;
  logger(): Logger;
  disconnect(): Promise<void>;
  subscribe(subscription: { topics: string[] }): Promise<void>;
  run(config: { eachMessage: (payload: EachMessagePayload) => Promise<void> }): Promise<void>;
  stop(): Promise<void>;
  seek(target: { topic: string; partition: number; offset: string }): void;
  commitOffsets(offsets?: Array<{ topic: string; partition: number; offset: string }>): Promise<void>;
  committed(partitions?: TopicPartition[], timeoutMs?: number): Promise<Array<TopicPartition & { offset: string }>>;
  assignment(): TopicPartition[];
}

export interface PartitionMetadata {
  partitionId: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

export interface GroupDescription {
  groupId: string;
  state: number;
  protocolType: string;
  protocol: string;
  isSimpleConsumerGroup: boolean;
  members: Array<{ memberId: string; clientId: string; assignment?: { topicPartitions: TopicPartition[] } }>;
  error?: { code: number; message: string };
}

export interface Admin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  createTopics(options: {
    topics: Array<{ topic: string; numPartitions?: number; replicationFactor?: number; configEntries?: Array<{ name: string; value: string }> }>;
    timeout?: number;
  }): Promise<boolean>;
  deleteTopics(options: { topics: string[]; timeout?: number }): Promise<void>;
  listTopics(options?: { timeout?: number }): Promise<string[]>;
  fetchTopicMetadata(options: { topics: string[]; timeout?: number }): Promise<Array<{ name: string; partitions: PartitionMetadata[] }>>;
  /** ListOffsets latest and earliest; with READ_COMMITTED, `high` is the last stable offset. */
  fetchTopicOffsets(topic: string, options?: { isolationLevel: number }): Promise<Array<{ partition: number; offset: string; high: string; low: string }>>;
  listGroups(options?: { timeout?: number }): Promise<{ groups: Array<{ groupId: string; protocolType: string; state: number }>; errors: unknown[] }>;
  describeGroups(groups: string[], options?: { timeout?: number }): Promise<{ groups: GroupDescription[] }>;
  fetchOffsets(options: { groupId: string; topics?: string[] }): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>;
  deleteGroups(groups: string[]): Promise<Array<{ groupId: string; errorCode?: number }>>;
}

/** The binding's `KafkaJS.Kafka`: librdkafka properties at the top level, the KafkaJS-only ones in `kafkaJS`. */
export interface Kafka {
  producer(config?: RdConfig): Producer;
  consumer(config: RdConfig): Consumer;
  admin(config?: RdConfig | { kafkaJS: { logger: Logger } }): Admin;
}

export interface KafkaJavascript {
  librdkafkaVersion: string;
  /** librdkafka's builtin.features: the codecs and SASL mechanisms this build has. */
  features: string[];
  /** The binding's ConsumerGroupStates enum (name → number), to name a described group's state. */
  ConsumerGroupStates: Record<string, number>;
  IsolationLevel: { READ_UNCOMMITTED: number; READ_COMMITTED: number };
  KafkaJS: { Kafka: new (config: RdConfig) => Kafka };
}

function load(): { binding: KafkaJavascript | null; skipReason: string | false } {
  // Absent is the one reason to skip; a package that is there but will not load (a broken build) fails loudly.
  if (!existsSync(join(tierDir, 'node_modules', PACKAGE, 'package.json'))) {
    return { binding: null, skipReason: `${PACKAGE} is not installed in test/librdkafka (npm run setup:librdkafka builds it, as .ci/run does)` };
  }
  const require = createRequire(join(tierDir, 'package.json'));
  return { binding: require(PACKAGE) as KafkaJavascript, skipReason: false };
}

const loaded = load();
/** The loaded binding, or null when the tier is not installed (then `skipReason` is set). */
export const binding = loaded.binding;
/** The `skip` option of every test of the tier: false when the binding is installed. */
export const skipReason = loaded.skipReason;
