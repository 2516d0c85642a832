import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { murmur2, toPositive } from '../../src/core/murmur2.js';

/** Kafka's own vectors (clients UtilsTest.testMurmur2). */
const KAFKA_VECTORS: Array<[string, number]> = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['abc', 479470107],
];

/** A straight BigInt transcription of Java's Utils.murmur2, as a second, independent reference. */
function javaReference(data: Uint8Array): number {
  const MASK = 0xffffffffn;
  const m = 0x5bd1e995n;
  const toInt = (x: bigint): bigint => BigInt.asIntN(32, x);
  const ushr = (x: bigint, n: bigint): bigint => (x & MASK) >> n;
  let h = toInt(0x9747b28cn ^ BigInt(data.length));
  const len4 = Math.floor(data.length / 4);
  for (let i = 0; i < len4; i++) {
    const i4 = i * 4;
    let k = toInt(BigInt(data[i4]) + (BigInt(data[i4 + 1]) << 8n) + (BigInt(data[i4 + 2]) << 16n) + (BigInt(data[i4 + 3]) << 24n));
    k = toInt(k * m);
    k = toInt(k ^ ushr(k, 24n));
    k = toInt(k * m);
    h = toInt(h * m);
    h = toInt(h ^ k);
  }
  const tail = data.length & ~3;
  const rem = data.length % 4;
  if (rem === 3) h = toInt(h ^ (BigInt(data[tail + 2]) << 16n));
  if (rem >= 2) h = toInt(h ^ (BigInt(data[tail + 1]) << 8n));
  if (rem >= 1) {
    h = toInt(h ^ BigInt(data[tail]));
    h = toInt(h * m);
  }
  h = toInt(h ^ ushr(h, 13n));
  h = toInt(h * m);
  h = toInt(h ^ ushr(h, 15n));
  return Number(h);
}

test("murmur2 gives Kafka's test vectors", () => {
  for (const [input, want] of KAFKA_VECTORS) {
    assert.equal(murmur2(input), want, input);
    assert.equal(murmur2(Buffer.from(input)), want, `${input} as bytes`);
  }
});

test('murmur2 equals a BigInt transcription of the Java code for any bytes and every tail length', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      assert.equal(murmur2(bytes), javaReference(bytes));
    }),
    { numRuns: 2000 },
  );
  for (let n = 0; n < 9; n++) {
    const b = Buffer.alloc(n, 0xff);
    assert.equal(murmur2(b), javaReference(b), `length ${n}`);
  }
});

test('murmur2 hashes a Uint8Array view by its own bytes only', () => {
  const backing = Buffer.from('xxfoobarxx');
  assert.equal(murmur2(backing.subarray(2, 8)), murmur2('foobar'));
});

test('toPositive clears the sign bit like Kafka, so MIN_VALUE becomes 0', () => {
  assert.equal(toPositive(-2147483648), 0);
  assert.equal(toPositive(-1), 0x7fffffff);
  assert.equal(toPositive(5), 5);
  assert.equal(toPositive(-973932308), -973932308 & 0x7fffffff);
});
