/**
 * Prometheus metrics. One registry per server (not prom-client's global one) so tests can build several.
 * Storage never imports prom-client: it calls a StorageObserver (storage/log.ts), and `storageObserver` here
 * turns those calls into counters. The observer runs on the append path, so each hook is one or two
 * increments — no label lookups, no allocation.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StorageObserver } from '../storage/log.js';

export interface Metrics {
  readonly registry: Registry;
  /** Hand this to storage (through BrokerOptions) so appends, fsyncs and segments are counted. */
  readonly storageObserver: StorageObserver;
  /** Open client connections, by protocol; each protocol plugin increments and decrements its own label. */
  readonly connections: Gauge<'protocol'>;
  /** NATS connections cut as slow consumers (pending bytes over max_pending); the NATS listener increments it. */
  readonly natsSlowConsumers: Counter;
  /** Content-Type of `render()`'s output (Prometheus text format 0.0.4). */
  readonly contentType: string;
  render(): Promise<string>;
}

// fsync on SSDs is ~0.1-5 ms, on network or spinning disks up to hundreds: cover both ends.
const FSYNC_BUCKETS_SECONDS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export function createMetrics(): Metrics {
  const registry = new Registry();
  // Process metrics: CPU, resident memory, heap, event-loop lag (nodejs_eventloop_lag_*), handles.
  collectDefaultMetrics({ register: registry });

  const appends = new Counter({ name: 'tributary_appends_total', help: 'Record batches appended to partition logs.', registers: [registry] });
  const appendBytes = new Counter({ name: 'tributary_append_bytes_total', help: 'Bytes of record batches appended to partition logs.', registers: [registry] });
  const appendRecords = new Counter({ name: 'tributary_append_records_total', help: 'Records appended to partition logs.', registers: [registry] });
  const fsyncDuration = new Histogram({
    name: 'tributary_fsync_duration_seconds',
    help: 'Time taken by each fsync of a segment file.',
    buckets: FSYNC_BUCKETS_SECONDS,
    registers: [registry],
  });
  const openSegments = new Gauge({ name: 'tributary_open_segments', help: 'Segment files currently open.', registers: [registry] });
  const connections = new Gauge({
    name: 'tributary_connections',
    help: 'Open client connections by protocol.',
    labelNames: ['protocol'] as const,
    registers: [registry],
  });

  const natsSlowConsumers = new Counter({
    name: 'tributary_nats_slow_consumers_total',
    help: "NATS connections closed as slow consumers (-ERR 'Slow Consumer').",
    registers: [registry],
  });

  const storageObserver: StorageObserver = {
    onAppend(records, bytes) {
      appends.inc();
      appendRecords.inc(records);
      appendBytes.inc(bytes);
    },
    onFsync(ms) {
      fsyncDuration.observe(ms / 1000);
    },
    onSegmentsChanged(delta) {
      openSegments.inc(delta);
    },
  };

  return {
    registry,
    storageObserver,
    connections,
    natsSlowConsumers,
    contentType: registry.contentType,
    render: () => registry.metrics(),
  };
}
