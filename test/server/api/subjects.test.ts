import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { WebSocket } from 'ws';
import { startApi, TIMEOUT_MS, type TestApi } from './api-helper.js';
import type { Message } from '../../../src/core/message.js';

function withTimeout<T>(p: Promise<T>, what: string, ms = TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Waits (bounded) until `cond` holds; the server notices a client's close asynchronously. */
async function eventually(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** An SSE request; resolves with the response once the subscription comment arrived. */
function openEvents(api: TestApi, filter: string): Promise<{ res: http.IncomingMessage; req: http.ClientRequest; next: () => Promise<string> }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = http.get(`${api.base}/api/subjects/${encodeURIComponent(filter)}/events`, (res) => {
        let buffered = '';
        const waiters: Array<(event: string) => void> = [];
        const flush = (): void => {
          let i: number;
          while (waiters.length > 0 && (i = buffered.indexOf('\n\n')) >= 0) {
            const event = buffered.slice(0, i);
            buffered = buffered.slice(i + 2);
            waiters.shift()!(event);
          }
        };
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          flush();
        });
        const next = (): Promise<string> =>
          withTimeout(
            new Promise<string>((r) => {
              waiters.push(r);
              flush();
            }),
            'an SSE event',
          );
        void next().then((first) => {
          assert.equal(first, ': subscribed');
          resolve({ res, req, next });
        }, reject);
      });
      req.on('error', reject);
    }),
    'the SSE subscription',
  );
}

test('a publish on a subject reaches live subscribers and capturing streams', async (t) => {
  const api = await startApi(t);
  await api.request('POST', '/api/streams', { name: 'orders', subjects: ['orders.>'] });
  const seen: Message[] = [];
  const sub = api.broker.router.subscribe('orders.*', (m) => seen.push(m));
  t.after(() => void sub.unsubscribe());
  const res = await api.request('POST', '/api/subjects/orders.new/publish', { value: 'hello', encoding: 'text', headers: { a: 'b' }, replyTo: 'inbox.1' });
  assert.equal(res.status, 200);
  assert.equal(res.body.deliveries, 1);
  assert.deepEqual(res.body.stored, [{ partition: 0, offset: 0 }]);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.value!.toString(), 'hello');
  assert.equal(seen[0]!.replyTo, 'inbox.1');
  const read = await api.request('GET', '/api/streams/orders/records');
  assert.equal(read.body.records[0].value, 'hello');
  assert.equal(read.body.records[0].subject, 'orders.new');
});

test('publishing to an invalid subject or without a value is a 400', async (t) => {
  const api = await startApi(t);
  let res = await api.request('POST', `/api/subjects/${encodeURIComponent('a.*')}/publish`, { value: 1 });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, 'TRIB_SUBJECT_INVALID');
  res = await api.request('POST', '/api/subjects/a.b/publish', {});
  assert.equal(res.status, 400);
  assert.equal(res.body.error.field, 'value');
});

test('Server-Sent Events deliver matching messages and unsubscribe when the client goes', async (t) => {
  const api = await startApi(t);
  const { res, req, next } = await openEvents(api, 'sse.>');
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'] ?? '', /^text\/event-stream/);
  assert.ok(api.broker.router.hasSubscribers('sse.x'));
  await api.request('POST', '/api/subjects/other/publish', { value: 'no' });
  await api.request('POST', '/api/subjects/sse.x/publish', { value: { ok: true } });
  const event = await next();
  const [kind, data] = event.split('\n');
  assert.equal(kind, 'event: message');
  const body = JSON.parse(data!.slice('data: '.length));
  assert.equal(body.subject, 'sse.x');
  assert.deepEqual(JSON.parse(body.value), { ok: true });
  req.destroy();
  await eventually(() => !api.broker.router.hasSubscribers('sse.x'), 'the SSE subscription to end');
});

test('an SSE client that does not read is disconnected instead of buffered without bound', async (t) => {
  const api = await startApi(t);
  const { res, req } = await openEvents(api, 'slow');
  t.after(() => void req.destroy());
  res.pause();
  const value = Buffer.alloc(64 * 1024, 0x61);
  const closed = new Promise<void>((resolve) => res.once('close', resolve));
  // 64 MiB at most; the kernel's socket buffers take a few MiB, then the 1 MiB bound trips.
  for (let i = 0; i < 1024 && api.broker.router.hasSubscribers('slow'); i++) {
    api.broker.router.publish({ subject: 'slow', key: null, value, headers: [], timestamp: 0 });
  }
  assert.equal(api.broker.router.hasSubscribers('slow'), false, 'the slow subscriber was dropped');
  res.resume();
  await withTimeout(closed, 'the connection to close');
});

test('an invalid subject filter for events is a 400 before any stream starts', async (t) => {
  const api = await startApi(t);
  const res = await api.request('GET', `/api/subjects/${encodeURIComponent('a.>.b')}/events`);
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, 'TRIB_SUBJECT_INVALID');
});

test('a WebSocket receives matching messages as JSON and unsubscribes on close', async (t) => {
  const api = await startApi(t);
  const ws = new WebSocket(`${api.base.replace('http', 'ws')}/api/subjects/${encodeURIComponent('ws.*')}/ws`);
  t.after(() => ws.terminate());
  await withTimeout(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 'the WebSocket to open');
  assert.ok(api.broker.router.hasSubscribers('ws.a'));
  const got = withTimeout(new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d)))), 'a WebSocket message');
  await api.request('POST', '/api/subjects/ws.a/publish', { value: 'AP8=', encoding: 'base64' });
  const msg = JSON.parse(await got);
  assert.deepEqual({ subject: msg.subject, value: msg.value, encoding: msg.encoding }, { subject: 'ws.a', value: 'AP8=', encoding: 'base64' }, 'bytes that are not UTF-8 come back as base64');
  ws.close();
  await eventually(() => !api.broker.router.hasSubscribers('ws.a'), 'the WebSocket subscription to end');
});

test('a WebSocket upgrade for an invalid filter is refused with 400', async (t) => {
  const api = await startApi(t);
  const ws = new WebSocket(`${api.base.replace('http', 'ws')}/api/subjects/${encodeURIComponent('a..b')}/ws`);
  // The refused handshake also surfaces as an 'error' on the client; the status is what is checked.
  ws.on('error', () => undefined);
  t.after(() => ws.terminate());
  const status = await withTimeout(
    new Promise<number>((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => reject(new Error('opened')));
    }),
    'the refused upgrade',
  );
  assert.equal(status, 400);
});

test('stopping the server ends open live subscriptions', async (t) => {
  const api = await startApi(t);
  const { res } = await openEvents(api, 'stop.me');
  const closed = new Promise<void>((resolve) => res.once('close', resolve));
  await withTimeout(api.stop(), 'the server to stop');
  await withTimeout(closed, 'the SSE connection to close');
  assert.equal(api.broker.router.hasSubscribers('stop.me'), false);
});
