import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ATTR_CONTROL,
  ATTR_TRANSACTIONAL,
  ControlType,
  controlBatchType,
  decodeRecordBatch,
  decodeRecords,
  encodeControlBatch,
  encodeRecordBatch,
  isControlBatch,
  isTransactionalDataBatch,
  readBatchHeader,
  validateBatch,
} from '../../../src/storage/record-batch.js';

test('a COMMIT marker is a valid control batch laid out as Kafka writes it', () => {
  const batch = encodeControlBatch({ producerId: 4242, producerEpoch: 7, type: ControlType.Commit, coordinatorEpoch: 3, timestamp: 1_700_000_000_000 });
  assert.equal(validateBatch(batch), batch.length);
  const h = readBatchHeader(batch);
  assert.equal(h.attributes, ATTR_CONTROL | ATTR_TRANSACTIONAL);
  assert.deepEqual([h.producerId, h.producerEpoch, h.baseSequence, h.recordsCount, h.lastOffsetDelta], [4242, 7, -1, 1, 0]);
  const [record] = decodeRecordBatch(batch);
  // key: version 0, type 1 (COMMIT); value: version 0, coordinator epoch 3.
  assert.deepEqual([...record.key!], [0, 0, 0, 1]);
  assert.deepEqual([...record.value!], [0, 0, 0, 0, 0, 3]);
  assert.equal(record.timestamp, 1_700_000_000_000);
  assert.equal(controlBatchType(batch), ControlType.Commit);
  assert.equal(isControlBatch(batch), true);
  assert.equal(isTransactionalDataBatch(batch), false);
});

test('an ABORT marker has the key kafkajs recognises ([0,0,0,0]) and is never decoded as a message', () => {
  const batch = encodeControlBatch({ producerId: 1, producerEpoch: 0, type: ControlType.Abort });
  assert.deepEqual([...decodeRecordBatch(batch)[0].key!], [0, 0, 0, 0]);
  assert.equal(controlBatchType(batch), ControlType.Abort);
  const data = encodeRecordBatch([{ value: Buffer.from('x') }], { attributes: ATTR_TRANSACTIONAL, producerId: 1, producerEpoch: 0, baseSequence: 0 });
  assert.equal(isTransactionalDataBatch(data), true);
  assert.equal(controlBatchType(data), null);
  assert.deepEqual(decodeRecords(Buffer.concat([data, batch])).map((r) => r.value!.toString()), ['x']);
});

test('a control batch with an unknown key version or type is not taken for a marker', () => {
  const odd = encodeRecordBatch([{ key: Buffer.from([0, 1, 0, 1]), value: Buffer.alloc(6) }], { attributes: ATTR_CONTROL | ATTR_TRANSACTIONAL, producerId: 1, producerEpoch: 0 });
  assert.equal(controlBatchType(odd), null);
  const unknownType = encodeRecordBatch([{ key: Buffer.from([0, 0, 0, 9]), value: Buffer.alloc(6) }], { attributes: ATTR_CONTROL | ATTR_TRANSACTIONAL, producerId: 1, producerEpoch: 0 });
  assert.equal(controlBatchType(unknownType), null);
  const short = encodeRecordBatch([{ key: Buffer.from([0]), value: null }], { attributes: ATTR_CONTROL, producerId: 1, producerEpoch: 0 });
  assert.equal(controlBatchType(short), null);
});
