/**
 * AmqpConnection over an in-memory Duplex: exact frames of the handshake and of a channel exception, with no
 * socket involved (STYLE.md: sessions take a Duplex).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex, PassThrough } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../../src/core/broker.js';
import { createAmqpListener } from '../../../src/protocols/amqp/index.js';
import {
  FrameSplitter,
  FrameType,
  PROTOCOL_HEADER,
  basicContentHeader,
  decodeMethod,
  encodeMethodFrame,
  encodeMethodWithContent,
  type Method,
} from '../../../src/protocols/amqp/codec/index.js';

const NO_LOG = { debug() {}, info() {}, warn() {}, error() {} };

async function session(t: import('node:test').TestContext) {
  const dataDir = await mkdtemp(join(tmpdir(), 'trib-amqp-session-'));
  const broker = await Broker.open({ dataDir, fsync: 'never', fsyncIntervalMs: 1000, inMemory: true });
  const listener = createAmqpListener({ broker, logger: NO_LOG });
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const received: Array<{ channel: number; method: Method }> = [];
  let waiters: Array<() => void> = [];
  const splitter = new FrameSplitter(
    {
      onFrame: (type, channel, payload) => {
        if (type !== FrameType.METHOD) return;
        received.push({ channel, method: decodeMethod(payload) });
        const w = waiters;
        waiters = [];
        for (const f of w) f();
      },
    },
    { frameMax: 1 << 20 },
  );
  toClient.on('data', (b: Buffer) => splitter.push(b));
  await listener.handle(Duplex.from({ readable: toServer, writable: toClient }), '127.0.0.1', 1);
  t.after(async () => {
    await listener.close();
    await broker.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  /** The next method frame from the server (within 2 s). */
  const next = async (): Promise<{ channel: number; method: Method }> => {
    const deadline = Date.now() + 2000;
    while (received.length === 0) {
      if (Date.now() > deadline) throw new Error('no frame from the server');
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100).unref();
      });
    }
    return received.shift()!;
  };
  return { send: (b: Buffer) => toServer.write(b), next };
}

test('the handshake over an in-memory duplex: start, tune with our limits, open-ok', async (t) => {
  const s = await session(t);
  s.send(PROTOCOL_HEADER);
  const start = await s.next();
  assert.equal(start.method.name, 'ConnectionStart');
  s.send(encodeMethodFrame(0, 'ConnectionStartOk', { clientProperties: new Map(), mechanism: 'PLAIN', response: Buffer.from('\0guest\0guest'), locale: 'en_US' }));
  const tune = await s.next();
  assert.deepEqual(tune, { channel: 0, method: { name: 'ConnectionTune', args: { channelMax: 2047, frameMax: 131072, heartbeat: 60 } } });
  s.send(encodeMethodFrame(0, 'ConnectionTuneOk', { channelMax: 2047, frameMax: 131072, heartbeat: 0 }));
  s.send(encodeMethodFrame(0, 'ConnectionOpen', { virtualHost: '/' }));
  assert.deepEqual(await s.next(), { channel: 0, method: { name: 'ConnectionOpenOk', args: { knownHosts: '' } } });
});

test('a passive declare of a missing queue closes only the channel with 404 and the failing method ids', async (t) => {
  const s = await session(t);
  s.send(PROTOCOL_HEADER);
  await s.next();
  s.send(encodeMethodFrame(0, 'ConnectionStartOk', { clientProperties: new Map(), mechanism: 'PLAIN', response: Buffer.from('\0guest\0guest'), locale: 'en_US' }));
  await s.next();
  s.send(encodeMethodFrame(0, 'ConnectionTuneOk', { channelMax: 0, frameMax: 0, heartbeat: 0 }));
  s.send(encodeMethodFrame(0, 'ConnectionOpen', { virtualHost: '/' }));
  await s.next();
  s.send(encodeMethodFrame(1, 'ChannelOpen', {}));
  assert.equal((await s.next()).method.name, 'ChannelOpenOk');
  s.send(encodeMethodFrame(1, 'QueueDeclare', { queue: 'missing', passive: true }));
  const close = await s.next();
  assert.equal(close.channel, 1);
  assert.equal(close.method.name, 'ChannelClose');
  if (close.method.name !== 'ChannelClose') return;
  assert.equal(close.method.args.replyCode, 404);
  assert.equal(close.method.args.classId, 50);
  assert.equal(close.method.args.methodId, 10);
  assert.match(close.method.args.replyText, /^NOT_FOUND - /);
  // Anything but close/close-ok is ignored until the client's close-ok; then the number is free again.
  s.send(encodeMethodFrame(1, 'BasicQos', { prefetchCount: 1 }));
  s.send(encodeMethodFrame(1, 'ChannelCloseOk', {}));
  s.send(encodeMethodFrame(1, 'ChannelOpen', {}));
  assert.equal((await s.next()).method.name, 'ChannelOpenOk');
  s.send(encodeMethodFrame(1, 'QueueDeclare', { queue: 'q1' }));
  assert.deepEqual(await s.next(), { channel: 1, method: { name: 'QueueDeclareOk', args: { queue: 'q1', messageCount: 0, consumerCount: 0 } } });
});

test('tx: publishes and acks take effect at tx.commit and are dropped by tx.rollback', async (t) => {
  const s = await session(t);
  s.send(PROTOCOL_HEADER);
  await s.next();
  s.send(encodeMethodFrame(0, 'ConnectionStartOk', { clientProperties: new Map(), mechanism: 'PLAIN', response: Buffer.from('\0guest\0guest'), locale: 'en_US' }));
  await s.next();
  s.send(encodeMethodFrame(0, 'ConnectionTuneOk', { channelMax: 0, frameMax: 131072, heartbeat: 0 }));
  s.send(encodeMethodFrame(0, 'ConnectionOpen', { virtualHost: '/' }));
  await s.next();
  s.send(encodeMethodFrame(1, 'ChannelOpen', {}));
  await s.next();
  s.send(encodeMethodFrame(1, 'QueueDeclare', { queue: 'txq' }));
  await s.next();
  s.send(encodeMethodFrame(1, 'TxSelect', {}));
  assert.equal((await s.next()).method.name, 'TxSelectOk');
  const publish = () => encodeMethodWithContent(1, 'BasicPublish', { routingKey: 'txq' }, basicContentHeader(2), Buffer.from('hi'), 131072);
  const count = async (): Promise<number> => {
    s.send(encodeMethodFrame(1, 'QueueDeclare', { queue: 'txq', passive: true }));
    const ok = await s.next();
    assert.equal(ok.method.name, 'QueueDeclareOk');
    return (ok.method.args as { messageCount: number }).messageCount;
  };
  s.send(publish());
  assert.equal(await count(), 0, 'not visible before commit');
  s.send(encodeMethodFrame(1, 'TxRollback', {}));
  assert.equal((await s.next()).method.name, 'TxRollbackOk');
  s.send(publish());
  s.send(encodeMethodFrame(1, 'TxCommit', {}));
  assert.equal((await s.next()).method.name, 'TxCommitOk');
  assert.equal(await count(), 1, 'one publish committed, one rolled back');
});
