import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { decodeFrame, decodePacket, MqttProtocolError, PacketSplitter, type MqttVersion } from '../../../../src/protocols/mqtt/codec/index.js';

// Hostile bytes: every decoder either returns a packet or throws MqttProtocolError (never a TypeError/RangeError),
// and nothing is allocated beyond the packet size limit (AE testRandom.js, TA fuzz_request_decode.rs).

const DIR = fileURLToPath(new URL('../../../../../test/fixtures/mqtt/', import.meta.url));
const FIXTURES = readdirSync(DIR)
  .filter((f) => f.endsWith('.hex'))
  .map((f) => ({ version: (f.includes('-v5.') ? 5 : 4) as MqttVersion, bytes: Buffer.from(readFileSync(DIR + f, 'utf8').replace(/\s+/g, ''), 'hex') }));

function onlyProtocolErrors(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof MqttProtocolError)) throw e;
    assert.ok(e.reasonCode >= 0x80, `reason code 0x${e.reasonCode.toString(16)} is not an error`);
  }
}

test('random bodies of every packet type decode or throw MqttProtocolError', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 64 }), fc.constantFrom(4 as const, 5 as const), (first, body, version) => {
      onlyProtocolErrors(() => decodePacket(first, Buffer.from(body), version));
    }),
    { numRuns: 20000 },
  );
});

test('mutated golden fixtures decode or throw MqttProtocolError', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...FIXTURES),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.nat(),
      (fx, flips, cut) => {
        const b = Buffer.from(fx.bytes);
        for (const [at, v] of flips) b[at % b.length] = v;
        onlyProtocolErrors(() => decodeFrame(b, fx.version));
        // Truncated anywhere (header length fixed up so only the body is short).
        const t = Buffer.from(fx.bytes.subarray(0, Math.max(2, cut % (fx.bytes.length + 1))));
        onlyProtocolErrors(() => decodeFrame(t, fx.version));
        // And with the fixed header kept but the body cut: decodePacket on the short body.
        if (fx.bytes.length > 2 && fx.bytes[1] < 0x80) onlyProtocolErrors(() => decodePacket(fx.bytes[0], fx.bytes.subarray(2, 2 + (cut % (fx.bytes.length - 1))), fx.version));
      },
    ),
    { numRuns: 20000 },
  );
});

test('a random stream through the splitter never holds more than maxPacketSize', () => {
  const max = 256;
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { maxLength: 20 }), fc.constantFrom(4 as const, 5 as const), (chunks, version) => {
      const s = new PacketSplitter({ onPacket: (first, body) => { assert.ok(body.length + 2 <= max); onlyProtocolErrors(() => decodePacket(first, body, version)); } }, { maxPacketSize: max });
      try {
        for (const c of chunks) {
          s.push(Buffer.from(c));
          assert.ok(s.buffered <= max);
        }
      } catch (e) {
        if (!(e instanceof MqttProtocolError)) throw e;
      }
    }),
    { numRuns: 5000 },
  );
});

test('a declared length far beyond the data allocates nothing', () => {
  const before = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < 1000; i++) {
    // SUBACK and the rest size their arrays from the body actually present, never from a count on the wire.
    onlyProtocolErrors(() => decodeFrame(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f, 0x00]), 4));
    const s = new PacketSplitter({ onPacket: () => {} }, { maxPacketSize: 1 << 20 });
    onlyProtocolErrors(() => s.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])));
  }
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 << 20);
});
