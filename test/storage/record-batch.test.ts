import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  batchLastOffset,
  decodeRecordBatch,
  encodeRecordBatch,
  readBatchHeader,
  setBatchBaseOffset,
  validateBatch,
  type RecordInput,
} from '../../src/storage/record-batch.js';
import { WireError } from '../../src/wire/index.js';

const recordArb: fc.Arbitrary<RecordInput> = fc.record({
  timestamp: fc.integer({ min: 0, max: 2 ** 45 }),
  key: fc.option(fc.uint8Array({ maxLength: 32 }).map((a) => Buffer.from(a)), { nil: null }),
  value: fc.option(fc.uint8Array({ maxLength: 256 }).map((a) => Buffer.from(a)), { nil: null }),
  headers: fc.array(
    fc.record({ key: fc.string({ maxLength: 12 }), value: fc.option(fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a)), { nil: null }) }),
    { maxLength: 3 },
  ),
});

test('encoded batches validate and decode back to the same records', () => {
  fc.assert(
    fc.property(fc.array(recordArb, { minLength: 1, maxLength: 20 }), fc.integer({ min: 0, max: 2 ** 40 }), (records, base) => {
      const batch = encodeRecordBatch(records);
      assert.equal(validateBatch(batch), batch.length);
      setBatchBaseOffset(batch, base);
      // baseOffset is outside the CRC's coverage: patching it keeps the batch valid.
      assert.equal(validateBatch(batch), batch.length);
      const h = readBatchHeader(batch);
      assert.equal(h.baseOffset, base);
      assert.equal(h.recordsCount, records.length);
      assert.equal(batchLastOffset(batch), base + records.length - 1);
      const decoded = decodeRecordBatch(batch);
      decoded.forEach((rec, i) => {
        assert.equal(rec.offset, base + i);
        assert.equal(rec.timestamp, records[i].timestamp);
        assert.deepEqual(rec.key, records[i].key ?? null);
        assert.deepEqual(rec.value, records[i].value);
        assert.deepEqual(rec.headers, (records[i].headers ?? []).map((h) => ({ key: h.key, value: h.value })));
      });
    }),
  );
});

test('a flipped byte anywhere under the CRC is detected', () => {
  const batch = encodeRecordBatch([{ value: Buffer.from('hello'), key: Buffer.from('k'), timestamp: 1 }]);
  for (let i = 21; i < batch.length; i++) {
    const copy = Buffer.from(batch);
    copy[i] ^= 0x40;
    assert.throws(() => validateBatch(copy), WireError, `byte ${i}`);
  }
});

test('random bytes never decode into anything but WireError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const buf = Buffer.from(bytes);
      try {
        validateBatch(buf);
        decodeRecordBatch(buf);
      } catch (e) {
        assert.ok(e instanceof WireError, String(e));
      }
    }),
  );
});
