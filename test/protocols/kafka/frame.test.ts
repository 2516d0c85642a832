import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MAX_FRAME_BYTES, FrameSplitter } from '../../../src/protocols/kafka/codec/frame.js';
import { WireError } from '../../../src/wire/index.js';

function prefix(size: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(size, 0);
  return b;
}

test('a frame over socket.request.max.bytes is refused from its size prefix alone', () => {
  assert.equal(DEFAULT_MAX_FRAME_BYTES, 104857600);
  const s = new FrameSplitter();
  s.push(prefix(DEFAULT_MAX_FRAME_BYTES + 1));
  assert.throws(() => s.next(), (e: unknown) => e instanceof WireError && e.field === 'frame.size' && e.need === DEFAULT_MAX_FRAME_BYTES + 1);
  assert.throws(() => s.push(Buffer.alloc(1)), /after an error/);
});

test('the size limit also holds when the prefix arrives one byte at a time', () => {
  const s = new FrameSplitter({ maxFrameBytes: 1000 });
  const p = prefix(1001);
  for (let i = 0; i < 3; i++) {
    s.push(p.subarray(i, i + 1));
    assert.equal(s.next(), null);
  }
  s.push(p.subarray(3));
  assert.throws(() => s.next(), WireError);
});

test('a negative size is a WireError', () => {
  const s = new FrameSplitter();
  s.push(Buffer.from([0xff, 0xff, 0xff, 0xfe, 0, 0]));
  assert.throws(() => s.next(), (e: unknown) => e instanceof WireError && /negative/.test(e.message));
});

test('memory follows the bytes received, not the size a peer announces', () => {
  const s = new FrameSplitter();
  s.push(prefix(50 * 1024 * 1024));
  s.push(Buffer.alloc(10));
  assert.equal(s.next(), null);
  assert.equal(s.buffered, 10);
});

test('a frame inside one chunk is a view of it; frames of size 0 and several frames per chunk work', () => {
  const chunk = Buffer.concat([prefix(3), Buffer.from('abc'), prefix(0), prefix(2), Buffer.from('de'), prefix(5), Buffer.from('f')]);
  const s = new FrameSplitter();
  s.push(chunk);
  const a = s.next()!;
  assert.ok(a instanceof Buffer);
  assert.equal(a.toString(), 'abc');
  assert.equal(a.buffer, chunk.buffer, 'no copy');
  assert.equal(s.next()!.length, 0);
  assert.equal(s.next()!.toString(), 'de');
  assert.equal(s.next(), null);
  assert.equal(s.buffered, 1);
  s.push(Buffer.from('ghij'));
  assert.equal(s.next()!.toString(), 'fghij');
  assert.equal(s.next(), null);
  assert.equal(s.buffered, 0);
});
