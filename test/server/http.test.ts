import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createHttpPlugin } from '../../src/server/http.js';
import { createMetrics } from '../../src/server/metrics.js';
import { resolveConfig } from '../../src/server/config.js';
import { formatAddress, type ServerState } from '../../src/server/protocol-plugin.js';

const silent = pino({ level: 'silent' });

async function get(url: string): Promise<Response> {
  return fetch(url, { signal: AbortSignal.timeout(10_000) });
}

async function startHttp(t: { after(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-http-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { config } = await resolveConfig({ env: {}, cwd: dir, stdoutIsTTY: false, flags: { httpPort: '0' } });
  const metrics = createMetrics();
  const status = { state: 'starting' as ServerState, brokerReady: true };
  const plugin = createHttpPlugin();
  const bound = await plugin.start({
    config,
    broker: { ready: true, close: async () => {} },
    metrics,
    logger: silent,
    state: () => status.state,
    isReady: () => status.state === 'ready' && status.brokerReady,
  });
  t.after(() => plugin.stop());
  assert.equal(bound.length, 1);
  assert.equal(bound[0]!.address, '127.0.0.1');
  assert.ok(bound[0]!.port > 0, 'port 0 became a real port');
  return { base: `http://${formatAddress(bound[0]!)}`, status, metrics, plugin };
}

test('/healthz and /readyz answer 503 while starting, 200 when ready, 503 while stopping', async (t) => {
  const { base, status } = await startHttp(t);
  for (const path of ['/healthz', '/readyz']) {
    status.state = 'starting';
    let res = await get(base + path);
    assert.equal(res.status, 503, path);
    assert.deepEqual(await res.json(), { status: 'starting' });

    status.state = 'ready';
    res = await get(base + path);
    assert.equal(res.status, 200, path);
    assert.deepEqual(await res.json(), { status: 'ok' });

    status.brokerReady = false;
    res = await get(base + path);
    assert.equal(res.status, 503, `${path} when the broker is not ready`);
    assert.deepEqual(await res.json(), { status: 'unavailable' });
    status.brokerReady = true;

    status.state = 'stopping';
    res = await get(base + path);
    assert.equal(res.status, 503, path);
    assert.deepEqual(await res.json(), { status: 'stopping' });
  }
});

test('/metrics serves the Prometheus text format with the tributary metrics', async (t) => {
  const { base, metrics } = await startHttp(t);
  metrics.storageObserver.onAppend?.(7, 700);
  const res = await get(base + '/metrics');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  assert.match(text, /^tributary_append_records_total 7$/m);
  // Our own request is an open HTTP connection while it is served.
  assert.match(text, /^tributary_connections\{protocol="http"\} [1-9]/m);
});

test('stop closes the listener', async (t) => {
  const { base, plugin } = await startHttp(t);
  await plugin.stop();
  await assert.rejects(get(base + '/healthz'));
});
