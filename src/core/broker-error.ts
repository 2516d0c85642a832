/**
 * BrokerError: a failure of a core operation, with a stable string code (`TRIB_*`) that protocol sessions
 * map onto their own error replies (Kafka error code, AMQP reply code, MQTT reason code, NATS -ERR) and that
 * the HTTP API returns as is. The catalogue is data: docs/errors.md is generated from it.
 */

export interface ErrorCodeInfo {
  /** What it means, for the docs and default messages. */
  description: string;
  /** True when the same request may succeed if retried later. */
  retriable: boolean;
}

export const ERROR_CODES = {
  TRIB_STREAM_NOT_FOUND: { description: 'No stream (topic, queue log) has that name.', retriable: false },
  TRIB_STREAM_EXISTS: { description: 'A stream with that name already exists.', retriable: false },
  TRIB_PARTITION_NOT_FOUND: { description: 'The stream has no partition with that index.', retriable: false },
  TRIB_INVALID_NAME: { description: 'The name breaks the naming rules for its kind of resource.', retriable: false },
  TRIB_INVALID_CONFIG: { description: 'A configuration value is missing, of the wrong type, or out of range.', retriable: false },
  TRIB_OFFSET_OUT_OF_RANGE: { description: 'The offset is before the log start or beyond the high watermark.', retriable: false },
  TRIB_MESSAGE_TOO_LARGE: { description: 'The message or batch is larger than the stream allows.', retriable: false },
  TRIB_CORRUPT_RECORD: { description: 'A record batch failed its length, magic or CRC-32C check.', retriable: false },
  TRIB_INVALID_PRODUCER_EPOCH: { description: 'An idempotent producer wrote with an epoch older than the newest one seen for its id (it was fenced).', retriable: false },
  TRIB_OUT_OF_ORDER_SEQUENCE: { description: 'An idempotent producer batch does not continue the sequence of the last batch accepted from it.', retriable: false },
  TRIB_LOG_CLOSED: { description: 'The log was closed (broker shutting down or stream deleted).', retriable: true },
  TRIB_STORAGE_IO: { description: 'A read, write or fsync on the data directory failed.', retriable: true },
  TRIB_DATA_DIR_INCOMPATIBLE: { description: 'The data directory was written by an incompatible format version or cannot be read.', retriable: false },
  TRIB_SUBJECT_INVALID: { description: 'A subject or subject filter is malformed (empty tokens, wildcard misuse).', retriable: false },
  TRIB_EXCHANGE_NOT_FOUND: { description: 'No exchange has that name.', retriable: false },
  TRIB_EXCHANGE_EXISTS: { description: 'An exchange with that name exists with a different type or arguments.', retriable: false },
  TRIB_EXCHANGE_IN_USE: { description: 'The exchange still has bindings and was to be deleted only if unused.', retriable: false },
  TRIB_EXCHANGE_INTERNAL: { description: 'The exchange is internal: it receives messages only from other exchanges, not from publishers.', retriable: false },
  TRIB_EXCHANGE_RESERVED: { description: 'Not allowed on the default exchange or on names with the reserved prefix amq.', retriable: false },
  TRIB_QUEUE_NOT_FOUND: { description: 'No queue has that name (or it belongs to another tenant).', retriable: false },
  TRIB_QUEUE_INEQUIVALENT: { description: 'A queue with that name exists with different flags or arguments.', retriable: false },
  TRIB_QUEUE_LOCKED: { description: 'The queue is exclusive to another connection.', retriable: false },
  TRIB_QUEUE_IN_USE: { description: 'The queue has consumers and the delete asked for if-unused.', retriable: false },
  TRIB_QUEUE_NOT_EMPTY: { description: 'The queue has messages and the delete asked for if-empty.', retriable: false },
  TRIB_QUEUE_RESERVED: { description: 'Queue names starting with amq. are reserved for the broker.', retriable: false },
  TRIB_QUEUE_INVALID_NAME: { description: 'The queue name is too long or not valid UTF-8.', retriable: false },
  TRIB_CURSOR_NOT_FOUND: { description: 'No cursor (consumer, subscription) has that name on the stream.', retriable: false },
  TRIB_CURSOR_EXISTS: { description: 'A cursor with that name exists with different settings.', retriable: false },
  TRIB_CONSUMER_EXCLUSIVE: { description: 'The cursor is exclusive and already has a consumer attached.', retriable: true },
  TRIB_CONSUMER_EXISTS: { description: 'A consumer with that id is already attached to the cursor.', retriable: false },
  TRIB_CURSOR_CLOSED: { description: 'The cursor was closed (queue deleted or broker shutting down).', retriable: true },
  TRIB_NOT_IN_FLIGHT: { description: 'The acknowledged offset is not delivered and unacknowledged on this cursor.', retriable: false },
  TRIB_UNAUTHORIZED: { description: 'The principal is not allowed to perform the action on the resource.', retriable: false },
  TRIB_AUTHENTICATION_FAILED: { description: 'Unknown user, wrong password, or a login not allowed from this address.', retriable: false },
  TRIB_USER_EXISTS: { description: 'A user with that name already exists.', retriable: false },
  TRIB_USER_NOT_FOUND: { description: 'No user has that name.', retriable: false },
  TRIB_GROUP_NOT_FOUND: { description: 'No consumer group has that id (no members and no committed offsets).', retriable: false },
  TRIB_GROUP_NOT_EMPTY: { description: 'The consumer group has live members; stop its consumers first (as Kafka requires for offset resets and deletes).', retriable: true },
  TRIB_CONNECTION_NOT_FOUND: { description: 'No open client connection has that id.', retriable: false },
  TRIB_BINDING_NOT_FOUND: { description: 'The exchange has no binding to that destination with that routing key and arguments.', retriable: false },
  TRIB_VHOST_NOT_FOUND: { description: 'No virtual host (tenant) has that name.', retriable: false },
  TRIB_VHOST_RESERVED: { description: "The default virtual host '/' cannot be deleted.", retriable: false },
  TRIB_PERMISSION_NOT_FOUND: { description: 'The user has no permissions set on that virtual host.', retriable: false },
  // Failures of the HTTP API's own layer (kept here so the one catalogue, and docs/errors.md, lists every code).
  TRIB_HTTP_INVALID_REQUEST: { description: 'HTTP API: the request failed validation; `field` names the offending field.', retriable: false },
  TRIB_HTTP_BODY_TOO_LARGE: { description: 'HTTP API: the request body is larger than the API accepts.', retriable: false },
  TRIB_HTTP_UNSUPPORTED_MEDIA_TYPE: { description: 'HTTP API: the request body is not JSON.', retriable: false },
  TRIB_HTTP_ROUTE_NOT_FOUND: { description: 'HTTP API: no route has that method and path.', retriable: false },
  TRIB_HTTP_INTERNAL: { description: 'HTTP API: an unexpected failure; the broker log has the cause.', retriable: true },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class BrokerError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERROR_CODES[code].description, options);
    this.name = 'BrokerError';
    this.code = code;
    this.retriable = ERROR_CODES[code].retriable;
  }
}

export function isBrokerError(err: unknown, code?: ErrorCode): err is BrokerError {
  return err instanceof BrokerError && (code === undefined || err.code === code);
}
