/**
 * Random and mutated bytes into every decoder: they may succeed or throw, but only WireError, and never allocate
 * more than the frame limit or what the input itself holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  decodeContentHeader,
  decodeFieldTable,
  decodeMethod,
  encodeMethod,
  FrameSplitter,
  PROTOCOL_HEADER,
} from '../../../../src/protocols/amqp/codec/index.js';
import { WireError } from '../../../../src/wire/index.js';
import { ALL_METHODS, methodArgs } from './arbitraries.js';

const fixtureDir = fileURLToPath(new URL('../../../../../test/fixtures/amqp/', import.meta.url));
const fixtureFrames: Buffer[] = readdirSync(fixtureDir)
  .filter((f) => f.endsWith('.hex') && !f.startsWith('protocol-header'))
  .flatMap((f) => readFileSync(fixtureDir + f, 'utf8').trim().split('\n'))
  .map((l) => Buffer.from(l, 'hex'));
const payloadsOfType = (type: number): Buffer[] => fixtureFrames.filter((f) => f[0] === type).map((f) => f.subarray(7, f.length - 1));
const methodPayloads = payloadsOfType(1);
const headerPayloads = payloadsOfType(2);

function onlyWireErrors(decode: () => unknown): void {
  try {
    decode();
  } catch (e) {
    if (!(e instanceof WireError)) throw new assert.AssertionError({ message: `threw ${String(e)}, not a WireError` });
  }
}

/** A valid input with a few bytes flipped, cut, or inserted. */
function mutated(base: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc
    .tuple(
      base,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'set', 'cut', 'insert')), { minLength: 1, maxLength: 4 }),
    )
    .map(([b, edits]) => {
      let out = Buffer.from(b);
      for (const [pos, byte, kind] of edits) {
        const at = out.length === 0 ? 0 : pos % out.length;
        if (kind === 'flip' && out.length > 0) out[at] ^= 1 << byte % 8;
        else if (kind === 'set' && out.length > 0) out[at] = byte;
        else if (kind === 'cut') out = out.subarray(0, at);
        else out = Buffer.concat([out.subarray(0, at), Buffer.from([byte]), out.subarray(at)]);
      }
      return out;
    });
}

const randomBytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
/** Valid encodings of every method with random fields. */
const validMethod = fc.constantFrom(...ALL_METHODS).chain((spec) => methodArgs(spec).map((args) => encodeMethod(spec.name, args as never)));
/** A real class/method id followed by random bytes: reaches the field decoders, not only the id lookup. */
const knownIdRandomTail = fc.tuple(fc.constantFrom(...ALL_METHODS), randomBytes).map(([spec, tail]) => {
  const b = Buffer.alloc(4 + tail.length);
  b.writeUInt16BE(spec.classId, 0);
  b.writeUInt16BE(spec.methodId, 2);
  tail.copy(b, 4);
  return b;
});

test('decodeMethod throws only WireError on random, mutated and truncated input', () => {
  const inputs = fc.oneof(randomBytes, knownIdRandomTail, mutated(fc.constantFrom(...methodPayloads)), mutated(validMethod));
  fc.assert(fc.property(inputs, (b) => onlyWireErrors(() => decodeMethod(b))), { numRuns: 3000 });
});

test('decodeContentHeader throws only WireError on random and mutated input', () => {
  const withBasicClass = randomBytes.map((b) => Buffer.concat([Buffer.from([0, 60, 0, 0]), b]));
  const inputs = fc.oneof(randomBytes, withBasicClass, mutated(fc.constantFrom(...headerPayloads)));
  fc.assert(fc.property(inputs, (b) => onlyWireErrors(() => decodeContentHeader(b))), { numRuns: 3000 });
});

test('decodeFieldTable throws only WireError on random and mutated input', () => {
  const tables = methodPayloads.filter((p) => p.readUInt32BE(0) === 0x000a000b).map((p) => p.subarray(4)); // start-ok: table first
  const framed = randomBytes.map((b) => {
    const out = Buffer.alloc(4 + b.length);
    out.writeUInt32BE(b.length, 0);
    b.copy(out, 4);
    return out;
  });
  const inputs = fc.oneof(randomBytes, framed, mutated(fc.constantFrom(...tables)));
  fc.assert(fc.property(inputs, (b) => onlyWireErrors(() => decodeFieldTable(b))), { numRuns: 3000 });
});

test('the frame splitter throws only WireError and never buffers more than frame-max', () => {
  const stream = Buffer.concat([PROTOCOL_HEADER, ...fixtureFrames]);
  const inputs = fc.tuple(fc.oneof(randomBytes, mutated(fc.constant(stream))), fc.array(fc.nat({ max: 400 }), { maxLength: 8 }), fc.boolean());
  fc.assert(
    fc.property(inputs, ([bytes, cuts, header]) => {
      const frameMax = 4096;
      const s = new FrameSplitter({ onFrame: (_t, _c, p) => assert.ok(p.length <= frameMax - 8) }, { frameMax, protocolHeader: header });
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      let prev = 0;
      onlyWireErrors(() => {
        for (const at of [...points, bytes.length]) {
          s.push(bytes.subarray(prev, at));
          prev = at;
          assert.ok(s.buffered <= frameMax);
        }
      });
    }),
    { numRuns: 2000 },
  );
});

test('lengths claiming gigabytes fail without allocating them', () => {
  const before = process.memoryUsage().arrayBuffers;
  const hostile = [
    Buffer.from('000a000b' + 'fffffff0', 'hex'), // start-ok client-properties table of 4 GiB
    Buffer.from('000a0015' + 'ffffffff', 'hex'), // secure-ok response longstr of 4 GiB
    Buffer.from('003c0028' + '0000' + 'ff', 'hex'), // publish exchange shortstr of 255 with nothing after
  ];
  for (let i = 0; i < 2000; i++) for (const h of hostile) assert.throws(() => decodeMethod(h), WireError);
  assert.throws(() => decodeContentHeader(Buffer.from('003c0000' + '0000000000000000' + '2000' + 'ffffffff', 'hex')), WireError);
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024);
});
