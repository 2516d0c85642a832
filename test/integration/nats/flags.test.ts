/**
 * The NATS server options, through the real `tributary serve` binary and nats.js: --nats-max-payload (INFO),
 * --nats-max-subscriptions, --nats-max-pending-bytes with the slow-consumer counter on /metrics, and
 * --nats-tokens / TRIBUTARY_NATS_NKEYS logins.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, nkeyAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { createUser } from '@nats-io/nkeys';
import { ConfigError, resolveConfig } from '../../../src/server/config.js';
import { natsOptionsFromConfig } from '../../../src/protocols/nats/index.js';
import { EPHEMERAL, serveProcess, type Tributary } from '../../support/tributary-process.js';
import { within } from './harness.js';

const WAIT_MS = 20_000;

async function served(t: TestContext, args: string[], env?: Record<string, string>): Promise<{ broker: Tributary; port: number; connect(o?: object): Promise<NatsConnection> }> {
  const dir = await mkdtemp(join(tmpdir(), 'trib-nats-flags-'));
  const broker = serveProcess(dir, ['--data-dir', join(dir, 'data'), ...EPHEMERAL, ...args], env);
  const clients: NatsConnection[] = [];
  t.after(async () => {
    for (const nc of clients) if (!nc.isClosed()) await nc.close().catch(() => undefined);
    broker.kill('SIGTERM');
    await broker.waitForExit().catch(() => broker.kill());
    await rm(dir, { recursive: true, force: true });
  });
  const { nats: port } = await broker.ports();
  assert.ok(port !== undefined && port > 0, 'the start line names the nats port');
  return {
    broker,
    port,
    async connect(o = {}) {
      const nc = await connect({ servers: `127.0.0.1:${port}`, reconnect: false, timeout: WAIT_MS, ...o });
      clients.push(nc);
      return nc;
    },
  };
}

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  assert.ok(m !== null, `${name} is exported`);
  return Number(m[1]);
}

test('--nats-max-payload is advertised in INFO, --nats-max-subscriptions refuses one SUB too many', async (t) => {
  const s = await served(t, ['--nats-max-payload', '2048', '--nats-max-subscriptions', '2']);
  const nc = await s.connect();
  assert.equal(nc.info?.max_payload, 2048);
  assert.throws(() => nc.publish('big', new Uint8Array(4096)), /payload|max/i);
  // A raw client sees the exact -ERR for the third SUB; the connection stays.
  const socket = netConnect(s.port, '127.0.0.1');
  t.after(() => socket.destroy());
  let text = '';
  socket.setEncoding('latin1').on('data', (d: string) => (text += d));
  await within(once(socket, 'connect'), 'raw connect', WAIT_MS);
  socket.write('CONNECT {}\r\nSUB a 1\r\nSUB b 2\r\nSUB c 3\r\nPING\r\n');
  await within(
    (async () => {
      while (!text.includes('PONG\r\n')) await once(socket, 'data');
    })(),
    'PONG',
    WAIT_MS,
  );
  assert.match(text, /-ERR 'Maximum Subscriptions Exceeded'\r\nPONG\r\n/);
});

test('a subscriber that never reads is cut as a slow consumer and counted in tributary_nats_slow_consumers_total', async (t) => {
  const s = await served(t, ['--nats-max-pending-bytes', '65536']);
  const base = await s.broker.httpBase();
  assert.equal(await metric(base, 'tributary_nats_slow_consumers_total'), 0);
  // A raw subscriber that stops reading right after subscribing: the kernel buffers fill, then the server's.
  const sub = netConnect(s.port, '127.0.0.1');
  t.after(() => sub.destroy());
  sub.on('error', () => undefined);
  await within(once(sub, 'connect'), 'raw connect', WAIT_MS);
  sub.write('CONNECT {}\r\nSUB flood 1\r\nPING\r\n');
  await within(once(sub, 'data'), 'the subscriber is set up', WAIT_MS);
  sub.pause();
  const nc = await s.connect();
  const payload = new Uint8Array(64 * 1024);
  await within(
    (async () => {
      // Publish until the server gives up on the subscriber; the kernel's socket buffers take a few MB first.
      while ((await metric(base, 'tributary_nats_slow_consumers_total')) === 0) {
        for (let i = 0; i < 64; i++) nc.publish('flood', payload);
        await nc.flush();
      }
    })(),
    'the slow consumer to be counted',
    WAIT_MS,
  );
  assert.equal(await metric(base, 'tributary_nats_slow_consumers_total'), 1);
  assert.ok(s.broker.lines.some((l) => l.msg.includes('slow consumer')), 'the cut is logged');
  // The publisher was never blocked by it.
  assert.equal(nc.isClosed(), false);
});

test('--nats-tokens and TRIBUTARY_NATS_NKEYS log in the real client as the mapped principal; a wrong token is refused', async (t) => {
  const user = createUser();
  const seed = user.getSeed();
  const s = await served(t, ['--nats-tokens', 'svc:s3cret'], { TRIBUTARY_NATS_NKEYS: `device:${user.getPublicKey()}` });
  const byToken = await s.connect({ token: 's3cret' });
  assert.equal(byToken.info?.auth_required, true);
  const byNkey = await s.connect({ authenticator: nkeyAuthenticator(seed) });
  assert.ok(typeof byNkey.info?.nonce === 'string' && byNkey.info.nonce.length > 0, 'INFO carries a nonce');
  const got = byNkey.subscribe('hello', { max: 1 });
  await byNkey.flush();
  byToken.publish('hello', 'from svc');
  for await (const m of got) assert.equal(m.string(), 'from svc');
  await assert.rejects(s.connect({ token: 'wrong' }), /Authorization Violation/i);
});

test('bad NATS option values stop the start with the option named', async () => {
  const refused = async (flags: Record<string, string>, key: RegExp): Promise<void> => {
    await assert.rejects(
      (async () => natsOptionsFromConfig((await resolveConfig({ flags, env: {}, cwd: tmpdir() })).config))(),
      (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.match(err instanceof ConfigError ? err.key : err.message, key);
        return true;
      },
    );
  };
  await refused({ natsNkeys: 'dev:not-a-key' }, /--nats-nkeys/);
  await refused({ natsTokens: 'no-principal' }, /--nats-tokens/);
  await refused({ natsMaxPingsOut: '0' }, /--nats-max-pings-out/);
  await refused({ natsAuthRequired: 'maybe' }, /--nats-auth-required/);
  // Right shape, bad checksum: caught when the listener's options are built, before anything listens.
  const key = createUser().getPublicKey();
  await refused({ natsNkeys: `dev:${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}` }, /nkey for 'dev' is invalid/);
  const ok = natsOptionsFromConfig((await resolveConfig({ flags: { natsMaxPayload: '4096', natsAuthRequired: 'true' }, env: {}, cwd: tmpdir() })).config);
  assert.equal(ok.maxPayload, 4096);
  assert.equal(ok.authRequired, true);
});
