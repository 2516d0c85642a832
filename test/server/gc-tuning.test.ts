import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EPHEMERAL, serveProcess } from '../support/tributary-process.js';
import { SERVER_V8_FLAGS, tuneGarbageCollector, v8FlagName } from '../../src/server/gc-tuning.js';

test('tuneGarbageCollector sets every server flag when node was started without it', () => {
  const set: string[] = [];
  const applied = tuneGarbageCollector(['--enable-source-maps'], (f) => set.push(f));
  assert.deepEqual(set, [...SERVER_V8_FLAGS]);
  assert.deepEqual(applied, [...SERVER_V8_FLAGS]);
  assert.ok(set.includes('--no-allocation-site-pretenuring'));
});

test('a flag the operator gave node wins, in either polarity and either spelling', () => {
  for (const given of ['--allocation-site-pretenuring', '--no-allocation-site-pretenuring', '--allocation_site_pretenuring']) {
    const set: string[] = [];
    assert.deepEqual(tuneGarbageCollector([given], (f) => set.push(f)), [], given);
    assert.deepEqual(set, [], given);
  }
});

test('v8FlagName strips the dashes, the no- prefix and a value', () => {
  assert.equal(v8FlagName('--no-allocation-site-pretenuring'), 'allocation-site-pretenuring');
  assert.equal(v8FlagName('--max_semi_space_size=8'), 'max-semi-space-size');
});

test('every server flag is one this node’s V8 knows (a renamed flag would be ignored without a word)', () => {
  const out = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(out.status, 0);
  const known = new Set([...out.stdout.matchAll(/^\s+--([a-z0-9-]+)/gm)].map((m) => m[1]));
  for (const flag of SERVER_V8_FLAGS) assert.ok(known.has(v8FlagName(flag)), `${flag} is not in node --v8-options`);
});

test('with the tuning applied at run time, V8 tenures no allocation site; without it, the same work does', () => {
  // 1.5 M objects from one literal that all survive: V8's default pretenures that site (the control proves the
  // workload does); after tuneGarbageCollector, called at run time as the server calls it, no site is tenured.
  const tuning = new URL('../../src/server/gc-tuning.js', import.meta.url).href;
  const run = (tuned: boolean): string => {
    const script = [
      tuned ? `(await import(${JSON.stringify(tuning)})).tuneGarbageCollector([]);` : '',
      'const make = (i) => ({ i, next: null });',
      'const keep = [];',
      'for (let i = 0; i < 1_500_000; i++) keep.push(make(i));',
      'process.stdout.write(`kept ${keep.length}\\n`);',
    ].join('\n');
    const out = spawnSync(process.execPath, ['--trace-pretenuring-statistics', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /kept 1500000/);
    return out.stdout;
  };
  assert.match(run(false), /=> tenure/, 'control: V8 pretenures this workload by default');
  assert.doesNotMatch(run(true), /=> tenure/);
});

test('`tributary serve` applies the tuning before it listens, and says so at debug level', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'trib-gc-tuning-'));
  const broker = serveProcess(dir, ['--data-dir', join(dir, 'data'), '--log-level', 'debug', ...EPHEMERAL]);
  t.after(async () => {
    broker.kill('SIGTERM');
    await broker.waitForExit().catch(() => broker.kill());
    await rm(dir, { recursive: true, force: true });
  });
  await broker.ports();
  const tuned = broker.lines.findIndex((l) => l.msg === 'garbage collector tuned');
  const listening = broker.lines.findIndex((l) => l.msg.startsWith('listening '));
  assert.ok(tuned >= 0 && tuned < listening, 'the tuning line comes before the listening line');
  assert.deepEqual(broker.lines[tuned]['v8Flags'], [...SERVER_V8_FLAGS]);
});
