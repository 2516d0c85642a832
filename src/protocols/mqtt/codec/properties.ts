/**
 * MQTT 5 properties (5.0 §2.2.2): a property block is
 *   Property Length (Variable Byte Integer) ‖ ( Identifier (Variable Byte Integer) ‖ value )*
 * The table below is the whole codec: each row names a property's identifier, its data type, the packets (and
 * the Will) it may appear in, and whether it may repeat. Decoding and encoding walk this table.
 *
 * Rules enforced here, with the reason code each maps to:
 * - an identifier not valid for the packet, or a value of the wrong type → Malformed Packet 0x81 (§2.2.2.2);
 * - a property other than User Property (and Subscription Identifier in PUBLISH) twice → Protocol Error 0x82
 *   (each property's "It is a Protocol Error to include … more than once");
 * - values the spec names as Protocol Errors: Receive Maximum 0, Maximum Packet Size 0, Topic Alias 0,
 *   Subscription Identifier 0, and byte flags other than 0/1 (§3.1.2.11, §3.2.2.3, §3.3.2.3, §3.8.2.1).
 *
 * Decoded properties keep wire order as object key order, and encoding walks the object's keys, so a decoded
 * block re-encodes to the same bytes (User Properties grouped where they first appear).
 */
import { BufferReader } from '../../../wire/buffer-reader.js';
import { BufferWriter } from '../../../wire/buffer-writer.js';
import { malformed, protocolError } from './mqtt-error.js';
import { readBinary, readUtf8, readVbi, sizeOfBinary, sizeOfUtf8, sizeOfVbi, writeBinary, writeUtf8, writeVbi, MAX_VBI } from './data-types.js';

export interface Properties {
  payloadFormatIndicator?: number;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  /** One in SUBSCRIBE; one per matching subscription in PUBLISH (§3.3.2.3.8). */
  subscriptionIdentifiers?: number[];
  sessionExpiryInterval?: number;
  assignedClientIdentifier?: string;
  serverKeepAlive?: number;
  authenticationMethod?: string;
  authenticationData?: Buffer;
  requestProblemInformation?: number;
  willDelayInterval?: number;
  requestResponseInformation?: number;
  responseInformation?: string;
  serverReference?: string;
  reasonString?: string;
  receiveMaximum?: number;
  topicAliasMaximum?: number;
  topicAlias?: number;
  maximumQos?: number;
  retainAvailable?: number;
  /** Name/value pairs in wire order; a name may repeat ([MQTT-3.3.2-18] order is preserved when forwarding). */
  userProperties?: Array<[string, string]>;
  maximumPacketSize?: number;
  wildcardSubscriptionAvailable?: number;
  subscriptionIdentifierAvailable?: number;
  sharedSubscriptionAvailable?: number;
}

/** Where a property block sits; a bit each so a table row lists its places in one number. */
export enum PropertyContext {
  CONNECT = 1 << 0,
  CONNACK = 1 << 1,
  PUBLISH = 1 << 2,
  WILL = 1 << 3,
  PUBACK = 1 << 4,
  PUBREC = 1 << 5,
  PUBREL = 1 << 6,
  PUBCOMP = 1 << 7,
  SUBSCRIBE = 1 << 8,
  SUBACK = 1 << 9,
  UNSUBSCRIBE = 1 << 10,
  UNSUBACK = 1 << 11,
  DISCONNECT = 1 << 12,
  AUTH = 1 << 13,
}

export type PropertyType = 'byte' | 'uint16' | 'uint32' | 'vbi' | 'utf8' | 'binary' | 'pair';

export interface PropertyDef {
  readonly id: number;
  readonly name: keyof Properties;
  readonly type: PropertyType;
  /** PropertyContext bits where it is allowed. */
  readonly allowed: number;
  /** PropertyContext bits where it may repeat (its value is then an array). */
  readonly repeatable: number;
  /** A value the spec calls a Protocol Error (returns the reason text, or '' when fine). */
  readonly check?: (v: number) => string;
}

const C = PropertyContext;
const ALL_WITH_PROPS = C.CONNECT | C.CONNACK | C.PUBLISH | C.WILL | C.PUBACK | C.PUBREC | C.PUBREL | C.PUBCOMP |
  C.SUBSCRIBE | C.SUBACK | C.UNSUBSCRIBE | C.UNSUBACK | C.DISCONNECT | C.AUTH;
const ACKS = C.PUBACK | C.PUBREC | C.PUBREL | C.PUBCOMP;
const flag = (v: number): string => (v === 0 || v === 1 ? '' : 'must be 0 or 1');
const nonZero = (v: number): string => (v === 0 ? 'must not be 0' : '');

/** MQTT 5.0 §2.2.2.2 Table 2-4, row by row. */
export const PROPERTIES: readonly PropertyDef[] = [
  { id: 0x01, name: 'payloadFormatIndicator', type: 'byte', allowed: C.PUBLISH | C.WILL, repeatable: 0, check: flag },
  { id: 0x02, name: 'messageExpiryInterval', type: 'uint32', allowed: C.PUBLISH | C.WILL, repeatable: 0 },
  { id: 0x03, name: 'contentType', type: 'utf8', allowed: C.PUBLISH | C.WILL, repeatable: 0 },
  { id: 0x08, name: 'responseTopic', type: 'utf8', allowed: C.PUBLISH | C.WILL, repeatable: 0 },
  { id: 0x09, name: 'correlationData', type: 'binary', allowed: C.PUBLISH | C.WILL, repeatable: 0 },
  // [MQTT-3.8.2.1.2] "It is a Protocol Error if the Subscription Identifier has a value of 0".
  { id: 0x0b, name: 'subscriptionIdentifiers', type: 'vbi', allowed: C.PUBLISH | C.SUBSCRIBE, repeatable: C.PUBLISH, check: nonZero },
  { id: 0x11, name: 'sessionExpiryInterval', type: 'uint32', allowed: C.CONNECT | C.CONNACK | C.DISCONNECT, repeatable: 0 },
  { id: 0x12, name: 'assignedClientIdentifier', type: 'utf8', allowed: C.CONNACK, repeatable: 0 },
  { id: 0x13, name: 'serverKeepAlive', type: 'uint16', allowed: C.CONNACK, repeatable: 0 },
  { id: 0x15, name: 'authenticationMethod', type: 'utf8', allowed: C.CONNECT | C.CONNACK | C.AUTH, repeatable: 0 },
  { id: 0x16, name: 'authenticationData', type: 'binary', allowed: C.CONNECT | C.CONNACK | C.AUTH, repeatable: 0 },
  { id: 0x17, name: 'requestProblemInformation', type: 'byte', allowed: C.CONNECT, repeatable: 0, check: flag },
  { id: 0x18, name: 'willDelayInterval', type: 'uint32', allowed: C.WILL, repeatable: 0 },
  { id: 0x19, name: 'requestResponseInformation', type: 'byte', allowed: C.CONNECT, repeatable: 0, check: flag },
  { id: 0x1a, name: 'responseInformation', type: 'utf8', allowed: C.CONNACK, repeatable: 0 },
  { id: 0x1c, name: 'serverReference', type: 'utf8', allowed: C.CONNACK | C.DISCONNECT, repeatable: 0 },
  { id: 0x1f, name: 'reasonString', type: 'utf8', allowed: C.CONNACK | ACKS | C.SUBACK | C.UNSUBACK | C.DISCONNECT | C.AUTH, repeatable: 0 },
  // [MQTT-3.1.2.11.3] / §3.2.2.3.3: a Receive Maximum of 0 is a Protocol Error.
  { id: 0x21, name: 'receiveMaximum', type: 'uint16', allowed: C.CONNECT | C.CONNACK, repeatable: 0, check: nonZero },
  { id: 0x22, name: 'topicAliasMaximum', type: 'uint16', allowed: C.CONNECT | C.CONNACK, repeatable: 0 },
  // §3.3.2.3.4: "A Topic Alias of 0 is not permitted" (Protocol Error).
  { id: 0x23, name: 'topicAlias', type: 'uint16', allowed: C.PUBLISH, repeatable: 0, check: nonZero },
  { id: 0x24, name: 'maximumQos', type: 'byte', allowed: C.CONNACK, repeatable: 0, check: flag },
  { id: 0x25, name: 'retainAvailable', type: 'byte', allowed: C.CONNACK, repeatable: 0, check: flag },
  { id: 0x26, name: 'userProperties', type: 'pair', allowed: ALL_WITH_PROPS, repeatable: ALL_WITH_PROPS },
  // §3.1.2.11.4: a Maximum Packet Size of 0 is a Protocol Error.
  { id: 0x27, name: 'maximumPacketSize', type: 'uint32', allowed: C.CONNECT | C.CONNACK, repeatable: 0, check: nonZero },
  { id: 0x28, name: 'wildcardSubscriptionAvailable', type: 'byte', allowed: C.CONNACK, repeatable: 0, check: flag },
  { id: 0x29, name: 'subscriptionIdentifierAvailable', type: 'byte', allowed: C.CONNACK, repeatable: 0, check: flag },
  { id: 0x2a, name: 'sharedSubscriptionAvailable', type: 'byte', allowed: C.CONNACK, repeatable: 0, check: flag },
];

const BY_ID: Array<PropertyDef | undefined> = new Array<PropertyDef | undefined>(64).fill(undefined);
const BY_NAME = new Map<string, PropertyDef>();
for (const def of PROPERTIES) {
  BY_ID[def.id] = def;
  BY_NAME.set(def.name, def);
}

/**
 * Reads a property block. Returns undefined for an empty block (the common case on the hot path: no object).
 */
export function decodeProperties(r: BufferReader, ctx: PropertyContext): Properties | undefined {
  const lenAt = r.offset;
  const len = readVbi(r, 'properties.length');
  if (len === 0) return undefined;
  // Guard the length against the bytes left before reading anything ([MQTT-2.2.2] length covers the block).
  if (len > r.remaining) throw malformed('properties.length', lenAt, `property length ${len} exceeds the ${r.remaining} bytes left`);
  const end = r.offset + len;
  const pr = new BufferReader(r.buf, r.offset, end);
  const props: Properties = {};
  const bag = props as Record<string, unknown>;
  let seenLo = 0; // ids 0..31
  let seenHi = 0; // ids 32..63
  while (pr.offset < end) {
    const at = pr.offset;
    const id = readVbi(pr, 'property.identifier');
    const def = id < 64 ? BY_ID[id] : undefined;
    // §2.2.2.2: an Identifier not valid for its packet type is a Malformed Packet.
    if (def === undefined) throw malformed('property.identifier', at, `unknown property identifier 0x${id.toString(16)}`);
    if ((def.allowed & ctx) === 0) throw malformed(def.name, at, `property 0x${id.toString(16)} not allowed here`);
    const repeat = (def.repeatable & ctx) !== 0;
    if (!repeat) {
      const seen = id < 32 ? (seenLo >>> id) & 1 : (seenHi >>> (id - 32)) & 1;
      if (seen) throw protocolError(def.name, at, `property 0x${id.toString(16)} included more than once`);
      if (id < 32) seenLo |= 1 << id;
      else seenHi |= 1 << (id - 32);
    }
    let value: unknown;
    switch (def.type) {
      case 'byte': value = pr.readUInt8(def.name); break;
      case 'uint16': value = pr.readUInt16(def.name); break;
      case 'uint32': value = pr.readUInt32(def.name); break;
      case 'vbi': value = readVbi(pr, def.name); break;
      case 'utf8': value = readUtf8(pr, def.name); break;
      case 'binary': value = readBinary(pr, def.name); break;
      case 'pair': value = [readUtf8(pr, 'userProperty.name'), readUtf8(pr, 'userProperty.value')]; break;
    }
    if (def.check !== undefined) {
      const why = def.check(value as number);
      if (why !== '') throw protocolError(def.name, at, why);
    }
    // Subscription Identifier and User Property are arrays everywhere (a single one in SUBSCRIBE).
    if (def.type === 'pair' || def.id === 0x0b) {
      const list = bag[def.name] as unknown[] | undefined;
      if (list === undefined) bag[def.name] = [value];
      else list.push(value);
    } else {
      bag[def.name] = value;
    }
  }
  r.offset = end;
  return props;
}

function sizeOfValue(def: PropertyDef, v: unknown): number {
  switch (def.type) {
    case 'byte': return 1;
    case 'uint16': return 2;
    case 'uint32': return 4;
    case 'vbi': return sizeOfVbi(v as number);
    case 'utf8': return sizeOfUtf8(v as string);
    case 'binary': return sizeOfBinary(v as Buffer);
    case 'pair': return sizeOfUtf8((v as [string, string])[0]) + sizeOfUtf8((v as [string, string])[1]);
  }
}

function defFor(name: string, ctx: PropertyContext): PropertyDef {
  const def = BY_NAME.get(name);
  if (def === undefined) throw new RangeError(`unknown MQTT property ${name}`);
  if ((def.allowed & ctx) === 0) throw new RangeError(`MQTT property ${name} is not allowed in this packet`);
  return def;
}

/** Bytes of the property block's content (identifiers and values, not the length prefix). */
export function sizeOfPropertiesContent(props: Properties | undefined, ctx: PropertyContext): number {
  if (props === undefined) return 0;
  let n = 0;
  const bag = props as Record<string, unknown>;
  for (const name in bag) {
    const v = bag[name];
    if (v === undefined) continue;
    const def = defFor(name, ctx);
    // Identifiers are all below 128, so each takes one byte as a Variable Byte Integer.
    if (Array.isArray(v) && (def.type === 'pair' || def.id === 0x0b)) {
      for (const item of v) n += 1 + sizeOfValue(def, item);
    } else {
      n += 1 + sizeOfValue(def, v);
    }
  }
  return n;
}

/** Bytes of the whole property block, length prefix included. */
export function sizeOfProperties(props: Properties | undefined, ctx: PropertyContext): number {
  const n = sizeOfPropertiesContent(props, ctx);
  return sizeOfVbi(n) + n;
}

function writeValue(w: BufferWriter, def: PropertyDef, v: unknown): void {
  w.writeUInt8(def.id);
  switch (def.type) {
    case 'byte': w.writeUInt8(v as number); break;
    case 'uint16': w.writeUInt16(v as number); break;
    case 'uint32': w.writeUInt32(v as number); break;
    case 'vbi':
      if ((v as number) > MAX_VBI) throw new RangeError(`${def.name} out of range`);
      writeVbi(w, v as number);
      break;
    case 'utf8': writeUtf8(w, v as string); break;
    case 'binary': writeBinary(w, v as Buffer); break;
    case 'pair': writeUtf8(w, (v as [string, string])[0]); writeUtf8(w, (v as [string, string])[1]); break;
  }
}

/** Writes a property block whose content size the caller computed with sizeOfPropertiesContent. */
export function writeProperties(w: BufferWriter, props: Properties | undefined, ctx: PropertyContext, contentSize: number): void {
  writeVbi(w, contentSize);
  if (props === undefined) return;
  const bag = props as Record<string, unknown>;
  for (const name in bag) {
    const v = bag[name];
    if (v === undefined) continue;
    const def = defFor(name, ctx);
    if (Array.isArray(v) && (def.type === 'pair' || def.id === 0x0b)) {
      for (const item of v) writeValue(w, def, item);
    } else {
      writeValue(w, def, v);
    }
  }
}
