import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePacket, type PublishPacket } from '../../../src/protocols/mqtt/codec/index.js';
import { encodePublish } from '../../../src/protocols/mqtt/publish-encoder.js';

test('a reused PUBLISH encoding equals a fresh one for every subscriber: QoS 0/1/2, v4/v5, long topics, patched ids', () => {
  const payload = Buffer.alloc(300, 7);
  for (const version of [4, 5] as const) {
    for (const qos of [0, 1, 2] as const) {
      for (const topic of ['a/b', 't/'.repeat(100)]) {
        for (let id = 1; id <= 3; id++) {
          const p: PublishPacket = { type: 'publish', dup: id === 3, qos, retain: false, topic, payload };
          if (qos > 0) p.packetId = id * 1000 + 1;
          assert.deepEqual(encodePublish(p, version), encodePacket(p, version), `v${version} qos ${qos} id ${id} topic ${topic.length}`);
        }
      }
    }
  }
  // With properties nothing is reused.
  const withProps: PublishPacket = { type: 'publish', dup: false, qos: 1, retain: false, topic: 'a', payload, packetId: 9, properties: { contentType: 'x' } };
  assert.deepEqual(encodePublish(withProps, 5), encodePacket(withProps, 5));
});

test('a QoS 1 reuse is a copy: patching one subscriber\'s id leaves the previous buffer intact', () => {
  const payload = Buffer.from('hello');
  const a = encodePublish({ type: 'publish', dup: false, qos: 1, retain: false, topic: 'x', payload, packetId: 1 }, 4);
  const b = encodePublish({ type: 'publish', dup: false, qos: 1, retain: false, topic: 'x', payload, packetId: 2 }, 4);
  assert.notEqual(a, b);
  assert.equal(a.readUInt16BE(5), 1);
  assert.equal(b.readUInt16BE(5), 2);
});
