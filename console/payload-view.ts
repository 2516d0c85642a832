/**
 * How the message browser shows a payload. The API sends valid UTF-8 as `text` and anything else as `base64`
 * (docs/http-api.md "Payloads"); text that parses as JSON is pretty-printed, binary gets a hex dump.
 */
export type ViewMode = 'auto' | 'text' | 'json' | 'hex';

export function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function payloadBytes(value: string | null, encoding: 'text' | 'base64' | null): Uint8Array {
  if (value === null) return new Uint8Array(0);
  return encoding === 'base64' ? base64ToBytes(value) : new TextEncoder().encode(value);
}

/** The classic 16-bytes-a-line dump: offset, hex bytes in two groups of eight, printable ASCII. */
export function hexDump(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += 16) {
    const row = bytes.subarray(at, at + 16);
    let hex = '';
    let ascii = '';
    for (let i = 0; i < 16; i++) {
      if (i === 8) hex += ' ';
      const b = row[i];
      hex += b === undefined ? '   ' : b.toString(16).padStart(2, '0') + ' ';
      if (b !== undefined) ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
    }
    lines.push(`${at.toString(16).padStart(8, '0')}  ${hex} |${ascii}|`);
  }
  return lines.join('\n');
}

/** Pretty JSON when `text` is a JSON object or array (plain numbers and strings stay as they are), else null. */
export function prettyJson(text: string): string | null {
  const t = text.trim();
  if (!(t.startsWith('{') || t.startsWith('['))) return null;
  try {
    return JSON.stringify(JSON.parse(t), null, 2);
  } catch {
    return null;
  }
}

/** What `auto` resolves to for a payload. */
export function autoMode(value: string | null, encoding: 'text' | 'base64' | null): Exclude<ViewMode, 'auto'> {
  if (encoding === 'base64') return 'hex';
  return value !== null && prettyJson(value) !== null ? 'json' : 'text';
}

/** The payload rendered in `mode`; text of binary bytes is decoded leniently (U+FFFD for bad sequences). */
export function renderPayload(value: string | null, encoding: 'text' | 'base64' | null, mode: ViewMode): string {
  if (value === null) return '(null — tombstone or no payload)';
  const m = mode === 'auto' ? autoMode(value, encoding) : mode;
  if (m === 'hex') return hexDump(payloadBytes(value, encoding));
  const text = encoding === 'base64' ? new TextDecoder('utf-8').decode(base64ToBytes(value)) : value;
  if (m === 'json') return prettyJson(text) ?? text;
  return text;
}

/** A one-line preview for tables. */
export function previewPayload(value: string | null, encoding: 'text' | 'base64' | null, max = 120): string {
  if (value === null) return '∅';
  if (encoding === 'base64') {
    const bytes = base64ToBytes(value);
    const head = Array.from(bytes.subarray(0, 24), (b) => b.toString(16).padStart(2, '0')).join(' ');
    return `⟨${bytes.length} bytes⟩ ${head}${bytes.length > 24 ? ' …' : ''}`;
  }
  const oneLine = value.replace(/\s+/g, ' ');
  return oneLine.length > max ? oneLine.slice(0, max) + '…' : oneLine;
}
