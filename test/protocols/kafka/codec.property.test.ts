// Property and fuzz tests over every generated schema and every version (STYLE §7 "Property and fuzz"):
// random values encode → decode to the same value and re-encode to the same bytes; random and mutated bytes
// into every decoder throw only WireError (never RangeError/TypeError), with allocation bounded by the input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import * as codec from '../../../src/protocols/kafka/codec/index.js';
import { decode, decodeBuffer, decodeRequest, encodeToBuffer, inRange, type FieldSpec, type MessageSchema } from '../../../src/protocols/kafka/codec/index.js';
import { ByteChunks, ChunksReader, WireError } from '../../../src/wire/index.js';

const SCHEMAS: MessageSchema[] = Object.entries(codec)
  .filter(([name, v]) => name.endsWith('Schema') && typeof v === 'object' && v !== null && 'fields' in v)
  .map(([, v]) => v as MessageSchema);

const RUNS = Number(process.env.KAFKA_CODEC_RUNS ?? 12);

function versions(s: MessageSchema): number[] {
  const out: number[] = [];
  for (let v = s.validVersions[0]; v <= s.validVersions[1]; v++) out.push(v);
  return out;
}

type Arb = fc.Arbitrary<unknown>;

function arbPrimitive(type: string): Arb {
  switch (type) {
    case 'int8':
      return fc.integer({ min: -128, max: 127 });
    case 'int16':
      return fc.integer({ min: -32768, max: 32767 });
    case 'uint16':
      return fc.integer({ min: 0, max: 65535 });
    case 'int32':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'uint32':
      return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case 'int64':
      return fc.oneof(fc.integer({ min: -1, max: 1000 }), fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }));
    case 'float64':
      return fc.double();
    case 'bool':
      return fc.boolean();
    case 'string':
      return fc.string({ unit: 'grapheme', maxLength: 6 });
    case 'bytes':
    case 'records':
      return fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b));
    case 'uuid':
      return fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('base64url'));
    default:
      throw new Error(`no arbitrary for ${type}`);
  }
}

function arbField(f: FieldSpec, version: number, flexible: boolean, depth: number): Arb {
  let base: Arb;
  if (f.type === 'struct') base = arbStruct(f.fields ?? [], version, flexible, depth + 1);
  else if (f.type === 'array') {
    const item = f.items === 'struct' ? arbStruct(f.fields ?? [], version, flexible, depth + 1) : arbPrimitive(f.items ?? 'int32');
    base = fc.array(item, { maxLength: depth > 2 ? 1 : 3 });
  } else base = arbPrimitive(f.type);
  return inRange(f.nullableVersions, version) ? fc.option(base, { nil: null, freq: 4 }) : base;
}

/** Values for the fields on the wire (or tagged) in `version`; absent ones are left out and decode as defaults. */
function arbStruct(fields: readonly FieldSpec[], version: number, flexible: boolean, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const rec: Record<string, Arb> = {};
  for (const f of fields) {
    const tagged = f.taggedVersions !== undefined && flexible && inRange(f.taggedVersions, version);
    if (tagged || inRange(f.versions, version)) rec[f.name] = arbField(f, version, flexible, depth);
  }
  return fc.record(rec);
}

/** Every key of `expected` (recursively) equals the same key of `actual`; extra keys in `actual` are defaults. */
function assertSubset(expected: unknown, actual: unknown, path: string): void {
  if (Buffer.isBuffer(expected)) {
    assert.ok(Buffer.isBuffer(actual) && expected.equals(actual), path);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), path);
    assert.equal(actual.length, expected.length, path);
    expected.forEach((e, i) => assertSubset(e, actual[i], `${path}[${i}]`));
  } else if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object', path);
    for (const [k, v] of Object.entries(expected)) assertSubset(v, (actual as Record<string, unknown>)[k], `${path}.${k}`);
  } else {
    assert.ok(Object.is(expected, actual), `${path}: ${String(expected)} !== ${String(actual)}`);
  }
}

function onlyWireErrors(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
  }
}

test('the catalogue covers every generated schema', () => {
  // 43 APIs × (request, response) + 2 headers + 2 consumer-protocol data messages.
  assert.ok(SCHEMAS.length >= 90, `${SCHEMAS.length} schemas`);
});

test('random values of every schema and version encode, decode to the same value, and re-encode to the same bytes', () => {
  for (const schema of SCHEMAS) {
    for (const version of versions(schema)) {
      const flexible = inRange(schema.flexibleVersions, version);
      fc.assert(
        fc.property(arbStruct(schema.fields, version, flexible, 0), (value) => {
          const bytes = encodeToBuffer(schema, version, value);
          const decoded = decodeBuffer(bytes, schema, version) as Record<string, unknown>;
          assertSubset(value, decoded, `${schema.name} v${version}`);
          assert.deepEqual(encodeToBuffer(schema, version, decoded), bytes, `${schema.name} v${version} re-encode`);
        }),
        { numRuns: RUNS },
      );
    }
  }
});

test('random bytes into every decoder at every version throw only WireError', () => {
  for (const schema of SCHEMAS) {
    for (const version of versions(schema)) {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 48 }), (bytes) => onlyWireErrors(() => decodeBuffer(Buffer.from(bytes), schema, version))),
        { numRuns: RUNS },
      );
    }
  }
});

test('mutated valid encodings (flipped, truncated, extended) throw only WireError', () => {
  for (const schema of SCHEMAS) {
    for (const version of versions(schema)) {
      const flexible = inRange(schema.flexibleVersions, version);
      fc.assert(
        fc.property(arbStruct(schema.fields, version, flexible, 0), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(), (value, at, byte, cut) => {
          const bytes = encodeToBuffer(schema, version, value);
          if (bytes.length === 0) return;
          const flipped = Buffer.from(bytes);
          flipped[at % bytes.length] ^= byte | 1;
          onlyWireErrors(() => decodeBuffer(flipped, schema, version));
          onlyWireErrors(() => decodeBuffer(bytes.subarray(0, cut % bytes.length), schema, version));
          // A length/count prefix turned into a huge value must fail on the bounds check, not allocate.
          const big = Buffer.from(bytes);
          big.fill(0x7f, at % bytes.length, Math.min(bytes.length, (at % bytes.length) + 4));
          onlyWireErrors(() => decodeBuffer(big, schema, version));
          // The same, read in place from pieces cut around the damage (a frame kept as its socket reads).
          for (const bad of [flipped, big]) {
            const pieces = piecesOf(bad, [at, at + 1, cut, byte]);
            if (pieces.length > 0) onlyWireErrors(() => decode(new ChunksReader(new ByteChunks(pieces)), schema, version));
          }
        }),
        { numRuns: RUNS },
      );
    }
  }
});

test('mutated kafkajs fixtures into the request decoder throw only WireError', () => {
  const dir = join(dirname(fileURLToPath(import.meta.url)), '../../../../test/fixtures/kafka');
  const frames = readdirSync(dir)
    .filter((n) => n.endsWith('.hex'))
    .map((n) => Buffer.from(readFileSync(join(dir, n), 'utf8').replace(/\s+/g, ''), 'hex').subarray(4));
  fc.assert(
    fc.property(fc.constantFrom(...frames), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(), (frame, edits, cut) => {
      const m = Buffer.from(frame);
      for (const [at, b] of edits) m[at % m.length] = b;
      onlyWireErrors(() => decodeRequest(m));
      onlyWireErrors(() => decodeRequest(m.subarray(0, cut % (m.length + 1))));
    }),
    { numRuns: 3000 },
  );
});

/** Cuts `bytes` at `cuts` (positions, any order) into views of it: what a frame's socket reads look like. */
function piecesOf(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let start = 0;
  for (const c of [...at, bytes.length]) {
    if (c > start) out.push(bytes.subarray(start, c));
    start = c;
  }
  return out;
}

/** ByteChunks values compared as their bytes. */
function joined(v: unknown): unknown {
  if (v instanceof ByteChunks) return v.join();
  if (Array.isArray(v)) return v.map(joined);
  if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, joined(x)]));
  return v;
}

test('every schema and version decodes the same from a frame cut into pieces anywhere (ChunksReader) as from one buffer', () => {
  for (const schema of SCHEMAS) {
    for (const version of versions(schema)) {
      const flexible = inRange(schema.flexibleVersions, version);
      fc.assert(
        fc.property(arbStruct(schema.fields, version, flexible, 0), fc.array(fc.nat(), { maxLength: 12 }), (value, cuts) => {
          const bytes = encodeToBuffer(schema, version, value);
          const pieces = piecesOf(bytes, cuts);
          if (pieces.length === 0) return;
          const whole = decodeBuffer(bytes, schema, version);
          const inPieces = decode(new ChunksReader(new ByteChunks(pieces)), schema, version);
          assert.deepEqual(joined(inPieces), whole, `${schema.name} v${version} cut at ${cuts.join(',')}`);
          // Truncated, the pieces fail exactly when the whole buffer does, and only with WireError.
          const cut = bytes.subarray(0, bytes.length - 1);
          const cutPieces = piecesOf(cut, cuts);
          if (cutPieces.length === 0) return;
          let wholeError: unknown = null;
          let piecesError: unknown = null;
          try {
            decodeBuffer(cut, schema, version);
          } catch (e) {
            wholeError = e;
          }
          try {
            decode(new ChunksReader(new ByteChunks(cutPieces)), schema, version);
          } catch (e) {
            piecesError = e;
          }
          assert.equal(piecesError === null, wholeError === null, `${schema.name} v${version}: truncated frame fails alike`);
          if (piecesError !== null) assert.ok(piecesError instanceof WireError, String(piecesError));
        }),
        { numRuns: RUNS },
      );
    }
  }
});

test('a Produce frame cut into socket-sized pieces gives its records back as views of those pieces, not a copy', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 3, max: 11 }),
      fc.array(fc.integer({ min: 1, max: 200_000 }), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 1000, max: 70_000 }),
      (version, sizes, pieceBytes) => {
        const records = sizes.map((n, i) => Buffer.alloc(n, i + 1));
        const frame = codec.encodeRequest(codec.ApiKey.Produce, version, 7, 'chunked', {
          transactionalId: null,
          acks: -1,
          timeoutMs: 1000,
          topicData: [{ name: 'big', partitionData: records.map((r, index) => ({ index, records: r })) }],
        }).subarray(4);
        const pieces: Buffer[] = [];
        for (let i = 0; i < frame.length; i += pieceBytes) pieces.push(frame.subarray(i, i + pieceBytes));
        const chunks = new ByteChunks(pieces);
        const h = codec.decodeRequestHeader(chunks);
        const req = codec.decodeRequestBody(chunks, h);
        assert.ok(req.apiKey === codec.ApiKey.Produce);
        assert.equal(req.header.clientId, 'chunked');
        const got = req.body.topicData[0].partitionData;
        assert.equal(got.length, records.length);
        got.forEach((p, i) => {
          assert.ok(p.records !== null);
          assert.equal(p.records.length, records[i].length);
          const parts = p.records instanceof ByteChunks ? p.records.pieces : [p.records];
          // Each part is a view of the frame's memory (the one buffer the test cut up), never a fresh copy.
          for (const part of parts) assert.equal(part.buffer, frame.buffer, 'records are views of the socket reads');
          assert.ok((p.records instanceof ByteChunks ? p.records.join() : p.records).equals(records[i]));
        });
      },
    ),
    { numRuns: 40 },
  );
});
