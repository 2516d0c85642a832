import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { errors } from '@nats-io/transport-node';
import { RawClient, startNats, within } from './harness.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

test('a raw client gets INFO first, and +OK after each op with verbose', async (t) => {
  const f = await startNats(t);
  const r = await f.raw();
  const [, json] = await r.waitFor(/^INFO (\{.*\})\r\n/, 'INFO');
  const info = JSON.parse(json) as Record<string, unknown>;
  for (const k of ['server_id', 'server_name', 'version', 'go', 'host', 'port', 'headers', 'max_payload', 'proto', 'client_id']) assert.ok(k in info, k);
  r.send('CONNECT {"verbose":true,"pedantic":true}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\nUNSUB 1\r\nPING\r\n');
  await r.waitFor(/PONG\r\n/, 'PONG');
  const after = r.text.slice(r.text.indexOf('\r\n') + 2);
  assert.equal(after, '+OK\r\n+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\n+OK\r\nPONG\r\n');
});

test('an invalid subject gets -ERR and the connection stays open', async (t) => {
  const f = await startNats(t);
  const r = await f.raw();
  r.send('CONNECT {}\r\nSUB foo..bar 1\r\nPUB a.* 1\r\nx\r\nSUB ok 2\r\nPUB ok 2\r\nyo\r\nPING\r\n');
  await r.waitFor(/PONG\r\n/, 'PONG');
  const lines = r.text.split('\r\n').slice(1);
  assert.deepEqual(lines, ["-ERR 'Invalid Subject'", "-ERR 'Invalid Subject'", 'MSG ok 2 2', 'yo', 'PONG', '']);
  assert.equal(r.ended, false);
});

test('a publish over max_payload gets -ERR Maximum Payload Violation and is closed; nats.js refuses it before sending', async (t) => {
  const f = await startNats(t, { maxPayload: 1024 });
  const r = await f.raw();
  r.send('CONNECT {}\r\nPUB big 2000\r\n');
  await r.waitFor(/-ERR 'Maximum Payload Violation'\r\n/, 'max payload error');
  await r.waitClosed();
  const nc = await f.client();
  assert.throws(() => nc.publish('big', new Uint8Array(2000)), /payload|max/i);
});

test('garbage gets -ERR and a close, and other connections carry on', async (t) => {
  const f = await startNats(t);
  const nc = await f.client();
  const s = nc.subscribe('still.ok', { max: 1 });
  await nc.flush();
  const bad = await f.raw();
  bad.send('HELLO WORLD\r\n');
  await bad.waitFor(/-ERR 'Unknown Protocol Operation'\r\n/, 'unknown op error');
  await bad.waitClosed();
  const bad2 = await f.raw();
  bad2.send('CONNECT {}\r\nPUB x notanumber\r\n');
  await bad2.waitFor(/-ERR 'Parser Error'\r\n/, 'parser error');
  await bad2.waitClosed();
  const bad3 = await f.raw();
  bad3.send(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a]));
  await bad3.waitFor(/-ERR '[^']+'\r\n/, 'an error for binary junk');
  await bad3.waitClosed();
  nc.publish('still.ok', enc('fine'));
  for await (const m of s) assert.equal(dec(m.data), 'fine');
  assert.ok(f.entries.some((e) => e.msg.includes('Unknown Protocol Operation') && 'cid' in e.obj && 'peer' in e.obj));
});

test('a subscriber that stops reading is cut as a slow consumer; the publisher and other subscribers are not slowed', async (t) => {
  const f = await startNats(t, { maxPendingBytes: 2 * 1024 * 1024 });
  const slow = await f.raw();
  slow.send('CONNECT {"name":"raw-slow"}\r\nSUB flood 1\r\nPING\r\n');
  await slow.waitFor(/PONG\r\n/, 'slow subscriber ready');
  slow.socket.pause();
  const [pub, fast] = await Promise.all([f.client(), f.client()]);
  let received = 0;
  fast.subscribe('flood', { callback: () => void received++ });
  await fast.flush();
  const slowSession = f.listener.sessions().find((s) => s.clientName === 'raw-slow');
  assert.ok(slowSession);
  const cut = once(f.listener.events, 'slowConsumer');
  let cutSeen = false;
  void cut.then(() => (cutSeen = true));
  const payload = new Uint8Array(16 * 1024);
  let sent = 0;
  const deadline = Date.now() + 10_000;
  // Publish until the server gives up on the paused subscriber (kernel buffers absorb a few MB first).
  while (!cutSeen) {
    assert.ok(Date.now() < deadline, 'the slow consumer was not detected');
    for (let i = 0; i < 16; i++) pub.publish('flood', payload);
    sent += 16;
    await within(pub.flush(), 'publisher flush');
  }
  assert.equal((await cut)[0], slowSession, 'the paused subscriber is the one cut');
  assert.equal(f.listener.stats().slowConsumers, 1);
  // The other subscriber gets every message.
  await within(
    (async () => {
      while (received < sent) await fast.flush();
    })(),
    `all ${sent} messages at the fast subscriber`,
  );
  assert.equal(received, sent);
  // The slow one, once it reads again, finds the -ERR after what was already buffered, then the close.
  slow.socket.resume();
  await slow.waitClosed();
  assert.ok(slow.text.endsWith("-ERR 'Slow Consumer'\r\n"), JSON.stringify(slow.text.slice(-60)));
  assert.ok(!pub.isClosed() && !fast.isClosed());
});

test('a client that stops answering PINGs is closed as stale after maxPingsOut', async (t) => {
  const f = await startNats(t, { pingIntervalMs: 30, maxPingsOut: 2 });
  const r = await f.raw();
  r.send('CONNECT {}\r\n');
  // Answer the first two PINGs, then go quiet.
  await r.waitFor(/PING\r\n/, 'first PING');
  r.send('PONG\r\n');
  await r.waitFor(/PING\r\n[^]*PING\r\n/, 'second PING');
  r.send('PONG\r\n');
  await r.waitFor(/-ERR 'Stale Connection'\r\n/, 'stale connection error');
  await r.waitClosed();
  const pings = r.text.split('PING\r\n').length - 1;
  assert.ok(pings >= 4, r.text);
  // nats.js answers PINGs itself and stays up across several intervals.
  const nc = await f.client();
  let pongs = 0;
  await within(
    new Promise<void>((resolve) => {
      const on = (): void => {
        if (++pongs < 4) return;
        f.listener.events.off('pong', on);
        resolve();
      };
      f.listener.events.on('pong', on);
    }),
    'four PING/PONG rounds with nats.js',
  );
  assert.equal(nc.isClosed(), false);
  assert.equal(f.listener.stats().connections, 1);
});

test('with auth required, INFO says so, good credentials work and bad ones get Authorization Violation', async (t) => {
  const f = await startNats(t, { authRequired: true }, { users: [{ name: 'alice', password: 's3cret' }] });
  const r = await f.raw();
  const [, json] = await r.waitFor(/^INFO (\{.*\})\r\n/, 'INFO');
  assert.equal((JSON.parse(json) as { auth_required?: boolean }).auth_required, true);
  r.send('SUB x 1\r\n');
  await r.waitFor(/-ERR 'Authorization Violation'\r\n/, 'violation before CONNECT');
  await r.waitClosed();

  const nc = await f.client({ user: 'alice', pass: 's3cret' });
  const s = nc.subscribe('auth.x', { max: 1 });
  nc.publish('auth.x', enc('in'));
  for await (const m of s) assert.equal(dec(m.data), 'in');

  await assert.rejects(f.client({ user: 'alice', pass: 'wrong' }), (err: unknown) => {
    assert.ok(err instanceof errors.AuthorizationError || /Authorization Violation/i.test(String(err)), String(err));
    return true;
  });
  await assert.rejects(f.client(), /Authorization Violation/i);
});
