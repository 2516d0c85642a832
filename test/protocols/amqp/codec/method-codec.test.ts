import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeMethod,
  encodeMethod,
  encodeMethodFrame,
  METHODS,
  methodSpecById,
  type Method,
  type MethodName,
} from '../../../../src/protocols/amqp/codec/index.js';
import { WireError } from '../../../../src/wire/index.js';
import { ALL_METHODS, methodArgs } from './arbitraries.js';

test('the generated table has all 66 methods of 0-9-1 with RabbitMQ extensions, with unique ids', () => {
  assert.equal(ALL_METHODS.length, 66);
  assert.equal(new Set(ALL_METHODS.map((m) => m.key)).size, 66);
  assert.equal(METHODS.ExchangeUnbindOk.methodId, 51, 'RabbitMQ numbers exchange.unbind-ok 51, not 41');
  assert.equal(METHODS.BasicNack.classId * 1000 + METHODS.BasicNack.methodId, 60120);
  assert.equal(METHODS.ConfirmSelect.classId, 85);
  assert.equal(methodSpecById(60, 40), METHODS.BasicPublish);
  assert.equal(methodSpecById(60, 41), undefined);
  assert.ok(METHODS.BasicDeliver.content && !METHODS.BasicAck.content);
});

for (const spec of ALL_METHODS) {
  test(`${spec.wireName} round-trips any field values`, () => {
    fc.assert(
      fc.property(methodArgs(spec), (args) => {
        const payload = encodeMethod(spec.name, args as never);
        assert.deepStrictEqual(decodeMethod(payload), { name: spec.name, args } as Method);
        const frame = encodeMethodFrame(7, spec.name, args as never);
        assert.ok(frame.subarray(7, frame.length - 1).equals(payload));
      }),
      { numRuns: 60 },
    );
  });
}

test('consecutive bits pack into one octet, first bit least significant', () => {
  const p = encodeMethod('QueueDeclare', { queue: 'q', passive: true, durable: false, exclusive: true, autoDelete: false, nowait: true });
  // ids(4) ticket(2) shortstr(2) bits(1) table(4)
  assert.equal(p.length, 13);
  assert.equal(p[8], 0b10101);
  const ack = encodeMethod('BasicNack', { deliveryTag: 9, multiple: true, requeue: false });
  assert.equal(ack[ack.length - 1], 0b01);
  // Unused high bits are ignored on decode, as RabbitMQ does.
  const noisy = Buffer.from(ack);
  noisy[noisy.length - 1] |= 0xf8;
  assert.deepStrictEqual(decodeMethod(noisy), { name: 'BasicNack', args: { deliveryTag: 9, multiple: true, requeue: false } });
});

test('fields with a spec default may be omitted when encoding', () => {
  const p = encodeMethod('BasicPublish', { routingKey: 'a.b' });
  assert.deepStrictEqual(decodeMethod(p), { name: 'BasicPublish', args: { ticket: 0, exchange: '', routingKey: 'a.b', mandatory: false, immediate: false } });
  const start = decodeMethod(encodeMethod('ConnectionStart', { serverProperties: new Map() }));
  assert.equal(start.name, 'ConnectionStart');
  if (start.name === 'ConnectionStart') {
    assert.equal(start.args.versionMinor, 9);
    assert.equal(start.args.mechanisms.toString(), 'PLAIN');
  }
});

test('a required field without a default is a TypeError, before anything is written', () => {
  assert.throws(() => encodeMethod('BasicDeliver', { consumerTag: 'c', exchange: '', routingKey: '' } as never), TypeError);
});

test('a short string over 255 bytes is refused when encoding; 255 is fine', () => {
  assert.throws(() => encodeMethod('QueueDeclare', { queue: 'q'.repeat(256) }), RangeError);
  assert.throws(() => encodeMethod('QueueDeclare', { queue: 'é'.repeat(128) }), RangeError, 'the limit is in UTF-8 bytes');
  const ok = decodeMethod(encodeMethod('QueueDeclare', { queue: 'q'.repeat(255) }));
  assert.equal(ok.name === 'QueueDeclare' && ok.args.queue.length, 255);
});

test('integers outside their wire type are refused when encoding', () => {
  const cases: [MethodName, object][] = [
    ['ConnectionTune', { channelMax: 65536, frameMax: 0, heartbeat: 0 }],
    ['ConnectionTune', { channelMax: 0, frameMax: 2 ** 32, heartbeat: 0 }],
    ['ConnectionTune', { channelMax: -1, frameMax: 0, heartbeat: 0 }],
    ['ConnectionTune', { channelMax: 1.5, frameMax: 0, heartbeat: 0 }],
    ['BasicAck', { deliveryTag: 2 ** 53 }],
    ['ConnectionStart', { versionMajor: 256, serverProperties: new Map() }],
  ];
  for (const [name, args] of cases) assert.throws(() => encodeMethod(name, args as never), RangeError, `${name} ${JSON.stringify(args)}`);
});

test('decoding refuses unknown methods, truncation and trailing bytes with a WireError', () => {
  assert.throws(() => decodeMethod(Buffer.from([0, 60, 0, 41])), (e: unknown) => e instanceof WireError && e.field === 'method-id');
  const good = encodeMethod('BasicAck', { deliveryTag: 5, multiple: false });
  for (let n = 0; n < good.length; n++) assert.throws(() => decodeMethod(good.subarray(0, n)), WireError, `truncated to ${n}`);
  assert.throws(() => decodeMethod(Buffer.concat([good, Buffer.from([0])])), WireError);
});

test('a longlong at or above 2^53 is a WireError, not a lost digit', () => {
  const p = encodeMethod('BasicAck', { deliveryTag: 1 });
  p.writeUInt32BE(0x00200000, 4);
  assert.throws(() => decodeMethod(p), (e: unknown) => e instanceof WireError && e.field === 'delivery-tag');
});

test('long strings decode as views of the payload, not copies', () => {
  const p = encodeMethod('ConnectionSecureOk', { response: Buffer.from('secret') });
  const m = decodeMethod(p);
  assert.ok(m.name === 'ConnectionSecureOk' && m.args.response.buffer === p.buffer);
});
