/**
 * NatsSession over in-memory duplex pairs: exact frames, batching, header handling per CONNECT, error paths.
 * Features with the real client are in test/integration/nats/.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../../src/core/broker.js';
import { createNatsListener, type NatsListener } from '../../../src/protocols/nats/index.js';

const WAIT_MS = 5_000;

/** The client end of an in-memory connection: what the server wrote, and how many writes it took. */
class Peer {
  text = '';
  writes = 0;
  ended = false;
  private waiters: Array<() => void> = [];
  constructor(readonly client: Duplex) {}
  got(chunk: Buffer): void {
    this.writes++;
    this.text += chunk.toString('latin1');
    for (const w of this.waiters.splice(0)) w();
  }
  end(): void {
    this.ended = true;
    for (const w of this.waiters.splice(0)) w();
  }
  send(s: string): void {
    this.client.write(Buffer.from(s, 'latin1'));
  }
  async waitFor(re: RegExp): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!re.test(this.text)) {
      if (this.ended) throw new Error(`ended before ${re}: ${JSON.stringify(this.text)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}: ${JSON.stringify(this.text)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50).unref();
      });
    }
  }
  /** Everything after the INFO line. */
  get afterInfo(): string {
    return this.text.slice(this.text.indexOf('\r\n') + 2);
  }
}

/** A session on one end of an in-memory pair; the other end is the returned Peer. */
function connectPair(listener: NatsListener): Peer {
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
    final(cb) {
      server.push(null);
      cb();
    },
  });
  peer = new Peer(client);
  listener.handle(server);
  return peer;
}

async function setup(t: TestContext, options = {}): Promise<{ broker: Broker; listener: NatsListener }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'trib-nats-session-'));
  const broker = await Broker.open({ dataDir, fsync: 'never', fsyncIntervalMs: 1000, inMemory: true });
  const noop = (): void => undefined;
  const listener = createNatsListener({ broker, logger: { debug: noop, info: noop, warn: noop, error: noop }, options });
  t.after(async () => {
    await listener.close();
    await broker.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { broker, listener };
}

test('a session over a Duplex writes INFO first and answers PING with PONG', async (t) => {
  const { listener } = await setup(t);
  const p = connectPair(listener);
  await p.waitFor(/^INFO \{.*\}\r\n$/);
  const info = JSON.parse(p.text.slice(5, -2)) as Record<string, unknown>;
  assert.equal(info.proto, 1);
  assert.equal(info.headers, true);
  p.send('CONNECT {}\r\nPING\r\n');
  await p.waitFor(/PONG\r\n/);
  assert.equal(p.afterInfo, 'PONG\r\n');
});

test('many deliveries in one tick reach a subscriber in one write', async (t) => {
  const { listener } = await setup(t);
  const sub = connectPair(listener);
  sub.send('CONNECT {}\r\nSUB b.* 7\r\nPING\r\n');
  await sub.waitFor(/PONG\r\n/);
  const before = sub.writes;
  const pub = connectPair(listener);
  let burst = 'CONNECT {}\r\n';
  for (let i = 0; i < 100; i++) burst += `PUB b.${i % 3} 1\r\n${i % 10}\r\n`;
  pub.send(burst);
  await sub.waitFor(/(MSG b\.\d 7 1\r\n\d\r\n){100}$/);
  assert.equal(sub.writes - before, 1);
  assert.ok(sub.afterInfo.startsWith('PONG\r\nMSG b.0 7 1\r\n0\r\nMSG b.1 7 1\r\n1\r\n'));
});

test('HPUB reaches a headers client as HMSG with the block byte-for-byte, and a non-headers client as MSG', async (t) => {
  const { listener } = await setup(t);
  const withHeaders = connectPair(listener);
  const without = connectPair(listener);
  withHeaders.send('CONNECT {"headers":true}\r\nSUB h 1\r\nPING\r\n');
  without.send('CONNECT {}\r\nSUB h 2\r\nPING\r\n');
  await withHeaders.waitFor(/PONG/);
  await without.waitFor(/PONG/);
  const pub = connectPair(listener);
  const block = 'NATS/1.0\r\nBar: Baz\r\nbar: two\r\n\r\n';
  pub.send(`CONNECT {"headers":true}\r\nHPUB h r.1 ${block.length} ${block.length + 11}\r\n${block}Hello NATS!\r\n`);
  await withHeaders.waitFor(/HMSG/);
  await without.waitFor(/MSG h/);
  assert.equal(withHeaders.afterInfo, `PONG\r\nHMSG h 1 r.1 ${block.length} ${block.length + 11}\r\n${block}Hello NATS!\r\n`);
  assert.equal(without.afterInfo, 'PONG\r\nMSG h 2 r.1 11\r\nHello NATS!\r\n');
});

test('no-responders is sent only to a client that asked for it with headers', async (t) => {
  const { listener } = await setup(t);
  const asked = connectPair(listener);
  asked.send('CONNECT {"headers":true,"no_responders":true}\r\nSUB _INBOX.a.* 1\r\nPUB nobody _INBOX.a.1 0\r\n\r\nPING\r\n');
  await asked.waitFor(/PONG/);
  assert.equal(asked.afterInfo, 'HMSG _INBOX.a.1 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n');
  const plain = connectPair(listener);
  plain.send('CONNECT {"no_responders":true}\r\nSUB _INBOX.b.* 1\r\nPUB nobody _INBOX.b.1 0\r\n\r\nPING\r\n');
  await plain.waitFor(/PONG/);
  assert.equal(plain.afterInfo, 'PONG\r\n');
});

test('a bad CONNECT closes the session with -ERR and nothing escapes', async (t) => {
  const { listener } = await setup(t);
  const p = connectPair(listener);
  p.send('CONNECT {not json\r\nPING\r\n');
  await p.waitFor(/-ERR 'Parser Error'\r\n/);
  assert.equal(p.afterInfo, "-ERR 'Parser Error'\r\n");
  assert.equal(listener.stats().connections, 0);
  const q = connectPair(listener);
  q.send('CONNECT {"protocol":2}\r\n');
  await q.waitFor(/-ERR 'Invalid Client Protocol'\r\n/);
});

test('UNSUB max counts deliveries already made', async (t) => {
  const { listener } = await setup(t);
  const p = connectPair(listener);
  p.send('CONNECT {}\r\nSUB u 9\r\nPUB u 1\r\na\r\nPUB u 1\r\nb\r\nUNSUB 9 2\r\nPUB u 1\r\nc\r\nSUB u 10\r\nUNSUB 10 2\r\nPUB u 1\r\nd\r\nPUB u 1\r\ne\r\nPUB u 1\r\nf\r\nPING\r\n');
  await p.waitFor(/PONG/);
  assert.equal(p.afterInfo, 'MSG u 9 1\r\na\r\nMSG u 9 1\r\nb\r\nMSG u 10 1\r\nd\r\nMSG u 10 1\r\ne\r\nPONG\r\n');
});
