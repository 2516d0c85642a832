/**
 * NATS message headers (ADR-4; specs/nats/FACTS.md "Headers"):
 *   block  = "NATS/1.0" [ SP status [ SP description ] ] CRLF *( name ":" value CRLF ) CRLF
 * The block is the first <#header bytes> of an HPUB/HMSG body. Names are case-preserving and carried
 * byte-for-byte; a name may repeat; values are trimmed. The parser hands the block over as a raw view: a broker
 * that only forwards never decodes it. decodeHeaders is for the places that must look inside (interop mapping,
 * status codes).
 */
import { WireError } from '../../wire/wire-error.js';

export interface NatsHeaders {
  /** Status code on the version line, e.g. 503 (no responders); undefined when absent. */
  status?: number;
  description?: string;
  /** Name/value pairs in order; names as sent. */
  entries: Array<[string, string]>;
}

const PREFIX = 'NATS/1.0';

/** `NATS/1.0 503\r\n\r\n`: the no-responders status nats.js recognises (16 bytes). */
export const NO_RESPONDERS_HEADERS: Buffer = Buffer.from('NATS/1.0 503\r\n\r\n', 'latin1');

export function decodeHeaders(block: Buffer): NatsHeaders {
  const text = block.toString('utf8');
  if (!text.startsWith(PREFIX)) throw WireError.invalid('headers.version', 0, 'header block does not start with NATS/1.0');
  if (!text.endsWith('\r\n\r\n')) throw WireError.invalid('headers.end', block.length, 'header block does not end with an empty line');
  const lines = text.slice(0, -4).split('\r\n');
  const first = lines[0];
  const h: NatsHeaders = { entries: [] };
  const rest = first.slice(PREFIX.length);
  if (rest.length > 0) {
    if (rest[0] !== ' ') throw WireError.invalid('headers.version', 0, 'bad version line');
    const statusLine = rest.trim();
    if (statusLine.length > 0) {
      const sp = statusLine.indexOf(' ');
      const code = sp === -1 ? statusLine : statusLine.slice(0, sp);
      if (!/^\d{3}$/.test(code)) throw WireError.invalid('headers.status', PREFIX.length, `bad status ${JSON.stringify(code)}`);
      h.status = Number(code);
      if (sp !== -1) h.description = statusLine.slice(sp + 1).trim();
    }
  }
  let off = first.length + 2;
  for (let k = 1; k < lines.length; k++) {
    const line = lines[k];
    const colon = line.indexOf(':');
    if (colon <= 0) throw WireError.invalid('headers.line', off, `header line without a name: ${JSON.stringify(line)}`);
    h.entries.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
    off += line.length + 2;
  }
  return h;
}

export function encodeHeaders(h: NatsHeaders): Buffer {
  let s = PREFIX;
  if (h.status !== undefined) {
    s += ` ${h.status}`;
    if (h.description !== undefined && h.description.length > 0) s += ` ${h.description}`;
  }
  s += '\r\n';
  for (const [name, value] of h.entries) {
    if (name.length === 0 || /[\r\n:]/.test(name) || /[\r\n]/.test(value)) throw new RangeError(`invalid NATS header ${JSON.stringify(name)}`);
    s += `${name}: ${value}\r\n`;
  }
  return Buffer.from(s + '\r\n', 'utf8');
}
