/**
 * murmur2: Kafka's 32-bit MurmurHash2, exactly as the Java client's `Utils.murmur2` (seed 0x9747b28c), and
 * `toPositive`. The default partitioner hashes record keys with it, so for a key to land on the partition a
 * Kafka client would choose, every bit must agree with Java's — including its quirks:
 * - arithmetic is on Java ints: products wrap mod 2^32 (Math.imul here) and values are signed;
 * - shifts are unsigned (`>>>`), done on the 32-bit value;
 * - the tail switch on length % 4 falls through (3 -> 2 -> 1), and the multiply happens only in case 1's
 *   body, i.e. whenever there is a tail at all;
 * - `toPositive` is `& 0x7fffffff` (not Math.abs), so Integer.MIN_VALUE maps to 0, not to itself.
 * Strings are hashed as their UTF-8 bytes (Kafka's StringSerializer default).
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** Kafka's murmur2 of `data` (a string is hashed as UTF-8): a signed 32-bit int, as Java returns it. */
export function murmur2(data: Uint8Array | string): number {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const length = bytes.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    // Little-endian int; `<< 24` may set the sign bit, which is what Java's int does too.
    let k = bytes[i4] | (bytes[i4 + 1] << 8) | (bytes[i4 + 2] << 16) | (bytes[i4 + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  const tail = length & ~3;
  const rem = length & 3;
  // Java's `switch (length % 4)` falls through 3 -> 2 -> 1 with the multiply in case 1; as ifs, because
  // tsconfig forbids fallthrough.
  if (rem === 3) h ^= bytes[tail + 2] << 16;
  if (rem >= 2) h ^= bytes[tail + 1] << 8;
  if (rem >= 1) {
    h ^= bytes[tail];
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's `Utils.toPositive`: clears the sign bit (so -2^31 becomes 0, unlike Math.abs). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}
