/**
 * How `consume` and `subscribe` print a message from the API (docs/http-api.md "Payloads"): `text` writes the
 * value's bytes and a newline (what `kcat -C` does), `json` one JSON object a line, `hex` a position and a hex
 * dump. Values come as UTF-8 text or base64; the bytes are rebuilt before printing so nothing is re-encoded.
 */
import { InvalidArgumentError } from 'commander';

export type RecordFormat = 'text' | 'json' | 'hex';

export interface ApiMessage {
  subject?: string;
  partition?: number;
  offset?: number;
  timestamp?: number;
  key: string | null;
  keyEncoding?: 'text' | 'base64' | null;
  value: string | null;
  encoding: 'text' | 'base64' | null;
  headers?: Array<{ key: string; value: string | null; encoding: 'text' | 'base64' | null }>;
  replyTo?: string;
}

export function parseFormat(v: string): RecordFormat {
  if (v !== 'text' && v !== 'json' && v !== 'hex') throw new InvalidArgumentError(`expected text, json or hex, got '${v}'`);
  return v;
}

function bytesOf(value: string | null, encoding: 'text' | 'base64' | null | undefined): Buffer | null {
  if (value === null) return null;
  return encoding === 'base64' ? Buffer.from(value, 'base64') : Buffer.from(value, 'utf8');
}

/** The bytes to write to stdout for one message (ends with a newline). */
export function formatMessage(format: RecordFormat, m: ApiMessage): Buffer {
  if (format === 'json') return Buffer.from(`${JSON.stringify(m)}\n`);
  const value = bytesOf(m.value, m.encoding);
  if (format === 'text') return Buffer.concat([value ?? Buffer.alloc(0), Buffer.from('\n')]);
  const where = m.offset !== undefined ? `${m.partition ?? 0}/${m.offset}` : (m.subject ?? '');
  const key = m.key === null ? '' : ` key=${bytesOf(m.key, m.keyEncoding)!.toString('hex')}`;
  return Buffer.from(`${where}${key} ${value === null ? '(null)' : value.toString('hex')}\n`);
}
