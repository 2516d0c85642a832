/**
 * Snapshot of one partition's transaction index (like Kafka's .txnindex of aborted transactions plus the
 * producer snapshot's offset), so a restart scans the log only from the snapshot's offset, not from the start.
 *
 * File: `txn-index.snapshot` in the partition's log directory (so deleting the topic deletes it). Format, big
 * endian:
 *   magic "TXIX" (4) | version int16 = 1 | crc32c uint32 of every byte after it |
 *   offset int64 | ongoingCount int32 | abortedCount int32 |
 *   ongoingCount × (producerId int64, firstOffset int64) | abortedCount × (producerId int64, firstOffset int64, lastOffset int64)
 * `offset` is the log offset the state is exact for: every batch below it, and none at or above it, is applied.
 *
 * Crash behaviour: written to `<file>.tmp`, fdatasync'd, renamed over the file and the directory fsync'd, so a
 * crash leaves the old snapshot or the new one, never a torn one (PartitionLog removes stray `.tmp` files at open).
 * A file that fails its magic, version, length or CRC check is treated as absent (a full rebuild).
 *
 * Validity: the snapshot describes the log below `offset` only, which the log never rewrites afterwards except by
 * recovery truncating a torn tail. So a snapshot whose offset is past the recovered log end is deleted at load
 * (the log may later grow back past it with other batches) and the index is rebuilt in full.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { crc32c } from '../../wire/crc32c.js';
import { writeFileAtomic, unlinkIfExists } from '../../storage/segment-file.js';
import type { Stream } from '../stream.js';
import type { AbortedTxn } from './partition-txn-index.js';

export const TXN_INDEX_SNAPSHOT_FILE = 'txn-index.snapshot';
const MAGIC = 0x54584958; // "TXIX"
const VERSION = 1;
const HEADER_BYTES = 4 + 2 + 4 + 8 + 4 + 4;
const CRC_START = 10;

export interface TxnIndexSnapshot {
  offset: number;
  /** producerId → first offset of its open transaction. */
  ongoing: Array<[number, number]>;
  aborted: AbortedTxn[];
}

/** Where the index keeps snapshots; the broker gives a file-backed one for file streams. */
export interface TxnIndexSnapshots {
  load(stream: Stream, partition: number): Promise<TxnIndexSnapshot | null>;
  save(stream: Stream, partition: number, snapshot: TxnIndexSnapshot): Promise<void>;
  remove(stream: Stream, partition: number): Promise<void>;
}

export function encodeTxnIndexSnapshot(s: TxnIndexSnapshot): Buffer {
  const buf = Buffer.alloc(HEADER_BYTES + s.ongoing.length * 16 + s.aborted.length * 24);
  buf.writeUInt32BE(MAGIC, 0);
  buf.writeInt16BE(VERSION, 4);
  let pos = CRC_START;
  pos = buf.writeBigInt64BE(BigInt(s.offset), pos);
  pos = buf.writeInt32BE(s.ongoing.length, pos);
  pos = buf.writeInt32BE(s.aborted.length, pos);
  for (const [producerId, first] of s.ongoing) {
    pos = buf.writeBigInt64BE(BigInt(producerId), pos);
    pos = buf.writeBigInt64BE(BigInt(first), pos);
  }
  for (const a of s.aborted) {
    pos = buf.writeBigInt64BE(BigInt(a.producerId), pos);
    pos = buf.writeBigInt64BE(BigInt(a.firstOffset), pos);
    pos = buf.writeBigInt64BE(BigInt(a.lastOffset), pos);
  }
  buf.writeUInt32BE(crc32c(buf.subarray(CRC_START)), 6);
  return buf;
}

/** The snapshot in `buf`, or null when it is not a whole, intact snapshot of this version. */
export function decodeTxnIndexSnapshot(buf: Buffer): TxnIndexSnapshot | null {
  if (buf.length < HEADER_BYTES || buf.readUInt32BE(0) !== MAGIC || buf.readInt16BE(4) !== VERSION) return null;
  if (buf.readUInt32BE(6) !== crc32c(buf.subarray(CRC_START))) return null;
  const offset = Number(buf.readBigInt64BE(CRC_START));
  const ongoingCount = buf.readInt32BE(CRC_START + 8);
  const abortedCount = buf.readInt32BE(CRC_START + 12);
  // Counts are checked against the length before anything is allocated from them.
  if (ongoingCount < 0 || abortedCount < 0 || buf.length !== HEADER_BYTES + ongoingCount * 16 + abortedCount * 24) return null;
  let pos = HEADER_BYTES;
  const read = (): number => {
    const v = Number(buf.readBigInt64BE(pos));
    pos += 8;
    return v;
  };
  const ongoing: Array<[number, number]> = [];
  for (let i = 0; i < ongoingCount; i++) ongoing.push([read(), read()]);
  const aborted: AbortedTxn[] = [];
  for (let i = 0; i < abortedCount; i++) aborted.push({ producerId: read(), firstOffset: read(), lastOffset: read() });
  return { offset, ongoing, aborted };
}

/** Snapshots as files in each partition's log directory; `dirOf` is null for partitions with no directory (memory). */
export class FileTxnIndexSnapshots implements TxnIndexSnapshots {
  constructor(private readonly dirOf: (stream: Stream, partition: number) => string | null) {}

  async load(stream: Stream, partition: number): Promise<TxnIndexSnapshot | null> {
    const file = this.file(stream, partition);
    if (file === null) return null;
    let buf: Buffer;
    try {
      buf = await fs.readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    return decodeTxnIndexSnapshot(buf);
  }

  async save(stream: Stream, partition: number, snapshot: TxnIndexSnapshot): Promise<void> {
    const file = this.file(stream, partition);
    if (file !== null) await writeFileAtomic(file, encodeTxnIndexSnapshot(snapshot), true);
  }

  async remove(stream: Stream, partition: number): Promise<void> {
    const file = this.file(stream, partition);
    if (file !== null) await unlinkIfExists(file);
  }

  private file(stream: Stream, partition: number): string | null {
    const dir = this.dirOf(stream, partition);
    return dir === null ? null : path.join(dir, TXN_INDEX_SNAPSHOT_FILE);
  }
}
