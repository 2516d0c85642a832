import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeOptions } from '../../src/server/config.js';
import { EPHEMERAL, Tributary, mainJs } from '../support/tributary-process.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const WAIT_MS = 20_000;

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function serve(t: { after(fn: () => void): void }, cwd: string, args: string[], env?: Record<string, string>): Tributary {
  const p = new Tributary(['serve', ...args], { cwd, env });
  t.after(() => p.kill());
  return p;
}

function get(url: string): Promise<Response> {
  return fetch(url, { signal: AbortSignal.timeout(WAIT_MS) });
}

test('serve starts, reports its real HTTP port, serves /healthz and /metrics, and stops on SIGTERM with exit 0', async (t) => {
  const dir = await tempDir(t);
  const dataDir = join(dir, 'data');
  const p = serve(t, dir, ['--data-dir', dataDir, ...EPHEMERAL, '--log-format', 'json']);
  const base = await p.httpBase();
  assert.match(base, /^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
  const listening = p.lines.filter((l) => l.msg.startsWith('listening '));
  assert.equal(listening.length, 1, 'exactly one start line');

  const health = await get(base + '/healthz');
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });
  assert.equal((await get(base + '/readyz')).status, 200);

  const metrics = await get(base + '/metrics');
  assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await metrics.text();
  for (const name of [
    'tributary_appends_total',
    'tributary_append_bytes_total',
    'tributary_append_records_total',
    'tributary_fsync_duration_seconds',
    'tributary_open_segments',
    'tributary_connections',
    'nodejs_eventloop_lag_seconds',
    'process_resident_memory_bytes',
  ]) {
    assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
  }

  assert.equal(JSON.parse(await readFile(join(dataDir, 'LOCK'), 'utf8')).pid, p.child.pid);
  assert.deepEqual(JSON.parse(await readFile(join(dataDir, 'FORMAT'), 'utf8')).format, 1);

  p.child.kill('SIGTERM');
  assert.equal(await p.waitForExit(), 0);
  assert.equal(existsSync(join(dataDir, 'LOCK')), false, 'the lock is released');
  assert.ok(p.lines.some((l) => l.msg === 'stopped'));
});

test('SIGINT stops it cleanly too', async (t) => {
  const dir = await tempDir(t);
  const p = serve(t, dir, ['--data-dir', join(dir, 'data'), ...EPHEMERAL, '--log-format', 'json']);
  await p.httpBase();
  p.child.kill('SIGINT');
  assert.equal(await p.waitForExit(), 0);
  assert.equal(existsSync(join(dir, 'data', 'LOCK')), false);
});

test('a data directory of another format stops the start with exit 1 and a message naming the path', async (t) => {
  const dir = await tempDir(t);
  const dataDir = join(dir, 'old');
  await mkdir(dataDir);
  await writeFile(join(dataDir, 'FORMAT'), '{"format": 999}');
  const p = serve(t, dir, ['--data-dir', dataDir, ...EPHEMERAL, '--log-format', 'json']);
  assert.equal(await p.waitForExit(), 1);
  const fatal = p.lines.filter((l) => l.level === 60);
  assert.equal(fatal.length, 1, `one fatal line: ${p.stdout.join('\n')}`);
  assert.match(fatal[0]!.msg, /format 999/);
  assert.ok(fatal[0]!.msg.includes(dataDir), fatal[0]!.msg);
  assert.ok(!p.lines.some((l) => l.msg.startsWith('listening')));
  assert.equal(existsSync(join(dataDir, 'LOCK')), false);
});

test('a second broker on the same data directory is refused while the first keeps running', async (t) => {
  const dir = await tempDir(t);
  const dataDir = join(dir, 'data');
  const first = serve(t, dir, ['--data-dir', dataDir, ...EPHEMERAL, '--log-format', 'json']);
  const base = await first.httpBase();

  const second = serve(t, dir, ['--data-dir', dataDir, ...EPHEMERAL, '--log-format', 'json']);
  assert.equal(await second.waitForExit(), 1);
  const fatal = second.lines.find((l) => l.level === 60);
  assert.ok(fatal !== undefined, second.stdout.join('\n'));
  assert.ok(fatal.msg.includes('in use') && fatal.msg.includes(`pid ${first.child.pid}`), fatal.msg);

  assert.equal((await get(base + '/healthz')).status, 200, 'the first is unaffected');
  assert.equal(JSON.parse(await readFile(join(dataDir, 'LOCK'), 'utf8')).pid, first.child.pid, 'and keeps its lock');
  first.child.kill('SIGTERM');
  assert.equal(await first.waitForExit(), 0);
});

test('a broker killed with SIGKILL leaves a stale lock that the next start takes over', async (t) => {
  const dir = await tempDir(t);
  const dataDir = join(dir, 'data');
  const first = serve(t, dir, ['--data-dir', dataDir, ...EPHEMERAL, '--log-format', 'json']);
  await first.httpBase();
  first.child.kill('SIGKILL');
  await first.waitForExit();
  assert.equal(existsSync(join(dataDir, 'LOCK')), true);

  const second = serve(t, dir, ['--data-dir', dataDir, ...EPHEMERAL, '--log-format', 'json']);
  await second.httpBase();
  assert.ok(second.lines.some((l) => l.level === 40 && String(l.msg).includes(`stale lock left by pid ${first.child.pid}`)));
  second.child.kill('SIGTERM');
  assert.equal(await second.waitForExit(), 0);
});

test('settings come from the YAML file and the environment when no flag is given', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'tributary.yaml'), 'dataDir: from-file\nhttp:\n  port: 0\nlog:\n  format: json\n');
  const p = serve(t, dir, ['--kafka-port', '0'], { TRIBUTARY_LOG_LEVEL: 'debug' });
  await p.httpBase();
  assert.ok(existsSync(join(dir, 'from-file', 'FORMAT')), 'dataDir from the file, relative to the working directory');
  assert.ok(p.lines.some((l) => l.level === 20), 'debug lines appear: TRIBUTARY_LOG_LEVEL applied');
  p.child.kill('SIGTERM');
  assert.equal(await p.waitForExit(), 0);
});

test('a bad flag, an unknown variable or an unknown file key stops the start with exit 1, naming it', async (t) => {
  const dir = await tempDir(t);
  const cases: Array<{ args: string[]; env?: Record<string, string>; file?: string; names: string }> = [
    { args: ['--http-port', 'eighty'], names: '--http-port' },
    { args: ['--fsync', 'sometimes'], names: '--fsync' },
    { args: [], env: { TRIBUTARY_HTTP_PROT: '1' }, names: 'TRIBUTARY_HTTP_PROT' },
    { args: [], file: 'http:\n  prot: 1\n', names: 'http.prot' },
  ];
  for (const c of cases) {
    const cwd = await mkdtemp(join(dir, 'case-'));
    if (c.file !== undefined) await writeFile(join(cwd, 'tributary.yaml'), c.file);
    const p = serve(t, cwd, [...EPHEMERAL, ...c.args], c.env);
    assert.equal(await p.waitForExit(), 1, c.names);
    const fatal = p.lines.find((l) => l.level === 60);
    assert.ok(fatal !== undefined && fatal.msg.includes(c.names), `${c.names}: ${p.stdout.join('\n')}`);
    assert.equal(existsSync(join(cwd, 'data')), false, 'nothing created before the config is valid');
  }
});

test('serve --help lists every option with its variable', async (t) => {
  const dir = await tempDir(t);
  const p = new Tributary(['serve', '--help'], { cwd: dir });
  t.after(() => p.kill());
  assert.equal(await p.waitForExit(), 0);
  const help = p.stdout.join('\n');
  for (const o of describeOptions()) {
    assert.ok(help.includes(o.flag), `--help shows ${o.flag}`);
    assert.ok(help.replace(/\s+/g, ' ').includes(o.env), `--help shows ${o.env}`);
  }
});

test('--version prints the package version', async (t) => {
  const dir = await tempDir(t);
  const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const p = new Tributary(['--version'], { cwd: dir });
  t.after(() => p.kill());
  assert.equal(await p.waitForExit(), 0);
  assert.deepEqual(p.stdout, [pkg.version]);
});
