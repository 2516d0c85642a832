/**
 * MQTT over WebSocket at /mqtt on the HTTP port (MQTT 5.0 §6): the real mqtt.js client over ws:// talks to the
 * same sessions as TCP clients.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { createHttpPlugin } from '../../../src/server/http.js';
import { createMetrics } from '../../../src/server/metrics.js';
import { resolveConfig } from '../../../src/server/config.js';
import { EPHEMERAL, serveProcess } from '../../support/tributary-process.js';
import { nextMessages, nextEvent, startMqtt, within, WAIT_MS, type Fixture } from './harness.js';

async function startHttp(t: { after(fn: () => Promise<void>): void }, f: Fixture): Promise<number> {
  const { config } = await resolveConfig({ env: {}, cwd: f.dataDir, stdoutIsTTY: false, flags: { httpPort: '0' } });
  const plugin = createHttpPlugin();
  const bound = await plugin.start({
    config,
    broker: f.broker,
    metrics: createMetrics(),
    logger: pino({ level: 'silent' }),
    state: () => 'ready',
    isReady: () => true,
  });
  t.after(() => plugin.stop());
  return bound[0]!.port;
}

test('a WebSocket client and a TCP client exchange messages both ways at QoS 0 and 1 (v4 and v5)', async (t) => {
  const f = await startMqtt(t);
  const port = await startHttp(t, f);
  for (const protocolVersion of [4, 5] as const) {
    const ws = await mqtt.connectAsync(`ws://127.0.0.1:${port}/mqtt`, { protocolVersion, reconnectPeriod: 0, connectTimeout: WAIT_MS, clientId: `ws-${protocolVersion}` });
    t.after(() => ws.endAsync(true));
    const tcp = await f.client({ protocolVersion, clientId: `tcp-${protocolVersion}` });
    await ws.subscribeAsync('from/tcp/#', { qos: 1 });
    await tcp.subscribeAsync('from/ws/+', { qos: 1 });

    const atWs = nextMessages(ws, 2, 'messages at the WebSocket client');
    await tcp.publishAsync('from/tcp/a', 'zero', { qos: 0 });
    await tcp.publishAsync('from/tcp/b', Buffer.alloc(100_000, 7), { qos: 1 });
    const gotWs = await atWs;
    assert.deepEqual(gotWs.map((m) => m.topic), ['from/tcp/a', 'from/tcp/b']);
    assert.equal(gotWs[0]!.payload.toString(), 'zero');
    assert.equal(gotWs[1]!.payload.length, 100_000, 'a packet spanning many frames arrives whole');

    const atTcp = nextMessages(tcp, 1, 'a message at the TCP client');
    await ws.publishAsync('from/ws/x', 'hello', { qos: 1 });
    const [m] = await atTcp;
    assert.equal(m!.topic, 'from/ws/x');
    assert.equal(m!.payload.toString(), 'hello');
    assert.equal(m!.packet.qos, 1);
    await ws.endAsync();
  }
  assert.equal(f.listener.connections().length, 2, 'the WebSocket clients are gone; the TCP ones remain');
});

test('the upgrade answers subprotocol mqtt; a text frame closes the connection; a plain GET gets 426', async (t) => {
  const f = await startMqtt(t);
  const port = await startHttp(t, f);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, ['mqtt']);
  await within(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 'the upgrade');
  assert.equal(ws.protocol, 'mqtt');
  const closed = nextEvent(ws, 'close', 'the close after a text frame');
  ws.send('not binary');
  const [code] = await closed;
  assert.equal(code, 1003);

  const status = await within(
    new Promise<number>((resolve, reject) => request({ host: '127.0.0.1', port, path: '/mqtt' }, (res) => (res.resume(), resolve(res.statusCode!))).on('error', reject).end()),
    'the plain GET',
  );
  assert.equal(status, 426);
});

test('a will of a WebSocket client whose connection drops is published', async (t) => {
  const f = await startMqtt(t);
  const port = await startHttp(t, f);
  const watcher = await f.client();
  await watcher.subscribeAsync('wills/#', { qos: 1 });
  const ws = await mqtt.connectAsync(`ws://127.0.0.1:${port}/mqtt`, { reconnectPeriod: 0, connectTimeout: WAIT_MS, will: { topic: 'wills/ws', payload: Buffer.from('gone'), qos: 1, retain: false } });
  assert.equal(f.listener.connections().length, 2);
  const will = nextMessages(watcher, 1, 'the will');
  (ws.stream as unknown as { destroy(): void }).destroy();
  const [m] = await will;
  assert.equal(m!.payload.toString(), 'gone');
  ws.end(true);
});

test('the served binary: ws://…/mqtt on the HTTP port reaches the MQTT listener, and --mqtt-max-keepalive applies', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'trib-mqtt-ws-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const proc = serveProcess(dir, ['--data-dir', join(dir, 'data'), ...EPHEMERAL, '--mqtt-max-keepalive', '7']);
  t.after(async () => {
    proc.kill('SIGTERM');
    await proc.waitForExit().catch(() => proc.kill());
  });
  const ports = await proc.ports();
  const ws = await mqtt.connectAsync(`ws://127.0.0.1:${ports.http}/mqtt`, { protocolVersion: 5, keepalive: 60, reconnectPeriod: 0, connectTimeout: WAIT_MS });
  t.after(() => ws.endAsync(true));
  assert.equal(ws.serverProperties?.serverKeepAlive, 7);
  // A 3.1.1 client must ask for at most 7 s (mqtt.js's default 60 would be refused).
  const tcp = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { keepalive: 5, reconnectPeriod: 0, connectTimeout: WAIT_MS });
  t.after(() => tcp.endAsync(true));
  await ws.subscribeAsync('served/+', { qos: 1 });
  const got = nextMessages(ws, 1, 'the message over WebSocket');
  await tcp.publishAsync('served/a', 'via tcp', { qos: 1 });
  assert.equal((await got)[0]!.payload.toString(), 'via tcp');
});
