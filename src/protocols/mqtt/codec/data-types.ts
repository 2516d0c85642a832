/**
 * MQTT data representations (3.1.1 §1.5, 5.0 §1.5):
 *   Two/Four Byte Integer   big-endian unsigned
 *   UTF-8 Encoded String    uint16 length ‖ UTF-8 bytes (well-formed, no U+0000)
 *   Binary Data             uint16 length ‖ bytes
 *   Variable Byte Integer   7 bits per byte, least significant group first, 0x80 = more; 1..4 bytes
 *   UTF-8 String Pair       UTF-8 String ‖ UTF-8 String
 * plus topic name / topic filter rules (§4.7). Readers take a BufferReader and return views (Binary Data is a
 * subarray of the packet), strings are decoded once after validation.
 */
import { isUtf8 } from 'node:buffer';
import { BufferReader } from '../../../wire/buffer-reader.js';
import { BufferWriter } from '../../../wire/buffer-writer.js';
import { WireError } from '../../../wire/wire-error.js';
import { malformed, MqttProtocolError } from './mqtt-error.js';
import { ReasonCode } from './reason-codes.js';

/** Largest Variable Byte Integer: 0xFF,0xFF,0xFF,0x7F (§1.5.5). */
export const MAX_VBI = 268_435_455;
export const MAX_STRING_BYTES = 65_535;

/** Reads a Variable Byte Integer: at most 4 bytes, minimal encoding. */
export function readVbi(r: BufferReader, field: string): number {
  const start = r.offset;
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 4; i++) {
    if (r.offset >= r.end) throw new WireError(field, start, i + 1, i);
    const b = r.buf[r.offset++];
    value += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) {
      // [MQTT-1.5.5-1] the encoded value MUST use the minimum number of bytes: a trailing 0x00 group is not.
      if (b === 0 && i > 0) throw malformed(field, start, 'variable byte integer is not minimally encoded');
      return value;
    }
    mul *= 128;
  }
  // §1.5.5: a fourth byte with the continuation bit set is a Malformed Packet.
  throw malformed(field, start, 'variable byte integer longer than 4 bytes');
}

export function sizeOfVbi(value: number): number {
  return value < 128 ? 1 : value < 16_384 ? 2 : value < 2_097_152 ? 3 : 4;
}

export function writeVbi(w: BufferWriter, value: number): void {
  if (value < 0 || value > MAX_VBI || !Number.isInteger(value)) throw new RangeError(`variable byte integer out of range: ${value}`);
  let v = value;
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    w.writeUInt8(b);
  } while (v > 0);
}

/** Validates `bytes` as an MQTT UTF-8 string body and decodes it. */
export function decodeUtf8(bytes: Buffer, field: string, offset: number): string {
  return decodeUtf8Range(bytes, 0, bytes.length, field, offset);
}

/**
 * Validates and decodes buf[start, end). Short ASCII strings (most topics and ids) are checked in JS without a
 * view: a subarray plus three native calls (indexOf, isUtf8, toString) cost more than the loop.
 */
function decodeUtf8Range(buf: Buffer, start: number, end: number, field: string, offset: number): string {
  const n = end - start;
  if (n <= 64) {
    let ascii = true;
    for (let i = start; i < end; i++) {
      const b = buf[i];
      // [MQTT-1.5.4-2] a UTF-8 Encoded String MUST NOT include U+0000.
      if (b === 0) throw malformed(field, offset, 'UTF-8 string contains U+0000');
      if (b >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return n <= 16 ? asciiString(buf, start, end) : buf.toString('latin1', start, end);
  }
  const bytes = buf.subarray(start, end);
  if (bytes.indexOf(0) !== -1) throw malformed(field, offset, 'UTF-8 string contains U+0000');
  // [MQTT-1.5.4-1] well-formed UTF-8: no surrogate code points, no overlong forms.
  if (!isUtf8(bytes)) throw malformed(field, offset, 'ill-formed UTF-8');
  return bytes.toString('utf8');
}

function asciiString(b: Buffer, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i]);
  return s;
}

export function readUtf8(r: BufferReader, field: string): string {
  const at = r.offset;
  const len = r.readUInt16(field);
  if (len === 0) return '';
  r.need(field, len);
  const start = r.offset;
  r.offset += len;
  return decodeUtf8Range(r.buf, start, start + len, field, at);
}

export function readBinary(r: BufferReader, field: string): Buffer {
  const len = r.readUInt16(field);
  return r.readBytes(field, len);
}

/** UTF-8 byte length of `s`; a JS loop for short strings, where Buffer.byteLength's native call dominates. */
export function utf8Length(s: string): number {
  const n = s.length;
  if (n > 64) return Buffer.byteLength(s, 'utf8');
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
  return n;
}

/** Writes `s` at `off` as UTF-8, returning the bytes written; short ASCII strings by hand. */
export function writeUtf8Raw(buf: Buffer, off: number, s: string): number {
  const n = s.length;
  if (n <= 64) {
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[off + i] = c;
    }
    if (i === n) return n;
  }
  return buf.write(s, off, 'utf8');
}

/** Encoded size of a UTF-8 String (length prefix included). */
export function sizeOfUtf8(s: string): number {
  const n = utf8Length(s);
  if (n > MAX_STRING_BYTES) throw new RangeError(`UTF-8 string of ${n} bytes exceeds ${MAX_STRING_BYTES}`);
  return 2 + n;
}

export function writeUtf8(w: BufferWriter, s: string): void {
  const n = utf8Length(s);
  if (w.offset + 2 + n > w.buf.length) throw new RangeError('BufferWriter overflow writing a UTF-8 string');
  w.writeUInt16(n);
  writeUtf8Raw(w.buf, w.offset, s);
  w.offset += n;
}

export function sizeOfBinary(b: Buffer): number {
  if (b.length > MAX_STRING_BYTES) throw new RangeError(`binary data of ${b.length} bytes exceeds ${MAX_STRING_BYTES}`);
  return 2 + b.length;
}

export function writeBinary(w: BufferWriter, b: Buffer): void {
  w.writeUInt16(b.length);
  w.writeBytes(b);
}

// ---- Topics (§4.7) ----

const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;

/** [MQTT-4.7.3-1] at least one character; [MQTT-3.3.2-2] no wildcard characters in a Topic Name. */
export function isValidTopicName(topic: string): boolean {
  if (topic.length === 0) return false;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === PLUS || c === HASH) return false;
  }
  return true;
}

/**
 * Topic Filter rules: [MQTT-4.7.3-1] non-empty; [MQTT-4.7.1-2] `#` alone in the last level; [MQTT-4.7.1-3] `+`
 * fills a whole level. A shared subscription `$share/{name}/{filter}` (v5 §4.8.2) needs a non-empty share name
 * without wildcards [MQTT-4.8.2-1] and a valid filter after it [MQTT-4.8.2-2].
 */
export function isValidTopicFilter(filter: string): boolean {
  if (filter.length === 0) return false;
  const shared = parseSharedSubscription(filter);
  if (shared === null) return false;
  const f = shared === undefined ? filter : shared.filter;
  if (f.length === 0) return false;
  const n = f.length;
  for (let i = 0; i < n; i++) {
    const c = f.charCodeAt(i);
    if (c === HASH) {
      if (i !== n - 1 || (i > 0 && f.charCodeAt(i - 1) !== SLASH)) return false;
    } else if (c === PLUS) {
      if ((i > 0 && f.charCodeAt(i - 1) !== SLASH) || (i < n - 1 && f.charCodeAt(i + 1) !== SLASH)) return false;
    }
  }
  return true;
}

/**
 * `$share/{ShareName}/{filter}` → its parts; undefined when `filter` is not a shared subscription; null when it
 * starts with `$share/` but is not a valid one.
 */
export function parseSharedSubscription(filter: string): { shareName: string; filter: string } | undefined | null {
  if (!filter.startsWith('$share/')) return undefined;
  const slash = filter.indexOf('/', 7);
  if (slash <= 7) return null;
  const shareName = filter.slice(7, slash);
  if (shareName.includes('+') || shareName.includes('#')) return null;
  const rest = filter.slice(slash + 1);
  if (rest.length === 0) return null;
  return { shareName, filter: rest };
}

/** Throws the v5 "Topic Name invalid" reason for a PUBLISH topic the spec forbids. */
export function checkTopicName(topic: string, field: string, offset: number): void {
  if (!isValidTopicName(topic)) {
    throw new MqttProtocolError(ReasonCode.TopicNameInvalid, field, offset, `invalid topic name ${JSON.stringify(topic)}`);
  }
}
