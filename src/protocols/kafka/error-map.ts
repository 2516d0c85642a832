/**
 * The one table from core failures to Kafka error codes (STYLE §4: sessions map BrokerError and the consumer
 * group's error names onto the protocol's reply). Anything not a BrokerError is UNKNOWN_SERVER_ERROR.
 */
import { isBrokerError, type ErrorCode as BrokerErrorCode } from '../../core/broker-error.js';
import type { GroupErrorName } from '../../core/consumer-group/index.js';
import { ErrorCode } from './codec/index.js';

const BROKER_TO_KAFKA: { readonly [K in BrokerErrorCode]?: number } = {
  TRIB_STREAM_NOT_FOUND: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  TRIB_PARTITION_NOT_FOUND: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  TRIB_STREAM_EXISTS: ErrorCode.TOPIC_ALREADY_EXISTS,
  TRIB_INVALID_NAME: ErrorCode.INVALID_TOPIC_EXCEPTION,
  TRIB_INVALID_CONFIG: ErrorCode.INVALID_CONFIG,
  TRIB_SUBJECT_INVALID: ErrorCode.INVALID_CONFIG,
  TRIB_OFFSET_OUT_OF_RANGE: ErrorCode.OFFSET_OUT_OF_RANGE,
  TRIB_MESSAGE_TOO_LARGE: ErrorCode.MESSAGE_TOO_LARGE,
  TRIB_CORRUPT_RECORD: ErrorCode.CORRUPT_MESSAGE,
  TRIB_INVALID_PRODUCER_EPOCH: ErrorCode.INVALID_PRODUCER_EPOCH,
  TRIB_OUT_OF_ORDER_SEQUENCE: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
  // A closed log means the topic was deleted or the broker is stopping: retriable, and the client's metadata
  // refresh then tells it which.
  TRIB_LOG_CLOSED: ErrorCode.NOT_LEADER_OR_FOLLOWER,
  TRIB_STORAGE_IO: ErrorCode.KAFKA_STORAGE_ERROR,
  TRIB_UNAUTHORIZED: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
  TRIB_AUTHENTICATION_FAILED: ErrorCode.SASL_AUTHENTICATION_FAILED,
};

export interface KafkaFailure {
  code: number;
  message: string;
}

/**
 * The Kafka error for a thrown core failure. `unauthorized` overrides TRIB_UNAUTHORIZED for resources other
 * than topics (GROUP_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED).
 */
export function kafkaErrorOf(err: unknown, unauthorized?: number): KafkaFailure {
  if (isBrokerError(err)) {
    if (err.code === 'TRIB_UNAUTHORIZED' && unauthorized !== undefined) return { code: unauthorized, message: err.message };
    return { code: BROKER_TO_KAFKA[err.code] ?? ErrorCode.UNKNOWN_SERVER_ERROR, message: err.message };
  }
  return { code: ErrorCode.UNKNOWN_SERVER_ERROR, message: err instanceof Error ? err.message : String(err) };
}

/** Kafka's code for a consumer-group error name (the names are Kafka's own). */
export function groupErrorCode(name: GroupErrorName): number {
  return ErrorCode[name];
}
