/**
 * CRC-32C (Castagnoli), the checksum of Kafka record batches (covers attributes..end of the batch).
 * Backed by @node-rs/crc32, which uses the SSE4.2 / ARM CRC instructions: a table-driven JS loop is
 * roughly 10x slower and this sits on every append and recovery scan.
 */
import { crc32c as nativeCrc32c } from '@node-rs/crc32';

/** CRC-32C of `data`, continuing from `initial` (0 for a fresh checksum). Returns an unsigned 32-bit value. */
export function crc32c(data: Buffer, initial = 0): number {
  return nativeCrc32c(data, initial) >>> 0;
}
