/**
 * What handlers are given: the broker-wide KafkaContext (one per listener) and the per-connection
 * SessionState. Handlers read typed requests and return typed responses; they never see bytes or sockets.
 */
import type { Broker } from '../../core/broker.js';
import type { GroupCoordinator } from '../../core/consumer-group/index.js';
import type { Principal } from '../../core/principal.js';
import type { ProducerStateManager } from '../../core/idempotence/producer-state.js';

/** The logging calls the Kafka layer makes; a pino logger satisfies it. */
export interface KafkaLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface KafkaContext {
  readonly broker: Broker;
  readonly coordinator: GroupCoordinator;
  readonly logger: KafkaLogger;
  /** The single node: id 0, the controller, leader of every partition. */
  readonly nodeId: number;
  readonly advertisedHost: string;
  /** The port actually bound (port 0 asks for an ephemeral one). */
  readonly advertisedPort: number;
  readonly clusterId: string;
  /** Create unknown topics on Metadata (when the client allows it) and Produce. */
  readonly autoCreateTopics: boolean;
  /** Partitions of an auto-created topic (Kafka's num.partitions). */
  readonly defaultPartitions: number;
  /** Idempotent producers: id allocation and per-partition sequence state. */
  readonly producers: ProducerStateManager;
}

export interface SessionState {
  readonly id: number;
  principal: Principal;
  /** The peer address as Kafka prints it in DescribeGroups (`/127.0.0.1`). */
  readonly clientHost: string;
  readonly peerAddress: string | undefined;
  /** The SASL mechanism agreed by SaslHandshake, or null. */
  saslMechanism: string | null;
  /** Aborted when the connection closes: long polls and group waits give up. */
  readonly signal: AbortSignal;
}
