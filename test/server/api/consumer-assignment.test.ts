import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeConsumerAssignment, tryDecodeConsumerAssignment } from '../../../src/server/api/consumer-assignment.js';
import { WireError } from '../../../src/wire/wire-error.js';

/** ConsumerProtocolAssignment as a Kafka client encodes it. */
function encode(version: number, topics: Array<[string, number[]]>, userData: Buffer | null): Buffer {
  const parts: Buffer[] = [];
  const i16 = (n: number): Buffer => {
    const b = Buffer.alloc(2);
    b.writeInt16BE(n);
    return b;
  };
  const i32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };
  parts.push(i16(version), i32(topics.length));
  for (const [topic, partitions] of topics) {
    parts.push(i16(Buffer.byteLength(topic)), Buffer.from(topic), i32(partitions.length), ...partitions.map(i32));
  }
  parts.push(userData === null ? i32(-1) : Buffer.concat([i32(userData.length), userData]));
  return Buffer.concat(parts);
}

test('assignments of versions 0 to 3 decode to topics and partitions', () => {
  for (const version of [0, 1, 2, 3]) {
    const bytes = encode(version, [['orders', [0, 2]], ['ünïcode', [1]]], version === 0 ? null : Buffer.from('user'));
    assert.deepEqual(decodeConsumerAssignment(bytes), [
      { topic: 'orders', partitions: [0, 2] },
      { topic: 'ünïcode', partitions: [1] },
    ]);
  }
  assert.deepEqual(decodeConsumerAssignment(Buffer.alloc(0)), []);
});

test('a truncated or lying assignment throws WireError before allocating, and the tolerant form gives []', () => {
  const good = encode(0, [['t', [0, 1, 2]]], null);
  for (let cut = 1; cut < good.length - 4; cut++) {
    assert.throws(() => decodeConsumerAssignment(good.subarray(0, cut)), WireError, `cut at ${cut}`);
  }
  const huge = Buffer.from([0, 0, 0x7f, 0xff, 0xff, 0xff]);
  assert.throws(() => decodeConsumerAssignment(huge), WireError);
  assert.deepEqual(tryDecodeConsumerAssignment(huge), []);
});
