/**
 * The shape of a Kafka message schema as data: what scripts/generate-kafka-codec.mjs writes into
 * codec/schema/<api>.ts from the Apache Kafka JSON definitions (shared specs kafka/README.md, "Fields",
 * "Nullable Fields", "Tagged Fields", "Flexible Versions", "Custom Default Values", "Ignorable Fields").
 *
 * A schema is one table per message (not per version): every field carries the version range in which it is
 * on the wire, the range in which it may be null, and, for tagged fields, its tag and tagged range. The
 * generic codec (generic-codec.ts) turns a (schema, version) pair into a flat plan once and walks it.
 *
 * Value conventions (the same in every generated interface):
 * - int8/int16/uint16/int32/uint32/float64 → number; bool → boolean.
 * - int64 → number. Every int64 in the Kafka APIs is an offset, a timestamp, a duration, a producer id or an
 *   epoch, all far below 2^53; the reader refuses anything outside the safe-integer range with a WireError
 *   instead of losing precision (wire/buffer-reader.ts readInt64). No field uses bigint.
 * - string → string; bytes → Buffer (a view into the frame, not a copy); records → Buffer | null (the record
 *   batches stay undecoded bytes, STYLE §3.5); uuid → string in Kafka's URL-safe base64 form (22 chars, as
 *   kafka-topics prints it), all-zero = ZERO_UUID.
 * - A field absent in the decoded version holds its default; on encode a missing (undefined) field is written
 *   as its default, exactly as a Java MessageData object would carry it.
 */

/** Open upper bound of a version range ("3+"). */
export const V_MAX = 0x7fff;

/** Inclusive [min, max] version range. */
export type VersionRange = readonly [number, number];

export type PrimitiveType =
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'float64'
  | 'bool'
  | 'string'
  | 'bytes'
  | 'uuid'
  | 'records';

export type FieldType = PrimitiveType | 'struct' | 'array';

export interface FieldSpec {
  /** camelCased JSON name (`TransactionalId` → `transactionalId`). */
  readonly name: string;
  readonly type: FieldType;
  /** For arrays: the element type; 'struct' elements use `fields`. */
  readonly items?: PrimitiveType | 'struct';
  readonly versions: VersionRange;
  readonly nullableVersions?: VersionRange;
  /** Tagged fields: the tag and the versions in which the field is sent as a tagged field. */
  readonly tag?: number;
  readonly taggedVersions?: VersionRange;
  /** Field-level override of the message's flexible versions (RequestHeader.ClientId is "none"). */
  readonly flexibleVersions?: VersionRange | null;
  /**
   * The value assumed when the field is absent. Omitted for arrays, structs and bytes, whose default is a
   * fresh empty value (or null when `defaultNull`).
   */
  readonly default?: number | boolean | string | null;
  /** Arrays, structs and bytes whose JSON default is "null". */
  readonly defaultNull?: boolean;
  /** The sender may drop a non-default value when the version lacks the field. */
  readonly ignorable?: boolean;
  /** Struct fields (for 'struct' and arrays of structs). */
  readonly fields?: readonly FieldSpec[];
  /** Struct constructor: values in `fields` order → the object (see MessageSchema.make). */
  readonly make?: StructFactory;
}

/**
 * Builds a struct from its field values in schema order. Generated as an object literal so every decoded struct
 * of one type shares one hidden class; the decoder works without it (slower) for hand-written schemas.
 */
export type StructFactory = (values: unknown[]) => object;

export interface MessageSchema<T = unknown> {
  /** The JSON "name": `ProduceRequest`. */
  readonly name: string;
  /** 'request' | 'response' | 'header' | 'data' as in the JSON "type". */
  readonly kind: 'request' | 'response' | 'header' | 'data';
  /** -1 for headers and data messages. */
  readonly apiKey: number;
  readonly validVersions: VersionRange;
  /** null when no version is flexible ("none"). */
  readonly flexibleVersions: VersionRange | null;
  readonly fields: readonly FieldSpec[];
  readonly make?: StructFactory;
  /** Phantom: the decoded value type. Never set. */
  readonly __type?: T;
}

/** A tagged field the schema does not know, kept as raw bytes so re-encoding reproduces it. */
export interface RawTaggedField {
  readonly tag: number;
  readonly data: Buffer;
}

/** Every generated struct may carry the tagged fields it did not recognise. */
export interface TaggedStruct {
  unknownTaggedFields?: RawTaggedField[];
}

/** 16 zero bytes: "no topic id" (PROTOCOL-BASICS "uuid"). */
export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';

/**
 * What `encode` accepts: any field may be left out and is then written as its default, recursively.
 * Buffers, strings and numbers are leaves.
 */
export type Encodable<T> = T extends Buffer
  ? T
  : T extends readonly (infer U)[]
    ? Encodable<U>[]
    : T extends object
      ? { [K in keyof T]?: Encodable<T[K]> }
      : T;

export function inRange(range: VersionRange | null | undefined, version: number): boolean {
  return range != null && version >= range[0] && version <= range[1];
}
