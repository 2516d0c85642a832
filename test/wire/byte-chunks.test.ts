// ByteChunks (bytes kept as their socket reads) against the same bytes in one Buffer: every read, view, head
// and CRC must agree wherever the pieces are cut.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteChunks, crc32c } from '../../src/wire/index.js';

/** Bytes and the views they are cut into. */
const arbCut = fc
  .tuple(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.array(fc.nat(), { maxLength: 10 }))
  .map(([bytes, cuts]) => {
    const whole = Buffer.from(bytes);
    const at = [...new Set(cuts.map((c) => c % whole.length))].sort((a, b) => a - b);
    const pieces: Buffer[] = [];
    let start = 0;
    for (const c of [...at, whole.length]) {
      if (c > start) pieces.push(whole.subarray(start, c));
      start = c;
    }
    return { whole, chunks: new ByteChunks(pieces) };
  });

test('reads at any position agree with the joined bytes, across piece boundaries', () => {
  fc.assert(
    fc.property(arbCut, fc.nat(), ({ whole, chunks }, p) => {
      assert.equal(chunks.length, whole.length);
      assert.ok(chunks.join().equals(whole));
      const pos = p % whole.length;
      assert.equal(chunks.readUInt8(pos), whole[pos]);
      assert.equal(chunks.readInt8(pos), whole.readInt8(pos));
      if (pos + 2 <= whole.length) assert.equal(chunks.readInt16BE(pos), whole.readInt16BE(pos));
      if (pos + 4 <= whole.length) {
        assert.equal(chunks.readInt32BE(pos), whole.readInt32BE(pos));
        assert.equal(chunks.readUInt32BE(pos), whole.readUInt32BE(pos));
      } else assert.throws(() => chunks.readInt32BE(pos), RangeError);
    }),
    { numRuns: 500 },
  );
});

test('subarray and CRC-32C of any range agree with the joined bytes; subarray copies nothing', () => {
  fc.assert(
    fc.property(arbCut, fc.nat(), fc.nat(), ({ whole, chunks }, a, b) => {
      const start = a % (whole.length + 1);
      const end = start + (b % (whole.length - start + 1));
      const sub = chunks.subarray(start, end);
      const bytes = sub instanceof ByteChunks ? sub.join() : sub;
      assert.ok(bytes.equals(whole.subarray(start, end)));
      for (const piece of sub instanceof ByteChunks ? sub.pieces : [sub]) if (piece.length > 0) assert.equal(piece.buffer, whole.buffer, 'a view, not a copy');
      assert.equal(chunks.crc32c(start, end), crc32c(whole.subarray(start, end)));
    }),
    { numRuns: 500 },
  );
});

test('withHead puts the first n bytes in the first piece, copying only them and only when they straddle', () => {
  fc.assert(
    fc.property(arbCut, fc.integer({ min: 1, max: 80 }), ({ whole, chunks }, n) => {
      const h = chunks.withHead(n);
      assert.ok(h.join().equals(whole));
      assert.ok(h.pieces[0].length >= Math.min(n, whole.length));
      if (chunks.pieces[0].length >= n) assert.equal(h, chunks, 'nothing to do');
      else assert.equal(h.pieces[0].length, Math.min(n, whole.length), 'the copy is the head alone');
      // Patching the head is seen in the bytes written (the log sets the base offset this way).
      h.pieces[0][0] ^= 0xff;
      assert.equal(h.join()[0], whole[0] ^ (h === chunks ? 0 : 0xff));
    }),
    { numRuns: 300 },
  );
});

test('empty pieces are dropped and a wrong declared length is refused', () => {
  const c = new ByteChunks([Buffer.from('ab'), Buffer.alloc(0), Buffer.from('c')]);
  assert.equal(c.pieces.length, 2);
  assert.equal(c.join().toString(), 'abc');
  assert.throws(() => new ByteChunks([Buffer.from('ab')], 3), RangeError);
  assert.throws(() => c.readUInt8(3), RangeError);
  assert.throws(() => c.subarray(2, 4), RangeError);
});
