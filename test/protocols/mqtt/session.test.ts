/**
 * MqttSession over in-memory duplex pairs: exact bytes, packets held during an asynchronous login, input split
 * at every byte. Features with the real client are in test/integration/mqtt/.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../../src/core/broker.js';
import { createMqttListener, type MqttListener } from '../../../src/protocols/mqtt/index.js';
import { encodePacket } from '../../../src/protocols/mqtt/codec/index.js';

const WAIT_MS = 5_000;

class Peer {
  bytes = Buffer.alloc(0);
  ended = false;
  private waiters: Array<() => void> = [];
  constructor(readonly client: Duplex) {}
  got(chunk: Buffer): void {
    this.bytes = Buffer.concat([this.bytes, chunk]);
    for (const w of this.waiters.splice(0)) w();
  }
  end(): void {
    this.ended = true;
    for (const w of this.waiters.splice(0)) w();
  }
  async waitForBytes(n: number): Promise<Buffer> {
    const deadline = Date.now() + WAIT_MS;
    while (this.bytes.length < n) {
      if (this.ended) throw new Error(`ended with ${this.bytes.toString('hex')}`);
      if (Date.now() > deadline) throw new Error(`timed out with ${this.bytes.toString('hex')}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50).unref();
      });
    }
    return this.bytes;
  }
}

function connectPair(listener: MqttListener): Peer {
  let peer!: Peer;
  const server: Duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      peer.got(chunk);
      cb();
    },
    final(cb) {
      peer.end();
      cb();
    },
  });
  const client = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      server.push(chunk);
      cb();
    },
  });
  peer = new Peer(client);
  listener.handle(server, '127.0.0.1', 1);
  return peer;
}

async function setup(t: TestContext): Promise<MqttListener> {
  const dataDir = await mkdtemp(join(tmpdir(), 'trib-mqtt-session-'));
  const broker = await Broker.open({ dataDir, fsync: 'never', fsyncIntervalMs: 1000 });
  const noop = () => undefined;
  const listener = createMqttListener({ broker, logger: { debug: noop, info: noop, warn: noop, error: noop } });
  t.after(async () => {
    await listener.close();
    await broker.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return listener;
}

const CONNECT_V4 = encodePacket({ type: 'connect', protocolName: 'MQTT', protocolLevel: 4, cleanStart: true, keepAliveSec: 0, clientId: 'c', username: 'guest', password: Buffer.from('guest') }, 4);
const SUBSCRIBE = encodePacket({ type: 'subscribe', packetId: 5, subscriptions: [{ topicFilter: 'a/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] }, 4);
const PINGREQ = Buffer.from([0xc0, 0x00]);

test('CONNECT, SUBSCRIBE and PINGREQ in one chunk are answered in order after the login: CONNACK, SUBACK, PINGRESP', async (t) => {
  const listener = await setup(t);
  const peer = connectPair(listener);
  peer.client.write(Buffer.concat([CONNECT_V4, SUBSCRIBE, PINGREQ]));
  const got = await peer.waitForBytes(4 + 5 + 2);
  assert.equal(got.toString('hex'), '20020000' + '9003000501' + 'd000');
});

test('input split at every byte gives the same answers', async (t) => {
  const listener = await setup(t);
  const peer = connectPair(listener);
  const all = Buffer.concat([CONNECT_V4, SUBSCRIBE, PINGREQ]);
  for (let i = 0; i < all.length; i++) peer.client.write(all.subarray(i, i + 1));
  const got = await peer.waitForBytes(11);
  assert.equal(got.toString('hex'), '20020000' + '9003000501' + 'd000');
});
