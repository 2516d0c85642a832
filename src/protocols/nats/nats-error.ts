/**
 * NatsProtocolError: input the NATS parser refuses, carrying the exact `-ERR` text nats-server sends for it
 * (specs/nats/FACTS.md "-ERR messages"; nats-server server/parser.go and client.go) and whether the server closes
 * the connection after sending it. The session writes `toErrLine()` and closes; it never parses further input
 * from that connection (the parser refuses it too).
 */

/** -ERR texts, exactly as nats-server sends them (nats.js matches on them). */
export const NatsErr = {
  /** Bad op name, missing CRLF after a payload, bad byte where an op was expected (parser.go parseErr). */
  UnknownProtocolOperation: 'Unknown Protocol Operation',
  /** A control line longer than max_control_line. */
  MaxControlLineExceeded: 'Maximum Control Line Exceeded',
  /** A PUB/HPUB whose size exceeds max_payload (client.go maxPayloadViolation). */
  MaxPayloadViolation: 'Maximum Payload Violation',
  /** Arguments that do not parse (wrong count, bad size, header size > total size). */
  ParserError: 'Parser Error',
  InvalidSubject: 'Invalid Subject',
  AuthorizationViolation: 'Authorization Violation',
  StaleConnection: 'Stale Connection',
  SlowConsumer: 'Slow Consumer',
  AuthorizationTimeout: 'Authorization Timeout',
  InvalidClientProtocol: 'Invalid Client Protocol',
  MaxSubscriptionsExceeded: 'Maximum Subscriptions Exceeded',
  /** Followed by a space and the subject (nats.js parses the subject out of it). */
  PermissionsViolationPublish: 'Permissions Violation for Publish to',
  /** Followed by a space and the subject (and ` using queue "<q>"` for a queue subscription). */
  PermissionsViolationSubscription: 'Permissions Violation for Subscription to',
} as const;

export class NatsProtocolError extends Error {
  /** The text inside `-ERR '…'`. */
  readonly errText: string;
  /** Whether nats-server closes the connection after this error (all parser errors do). */
  readonly closes: boolean;
  /** Byte offset in the chunk being parsed when the error was found. */
  readonly offset: number;

  constructor(errText: string, detail: string, offset: number, closes = true) {
    super(`nats: ${errText}: ${detail} (at ${offset})`);
    this.name = 'NatsProtocolError';
    this.errText = errText;
    this.closes = closes;
    this.offset = offset;
  }

  /** The line to send: `-ERR '<text>'\r\n`. */
  toErrLine(): Buffer {
    return Buffer.from(`-ERR '${this.errText}'\r\n`, 'latin1');
  }
}
