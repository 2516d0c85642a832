/**
 * AMQP field tables and arrays, with RabbitMQ's type tags (spec §4.2.5.5 grammar, tags per RabbitMQ's errata
 * https://www.rabbitmq.com/amqp-0-9-1-errata "Field types", which every RabbitMQ client uses; they differ from the
 * 0-9-1 PDF, e.g. the PDF's `s` is a short string and its `l` is unsigned):
 *
 *   field-table = long-uint *field-value-pair          the long is the byte length of the pairs
 *   field-value-pair = field-name field-value           field-name = short-string
 *   field-value = 't' octet (bool, non-zero = true)  | 'b' int8   | 'B' uint8  | 's' int16 | 'u' uint16
 *               | 'I' int32 | 'i' uint32 | 'l' int64 | 'f' float32 | 'd' float64
 *               | 'D' octet scale + uint32 digits    | 'S' long-string | 'x' long-string (byte array)
 *               | 'A' long-uint byte length + *field-value | 'T' uint64 timestamp | 'F' field-table | 'V' (void)
 *
 * Values keep their tag ({ type: 'I', value: 60000 }), so a decoded table re-encodes to the same bytes and a
 * header forwarded by the broker keeps the type its publisher chose. `S` and `x` are Buffers (views of the frame:
 * copy to keep), `l` and `T` are bigints (64 bits). fieldTableFromObject/fieldTableToObject convert from and to
 * plain values with amqplib's rules, for code that does not care about tags.
 *
 * Invariants: every length is checked against the bytes left before anything is read or allocated; a table's
 * pairs (an array's values) must fill its length exactly; nesting deeper than MAX_FIELD_TABLE_DEPTH is refused, so
 * a hostile frame cannot exhaust the stack. Decoding throws only WireError. A key repeated in one table keeps its
 * first value, as RabbitMQ's lookups (lists:keyfind) see it; the repeat is dropped.
 */
import { BufferReader, BufferWriter, WireError } from '../../../wire/index.js';
import { readShortString, shortStringSize, writeShortString } from './data-types.js';

export interface Decimal {
  /** Number of decimal places (0..255). */
  scale: number;
  /** Unsigned 32-bit digits: value = digits / 10^scale. */
  digits: number;
}

export type FieldValue =
  | { type: 't'; value: boolean }
  | { type: 'b' | 'B' | 's' | 'u' | 'I' | 'i' | 'f' | 'd'; value: number }
  | { type: 'l' | 'T'; value: bigint }
  | { type: 'D'; value: Decimal }
  | { type: 'S' | 'x'; value: Buffer }
  | { type: 'A'; value: FieldValue[] }
  | { type: 'F'; value: FieldTable }
  | { type: 'V'; value: null };

export type FieldType = FieldValue['type'];
/** Keys in wire order. */
export type FieldTable = Map<string, FieldValue>;

/** Tables and arrays nested deeper than this are refused (RabbitMQ's own tables nest two or three deep). */
export const MAX_FIELD_TABLE_DEPTH = 64;

const TAG_BOOL = 0x74; // t
const TAG_INT8 = 0x62; // b
const TAG_UINT8 = 0x42; // B
const TAG_INT16 = 0x73; // s
const TAG_UINT16 = 0x75; // u
const TAG_INT32 = 0x49; // I
const TAG_UINT32 = 0x69; // i
const TAG_INT64 = 0x6c; // l
const TAG_FLOAT = 0x66; // f
const TAG_DOUBLE = 0x64; // d
const TAG_DECIMAL = 0x44; // D
const TAG_LONGSTR = 0x53; // S
const TAG_BYTES = 0x78; // x
const TAG_ARRAY = 0x41; // A
const TAG_TIMESTAMP = 0x54; // T
const TAG_TABLE = 0x46; // F
const TAG_VOID = 0x56; // V

// ---------------------------------------------------------------------------------------------------------------
// Decoding

/** Reads a field table (its long length, then its pairs) at the reader's offset. */
export function readFieldTable(r: BufferReader, field: string, depth = 0): FieldTable {
  const len = r.readUInt32(field);
  r.need(field, len);
  const end = r.offset + len;
  const table: FieldTable = new Map();
  if (len === 0) return table;
  if (depth >= MAX_FIELD_TABLE_DEPTH) throw WireError.invalid(field, r.offset, `field tables nested deeper than ${MAX_FIELD_TABLE_DEPTH}`);
  // A sub-reader bounded by the table's length, so a pair cannot run into the bytes after the table.
  const sub = new BufferReader(r.buf, r.offset, end);
  while (sub.offset < end) {
    const key = readShortString(sub, field);
    const value = readFieldValue(sub, field, depth + 1);
    if (!table.has(key)) table.set(key, value);
  }
  r.offset = end;
  return table;
}

function readFieldArray(r: BufferReader, field: string, depth: number): FieldValue[] {
  const len = r.readUInt32(field);
  r.need(field, len);
  const end = r.offset + len;
  // Each value takes at least one byte, so the array cannot outgrow the frame it came from.
  const values: FieldValue[] = [];
  if (len === 0) return values;
  if (depth >= MAX_FIELD_TABLE_DEPTH) throw WireError.invalid(field, r.offset, `field arrays nested deeper than ${MAX_FIELD_TABLE_DEPTH}`);
  const sub = new BufferReader(r.buf, r.offset, end);
  while (sub.offset < end) values.push(readFieldValue(sub, field, depth + 1));
  r.offset = end;
  return values;
}

/** Reads one tagged field value. */
export function readFieldValue(r: BufferReader, field: string, depth = 0): FieldValue {
  const tagOffset = r.offset;
  const tag = r.readUInt8(field);
  switch (tag) {
    case TAG_BOOL:
      return { type: 't', value: r.readUInt8(field) !== 0 };
    case TAG_INT8:
      return { type: 'b', value: r.readInt8(field) };
    case TAG_UINT8:
      return { type: 'B', value: r.readUInt8(field) };
    case TAG_INT16:
      return { type: 's', value: r.readInt16(field) };
    case TAG_UINT16:
      return { type: 'u', value: r.readUInt16(field) };
    case TAG_INT32:
      return { type: 'I', value: r.readInt32(field) };
    case TAG_UINT32:
      return { type: 'i', value: r.readUInt32(field) };
    case TAG_INT64:
      return { type: 'l', value: r.readBigInt64(field) };
    case TAG_FLOAT: {
      r.need(field, 4);
      const v = r.buf.readFloatBE(r.offset);
      r.offset += 4;
      return { type: 'f', value: v };
    }
    case TAG_DOUBLE:
      return { type: 'd', value: r.readFloat64(field) };
    case TAG_DECIMAL: {
      const scale = r.readUInt8(field);
      return { type: 'D', value: { scale, digits: r.readUInt32(field) } };
    }
    case TAG_LONGSTR:
      return { type: 'S', value: r.readBytes(field, r.readUInt32(field)) };
    case TAG_BYTES:
      return { type: 'x', value: r.readBytes(field, r.readUInt32(field)) };
    case TAG_ARRAY:
      return { type: 'A', value: readFieldArray(r, field, depth) };
    case TAG_TIMESTAMP: {
      r.need(field, 8);
      const v = r.buf.readBigUInt64BE(r.offset);
      r.offset += 8;
      return { type: 'T', value: v };
    }
    case TAG_TABLE:
      return { type: 'F', value: readFieldTable(r, field, depth) };
    case TAG_VOID:
      return { type: 'V', value: null };
    default:
      throw WireError.invalid(field, tagOffset, `unknown field-value type tag 0x${tag.toString(16).padStart(2, '0')}`);
  }
}

/** Decodes a whole buffer holding one field table (length prefix included). */
export function decodeFieldTable(buf: Buffer, field = 'table'): FieldTable {
  const r = new BufferReader(buf);
  const t = readFieldTable(r, field);
  if (r.remaining !== 0) throw WireError.invalid(field, r.offset, `${r.remaining} bytes after the table`);
  return t;
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding (two-pass: fieldTableSize, then writeFieldTable into a buffer of that size)

/** Encoded size of a table, its 4-byte length included. Throws RangeError/TypeError for values it cannot encode. */
export function fieldTableSize(t: FieldTable, field = 'table', depth = 0): number {
  if (depth >= MAX_FIELD_TABLE_DEPTH && t.size > 0) throw new RangeError(`AMQP ${field}: field tables nested deeper than ${MAX_FIELD_TABLE_DEPTH}`);
  let n = 4;
  for (const [key, value] of t) n += shortStringSize(key, `${field} key`) + fieldValueSize(value, field, depth + 1);
  return n;
}

function intInRange(v: number, min: number, max: number, type: string, field: string): void {
  if (!(Number.isInteger(v) && v >= min && v <= max)) throw new RangeError(`AMQP ${field}: '${type}' value ${String(v)} is not an integer in [${min}, ${max}]`);
}

/** Encoded size of one tagged value, tag included. */
export function fieldValueSize(v: FieldValue, field = 'table', depth = 0): number {
  switch (v.type) {
    case 't':
    case 'V':
      return v.type === 't' ? 2 : 1;
    case 'b':
      intInRange(v.value, -0x80, 0x7f, v.type, field);
      return 2;
    case 'B':
      intInRange(v.value, 0, 0xff, v.type, field);
      return 2;
    case 's':
      intInRange(v.value, -0x8000, 0x7fff, v.type, field);
      return 3;
    case 'u':
      intInRange(v.value, 0, 0xffff, v.type, field);
      return 3;
    case 'I':
      intInRange(v.value, -0x80000000, 0x7fffffff, v.type, field);
      return 5;
    case 'i':
      intInRange(v.value, 0, 0xffffffff, v.type, field);
      return 5;
    case 'f':
      return 5;
    case 'd':
      return 9;
    case 'l':
      if (v.value < -(1n << 63n) || v.value >= 1n << 63n) throw new RangeError(`AMQP ${field}: 'l' value ${v.value} is not a signed 64-bit integer`);
      return 9;
    case 'T':
      if (v.value < 0n || v.value >= 1n << 64n) throw new RangeError(`AMQP ${field}: 'T' value ${v.value} is not an unsigned 64-bit integer`);
      return 9;
    case 'D':
      intInRange(v.value.scale, 0, 0xff, 'D scale', field);
      intInRange(v.value.digits, 0, 0xffffffff, 'D digits', field);
      return 6;
    case 'S':
    case 'x':
      return 5 + v.value.length;
    case 'A': {
      if (depth >= MAX_FIELD_TABLE_DEPTH && v.value.length > 0) throw new RangeError(`AMQP ${field}: field arrays nested deeper than ${MAX_FIELD_TABLE_DEPTH}`);
      let n = 5;
      for (const item of v.value) n += fieldValueSize(item, field, depth + 1);
      return n;
    }
    case 'F':
      return 1 + fieldTableSize(v.value, field, depth);
    default:
      throw new TypeError(`AMQP ${field}: unknown field-value type ${String((v as { type: unknown }).type)}`);
  }
}

/** Writes a table sized by fieldTableSize. */
export function writeFieldTable(w: BufferWriter, t: FieldTable): void {
  const start = w.offset;
  w.offset += 4; // the length is patched once the pairs are written
  for (const [key, value] of t) {
    writeShortString(w, key);
    writeFieldValue(w, value);
  }
  w.buf.writeUInt32BE(w.offset - start - 4, start);
}

/** Writes one tagged value sized by fieldValueSize. */
export function writeFieldValue(w: BufferWriter, v: FieldValue): void {
  const b = w.buf;
  switch (v.type) {
    case 't':
      b[w.offset] = TAG_BOOL;
      b[w.offset + 1] = v.value ? 1 : 0;
      w.offset += 2;
      return;
    case 'b':
      b[w.offset] = TAG_INT8;
      b.writeInt8(v.value, w.offset + 1);
      w.offset += 2;
      return;
    case 'B':
      b[w.offset] = TAG_UINT8;
      b[w.offset + 1] = v.value;
      w.offset += 2;
      return;
    case 's':
      b[w.offset] = TAG_INT16;
      b.writeInt16BE(v.value, w.offset + 1);
      w.offset += 3;
      return;
    case 'u':
      b[w.offset] = TAG_UINT16;
      b.writeUInt16BE(v.value, w.offset + 1);
      w.offset += 3;
      return;
    case 'I':
      b[w.offset] = TAG_INT32;
      b.writeInt32BE(v.value, w.offset + 1);
      w.offset += 5;
      return;
    case 'i':
      b[w.offset] = TAG_UINT32;
      b.writeUInt32BE(v.value, w.offset + 1);
      w.offset += 5;
      return;
    case 'l':
      b[w.offset] = TAG_INT64;
      b.writeBigInt64BE(v.value, w.offset + 1);
      w.offset += 9;
      return;
    case 'f':
      b[w.offset] = TAG_FLOAT;
      b.writeFloatBE(v.value, w.offset + 1);
      w.offset += 5;
      return;
    case 'd':
      b[w.offset] = TAG_DOUBLE;
      b.writeDoubleBE(v.value, w.offset + 1);
      w.offset += 9;
      return;
    case 'D':
      b[w.offset] = TAG_DECIMAL;
      b[w.offset + 1] = v.value.scale;
      b.writeUInt32BE(v.value.digits, w.offset + 2);
      w.offset += 6;
      return;
    case 'S':
    case 'x':
      b[w.offset] = v.type === 'S' ? TAG_LONGSTR : TAG_BYTES;
      b.writeUInt32BE(v.value.length, w.offset + 1);
      v.value.copy(b, w.offset + 5);
      w.offset += 5 + v.value.length;
      return;
    case 'A': {
      b[w.offset] = TAG_ARRAY;
      const start = w.offset + 1;
      w.offset += 5;
      for (const item of v.value) writeFieldValue(w, item);
      b.writeUInt32BE(w.offset - start - 4, start);
      return;
    }
    case 'T':
      b[w.offset] = TAG_TIMESTAMP;
      b.writeBigUInt64BE(v.value, w.offset + 1);
      w.offset += 9;
      return;
    case 'F':
      b[w.offset++] = TAG_TABLE;
      writeFieldTable(w, v.value);
      return;
    case 'V':
      b[w.offset++] = TAG_VOID;
      return;
  }
}

/** One buffer holding the table (length prefix included). */
export function encodeFieldTable(t: FieldTable): Buffer {
  const w = BufferWriter.alloc(fieldTableSize(t));
  writeFieldTable(w, t);
  return w.buf;
}

// ---------------------------------------------------------------------------------------------------------------
// Plain values, amqplib's way (codec.js encodeFieldValue): integers take the smallest of b/s/I/l that holds them,
// other numbers d; strings S; booleans t; null/undefined-free V; Buffers x; arrays A; objects F. The inverse
// turns S into a UTF-8 string, l/T into a number when it is a safe integer, D into { scale, digits }.

export type PlainFieldValue = null | boolean | number | bigint | string | Buffer | PlainFieldValue[] | { [key: string]: PlainFieldValue };

/** A table from a plain object (keys in the object's order; undefined values are skipped, as amqplib does). */
export function fieldTableFromObject(obj: { readonly [key: string]: PlainFieldValue | undefined }): FieldTable {
  const t: FieldTable = new Map();
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    if (v !== undefined) t.set(key, fieldValueFromPlain(v));
  }
  return t;
}

export function fieldValueFromPlain(v: PlainFieldValue): FieldValue {
  if (v === null) return { type: 'V', value: null };
  switch (typeof v) {
    case 'boolean':
      return { type: 't', value: v };
    case 'string':
      return { type: 'S', value: Buffer.from(v, 'utf8') };
    case 'bigint':
      return { type: 'l', value: v };
    case 'number':
      if (!Number.isInteger(v)) return { type: 'd', value: v };
      if (v >= -0x80 && v < 0x80) return { type: 'b', value: v };
      if (v >= -0x8000 && v < 0x8000) return { type: 's', value: v };
      if (v >= -0x80000000 && v < 0x80000000) return { type: 'I', value: v };
      if (Number.isSafeInteger(v)) return { type: 'l', value: BigInt(v) };
      return { type: 'd', value: v };
    default:
      if (Buffer.isBuffer(v)) return { type: 'x', value: v };
      if (Array.isArray(v)) return { type: 'A', value: v.map(fieldValueFromPlain) };
      return { type: 'F', value: fieldTableFromObject(v as { [key: string]: PlainFieldValue }) };
  }
}

/** A plain object from a table (a null-prototype object, so a `__proto__` key is just a key). */
export function fieldTableToObject(t: FieldTable): { [key: string]: PlainFieldValue } {
  const out: { [key: string]: PlainFieldValue } = Object.create(null) as { [key: string]: PlainFieldValue };
  for (const [key, v] of t) out[key] = fieldValueToPlain(v);
  return out;
}

export function fieldValueToPlain(v: FieldValue): PlainFieldValue {
  switch (v.type) {
    case 'S':
      return v.value.toString('utf8');
    case 'l':
    case 'T': {
      const n = Number(v.value);
      return Number.isSafeInteger(n) ? n : v.value;
    }
    case 'A':
      return v.value.map(fieldValueToPlain);
    case 'F':
      return fieldTableToObject(v.value);
    case 'D':
      return { scale: v.value.scale, digits: v.value.digits };
    default:
      return v.value;
  }
}
