import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bodyFramesSize,
  checkProtocolHeader,
  encodeFrame,
  FRAME_MIN_SIZE,
  FrameError,
  FrameSplitter,
  FrameType,
  HEARTBEAT_FRAME,
  PROTOCOL_HEADER,
  ProtocolHeaderError,
  writeBodyFrames,
} from '../../../../src/protocols/amqp/codec/index.js';
import { BufferWriter, WireError } from '../../../../src/wire/index.js';

function collect(options: ConstructorParameters<typeof FrameSplitter>[1] = {}): { s: FrameSplitter; frames: [number, number, string][]; headers: number[] } {
  const frames: [number, number, string][] = [];
  const headers: number[] = [];
  const s = new FrameSplitter({ onFrame: (t, c, p) => frames.push([t, c, p.toString('hex')]), onProtocolHeader: () => headers.push(frames.length) }, options);
  return { s, frames, headers };
}

test('checkProtocolHeader accepts only AMQP 0-9-1 and answers anything else early', () => {
  assert.equal(checkProtocolHeader(PROTOCOL_HEADER), 'ok');
  assert.equal(checkProtocolHeader(Buffer.concat([PROTOCOL_HEADER, Buffer.from([1])])), 'ok');
  assert.equal(checkProtocolHeader(PROTOCOL_HEADER.subarray(0, 5)), 'partial');
  assert.equal(checkProtocolHeader(Buffer.alloc(0)), 'partial');
  assert.equal(checkProtocolHeader(Buffer.from('AMQP\x00\x01\x00\x00', 'latin1')), 'mismatch', 'AMQP 1.0');
  assert.equal(checkProtocolHeader(Buffer.from('AMQP\x01\x01\x00\x09', 'latin1')), 'mismatch', '0-9 header');
  assert.equal(checkProtocolHeader(Buffer.from('GET ')), 'mismatch');
});

test('the splitter wants the protocol header first, and a wrong one is a ProtocolHeaderError carrying the answer', () => {
  const { s, frames, headers } = collect({ protocolHeader: true });
  s.push(Buffer.concat([PROTOCOL_HEADER, HEARTBEAT_FRAME]));
  assert.deepEqual(headers, [0]);
  assert.deepEqual(frames, [[8, 0, '']]);
  const bad = collect({ protocolHeader: true });
  bad.s.push(Buffer.from('AMQP'));
  assert.throws(
    () => bad.s.push(Buffer.from([0, 1, 0, 0])),
    (e: unknown) => e instanceof ProtocolHeaderError && e instanceof WireError && e.answer.equals(PROTOCOL_HEADER) && e.offset === 5,
  );
  assert.throws(() => bad.s.push(Buffer.alloc(1)), /after an error/);
});

test('frame-max is enforced from the 7-byte header, before the payload arrives or is allocated', () => {
  const { s } = collect({ frameMax: FRAME_MIN_SIZE });
  const header = Buffer.from([FrameType.BODY, 0, 1, 0, 0, 0x0f, 0xf9]); // 4089 + 8 = 4097 > 4096
  assert.throws(
    () => s.push(header),
    (e: unknown) => e instanceof FrameError && e.replyCode === 501 && e.field === 'frame-size',
  );
  // Exactly frame-max is fine.
  const ok = collect({ frameMax: FRAME_MIN_SIZE });
  ok.s.push(encodeFrame(FrameType.BODY, 1, Buffer.alloc(FRAME_MIN_SIZE - 8)));
  assert.equal(ok.frames.length, 1);
  // A 4 GiB claim split over two pushes still fails on the header, with nothing buffered but its bytes.
  const huge = collect({ frameMax: 131072 });
  huge.s.push(Buffer.from([3, 0, 1, 0xff]));
  assert.equal(huge.s.buffered, 4);
  assert.throws(() => huge.s.push(Buffer.from([0xff, 0xff, 0xff])), FrameError);
});

test('a bad frame-end and an unknown frame type are FrameErrors (501)', () => {
  const f = encodeFrame(FrameType.METHOD, 0, Buffer.from([0, 10, 0, 51]));
  f[f.length - 1] = 0;
  assert.throws(() => collect().s.push(f), (e: unknown) => e instanceof FrameError && e.field === 'frame-end' && e.offset === f.length - 1);
  const straddling = collect();
  straddling.s.push(f.subarray(0, f.length - 1));
  assert.throws(() => straddling.s.push(f.subarray(f.length - 1)), FrameError);
  assert.throws(() => collect().s.push(Buffer.from([4, 0, 0, 0, 0, 0, 0, 0xce])), (e: unknown) => e instanceof FrameError && e.field === 'frame-type');
});

test('frameMax may be raised from inside onFrame (after tune-ok) and applies to the next frame', () => {
  const big = encodeFrame(FrameType.BODY, 1, Buffer.alloc(10_000, 7));
  const frames: number[] = [];
  const s: FrameSplitter = new FrameSplitter({
    onFrame: (_t, _c, p) => {
      frames.push(p.length);
      s.frameMax = 131072;
    },
  });
  s.push(Buffer.concat([HEARTBEAT_FRAME, big]));
  assert.deepEqual(frames, [0, 10_000]);
});

test('a frame inside one chunk is a view of it; a straddling one is assembled once', () => {
  const f = encodeFrame(FrameType.BODY, 2, Buffer.from('hello'));
  const seen: Buffer[] = [];
  const s = new FrameSplitter({ onFrame: (_t, _c, p) => seen.push(p) });
  s.push(f);
  s.push(f.subarray(0, 9));
  s.push(f.subarray(9));
  f[7] = 0x4a; // 'J': visible through a view, not in a copy
  assert.deepEqual(
    seen.map((p) => p.toString()),
    ['Jello', 'hello'],
  );
});

test('bodies are cut into frames of at most frame-max bytes, and an empty body has no frame', () => {
  const body = Buffer.alloc(10_000, 1);
  const frameMax = 4096;
  const w = BufferWriter.alloc(bodyFramesSize(body.length, frameMax));
  writeBodyFrames(w, 5, body, frameMax);
  assert.equal(w.offset, w.buf.length);
  const { s, frames } = collect({ frameMax });
  s.push(w.buf);
  assert.deepEqual(
    frames.map(([t, c, p]) => [t, c, p.length / 2]),
    [
      [3, 5, 4088],
      [3, 5, 4088],
      [3, 5, 1824],
    ],
  );
  assert.equal(bodyFramesSize(0, frameMax), 0);
  assert.equal(bodyFramesSize(4088, frameMax), 4096);
  assert.equal(bodyFramesSize(4089, frameMax), 4089 + 16);
});
