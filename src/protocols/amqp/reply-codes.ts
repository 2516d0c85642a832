/**
 * AmqpError: the AMQP layer's ProtocolError (STYLE.md §4). A reply code from the codec's REPLY_CODES table
 * decides the scope: a soft error closes the channel (channel.close), a hard error the connection
 * (connection.close). `toAmqpError` maps core failures (BrokerError) onto reply codes.
 */
import { REPLY_CODES, ReplyCode, type ReplyCodeName } from './codec/index.js';
import { isBrokerError } from '../../core/broker-error.js';

const KIND_BY_CODE = new Map<number, 'success' | 'soft-error' | 'hard-error'>(REPLY_CODES.map((r) => [r.code, r.kind]));

export class AmqpError extends Error {
  readonly replyCode: number;
  /** The method that failed (0/0 when none). */
  classId: number;
  methodId: number;

  constructor(name: ReplyCodeName, text: string, classId = 0, methodId = 0) {
    super(text);
    this.name = 'AmqpError';
    this.replyCode = ReplyCode[name];
    this.classId = classId;
    this.methodId = methodId;
  }

  /** True when the whole connection must close (hard error), false for a channel exception. */
  get hard(): boolean {
    return KIND_BY_CODE.get(this.replyCode) !== 'soft-error';
  }

  /** The reply-text sent on the wire: RabbitMQ's `NAME - text`, cut to a shortstr. */
  get replyText(): string {
    const name = REPLY_CODES.find((r) => r.code === this.replyCode)?.name ?? 'ERROR';
    let text = `${name} - ${this.message}`;
    while (Buffer.byteLength(text, 'utf8') > 255) text = text.slice(0, -1);
    return text;
  }
}

const BROKER_CODES: { readonly [code: string]: ReplyCodeName } = {
  TRIB_STREAM_NOT_FOUND: 'NOT_FOUND',
  TRIB_EXCHANGE_NOT_FOUND: 'NOT_FOUND',
  TRIB_CURSOR_NOT_FOUND: 'NOT_FOUND',
  TRIB_EXCHANGE_EXISTS: 'PRECONDITION_FAILED',
  TRIB_EXCHANGE_IN_USE: 'PRECONDITION_FAILED',
  TRIB_EXCHANGE_INTERNAL: 'ACCESS_REFUSED',
  TRIB_EXCHANGE_RESERVED: 'ACCESS_REFUSED',
  TRIB_UNAUTHORIZED: 'ACCESS_REFUSED',
  TRIB_AUTHENTICATION_FAILED: 'ACCESS_REFUSED',
  TRIB_CONSUMER_EXCLUSIVE: 'ACCESS_REFUSED',
  TRIB_CONSUMER_EXISTS: 'NOT_ALLOWED',
  TRIB_INVALID_CONFIG: 'PRECONDITION_FAILED',
  TRIB_INVALID_NAME: 'PRECONDITION_FAILED',
  TRIB_SUBJECT_INVALID: 'PRECONDITION_FAILED',
  TRIB_MESSAGE_TOO_LARGE: 'PRECONDITION_FAILED',
  TRIB_NOT_IN_FLIGHT: 'PRECONDITION_FAILED',
  TRIB_QUEUE_NOT_FOUND: 'NOT_FOUND',
  TRIB_QUEUE_INEQUIVALENT: 'PRECONDITION_FAILED',
  TRIB_QUEUE_LOCKED: 'RESOURCE_LOCKED',
  TRIB_QUEUE_IN_USE: 'PRECONDITION_FAILED',
  TRIB_QUEUE_NOT_EMPTY: 'PRECONDITION_FAILED',
  TRIB_QUEUE_RESERVED: 'ACCESS_REFUSED',
  TRIB_QUEUE_INVALID_NAME: 'PRECONDITION_FAILED',
};

/**
 * The AMQP error for a failure of method `classId/methodId`. Unknown failures are 541 INTERNAL_ERROR (hard);
 * `known` is false for them so the caller logs the cause.
 */
export function toAmqpError(err: unknown, classId: number, methodId: number): { error: AmqpError; known: boolean } {
  if (err instanceof AmqpError) {
    if (err.classId === 0) {
      err.classId = classId;
      err.methodId = methodId;
    }
    return { error: err, known: true };
  }
  let name: ReplyCodeName | undefined;
  if (isBrokerError(err)) name = BROKER_CODES[err.code];
  if (name !== undefined) return { error: new AmqpError(name, withVhost((err as Error).message), classId, methodId), known: true };
  return { error: new AmqpError('INTERNAL_ERROR', 'internal error', classId, methodId), known: false };
}

/** A core message naming a vhost-scoped name (`'<vhost>\0<name>'`) the way RabbitMQ words it: `'<name>' in vhost '<vhost>'`. */
function withVhost(message: string): string {
  return message.includes('\u0000') ? message.replace(/'([^'\u0000]*)\u0000([^']*)'/g, "'$2' in vhost '$1'") : message;
}
