/**
 * Varints as Kafka uses them.
 *
 * - Signed varint/varlong (record fields): protobuf sint32/sint64 — zigzag, then base-128 little-endian
 *   groups, high bit set while more bytes follow. At most 5 bytes (varint) or 10 bytes (varlong).
 * - Unsigned varint (compact lengths, tagged fields in flexible versions): base-128 without zigzag.
 *
 * Varlongs are carried as JS numbers: every value Tributary writes (timestamp deltas, offsets) fits in
 * 2^53, and the decoder refuses anything larger instead of silently losing precision.
 */

/** Bytes needed for an unsigned 32-bit varint. */
export function sizeOfUnsignedVarint(value: number): number {
  let v = value >>> 0;
  let n = 1;
  while (v >= 0x80) {
    v >>>= 7;
    n++;
  }
  return n;
}

/** Bytes needed for a zigzag-encoded signed 32-bit varint. */
export function sizeOfVarint(value: number): number {
  return sizeOfUnsignedVarint(((value << 1) ^ (value >> 31)) >>> 0);
}

/** Bytes needed for a zigzag-encoded signed varlong (safe-integer range). */
export function sizeOfVarlong(value: number): number {
  let u = zigzagEncode64(value);
  let n = 1;
  while (u >= 128) {
    u = Math.floor(u / 128);
    n++;
  }
  return n;
}

/** ZigZag for a safe integer without 32-bit overflow: 0→0, -1→1, 1→2, -2→3. */
export function zigzagEncode64(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

export function zigzagDecode64(u: number): number {
  // u is non-negative; odd values are negative numbers.
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}
