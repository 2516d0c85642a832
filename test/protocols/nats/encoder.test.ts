import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeHmsg, encodeInfo, encodeMsg, encodeErr, sizeOfMsg, writeMsg, encodePub } from '../../../src/protocols/nats/encoder.js';
import { decodeHeaders, encodeHeaders, NO_RESPONDERS_HEADERS } from '../../../src/protocols/nats/headers.js';
import { NatsProtocolError, NatsErr } from '../../../src/protocols/nats/nats-error.js';
import { WireError } from '../../../src/wire/wire-error.js';

test('MSG and HMSG are written exactly, header block and payload in one buffer', () => {
  assert.equal(encodeMsg('a.b', '7', undefined, Buffer.from('hello')).toString(), 'MSG a.b 7 5\r\nhello\r\n');
  assert.equal(encodeMsg('a.b', '7', '_INBOX.x.1', Buffer.alloc(0)).toString(), 'MSG a.b 7 _INBOX.x.1 0\r\n\r\n');
  const h = Buffer.from('NATS/1.0\r\nBar: Baz\r\n\r\n');
  // The ADR-4 example: 22 header bytes, 33 in total.
  assert.equal(encodeHmsg('FOO', '1', undefined, h, Buffer.from('Hello NATS!')).toString(), 'HMSG FOO 1 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n');
  assert.equal(encodePub('FOO', undefined, Buffer.from('Hello NATS!'), h).toString(), 'HPUB FOO 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n');
  // No responders, as FACTS.md spells it.
  assert.equal(encodeHmsg('_INBOX.a.b', '3', undefined, NO_RESPONDERS_HEADERS, Buffer.alloc(0)).toString(), 'HMSG _INBOX.a.b 3 16 16\r\nNATS/1.0 503\r\n\r\n\r\n');
  assert.equal(encodeInfo({ server_id: 'x', proto: 1 }).toString(), 'INFO {"server_id":"x","proto":1}\r\n');
  assert.equal(encodeErr(NatsErr.SlowConsumer).toString(), "-ERR 'Slow Consumer'\r\n");
  assert.equal(new NatsProtocolError(NatsErr.MaxPayloadViolation, 'x', 0).toErrLine().toString(), "-ERR 'Maximum Payload Violation'\r\n");
});

test('sizeOfMsg is exact, so many deliveries fit one buffer for one socket write', () => {
  const subjects = ['a', 'ü.β', 'x'.repeat(200)];
  const payloads = [Buffer.alloc(0), Buffer.alloc(9), Buffer.alloc(10), Buffer.alloc(99999)];
  let total = 0;
  const items: Array<[string, string, string | undefined, Buffer | undefined, Buffer]> = [];
  for (const s of subjects) for (const p of payloads) for (const r of [undefined, 'r.1']) for (const h of [undefined, NO_RESPONDERS_HEADERS]) items.push([s, '12', r, h, p]);
  for (const [s, sid, r, h, p] of items) total += sizeOfMsg(s, sid, r, h, p.length);
  const buf = Buffer.alloc(total);
  let off = 0;
  for (const [s, sid, r, h, p] of items) {
    const before = off;
    off = writeMsg(buf, off, s, sid, r, h, p);
    assert.equal(off - before, sizeOfMsg(s, sid, r, h, p.length));
  }
  assert.equal(off, total);
});

test('header blocks decode per ADR-4 and re-encode', () => {
  const h = decodeHeaders(Buffer.from('NATS/1.0\r\nTrace-Id: abc123\r\nX-Multi: one\r\nX-Multi:  two \r\n\r\n'));
  assert.deepEqual(h, { entries: [['Trace-Id', 'abc123'], ['X-Multi', 'one'], ['X-Multi', 'two']] });
  assert.equal(encodeHeaders(h).toString(), 'NATS/1.0\r\nTrace-Id: abc123\r\nX-Multi: one\r\nX-Multi: two\r\n\r\n');
  assert.deepEqual(decodeHeaders(NO_RESPONDERS_HEADERS), { status: 503, entries: [] });
  assert.deepEqual(decodeHeaders(Buffer.from('NATS/1.0 408 Request Timeout\r\n\r\n')), { status: 408, description: 'Request Timeout', entries: [] });
  assert.ok(encodeHeaders({ status: 503, entries: [] }).equals(NO_RESPONDERS_HEADERS));
  for (const bad of ['HTTP/1.0\r\n\r\n', 'NATS/1.0\r\nx: y\r\n', 'NATS/1.0\r\nnocolon\r\n\r\n', 'NATS/1.0 5x3\r\n\r\n', 'NATS/1.0x\r\n\r\n']) {
    assert.throws(() => decodeHeaders(Buffer.from(bad)), WireError, bad);
  }
  assert.throws(() => encodeHeaders({ entries: [['a:b', 'c']] }), RangeError);
});
