/**
 * NatsSession over in-memory duplex pairs: exact frames, batching, header handling per CONNECT, error paths.
 * Features with the real client are in test/integration/nats/.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import type { Broker } from '../../../src/core/broker.js';
import { createNatsListener, type NatsListener, type NatsSessionOptions } from '../../../src/protocols/nats/index.js';
import { startBroker } from '../../support/broker-fixture.js';
import { connectInMemory } from '../../support/memory-connection.js';
import type { RawClient } from '../../support/raw-client.js';

/** Everything the client received after the INFO line. */
const afterInfo = (p: RawClient<Duplex>): string => p.text.slice(p.text.indexOf('\r\n') + 2);

async function setup(t: TestContext, options: Partial<NatsSessionOptions> = {}): Promise<{ broker: Broker; listener: NatsListener }> {
  const f = await startBroker(t, { name: 'nats-session', listen: false, broker: { inMemory: true }, listener: (deps) => createNatsListener({ ...deps, options }) });
  return { broker: f.broker, listener: f.listener };
}

test('a session over a Duplex writes INFO first and answers PING with PONG', async (t) => {
  const { listener } = await setup(t);
  const p = connectInMemory(listener);
  await p.waitFor(/^INFO \{.*\}\r\n$/);
  const info = JSON.parse(p.text.slice(5, -2)) as Record<string, unknown>;
  assert.equal(info.proto, 1);
  assert.equal(info.headers, true);
  p.send('CONNECT {}\r\nPING\r\n');
  await p.waitFor(/PONG\r\n/);
  assert.equal(afterInfo(p), 'PONG\r\n');
});

test('many deliveries in one tick reach a subscriber in one write', async (t) => {
  const { listener } = await setup(t);
  const sub = connectInMemory(listener);
  sub.send('CONNECT {}\r\nSUB b.* 7\r\nPING\r\n');
  await sub.waitFor(/PONG\r\n/);
  const before = sub.arrivals;
  const pub = connectInMemory(listener);
  let burst = 'CONNECT {}\r\n';
  for (let i = 0; i < 100; i++) burst += `PUB b.${i % 3} 1\r\n${i % 10}\r\n`;
  pub.send(burst);
  await sub.waitFor(/(MSG b\.\d 7 1\r\n\d\r\n){100}$/);
  assert.equal(sub.arrivals - before, 1);
  assert.ok(afterInfo(sub).startsWith('PONG\r\nMSG b.0 7 1\r\n0\r\nMSG b.1 7 1\r\n1\r\n'));
});

test('HPUB reaches a headers client as HMSG with the block byte-for-byte, and a non-headers client as MSG', async (t) => {
  const { listener } = await setup(t);
  const withHeaders = connectInMemory(listener);
  const without = connectInMemory(listener);
  withHeaders.send('CONNECT {"headers":true}\r\nSUB h 1\r\nPING\r\n');
  without.send('CONNECT {}\r\nSUB h 2\r\nPING\r\n');
  await withHeaders.waitFor(/PONG/);
  await without.waitFor(/PONG/);
  const pub = connectInMemory(listener);
  const block = 'NATS/1.0\r\nBar: Baz\r\nbar: two\r\n\r\n';
  pub.send(`CONNECT {"headers":true}\r\nHPUB h r.1 ${block.length} ${block.length + 11}\r\n${block}Hello NATS!\r\n`);
  await withHeaders.waitFor(/HMSG/);
  await without.waitFor(/MSG h/);
  assert.equal(afterInfo(withHeaders), `PONG\r\nHMSG h 1 r.1 ${block.length} ${block.length + 11}\r\n${block}Hello NATS!\r\n`);
  assert.equal(afterInfo(without), 'PONG\r\nMSG h 2 r.1 11\r\nHello NATS!\r\n');
});

test('no-responders is sent only to a client that asked for it with headers', async (t) => {
  const { listener } = await setup(t);
  const asked = connectInMemory(listener);
  asked.send('CONNECT {"headers":true,"no_responders":true}\r\nSUB _INBOX.a.* 1\r\nPUB nobody _INBOX.a.1 0\r\n\r\nPING\r\n');
  await asked.waitFor(/PONG/);
  assert.equal(afterInfo(asked), 'HMSG _INBOX.a.1 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n');
  const plain = connectInMemory(listener);
  plain.send('CONNECT {"no_responders":true}\r\nSUB _INBOX.b.* 1\r\nPUB nobody _INBOX.b.1 0\r\n\r\nPING\r\n');
  await plain.waitFor(/PONG/);
  assert.equal(afterInfo(plain), 'PONG\r\n');
});

test('a bad CONNECT closes the session with -ERR and nothing escapes', async (t) => {
  const { listener } = await setup(t);
  const p = connectInMemory(listener);
  p.send('CONNECT {not json\r\nPING\r\n');
  await p.waitFor(/-ERR 'Parser Error'\r\n/);
  assert.equal(afterInfo(p), "-ERR 'Parser Error'\r\n");
  assert.equal(listener.stats().connections, 0);
  const q = connectInMemory(listener);
  q.send('CONNECT {"protocol":2}\r\n');
  await q.waitFor(/-ERR 'Invalid Client Protocol'\r\n/);
});

test('UNSUB max counts deliveries already made', async (t) => {
  const { listener } = await setup(t);
  const p = connectInMemory(listener);
  p.send('CONNECT {}\r\nSUB u 9\r\nPUB u 1\r\na\r\nPUB u 1\r\nb\r\nUNSUB 9 2\r\nPUB u 1\r\nc\r\nSUB u 10\r\nUNSUB 10 2\r\nPUB u 1\r\nd\r\nPUB u 1\r\ne\r\nPUB u 1\r\nf\r\nPING\r\n');
  await p.waitFor(/PONG/);
  assert.equal(afterInfo(p), 'MSG u 9 1\r\na\r\nMSG u 9 1\r\nb\r\nMSG u 10 1\r\nd\r\nMSG u 10 1\r\ne\r\nPONG\r\n');
});
