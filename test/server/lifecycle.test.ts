import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { startServer } from '../../src/server/lifecycle.js';
import { resolveConfig, type Config } from '../../src/server/config.js';
import { DataDirError } from '../../src/server/data-dir.js';
import type { BrokerOptions, OpenBroker } from '../../src/server/broker-handle.js';
import type { ProtocolPlugin } from '../../src/server/protocol-plugin.js';
import { Broker } from '../../src/core/broker.js';

interface Captured {
  logger: Logger;
  lines: Array<{ level: number; msg: string; [k: string]: unknown }>;
}

function captureLogger(): Captured {
  const lines: Captured['lines'] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

async function setup(t: { after(fn: () => Promise<void>): void }, flags: Record<string, string> = {}): Promise<{ dir: string; config: Config }> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-lifecycle-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { config } = await resolveConfig({ env: {}, cwd: dir, stdoutIsTTY: false, flags: { httpPort: '0', ...flags } });
  return { dir, config };
}

/** A broker double that records what it was given and when it was closed. */
function fakeBroker(events: string[]): { open: OpenBroker; options: () => BrokerOptions | null } {
  let seen: BrokerOptions | null = null;
  const open: OpenBroker = async (options) => {
    seen = options;
    events.push('broker open');
    let ready = true;
    return {
      get ready() {
        return ready;
      },
      async close() {
        ready = false;
        events.push(`broker close (LOCK present: ${existsSync(join(options.dataDir, 'LOCK'))})`);
      },
    };
  };
  return { open, options: () => seen };
}

function fakePlugin(name: string, events: string[], fail = false): ProtocolPlugin {
  return {
    name,
    async start() {
      if (fail) throw new Error(`${name} cannot bind`);
      events.push(`${name} start`);
      return [{ address: '127.0.0.1', port: 1000 + name.length }];
    },
    async stop() {
      events.push(`${name} stop`);
    },
  };
}

test('start opens the data dir and the broker, starts plugins, and logs one line naming every address', async (t) => {
  const { dir, config } = await setup(t, { fsync: 'interval', fsyncIntervalMs: '20', host: '0.0.0.0' });
  const events: string[] = [];
  const broker = fakeBroker(events);
  const { logger, lines } = captureLogger();
  const server = await startServer({ config, version: '1.2.3', openBroker: broker.open, logger, plugins: [fakePlugin('a', events), fakePlugin('bb', events)] });
  t.after(() => server.stop());

  assert.equal(server.state, 'ready');
  assert.deepEqual(events, ['broker open', 'a start', 'bb start']);
  assert.equal(JSON.parse(await readFile(join(dir, 'data', 'LOCK'), 'utf8')).pid, process.pid);
  const listening = lines.filter((l) => l.msg.startsWith('listening'));
  assert.equal(listening.length, 1);
  assert.equal(listening[0]!.msg, 'listening a=127.0.0.1:1001 bb=127.0.0.1:1002');

  const opts = broker.options();
  assert.ok(opts !== null);
  assert.equal(opts.dataDir, join(dir, 'data'));
  assert.equal(opts.fsync, 'interval');
  assert.equal(opts.fsyncIntervalMs, 20);
  assert.equal(opts.logDefaults.fsync, 'interval');
  assert.equal(opts.advertisedHost, '127.0.0.1');
  assert.equal(opts.storageObserver, server.metrics.storageObserver, 'storage reports into this server\'s metrics');
});

test('stop: plugins in reverse, then the broker (lock still held), then the lock is released', async (t) => {
  const { dir, config } = await setup(t);
  const events: string[] = [];
  const server = await startServer({ config, version: '1.2.3', openBroker: fakeBroker(events).open, logger: captureLogger().logger, plugins: [fakePlugin('a', events), fakePlugin('bb', events)] });
  const stopping = server.stop();
  assert.equal(server.state, 'stopping');
  assert.equal(server.stop(), stopping, 'stop is idempotent');
  await stopping;
  assert.equal(server.state, 'stopped');
  assert.deepEqual(events.slice(3), ['bb stop', 'a stop', 'broker close (LOCK present: true)']);
  assert.equal(existsSync(join(dir, 'data', 'LOCK')), false);
});

test('the default plugins open on the real broker, each bound to a real port when 0 is asked for', async (t) => {
  const { config } = await setup(t, { kafkaPort: '0', amqpPort: '0', natsPort: '0', mqttPort: '0' });
  const { logger, lines } = captureLogger();
  const openBroker: OpenBroker = (options) => Broker.open(options);
  const server = await startServer({ config, version: '1.2.3', openBroker, logger });
  t.after(() => server.stop());
  const http = server.addresses.get('http');
  assert.ok(http !== undefined && http.length === 1 && http[0]!.port > 0);
  const listening = lines.find((l) => l.msg.startsWith('listening '));
  assert.ok(listening, 'one listening line');
  for (const [name, bound] of server.addresses) {
    assert.ok(bound.length > 0 && bound.every((a) => a.port > 0), `${name} is bound to a real port`);
    assert.ok(listening.msg.includes(`${name}=127.0.0.1:${bound[0]!.port}`), `the line names ${name}`);
  }
  const res = await fetch(`http://127.0.0.1:${http[0]!.port}/healthz`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200);
});

test('a broker that fails to open fails the start and leaves no lock and no listener', async (t) => {
  const { dir, config } = await setup(t);
  const events: string[] = [];
  await assert.rejects(
    startServer({
      config,
      version: '1.2.3',
      openBroker: async () => {
        throw new Error('metadata replay failed');
      },
      logger: captureLogger().logger,
      plugins: [fakePlugin('a', events)],
    }),
    /metadata replay failed/,
  );
  assert.deepEqual(events, []);
  assert.equal(existsSync(join(dir, 'data', 'LOCK')), false);
});

test('a plugin that fails to start undoes the plugins before it and closes the broker', async (t) => {
  const { dir, config } = await setup(t);
  const events: string[] = [];
  await assert.rejects(
    startServer({ config, version: '1.2.3', openBroker: fakeBroker(events).open, logger: captureLogger().logger, plugins: [fakePlugin('a', events), fakePlugin('bad', events, true)] }),
    /bad cannot bind/,
  );
  assert.deepEqual(events, ['broker open', 'a start', 'a stop', 'broker close (LOCK present: true)']);
  assert.equal(existsSync(join(dir, 'data', 'LOCK')), false);
});

test('a data directory of another format fails the start before the broker opens', async (t) => {
  const { dir, config } = await setup(t, { dataDir: 'old' });
  await rm(join(dir, 'old'), { recursive: true, force: true });
  await import('node:fs/promises').then((fs) => fs.mkdir(join(dir, 'old')));
  await writeFile(join(dir, 'old', 'FORMAT'), '{"format": 999}');
  const events: string[] = [];
  await assert.rejects(startServer({ config, version: '1.2.3', openBroker: fakeBroker(events).open, logger: captureLogger().logger, plugins: [] }), DataDirError);
  assert.deepEqual(events, []);
});
