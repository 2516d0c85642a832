import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  basicContentHeader,
  decodeContentHeader,
  encodeContentHeader,
  encodeContentHeaderFrame,
  peekBodySize,
  PROPERTIES,
} from '../../../../src/protocols/amqp/codec/index.js';
import { WireError } from '../../../../src/wire/index.js';
import { basicProperties } from './arbitraries.js';

test('any basic content header round-trips', () => {
  fc.assert(
    fc.property(fc.maxSafeNat(), basicProperties, (bodySize, properties) => {
      const h = basicContentHeader(bodySize, properties);
      const bytes = encodeContentHeader(h);
      assert.deepStrictEqual(decodeContentHeader(bytes), h);
      assert.equal(peekBodySize(bytes), bodySize);
      const frame = encodeContentHeaderFrame(3, h);
      assert.ok(frame.subarray(7, frame.length - 1).equals(bytes));
    }),
    { numRuns: 300 },
  );
});

test('the 14 basic properties map to flag bits 15..2 in spec order', () => {
  assert.deepEqual(
    PROPERTIES[60].map((p) => p.wireName),
    ['content-type', 'content-encoding', 'headers', 'delivery-mode', 'priority', 'correlation-id', 'reply-to', 'expiration', 'message-id', 'timestamp', 'type', 'user-id', 'app-id', 'cluster-id'],
  );
  const empty = encodeContentHeader(basicContentHeader(0));
  assert.equal(empty.toString('hex'), '003c' + '0000' + '0000000000000000' + '0000');
  const dm = encodeContentHeader(basicContentHeader(10, { deliveryMode: 2 }));
  assert.equal(dm.toString('hex'), '003c' + '0000' + '000000000000000a' + '1000' + '02');
  const cluster = encodeContentHeader(basicContentHeader(1, { clusterId: '' }));
  assert.equal(cluster.readUInt16BE(12), 0x0004);
});

test('a continuation flags word with no property bits is accepted', () => {
  const h = Buffer.from('003c' + '0000' + '0000000000000001' + '1001' + '0000' + '02', 'hex');
  assert.deepStrictEqual(decodeContentHeader(h), basicContentHeader(1, { deliveryMode: 2 }));
});

test('flags for properties basic does not have, an unknown class and trailing bytes are WireErrors', () => {
  const bit1 = Buffer.from('003c' + '0000' + '0000000000000000' + '0002', 'hex');
  assert.throws(() => decodeContentHeader(bit1), (e: unknown) => e instanceof WireError && e.field === 'property-flags');
  const cont = Buffer.from('003c' + '0000' + '0000000000000000' + '0001' + '8000', 'hex');
  assert.throws(() => decodeContentHeader(cont), WireError);
  assert.throws(() => decodeContentHeader(Buffer.from('000a' + '0000' + '0000000000000000' + '0000', 'hex')), (e: unknown) => e instanceof WireError && e.field === 'class-id');
  assert.throws(() => decodeContentHeader(Buffer.from('003c' + '0000' + '0000000000000000' + '0000' + '00', 'hex')), WireError);
  assert.throws(() => decodeContentHeader(Buffer.from('003c' + '0000' + '0020000000000000' + '0000', 'hex')), (e: unknown) => e instanceof WireError && e.field === 'body-size');
});

test('encoding refuses bad property values before allocating', () => {
  assert.throws(() => encodeContentHeader(basicContentHeader(0, { priority: 256 })), RangeError);
  assert.throws(() => encodeContentHeader(basicContentHeader(0, { correlationId: 'x'.repeat(256) })), RangeError);
  assert.throws(() => encodeContentHeader(basicContentHeader(-1)), RangeError);
  assert.throws(() => encodeContentHeader({ classId: 10, weight: 0, bodySize: 0, properties: {} }), RangeError);
});
