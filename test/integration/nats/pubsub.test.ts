import { once } from 'node:events';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInbox, headers, errors, type Msg } from '@nats-io/transport-node';
import { collect, startNats, within, WAIT_MS } from './harness.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

test('nats.js connects and sees the INFO a nats-server would send', async (t) => {
  const f = await startNats(t, { maxPayload: 512 * 1024 });
  const nc = await f.client();
  const info = nc.info!;
  assert.match(info.version, /^2\.10\.\d+$/);
  assert.equal(info.proto, 1);
  assert.equal(info.headers, true);
  assert.equal(info.max_payload, 512 * 1024);
  assert.equal(typeof info.server_id, 'string');
  assert.equal(typeof info.server_name, 'string');
  assert.equal(typeof info.client_id, 'number');
  assert.equal(info.port, f.port);
  assert.equal(info.auth_required, undefined);
});

test('wildcards * and > match as NATS defines them', async (t) => {
  const f = await startNats(t);
  const nc = await f.client();
  const star = nc.subscribe('a.*.c');
  const full = nc.subscribe('a.>');
  await nc.flush();
  for (const s of ['a.b.c', 'a.b', 'a.x.c', 'a.b.c.d', 'a']) nc.publish(s, enc(s));
  await nc.flush();
  const gotStar = await collect(star, 2, 'a.*.c messages');
  const gotFull = await collect(full, 4, 'a.> messages');
  assert.deepEqual(gotStar.map((m) => m.subject), ['a.b.c', 'a.x.c']);
  assert.deepEqual(gotFull.map((m) => m.subject), ['a.b.c', 'a.b', 'a.x.c', 'a.b.c.d']);
  assert.deepEqual(gotFull.map((m) => dec(m.data)), ['a.b.c', 'a.b', 'a.x.c', 'a.b.c.d']);
});

test('a queue group spreads messages among its members, each message to exactly one', async (t) => {
  const f = await startNats(t);
  const [a, b, pub] = await Promise.all([f.client(), f.client(), f.client()]);
  const counts = [0, 0];
  let total = 0;
  const N = 200;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const on = (i: number) => () => {
    counts[i]++;
    if (++total === N) resolveAll();
  };
  a.subscribe('work', { queue: 'workers', callback: on(0) });
  b.subscribe('work', { queue: 'workers', callback: on(1) });
  // A plain subscriber alongside the group gets every message.
  const watcher = pub.subscribe('work');
  await Promise.all([a.flush(), b.flush(), pub.flush()]);
  for (let i = 0; i < N; i++) pub.publish('work', enc(String(i)));
  await pub.flush();
  await within(all, `${N} queue deliveries`);
  const watched = await collect(watcher, N, 'watcher messages');
  await Promise.all([a.flush(), b.flush()]);
  assert.equal(counts[0] + counts[1], N);
  assert.ok(counts[0] > 0 && counts[1] > 0, `both members got some: ${counts}`);
  assert.equal(watched.length, N);
});

test('request/reply works through inboxes, muxed and not', async (t) => {
  const f = await startNats(t);
  const [svc, req] = await Promise.all([f.client(), f.client()]);
  svc.subscribe('echo', { callback: (_err, m) => {
      m.respond(enc(`re:${dec(m.data)}`));
    } });
  await svc.flush();
  const r1 = await req.request('echo', enc('hi'), { timeout: WAIT_MS });
  assert.equal(dec(r1.data), 're:hi');
  const r2 = await req.request('echo', enc('solo'), { timeout: WAIT_MS, noMux: true });
  assert.equal(dec(r2.data), 're:solo');
  assert.match(createInbox(), /^_INBOX\./);
});

test('a request nobody listens to fails at once with no responders (503)', async (t) => {
  const f = await startNats(t);
  const nc = await f.client();
  const started = Date.now();
  await assert.rejects(nc.request('nobody.home', enc('?'), { timeout: WAIT_MS }), (err: unknown) => {
    assert.ok(err instanceof errors.RequestError, String(err));
    assert.ok((err as InstanceType<typeof errors.RequestError>).isNoResponders(), String(err));
    return true;
  });
  assert.ok(Date.now() - started < WAIT_MS / 2, 'the 503 came back before the timeout');
  // Also with a per-request inbox.
  await assert.rejects(nc.request('nobody.home', enc('?'), { timeout: WAIT_MS, noMux: true }), (err: unknown) => (err as InstanceType<typeof errors.RequestError>).isNoResponders());
});

test('headers round trip byte-for-byte, with repeated names', async (t) => {
  const f = await startNats(t);
  const [pub, sub] = await Promise.all([f.client(), f.client()]);
  const s = sub.subscribe('h.test', { max: 1 });
  await sub.flush();
  const h = headers();
  h.append('X-Trace', 'abc');
  h.append('Multi', 'one');
  h.append('Multi', 'two');
  h.append('lower-case', 'v');
  pub.publish('h.test', enc('body'), { headers: h });
  const [m] = await collect(s, 1, 'the message with headers');
  assert.equal(dec(m.data), 'body');
  assert.ok(m.headers);
  assert.equal(m.headers.get('X-Trace'), 'abc');
  assert.deepEqual(m.headers.values('Multi'), ['one', 'two']);
  assert.equal(m.headers.get('lower-case'), 'v');
});

test('echo:false (noEcho) keeps a connection from receiving its own publishes', async (t) => {
  const f = await startNats(t);
  const quiet = await f.client({ noEcho: true });
  const other = await f.client();
  const own: Msg[] = [];
  quiet.subscribe('e.x', { callback: (_e, m) => {
      own.push(m);
    } });
  const otherSub = other.subscribe('e.x');
  await Promise.all([quiet.flush(), other.flush()]);
  quiet.publish('e.x', enc('from quiet'));
  other.publish('e.x', enc('from other'));
  await Promise.all([quiet.flush(), other.flush()]);
  const seen = await collect(otherSub, 2, 'both messages at the echoing connection');
  await quiet.flush();
  assert.deepEqual(seen.map((m) => dec(m.data)).sort(), ['from other', 'from quiet']);
  assert.deepEqual(own.map((m) => dec(m.data)), ['from other']);
});

test('UNSUB with max ends the subscription after that many deliveries', async (t) => {
  const f = await startNats(t);
  const nc = await f.client();
  const pub = await f.client();
  const s = nc.subscribe('m.x', { max: 3 });
  await nc.flush();
  for (let i = 0; i < 10; i++) pub.publish('m.x', enc(String(i)));
  await pub.flush();
  const got: string[] = [];
  await within(
    (async () => {
      for await (const m of s) got.push(dec(m.data));
    })(),
    'the subscription to end after 3',
  );
  assert.deepEqual(got, ['0', '1', '2']);
  await nc.flush();
  assert.equal(f.broker.router.hasSubscribers('m.x'), false);
});

test('drain delivers what is pending, then closes cleanly', async (t) => {
  const f = await startNats(t);
  const [sub, pub] = await Promise.all([f.client(), f.client()]);
  let n = 0;
  sub.subscribe('d.x', { callback: () => void n++ });
  await sub.flush();
  for (let i = 0; i < 50; i++) pub.publish('d.x', enc('x'));
  await pub.flush();
  await within(sub.drain(), 'drain');
  assert.equal(n, 50);
  assert.equal(sub.isClosed(), true);
  await within(
    (async () => {
      while (f.listener.stats().connections > 1) await new Promise((r) => f.listener.events.once('sessionClosed', r));
    })(),
    'the server to see the drained connection close',
  );
  assert.equal(f.broker.router.hasSubscribers('d.x'), false);
});

test('a stream capturing a subject persists NATS publishes with their subject and headers', async (t) => {
  const f = await startNats(t);
  const { ANONYMOUS } = await import('../../../src/core/principal.js');
  const stream = await f.broker.createStream(ANONYMOUS, { name: 'orders', subjects: ['orders.>'] });
  assert.ok(stream);
  const nc = await f.client();
  const h = headers();
  h.append('Kind', 'new');
  nc.publish('orders.new', enc('order-1'), { headers: h });
  nc.publish('orders.paid', enc('order-2'));
  await nc.flush();
  // The appends resolve after their fsync: wait for the stream's append events, not a fixed number of turns.
  const signal = AbortSignal.timeout(10_000);
  while (stream!.offsets(0).highWatermark < 2) await once(stream!, 'append', { signal });
  const stored = await stream!.readMessages(0, 0, 1 << 20);
  assert.equal(stored.length, 2);
  assert.equal(stored[0].message.subject, 'orders.new');
  assert.equal(stored[0].message.value?.toString(), 'order-1');
  assert.deepEqual(stored[0].message.headers.map((x) => [x.key, x.value?.toString()]), [['Kind', 'new']]);
  assert.equal(stored[1].message.subject, 'orders.paid');
  // A request on a captured subject is stored, not answered with 503 (a stream counts as interest).
  nc.publish('orders.req', enc('r'), { reply: '_INBOX.x' });
  await nc.flush();
});
