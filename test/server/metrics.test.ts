import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics } from '../../src/server/metrics.js';

test('the storage observer feeds the append, fsync and segment metrics', async () => {
  const metrics = createMetrics();
  const o = metrics.storageObserver;
  o.onAppend?.(3, 300);
  o.onAppend?.(2, 120);
  o.onFsync?.(4);
  o.onSegmentsChanged?.(2);
  o.onSegmentsChanged?.(-1);
  const text = await metrics.render();
  assert.match(text, /^tributary_appends_total 2$/m);
  assert.match(text, /^tributary_append_records_total 5$/m);
  assert.match(text, /^tributary_append_bytes_total 420$/m);
  assert.match(text, /^tributary_fsync_duration_seconds_count 1$/m);
  assert.match(text, /^tributary_fsync_duration_seconds_sum 0\.004$/m);
  assert.match(text, /^tributary_fsync_duration_seconds_bucket\{le="0\.005"\} 1$/m);
  assert.match(text, /^tributary_open_segments 1$/m);
});

test('process metrics (event-loop lag, memory) and connections by protocol are exported', async () => {
  const metrics = createMetrics();
  metrics.connections.labels('kafka').inc();
  const text = await metrics.render();
  for (const name of ['nodejs_eventloop_lag_seconds', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']) {
    assert.match(text, new RegExp(`^${name} `, 'm'), name);
  }
  assert.match(text, /^tributary_connections\{protocol="kafka"\} 1$/m);
  assert.match(metrics.contentType, /^text\/plain; version=0\.0\.4/);
});

test('each server gets its own registry', async () => {
  const a = createMetrics();
  const b = createMetrics();
  a.storageObserver.onAppend?.(1, 1);
  assert.match(await b.render(), /^tributary_appends_total 0$/m);
});
