/**
 * Message: what the Router carries between protocols. Every protocol edge converts its publish into this
 * and its deliveries from it; the mapping of each field per protocol is the table in docs/interop.md.
 *
 * Payload and header values are Buffers passed through untouched (views into the publisher's frame where
 * possible): the router never copies or decodes a payload.
 */
import type { RecordHeader } from '../storage/record-batch.js';

export interface Message {
  /** Dot-separated subject (`a.b.c`); MQTT topics and AMQP routing keys are translated at the edge. */
  subject: string;
  key: Buffer | null;
  /** null only for Kafka tombstones. */
  value: Buffer | null;
  headers: RecordHeader[];
  /** Milliseconds since the epoch. */
  timestamp: number;
  /** Where a reply should go (NATS reply subject, MQTT response topic, AMQP reply_to), as a subject. */
  replyTo?: string;
  /** Opaque identity of the publishing connection, for echo / no-local suppression. */
  origin?: object;
}
