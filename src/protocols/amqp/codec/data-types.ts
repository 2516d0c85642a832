/**
 * AMQP 0-9-1 primitive data types (spec §4.2.5, "Field Types"), as the method, field-table and content-header
 * codecs share them:
 *
 *   octet = u8; short = u16; long = u32; longlong = u64; timestamp = u64 (seconds)   all big-endian
 *   short-string = OCTET *string-char          at most 255 bytes, UTF-8 here
 *   long-string  = long-uint *OCTET            bytes; returned as a view of the frame (no copy)
 *
 * longlong/timestamp are carried as JS numbers: every value a broker issues (delivery tags, body sizes, epoch
 * seconds) fits in 2^53, and the decoder refuses a larger one with a WireError rather than lose precision.
 * Readers throw only WireError (bounds are checked before any allocation); writers throw RangeError for a value
 * the caller should never have produced (a short string over 255 bytes, an integer out of range), since that is
 * a bug on our side, not bad input.
 */
import { BufferReader, BufferWriter, WireError } from '../../../wire/index.js';

export const MAX_SHORT_STRING_BYTES = 255;
/** Largest u64 the codec accepts as a number: 2^53 - 1. */
const MAX_SAFE_HIGH_WORD = 0x1fffff;

export function readShortString(r: BufferReader, field: string): string {
  r.need(field, 1);
  const buf = r.buf;
  const len = buf[r.offset];
  r.need(field, 1 + len);
  const start = r.offset + 1;
  const end = start + len;
  r.offset = end;
  return utf8Text(buf, start, end);
}

/**
 * buf[start, end) as a UTF-8 string; short ASCII texts (names, tags, routing keys) come from a small cache of
 * recent ones, so decoding the same bytes again allocates nothing. The short-string decoder, and the broker for
 * names stored as bytes (a delivery's exchange and routing key).
 */
export function utf8Text(buf: Buffer, start: number, end: number): string {
  const len = end - start;
  // Names, tags and ids are short and almost always ASCII: building them in JS avoids a call into C++ for
  // utf8Slice, which costs more than the loop at these lengths. Anything else takes the UTF-8 decoder.
  if (len <= 0) return '';
  if (len <= ASCII_FAST_MAX) {
    // The same few strings (exchange, routing key, consumer tag) arrive with every message: look the bytes up
    // among recently decoded ones and share that string, so the common case allocates nothing.
    let h = len;
    for (let i = start; i < end; i++) {
      const c = buf[i];
      if (c >= 0x80) return buf.toString('utf8', start, end);
      h = (Math.imul(h, 31) + c) | 0;
    }
    const slot = (h ^ (h >>> 13)) & (INTERN_SLOTS - 1);
    const at = slot * ASCII_FAST_MAX;
    if (internLengths[slot] === len) {
      let same = true;
      for (let i = 0; i < len; i++) {
        if (internBytes[at + i] !== buf[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return internStrings[slot];
    }
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]);
    for (let i = 0; i < len; i++) internBytes[at + i] = buf[start + i];
    internLengths[slot] = len;
    internStrings[slot] = s;
    return s;
  }
  return buf.toString('utf8', start, end);
}

/** Short strings up to this many bytes take the JS ASCII paths (measured in bench/amqp-codec.ts). */
const ASCII_FAST_MAX = 48;
/** Recently decoded ASCII short strings, direct-mapped by a hash of their bytes (a power of two). */
const INTERN_SLOTS = 256;
const internBytes = new Uint8Array(INTERN_SLOTS * ASCII_FAST_MAX);
const internLengths = new Int16Array(INTERN_SLOTS).fill(-1);
const internStrings: string[] = new Array<string>(INTERN_SLOTS).fill('');

/** UTF-8 byte length of `s`, with a JS loop for short ASCII strings. */
function utf8Length(s: string): number {
  const n = s.length;
  if (n <= ASCII_FAST_MAX) {
    let i = 0;
    while (i < n && s.charCodeAt(i) < 0x80) i++;
    if (i === n) return n;
  }
  return Buffer.byteLength(s, 'utf8');
}

/** Encoded size (with the length octet) of a short string; throws RangeError over 255 bytes. */
export function shortStringSize(s: string, field: string): number {
  const n = utf8Length(s);
  if (n > MAX_SHORT_STRING_BYTES) throw new RangeError(`AMQP short string ${field} is ${n} bytes; the limit is 255`);
  return 1 + n;
}

/** Writes a short string whose size was checked by shortStringSize. */
export function writeShortString(w: BufferWriter, s: string): void {
  const buf = w.buf;
  const at = w.offset;
  const n = s.length;
  if (n <= ASCII_FAST_MAX) {
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[at + 1 + i] = c;
    }
    if (i === n) {
      buf[at] = n;
      w.offset = at + 1 + n;
      return;
    }
  }
  // Write the bytes first and the length after: Buffer#write returns the byte count, so the UTF-8 length is not
  // computed a second time. The bound is the writer's buffer, sized in the first pass.
  const len = buf.write(s, at + 1, 'utf8');
  buf[at] = len;
  w.offset = at + 1 + len;
}

export function readLongString(r: BufferReader, field: string): Buffer {
  const len = r.readUInt32(field);
  return r.readBytes(field, len);
}

export function longStringSize(b: Buffer): number {
  return 4 + b.length;
}

export function writeLongString(w: BufferWriter, b: Buffer): void {
  w.writeUInt32(b.length);
  w.writeBytes(b);
}

/** An unsigned 64-bit integer as a number; WireError if it is 2^53 or more. */
export function readLongLong(r: BufferReader, field: string): number {
  r.need(field, 8);
  const hi = r.buf.readUInt32BE(r.offset);
  if (hi > MAX_SAFE_HIGH_WORD) throw WireError.invalid(field, r.offset, 'longlong above 2^53 - 1');
  const lo = r.buf.readUInt32BE(r.offset + 4);
  r.offset += 8;
  return hi * 0x100000000 + lo;
}

export function writeLongLong(w: BufferWriter, v: number): void {
  const hi = Math.floor(v / 0x100000000);
  w.writeUInt32(hi);
  w.writeUInt32(v - hi * 0x100000000);
}

/** Throws RangeError unless `v` is an integer in [0, max]. */
export function checkUnsigned(v: number, max: number, field: string): void {
  if (!(Number.isInteger(v) && v >= 0 && v <= max)) {
    throw new RangeError(`AMQP ${field} must be an integer in [0, ${max}], got ${String(v)}`);
  }
}

export const MAX_OCTET = 0xff;
export const MAX_SHORT = 0xffff;
export const MAX_LONG = 0xffffffff;
export const MAX_LONGLONG = Number.MAX_SAFE_INTEGER;
