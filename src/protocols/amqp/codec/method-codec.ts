/**
 * Generic AMQP 0-9-1 method codec over the generated tables in methods.ts (spec §2.3.5.1 / §4.2.4 "Method
 * Payloads"):
 *
 *   method-payload = class-id:short method-id:short *amqp-field
 *
 * Fields are written in spec order; consecutive `bit` fields share one octet, the first in the least
 * significant bit (§4.2.5.2 "Bits"; FieldSpec.bit says where each goes). Decoding is strict, as RabbitMQ's
 * binary pattern matches are: an unknown class/method, a truncated field or bytes left over after the last field
 * are all WireErrors (the connection answers 501 FRAME_ERROR, RabbitMQ's "cannot decode"; 540 NOT_IMPLEMENTED is
 * the connection's choice for a known-but-unsupported method). Short strings are decoded as UTF-8 strings, long
 * strings as views of the payload (copy to keep), tables as FieldTable.
 *
 * Encoding is two-pass: methodArgsSize() walks the fields once (UTF-8 lengths, table sizes, range checks), the
 * caller allocates once, writeMethodArgs() writes forward. A value that cannot be encoded (a short string over
 * 255 bytes, an integer out of its type's range, a missing field without a spec default) is a RangeError or
 * TypeError from the first pass, before anything is allocated.
 */
import { BufferReader, BufferWriter, WireError } from '../../../wire/index.js';
import {
  checkUnsigned,
  longStringSize,
  MAX_LONG,
  MAX_LONGLONG,
  MAX_OCTET,
  MAX_SHORT,
  readLongLong,
  readLongString,
  readShortString,
  shortStringSize,
  writeLongLong,
  writeLongString,
  writeShortString,
} from './data-types.js';
import { fieldTableSize, readFieldTable, writeFieldTable, type FieldTable } from './field-table.js';
import { contentHeaderSize, writeContentHeaderFrame, type ContentHeader } from './content-header.js';
import { bodyFramesSize, FRAME_OVERHEAD, writeBodyFrames, writeFrameEnd, writeFrameHeader } from './frame.js';
import { FrameType, METHODS, type FieldSpec, type MethodArgs, type MethodInit, type MethodName, type MethodSpec } from './methods.js';

/** A decoded method: its name (which fixes the shape of args) and its arguments. */
export type Method = { [K in MethodName]: { name: K; args: MethodArgs[K] } }[MethodName];

/** (classId << 16 | methodId) → spec, for decoding. */
export const METHOD_BY_KEY: ReadonlyMap<number, MethodSpec> = new Map(Object.values(METHODS).map((m: MethodSpec) => [m.key, m]));

/** The spec of a class/method id pair, or undefined. */
export function methodSpecById(classId: number, methodId: number): MethodSpec | undefined {
  return METHOD_BY_KEY.get(classId * 0x10000 + methodId);
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding

/** Decodes a method frame's whole payload. */
export function decodeMethod(payload: Buffer): Method {
  const r = new BufferReader(payload);
  const classId = r.readUInt16('class-id');
  const methodId = r.readUInt16('method-id');
  const spec = METHOD_BY_KEY.get(classId * 0x10000 + methodId);
  if (spec === undefined) throw WireError.invalid('method-id', 0, `unknown method ${classId}/${methodId}`);
  const args = readMethodArgs(r, spec);
  if (r.remaining !== 0) throw WireError.invalid(spec.wireName, r.offset, `${r.remaining} bytes after the last field`);
  return { name: spec.name, args } as Method;
}

/** Reads the arguments of `spec` at the reader's offset (after the class and method ids). */
export function readMethodArgs(r: BufferReader, spec: MethodSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = spec.fields;
  let bits = 0;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    switch (f.type) {
      case 'bit':
        if (f.bit === 0) bits = r.readUInt8(f.wireName);
        out[f.name] = ((bits >> f.bit) & 1) === 1;
        break;
      case 'octet':
        out[f.name] = r.readUInt8(f.wireName);
        break;
      case 'short':
        out[f.name] = r.readUInt16(f.wireName);
        break;
      case 'long':
        out[f.name] = r.readUInt32(f.wireName);
        break;
      case 'longlong':
      case 'timestamp':
        out[f.name] = readLongLong(r, f.wireName);
        break;
      case 'shortstr':
        out[f.name] = readShortString(r, f.wireName);
        break;
      case 'longstr':
        out[f.name] = readLongString(r, f.wireName);
        break;
      case 'table':
        out[f.name] = readFieldTable(r, f.wireName);
        break;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding

function valueOf(f: FieldSpec, args: Record<string, unknown>, spec: MethodSpec): unknown {
  const v = args[f.name];
  if (v !== undefined) return v;
  if (f.defaultValue !== undefined) return f.defaultValue;
  throw new TypeError(`AMQP ${spec.wireName}: ${f.name} is required`);
}

/**
 * The error labels (`<method> <field>`) of each spec's fields, built once per spec: building them on every encode
 * allocated one string per field of every method sent (basic.deliver, basic.ack) though only errors read them.
 */
const fieldLabels = new WeakMap<MethodSpec, string[]>();

function labelsOf(spec: MethodSpec): string[] {
  let labels = fieldLabels.get(spec);
  if (labels === undefined) {
    labels = spec.fields.map((f) => `${spec.wireName} ${f.name}`);
    fieldLabels.set(spec, labels);
  }
  return labels;
}

/** Encoded size of the arguments (class and method ids excluded). Validates every value. */
export function methodArgsSize(spec: MethodSpec, args: object): number {
  const a = args as Record<string, unknown>;
  const fields = spec.fields;
  const labels = labelsOf(spec);
  let n = 0;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    const v = valueOf(f, a, spec);
    switch (f.type) {
      case 'bit':
        if (typeof v !== 'boolean') throw new TypeError(`AMQP ${spec.wireName}: ${f.name} must be a boolean`);
        if (f.bit === 0) n += 1;
        break;
      case 'octet':
        checkUnsigned(v as number, MAX_OCTET, labels[i]);
        n += 1;
        break;
      case 'short':
        checkUnsigned(v as number, MAX_SHORT, labels[i]);
        n += 2;
        break;
      case 'long':
        checkUnsigned(v as number, MAX_LONG, labels[i]);
        n += 4;
        break;
      case 'longlong':
      case 'timestamp':
        checkUnsigned(v as number, MAX_LONGLONG, labels[i]);
        n += 8;
        break;
      case 'shortstr':
        if (typeof v !== 'string') throw new TypeError(`AMQP ${spec.wireName}: ${f.name} must be a string`);
        n += shortStringSize(v, labels[i]);
        break;
      case 'longstr':
        if (!Buffer.isBuffer(v)) throw new TypeError(`AMQP ${spec.wireName}: ${f.name} must be a Buffer`);
        n += longStringSize(v);
        break;
      case 'table':
        if (!(v instanceof Map)) throw new TypeError(`AMQP ${spec.wireName}: ${f.name} must be a FieldTable (Map)`);
        n += fieldTableSize(v as FieldTable, labels[i]);
        break;
    }
  }
  return n;
}

/** Writes arguments already validated and sized by methodArgsSize. */
export function writeMethodArgs(w: BufferWriter, spec: MethodSpec, args: object): void {
  const a = args as Record<string, unknown>;
  const fields = spec.fields;
  let bitsAt = -1;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    const v = valueOf(f, a, spec);
    switch (f.type) {
      case 'bit':
        if (f.bit === 0) {
          bitsAt = w.offset;
          w.writeUInt8(0);
        }
        if (v === true) w.buf[bitsAt] |= 1 << f.bit;
        break;
      case 'octet':
        w.writeUInt8(v as number);
        break;
      case 'short':
        w.writeUInt16(v as number);
        break;
      case 'long':
        w.writeUInt32(v as number);
        break;
      case 'longlong':
      case 'timestamp':
        writeLongLong(w, v as number);
        break;
      case 'shortstr':
        writeShortString(w, v as string);
        break;
      case 'longstr':
        writeLongString(w, v as Buffer);
        break;
      case 'table':
        writeFieldTable(w, v as FieldTable);
        break;
    }
  }
}

/** Size of a method frame's payload (ids included). */
export function methodPayloadSize<K extends MethodName>(name: K, args: MethodInit<K>): number {
  return 4 + methodArgsSize(METHODS[name], args);
}

/** A method frame's payload: class-id, method-id, arguments. */
export function encodeMethod<K extends MethodName>(name: K, args: MethodInit<K>): Buffer {
  const spec = METHODS[name];
  const w = BufferWriter.alloc(4 + methodArgsSize(spec, args));
  w.writeUInt16(spec.classId);
  w.writeUInt16(spec.methodId);
  writeMethodArgs(w, spec, args);
  return w.buf;
}

/** Size of a whole method frame (header and frame-end included), for batching several frames in one buffer. */
export function methodFrameSize<K extends MethodName>(name: K, args: MethodInit<K>): number {
  return FRAME_OVERHEAD + 4 + methodArgsSize(METHODS[name], args);
}

/** Writes a whole method frame; `payloadSize` is methodPayloadSize(name, args), computed once by the caller. */
export function writeMethodFrame<K extends MethodName>(w: BufferWriter, channel: number, name: K, args: MethodInit<K>, payloadSize: number): void {
  const spec = METHODS[name];
  writeFrameHeader(w, FrameType.METHOD, channel, payloadSize);
  const start = w.offset;
  w.writeUInt16(spec.classId);
  w.writeUInt16(spec.methodId);
  writeMethodArgs(w, spec, args);
  if (w.offset - start !== payloadSize) throw new RangeError(`AMQP ${spec.wireName}: payloadSize ${payloadSize} does not match ${w.offset - start}`);
  writeFrameEnd(w);
}

/** One method frame in one buffer of its exact size. */
export function encodeMethodFrame<K extends MethodName>(channel: number, name: K, args: MethodInit<K>): Buffer {
  const payloadSize = methodPayloadSize(name, args);
  const w = BufferWriter.alloc(payloadSize + FRAME_OVERHEAD);
  writeMethodFrame(w, channel, name, args, payloadSize);
  return w.buf;
}

/**
 * A content-carrying method (basic.publish, basic.deliver, basic.get-ok, basic.return), its content header and
 * its body frames (each at most frameMax bytes; none for an empty body) in one buffer: one allocation and one
 * socket write per message. `header.bodySize` must equal body.length.
 */
export function encodeMethodWithContent<K extends MethodName>(
  channel: number,
  name: K,
  args: MethodInit<K>,
  header: ContentHeader,
  body: Buffer,
  frameMax: number,
): Buffer {
  if (header.bodySize !== body.length) throw new RangeError(`AMQP content: bodySize ${header.bodySize} but the body has ${body.length} bytes`);
  const methodSize = methodPayloadSize(name, args);
  const headerSize = contentHeaderSize(header);
  const w = BufferWriter.alloc(methodSize + headerSize + 2 * FRAME_OVERHEAD + bodyFramesSize(body.length, frameMax));
  writeMethodFrame(w, channel, name, args, methodSize);
  writeContentHeaderFrame(w, channel, header, headerSize);
  writeBodyFrames(w, channel, body, frameMax);
  return w.buf;
}

/**
 * As encodeMethodWithContent, but with the content header given as the payload bytes it arrived in: the
 * pass-through a broker uses to deliver a message without decoding and re-encoding its properties.
 */
export function encodeMethodWithRawContent<K extends MethodName>(
  channel: number,
  name: K,
  args: MethodInit<K>,
  headerPayload: Buffer,
  body: Buffer,
  frameMax: number,
): Buffer {
  const methodSize = methodPayloadSize(name, args);
  const w = BufferWriter.alloc(methodSize + headerPayload.length + 2 * FRAME_OVERHEAD + bodyFramesSize(body.length, frameMax));
  writeMethodFrame(w, channel, name, args, methodSize);
  writeFrameHeader(w, FrameType.HEADER, channel, headerPayload.length);
  w.writeBytes(headerPayload);
  writeFrameEnd(w);
  writeBodyFrames(w, channel, body, frameMax);
  return w.buf;
}
