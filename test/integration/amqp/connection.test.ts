/**
 * Connection level: handshake with amqplib (server properties, auth), a wrong protocol header, heartbeats,
 * connection exceptions, and malformed frames from a raw socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  FrameSplitter,
  FrameType,
  PROTOCOL_HEADER,
  decodeMethod,
  basicContentHeader,
  encodeMethodFrame,
  encodeMethodWithContent,
  fieldTableFromObject,
  fieldTableToObject,
  type Method,
} from '../../../src/protocols/amqp/codec/index.js';
import { startAmqp, within, type RawClient } from './harness.js';

/** Every whole method frame in `data` (client side: no protocol header expected). */
function methods(data: Buffer): Array<{ channel: number; method: Method }> {
  const out: Array<{ channel: number; method: Method }> = [];
  const s = new FrameSplitter({ onFrame: (type, channel, payload) => type === FrameType.METHOD && out.push({ channel, method: decodeMethod(payload) }) }, { frameMax: 1 << 20 });
  try {
    s.push(data);
  } catch {
    // a partial frame at the end is fine
  }
  return out;
}

const has = (name: string) => (d: Buffer) => methods(d).some((m) => m.method.name === name);

/** A raw client through start/tune/open as guest. */
async function handshake(r: RawClient): Promise<void> {
  r.send(PROTOCOL_HEADER);
  await r.waitFor(has('ConnectionStart'), 'connection.start');
  r.send(encodeMethodFrame(0, 'ConnectionStartOk', { clientProperties: fieldTableFromObject({ product: 'raw' }), mechanism: 'PLAIN', response: Buffer.from('\0guest\0guest'), locale: 'en_US' }));
  await r.waitFor(has('ConnectionTune'), 'connection.tune');
  r.send(encodeMethodFrame(0, 'ConnectionTuneOk', { channelMax: 10, frameMax: 131072, heartbeat: 0 }));
  r.send(encodeMethodFrame(0, 'ConnectionOpen', { virtualHost: '/' }));
  await r.waitFor(has('ConnectionOpenOk'), 'connection.open-ok');
}

function closeOf(data: Buffer): { replyCode: number; replyText: string } | undefined {
  const m = methods(data).find((x) => x.method.name === 'ConnectionClose');
  return m === undefined ? undefined : (m.method.args as { replyCode: number; replyText: string });
}

test('amqplib connects; connection.start carries the RabbitMQ capabilities and PLAIN AMQPLAIN', async (t) => {
  const f = await startAmqp(t);
  const conn = await f.client();
  const props = conn.connection.serverProperties as unknown as { [k: string]: unknown };
  assert.equal(props.product, 'Tributary');
  const r = await f.raw();
  r.send(PROTOCOL_HEADER);
  const data = await r.waitFor(has('ConnectionStart'), 'connection.start');
  const start = methods(data)[0].method;
  assert.equal(start.name, 'ConnectionStart');
  if (start.name !== 'ConnectionStart') return;
  assert.equal(start.args.mechanisms.toString(), 'PLAIN AMQPLAIN');
  assert.equal(start.args.versionMajor, 0);
  assert.equal(start.args.versionMinor, 9);
  const caps = fieldTableToObject(start.args.serverProperties).capabilities as { [k: string]: unknown };
  for (const c of ['publisher_confirms', 'exchange_exchange_bindings', 'basic.nack', 'consumer_cancel_notify', 'connection.blocked', 'consumer_priorities', 'authentication_failure_close', 'per_consumer_qos', 'direct_reply_to']) {
    assert.equal(caps[c], true, c);
  }
});

test('AMQPLAIN logs in; a wrong password is refused with 403 ACCESS_REFUSED', async (t) => {
  const f = await startAmqp(t);
  const err = await f.client('', 'guest', 'nope').then(() => null, (e: Error) => e);
  assert.match(String(err), /403|ACCESS_REFUSED/);
  const r = await f.raw();
  r.send(PROTOCOL_HEADER);
  await r.waitFor(has('ConnectionStart'), 'connection.start');
  const table = fieldTableFromObject({ LOGIN: 'guest', PASSWORD: 'guest' });
  const { encodeFieldTable } = await import('../../../src/protocols/amqp/codec/index.js');
  r.send(encodeMethodFrame(0, 'ConnectionStartOk', { clientProperties: new Map(), mechanism: 'AMQPLAIN', response: encodeFieldTable(table).subarray(4), locale: 'en_US' }));
  await r.waitFor(has('ConnectionTune'), 'connection.tune after AMQPLAIN');
});

test('a wrong protocol header is answered with ours and the socket is closed', async (t) => {
  const f = await startAmqp(t);
  const r = await f.raw();
  r.send(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  await r.waitClosed();
  assert.deepEqual(r.data, PROTOCOL_HEADER);
  const r2 = await f.raw();
  r2.send(Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 0]));
  await r2.waitClosed();
  assert.deepEqual(r2.data, PROTOCOL_HEADER);
});

test('heartbeats flow both ways when negotiated, and the connection stays up', async (t) => {
  const f = await startAmqp(t, { amqp: { heartbeatS: 1 } });
  const received = once(f.listener.events, 'heartbeat-received');
  const sent = once(f.listener.events, 'heartbeat-sent');
  const conn = await f.client();
  await within(Promise.all([received, sent]), 'heartbeats in both directions', 4000);
  const ch = await conn.createChannel();
  await ch.assertQueue('still-alive');
});

test('a client that stops sending heartbeats is disconnected', async (t) => {
  const f = await startAmqp(t, { amqp: { heartbeatS: 1 } });
  const r = await f.raw();
  r.send(PROTOCOL_HEADER);
  await r.waitFor(has('ConnectionStart'), 'connection.start');
  r.send(encodeMethodFrame(0, 'ConnectionStartOk', { clientProperties: new Map(), mechanism: 'PLAIN', response: Buffer.from('\0guest\0guest'), locale: 'en_US' }));
  await r.waitFor(has('ConnectionTune'), 'connection.tune');
  r.send(encodeMethodFrame(0, 'ConnectionTuneOk', { channelMax: 10, frameMax: 131072, heartbeat: 1 }));
  r.send(encodeMethodFrame(0, 'ConnectionOpen', { virtualHost: '/' }));
  await within(r.closed, 'the silent client to be dropped', 5000);
});

test('malformed frames close that connection with 501/502 and a log line; other connections carry on', async (t) => {
  const f = await startAmqp(t);
  const good = await f.client();
  const gch = await good.createChannel();
  await gch.assertQueue('unaffected');

  const bad = await f.raw();
  await handshake(bad);
  // A method frame whose frame-end octet is wrong.
  bad.send(Buffer.from([1, 0, 1, 0, 0, 0, 4, 0, 20, 0, 10, 0x00]));
  const data = await bad.waitFor((d) => closeOf(d) !== undefined, 'connection.close');
  assert.equal(closeOf(data)!.replyCode, 501);
  await bad.waitClosed();

  const bad2 = await f.raw();
  await handshake(bad2);
  // channel.open with an unknown method id.
  bad2.send(Buffer.from([1, 0, 1, 0, 0, 0, 4, 0, 20, 0, 99, 0xce]));
  const d2 = await bad2.waitFor((d) => closeOf(d) !== undefined, 'connection.close');
  assert.ok([501, 502].includes(closeOf(d2)!.replyCode));

  const bad3 = await f.raw();
  await handshake(bad3);
  // A frame on a channel that was never opened.
  bad3.send(encodeMethodFrame(5, 'BasicQos', { prefetchCount: 1 }));
  const d3 = await bad3.waitFor((d) => closeOf(d) !== undefined, 'connection.close');
  assert.equal(closeOf(d3)!.replyCode, 504);

  const bad4 = await f.raw();
  await handshake(bad4);
  // Content header with no basic.publish before it.
  bad4.send(encodeMethodFrame(1, 'ChannelOpen', {}));
  await bad4.waitFor(has('ChannelOpenOk'), 'channel.open-ok');
  bad4.send(Buffer.from([2, 0, 1, 0, 0, 0, 14, 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xce]));
  const d4 = await bad4.waitFor((d) => closeOf(d) !== undefined, 'connection.close');
  assert.equal(closeOf(d4)!.replyCode, 505);

  assert.ok(f.entries.some((e) => e.msg.includes('amqp connection error') && 'cid' in e.obj && 'peer' in e.obj));
  const q = await gch.checkQueue('unaffected');
  assert.equal(q.queue, 'unaffected');
});

test('connection-level exceptions: bad exchange type 503, reused consumer tag 530, immediate 540, wrong vhost 530', async (t) => {
  const f = await startAmqp(t);
  const expectConnClose = async (fn: (ch: import('amqplib').Channel) => Promise<unknown>, code: RegExp) => {
    const conn = await f.client();
    const closed = new Promise<[Error | undefined]>((resolve) => conn.once('close', (e?: Error) => resolve([e])));
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    await fn(ch).then(() => null, (e: Error) => e);
    const [closeErr] = (await within(closed, 'the connection to close')) as [Error | undefined];
    assert.match(String(closeErr), code);
  };
  await expectConnClose((ch) => ch.assertExchange('x-bad', 'nonsense'), /503|COMMAND_INVALID/);
  await expectConnClose(async (ch) => {
    await ch.assertQueue('tags');
    await ch.consume('tags', () => undefined, { consumerTag: 'same' });
    await ch.consume('tags', () => undefined, { consumerTag: 'same' });
  }, /530|NOT_ALLOWED/);
  const err = await f.client('/other-vhost').then(() => null, (e: Error) => e);
  assert.match(String(err), /530|NOT_ALLOWED|ConnectionClose/);
  // basic.publish immediate=1: refused as RabbitMQ does. amqplib cannot set it; send it raw.
  const r = await f.raw();
  await handshake(r);
  r.send(encodeMethodFrame(1, 'ChannelOpen', {}));
  await r.waitFor(has('ChannelOpenOk'), 'channel.open-ok');
  r.send(encodeMethodWithContent(1, 'BasicPublish', { routingKey: 'x', immediate: true }, basicContentHeader(1), Buffer.from('x'), 131072));
  const d = await r.waitFor((x) => closeOf(x) !== undefined, 'connection.close');
  assert.equal(closeOf(d)!.replyCode, 540);
});
