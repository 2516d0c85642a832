/**
 * Golden frames captured from amqplib 2.3.1 (test/fixtures/amqp/capture.ts): each decodes to the exact expected
 * object and re-encodes to the same bytes, and the whole captured streams split correctly at every offset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  decodeContentHeader,
  decodeMethod,
  encodeContentHeaderFrame,
  encodeFrame,
  encodeMethodFrame,
  encodeMethodWithContent,
  encodeMethodWithRawContent,
  FrameSplitter,
  FrameType,
  PROTOCOL_HEADER,
  type ContentHeader,
  type FieldTable,
  type FieldValue,
  type Method,
} from '../../../../src/protocols/amqp/codec/index.js';

const fixtureDir = fileURLToPath(new URL('../../../../../test/fixtures/amqp/', import.meta.url));

function frames(file: string): Buffer[] {
  return readFileSync(fixtureDir + file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => Buffer.from(l.trim(), 'hex'));
}

const S = (s: string): FieldValue => ({ type: 'S', value: Buffer.from(s) });
const t = (v: boolean): FieldValue => ({ type: 't', value: v });
const b = (v: number): FieldValue => ({ type: 'b', value: v });
const table = (entries: [string, FieldValue][]): FieldTable => new Map(entries);
const F = (entries: [string, FieldValue][]): FieldValue => ({ type: 'F', value: table(entries) });

type Expected = { channel: number } & ({ method: Method } | { header: ContentHeader } | { body: string });

const clientCapabilities = F([
  ['publisher_confirms', t(true)],
  ['exchange_exchange_bindings', t(true)],
  ['basic.nack', t(true)],
  ['consumer_cancel_notify', t(true)],
  ['connection.blocked', t(true)],
  ['authentication_failure_close', t(true)],
]);

/** Frames amqplib sent as a client, in the order it sent them. */
const CLIENT: [string, Expected[]][] = [
  [
    'connection-start-ok',
    [
      {
        channel: 0,
        method: {
          name: 'ConnectionStartOk',
          args: {
            clientProperties: table([
              ['product', S('amqplib')],
              ['version', S('2.3.1')],
              // The Node version of the machine that captured the fixture.
              ['platform', S('Node.JS v20.20.2')],
              ['information', S('https://amqp-node.github.io/amqplib/')],
              ['capabilities', clientCapabilities],
            ]),
            mechanism: 'PLAIN',
            response: Buffer.from('\0guest\0guest'),
            locale: 'en_US',
          },
        },
      },
    ],
  ],
  ['connection-tune-ok', [{ channel: 0, method: { name: 'ConnectionTuneOk', args: { channelMax: 2047, frameMax: 131072, heartbeat: 0 } } }]],
  ['connection-open', [{ channel: 0, method: { name: 'ConnectionOpen', args: { virtualHost: '/', capabilities: '', insist: false } } }]],
  ['channel-open', [{ channel: 1, method: { name: 'ChannelOpen', args: { outOfBand: '' } } }]],
  ['confirm-select', [{ channel: 1, method: { name: 'ConfirmSelect', args: { nowait: false } } }]],
  [
    'exchange-declare',
    [
      {
        channel: 1,
        method: {
          name: 'ExchangeDeclare',
          args: { ticket: 0, exchange: 'tributary.logs', type: 'topic', passive: false, durable: true, autoDelete: false, internal: false, nowait: false, arguments: new Map() },
        },
      },
    ],
  ],
  [
    'queue-declare',
    [
      {
        channel: 1,
        method: {
          name: 'QueueDeclare',
          args: {
            ticket: 0,
            queue: 'tasks',
            passive: false,
            durable: true,
            exclusive: false,
            autoDelete: false,
            nowait: false,
            arguments: table([
              ['x-message-ttl', { type: 'I', value: 60000 }],
              ['x-dead-letter-exchange', S('dlx')],
              ['x-max-priority', b(10)],
            ]),
          },
        },
      },
    ],
  ],
  [
    'queue-bind',
    [{ channel: 1, method: { name: 'QueueBind', args: { ticket: 0, queue: 'tasks', exchange: 'tributary.logs', routingKey: 'logs.*.#', nowait: false, arguments: new Map() } } }],
  ],
  ['basic-qos', [{ channel: 1, method: { name: 'BasicQos', args: { prefetchSize: 0, prefetchCount: 10, global: false } } }]],
  [
    'basic-consume',
    [
      {
        channel: 1,
        method: {
          name: 'BasicConsume',
          args: { ticket: 0, queue: 'tasks', consumerTag: 'ctag-1', noLocal: false, noAck: false, exclusive: false, nowait: false, arguments: new Map() },
        },
      },
    ],
  ],
  ['basic-ack', [{ channel: 1, method: { name: 'BasicAck', args: { deliveryTag: 1, multiple: false } } }]],
  ['basic-nack', [{ channel: 1, method: { name: 'BasicNack', args: { deliveryTag: 2, multiple: false, requeue: true } } }]],
  ['basic-reject', [{ channel: 1, method: { name: 'BasicReject', args: { deliveryTag: 3, requeue: false } } }]],
  [
    'basic-publish',
    [
      { channel: 1, method: { name: 'BasicPublish', args: { ticket: 0, exchange: 'tributary.logs', routingKey: 'logs.eu.error', mandatory: false, immediate: false } } },
      {
        channel: 1,
        header: {
          classId: 60,
          weight: 0,
          bodySize: 16,
          properties: {
            contentType: 'application/json',
            headers: table([
              ['x-trace', S('abc123')],
              ['retries', b(3)],
              ['big', { type: 'l', value: 5_000_000_000n }],
              ['ratio', { type: 'd', value: 0.5 }],
              ['flag', t(true)],
              ['nested', F([['a', b(1)]])],
              ['list', { type: 'A', value: [b(1), S('two')] }],
            ]),
            deliveryMode: 2,
            priority: 5,
            correlationId: 'corr-42',
            replyTo: 'amq.rabbitmq.reply-to',
            expiration: '60000',
            messageId: 'msg-1',
            timestamp: 1_700_000_000,
            type: 'order.created',
            appId: 'capture',
          },
        },
      },
      { channel: 1, body: 'hello, tributary' },
    ],
  ],
  ['channel-close', [{ channel: 1, method: { name: 'ChannelClose', args: { replyCode: 200, replyText: 'Goodbye', classId: 0, methodId: 0 } } }]],
  ['connection-close', [{ channel: 0, method: { name: 'ConnectionClose', args: { replyCode: 200, replyText: 'Cheers, thanks', classId: 0, methodId: 0 } } }]],
];

/** Server frames as amqplib's own encoder writes them (our encoder produced the same bytes at capture time). */
const SERVER: [string, Expected[]][] = [
  [
    'connection-start',
    [
      {
        channel: 0,
        method: {
          name: 'ConnectionStart',
          args: {
            versionMajor: 0,
            versionMinor: 9,
            serverProperties: table([
              ['product', S('Tributary')],
              ['version', S('0.1.0')],
              ['platform', S('Node.js')],
              ['copyright', S('Tributary contributors')],
              ['information', S('https://example.invalid/tributary')],
              ['cluster_name', S('tributary@localhost')],
              [
                'capabilities',
                F(
                  ['publisher_confirms', 'exchange_exchange_bindings', 'basic.nack', 'consumer_cancel_notify', 'connection.blocked', 'consumer_priorities', 'authentication_failure_close', 'per_consumer_qos', 'direct_reply_to'].map(
                    (k): [string, FieldValue] => [k, t(true)],
                  ),
                ),
              ],
            ]),
            mechanisms: Buffer.from('PLAIN AMQPLAIN'),
            locales: Buffer.from('en_US'),
          },
        },
      },
    ],
  ],
  ['connection-tune', [{ channel: 0, method: { name: 'ConnectionTune', args: { channelMax: 2047, frameMax: 131072, heartbeat: 0 } } }]],
  ['connection-open-ok', [{ channel: 0, method: { name: 'ConnectionOpenOk', args: { knownHosts: '' } } }]],
  ['channel-open-ok', [{ channel: 1, method: { name: 'ChannelOpenOk', args: { channelId: Buffer.alloc(0) } } }]],
  ['confirm-select-ok', [{ channel: 1, method: { name: 'ConfirmSelectOk', args: {} } }]],
  ['exchange-declare-ok', [{ channel: 1, method: { name: 'ExchangeDeclareOk', args: {} } }]],
  ['queue-declare-ok', [{ channel: 1, method: { name: 'QueueDeclareOk', args: { queue: 'tasks', messageCount: 0, consumerCount: 0 } } }]],
  ['queue-bind-ok', [{ channel: 1, method: { name: 'QueueBindOk', args: {} } }]],
  ['basic-qos-ok', [{ channel: 1, method: { name: 'BasicQosOk', args: {} } }]],
  ['basic-consume-ok', [{ channel: 1, method: { name: 'BasicConsumeOk', args: { consumerTag: 'ctag-1' } } }]],
  [
    'basic-deliver',
    [
      { channel: 1, method: { name: 'BasicDeliver', args: { consumerTag: 'ctag-1', deliveryTag: 1, redelivered: false, exchange: 'tributary.logs', routingKey: 'logs.eu.info' } } },
      {
        channel: 1,
        header: {
          classId: 60,
          weight: 0,
          bodySize: 5,
          properties: { contentType: 'text/plain', headers: table([['x-origin', S('capture')], ['attempt', b(1)]]), deliveryMode: 2, messageId: 'm-1', timestamp: 1_700_000_000 },
        },
      },
      { channel: 1, body: 'job 1' },
    ],
  ],
  ['basic-ack', [{ channel: 1, method: { name: 'BasicAck', args: { deliveryTag: 1, multiple: false } } }]],
  ['channel-close-ok', [{ channel: 1, method: { name: 'ChannelCloseOk', args: {} } }]],
  ['connection-close-ok', [{ channel: 0, method: { name: 'ConnectionCloseOk', args: {} } }]],
];

function encodeExpected(e: Expected): Buffer {
  if ('method' in e) return encodeMethodFrame(e.channel, e.method.name, e.method.args as never);
  if ('header' in e) return encodeContentHeaderFrame(e.channel, e.header);
  return encodeFrame(FrameType.BODY, e.channel, Buffer.from(e.body));
}

function checkFixture(file: string, expected: Expected[]): void {
  const raw = frames(file);
  assert.equal(raw.length, expected.length, `${file}: frame count`);
  raw.forEach((frame, i) => {
    const e = expected[i];
    assert.equal(frame[frame.length - 1], 0xce, `${file}: frame-end`);
    assert.equal(frame.readUInt16BE(1), e.channel, `${file}: channel`);
    assert.equal(frame.readUInt32BE(3), frame.length - 8, `${file}: size`);
    const payload = frame.subarray(7, frame.length - 1);
    if ('method' in e) {
      assert.equal(frame[0], FrameType.METHOD);
      assert.deepStrictEqual(decodeMethod(payload), e.method);
    } else if ('header' in e) {
      assert.equal(frame[0], FrameType.HEADER);
      assert.deepStrictEqual(decodeContentHeader(payload), e.header);
    } else {
      assert.equal(frame[0], FrameType.BODY);
      assert.equal(payload.toString(), e.body);
    }
    assert.equal(encodeExpected(e).toString('hex'), frame.toString('hex'), `${file}: re-encoding frame ${i}`);
  });
}

test('the fixture list covers every captured file', () => {
  const files = readdirSync(fixtureDir).filter((f) => f.endsWith('.hex'));
  const listed = [...CLIENT.map(([n]) => `${n}.amqplib.hex`), ...SERVER.map(([n]) => `${n}.amqplib-defs.hex`), 'protocol-header.amqplib.hex'];
  assert.deepEqual(files.sort(), listed.sort());
});

test("amqplib's protocol header is the one we accept", () => {
  assert.deepEqual(frames('protocol-header.amqplib.hex'), [PROTOCOL_HEADER]);
});

for (const [name, expected] of CLIENT) {
  test(`amqplib client frame ${name} decodes to the expected object and re-encodes to the same bytes`, () => {
    checkFixture(`${name}.amqplib.hex`, expected);
  });
}
for (const [name, expected] of SERVER) {
  test(`server frame ${name} as amqplib encodes it decodes exactly and re-encodes to the same bytes`, () => {
    checkFixture(`${name}.amqplib-defs.hex`, expected);
  });
}

test('a whole content (method, header, body) encodes into one buffer equal to the captured frames', () => {
  for (const [file, list] of [
    ['basic-publish.amqplib.hex', CLIENT.find(([n]) => n === 'basic-publish')![1]],
    ['basic-deliver.amqplib-defs.hex', SERVER.find(([n]) => n === 'basic-deliver')![1]],
  ] as const) {
    const [m, h, body] = list as [Expected & { method: Method }, Expected & { header: ContentHeader }, Expected & { body: string }];
    const bytes = encodeMethodWithContent(m.channel, m.method.name, m.method.args as never, h.header, Buffer.from(body.body), 131072);
    assert.equal(bytes.toString('hex'), Buffer.concat(frames(file)).toString('hex'));
    // The pass-through path, given the captured header payload, writes the same bytes.
    const headerFrame = frames(file)[1];
    const raw = encodeMethodWithRawContent(m.channel, m.method.name, m.method.args as never, headerFrame.subarray(7, headerFrame.length - 1), Buffer.from(body.body), 131072);
    assert.ok(raw.equals(bytes));
  }
});

interface Seen {
  type: number;
  channel: number;
  payload: string;
}

function splitAll(chunks: Buffer[], protocolHeader: boolean): { headers: number; frames: Seen[] } {
  const out: Seen[] = [];
  let headers = 0;
  const s = new FrameSplitter(
    {
      onProtocolHeader: () => headers++,
      onFrame: (type, channel, payload) => out.push({ type, channel, payload: payload.toString('hex') }),
    },
    { frameMax: 131072, protocolHeader },
  );
  for (const c of chunks) s.push(c);
  assert.equal(s.buffered, 0);
  return { headers, frames: out };
}

for (const [label, list, withHeader] of [
  ['client stream (protocol header first)', CLIENT, true],
  ['server stream', SERVER, false],
] as const) {
  test(`the captured ${label} splits into the same frames at every offset`, () => {
    const all = list.flatMap(([name]) => frames(`${name}.${withHeader ? 'amqplib' : 'amqplib-defs'}.hex`));
    const stream = Buffer.concat(withHeader ? [PROTOCOL_HEADER, ...all] : all);
    const want = all.map((f) => ({ type: f[0], channel: f.readUInt16BE(1), payload: f.subarray(7, f.length - 1).toString('hex') }));
    for (let cut = 0; cut <= stream.length; cut++) {
      const got = splitAll([stream.subarray(0, cut), stream.subarray(cut)], withHeader);
      assert.equal(got.headers, withHeader ? 1 : 0);
      assert.deepStrictEqual(got.frames, want, `split at ${cut}`);
    }
    // Three pieces at every pair of offsets 97 bytes apart, and one byte at a time.
    for (let cut = 0; cut + 97 <= stream.length; cut++) {
      const got = splitAll([stream.subarray(0, cut), stream.subarray(cut, cut + 97), stream.subarray(cut + 97)], withHeader);
      assert.deepStrictEqual(got.frames, want, `split at ${cut} and ${cut + 97}`);
    }
    const bytes: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) bytes.push(stream.subarray(i, i + 1));
    assert.deepStrictEqual(splitAll(bytes, withHeader).frames, want);
  });
}
