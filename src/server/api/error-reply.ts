/**
 * JSON errors for the HTTP API: every failure is `{"error": {"code", "message", "field"?}}` with a stable code.
 * Core failures keep their BrokerError code (`TRIB_STREAM_NOT_FOUND`); the HTTP layer's own failures
 * (validation, body size, unknown route) use `TRIB_HTTP_*`. The status of each code is one table, so a new
 * TRIB_* code without an entry is a compile error rather than a silent 500.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { BrokerError, type ErrorCode } from '../../core/broker-error.js';

/** The codes only the HTTP layer raises (they are in the core catalogue too, for the docs). */
export type HttpErrorCode = Extract<ErrorCode, `TRIB_HTTP_${string}`>;

/** HTTP status of every code in the catalogue. */
export const BROKER_ERROR_STATUS: { readonly [C in ErrorCode]: number } = {
  TRIB_HTTP_INVALID_REQUEST: 400,
  TRIB_HTTP_BODY_TOO_LARGE: 413,
  TRIB_HTTP_UNSUPPORTED_MEDIA_TYPE: 415,
  TRIB_HTTP_ROUTE_NOT_FOUND: 404,
  TRIB_HTTP_INTERNAL: 500,
  TRIB_STREAM_NOT_FOUND: 404,
  TRIB_STREAM_EXISTS: 409,
  TRIB_PARTITION_NOT_FOUND: 404,
  TRIB_INVALID_NAME: 400,
  TRIB_INVALID_CONFIG: 400,
  TRIB_OFFSET_OUT_OF_RANGE: 416,
  TRIB_MESSAGE_TOO_LARGE: 413,
  TRIB_CORRUPT_RECORD: 500,
  TRIB_INVALID_PRODUCER_EPOCH: 409,
  TRIB_OUT_OF_ORDER_SEQUENCE: 409,
  TRIB_LOG_CLOSED: 503,
  TRIB_STORAGE_IO: 503,
  TRIB_DATA_DIR_INCOMPATIBLE: 500,
  TRIB_SUBJECT_INVALID: 400,
  TRIB_EXCHANGE_NOT_FOUND: 404,
  TRIB_EXCHANGE_EXISTS: 409,
  TRIB_EXCHANGE_IN_USE: 409,
  TRIB_EXCHANGE_INTERNAL: 403,
  TRIB_EXCHANGE_RESERVED: 403,
  TRIB_QUEUE_NOT_FOUND: 404,
  TRIB_QUEUE_INEQUIVALENT: 409,
  TRIB_QUEUE_LOCKED: 423,
  TRIB_QUEUE_IN_USE: 409,
  TRIB_QUEUE_NOT_EMPTY: 409,
  TRIB_QUEUE_RESERVED: 403,
  TRIB_QUEUE_INVALID_NAME: 400,
  TRIB_CURSOR_NOT_FOUND: 404,
  TRIB_CURSOR_EXISTS: 409,
  TRIB_CONSUMER_EXCLUSIVE: 409,
  TRIB_CONSUMER_EXISTS: 409,
  TRIB_CURSOR_CLOSED: 503,
  TRIB_NOT_IN_FLIGHT: 409,
  TRIB_UNAUTHORIZED: 403,
  TRIB_AUTHENTICATION_FAILED: 401,
  TRIB_USER_EXISTS: 409,
  TRIB_USER_NOT_FOUND: 404,
  TRIB_GROUP_NOT_FOUND: 404,
  TRIB_GROUP_NOT_EMPTY: 409,
  TRIB_CONNECTION_NOT_FOUND: 404,
  TRIB_BINDING_NOT_FOUND: 404,
  TRIB_VHOST_NOT_FOUND: 404,
  TRIB_VHOST_RESERVED: 403,
  TRIB_PERMISSION_NOT_FOUND: 404,
};

export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

/** A failure of the HTTP layer itself (validation); BrokerErrors are thrown as they are. */
export class ApiError extends Error {
  constructor(
    readonly code: HttpErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * Parses `value` with `schema`, or throws a 400 naming the first bad field (`records.0.value`). `where` prefixes
 * query-string fields so a client can tell `?offset` from a body `offset`.
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query' | 'params'): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.map(String).join('.');
  const field = path === '' ? where : where === 'body' ? path : `${where}.${path}`;
  throw new ApiError('TRIB_HTTP_INVALID_REQUEST', `${field}: ${issue.message}`, field);
}

/** The status and body for any thrown value. */
export function errorReply(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof BrokerError) return { status: BROKER_ERROR_STATUS[err.code], body: { error: { code: err.code, message: err.message } } };
  if (err instanceof ApiError) {
    const error: ErrorBody['error'] = { code: err.code, message: err.message };
    if (err.field !== undefined) error.field = err.field;
    return { status: BROKER_ERROR_STATUS[err.code], body: { error } };
  }
  const fe = err as Partial<FastifyError>;
  // Fastify's own client errors (bad JSON, body over bodyLimit, wrong content type) carry a 4xx statusCode.
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code: HttpErrorCode =
      fe.statusCode === 413 ? 'TRIB_HTTP_BODY_TOO_LARGE' : fe.statusCode === 415 ? 'TRIB_HTTP_UNSUPPORTED_MEDIA_TYPE' : 'TRIB_HTTP_INVALID_REQUEST';
    return { status: fe.statusCode, body: { error: { code, message: fe.message ?? code } } };
  }
  return { status: 500, body: { error: { code: 'TRIB_HTTP_INTERNAL', message: 'internal error' } } };
}

/** Installs the error and not-found handlers on `app` (the API's encapsulation context). */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = errorReply(err);
    // Unexpected failures are logged once with the request; client errors are the client's business.
    if (status >= 500) req.log.error({ err, url: req.url }, 'http api request failed');
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) =>
    reply.code(404).send({ error: { code: 'TRIB_HTTP_ROUTE_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } } satisfies ErrorBody),
  );
}
