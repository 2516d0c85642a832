/**
 * Server status and traffic figures: what is running where (`/api/status`) and cumulative counters
 * (`/api/stats`, and the same once a second as Server-Sent Events) from which a console computes rates.
 * Counters are read from the ConnectionRegistry (sessions keep them as plain fields) and the logs' sizes; a
 * request costs a walk over connections and partitions, nothing on the message path.
 */
import type { FastifyInstance } from 'fastify';
import type { Broker } from '../../core/broker.js';
import { queueRegistryOf } from '../../core/queue-registry.js';
import { principalOf, type ApiOptions } from './api-context.js';
import { MAX_PENDING_BYTES } from './subjects.js';

export const STATS_INTERVAL_MS = 1000;

/** Bytes held by every file-backed partition log (internal streams included: they are on disk too). */
export function diskBytes(broker: Broker): number {
  let total = 0;
  for (const s of broker.streams({ includeInternal: true })) {
    if (s.definition().storage !== 'file') continue;
    for (let p = 0; p < s.partitionCount; p++) total += s.partitionLog(p).sizeBytes;
  }
  return total;
}

export function stats(broker: Broker): object {
  const t = broker.connections.totals();
  return {
    timestamp: Date.now(),
    messagesIn: t.messagesIn,
    messagesOut: t.messagesOut,
    bytesIn: t.bytesIn,
    bytesOut: t.bytesOut,
    connections: broker.connections.counts(),
    diskBytes: diskBytes(broker),
  };
}

export async function statusRoutes(app: FastifyInstance, { broker, listeners, startedAtMs, version }: ApiOptions & { version: string }): Promise<void> {
  const started = startedAtMs ?? Date.now();

  /** Ends every stats stream when the server stops, so close() does not wait on them. */
  const live = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of [...live]) end();
  });

  app.get('/api/status', async (req) => {
    broker.check(principalOf(req), 'describe', 'cluster', '*');
    const registry = await queueRegistryOf(broker, principalOf(req));
    return {
      version,
      uptimeMs: Date.now() - started,
      listeners: listeners?.() ?? {},
      totals: {
        streams: broker.streams().length,
        queues: [...registry].length,
        exchanges: broker.exchanges.definitions().length,
        groups: broker.groups.list().length,
        connections: broker.connections.size,
      },
    };
  });

  app.get('/api/stats', async (req) => {
    broker.check(principalOf(req), 'describe', 'cluster', '*');
    return stats(broker);
  });

  app.get('/api/stats/events', async (req, reply) => {
    broker.check(principalOf(req), 'describe', 'cluster', '*');
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (): void => {
      // A client that stopped reading is dropped rather than buffered for (slow-consumer rule).
      if (res.writableLength > MAX_PENDING_BYTES) return end();
      res.write(`event: stats\ndata: ${JSON.stringify(stats(broker))}\n\n`);
    };
    const timer = setInterval(send, STATS_INTERVAL_MS);
    const end = (): void => {
      if (!live.delete(end)) return;
      clearInterval(timer);
      res.destroy();
    };
    live.add(end);
    res.once('close', end);
    // The first figures at once, so a console draws without waiting a second.
    send();
  });
}
