import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Parser, MAX_CONTROL_LINE_SIZE } from '../../../src/protocols/nats/parser.js';
import { NatsProtocolError } from '../../../src/protocols/nats/nats-error.js';
import { Recorder, ServerSideRecorder, type Event } from './recorder.js';

const DIR = fileURLToPath(new URL('../../../../test/fixtures/nats/', import.meta.url));
const load = (name: string): Buffer => Buffer.from(readFileSync(`${DIR}${name}.natsjs.hex`, 'utf8').replace(/\s+/g, ''), 'hex');

const PATTERN_64K = (() => {
  const b = Buffer.alloc(65536);
  for (let i = 0; i < b.length; i++) b[i] = i % 251;
  return b.toString('latin1');
})();
const INBOX = '_INBOX.HiQKDwqFVy3Ch8HteByRZ2';

// What @nats-io/transport-node 3.4.0 sent (test/fixtures/nats/capture.ts), as parser events.
const EXPECTED: Record<string, Event[]> = {
  connect: [
    ['connect', '{"no_responders":true,"protocol":1,"verbose":false,"pedantic":false,"name":"fixture","lang":"nats.js","version":"3.4.0","headers":true}'],
    ['ping'],
  ],
  ping: [['ping']],
  pub: [['pub', 'orders.created', undefined, 'hello world']],
  'pub-empty': [['pub', 'orders.empty', undefined, '']],
  'pub-reply': [['pub', 'svc.echo', 'my.reply.subject', 'ping?']],
  'pub-64k': [['pub', 'bulk.data', undefined, PATTERN_64K]],
  hpub: [['hpub', 'orders.created', undefined, 'NATS/1.0\r\nTrace-Id: abc123\r\nX-Multi: one\r\nX-Multi: two\r\n\r\n', 'with headers']],
  sub: [['sub', 'orders.*', undefined, '1']],
  'sub-queue': [['sub', 'jobs.>', 'workers', '1']],
  'unsub-max': [['sub', 'events.one', undefined, '1'], ['unsub', '1', 5]],
  request: [['sub', `${INBOX}.*`, undefined, '1'], ['pub', 'svc.time', `${INBOX}.7TatUfRy`, 'now?']],
};

function parseAll(chunks: Buffer[]): Event[] {
  const r = new ServerSideRecorder();
  const p = new Parser(r);
  for (const c of chunks) p.parse(c);
  assert.equal(p.buffered, 0);
  return r.events;
}

for (const [name, events] of Object.entries(EXPECTED)) {
  test(`nats.js ${name} parses to the expected events`, () => {
    assert.deepEqual(parseAll([load(name)]), events);
  });

  test(`nats.js ${name} split at every offset gives the same events`, () => {
    const bytes = load(name);
    // The 64 KiB payload: every offset around the control line and the payload's end, and a stride in between.
    const cuts: number[] = [];
    for (let cut = 0; cut <= bytes.length; cut++) {
      if (bytes.length < 4096 || cut < 64 || cut > bytes.length - 64 || cut % 257 === 0) cuts.push(cut);
    }
    for (const cut of cuts) {
      // Copies, so a view kept into the wrong chunk would show up as wrong bytes.
      assert.deepEqual(parseAll([Buffer.from(bytes.subarray(0, cut)), Buffer.from(bytes.subarray(cut))]), events, `split at ${cut}`);
    }
  });
}

test('all fixtures as one stream, one byte at a time, give all the events in order', () => {
  const names = Object.keys(EXPECTED).filter((n) => n !== 'pub-64k');
  const stream = Buffer.concat(names.map(load));
  const chunks: Buffer[] = [];
  for (let i = 0; i < stream.length; i++) chunks.push(stream.subarray(i, i + 1));
  assert.deepEqual(parseAll(chunks), names.flatMap((n) => EXPECTED[n]));
});

test('a payload inside one chunk is passed as a view of it, not a copy', () => {
  const r = new Recorder();
  const chunk = Buffer.from('PUB a 5\r\nhello\r\nHPUB b 12 14\r\nNATS/1.0\r\n\r\nhi\r\n');
  new Parser(r).parse(chunk);
  assert.equal(r.payloads.length, 2);
  for (const p of r.payloads) assert.equal(p.buffer, chunk.buffer);
  assert.equal(r.payloads[0].byteOffset, chunk.byteOffset + 9);
});

test('ops are case-insensitive and fields are separated by runs of spaces or tabs', () => {
  const ev = parseAll([Buffer.from('pub  a \t r 1\r\nx\r\nSuB s\tq  9\r\nunsub 9\r\nPiNg\r\npong\nhPuB h 12 12\r\nNATS/1.0\r\n\r\n\r\nconnect {"a":1}\r\n')]);
  assert.deepEqual(ev, [
    ['pub', 'a', 'r', 'x'],
    ['sub', 's', 'q', '9'],
    ['unsub', '9', undefined],
    ['ping'],
    ['pong'],
    ['hpub', 'h', undefined, 'NATS/1.0\r\n\r\n', ''],
    ['connect', '{"a":1}'],
  ]);
});

test('server → client ops parse when the dispatcher handles them', () => {
  const r = new Recorder();
  new Parser(r).parse(Buffer.from(
    'INFO {"server_id":"x","headers":true}\r\nMSG a.b 7 3\r\nabc\r\nMSG a.b 7 _INBOX.1 0\r\n\r\nHMSG r 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\n+OK\r\n-ERR \'Maximum Payload Violation\'\r\n',
  ));
  assert.deepEqual(r.events, [
    ['info', '{"server_id":"x","headers":true}'],
    ['msg', 'a.b', '7', undefined, 'abc'],
    ['msg', 'a.b', '7', '_INBOX.1', ''],
    ['hmsg', 'r', '2', undefined, 'NATS/1.0 503\r\n\r\n', ''],
    ['+ok'],
    ['-err', 'Maximum Payload Violation'],
  ]);
});

function errText(input: string | Buffer[], opts: { maxPayload?: number; maxControlLine?: number } = {}, server = true): string {
  const p = new Parser(server ? new ServerSideRecorder() : new Recorder(), opts);
  const chunks = typeof input === 'string' ? [Buffer.from(input)] : input;
  try {
    for (const c of chunks) p.parse(c);
  } catch (e) {
    assert.ok(e instanceof NatsProtocolError, String(e));
    assert.ok(e.toErrLine().toString().startsWith(`-ERR '${e.errText}'`));
    assert.throws(() => p.parse(Buffer.from('PING\r\n')), /after a protocol error/);
    return e.errText;
  }
  return '';
}

test('bad input is refused with the -ERR text nats-server sends', () => {
  assert.equal(errText('FOO bar\r\n'), 'Unknown Protocol Operation');
  assert.equal(errText('PUBX a 1\r\n'), 'Unknown Protocol Operation');
  assert.equal(errText(' PING\r\n'), 'Unknown Protocol Operation');
  assert.equal(errText('CONNECTED\r\n'), 'Unknown Protocol Operation');
  assert.equal(errText('PUB\r\n'), 'Unknown Protocol Operation');
  assert.equal(errText('PUB a 5\r\nhelloXX'), 'Unknown Protocol Operation'); // payload must end with CRLF
  assert.equal(errText('PUB a 5\r\nhello\rX'), 'Unknown Protocol Operation');
  // A server does not accept the ops only servers send.
  assert.equal(errText('MSG a 1 1\r\nx\r\n'), 'Unknown Protocol Operation');
  assert.equal(errText('INFO {}\r\n'), 'Unknown Protocol Operation');
  assert.equal(errText('+OK\r\n'), 'Unknown Protocol Operation');
  assert.equal(errText('PUB a 1048577\r\n'), 'Maximum Payload Violation');
  assert.equal(errText('HPUB a 12 1048577\r\n'), 'Maximum Payload Violation');
  assert.equal(errText('PUB a 11\r\n', { maxPayload: 10 }), 'Maximum Payload Violation');
  assert.equal(errText('PUB a 10\r\n0123456789\r\n', { maxPayload: 10 }), '');
  assert.equal(errText('PUB a\r\n'), 'Parser Error');
  assert.equal(errText('PUB a b c 1\r\n'), 'Parser Error');
  assert.equal(errText('PUB a x\r\n'), 'Parser Error');
  assert.equal(errText('PUB a -1\r\n'), 'Parser Error');
  assert.equal(errText('PUB a 1234567890\r\n'), 'Parser Error'); // more digits than parseSize takes
  assert.equal(errText('HPUB a 13 12\r\n'), 'Parser Error'); // header size over total size
  assert.equal(errText('SUB a\r\n'), 'Parser Error');
  assert.equal(errText('SUB a b c d\r\n'), 'Parser Error');
  assert.equal(errText('UNSUB\r\n'), 'Unknown Protocol Operation');
  assert.equal(errText('UNSUB 1 x\r\n'), 'Parser Error');
  assert.equal(errText('UNSUB 1 2 3\r\n'), 'Parser Error');
});

test('a control line over MAX_CONTROL_LINE_SIZE is refused, even before its CRLF arrives', () => {
  const long = 'SUB ' + 'a'.repeat(MAX_CONTROL_LINE_SIZE) + ' 1\r\n';
  assert.equal(errText(long), 'Maximum Control Line Exceeded');
  assert.equal(errText('SUB ' + 'a'.repeat(MAX_CONTROL_LINE_SIZE - 2) + ' 1\r\n'), '');
  // Streamed without a newline: refused once the held bytes pass the limit, never holding more.
  const p = new Parser(new ServerSideRecorder());
  let refused = false;
  for (let i = 0; i < 100 && !refused; i++) {
    try {
      p.parse(Buffer.from(i === 0 ? 'PUB ' + 'x'.repeat(100) : 'x'.repeat(100)));
      assert.ok(p.buffered <= MAX_CONTROL_LINE_SIZE + 2);
    } catch (e) {
      assert.ok(e instanceof NatsProtocolError && e.errText === 'Maximum Control Line Exceeded');
      refused = true;
    }
  }
  assert.ok(refused);
  assert.equal(errText([Buffer.from('PUB a 1\r'), Buffer.from('\nx\r\n')]), '');
  assert.equal(errText('PUB ' + 'a'.repeat(100) + ' 1\r\nx\r\n', { maxControlLine: 64 }), 'Maximum Control Line Exceeded');
});
