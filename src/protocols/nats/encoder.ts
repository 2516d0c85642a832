/**
 * NATS protocol output (specs/nats/FACTS.md "Operations"):
 *   INFO {json}CRLF
 *   MSG <subject> <sid> [reply-to] <#bytes>CRLF<payload>CRLF
 *   HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>CRLF<headers><payload>CRLF
 *   PING CRLF / PONG CRLF / +OK CRLF / -ERR '<message>'CRLF
 * and, for tests, benchmarks and fixture capture, the client ops (CONNECT, PUB, HPUB, SUB, UNSUB).
 *
 * One allocation per message: the size is computed first (byte lengths of the strings, decimal widths of the
 * sizes), then the control line, headers and payload are written into a single Buffer. `sizeOfMsg`/`writeMsg`
 * let a session write many deliveries into one buffer for one socket write.
 */

export const PING: Buffer = Buffer.from('PING\r\n', 'latin1');
export const PONG: Buffer = Buffer.from('PONG\r\n', 'latin1');
export const OK: Buffer = Buffer.from('+OK\r\n', 'latin1');

const CR = 13;
const LF = 10;
const SPACE = 32;

function decimalWidth(n: number): number {
  let w = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    w++;
  }
  return w;
}

function writeDecimal(buf: Buffer, off: number, n: number): number {
  const w = decimalWidth(n);
  let v = n;
  for (let i = off + w - 1; i >= off; i--) {
    buf[i] = 0x30 + (v % 10);
    v = Math.floor(v / 10);
  }
  return off + w;
}

/**
 * Writes a subject/sid/reply token; returns the new offset. Subjects are short and nearly always ASCII: a JS
 * loop beats Buffer#write's native call several times over at these sizes.
 */
function writeStr(buf: Buffer, off: number, s: string): number {
  const n = s.length;
  if (n <= 64) {
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[off + i] = c;
    }
    if (i === n) return off + n;
  }
  return off + buf.write(s, off, 'utf8');
}

function len(s: string): number {
  const n = s.length;
  if (n > 64) return Buffer.byteLength(s, 'utf8');
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
  return n;
}

/** `INFO {json}\r\n` */
export function encodeInfo(info: object): Buffer {
  return Buffer.from(`INFO ${JSON.stringify(info)}\r\n`, 'utf8');
}

/** `-ERR '<message>'\r\n` */
export function encodeErr(message: string): Buffer {
  return Buffer.from(`-ERR '${message}'\r\n`, 'utf8');
}

/** Bytes of `MSG`/`HMSG` for these fields (headers undefined → MSG). */
export function sizeOfMsg(subject: string, sid: string, reply: string | undefined, headers: Buffer | undefined, payloadLength: number): number {
  const total = payloadLength + (headers === undefined ? 0 : headers.length);
  let n = (headers === undefined ? 4 : 5) + len(subject) + 1 + len(sid) + 1 + decimalWidth(total) + 2 + total + 2;
  if (reply !== undefined) n += len(reply) + 1;
  if (headers !== undefined) n += decimalWidth(headers.length) + 1;
  return n;
}

/** Writes one MSG (or HMSG when `headers` is given) at `off`; returns the offset after it. */
export function writeMsg(buf: Buffer, off: number, subject: string, sid: string, reply: string | undefined, headers: Buffer | undefined, payload: Buffer): number {
  let o = off;
  if (headers === undefined) {
    buf[o++] = 0x4d; // M
  } else {
    buf[o++] = 0x48; // H
    buf[o++] = 0x4d;
  }
  buf[o++] = 0x53; // S
  buf[o++] = 0x47; // G
  buf[o++] = SPACE;
  o = writeStr(buf, o, subject);
  buf[o++] = SPACE;
  o = writeStr(buf, o, sid);
  buf[o++] = SPACE;
  if (reply !== undefined) {
    o = writeStr(buf, o, reply);
    buf[o++] = SPACE;
  }
  if (headers !== undefined) {
    o = writeDecimal(buf, o, headers.length);
    buf[o++] = SPACE;
  }
  o = writeDecimal(buf, o, payload.length + (headers === undefined ? 0 : headers.length));
  buf[o++] = CR;
  buf[o++] = LF;
  if (headers !== undefined) o += headers.copy(buf, o);
  o += payload.copy(buf, o);
  buf[o++] = CR;
  buf[o++] = LF;
  return o;
}

/** One MSG in one Buffer. */
export function encodeMsg(subject: string, sid: string, reply: string | undefined, payload: Buffer): Buffer {
  const buf = Buffer.allocUnsafe(sizeOfMsg(subject, sid, reply, undefined, payload.length));
  writeMsg(buf, 0, subject, sid, reply, undefined, payload);
  return buf;
}

/** One HMSG (header block and payload together) in one Buffer. */
export function encodeHmsg(subject: string, sid: string, reply: string | undefined, headers: Buffer, payload: Buffer): Buffer {
  const buf = Buffer.allocUnsafe(sizeOfMsg(subject, sid, reply, headers, payload.length));
  writeMsg(buf, 0, subject, sid, reply, headers, payload);
  return buf;
}

// ---- client ops (tests, benchmarks, fixture capture) ----

export function encodeConnect(options: object): Buffer {
  return Buffer.from(`CONNECT ${JSON.stringify(options)}\r\n`, 'utf8');
}

/** `PUB subject [reply] size\r\npayload\r\n`, or HPUB when headers are given. */
export function encodePub(subject: string, reply: string | undefined, payload: Buffer, headers?: Buffer): Buffer {
  const total = payload.length + (headers === undefined ? 0 : headers.length);
  let n = (headers === undefined ? 4 : 5) + len(subject) + 1 + decimalWidth(total) + 2 + total + 2;
  if (reply !== undefined) n += len(reply) + 1;
  if (headers !== undefined) n += decimalWidth(headers.length) + 1;
  const buf = Buffer.allocUnsafe(n);
  let o = buf.write(headers === undefined ? 'PUB ' : 'HPUB ', 0, 'latin1');
  o = writeStr(buf, o, subject);
  buf[o++] = SPACE;
  if (reply !== undefined) {
    o = writeStr(buf, o, reply);
    buf[o++] = SPACE;
  }
  if (headers !== undefined) {
    o = writeDecimal(buf, o, headers.length);
    buf[o++] = SPACE;
  }
  o = writeDecimal(buf, o, total);
  buf[o++] = CR;
  buf[o++] = LF;
  if (headers !== undefined) o += headers.copy(buf, o);
  o += payload.copy(buf, o);
  buf[o++] = CR;
  buf[o++] = LF;
  return buf;
}

export function encodeSub(subject: string, queue: string | undefined, sid: string): Buffer {
  return Buffer.from(queue === undefined ? `SUB ${subject} ${sid}\r\n` : `SUB ${subject} ${queue} ${sid}\r\n`, 'utf8');
}

export function encodeUnsub(sid: string, max?: number): Buffer {
  return Buffer.from(max === undefined ? `UNSUB ${sid}\r\n` : `UNSUB ${sid} ${max}\r\n`, 'utf8');
}
