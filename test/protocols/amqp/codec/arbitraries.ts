/** fast-check arbitraries for AMQP codec values, by wire type. */
import fc from 'fast-check';
import { METHODS, type AmqpType, type BasicProperties, type FieldTable, type FieldValue, type MethodSpec } from '../../../../src/protocols/amqp/codec/index.js';

/** Valid Unicode of at most 255 UTF-8 bytes. */
export const shortString = fc.string({ unit: 'grapheme', maxLength: 30 }).filter((s) => Buffer.byteLength(s) <= 255);
export const bytes = (maxLength = 64): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));

const leaf: fc.Arbitrary<FieldValue>[] = [
  fc.boolean().map((value) => ({ type: 't', value })),
  fc.integer({ min: -128, max: 127 }).map((value) => ({ type: 'b', value })),
  fc.integer({ min: 0, max: 255 }).map((value) => ({ type: 'B', value })),
  fc.integer({ min: -0x8000, max: 0x7fff }).map((value) => ({ type: 's', value })),
  fc.integer({ min: 0, max: 0xffff }).map((value) => ({ type: 'u', value })),
  fc.integer({ min: -0x80000000, max: 0x7fffffff }).map((value) => ({ type: 'I', value })),
  fc.integer({ min: 0, max: 0xffffffff }).map((value) => ({ type: 'i', value })),
  fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map((value) => ({ type: 'l', value })),
  fc.float().map((value) => ({ type: 'f', value })),
  fc.double().map((value) => ({ type: 'd', value })),
  fc.record({ scale: fc.integer({ min: 0, max: 255 }), digits: fc.integer({ min: 0, max: 0xffffffff }) }, { noNullPrototype: true }).map((value) => ({ type: 'D', value })),
  bytes().map((value) => ({ type: 'S', value })),
  bytes().map((value) => ({ type: 'x', value })),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((value) => ({ type: 'T', value })),
  fc.constant({ type: 'V', value: null }),
];

const tree = fc.letrec<{ value: FieldValue; table: FieldTable }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    ...leaf,
    fc.array(tie('value'), { maxLength: 4 }).map((value): FieldValue => ({ type: 'A', value })),
    tie('table').map((value): FieldValue => ({ type: 'F', value })),
  ),
  table: fc.array(fc.tuple(shortString, tie('value')), { maxLength: 5 }).map((entries) => new Map(entries)),
}));
export const fieldValue = tree.value;
export const fieldTable = tree.table;

export function valueOfType(type: AmqpType): fc.Arbitrary<unknown> {
  switch (type) {
    case 'bit':
      return fc.boolean();
    case 'octet':
      return fc.integer({ min: 0, max: 0xff });
    case 'short':
      return fc.integer({ min: 0, max: 0xffff });
    case 'long':
      return fc.integer({ min: 0, max: 0xffffffff });
    case 'longlong':
    case 'timestamp':
      return fc.maxSafeNat();
    case 'shortstr':
      return shortString;
    case 'longstr':
      return bytes(200);
    case 'table':
      return fieldTable;
  }
}

export function methodArgs(spec: MethodSpec): fc.Arbitrary<Record<string, unknown>> {
  const shape: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of spec.fields) shape[f.name] = valueOfType(f.type);
  return fc.record(shape, { noNullPrototype: true });
}

export const basicProperties: fc.Arbitrary<BasicProperties> = fc.record(
  {
    contentType: shortString,
    contentEncoding: shortString,
    headers: fieldTable,
    deliveryMode: fc.integer({ min: 0, max: 255 }),
    priority: fc.integer({ min: 0, max: 255 }),
    correlationId: shortString,
    replyTo: shortString,
    expiration: shortString,
    messageId: shortString,
    timestamp: fc.maxSafeNat(),
    type: shortString,
    userId: shortString,
    appId: shortString,
    clusterId: shortString,
  },
  { requiredKeys: [], noNullPrototype: true },
);

export const ALL_METHODS: MethodSpec[] = Object.values(METHODS);
