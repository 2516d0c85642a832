import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BufferReader, BufferWriter, sizeOfVarint, sizeOfVarlong, sizeOfUnsignedVarint, WireError } from '../../src/wire/index.js';

test('zigzag varints encode the documented examples', () => {
  const cases: Array<[number, number[]]> = [
    [0, [0x00]],
    [-1, [0x01]],
    [1, [0x02]],
    [-2, [0x03]],
    [63, [0x7e]],
    [-64, [0x7f]],
    [64, [0x80, 0x01]],
  ];
  for (const [value, bytes] of cases) {
    const w = BufferWriter.alloc(sizeOfVarint(value));
    w.writeVarint(value);
    assert.deepEqual([...w.buf], bytes, `varint ${value}`);
    assert.equal(new BufferReader(w.buf).readVarint('v'), value);
  }
});

test('varint, varlong and unsigned varint round-trip and match their computed sizes', () => {
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (v) => {
      const w = BufferWriter.alloc(sizeOfVarint(v));
      w.writeVarint(v);
      assert.equal(w.offset, w.buf.length);
      assert.equal(new BufferReader(w.buf).readVarint('v'), v);
    }),
  );
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 52), max: 2 ** 52 - 1 }), (v) => {
      // Zigzag doubles the magnitude: the largest varlong a JS number carries exactly is 2^52 - 1.
      const w = BufferWriter.alloc(sizeOfVarlong(v));
      w.writeVarlong(v);
      assert.equal(w.offset, w.buf.length);
      assert.equal(new BufferReader(w.buf).readVarlong('v'), v);
    }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (v) => {
      const w = BufferWriter.alloc(sizeOfUnsignedVarint(v));
      w.writeUnsignedVarint(v);
      assert.equal(new BufferReader(w.buf).readUnsignedVarint('v'), v);
    }),
  );
});

test('truncated and over-long varints throw WireError naming the field', () => {
  assert.throws(() => new BufferReader(Buffer.from([0x80, 0x80])).readVarint('record.length'), (e: unknown) => e instanceof WireError && e.field === 'record.length');
  assert.throws(() => new BufferReader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).readUnsignedVarint('x'), WireError);
  assert.throws(() => new BufferReader(Buffer.alloc(3)).readInt32('len'), WireError);
});

test('random bytes into the reader throw only WireError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 24 }), (bytes) => {
      const r = new BufferReader(Buffer.from(bytes));
      try {
        while (r.remaining > 0) r.readVarlong('v');
      } catch (e) {
        assert.ok(e instanceof WireError);
      }
    }),
  );
});

test('the varlong bounds are exact: ±2^52 edges decode, zigzag beyond 2^53 - 1 is refused', () => {
  for (const v of [2 ** 52 - 1, -(2 ** 52)]) {
    const w = BufferWriter.alloc(sizeOfVarlong(v));
    w.writeVarlong(v);
    assert.equal(new BufferReader(w.buf).readVarlong('v'), v);
  }
  const w = BufferWriter.alloc(sizeOfVarlong(2 ** 52));
  w.writeVarlong(2 ** 52);
  assert.throws(() => new BufferReader(w.buf).readVarlong('v'), WireError);
});
