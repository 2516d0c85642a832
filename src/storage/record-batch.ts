/**
 * Kafka record batch, magic 2 — the one on-disk and on-wire format of every stored message.
 *
 * Layout (big-endian; see shared specs RECORD-BATCH.md):
 *   0 baseOffset int64 | 8 batchLength int32 | 12 partitionLeaderEpoch int32 | 16 magic int8 | 17 crc uint32
 *   21 attributes int16 | 23 lastOffsetDelta int32 | 27 baseTimestamp int64 | 35 maxTimestamp int64
 *   43 producerId int64 | 51 producerEpoch int16 | 53 baseSequence int32 | 57 recordsCount int32 | 61 records
 * Record: length varint | attributes int8 | timestampDelta varlong | offsetDelta varint | keyLength varint | key
 *         | valueLength varint | value | headersCount varint | (hKeyLength varint | hKey | hValueLength varint | hValue)*
 *
 * Invariants:
 * - batchLength = total size - 12. The CRC-32C covers bytes 21..end, so baseOffset and partitionLeaderEpoch
 *   can be rewritten in place without recomputing it (that is how the log assigns offsets to a produced batch).
 * - Storage reads only the header; record bodies are decoded only by consumers that need fields
 *   (non-Kafka protocols, compaction). Compressed bodies (attributes bits 0-2 != 0) are decoded through a
 *   codec registered with `registerCompressionCodec` (the Kafka protocol registers gzip/snappy/lz4/zstd).
 */
import { BufferReader, BufferWriter, ByteChunks, WireError, crc32c, sizeOfVarint, sizeOfVarlong } from '../wire/index.js';

export const BATCH_HEADER_SIZE = 61;
/** Bytes before batchLength's coverage starts: baseOffset (8) + batchLength (4). */
export const LOG_OVERHEAD = 12;
export const MAGIC_V2 = 2;

export const OFFSET_BASE_OFFSET = 0;
export const OFFSET_BATCH_LENGTH = 8;
export const OFFSET_PARTITION_LEADER_EPOCH = 12;
export const OFFSET_MAGIC = 16;
export const OFFSET_CRC = 17;
export const OFFSET_ATTRIBUTES = 21;
export const OFFSET_LAST_OFFSET_DELTA = 23;
export const OFFSET_BASE_TIMESTAMP = 27;
export const OFFSET_MAX_TIMESTAMP = 35;
export const OFFSET_PRODUCER_ID = 43;
export const OFFSET_PRODUCER_EPOCH = 51;
export const OFFSET_BASE_SEQUENCE = 53;
export const OFFSET_RECORDS_COUNT = 57;

export const ATTR_COMPRESSION_MASK = 0x07;
export const ATTR_TIMESTAMP_TYPE_LOG_APPEND = 0x08;
export const ATTR_TRANSACTIONAL = 0x10;
export const ATTR_CONTROL = 0x20;
export const ATTR_DELETE_HORIZON = 0x40;

export enum CompressionType {
  None = 0,
  Gzip = 1,
  Snappy = 2,
  Lz4 = 3,
  Zstd = 4,
}

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/** A record as the core sees it. `key`/`value` are views into the batch when decoded from storage. */
export interface Record {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

/** What a publisher hands to the log: offsets are assigned on append; timestamp defaults to now. */
export interface RecordInput {
  timestamp?: number;
  key?: Buffer | null;
  value: Buffer | null;
  headers?: RecordHeader[];
}

export interface BatchHeader {
  baseOffset: number;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordsCount: number;
}

/** Total bytes of the batch starting at `pos` (header says so; not yet validated). */
export function batchSizeAt(buf: Buffer | ByteChunks, pos = 0): number {
  return buf.readInt32BE(pos + OFFSET_BATCH_LENGTH) + LOG_OVERHEAD;
}

export function readBatchHeader(buf: Buffer, pos = 0): BatchHeader {
  if (buf.length - pos < BATCH_HEADER_SIZE) {
    throw new WireError('recordBatch.header', pos, BATCH_HEADER_SIZE, buf.length - pos);
  }
  const r = new BufferReader(buf, pos);
  return {
    baseOffset: r.readInt64('baseOffset'),
    batchLength: r.readInt32('batchLength'),
    partitionLeaderEpoch: r.readInt32('partitionLeaderEpoch'),
    magic: r.readInt8('magic'),
    crc: r.readUInt32('crc'),
    attributes: r.readInt16('attributes'),
    lastOffsetDelta: r.readInt32('lastOffsetDelta'),
    baseTimestamp: r.readInt64('baseTimestamp'),
    maxTimestamp: r.readInt64('maxTimestamp'),
    producerId: r.readInt64('producerId'),
    producerEpoch: r.readInt16('producerEpoch'),
    baseSequence: r.readInt32('baseSequence'),
    recordsCount: r.readInt32('recordsCount'),
  };
}

export function batchBaseOffset(buf: Buffer, pos = 0): number {
  const hi = buf.readInt32BE(pos);
  const lo = buf.readUInt32BE(pos + 4);
  return hi * 0x100000000 + lo;
}

export function batchLastOffset(buf: Buffer, pos = 0): number {
  return batchBaseOffset(buf, pos) + buf.readInt32BE(pos + OFFSET_LAST_OFFSET_DELTA);
}

export function batchMaxTimestamp(buf: Buffer, pos = 0): number {
  const hi = buf.readInt32BE(pos + OFFSET_MAX_TIMESTAMP);
  const lo = buf.readUInt32BE(pos + OFFSET_MAX_TIMESTAMP + 4);
  return hi * 0x100000000 + lo;
}

/** Rewrites baseOffset in place; the CRC does not cover it. */
export function setBatchBaseOffset(buf: Buffer, baseOffset: number, pos = 0): void {
  const hi = Math.floor(baseOffset / 0x100000000);
  buf.writeInt32BE(hi, pos);
  buf.writeUInt32BE(baseOffset - hi * 0x100000000, pos + 4);
}

export function setPartitionLeaderEpoch(buf: Buffer, epoch: number, pos = 0): void {
  buf.writeInt32BE(epoch, pos + OFFSET_PARTITION_LEADER_EPOCH);
}

/** Recomputes and stores the CRC (needed after changing attributes, maxTimestamp or anything later). */
export function updateBatchCrc(buf: Buffer, pos = 0): void {
  const end = pos + batchSizeAt(buf, pos);
  buf.writeUInt32BE(crc32c(buf.subarray(pos + OFFSET_ATTRIBUTES, end)), pos + OFFSET_CRC);
}

/**
 * Checks that a complete, uncorrupted magic-2 batch starts at `pos` within `buf`. Returns its size.
 * Throws WireError naming what is wrong (short, bad length, bad magic, bad CRC). `buf` may be a Produce's
 * records kept as socket reads (ByteChunks): the CRC is then computed piece by piece.
 */
export function validateBatch(buf: Buffer | ByteChunks, pos = 0): number {
  const have = buf.length - pos;
  if (have < BATCH_HEADER_SIZE) throw new WireError('recordBatch.header', pos, BATCH_HEADER_SIZE, have);
  const batchLength = buf.readInt32BE(pos + OFFSET_BATCH_LENGTH);
  if (batchLength < BATCH_HEADER_SIZE - LOG_OVERHEAD) {
    throw WireError.invalid('recordBatch.batchLength', pos, `length ${batchLength} is shorter than a batch header`);
  }
  const size = batchLength + LOG_OVERHEAD;
  if (size > have) throw new WireError('recordBatch.records', pos, size, have);
  const magic = buf.readInt8(pos + OFFSET_MAGIC);
  if (magic !== MAGIC_V2) throw WireError.invalid('recordBatch.magic', pos, `magic ${magic}, only 2 is supported`);
  const stored = buf.readUInt32BE(pos + OFFSET_CRC);
  const actual = buf instanceof ByteChunks ? buf.crc32c(pos + OFFSET_ATTRIBUTES, pos + size) : crc32c(buf.subarray(pos + OFFSET_ATTRIBUTES, pos + size));
  if (stored !== actual) {
    throw WireError.invalid('recordBatch.crc', pos, `CRC-32C mismatch: stored ${stored}, computed ${actual}`);
  }
  if (buf.readInt32BE(pos + OFFSET_LAST_OFFSET_DELTA) < 0) {
    throw WireError.invalid('recordBatch.lastOffsetDelta', pos, 'negative lastOffsetDelta');
  }
  return size;
}

export interface BatchOptions {
  baseOffset?: number;
  attributes?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  partitionLeaderEpoch?: number;
}

function recordBodySize(rec: RecordInput, timestampDelta: number, offsetDelta: number): number {
  let size = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(offsetDelta);
  const key = rec.key ?? null;
  size += key === null ? 1 : sizeOfVarint(key.length) + key.length;
  size += rec.value === null ? 1 : sizeOfVarint(rec.value.length) + rec.value.length;
  const headers = rec.headers ?? [];
  size += sizeOfVarint(headers.length);
  for (const h of headers) {
    const kLen = Buffer.byteLength(h.key);
    size += sizeOfVarint(kLen) + kLen;
    size += h.value === null ? 1 : sizeOfVarint(h.value.length) + h.value.length;
  }
  return size;
}

/**
 * Encodes uncompressed records into one batch (two-pass: size, then write once).
 * Offsets inside are 0..n-1 relative to `baseOffset` (default 0; the log patches it on append).
 */
export function encodeRecordBatch(records: readonly RecordInput[], options: BatchOptions = {}, now = Date.now()): Buffer {
  return writeBatch(records, null, options.baseOffset ?? 0, options.attributes ?? 0, options, now);
}

/**
 * The one batch writer: sizes every record, allocates once, writes header and records, patches the CRC.
 * `offsetDeltas` null means 0..n-1 (a fresh batch); otherwise each record's own delta (kept gaps).
 */
function writeBatch(
  records: readonly RecordInput[],
  offsetDeltas: readonly number[] | null,
  baseOffset: number,
  attributes: number,
  options: Omit<BatchOptions, 'baseOffset' | 'attributes'>,
  now: number,
): Buffer {
  if (records.length === 0) throw new RangeError('a record batch needs at least one record');
  const baseTimestamp = records[0].timestamp ?? now;
  let maxTimestamp = baseTimestamp;
  let total = BATCH_HEADER_SIZE;
  const bodySizes = new Array<number>(records.length);
  for (let i = 0; i < records.length; i++) {
    const ts = records[i].timestamp ?? now;
    if (ts > maxTimestamp) maxTimestamp = ts;
    const body = recordBodySize(records[i], ts - baseTimestamp, offsetDeltas === null ? i : offsetDeltas[i]);
    bodySizes[i] = body;
    total += sizeOfVarint(body) + body;
  }
  const lastOffsetDelta = offsetDeltas === null ? records.length - 1 : offsetDeltas[records.length - 1];
  const w = BufferWriter.alloc(total);
  w.writeInt64(baseOffset)
    .writeInt32(total - LOG_OVERHEAD)
    .writeInt32(options.partitionLeaderEpoch ?? 0)
    .writeInt8(MAGIC_V2)
    .writeUInt32(0) // CRC, patched below
    .writeInt16(attributes)
    .writeInt32(lastOffsetDelta)
    .writeInt64(baseTimestamp)
    .writeInt64(maxTimestamp)
    .writeInt64(options.producerId ?? -1)
    .writeInt16(options.producerEpoch ?? -1)
    .writeInt32(options.baseSequence ?? -1)
    .writeInt32(records.length);
  for (let i = 0; i < records.length; i++) {
    const rec = records[i];
    w.writeVarint(bodySizes[i])
      .writeInt8(0)
      .writeVarlong((rec.timestamp ?? now) - baseTimestamp)
      .writeVarint(offsetDeltas === null ? i : offsetDeltas[i]);
    const key = rec.key ?? null;
    if (key === null) w.writeVarint(-1);
    else w.writeVarint(key.length).writeBytes(key);
    if (rec.value === null) w.writeVarint(-1);
    else w.writeVarint(rec.value.length).writeBytes(rec.value);
    const headers = rec.headers ?? [];
    w.writeVarint(headers.length);
    for (const h of headers) {
      const kLen = Buffer.byteLength(h.key);
      w.writeVarint(kLen);
      w.offset += w.buf.write(h.key, w.offset, 'utf8');
      if (h.value === null) w.writeVarint(-1);
      else w.writeVarint(h.value.length).writeBytes(h.value);
    }
  }
  updateBatchCrc(w.buf);
  return w.buf;
}

/** Decompresses the records area of a compressed batch (registered by the Kafka protocol). */
export type DecompressFn = (compressed: Buffer) => Buffer;
const decompressors = new Map<CompressionType, DecompressFn>();

export function registerCompressionCodec(type: CompressionType, decompress: DecompressFn): void {
  decompressors.set(type, decompress);
}

/** The uncompressed records area of the batch at `pos` (a view when the batch is not compressed). */
export function batchRecordsArea(batch: Buffer, pos = 0): Buffer {
  const size = batchSizeAt(batch, pos);
  const area = batch.subarray(pos + BATCH_HEADER_SIZE, pos + size);
  const compression = batch.readInt16BE(pos + OFFSET_ATTRIBUTES) & ATTR_COMPRESSION_MASK;
  if (compression === CompressionType.None) return area;
  const fn = decompressors.get(compression);
  if (!fn) {
    throw WireError.invalid('recordBatch.attributes', pos, `compression ${CompressionType[compression] ?? compression} has no codec registered`);
  }
  return fn(area);
}

/**
 * Decodes every record of the batch at `pos`. Key, value and header values are views into the batch
 * (or into the decompressed area). Throws WireError if the records do not parse.
 */
export function decodeRecordBatch(batch: Buffer, pos = 0): Record[] {
  const h = readBatchHeader(batch, pos);
  const area = batchRecordsArea(batch, pos);
  const r = new BufferReader(area);
  if (h.recordsCount < 0 || h.recordsCount > area.length) {
    throw WireError.invalid('recordBatch.recordsCount', pos + OFFSET_RECORDS_COUNT, `count ${h.recordsCount} for ${area.length} bytes`);
  }
  const out: Record[] = new Array(h.recordsCount);
  for (let i = 0; i < h.recordsCount; i++) {
    const length = r.readVarint('record.length');
    if (length < 0 || length > r.remaining) throw new WireError('record', r.offset, length, r.remaining);
    const end = r.offset + length;
    const rr = new BufferReader(area, r.offset, end);
    rr.readInt8('record.attributes');
    const timestampDelta = rr.readVarlong('record.timestampDelta');
    const offsetDelta = rr.readVarint('record.offsetDelta');
    const keyLength = rr.readVarint('record.keyLength');
    const key = keyLength < 0 ? null : rr.readBytes('record.key', keyLength);
    const valueLength = rr.readVarint('record.valueLength');
    const value = valueLength < 0 ? null : rr.readBytes('record.value', valueLength);
    const headerCount = rr.readVarint('record.headersCount');
    if (headerCount < 0 || headerCount > rr.remaining) {
      throw WireError.invalid('record.headersCount', rr.offset, `count ${headerCount} for ${rr.remaining} bytes`);
    }
    const headers: RecordHeader[] = new Array(headerCount);
    for (let j = 0; j < headerCount; j++) {
      const hk = rr.readVarint('header.keyLength');
      if (hk < 0) throw WireError.invalid('header.keyLength', rr.offset, 'header keys are not nullable');
      rr.need('header.key', hk);
      const hkey = headerKeyAt(area, rr.offset, hk);
      rr.offset += hk;
      const hv = rr.readVarint('header.valueLength');
      headers[j] = { key: hkey, value: hv < 0 ? null : rr.readBytes('header.value', hv) };
    }
    r.offset = end;
    out[i] = {
      offset: h.baseOffset + offsetDelta,
      timestamp: (h.attributes & ATTR_TIMESTAMP_TYPE_LOG_APPEND) !== 0 ? h.maxTimestamp : h.baseTimestamp + timestampDelta,
      key,
      value,
      headers,
    };
  }
  return out;
}

/** Header keys up to this many bytes are looked up among recently decoded ones. */
const KEY_INTERN_MAX = 64;
/** Recently decoded header keys, direct-mapped by a hash of their bytes (a power of two). */
const KEY_INTERN_SLOTS = 64;
const internKeyBytes = new Uint8Array(KEY_INTERN_SLOTS * KEY_INTERN_MAX);
const internKeyLengths = new Int16Array(KEY_INTERN_SLOTS).fill(-1);
const internKeys: string[] = new Array<string>(KEY_INTERN_SLOTS).fill('');

/**
 * The UTF-8 header key of `len` bytes at `start`. Every record of a producer carries the same few keys: sharing
 * the string decoded last time for the same bytes spares a view and a string per header of every record read.
 */
function headerKeyAt(buf: Buffer, start: number, len: number): string {
  if (len === 0) return '';
  if (len > KEY_INTERN_MAX) return buf.toString('utf8', start, start + len);
  let h = len;
  for (let i = start; i < start + len; i++) h = (Math.imul(h, 31) + buf[i]) | 0;
  const slot = (h ^ (h >>> 11)) & (KEY_INTERN_SLOTS - 1);
  const at = slot * KEY_INTERN_MAX;
  if (internKeyLengths[slot] === len) {
    let i = 0;
    while (i < len && internKeyBytes[at + i] === buf[start + i]) i++;
    if (i === len) return internKeys[slot];
  }
  const key = buf.toString('utf8', start, start + len);
  for (let i = 0; i < len; i++) internKeyBytes[at + i] = buf[start + i];
  internKeyLengths[slot] = len;
  internKeys[slot] = key;
  return key;
}

/** Walks concatenated batches; stops at the first incomplete batch (a fetch may end mid-batch). */
export function* iterateBatches(buf: Buffer | ByteChunks): Generator<{ position: number; size: number }> {
  let pos = 0;
  while (buf.length - pos >= LOG_OVERHEAD) {
    const size = batchSizeAt(buf, pos);
    if (size < BATCH_HEADER_SIZE || pos + size > buf.length) return;
    yield { position: pos, size };
    pos += size;
  }
}

/** Decodes every complete batch in `buf`, skipping control batches (transaction markers). */
export function decodeRecords(buf: Buffer): Record[] {
  const out: Record[] = [];
  for (const { position } of iterateBatches(buf)) {
    if ((buf.readInt16BE(position + OFFSET_ATTRIBUTES) & ATTR_CONTROL) !== 0) continue;
    for (const rec of decodeRecordBatch(buf, position)) out.push(rec);
  }
  return out;
}

/** A record with the offset it already has (compaction rewrites records without renumbering them). */
export interface OffsetRecordInput extends RecordInput {
  offset: number;
}

/**
 * Encodes records that already have offsets into one uncompressed batch with the given `baseOffset`: each
 * record's offsetDelta is `offset - baseOffset`, so gaps left by removed records are kept, and
 * lastOffsetDelta is the last record's delta. Records must be in increasing offset order, all >= baseOffset.
 * Used by compaction; `encodeRecordBatch` remains the path for fresh batches.
 */
export function encodeRecordBatchWithOffsets(records: readonly OffsetRecordInput[], baseOffset: number, options: Omit<BatchOptions, 'baseOffset'> = {}, now = Date.now()): Buffer {
  const deltas = new Array<number>(records.length);
  let prev = baseOffset - 1;
  for (let i = 0; i < records.length; i++) {
    const offset = records[i].offset;
    if (offset <= prev) throw new RangeError(`record offsets must increase from baseOffset ${baseOffset}: got ${offset} after ${prev}`);
    prev = offset;
    deltas[i] = offset - baseOffset;
  }
  // Re-encoded records are written uncompressed, whatever the original batch used.
  return writeBatch(records, deltas, baseOffset, (options.attributes ?? 0) & ~ATTR_COMPRESSION_MASK, options, now);
}

/**
 * Control records (transaction markers, KIP-98). A control batch has attributes CONTROL | TRANSACTIONAL, the
 * transaction's producerId and producerEpoch, baseSequence -1, and exactly one record whose
 *   key   = version int16 (0) | type int16 (0 = ABORT, 1 = COMMIT)
 *   value = version int16 (0) | coordinatorEpoch int32   (Kafka's EndTxnMarker)
 * Consumers never see control records as messages (every decoder here skips CONTROL batches); read_committed
 * Kafka consumers use the ABORT marker to end an aborted transaction's range.
 */
export enum ControlType {
  Abort = 0,
  Commit = 1,
}

export interface ControlBatchInput {
  producerId: number;
  producerEpoch: number;
  type: ControlType;
  coordinatorEpoch?: number;
  timestamp?: number;
}

const CONTROL_KEY_SIZE = 4;
const CONTROL_VALUE_SIZE = 6;

/** Encodes one transaction marker batch (uncompressed; offsets are assigned by the log on append). */
export function encodeControlBatch(input: ControlBatchInput, now = Date.now()): Buffer {
  const key = Buffer.alloc(CONTROL_KEY_SIZE);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(input.type, 2);
  const value = Buffer.alloc(CONTROL_VALUE_SIZE);
  value.writeInt16BE(0, 0);
  value.writeInt32BE(input.coordinatorEpoch ?? 0, 2);
  return encodeRecordBatch(
    [{ key, value, timestamp: input.timestamp ?? now }],
    { attributes: ATTR_CONTROL | ATTR_TRANSACTIONAL, producerId: input.producerId, producerEpoch: input.producerEpoch, baseSequence: -1 },
    now,
  );
}

export function isControlBatch(buf: Buffer, pos = 0): boolean {
  return (buf.readInt16BE(pos + OFFSET_ATTRIBUTES) & ATTR_CONTROL) !== 0;
}

/** A transactional data batch: TRANSACTIONAL set, CONTROL not. */
export function isTransactionalDataBatch(buf: Buffer | ByteChunks, pos = 0): boolean {
  return (buf.readInt16BE(pos + OFFSET_ATTRIBUTES) & (ATTR_CONTROL | ATTR_TRANSACTIONAL)) === ATTR_TRANSACTIONAL;
}

/** Whether any complete batch in `buf` has the TRANSACTIONAL bit (data or marker). */
export function hasTransactionalBatch(buf: Buffer): boolean {
  for (const { position } of iterateBatches(buf)) if ((buf.readInt16BE(position + OFFSET_ATTRIBUTES) & ATTR_TRANSACTIONAL) !== 0) return true;
  return false;
}

export function batchProducerId(buf: Buffer, pos = 0): number {
  return Number(buf.readBigInt64BE(pos + OFFSET_PRODUCER_ID));
}

/**
 * The marker type of the control batch at `pos` (its first record's key), or null when the batch is not a
 * control batch or its key is not a version-0 marker key (an unknown control type is ignored, as Kafka does).
 */
export function controlBatchType(buf: Buffer, pos = 0): ControlType | null {
  if (!isControlBatch(buf, pos)) return null;
  const records = decodeRecordBatch(buf, pos);
  const key = records[0]?.key ?? null;
  if (key === null || key.length < CONTROL_KEY_SIZE || key.readInt16BE(0) !== 0) return null;
  const type = key.readInt16BE(2);
  return type === ControlType.Abort || type === ControlType.Commit ? type : null;
}
