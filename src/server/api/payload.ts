/**
 * Payloads in JSON: how the API turns a request's `value` into bytes and stored bytes back into JSON.
 * In: `encoding` json (default: the value is serialised), text (UTF-8 string) or base64 (any bytes).
 * Out: bytes that are valid UTF-8 come back as text, anything else as base64, with `encoding` saying which,
 * so binary Kafka/AMQP payloads survive the round trip while text stays readable.
 */
import { z } from 'zod';
import type { Message } from '../../core/message.js';
import type { RecordHeader } from '../../storage/record-batch.js';

export const PAYLOAD_ENCODINGS = ['json', 'text', 'base64'] as const;
export type PayloadEncoding = (typeof PAYLOAD_ENCODINGS)[number];

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The fields a publish and a produce share. */
export const payloadFields = {
  value: z.unknown().describe('The payload: any JSON (encoding json), a string (text), or base64 (base64). null is a tombstone.'),
  encoding: z.enum(PAYLOAD_ENCODINGS).default('json'),
  key: z.string().nullable().optional().describe('UTF-8 key; picks the partition (murmur2) when partition is not given.'),
  headers: z.record(z.string(), z.string()).optional().describe('Header name to UTF-8 value.'),
};

export const PayloadSchema = z.object(payloadFields).superRefine((p, ctx) => {
  if (p.value === undefined) ctx.addIssue({ code: 'custom', path: ['value'], message: 'required' });
  else if (p.encoding !== 'json' && p.value !== null && typeof p.value !== 'string') {
    ctx.addIssue({ code: 'custom', path: ['value'], message: `must be a string with encoding ${p.encoding}` });
  } else if (p.encoding === 'base64' && typeof p.value === 'string' && (!BASE64.test(p.value) || p.value.length % 4 !== 0)) {
    ctx.addIssue({ code: 'custom', path: ['value'], message: 'is not valid base64' });
  }
});

export type Payload = z.output<typeof PayloadSchema>;

export function payloadValue(p: Payload): Buffer | null {
  if (p.value === null) return null;
  if (p.encoding === 'base64') return Buffer.from(p.value as string, 'base64');
  if (p.encoding === 'text') return Buffer.from(p.value as string, 'utf8');
  return Buffer.from(JSON.stringify(p.value), 'utf8');
}

export function payloadHeaders(p: Payload): RecordHeader[] {
  if (p.headers === undefined) return [];
  return Object.entries(p.headers).map(([key, value]) => ({ key, value: Buffer.from(value, 'utf8') }));
}

export function payloadKey(p: Payload): Buffer | null {
  return p.key === undefined || p.key === null ? null : Buffer.from(p.key, 'utf8');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** `{value, encoding}` for stored bytes: text when they are valid UTF-8, base64 otherwise. */
export function decodeBytes(bytes: Buffer | null): { value: string | null; encoding: 'text' | 'base64' | null } {
  if (bytes === null) return { value: null, encoding: null };
  try {
    return { value: utf8.decode(bytes), encoding: 'text' };
  } catch {
    return { value: bytes.toString('base64'), encoding: 'base64' };
  }
}

export interface HeaderJson {
  key: string;
  value: string | null;
  encoding: 'text' | 'base64' | null;
}

/** A message as the API returns it (records, SSE and WebSocket events). */
export function messageJson(m: Message): {
  subject: string;
  timestamp: number;
  key: string | null;
  keyEncoding: 'text' | 'base64' | null;
  value: string | null;
  encoding: 'text' | 'base64' | null;
  headers: HeaderJson[];
  replyTo?: string;
} {
  const key = decodeBytes(m.key);
  const out = {
    subject: m.subject,
    timestamp: m.timestamp,
    key: key.value,
    keyEncoding: key.encoding,
    ...decodeBytes(m.value),
    // An array, not an object: Kafka allows repeated header keys and binary header values.
    headers: m.headers.map((h) => ({ key: h.key, ...decodeBytes(h.value) })),
  };
  return m.replyTo === undefined ? out : { ...out, replyTo: m.replyTo };
}
