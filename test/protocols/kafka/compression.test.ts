import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import {
  COMPRESSORS,
  DECOMPRESSORS,
  lz4Decompress,
  registerKafkaCompressionCodecs,
  snappyCompressRaw,
  snappyCompressXerial,
  snappyDecompress,
  zstdDecompress,
} from '../../../src/protocols/kafka/compression.js';
import {
  ATTR_COMPRESSION_MASK,
  BATCH_HEADER_SIZE,
  CompressionType,
  OFFSET_ATTRIBUTES,
  OFFSET_BATCH_LENGTH,
  batchRecordsArea,
  decodeRecordBatch,
  encodeRecordBatch,
  updateBatchCrc,
  validateBatch,
} from '../../../src/storage/record-batch.js';

const TEXT = 'tributary lz4 frame from the reference CLI, tributary tributary tributary\n';
// Made by the reference command-line tools (lz4 1.9 with --content-size and with -BD, zstd 1.5), so the decoders
// are checked against frames another implementation wrote, not only against their own output.
const LZ4_CLI_CONTENT_SIZE =
  '04224d186c404a000000000000005d39000000f61d747269627574617279206c7a34206672616d652066726f6d20746865207265666572656e636520434c492c202c000b0a0050746172790a000000001e625eb7';
const LZ4_CLI_LINKED_BLOCKS =
  '04224d186440a739000000f61d747269627574617279206c7a34206672616d652066726f6d20746865207265666572656e636520434c492c202c000b0a0050746172790a000000001e625eb7';
const ZSTD_CLI = '28b52ffd244abd0100d402747269627574617279206c7a34206672616d652066726f6d20746865207265666572656e636520434c492c200a02002d09f06daa0c29e21a72';

test('lz4 and zstd decode frames written by the reference tools', () => {
  assert.equal(lz4Decompress(Buffer.from(LZ4_CLI_CONTENT_SIZE, 'hex')).toString(), TEXT);
  assert.equal(lz4Decompress(Buffer.from(LZ4_CLI_LINKED_BLOCKS, 'hex')).toString(), TEXT);
  assert.equal(zstdDecompress(Buffer.from(ZSTD_CLI, 'hex')).toString(), TEXT);
});

test('snappy decodes xerial framing (one and many chunks, empty input) and raw blocks; truncation throws', () => {
  for (const data of [Buffer.alloc(0), Buffer.from('short'), Buffer.from('abcdefgh'.repeat(20_000))]) {
    assert.deepEqual(snappyDecompress(snappyCompressXerial(data)), data);
    assert.deepEqual(snappyDecompress(snappyCompressRaw(data)), data);
  }
  const framed = snappyCompressXerial(Buffer.from('abcdefgh'.repeat(20_000)));
  assert.throws(() => snappyDecompress(framed.subarray(0, 40)));
  assert.throws(() => snappyDecompress(framed.subarray(0, framed.length - 1)));
});

test('every codec round trips and a bad frame throws', () => {
  const data = Buffer.from('record '.repeat(1000));
  for (const [type, compress] of COMPRESSORS) {
    const packed = compress(data);
    assert.ok(packed.length < data.length, CompressionType[type]);
    assert.deepEqual(DECOMPRESSORS.get(type)!(packed), data);
    assert.throws(() => DECOMPRESSORS.get(type)!(Buffer.from('definitely not compressed data')), CompressionType[type]);
  }
});

/** Re-packs an uncompressed batch's records area with `type`, as a producer would. */
function compressBatch(plain: Buffer, type: CompressionType, compress: (b: Buffer) => Buffer): Buffer {
  const packed = compress(plain.subarray(BATCH_HEADER_SIZE));
  const batch = Buffer.concat([plain.subarray(0, BATCH_HEADER_SIZE), packed]);
  batch.writeInt32BE(batch.length - 12, OFFSET_BATCH_LENGTH);
  batch.writeInt16BE((batch.readInt16BE(OFFSET_ATTRIBUTES) & ~ATTR_COMPRESSION_MASK) | type, OFFSET_ATTRIBUTES);
  updateBatchCrc(batch);
  return batch;
}

test('once registered, decodeRecordBatch reads batches compressed with each codec', () => {
  registerKafkaCompressionCodecs();
  const records = Array.from({ length: 20 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`value ${i} `.repeat(30)), headers: [{ key: 'h', value: Buffer.from(String(i)) }] }));
  const plain = encodeRecordBatch(records, {}, 1_700_000_000_000);
  const compressors: Array<[CompressionType, (b: Buffer) => Buffer]> = [
    [CompressionType.Gzip, (b) => gzipSync(b)],
    [CompressionType.Snappy, snappyCompressXerial],
    [CompressionType.Snappy, snappyCompressRaw],
    [CompressionType.Lz4, COMPRESSORS.get(CompressionType.Lz4)!],
    [CompressionType.Zstd, COMPRESSORS.get(CompressionType.Zstd)!],
  ];
  for (const [type, compress] of compressors) {
    const batch = compressBatch(plain, type, compress);
    validateBatch(batch);
    assert.ok(batch.length < plain.length);
    assert.deepEqual(batchRecordsArea(batch), plain.subarray(BATCH_HEADER_SIZE));
    const decoded = decodeRecordBatch(batch);
    assert.deepEqual(decoded.map((r) => [r.offset, r.key?.toString(), r.value?.toString(), r.headers[0].value?.toString()]), records.map((r, i) => [i, `k${i}`, r.value.toString(), String(i)]));
  }
});
