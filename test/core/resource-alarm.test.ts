import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResourceAlarm, type ResourceKind } from '../../src/core/resource-alarm.js';

test('the resource alarm follows the memory watermark and the disk free limit, and forced states win', async () => {
  let rss = 100;
  let free = 10_000;
  const alarm = new ResourceAlarm({ dataDir: '.', memoryHighWatermark: 1000, diskFreeLimitBytes: 5000, residentBytes: () => rss, freeDiskBytes: async () => free });
  const changes: Array<[boolean, ResourceKind[]]> = [];
  alarm.on('change', (on: boolean, kinds: ResourceKind[]) => changes.push([on, kinds]));
  await alarm.check();
  assert.equal(alarm.alarmed, false);
  rss = 2000;
  await alarm.check();
  assert.deepEqual(alarm.kinds, ['memory']);
  free = 100;
  await alarm.check();
  assert.deepEqual(alarm.kinds, ['memory', 'disk']);
  rss = 10;
  free = 9000;
  await alarm.check();
  assert.equal(alarm.alarmed, false);
  assert.deepEqual(changes, [[true, ['memory']], [false, []]], "'change' fires only when the alarm turns on or off");
  alarm.force('disk', true);
  assert.deepEqual(alarm.kinds, ['disk']);
  free = 1;
  alarm.force('disk', false);
  await alarm.check();
  assert.equal(alarm.alarmed, false, 'forced off wins over the measurement');
  alarm.force('disk', null);
  await alarm.check();
  assert.deepEqual(alarm.kinds, ['disk']);
});

test('a watermark up to 1 is a fraction of total memory; 0 turns the memory alarm off', () => {
  assert.ok(new ResourceAlarm({ dataDir: '.', memoryHighWatermark: 0.5 }).memoryLimitBytes > 1024 * 1024);
  assert.equal(new ResourceAlarm({ dataDir: '.', memoryHighWatermark: 0 }).memoryLimitBytes, Infinity);
  assert.equal(new ResourceAlarm({ dataDir: '.', memoryHighWatermark: 4096 }).memoryLimitBytes, 4096);
});
