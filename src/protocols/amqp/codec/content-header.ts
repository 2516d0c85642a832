/**
 * AMQP 0-9-1 content header (spec §2.3.5.2 / §4.2.6.1 "The Content Header"), with the property list generated
 * from the spec (PROPERTIES in methods.ts; basic's 14, the last named cluster-id by RabbitMQ, `reserved` in the
 * stripped XML):
 *
 *   content-header = class-id:short weight:short(=0) body-size:longlong property-flags *property-list
 *   property-flags = 15*bit continuation:bit ...    property i is bit 15 - (i mod 15) of flags word i div 15;
 *                                                    bit 0 set means another flags word follows
 *   property-list  = the present properties, in order, each in its own type (no bit packing here)
 *
 * Properties absent from the flags are absent (undefined) in BasicProperties, so an empty header costs 14 bytes.
 * A flag for a property the class does not define, or a flag word whose bit 1 is set, is a WireError (RabbitMQ
 * refuses them too). body-size is a number: bodies over 2^53 bytes are refused. The weight is kept as sent
 * (§4.2.6.1: it "MUST be zero"; the channel decides what to do with one that is not).
 *
 * peekBodySize() reads only the body size, for a channel that forwards the properties as raw bytes.
 */
import { BufferReader, BufferWriter, WireError } from '../../../wire/index.js';
import {
  checkUnsigned,
  MAX_LONGLONG,
  MAX_OCTET,
  readLongLong,
  readShortString,
  shortStringSize,
  writeLongLong,
  writeShortString,
} from './data-types.js';
import { fieldTableSize, readFieldTable, writeFieldTable, type FieldTable } from './field-table.js';
import { FRAME_OVERHEAD, writeFrameEnd, writeFrameHeader } from './frame.js';
import { ClassId, FrameType, PROPERTIES, type BasicProperties, type PropertySpec } from './methods.js';

export interface ContentHeader {
  classId: number;
  weight: number;
  bodySize: number;
  properties: BasicProperties;
}

/** Fixed part before the property flags: class-id, weight, body-size. */
const FIXED_SIZE = 2 + 2 + 8;

function propertiesOf(classId: number, offset: number): readonly PropertySpec[] {
  const props = PROPERTIES[classId];
  if (props === undefined) throw WireError.invalid('class-id', offset, `class ${classId} has no content`);
  return props;
}

export function decodeContentHeader(payload: Buffer): ContentHeader {
  const r = new BufferReader(payload);
  const classId = r.readUInt16('class-id');
  const specs = propertiesOf(classId, 0);
  const weight = r.readUInt16('weight');
  const bodySize = readLongLong(r, 'body-size');
  const properties = readProperties(r, specs);
  if (r.remaining !== 0) throw WireError.invalid('content-header', r.offset, `${r.remaining} bytes after the last property`);
  return { classId, weight, bodySize, properties };
}

/** The body size of a content-header payload, without decoding its properties. */
export function peekBodySize(payload: Buffer): number {
  const r = new BufferReader(payload, 4);
  return readLongLong(r, 'body-size');
}

function readProperties(r: BufferReader, specs: readonly PropertySpec[]): BasicProperties {
  // The flags words: as many as the continuation bits say, each taking two bytes of the frame, so their number is
  // bounded by the frame; only the words that can hold a known property are kept.
  const nWords = Math.ceil(specs.length / 15);
  const words: number[] = [];
  for (;;) {
    const at = r.offset;
    const word = r.readUInt16('property-flags');
    const index = words.length;
    // Bits this word may carry: 15 per word for the known properties, none beyond them.
    const known = index < nWords ? Math.min(15, specs.length - index * 15) : 0;
    const allowed = (((1 << known) - 1) << (16 - known)) | 1;
    if ((word & ~allowed & 0xffff) !== 0) throw WireError.invalid('property-flags', at, `flags 0x${word.toString(16)} name a property the class does not have`);
    words.push(word);
    if ((word & 1) === 0) break;
  }
  const props: Record<string, unknown> = {};
  for (let i = 0; i < specs.length; i++) {
    const wordIndex = (i / 15) | 0;
    if (wordIndex >= words.length) break;
    if ((words[wordIndex] & (0x8000 >> i % 15)) === 0) continue;
    const p = specs[i];
    switch (p.type) {
      case 'shortstr':
        props[p.name] = readShortString(r, p.wireName);
        break;
      case 'octet':
        props[p.name] = r.readUInt8(p.wireName);
        break;
      case 'timestamp':
      case 'longlong':
        props[p.name] = readLongLong(r, p.wireName);
        break;
      case 'table':
        props[p.name] = readFieldTable(r, p.wireName);
        break;
      case 'short':
        props[p.name] = r.readUInt16(p.wireName);
        break;
      case 'long':
        props[p.name] = r.readUInt32(p.wireName);
        break;
      default:
        // The spec's property lists use only the types above; a generator change that adds another lands here.
        throw WireError.invalid(p.wireName, r.offset, `property type ${p.type} is not supported`);
    }
  }
  return props as BasicProperties;
}

/** Encoded size of a content-header payload; validates every property. */
export function contentHeaderSize(h: ContentHeader): number {
  const specs = PROPERTIES[h.classId];
  if (specs === undefined) throw new RangeError(`AMQP content header: class ${h.classId} has no content`);
  checkUnsigned(h.weight, 0xffff, 'content header weight');
  checkUnsigned(h.bodySize, MAX_LONGLONG, 'content header body-size');
  const props = h.properties as Record<string, unknown>;
  let n = FIXED_SIZE;
  let last = -1;
  for (let i = 0; i < specs.length; i++) {
    const p = specs[i];
    const v = props[p.name];
    if (v === undefined) continue;
    last = i;
    switch (p.type) {
      case 'shortstr':
        if (typeof v !== 'string') throw new TypeError(`AMQP property ${p.name} must be a string`);
        n += shortStringSize(v, p.name);
        break;
      case 'octet':
        checkUnsigned(v as number, MAX_OCTET, p.name);
        n += 1;
        break;
      case 'short':
        checkUnsigned(v as number, 0xffff, p.name);
        n += 2;
        break;
      case 'long':
        checkUnsigned(v as number, 0xffffffff, p.name);
        n += 4;
        break;
      case 'timestamp':
      case 'longlong':
        checkUnsigned(v as number, MAX_LONGLONG, p.name);
        n += 8;
        break;
      case 'table':
        if (!(v instanceof Map)) throw new TypeError(`AMQP property ${p.name} must be a FieldTable (Map)`);
        n += fieldTableSize(v as FieldTable, p.name);
        break;
      default:
        throw new TypeError(`AMQP property ${p.name}: type ${p.type} is not supported`);
    }
  }
  // One flags word per 15 properties up to the last present one (at least one word).
  return n + 2 * (last < 0 ? 1 : ((last / 15) | 0) + 1);
}

/** Writes a content-header payload sized by contentHeaderSize. */
export function writeContentHeader(w: BufferWriter, h: ContentHeader): void {
  const specs = PROPERTIES[h.classId];
  const props = h.properties as Record<string, unknown>;
  w.writeUInt16(h.classId);
  w.writeUInt16(h.weight);
  writeLongLong(w, h.bodySize);
  // Flags first, then the values. 15 properties per flags word; every word but the last has its continuation bit.
  let last = -1;
  let flags = 0;
  for (let i = 0; i < specs.length; i++) {
    if (props[specs[i].name] === undefined) continue;
    last = i;
    if (i < 15) flags |= 0x8000 >> i;
  }
  const nWords = last < 0 ? 1 : ((last / 15) | 0) + 1;
  w.writeUInt16(nWords > 1 ? flags | 1 : flags);
  for (let k = 1; k < nWords; k++) {
    let word = k < nWords - 1 ? 1 : 0;
    for (let i = k * 15; i < Math.min(specs.length, (k + 1) * 15); i++) if (props[specs[i].name] !== undefined) word |= 0x8000 >> i % 15;
    w.writeUInt16(word);
  }
  for (let i = 0; i <= last; i++) {
    const p = specs[i];
    const v = props[p.name];
    if (v === undefined) continue;
    switch (p.type) {
      case 'shortstr':
        writeShortString(w, v as string);
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
      case 'timestamp':
      case 'longlong':
        writeLongLong(w, v as number);
        break;
      case 'table':
        writeFieldTable(w, v as FieldTable);
        break;
    }
  }
}

export function encodeContentHeader(h: ContentHeader): Buffer {
  const w = BufferWriter.alloc(contentHeaderSize(h));
  writeContentHeader(w, h);
  return w.buf;
}

/** Writes a whole content-header frame; `payloadSize` is contentHeaderSize(h), computed once by the caller. */
export function writeContentHeaderFrame(w: BufferWriter, channel: number, h: ContentHeader, payloadSize: number): void {
  writeFrameHeader(w, FrameType.HEADER, channel, payloadSize);
  const start = w.offset;
  writeContentHeader(w, h);
  if (w.offset - start !== payloadSize) throw new RangeError(`AMQP content header: payloadSize ${payloadSize} does not match ${w.offset - start}`);
  writeFrameEnd(w);
}

export function encodeContentHeaderFrame(channel: number, h: ContentHeader): Buffer {
  const payloadSize = contentHeaderSize(h);
  const w = BufferWriter.alloc(payloadSize + FRAME_OVERHEAD);
  writeContentHeaderFrame(w, channel, h, payloadSize);
  return w.buf;
}

/** A basic-class content header. */
export function basicContentHeader(bodySize: number, properties: BasicProperties = {}): ContentHeader {
  return { classId: ClassId.basic, weight: 0, bodySize, properties };
}
