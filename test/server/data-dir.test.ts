import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATA_DIR_FORMAT, DataDirError, openDataDir, type DataDirProblem } from '../../src/server/data-dir.js';

const VERSION = '9.9.9-test';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-datadir-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

async function rejectsWith(p: Promise<unknown>, problem: DataDirProblem, ...fragments: string[]): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DataDirError, `expected DataDirError, got ${String(err)}`);
    assert.equal(err.problem, problem, err.message);
    for (const f of fragments) assert.ok(err.message.includes(f), `message mentions ${f}: ${err.message}`);
    return true;
  });
}

/** The pid of a process that has exited (so it is certainly not holding anything). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await timeout(once(child, 'exit'), 10_000, 'a short-lived child to exit');
  assert.ok(child.pid !== undefined);
  return child.pid;
}

function lockFor(pid: number): string {
  return JSON.stringify({ pid, hostname: 'elsewhere', startedAt: '2020-01-01T00:00:00.000Z', token: 'x' });
}

test('a new directory is created with a FORMAT file and locked with our pid until released', async (t) => {
  const dir = join(await tempDir(t), 'nested', 'data');
  const dd = await openDataDir(dir, { version: VERSION });
  assert.equal(dd.created, true);
  assert.equal(dd.format, DATA_DIR_FORMAT);
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'FORMAT'), 'utf8')), { format: 1, createdBy: VERSION });
  assert.equal(JSON.parse(await readFile(join(dir, 'LOCK'), 'utf8')).pid, process.pid);
  await dd.release();
  assert.equal(existsSync(join(dir, 'LOCK')), false);
  assert.deepEqual((await readdir(dir)).sort(), ['FORMAT'], 'no temporary files left behind');

  const again = await openDataDir(dir, { version: '10.0.0' });
  t.after(() => again.release());
  assert.equal(again.created, false);
  assert.equal(again.createdBy, VERSION, 'FORMAT keeps the version that created it');
});

test('a directory this process already holds is refused until released', async (t) => {
  const dir = await tempDir(t);
  const first = await openDataDir(dir, { version: VERSION });
  await rejectsWith(openDataDir(dir, { version: VERSION }), 'locked', dir, String(process.pid));
  await first.release();
  const second = await openDataDir(dir, { version: VERSION });
  await second.release();
});

test('a lock held by another live process is refused, naming its pid', async (t) => {
  const dir = await tempDir(t);
  const holder: ChildProcess = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  t.after(() => {
    holder.kill('SIGKILL');
  });
  assert.ok(holder.pid !== undefined);
  await writeFile(join(dir, 'LOCK'), lockFor(holder.pid));
  await rejectsWith(openDataDir(dir, { version: VERSION }), 'locked', dir, `pid ${holder.pid}`, 'LOCK');
  assert.equal(JSON.parse(await readFile(join(dir, 'LOCK'), 'utf8')).pid, holder.pid, 'the live lock is left alone');
});

test('a stale lock from a process that is gone is taken over', async (t) => {
  const dir = await tempDir(t);
  const pid = await deadPid();
  await writeFile(join(dir, 'LOCK'), lockFor(pid));
  const dd = await openDataDir(dir, { version: VERSION });
  t.after(() => dd.release());
  assert.equal(dd.staleLock?.pid, pid);
  assert.equal(JSON.parse(await readFile(join(dir, 'LOCK'), 'utf8')).pid, process.pid);
});

test('a lock file that is not a lock (garbage) is treated as stale', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'LOCK'), 'not json');
  const dd = await openDataDir(dir, { version: VERSION });
  t.after(() => dd.release());
  assert.notEqual(dd.staleLock, null);
});

test('release does not remove a lock that is no longer ours', async (t) => {
  const dir = await tempDir(t);
  const dd = await openDataDir(dir, { version: VERSION });
  await writeFile(join(dir, 'LOCK'), lockFor(process.pid));
  await dd.release();
  assert.equal(existsSync(join(dir, 'LOCK')), true);
});

test('a directory of another format is refused, naming the path and both formats, and the lock is released', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'FORMAT'), JSON.stringify({ format: 999, createdBy: '42.0.0' }));
  await rejectsWith(openDataDir(dir, { version: VERSION }), 'incompatible', dir, 'format 999', '42.0.0', `format ${DATA_DIR_FORMAT}`);
  assert.equal(existsSync(join(dir, 'LOCK')), false);
});

test('an unreadable FORMAT file is refused', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'FORMAT'), '{"format":');
  await rejectsWith(openDataDir(dir, { version: VERSION }), 'incompatible', join(dir, 'FORMAT'));
  await writeFile(join(dir, 'FORMAT'), '{"version": 1}');
  await rejectsWith(openDataDir(dir, { version: VERSION }), 'incompatible', 'format');
});

test('a non-empty directory without FORMAT is not taken for a data directory', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'notes.txt'), 'mine');
  await rejectsWith(openDataDir(dir, { version: VERSION }), 'not-a-data-dir', dir, 'notes.txt');
  assert.equal(existsSync(join(dir, 'FORMAT')), false, 'nothing written into a foreign directory');
  assert.equal(existsSync(join(dir, 'LOCK')), false);
});

test('a path that is a file is refused with the path named', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'plain-file');
  await writeFile(file, 'x');
  await rejectsWith(openDataDir(file, { version: VERSION }), 'io', file);
  await rejectsWith(openDataDir(join(file, 'below'), { version: VERSION }), 'io', join(file, 'below'));
});

test('an unwritable directory is refused with "permission denied"', { skip: process.getuid?.() === 0 ? 'root can write anywhere' : false }, async (t) => {
  const dir = await tempDir(t);
  const ro = join(dir, 'ro');
  await mkdir(ro);
  await chmod(ro, 0o555);
  t.after(() => chmod(ro, 0o755));
  await rejectsWith(openDataDir(ro, { version: VERSION }), 'io', ro, 'permission denied');
});
