/**
 * Kafka record-batch compression codecs (attributes bits 0-2; shared specs RECORD-BATCH.md "Compression notes").
 * The compressed block is the concatenation of the records only; the 61-byte batch header stays plain.
 *
 *   1 gzip   RFC 1952 stream (node:zlib)
 *   2 snappy xerial "snappy-java" framing — magic 0x82 'SNAPPY' 0x00, int32 version, int32 compatible version,
 *            then (int32 length, raw snappy block)* — as the Java client writes it, or one raw snappy block (kafkajs
 *            codecs, librdkafka accepts both); the decoder takes either
 *   3 lz4    LZ4 frame format (magic 0x184D2204), as Kafka ≥ 0.10 writes it for magic 2
 *   4 zstd   one standard zstd frame
 *
 * The broker stores batches as sent and never recompresses; decompression is only for readers that need record
 * fields (other protocols, compaction), which reach it through `batchRecordsArea`/`decodeRecordBatch` once
 * `registerKafkaCompressionCodecs()` has run (the listener calls it at start; registering twice is harmless).
 * Every decoder is synchronous (storage's DecompressFn) and throws on bad input; callers turn that into
 * WireError/CORRUPT_MESSAGE. The compressors exist for tests and for encoding compressed batches in tools.
 */
import { createRequire } from 'node:module';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CompressionType, registerCompressionCodec } from '../../storage/record-batch.js';

const require = createRequire(import.meta.url);

interface SnappyModule {
  compressSync(data: Buffer): Buffer;
  uncompressSync(data: Buffer, options?: { asBuffer?: boolean }): Buffer | string;
}
interface Lz4Module {
  compressFrameSync(data: Buffer): Buffer;
  decompressFrameSync(data: Buffer): Buffer;
}
interface ZstdModule {
  compress(data: Uint8Array): Buffer;
  decompress(data: Uint8Array): Buffer;
}

// Native modules are loaded on first use, so a missing prebuilt binary only breaks that one codec.
let snappyModule: SnappyModule | undefined;
let lz4Module: Lz4Module | undefined;
let zstdModule: ZstdModule | undefined;
const snappy = (): SnappyModule => (snappyModule ??= require('snappy') as SnappyModule);
const lz4 = (): Lz4Module => (lz4Module ??= require('lz4-napi') as Lz4Module);
const zstd = (): ZstdModule => (zstdModule ??= require('zstd-napi') as ZstdModule);

/** xerial snappy-java stream header: 8 magic bytes, then version 1 and minimum compatible version 1. */
export const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_SIZE = 16;
/** snappy-java's default block size: input is cut into chunks of at most this many bytes. */
const XERIAL_BLOCK_SIZE = 32 * 1024;

function snappyRaw(block: Buffer): Buffer {
  const out = snappy().uncompressSync(block, { asBuffer: true });
  return typeof out === 'string' ? Buffer.from(out) : out;
}

export function isXerialFramed(data: Buffer): boolean {
  return data.length >= XERIAL_HEADER_SIZE && data.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC);
}

/** Decodes xerial-framed or raw snappy. */
export function snappyDecompress(data: Buffer): Buffer {
  if (!isXerialFramed(data)) return snappyRaw(data);
  const chunks: Buffer[] = [];
  let pos = XERIAL_HEADER_SIZE;
  while (pos < data.length) {
    // A chunk is int32 length + that many bytes of raw snappy; a truncated chunk is corrupt, not short data.
    if (data.length - pos < 4) throw new RangeError(`xerial snappy: ${data.length - pos} bytes left where a chunk length was expected at ${pos}`);
    const len = data.readInt32BE(pos);
    pos += 4;
    if (len < 0 || len > data.length - pos) throw new RangeError(`xerial snappy: chunk length ${len} at ${pos - 4} exceeds the ${data.length - pos} bytes left`);
    chunks.push(snappyRaw(data.subarray(pos, pos + len)));
    pos += len;
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

/** Compresses as one raw snappy block (what kafkajs codecs send). */
export function snappyCompressRaw(data: Buffer): Buffer {
  return snappy().compressSync(data);
}

/** Compresses with xerial framing (what the Java client sends). */
export function snappyCompressXerial(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(XERIAL_HEADER_SIZE);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(1, 8);
  header.writeInt32BE(1, 12);
  parts.push(header);
  for (let pos = 0; pos < data.length || pos === 0; pos += XERIAL_BLOCK_SIZE) {
    const block = snappy().compressSync(data.subarray(pos, pos + XERIAL_BLOCK_SIZE));
    const len = Buffer.alloc(4);
    len.writeInt32BE(block.length, 0);
    parts.push(len, block);
    if (data.length === 0) break;
  }
  return Buffer.concat(parts);
}

export function lz4Decompress(data: Buffer): Buffer {
  return lz4().decompressFrameSync(data);
}

export function lz4Compress(data: Buffer): Buffer {
  return lz4().compressFrameSync(data);
}

export function zstdDecompress(data: Buffer): Buffer {
  return zstd().decompress(data);
}

export function zstdCompress(data: Buffer): Buffer {
  return zstd().compress(data);
}

export function gzipDecompress(data: Buffer): Buffer {
  return gunzipSync(data);
}

export function gzipCompress(data: Buffer): Buffer {
  return gzipSync(data);
}

/** Decompressor per Kafka compression type. */
export const DECOMPRESSORS: ReadonlyMap<CompressionType, (data: Buffer) => Buffer> = new Map([
  [CompressionType.Gzip, gzipDecompress],
  [CompressionType.Snappy, snappyDecompress],
  [CompressionType.Lz4, lz4Decompress],
  [CompressionType.Zstd, zstdDecompress],
]);

/** Compressor per Kafka compression type (snappy: xerial framing, as the Java client). */
export const COMPRESSORS: ReadonlyMap<CompressionType, (data: Buffer) => Buffer> = new Map([
  [CompressionType.Gzip, gzipCompress],
  [CompressionType.Snappy, snappyCompressXerial],
  [CompressionType.Lz4, lz4Compress],
  [CompressionType.Zstd, zstdCompress],
]);

/** Registers the four decoders with storage, so every reader of the log can decode compressed batches. */
export function registerKafkaCompressionCodecs(): void {
  for (const [type, fn] of DECOMPRESSORS) registerCompressionCodec(type, fn);
}
