import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { connect as natsConnect } from '@nats-io/transport-node';
import { startTestServer, within } from './server-helper.js';

test('status names the version, uptime, every bound listener and resource totals', async (t) => {
  const s = await startTestServer(t);
  await s.request('POST', '/api/streams', { name: 'a' });
  await s.request('POST', '/api/queues', { name: 'q' });
  const res = await s.request('GET', '/api/status');
  assert.equal(res.status, 200);
  assert.match(res.body.version, /^\d+\.\d+\.\d+/);
  assert.ok(res.body.uptimeMs >= 0 && res.body.uptimeMs < 60_000);
  for (const name of ['http', 'kafka', 'amqp', 'nats', 'mqtt']) {
    assert.deepEqual(res.body.listeners[name], [`127.0.0.1:${s.port(name as 'http')}`], name);
  }
  // As GET /api/streams counts them (a queue's backing stream `amqp-q.*` is a stream too).
  assert.equal(res.body.totals.streams, (await s.request('GET', '/api/streams')).body.streams.length);
  assert.ok(res.body.totals.streams >= 1);
  assert.equal(res.body.totals.queues, 1);
  assert.ok(res.body.totals.exchanges >= 5, 'the amq.* exchanges');
  assert.equal(res.body.totals.groups, 0);
  assert.ok(res.body.totals.connections >= 1);
});

test('stats are cumulative counters with connections per protocol and disk bytes, also as SSE each second', async (t) => {
  const s = await startTestServer(t);
  await s.request('POST', '/api/streams', { name: 'disk', subjects: ['disk.>'] });
  const before = (await s.request('GET', '/api/stats')).body;
  assert.deepEqual(Object.keys(before).sort(), ['bytesIn', 'bytesOut', 'connections', 'diskBytes', 'messagesIn', 'messagesOut', 'timestamp']);
  assert.deepEqual(Object.keys(before.connections).sort(), ['amqp', 'http', 'kafka', 'mqtt', 'nats']);

  const nc = await natsConnect({ servers: `127.0.0.1:${s.port('nats')}`, reconnect: false, timeout: 10_000 });
  s.beforeStop(() => nc.close());
  for (let i = 0; i < 5; i++) nc.publish('disk.x', 'x'.repeat(1000));
  await nc.flush();
  await new Promise<void>((resolve) => {
    const check = (): void => void (s.broker.stream('disk')!.offsets(0).highWatermark >= 5 ? resolve() : setTimeout(check, 20));
    check();
  });
  const after = (await s.request('GET', '/api/stats')).body;
  assert.equal(after.connections.nats, 1);
  assert.ok(after.messagesIn >= before.messagesIn + 5);
  assert.ok(after.bytesIn >= before.bytesIn + 5000);
  assert.ok(after.diskBytes >= before.diskBytes + 5000, `diskBytes ${before.diskBytes} -> ${after.diskBytes}`);
  assert.ok(after.timestamp >= before.timestamp);

  // SSE: the first figures at once, then one event a second.
  const events = await within(
    new Promise<Array<{ timestamp: number }>>((resolve, reject) => {
      const req = http.get(`${s.base}/api/stats/events`, (res) => {
        assert.equal(res.headers['content-type'], 'text/event-stream');
        let buf = '';
        const got: Array<{ timestamp: number }> = [];
        res.setEncoding('utf8').on('data', (chunk: string) => {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const ev = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const [name, data] = ev.split('\n');
            assert.equal(name, 'event: stats');
            got.push(JSON.parse(data!.slice('data: '.length)));
            if (got.length === 2) {
              req.destroy();
              resolve(got);
            }
          }
        });
      });
      req.on('error', reject);
    }),
    'two stats events',
  );
  const gap = events[1]!.timestamp - events[0]!.timestamp;
  assert.ok(gap >= 900 && gap < 5000, `events ${gap} ms apart`);
});
