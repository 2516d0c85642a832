import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, OPTIONS, describeOptions, logConfigFrom, parseNameList, parseUsers, resolveConfig, type ConfigInputs } from '../../src/server/config.js';
import { DEFAULT_LOG_CONFIG } from '../../src/storage/log.js';

const repoRoot = new URL('../../../', import.meta.url);

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Resolves with no ambient environment, in `cwd`, as if stdout were not a terminal. */
function resolveIn(cwd: string, inputs: ConfigInputs = {}) {
  return resolveConfig({ env: {}, stdoutIsTTY: false, cwd, ...inputs });
}

async function rejectsWithKey(p: Promise<unknown>, key: string, ...fragments: string[]): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.key, key);
    assert.ok(err.message.includes(key), `message names the key: ${err.message}`);
    for (const f of fragments) assert.ok(err.message.includes(f), `message mentions ${f}: ${err.message}`);
    return true;
  });
}

test('with nothing given every option takes its default', async (t) => {
  const dir = await tempDir(t);
  const { config, sources, configFile } = await resolveIn(dir);
  assert.equal(config.dataDir, join(dir, 'data'));
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.advertisedHost, '127.0.0.1');
  assert.deepEqual([config.kafkaPort, config.amqpPort, config.natsPort, config.mqttPort, config.httpPort], [9092, 5672, 4222, 1883, 8080]);
  assert.equal(config.fsync, 'always');
  assert.equal(config.fsyncIntervalMs, 1000);
  assert.equal(config.logLevel, 'info');
  assert.equal(config.logFormat, 'json');
  assert.equal(configFile, null, 'an absent default file is not an error');
  assert.ok(Object.values(sources).every((s) => s === 'default'));
});

test('a flag beats a variable, which beats the file, which beats the default', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'tributary.yaml'), 'http:\n  port: 1\nkafka:\n  port: 2\namqp:\n  port: 3\n');
  const { config, sources, configFile } = await resolveIn(dir, {
    env: { TRIBUTARY_HTTP_PORT: '10', TRIBUTARY_KAFKA_PORT: '20' },
    flags: { httpPort: '100' },
  });
  assert.equal(configFile, join(dir, 'tributary.yaml'));
  assert.deepEqual(
    [config.httpPort, config.kafkaPort, config.amqpPort, config.natsPort],
    [100, 20, 3, 4222],
  );
  assert.deepEqual(
    [sources.httpPort, sources.kafkaPort, sources.amqpPort, sources.natsPort],
    ['flag', 'env', 'file', 'default'],
  );
});

test('the YAML file sets nested keys, and --config or TRIBUTARY_CONFIG choose the file', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'other.yaml');
  await writeFile(
    file,
    ['dataDir: /srv/trib', 'host: 0.0.0.0', 'storage:', '  fsync: interval', '  fsyncIntervalMs: 50', '  retentionBytes: 1048576', 'log:', '  level: debug', '  format: pretty', ''].join('\n'),
  );
  for (const inputs of [{ flags: { config: 'other.yaml' } }, { env: { TRIBUTARY_CONFIG: file } }]) {
    const { config, configFile } = await resolveIn(dir, inputs);
    assert.equal(configFile, file);
    assert.equal(config.dataDir, '/srv/trib');
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.fsync, 'interval');
    assert.equal(config.fsyncIntervalMs, 50);
    assert.equal(config.retentionBytes, 1048576);
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.logFormat, 'pretty');
  }
});

test('an unknown key in the file stops the start, naming the key and the file', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'tributary.yaml'), 'kafka:\n  prot: 9092\n');
  await rejectsWithKey(resolveIn(dir), 'kafka.prot', join(dir, 'tributary.yaml'));
  await writeFile(join(dir, 'tributary.yaml'), 'dataDir: x\nbogus: 1\n');
  await rejectsWithKey(resolveIn(dir), 'bogus');
  // A scalar where the table expects a section is unknown too, not silently ignored.
  await writeFile(join(dir, 'tributary.yaml'), 'storage: fast\n');
  await rejectsWithKey(resolveIn(dir), 'storage');
});

test('an unknown TRIBUTARY_ variable stops the start, naming it', async (t) => {
  const dir = await tempDir(t);
  await rejectsWithKey(resolveIn(dir, { env: { TRIBUTARY_KAFKA_PROT: '1' } }), 'TRIBUTARY_KAFKA_PROT');
});

test('a bad value stops the start, naming the flag, variable or file key it came from', async (t) => {
  const dir = await tempDir(t);
  await rejectsWithKey(resolveIn(dir, { flags: { httpPort: '70000' } }), '--http-port', '70000');
  await rejectsWithKey(resolveIn(dir, { flags: { httpPort: '80a' } }), '--http-port', 'integer');
  await rejectsWithKey(resolveIn(dir, { flags: { kafkaPort: '' } }), '--kafka-port');
  await rejectsWithKey(resolveIn(dir, { env: { TRIBUTARY_FSYNC: 'sometimes' } }), 'TRIBUTARY_FSYNC', '"interval"');
  await rejectsWithKey(resolveIn(dir, { env: { TRIBUTARY_FSYNC_INTERVAL_MS: '0' } }), 'TRIBUTARY_FSYNC_INTERVAL_MS');
  await writeFile(join(dir, 'tributary.yaml'), 'http:\n  port: "8080"\n');
  await rejectsWithKey(resolveIn(dir), 'http.port');
  await writeFile(join(dir, 'tributary.yaml'), 'log:\n  level: loud\n');
  await rejectsWithKey(resolveIn(dir), 'log.level', 'loud');
});

test('a config file named explicitly must exist and be valid YAML; the default one may be absent', async (t) => {
  const dir = await tempDir(t);
  await rejectsWithKey(resolveIn(dir, { flags: { config: 'missing.yaml' } }), '--config', 'missing.yaml', 'ENOENT');
  await rejectsWithKey(resolveIn(dir, { env: { TRIBUTARY_CONFIG: 'missing.yaml' } }), 'TRIBUTARY_CONFIG', 'missing.yaml');
  await writeFile(join(dir, 'tributary.yaml'), 'http: [1, 2\n');
  await assert.rejects(resolveIn(dir), (err: unknown) => err instanceof ConfigError && err.message.includes('not valid YAML'));
  await writeFile(join(dir, 'tributary.yaml'), '- a\n- b\n');
  await assert.rejects(resolveIn(dir), (err: unknown) => err instanceof ConfigError && err.message.includes('mapping'));
  await writeFile(join(dir, 'tributary.yaml'), '# only a comment\n');
  assert.equal((await resolveIn(dir)).config.httpPort, 8080);
});

test('an empty variable counts as unset', async (t) => {
  const dir = await tempDir(t);
  const { config, sources } = await resolveIn(dir, { env: { TRIBUTARY_HOST: '', TRIBUTARY_HTTP_PORT: '' } });
  assert.equal(config.host, '127.0.0.1');
  assert.equal(sources.httpPort, 'default');
});

test('advertisedHost follows host, but never advertises a wildcard address', async (t) => {
  const dir = await tempDir(t);
  assert.equal((await resolveIn(dir, { flags: { host: '10.1.2.3' } })).config.advertisedHost, '10.1.2.3');
  assert.equal((await resolveIn(dir, { flags: { host: '0.0.0.0' } })).config.advertisedHost, '127.0.0.1');
  assert.equal((await resolveIn(dir, { flags: { host: '::' } })).config.advertisedHost, '127.0.0.1');
  assert.equal((await resolveIn(dir, { flags: { host: '0.0.0.0', advertisedHost: 'b1.example.com' } })).config.advertisedHost, 'b1.example.com');
});

test('the log format defaults to pretty on a terminal and json otherwise', async (t) => {
  const dir = await tempDir(t);
  assert.equal((await resolveIn(dir, { stdoutIsTTY: true })).config.logFormat, 'pretty');
  assert.equal((await resolveIn(dir, { stdoutIsTTY: false })).config.logFormat, 'json');
});

test('relative paths resolve against the working directory', async (t) => {
  const dir = await tempDir(t);
  assert.equal((await resolveIn(dir, { env: { TRIBUTARY_DATA_DIR: 'var/d' } })).config.dataDir, join(dir, 'var/d'));
});

test('the storage options become the default LogConfig for streams', async (t) => {
  const dir = await tempDir(t);
  const { config } = await resolveIn(dir, { flags: { fsync: 'never', segmentBytes: '1048576', retentionMs: '-1', retentionBytes: '4096', fsyncIntervalMs: '5' } });
  assert.deepEqual(logConfigFrom(config), { ...DEFAULT_LOG_CONFIG, fsync: 'never', fsyncIntervalMs: 5, segmentBytes: 1048576, retentionMs: -1, retentionBytes: 4096 });
});

test('every option has a flag, a TRIBUTARY_ variable and a help text, and names are consistent', () => {
  const seen = new Set<string>();
  for (const d of describeOptions()) {
    assert.match(d.flag, /^--[a-z][a-z-]* <[a-z]+>$/, d.key);
    assert.match(d.env, /^TRIBUTARY_[A-Z_]+$/, d.key);
    assert.ok(d.help.length > 10, d.key);
    // The flag is the key in kebab-case: cli/serve.ts maps commander's attribute names back through this.
    assert.equal(d.flag.split(' ')[0], '--' + d.key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase()));
    for (const name of [d.flag, d.env, d.file]) {
      if (name === null) continue;
      assert.ok(!seen.has(name), `duplicate ${name}`);
      seen.add(name);
    }
  }
  assert.deepEqual(describeOptions().map((d) => d.key), Object.keys(OPTIONS));
});

test('the example file in docs/configuration.md is valid and spells out every default', async (t) => {
  const dir = await tempDir(t);
  const md = await readFile(new URL('docs/configuration.md', repoRoot), 'utf8');
  const example = /```yaml\n([\s\S]*?)```/.exec(md)?.[1];
  assert.ok(example !== undefined, 'docs/configuration.md has a yaml example');
  assert.ok(parseYaml(example) !== null);
  await writeFile(join(dir, 'tributary.yaml'), example);
  const fromFile = await resolveIn(dir);
  await rm(join(dir, 'tributary.yaml'));
  const fromDefaults = await resolveIn(dir);
  assert.deepEqual(fromFile.config, fromDefaults.config);
  for (const d of describeOptions()) {
    if (d.file !== null && d.defaultValue !== null) assert.equal(fromFile.sources[d.key], 'file', `${d.file} is in the example`);
  }
});

test('users and loopback users are lists; a malformed users value stops the start naming the key', async (t) => {
  const dir = await tempDir(t);
  const { config } = await resolveIn(dir, { flags: { users: 'alice:s3cret:with-colon,bob:' } });
  assert.deepEqual(parseUsers(config.users), [
    { name: 'alice', password: 's3cret:with-colon' },
    { name: 'bob', password: '' },
  ]);
  assert.deepEqual(parseNameList(config.loopbackUsers), ['guest']);
  assert.deepEqual(parseNameList(''), []);
  await assert.rejects(resolveIn(dir, { env: { TRIBUTARY_USERS: 'nocolon' } }), (e) => e instanceof ConfigError && e.key === 'TRIBUTARY_USERS');
});
