import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MQTT_HEADER, decodeAttributes, encodeAttributes, sessionStreamName, type StoredAttributes } from '../../../src/protocols/mqtt/session-queue.js';
import { validateStreamName } from '../../../src/core/stream.js';

test('stored MQTT attributes round-trip through the 14-byte tributary-mqtt header', () => {
  const cases: StoredAttributes[] = [
    { qos: 1, retain: false },
    { qos: 2, retain: true },
    { qos: 1, retain: false, payloadFormatIndicator: 1, expiresAtMs: 1_763_900_000_123, subscriptionId: 268_435_455 },
    { qos: 2, retain: false, subscriptionId: 1 },
  ];
  for (const a of cases) {
    const value = encodeAttributes(a);
    assert.equal(value.length, 14);
    assert.deepEqual(decodeAttributes([{ key: 'other', value: Buffer.from('x') }, { key: MQTT_HEADER, value }]), a);
  }
  assert.equal(decodeAttributes([{ key: 'content-type', value: Buffer.from('text/plain') }]), null, 'a record without the header');
  assert.equal(decodeAttributes([{ key: MQTT_HEADER, value: Buffer.alloc(3) }]), null, 'a truncated header is not read');
});

test('every client id maps to a valid internal stream name, distinct per id', () => {
  const ids = ['a', 'ünïcödé/with spaces', 'x'.repeat(65_535), '', '../..'];
  const names = ids.map(sessionStreamName);
  for (const n of names) assert.doesNotThrow(() => validateStreamName(n, true), n);
  assert.equal(new Set(names).size, ids.length);
});
