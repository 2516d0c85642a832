#!/usr/bin/env node
// Installs the librdkafka test tier: test/librdkafka's own package (@confluentinc/kafka-javascript, pinned, with
// its package-lock.json), which builds its bundled librdkafka 2.x from source against the system's OpenSSL,
// zlib and zstd. It lives apart from the project's devDependencies because that build takes minutes and every
// `npm ci` would pay it. CKJS_LINKING=dynamic makes the binding build instead of downloading a prebuilt
// library (which fails offline); the build needs a C/C++ toolchain, python3, pkg-config and the -dev packages
// named below. Does nothing when the pinned version is already built and loads with every codec, so .ci/run can
// call it each time. `npm test` skips the tier, saying why, when it was never installed.
//
// A finished build is also kept outside the work tree (LIBRDKAFKA_TIER_CACHE, default ~/.cache/tributary-librdkafka),
// keyed by the lockfile, Node's ABI and the platform: CI runs in a fresh clone each time, and copying the build
// back takes seconds where rebuilding takes minutes. The binding finds librdkafka through $ORIGIN, so the copy
// works from any path.
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tierDir = join(root, 'test/librdkafka');
const PACKAGE = '@confluentinc/kafka-javascript';
/** Every codec the tier's compression test drives; a build that lacks one was made without its -dev package. */
const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'];

const pinned = JSON.parse(readFileSync(join(tierDir, 'package.json'), 'utf8')).dependencies[PACKAGE];
const modules = join(tierDir, 'node_modules');
const cacheKey = createHash('sha256')
  .update(readFileSync(join(tierDir, 'package-lock.json')))
  .update(`${process.versions.modules} ${process.platform} ${process.arch}`)
  .digest('hex')
  .slice(0, 16);
const cached = join(process.env.LIBRDKAFKA_TIER_CACHE ?? join(homedir(), '.cache/tributary-librdkafka'), cacheKey);

/** The installed binding's librdkafka version and features, or the reason it cannot be used. */
function probe() {
  const manifest = join(tierDir, 'node_modules', PACKAGE, 'package.json');
  if (!existsSync(manifest)) return { ok: false, why: 'not installed' };
  const version = JSON.parse(readFileSync(manifest, 'utf8')).version;
  if (version !== pinned) return { ok: false, why: `version ${version} installed, ${pinned} pinned` };
  // A child process: loading the native module here would keep it mapped while npm rebuilds it.
  const code = `const b = require(${JSON.stringify(PACKAGE)}); console.log(JSON.stringify({ v: b.librdkafkaVersion, f: b.features }))`;
  const r = spawnSync(process.execPath, ['-e', code], { cwd: tierDir, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) return { ok: false, why: `it does not load: ${r.stderr.trim().split('\n').slice(-3).join(' ')}` };
  const { v, f } = JSON.parse(r.stdout);
  const missing = CODECS.filter((c) => !f.includes(c));
  if (missing.length > 0) return { ok: false, why: `librdkafka ${v} was built without ${missing.join(', ')}` };
  return { ok: true, librdkafka: v };
}

/** Debian packages whose headers or tools the build needs and that this machine lacks. */
function missingBuildDeps() {
  const has = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
  const missing = [];
  if (!has('make', ['--version']) || !has('g++', ['--version'])) missing.push('build-essential');
  if (!has('python3', ['--version'])) missing.push('python3');
  if (!has('pkg-config', ['--version'])) missing.push('pkg-config');
  else {
    if (!has('pkg-config', ['--exists', 'libssl'])) missing.push('libssl-dev');
    if (!has('pkg-config', ['--exists', 'zlib'])) missing.push('zlib1g-dev');
    if (!has('pkg-config', ['--exists', 'libzstd'])) missing.push('libzstd-dev');
  }
  return missing;
}

const before = probe();
if (before.ok) {
  console.log(`librdkafka tier: ${PACKAGE} ${pinned} (librdkafka ${before.librdkafka}) already installed in test/librdkafka`);
  if (!existsSync(cached)) keep();
  process.exit(0);
}
const started = Date.now();
const seconds = () => ((Date.now() - started) / 1000).toFixed(0);
if (existsSync(cached)) {
  rmSync(modules, { recursive: true, force: true });
  if (copy(cached, modules)) {
    const restored = probe();
    if (restored.ok) {
      console.log(`librdkafka tier: librdkafka ${restored.librdkafka} restored from ${cached} in ${seconds()} s`);
      process.exit(0);
    }
    console.log(`librdkafka tier: the copy in ${cached} is unusable (${restored.why}); rebuilding`);
  }
  rmSync(modules, { recursive: true, force: true });
}
console.log(`librdkafka tier: ${before.why}; building ${PACKAGE} ${pinned} in test/librdkafka (takes minutes)`);
const missing = missingBuildDeps();
if (missing.length > 0) {
  console.error(`librdkafka tier: the build needs these Debian packages: apt-get install ${missing.join(' ')}`);
  process.exit(1);
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const env = { ...process.env, CKJS_LINKING: 'dynamic' };
// node-gyp would download Node's headers (offline: fails); use the installed ones when npm was not told where.
const headers = join(dirname(dirname(process.execPath)), 'include/node/node.h');
if (env.npm_config_nodedir === undefined && existsSync(headers) && !npmConfigured('nodedir')) env.npm_config_nodedir = dirname(dirname(process.execPath));

const install = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: tierDir, env, stdio: 'inherit' });
if (install.status !== 0) {
  console.error(`librdkafka tier: npm ci in test/librdkafka failed (exit ${install.status})`);
  process.exit(1);
}
const after = probe();
if (!after.ok) {
  console.error(`librdkafka tier: installed, but ${after.why}`);
  process.exit(1);
}
console.log(`librdkafka tier: librdkafka ${after.librdkafka} built in ${seconds()} s`);
keep();

/** Keeps the build for the next fresh clone; written beside and renamed, so a half-written copy is never used. */
function keep() {
  const partial = `${cached}.partial-${process.pid}`;
  mkdirSync(dirname(cached), { recursive: true });
  if (copy(modules, partial)) {
    rmSync(cached, { recursive: true, force: true });
    renameSync(partial, cached);
    console.log(`librdkafka tier: build kept in ${cached}`);
  } else {
    rmSync(partial, { recursive: true, force: true });
  }
}

/** Copies a directory tree with `cp -a` (links, modes and the built libraries as they are). */
function copy(from, to) {
  const r = spawnSync('cp', ['-a', from, to], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) console.warn(`librdkafka tier: cp -a ${from} ${to} failed: ${r.stderr.trim()}`);
  return r.status === 0;
}

/** Whether npm's own configuration (an .npmrc) sets `key`. */
function npmConfigured(key) {
  try {
    return execFileSync(npm, ['config', 'get', key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== 'undefined';
  } catch {
    return false;
  }
}
