import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Parser, MAX_CONTROL_LINE_SIZE } from '../../../src/protocols/nats/parser.js';
import { NatsProtocolError } from '../../../src/protocols/nats/nats-error.js';
import { encodeConnect, encodeHmsg, encodeMsg, encodePub, encodeSub, encodeUnsub, PING, PONG, OK, encodeInfo, encodeErr } from '../../../src/protocols/nats/encoder.js';
import { Recorder, ServerSideRecorder, type Event } from './recorder.js';

// encode → parse is the identity for every op, under any chunking of the stream.

const token = fc.stringMatching(/^[A-Za-z0-9_$-]{1,8}$/);
const subject = fc.array(token, { minLength: 1, maxLength: 4 }).map((t) => t.join('.'));
const sid = fc.stringMatching(/^[0-9]{1,6}$/);
const payload = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
const headerBlock = fc.array(fc.tuple(token, fc.stringMatching(/^[ -~]{0,10}$/)), { maxLength: 3 }).map((entries) =>
  Buffer.from('NATS/1.0\r\n' + entries.map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n', 'latin1'),
);
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });

type Op = { bytes: Buffer; event: Event };

const clientOp: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ s: subject, r: opt(subject), p: payload }).map(({ s, r, p }): Op => ({ bytes: encodePub(s, r, p), event: ['pub', s, r, p.toString('latin1')] })),
  fc.record({ s: subject, r: opt(subject), h: headerBlock, p: payload }).map(({ s, r, h, p }): Op => ({ bytes: encodePub(s, r, p, h), event: ['hpub', s, r, h.toString('latin1'), p.toString('latin1')] })),
  fc.record({ s: subject, q: opt(token), id: sid }).map(({ s, q, id }): Op => ({ bytes: encodeSub(s, q, id), event: ['sub', s, q, id] })),
  fc.record({ id: sid, max: opt(fc.integer({ min: 0, max: 999_999_999 })) }).map(({ id, max }): Op => ({ bytes: encodeUnsub(id, max), event: ['unsub', id, max] })),
  fc.record({ name: token }).map(({ name }): Op => ({ bytes: encodeConnect({ verbose: false, name }), event: ['connect', JSON.stringify({ verbose: false, name })] })),
  fc.constant<Op>({ bytes: PING, event: ['ping'] }),
  fc.constant<Op>({ bytes: PONG, event: ['pong'] }),
);

const serverOp: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ s: subject, id: sid, r: opt(subject), p: payload }).map(({ s, id, r, p }): Op => ({ bytes: encodeMsg(s, id, r, p), event: ['msg', s, id, r, p.toString('latin1')] })),
  fc.record({ s: subject, id: sid, r: opt(subject), h: headerBlock, p: payload }).map(({ s, id, r, h, p }): Op => ({ bytes: encodeHmsg(s, id, r, h, p), event: ['hmsg', s, id, r, h.toString('latin1'), p.toString('latin1')] })),
  fc.constant<Op>({ bytes: encodeInfo({ server_id: 'x', max_payload: 1024 }), event: ['info', '{"server_id":"x","max_payload":1024}'] }),
  fc.constant<Op>({ bytes: OK, event: ['+ok'] }),
  fc.constant<Op>({ bytes: encodeErr('Slow Consumer'), event: ['-err', 'Slow Consumer'] }),
  fc.constant<Op>({ bytes: PING, event: ['ping'] }),
);

/** Cuts `stream` at the given offsets (taken modulo its length). */
function chunk(stream: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of at) {
    out.push(Buffer.from(stream.subarray(prev, c)));
    prev = c;
  }
  out.push(Buffer.from(stream.subarray(prev)));
  return out;
}

test('client ops encode → parse unchanged, however the stream is cut', () => {
  fc.assert(
    fc.property(fc.array(clientOp, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 8 }), (ops, cuts) => {
      const r = new ServerSideRecorder();
      const p = new Parser(r);
      for (const c of chunk(Buffer.concat(ops.map((o) => o.bytes)), cuts)) p.parse(c);
      assert.deepEqual(r.events, ops.map((o) => o.event));
      assert.equal(p.buffered, 0);
    }),
    { numRuns: 2000 },
  );
});

test('server ops (INFO, MSG, HMSG, +OK, -ERR) encode → parse unchanged, however the stream is cut', () => {
  fc.assert(
    fc.property(fc.array(serverOp, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 8 }), (ops, cuts) => {
      const r = new Recorder();
      const p = new Parser(r);
      for (const c of chunk(Buffer.concat(ops.map((o) => o.bytes)), cuts)) p.parse(c);
      assert.deepEqual(r.events, ops.map((o) => o.event));
    }),
    { numRuns: 2000 },
  );
});

test('random and mutated bytes only ever raise NatsProtocolError, and buffering stays bounded', () => {
  const maxPayload = 4096;
  const bound = MAX_CONTROL_LINE_SIZE + 2 + maxPayload;
  const check = (chunks: Buffer[], server: boolean): void => {
    const p = new Parser(server ? new ServerSideRecorder() : new Recorder(), { maxPayload });
    try {
      for (const c of chunks) {
        p.parse(c);
        assert.ok(p.buffered <= bound);
      }
    } catch (e) {
      if (!(e instanceof NatsProtocolError)) throw e;
    }
  };
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)), { maxLength: 10 }), fc.boolean(), (chunks, server) => check(chunks, server)),
    { numRuns: 10000 },
  );
  fc.assert(
    fc.property(
      fc.array(clientOp, { minLength: 1, maxLength: 6 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
      fc.array(fc.nat(), { maxLength: 4 }),
      (ops, flips, cuts) => {
        const stream = Buffer.concat(ops.map((o) => o.bytes));
        for (const [at, v] of flips) stream[at % stream.length] = v;
        check(chunk(stream, cuts), true);
      },
    ),
    { numRuns: 10000 },
  );
});
