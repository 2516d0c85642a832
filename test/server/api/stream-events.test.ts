import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { WebSocket } from 'ws';
import { Kafka, logLevel } from 'kafkajs';
import { startApi, TIMEOUT_MS, type TestApi } from './api-helper.js';
import { startTestServer, within } from './server-helper.js';

interface Follower {
  req: http.ClientRequest;
  res: http.IncomingMessage;
  /** The next `n` record events' data. */
  take(n: number): Promise<Array<{ partition: number; offset: number; value: string; subject: string }>>;
}

/** Opens an SSE follower; resolves once the `: subscribed` comment arrived. */
function follow(base: string, path: string): Promise<Follower> {
  return within(
    new Promise((resolve, reject) => {
      const req = http.get(base + path, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
        let buf = '';
        const events: string[] = [];
        let wake: (() => void) | null = null;
        res.setEncoding('utf8').on('data', (chunk: string) => {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            events.push(buf.slice(0, i));
            buf = buf.slice(i + 2);
          }
          wake?.();
        });
        const next = async (): Promise<string> => {
          while (events.length === 0) await new Promise<void>((r) => (wake = r));
          return events.shift()!;
        };
        const take: Follower['take'] = (n) =>
          within(
            (async () => {
              const out = [];
              for (let k = 0; k < n; k++) {
                const ev = await next();
                const [name, data] = ev.split('\n');
                assert.equal(name, 'event: record');
                out.push(JSON.parse(data!.slice('data: '.length)));
              }
              return out;
            })(),
            `${n} record events`,
          );
        void next().then((first) => {
          assert.equal(first, ': subscribed');
          resolve({ req, res, take });
        });
      });
      req.on('error', reject);
    }),
    'the SSE follower',
  );
}

async function produce(api: Pick<TestApi, 'request'>, stream: string, values: string[], partition = 0): Promise<void> {
  const res = await api.request('POST', `/api/streams/${stream}/records`, { records: values.map((value) => ({ value, encoding: 'text', partition })) });
  assert.equal(res.status, 200);
}

test('SSE replays a partition from an offset and then follows new records', async (t) => {
  const api = await startApi(t);
  await api.request('POST', '/api/streams', { name: 'log', partitions: 2 });
  await produce(api, 'log', ['a', 'b', 'c']);
  await produce(api, 'log', ['other'], 1);
  const f = await follow(api.base, '/api/streams/log/events?partition=0&offset=1');
  t.after(() => f.req.destroy());
  assert.deepEqual((await f.take(2)).map((r) => [r.partition, r.offset, r.value]), [
    [0, 1, 'b'],
    [0, 2, 'c'],
  ]);
  await produce(api, 'log', ['d', 'e']);
  await produce(api, 'log', ['not followed'], 1);
  await produce(api, 'log', ['f']);
  const live = await f.take(3);
  assert.deepEqual(live.map((r) => [r.offset, r.value]), [
    [3, 'd'],
    [4, 'e'],
    [5, 'f'],
  ]);
  assert.equal(live[0]!.subject, 'log');
});

test('from=earliest, from=latest (the default) and timestamp pick the start', async (t) => {
  const api = await startApi(t);
  await api.request('POST', '/api/streams', { name: 'ts' });
  const now = Date.now();
  await api.request('POST', '/api/streams/ts/records', { records: [{ value: 'old', encoding: 'text', timestamp: now - 60_000 }, { value: 'new', encoding: 'text', timestamp: now }] });
  const earliest = await follow(api.base, '/api/streams/ts/events?from=earliest');
  t.after(() => earliest.req.destroy());
  assert.deepEqual((await earliest.take(2)).map((r) => r.value), ['old', 'new']);
  const byTime = await follow(api.base, `/api/streams/ts/events?timestamp=${encodeURIComponent(new Date(now - 1000).toISOString())}`);
  t.after(() => byTime.req.destroy());
  assert.deepEqual((await byTime.take(1)).map((r) => r.value), ['new']);
  const latest = await follow(api.base, '/api/streams/ts/events');
  t.after(() => latest.req.destroy());
  await produce(api, 'ts', ['newest']);
  assert.deepEqual((await latest.take(1)).map((r) => [r.offset, r.value]), [[2, 'newest']]);
});

test('a WebSocket follower gets the same records as JSON frames, including Kafka-produced ones', async (t) => {
  const s = await startTestServer(t);
  await s.request('POST', '/api/streams', { name: 'wsdemo' });
  await produce(s, 'wsdemo', ['first']);
  const ws = new WebSocket(`${s.base.replace('http', 'ws')}/api/streams/wsdemo/ws?from=earliest`);
  s.beforeStop(async () => ws.close());
  const frames: Array<{ offset: number; value: string }> = [];
  const two = new Promise<void>((resolve) =>
    ws.on('message', (data) => {
      frames.push(JSON.parse(String(data)));
      if (frames.length === 2) resolve();
    }),
  );
  await within(new Promise((r) => ws.once('open', r)), 'the WebSocket open');
  const producer = new Kafka({ clientId: 'ws', brokers: [`127.0.0.1:${s.port('kafka')}`], logLevel: logLevel.NOTHING }).producer();
  s.beforeStop(() => producer.disconnect());
  await producer.connect();
  await producer.send({ topic: 'wsdemo', messages: [{ value: 'from kafka' }] });
  await within(two, 'two WebSocket frames');
  assert.deepEqual(frames.map((f) => [f.offset, f.value]), [
    [0, 'first'],
    [1, 'from kafka'],
  ]);
});

test('a reader that does not read pauses the follower instead of buffering without bound', async (t) => {
  const api = await startApi(t);
  await api.request('POST', '/api/streams', { name: 'big', configs: { 'max.message.bytes': 1024 * 1024 } });
  const chunk = 'x'.repeat(256 * 1024);
  const total = 64; // 16 MiB: more than the socket buffers on both sides can absorb
  for (let i = 0; i < total; i++) await produce(api, 'big', [chunk]);
  // Count how far the server's follower has read from the log.
  const stream = api.broker.stream('big')!;
  const readMessages = stream.readMessages.bind(stream);
  let readUpTo = -1;
  stream.readMessages = async (...args) => {
    const page = await readMessages(...args);
    for (const m of page) readUpTo = Math.max(readUpTo, m.offset);
    return page;
  };
  const f = await follow(api.base, '/api/streams/big/events?from=earliest');
  t.after(() => f.req.destroy());
  f.res.pause();
  // Wait (bounded) until the follower stops advancing: it must stop well before the end.
  let last = -2;
  const deadline = Date.now() + TIMEOUT_MS;
  while (readUpTo !== last && Date.now() < deadline) {
    last = readUpTo;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(readUpTo < total - 1, `the follower paused at offset ${readUpTo} of ${total - 1}`);
  // Reading again drains it all, in order.
  f.res.resume();
  const all = await f.take(total);
  assert.deepEqual(all.map((r) => r.offset), Array.from({ length: total }, (_, i) => i));
});

test('many followers of one stream share one append listener, removed when the last goes', async (t) => {
  const api = await startApi(t);
  await api.request('POST', '/api/streams', { name: 'fan' });
  const stream = api.broker.stream('fan')!;
  const before = stream.listenerCount('append');
  const followers = await Promise.all(Array.from({ length: 12 }, () => follow(api.base, '/api/streams/fan/events')));
  t.after(() => followers.forEach((f) => f.req.destroy()));
  assert.equal(stream.listenerCount('append'), before + 1);
  await produce(api, 'fan', ['to all']);
  for (const f of followers) assert.deepEqual((await f.take(1)).map((r) => r.value), ['to all']);
  for (const f of followers) f.req.destroy();
  const deadline = Date.now() + TIMEOUT_MS;
  while (stream.listenerCount('append') !== before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(stream.listenerCount('append'), before);
});

test('bad follower requests are refused before the stream starts', async (t) => {
  const api = await startApi(t);
  await api.request('POST', '/api/streams', { name: 'v', partitions: 1 });
  await produce(api, 'v', ['a']);
  let res = await api.request('GET', '/api/streams/nope/events');
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_STREAM_NOT_FOUND');
  res = await api.request('GET', '/api/streams/v/events?partition=4');
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_PARTITION_NOT_FOUND');
  res = await api.request('GET', '/api/streams/v/events?from=middle');
  assert.equal(res.status, 400);
  assert.equal(res.body.error.field, 'query.from');
  res = await api.request('GET', '/api/streams/v/events?offset=0&from=earliest');
  assert.equal(res.status, 400);
  res = await api.request('GET', '/api/streams/v/ws?offset=-1');
  assert.equal(res.status, 400);
  assert.equal(res.body.error.field, 'query.offset');
});
