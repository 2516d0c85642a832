/**
 * Prometheus metrics read from the Broker at scrape time: per stream, per queue, per consumer group and per
 * protocol. Every value is computed in a `collect()` callback when /metrics is scraped, so the message path
 * pays nothing for them (the counters it reads are plain fields the sessions and logs keep anyway).
 *
 * Label cardinality: one series per stream (partitions only for the end offset), per queue, per group and
 * per (group, topic, partition) of committed offsets — the same series Kafka's lag exporters publish.
 * Internal `__` streams are left out; a queue's backing stream (`amqp-q.*`) appears under the queue metrics.
 */
import { Counter, Gauge } from 'prom-client';
import type { Broker } from '../core/broker.js';
import type { Stream } from '../core/stream.js';
import { CONNECTION_PROTOCOLS, type TrafficTotals } from '../core/connection-registry.js';
import { queueRegistryOf } from '../core/queue-registry.js';
import { ANONYMOUS } from '../core/principal.js';
import type { Metrics } from './metrics.js';

const QUEUE_STREAM_PREFIX = 'amqp-q.';

const BROKER_METRIC_NAMES = [
  'tributary_stream_appended_records',
  'tributary_stream_size_bytes',
  'tributary_stream_end_offset',
  'tributary_queue_messages',
  'tributary_queue_unacked',
  'tributary_queue_consumers',
  'tributary_group_lag_total',
  'tributary_group_lag',
  'tributary_group_members',
  'tributary_messages_received_total',
  'tributary_messages_sent_total',
  'tributary_received_bytes_total',
  'tributary_sent_bytes_total',
  'tributary_connections_accepted_total',
];

/** Registers the broker's metrics on `metrics.registry` (once per registry). */
export function registerBrokerMetrics(metrics: Metrics, broker: Broker): void {
  const registers = [metrics.registry];
  // A listener started again on the same registry (a restarted HTTP plugin) replaces the series, not throws.
  for (const name of BROKER_METRIC_NAMES) metrics.registry.removeSingleMetric(name);
  const userStreams = () => broker.streams().filter((s) => !s.name.startsWith(QUEUE_STREAM_PREFIX));

  /** A per-stream gauge: the sum over the stream's partitions of `read(stream, partition)`. */
  const streamGauge = (name: string, help: string, read: (s: Stream, partition: number) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['stream'] as const,
      registers,
      collect() {
        this.reset();
        for (const s of userStreams()) {
          let total = 0;
          for (let p = 0; p < s.partitionCount; p++) total += read(s, p);
          this.labels(s.name).set(total);
        }
      },
    });
  };
  streamGauge('tributary_stream_appended_records', 'Records ever appended to the stream (the sum of its partitions’ end offsets: offsets are never reused).', (s, p) => s.offsets(p).highWatermark);
  streamGauge('tributary_stream_size_bytes', 'Bytes the stream’s partition logs hold now (after retention and compaction).', (s, p) => s.partitionLog(p).sizeBytes);
  new Gauge({
    name: 'tributary_stream_end_offset',
    help: 'High watermark (next offset) of each stream partition.',
    labelNames: ['stream', 'partition'] as const,
    registers,
    collect() {
      this.reset();
      for (const s of userStreams()) for (let p = 0; p < s.partitionCount; p++) this.labels(s.name, String(p)).set(s.offsets(p).highWatermark);
    },
  });

  const queueGauge = (name: string, help: string, read: (q: { messageCount: number; consumerCount: number; unacked: number }) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['queue'] as const,
      registers,
      async collect() {
        this.reset();
        const registry = await queueRegistryOf(broker, ANONYMOUS);
        for (const q of registry) this.labels(q.name).set(read({ messageCount: q.messageCount, consumerCount: q.consumerCount, unacked: q.unackedCount }));
      },
    });
  };
  queueGauge('tributary_queue_messages', 'Ready messages in each queue (depth).', (q) => q.messageCount);
  queueGauge('tributary_queue_unacked', 'Messages delivered and not yet acknowledged, per queue.', (q) => q.unacked);
  queueGauge('tributary_queue_consumers', 'Consumers attached to each queue.', (q) => q.consumerCount);

  /** Committed offsets of every group with their lag (a walk over committed offsets, per scrape). */
  const lags = (): Array<{ group: string; topic: string; partition: number; lag: number }> => {
    const out = [];
    for (const g of broker.groups.list()) {
      for (const [topic, parts] of broker.groups.offsets.all(g.groupId)) {
        const s = broker.stream(topic);
        if (s === undefined) continue;
        for (const [partition, c] of parts) {
          if (partition >= s.partitionCount || c.offset < 0) continue;
          out.push({ group: g.groupId, topic, partition, lag: Math.max(0, s.offsets(partition).highWatermark - c.offset) });
        }
      }
    }
    return out;
  };
  new Gauge({
    name: 'tributary_group_lag',
    help: 'Records between a consumer group’s committed offset and the partition’s end.',
    labelNames: ['group', 'topic', 'partition'] as const,
    registers,
    collect() {
      this.reset();
      for (const l of lags()) this.labels(l.group, l.topic, String(l.partition)).set(l.lag);
    },
  });
  new Gauge({
    name: 'tributary_group_lag_total',
    help: 'Sum of a consumer group’s lag over its committed partitions.',
    labelNames: ['group'] as const,
    registers,
    collect() {
      this.reset();
      const totals = new Map<string, number>();
      for (const l of lags()) totals.set(l.group, (totals.get(l.group) ?? 0) + l.lag);
      for (const [group, lag] of totals) this.labels(group).set(lag);
    },
  });
  new Gauge({
    name: 'tributary_group_members',
    help: 'Live members of each consumer group.',
    labelNames: ['group'] as const,
    registers,
    collect() {
      this.reset();
      for (const g of broker.groups.list()) this.labels(g.groupId).set(broker.groups.group(g.groupId)?.memberCount ?? 0);
    },
  });

  const trafficCounter = (name: string, help: string, field: keyof TrafficTotals): void => {
    new Counter({
      name,
      help,
      labelNames: ['protocol'] as const,
      registers,
      collect() {
        // Cumulative in the ConnectionRegistry (closed connections included), so set rather than add.
        this.reset();
        for (const p of CONNECTION_PROTOCOLS) this.labels(p).inc(broker.connections.totals(p)[field]);
      },
    });
  };
  trafficCounter('tributary_messages_received_total', 'Messages received from clients, by protocol (Kafka: requests).', 'messagesIn');
  trafficCounter('tributary_messages_sent_total', 'Messages sent to clients, by protocol (Kafka: responses).', 'messagesOut');
  trafficCounter('tributary_received_bytes_total', 'Bytes read from client connections, by protocol.', 'bytesIn');
  trafficCounter('tributary_sent_bytes_total', 'Bytes written to client connections, by protocol.', 'bytesOut');
  new Counter({
    name: 'tributary_connections_accepted_total',
    help: 'Client connections accepted, by protocol.',
    labelNames: ['protocol'] as const,
    registers,
    collect() {
      this.reset();
      for (const p of CONNECTION_PROTOCOLS) this.labels(p).inc(broker.connections.acceptedCount(p));
    },
  });
}
