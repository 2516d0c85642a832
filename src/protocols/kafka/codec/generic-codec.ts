/**
 * The one generic Kafka codec: decode(reader, schema, version) / encode(writer, schema, version, value), driven by
 * the generated field tables (codec/schema/*.ts). Encodings per shared specs kafka/PROTOCOL-BASICS.md
 * "Primitive types used by the JSON schemas" and kafka/README.md ("Nullable Fields", "Tagged Fields",
 * "Flexible Versions", "Custom Default Values", "Ignorable Fields"):
 *
 *   non-flexible: string = int16 len (-1 null) + UTF-8;  bytes/records = int32 len (-1 null);  []T = int32 count (-1 null)
 *   flexible:     string/bytes/records = uvarint (len+1), 0 = null;  []T = uvarint (count+1), 0 = null;
 *                 every struct (and the body) ends with a tagged-field section:
 *                 uvarint count, then per field uvarint tag, uvarint size, size bytes
 *   nullable struct (KIP-848 era): int8 -1 = null, 1 = present, then the struct
 *
 * How it works: a (schema, version) pair is compiled once into a Plan — the fields on the wire in that version
 * in order, each with nullability and compactness already resolved, the known tagged fields by tag, and the
 * fields absent in that version — and cached, so decoding walks a flat list with no version tests.
 *
 * Invariants:
 * - Decoding throws only WireError. Every length and count is checked against the bytes remaining BEFORE
 *   anything is allocated (STYLE §3.2): an array count needs count × (minimum element size, at least 1) bytes.
 * - Byte fields (bytes, records) are views into the input buffer, not copies; the caller copies what it keeps.
 *   Decoded from a ChunksReader (a frame kept as its socket reads), a records field spanning reads comes back
 *   as ByteChunks (the views), so a large Produce is never joined; request types say `Buffer | ByteChunks`.
 * - Unknown tagged fields are kept as raw bytes in `unknownTaggedFields` and written back on encode, in tag
 *   order with the known ones, so decode → encode reproduces the frame.
 * - Encoding is two-pass: sizeOf() walks the value once and records every string's UTF-8 length and every
 *   tagged field's size in an EncodeContext; write() walks again into a buffer allocated once at that size.
 *   Encoding errors (a null in a non-nullable field, a non-default value in a version that lacks a
 *   non-ignorable field, a string over 32767 bytes) are programming errors and throw KafkaEncodeError.
 * - Not re-entrant per EncodeContext; the module-level context is used only inside synchronous calls.
 */
import { BufferReader, BufferWriter, ByteChunks, WireError, sizeOfUnsignedVarint } from '../../../wire/index.js';
import { inRange, ZERO_UUID, type Encodable, type FieldSpec, type MessageSchema, type RawTaggedField, type StructFactory } from './message-schema.js';

/** A value could not be encoded: the caller built a message this schema version cannot carry. */
export class KafkaEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KafkaEncodeError';
  }
}

// Field kinds as small integers: the hot loops switch on these.
const K_INT8 = 0;
const K_INT16 = 1;
const K_UINT16 = 2;
const K_INT32 = 3;
const K_UINT32 = 4;
const K_INT64 = 5;
const K_FLOAT64 = 6;
const K_BOOL = 7;
const K_STRING = 8;
const K_BYTES = 9;
const K_UUID = 10;
const K_RECORDS = 11;
const K_STRUCT = 12;
const K_ARRAY = 13;

const KIND: Record<string, number> = {
  int8: K_INT8,
  int16: K_INT16,
  uint16: K_UINT16,
  int32: K_INT32,
  uint32: K_UINT32,
  int64: K_INT64,
  float64: K_FLOAT64,
  bool: K_BOOL,
  string: K_STRING,
  bytes: K_BYTES,
  uuid: K_UUID,
  records: K_RECORDS,
  struct: K_STRUCT,
  array: K_ARRAY,
};

/** Smallest encoding of each fixed kind (variable kinds: their smallest length prefix). */
function minSizeOf(kind: number, compact: boolean, nullableStruct: boolean, sub: Plan | null): number {
  switch (kind) {
    case K_INT8:
    case K_BOOL:
      return 1;
    case K_INT16:
    case K_UINT16:
      return 2;
    case K_INT32:
    case K_UINT32:
      return 4;
    case K_INT64:
    case K_FLOAT64:
      return 8;
    case K_UUID:
      return 16;
    case K_STRING:
      return compact ? 1 : 2;
    case K_BYTES:
    case K_RECORDS:
    case K_ARRAY:
      return compact ? 1 : 4;
    case K_STRUCT:
      return nullableStruct ? 1 : (sub?.minSize ?? 0);
    default:
      return 0;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Node's Buffer.prototype.utf8Slice/utf8Write: what toString('utf8', a, b) and write(s, o, n, 'utf8') call after
 * argument checks we have already done (measured ~40% cheaper on short strings; present since Node 0.x).
 */
interface FastUtf8Buffer extends Buffer {
  utf8Slice(start: number, end: number): string;
  utf8Write(s: string, offset: number, length: number): number;
}
const EMPTY_TAGS: RawTaggedField[] = [];

/** One field as it is on the wire in one version. */
interface PlanField {
  readonly key: string;
  /** For error messages: `ProduceRequest.topicData.partitionData.records`. */
  readonly path: string;
  readonly kind: number;
  readonly nullable: boolean;
  readonly compact: boolean;
  readonly ignorable: boolean;
  readonly tag: number;
  /** Scalar default, or null for defaultNull fields. */
  readonly def: unknown;
  readonly defaultNull: boolean;
  /** Struct / array-of-struct element plan. */
  readonly sub: Plan | null;
  /** Array element (a pseudo-field: not nullable, same compactness). */
  readonly item: PlanField | null;
  readonly minSize: number;
}

const MODE_READ = 0;
const MODE_DEFAULT = 1;
const MODE_TAGGED = 2;

interface Plan {
  readonly name: string;
  /** Every field of the struct in schema order (absent ones too, so decoded objects have one shape). */
  readonly order: PlanField[];
  readonly modes: Uint8Array;
  /** Fields on the wire (not tagged), in order. */
  readonly wire: PlanField[];
  /** Known tagged fields in this version, ascending tag. */
  readonly tagged: PlanField[];
  /** Fields not in this version (neither on the wire nor tagged). */
  readonly absent: PlanField[];
  readonly flexible: boolean;
  readonly minSize: number;
  readonly make: StructFactory;
  /** Scratch for field values while decoding one struct (a plan never contains itself, so never re-entered). */
  readonly values: unknown[];
  /** `${name}.taggedFields`, for errors, built once. */
  readonly tagsField: string;
}

function genericFactory(fields: readonly FieldSpec[]): StructFactory {
  return (values) => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < fields.length; i++) o[fields[i].name] = values[i];
    return o;
  };
}

function compileStruct(name: string, fields: readonly FieldSpec[], version: number, flexible: boolean, make: StructFactory | undefined): Plan {
  const order: PlanField[] = [];
  const modes: number[] = [];
  const wire: PlanField[] = [];
  const tagged: PlanField[] = [];
  const absent: PlanField[] = [];
  let minSize = flexible ? 1 : 0;
  for (const f of fields) {
    const pf = compileField(`${name}.${f.name}`, f, version, flexible);
    order.push(pf);
    if (f.taggedVersions !== undefined && inRange(f.taggedVersions, version) && flexible) {
      modes.push(MODE_TAGGED);
      tagged.push(pf);
    } else if (inRange(f.versions, version)) {
      modes.push(MODE_READ);
      wire.push(pf);
      minSize += pf.minSize;
    } else {
      modes.push(MODE_DEFAULT);
      absent.push(pf);
    }
  }
  tagged.sort((a, b) => a.tag - b.tag);
  return { name, order, modes: Uint8Array.from(modes), wire, tagged, absent, flexible, minSize, make: make ?? genericFactory(fields), values: new Array<unknown>(fields.length), tagsField: `${name}.taggedFields` };
}

function compileField(path: string, f: FieldSpec, version: number, messageFlexible: boolean): PlanField {
  const kind = KIND[f.type];
  const compact = f.flexibleVersions !== undefined ? inRange(f.flexibleVersions, version) : messageFlexible;
  const nullable = inRange(f.nullableVersions, version);
  let sub: Plan | null = null;
  let item: PlanField | null = null;
  if (kind === K_STRUCT || (kind === K_ARRAY && f.items === 'struct')) {
    sub = compileStruct(path, f.fields ?? [], version, messageFlexible, f.make);
  }
  if (kind === K_ARRAY) {
    const itemKind = KIND[f.items ?? 'struct'];
    item = {
      key: '',
      path: `${path}[]`,
      kind: itemKind,
      nullable: false,
      compact,
      ignorable: false,
      tag: -1,
      def: defaultScalar(itemKind),
      defaultNull: false,
      sub,
      item: null,
      minSize: minSizeOf(itemKind, compact, false, sub),
    };
  }
  const isStructLike = kind === K_STRUCT || kind === K_ARRAY || kind === K_BYTES || kind === K_RECORDS;
  const defaultNull = f.defaultNull === true || (!isStructLike && f.default === null);
  return {
    key: f.name,
    path,
    kind,
    nullable,
    compact,
    ignorable: f.ignorable === true,
    tag: f.tag ?? -1,
    def: isStructLike ? null : f.default === undefined ? defaultScalar(kind) : f.default,
    defaultNull,
    sub,
    item,
    minSize: minSizeOf(kind, compact, kind === K_STRUCT && nullable, sub),
  };
}

function defaultScalar(kind: number): unknown {
  switch (kind) {
    case K_BOOL:
      return false;
    case K_STRING:
      return '';
    case K_UUID:
      return ZERO_UUID;
    default:
      return 0;
  }
}

const plans = new WeakMap<MessageSchema, Plan[]>();

/** The compiled plan of `schema` at `version` (cached). The version must be in validVersions. */
function planOf(schema: MessageSchema, version: number): Plan {
  let byVersion = plans.get(schema);
  if (byVersion === undefined) {
    byVersion = [];
    plans.set(schema, byVersion);
  }
  let plan = byVersion[version];
  if (plan === undefined) {
    plan = compileStruct(schema.name, schema.fields, version, inRange(schema.flexibleVersions, version), schema.make);
    byVersion[version] = plan;
  }
  return plan;
}

function checkVersion(schema: MessageSchema, version: number, reader: BufferReader | null): void {
  if (!Number.isInteger(version) || version < schema.validVersions[0] || version > schema.validVersions[1]) {
    const msg = `${schema.name} has no version ${version} (valid ${schema.validVersions[0]}-${schema.validVersions[1]})`;
    if (reader !== null) throw WireError.invalid(`${schema.name}.apiVersion`, reader.offset, msg);
    throw new KafkaEncodeError(msg);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Defaults

function defaultOf(f: PlanField): unknown {
  if (f.defaultNull) return null;
  switch (f.kind) {
    case K_ARRAY:
      return [];
    case K_BYTES:
      return EMPTY;
    case K_RECORDS:
      return null;
    case K_STRUCT:
      return defaultStruct(f.sub!);
    default:
      return f.def;
  }
}

function defaultStruct(p: Plan): Record<string, unknown> {
  const values = new Array<unknown>(p.order.length);
  for (let i = 0; i < p.order.length; i++) values[i] = defaultOf(p.order[i]);
  return p.make(values) as Record<string, unknown>;
}

function isDefault(f: PlanField, v: unknown): boolean {
  if (v === null) return f.defaultNull || (f.kind === K_RECORDS);
  if (f.defaultNull) return false;
  switch (f.kind) {
    case K_ARRAY:
      return (v as unknown[]).length === 0;
    case K_BYTES:
      return (v as Buffer).length === 0;
    case K_RECORDS:
      return false;
    case K_STRUCT: {
      const o = v as Record<string, unknown>;
      for (const sf of f.sub!.order) {
        const sv = o[sf.key];
        if (sv !== undefined && !isDefault(sf, sv)) return false;
      }
      return true;
    }
    default:
      return v === f.def;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Decoding

/** Decodes one `schema` message of `version` from `reader`, advancing it. Throws only WireError. */
export function decode<T>(reader: BufferReader, schema: MessageSchema<T>, version: number): T {
  checkVersion(schema, version, reader);
  return readStruct(reader, planOf(schema, version)) as T;
}

/** Decodes a whole buffer (trailing bytes are ignored, as Kafka does). */
export function decodeBuffer<T>(buf: Buffer, schema: MessageSchema<T>, version: number): T {
  return decode(new BufferReader(buf), schema, version);
}

function readStruct(r: BufferReader, p: Plan): Record<string, unknown> {
  const order = p.order;
  const modes = p.modes;
  const values = p.values;
  for (let i = 0; i < order.length; i++) {
    const f = order[i];
    values[i] = modes[i] === MODE_READ ? readValue(r, f) : defaultOf(f);
  }
  const o = p.make(values) as Record<string, unknown>;
  // Drop references so the scratch array does not keep a frame's buffers alive.
  values.fill(undefined);
  if (p.flexible) readTaggedFields(r, p, o);
  return o;
}

function readTaggedFields(r: BufferReader, p: Plan, o: Record<string, unknown>): void {
  const field = p.tagsField;
  const start = r.offset;
  const count = r.readUnsignedVarint(field);
  if (count === 0) return;
  // Each tagged field takes at least two bytes (tag and size).
  if (count * 2 > r.remaining) throw new WireError(field, start, count * 2, r.remaining);
  for (let i = 0; i < count; i++) {
    const tag = r.readUnsignedVarint(field);
    const size = r.readUnsignedVarint(field);
    r.need(field, size);
    const end = r.offset + size;
    let known: PlanField | undefined;
    for (const t of p.tagged) {
      if (t.tag === tag) {
        known = t;
        break;
      }
    }
    if (known !== undefined) {
      // Decode inside exactly `size` bytes: a field that claims more than its size cannot read past it.
      o[known.key] = readValue(new BufferReader(r.buf, r.offset, end), known);
      r.offset = end;
    } else {
      let unknown = o.unknownTaggedFields as RawTaggedField[] | undefined;
      if (unknown === undefined) o.unknownTaggedFields = unknown = [];
      unknown.push({ tag, data: r.readBytes(field, size) });
    }
  }
}

function readLength(r: BufferReader, f: PlanField, wide: boolean): number {
  // Returns -1 for null; throws for negative lengths other than -1 and for null in a non-nullable field.
  const at = r.offset;
  let n: number;
  if (f.compact) n = r.readUnsignedVarint(f.path) - 1;
  else n = wide ? r.readInt32(f.path) : r.readInt16(f.path);
  if (n < -1) throw WireError.invalid(f.path, at, `negative length ${n}`);
  if (n === -1 && !f.nullable) throw WireError.invalid(f.path, at, 'null in a non-nullable field');
  return n;
}

function readValue(r: BufferReader, f: PlanField): unknown {
  switch (f.kind) {
    case K_INT8:
      return r.readInt8(f.path);
    case K_INT16:
      return r.readInt16(f.path);
    case K_UINT16:
      return r.readUInt16(f.path);
    case K_INT32:
      return r.readInt32(f.path);
    case K_UINT32:
      return r.readUInt32(f.path);
    case K_INT64:
      return r.readInt64(f.path);
    case K_FLOAT64:
      return r.readFloat64(f.path);
    case K_BOOL:
      return r.readUInt8(f.path) !== 0;
    case K_STRING: {
      const n = readLength(r, f, false);
      if (n < 0) return null;
      r.need(f.path, n);
      const s = n === 0 ? '' : (r.buf as FastUtf8Buffer).utf8Slice(r.offset, r.offset + n);
      r.offset += n;
      return s;
    }
    case K_BYTES: {
      const n = readLength(r, f, true);
      if (n < 0) return null;
      return r.readBytes(f.path, n);
    }
    case K_RECORDS: {
      const n = readLength(r, f, true);
      if (n < 0) return null;
      return r.readRecords(f.path, n);
    }
    case K_UUID:
      return r.readBytes(f.path, 16).toString('base64url');
    case K_STRUCT: {
      if (f.nullable && r.readInt8(f.path) < 0) return null;
      return readStruct(r, f.sub!);
    }
    case K_ARRAY: {
      const at = r.offset;
      const n = readLength(r, f, true);
      if (n < 0) return null;
      const item = f.item!;
      // Guard the count before allocating (STYLE §3.2): count × smallest element must fit in what is left.
      const need = n * (item.minSize > 0 ? item.minSize : 1);
      if (need > r.remaining) throw new WireError(f.path, at, need, r.remaining, `wire: ${f.path} at offset ${at}: array of ${n} needs at least ${need} bytes, have ${r.remaining}`);
      const out = new Array<unknown>(n);
      for (let i = 0; i < n; i++) out[i] = readValue(r, item);
      return out;
    }
    default:
      throw WireError.invalid(f.path, r.offset, `unknown field kind ${f.kind}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Encoding

/**
 * Carries what the sizing pass learned (UTF-8 lengths, tagged-field sizes and counts) to the writing pass, in
 * visiting order, so nothing is measured twice.
 */
export class EncodeContext {
  lens: number[] = [];
  next = 0;

  reset(): this {
    this.lens.length = 0;
    this.next = 0;
    return this;
  }

  /** Between the sizing pass and the writing pass. */
  rewind(): this {
    this.next = 0;
    return this;
  }
}

const sharedContext = new EncodeContext();

/** Encoded size of `value` as `schema` v`version`; fills `ctx` for a following write(). */
export function sizeOf<T>(schema: MessageSchema<T>, version: number, value: Encodable<T>, ctx: EncodeContext = new EncodeContext()): number {
  checkVersion(schema, version, null);
  return sizeStruct(planOf(schema, version), value as Record<string, unknown>, ctx);
}

/**
 * Writes `value` after sizeOf() filled `ctx` with the same arguments. Several messages may be sized into one
 * context and then written in the same order after one `ctx.rewind()` (a header and a body, say).
 */
export function write<T>(writer: BufferWriter, schema: MessageSchema<T>, version: number, value: Encodable<T>, ctx: EncodeContext): void {
  writeStruct(writer, planOf(schema, version), value as Record<string, unknown>, ctx);
}

/** Encodes `value` as `schema` v`version` at the writer's offset. The writer must have room (see encodedSize). */
export function encode<T>(writer: BufferWriter, schema: MessageSchema<T>, version: number, value: Encodable<T>): void {
  const ctx = sharedContext.reset();
  sizeOf(schema, version, value, ctx);
  write(writer, schema, version, value, ctx.rewind());
}

export function encodedSize<T>(schema: MessageSchema<T>, version: number, value: Encodable<T>): number {
  return sizeOf(schema, version, value, sharedContext.reset());
}

/** Encodes into a fresh buffer of exactly the encoded size (one allocation). */
export function encodeToBuffer<T>(schema: MessageSchema<T>, version: number, value: Encodable<T>): Buffer {
  const ctx = sharedContext.reset();
  const size = sizeOf(schema, version, value, ctx);
  const w = BufferWriter.alloc(size);
  write(w, schema, version, value, ctx.rewind());
  return w.buf;
}

function lengthPrefixSize(f: PlanField, n: number, wide: boolean): number {
  return f.compact ? sizeOfUnsignedVarint(n + 1) : wide ? 4 : 2;
}

function sizeStruct(p: Plan, o: Record<string, unknown>, ctx: EncodeContext): number {
  let s = 0;
  const wire = p.wire;
  for (let i = 0; i < wire.length; i++) {
    const f = wire[i];
    s += sizeValue(f, o[f.key], ctx);
  }
  const absent = p.absent;
  for (let i = 0; i < absent.length; i++) {
    const f = absent[i];
    const v = o[f.key];
    if (v !== undefined && !f.ignorable && !isDefault(f, v)) {
      throw new KafkaEncodeError(`${f.path} is not in this version of ${p.name.split('.')[0]} and is not ignorable, but has a non-default value`);
    }
  }
  if (p.flexible) s += sizeTaggedFields(p, o, ctx);
  return s;
}

function sizeTaggedFields(p: Plan, o: Record<string, unknown>, ctx: EncodeContext): number {
  const unknown = (o.unknownTaggedFields as RawTaggedField[] | undefined) ?? EMPTY_TAGS;
  if (p.tagged.length === 0 && unknown.length === 0) {
    ctx.lens.push(0);
    return 1;
  }
  const countSlot = ctx.lens.length;
  ctx.lens.push(0);
  let count = 0;
  let s = 0;
  for (const f of p.tagged) {
    const v = o[f.key];
    if (v === undefined || isDefault(f, v)) continue;
    const slot = ctx.lens.length;
    ctx.lens.push(0);
    const size = sizeValue(f, v, ctx);
    ctx.lens[slot] = size;
    s += sizeOfUnsignedVarint(f.tag) + sizeOfUnsignedVarint(size) + size;
    count++;
  }
  for (const t of unknown) {
    s += sizeOfUnsignedVarint(t.tag) + sizeOfUnsignedVarint(t.data.length) + t.data.length;
    count++;
  }
  ctx.lens[countSlot] = count;
  return s + sizeOfUnsignedVarint(count);
}

function nullError(f: PlanField): KafkaEncodeError {
  return new KafkaEncodeError(`${f.path} is null but not nullable in this version`);
}

function sizeValue(f: PlanField, v: unknown, ctx: EncodeContext): number {
  if (v === undefined) v = defaultOf(f);
  switch (f.kind) {
    case K_INT8:
    case K_BOOL:
      return 1;
    case K_INT16:
    case K_UINT16:
      return 2;
    case K_INT32:
    case K_UINT32:
      return 4;
    case K_INT64:
    case K_FLOAT64:
      return 8;
    case K_UUID:
      return 16;
    case K_STRING: {
      if (v === null) {
        if (!f.nullable) throw nullError(f);
        return f.compact ? 1 : 2;
      }
      const n = Buffer.byteLength(v as string, 'utf8');
      if (!f.compact && n > 0x7fff) throw new KafkaEncodeError(`${f.path} is ${n} bytes, over the 32767 of a non-compact string`);
      ctx.lens.push(n);
      return lengthPrefixSize(f, n, false) + n;
    }
    case K_BYTES:
    case K_RECORDS: {
      if (v === null) {
        if (!f.nullable) throw nullError(f);
        return f.compact ? 1 : 4;
      }
      const n = (v as Buffer).length;
      return lengthPrefixSize(f, n, true) + n;
    }
    case K_STRUCT: {
      if (v === null) {
        if (!f.nullable) throw nullError(f);
        return 1;
      }
      return (f.nullable ? 1 : 0) + sizeStruct(f.sub!, v as Record<string, unknown>, ctx);
    }
    case K_ARRAY: {
      if (v === null) {
        if (!f.nullable) throw nullError(f);
        return f.compact ? 1 : 4;
      }
      const a = v as unknown[];
      const item = f.item!;
      let s = lengthPrefixSize(f, a.length, true);
      const fixed = item.kind <= K_BOOL ? item.minSize : 0;
      if (fixed > 0) return s + fixed * a.length;
      for (let i = 0; i < a.length; i++) s += sizeValue(item, a[i], ctx);
      return s;
    }
    default:
      throw new KafkaEncodeError(`${f.path}: unknown kind ${f.kind}`);
  }
}

function writeStruct(w: BufferWriter, p: Plan, o: Record<string, unknown>, ctx: EncodeContext): void {
  const wire = p.wire;
  for (let i = 0; i < wire.length; i++) {
    const f = wire[i];
    writeValue(w, f, o[f.key], ctx);
  }
  if (p.flexible) writeTaggedFields(w, p, o, ctx);
}

function writeTaggedFields(w: BufferWriter, p: Plan, o: Record<string, unknown>, ctx: EncodeContext): void {
  const count = ctx.lens[ctx.next++];
  w.writeUnsignedVarint(count);
  if (count === 0) return;
  const unknown = (o.unknownTaggedFields as RawTaggedField[] | undefined) ?? EMPTY_TAGS;
  let u = 0;
  for (const f of p.tagged) {
    const v = o[f.key];
    if (v === undefined || isDefault(f, v)) continue;
    // Tags ascending (PROTOCOL-BASICS): unknown tags below this one go first.
    while (u < unknown.length && unknown[u].tag < f.tag) writeRawTag(w, unknown[u++]);
    w.writeUnsignedVarint(f.tag);
    w.writeUnsignedVarint(ctx.lens[ctx.next++]);
    writeValue(w, f, v, ctx);
  }
  while (u < unknown.length) writeRawTag(w, unknown[u++]);
}

function writeRawTag(w: BufferWriter, t: RawTaggedField): void {
  w.writeUnsignedVarint(t.tag);
  w.writeUnsignedVarint(t.data.length);
  w.writeBytes(t.data);
}

function writeLength(w: BufferWriter, f: PlanField, n: number, wide: boolean): void {
  if (f.compact) w.writeUnsignedVarint(n + 1);
  else if (wide) w.writeInt32(n);
  else w.writeInt16(n);
}

function writeValue(w: BufferWriter, f: PlanField, v: unknown, ctx: EncodeContext): void {
  if (v === undefined) v = defaultOf(f);
  switch (f.kind) {
    case K_INT8:
      w.writeInt8(v as number);
      return;
    case K_INT16:
      w.writeInt16(v as number);
      return;
    case K_UINT16:
      w.writeUInt16(v as number);
      return;
    case K_INT32:
      w.writeInt32(v as number);
      return;
    case K_UINT32:
      w.writeUInt32(v as number);
      return;
    case K_INT64:
      w.writeInt64(v as number);
      return;
    case K_FLOAT64:
      w.writeFloat64(v as number);
      return;
    case K_BOOL:
      w.writeUInt8(v ? 1 : 0);
      return;
    case K_UUID: {
      const b = Buffer.from(v as string, 'base64url');
      if (b.length !== 16) throw new KafkaEncodeError(`${f.path}: ${JSON.stringify(v)} is not a 16-byte base64url uuid`);
      w.writeBytes(b);
      return;
    }
    case K_STRING: {
      if (v === null) {
        writeLength(w, f, -1, false);
        return;
      }
      const n = ctx.lens[ctx.next++];
      writeLength(w, f, n, false);
      if (n > 0) {
        if (w.offset + n > w.buf.length) throw new RangeError(`BufferWriter overflow at ${f.path}`);
        (w.buf as FastUtf8Buffer).utf8Write(v as string, w.offset, n);
        w.offset += n;
      }
      return;
    }
    case K_BYTES:
    case K_RECORDS: {
      if (v === null) {
        writeLength(w, f, -1, true);
        return;
      }
      writeLength(w, f, (v as Buffer).length, true);
      if (v instanceof ByteChunks) for (const piece of v.pieces) w.writeBytes(piece);
      else w.writeBytes(v as Buffer);
      return;
    }
    case K_STRUCT: {
      if (f.nullable) {
        if (v === null) {
          w.writeInt8(-1);
          return;
        }
        w.writeInt8(1);
      }
      writeStruct(w, f.sub!, v as Record<string, unknown>, ctx);
      return;
    }
    case K_ARRAY: {
      if (v === null) {
        writeLength(w, f, -1, true);
        return;
      }
      const a = v as unknown[];
      writeLength(w, f, a.length, true);
      const item = f.item!;
      for (let i = 0; i < a.length; i++) writeValue(w, item, a[i], ctx);
      return;
    }
    default:
      throw new KafkaEncodeError(`${f.path}: unknown kind ${f.kind}`);
  }
}
