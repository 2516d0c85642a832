import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeFieldTable,
  encodeFieldTable,
  fieldTableFromObject,
  fieldTableToObject,
  MAX_FIELD_TABLE_DEPTH,
  type FieldTable,
  type FieldValue,
} from '../../../../src/protocols/amqp/codec/index.js';
import { WireError } from '../../../../src/wire/index.js';
import { fieldTable } from './arbitraries.js';

test('any field table round-trips, nested tables and arrays included', () => {
  fc.assert(
    fc.property(fieldTable, (t) => {
      const bytes = encodeFieldTable(t);
      assert.equal(bytes.readUInt32BE(0), bytes.length - 4);
      const back = decodeFieldTable(bytes);
      assert.deepStrictEqual(back, t);
      assert.ok(encodeFieldTable(back).equals(bytes));
    }),
    { numRuns: 300 },
  );
});

test('every RabbitMQ type tag has its documented layout', () => {
  const t: FieldTable = new Map<string, FieldValue>([
    ['t', { type: 't', value: true }],
    ['b', { type: 'b', value: -2 }],
    ['B', { type: 'B', value: 254 }],
    ['s', { type: 's', value: -3 }],
    ['u', { type: 'u', value: 65535 }],
    ['I', { type: 'I', value: -4 }],
    ['i', { type: 'i', value: 0xfffffffe }],
    ['l', { type: 'l', value: -5n }],
    ['f', { type: 'f', value: 1.5 }],
    ['d', { type: 'd', value: -0.25 }],
    ['D', { type: 'D', value: { scale: 2, digits: 12345 } }],
    ['S', { type: 'S', value: Buffer.from('hi') }],
    ['x', { type: 'x', value: Buffer.from([0, 255]) }],
    ['A', { type: 'A', value: [{ type: 'V', value: null }] }],
    ['T', { type: 'T', value: 1_700_000_000n }],
    ['F', { type: 'F', value: new Map() }],
    ['V', { type: 'V', value: null }],
  ]);
  const hex = encodeFieldTable(t).subarray(4).toString('hex');
  const k = (c: string): string => '01' + Buffer.from(c).toString('hex') + Buffer.from(c).toString('hex');
  const expected = [
    k('t') + '01',
    k('b') + 'fe',
    k('B') + 'fe',
    k('s') + 'fffd',
    k('u') + 'ffff',
    k('I') + 'fffffffc',
    k('i') + 'fffffffe',
    k('l') + 'fffffffffffffffb',
    k('f') + '3fc00000',
    k('d') + 'bfd0000000000000',
    k('D') + '02' + '00003039',
    k('S') + '00000002' + '6869',
    k('x') + '00000002' + '00ff',
    k('A') + '00000001' + '56',
    k('T') + '000000006553f100',
    k('F') + '00000000',
    k('V'),
  ].join('');
  assert.equal(hex, expected);
});

test('plain objects convert the way amqplib does, and back', () => {
  const t = fieldTableFromObject({ a: 1, b: 300, c: 70000, d: 5_000_000_000, e: 0.5, f: 'x', g: true, h: null, i: Buffer.from([1]), j: [1], k: { z: -1 } });
  assert.deepEqual(
    [...t].map(([key, v]) => `${key}:${v.type}`),
    ['a:b', 'b:s', 'c:I', 'd:l', 'e:d', 'f:S', 'g:t', 'h:V', 'i:x', 'j:A', 'k:F'],
  );
  const o = fieldTableToObject(decodeFieldTable(encodeFieldTable(t)));
  assert.deepStrictEqual({ ...o, k: { ...(o.k as object) } }, { a: 1, b: 300, c: 70000, d: 5_000_000_000, e: 0.5, f: 'x', g: true, h: null, i: Buffer.from([1]), j: [1], k: { z: -1 } });
});

test('a key repeated in one table keeps its first value, as RabbitMQ looks it up', () => {
  const one = encodeFieldTable(new Map([['k', { type: 'b', value: 1 }]]));
  const two = encodeFieldTable(new Map([['k', { type: 'b', value: 2 }]]));
  const both = Buffer.concat([Buffer.alloc(4), one.subarray(4), two.subarray(4)]);
  both.writeUInt32BE(both.length - 4, 0);
  assert.deepStrictEqual(decodeFieldTable(both), new Map([['k', { type: 'b', value: 1 }]]));
});

test("a __proto__ key is only a key", () => {
  const t = decodeFieldTable(encodeFieldTable(new Map([['__proto__', { type: 'S', value: Buffer.from('x') }]])));
  const o = fieldTableToObject(t);
  assert.equal(Object.getPrototypeOf(o), null);
  assert.equal(o['__proto__' as keyof typeof o], 'x');
});

test('malformed tables are WireErrors: unknown tag, length past the end, pair past the table', () => {
  const badTag = Buffer.from('00000003' + '0161' + '55', 'hex'); // 'U' is the PDF's int16, not RabbitMQ's
  assert.throws(() => decodeFieldTable(badTag), (e: unknown) => e instanceof WireError && /type tag 0x55/.test(e.message));
  assert.throws(() => decodeFieldTable(Buffer.from('ffffffff', 'hex')), WireError);
  // The table says 3 bytes, but its one pair needs 4 (key 'a', 'b' tag, one byte): the pair must not read past it.
  assert.throws(() => decodeFieldTable(Buffer.from('00000003' + '016162' + '05', 'hex')), WireError);
  // A long string whose length runs past the table.
  assert.throws(() => decodeFieldTable(Buffer.from('00000007' + '016153' + '00000010', 'hex')), WireError);
});

test('nesting deeper than MAX_FIELD_TABLE_DEPTH is refused on both sides, without exhausting the stack', () => {
  let inner: FieldValue = { type: 'b', value: 1 };
  for (let i = 0; i < MAX_FIELD_TABLE_DEPTH - 1; i++) inner = { type: 'F', value: new Map([['n', inner]]) };
  const ok: FieldTable = new Map([['n', inner]]);
  assert.deepStrictEqual(decodeFieldTable(encodeFieldTable(ok)), ok);
  const tooDeep: FieldTable = new Map([['n', { type: 'F', value: ok }]]);
  assert.throws(() => encodeFieldTable(tooDeep), RangeError);
  // Hand-built 100 000 levels of arrays: a WireError, not a RangeError from the stack.
  const levels = 100_000;
  const arrays = Buffer.alloc(4 + 2 + levels * 5);
  arrays.writeUInt32BE(arrays.length - 4, 0);
  arrays[4] = 1;
  arrays[5] = 0x61;
  for (let i = 0; i < levels; i++) {
    const at = 6 + i * 5;
    arrays[at] = 0x41;
    arrays.writeUInt32BE(arrays.length - at - 5, at + 1);
  }
  arrays.writeUInt32BE(0, arrays.length - 4);
  assert.throws(() => decodeFieldTable(arrays), (e: unknown) => e instanceof WireError && /nested deeper/.test(e.message));
});

test('values outside their tag are refused when encoding', () => {
  const bad: FieldValue[] = [
    { type: 'b', value: 128 },
    { type: 'B', value: -1 },
    { type: 's', value: 0x8000 },
    { type: 'u', value: 1.5 },
    { type: 'I', value: 2 ** 31 },
    { type: 'i', value: 2 ** 32 },
    { type: 'l', value: 1n << 63n },
    { type: 'T', value: -1n },
    { type: 'D', value: { scale: 256, digits: 0 } },
  ];
  for (const v of bad) assert.throws(() => encodeFieldTable(new Map([['k', v]])), RangeError, JSON.stringify(v, (_, x: unknown) => (typeof x === 'bigint' ? String(x) : x)));
  assert.throws(() => encodeFieldTable(new Map([['k'.repeat(256), { type: 'V', value: null }]])), RangeError);
});
