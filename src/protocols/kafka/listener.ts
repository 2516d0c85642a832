/**
 * KafkaListener: the TCP server. Gives every connection a KafkaSession (groups are the Broker's coordinator),
 * and advertises the port actually bound (port 0 → an ephemeral port) in Metadata
 * and FindCoordinator. close() stops accepting and closes every session.
 */
import { TcpListener } from '../tcp-listener.js';
import { randomBytes } from 'node:crypto';
import type { Broker } from '../../core/broker.js';
import { DEFAULT_MAX_FRAME_BYTES } from './codec/index.js';
import type { KafkaContext, KafkaLogger } from './context.js';
import { KafkaSession } from './session.js';
import { registerKafkaCompressionCodecs } from './compression.js';

export interface KafkaListenerConfig {
  advertisedHost: string;
  /** Auto-create topics on Metadata and Produce (default true). */
  kafkaAutoCreate?: boolean;
  /** socket.request.max.bytes (default 100 MiB). */
  kafkaMaxRequestBytes?: number;
  /** num.partitions for auto-created topics (default 1). */
  kafkaDefaultPartitions?: number;
}

export interface KafkaListenerDeps {
  broker: Broker;
  logger: KafkaLogger;
  config: KafkaListenerConfig;
}

const NODE_ID = 0;
const CLUSTER_ID_KIND = 'kafka';
const CLUSTER_ID_NAME = 'clusterId';

export class KafkaListener {
  private tcp: TcpListener | null = null;
  private readonly sessions = new Set<KafkaSession>();
  private nextSessionId = 1;

  constructor(private readonly deps: KafkaListenerDeps) {}

  async listen(host: string, port: number): Promise<Array<{ address: string; port: number }>> {
    if (this.tcp !== null) throw new Error('kafka listener already listening');
    const { broker, logger, config } = this.deps;
    // Other protocols and compaction read Kafka-produced batches, which may be compressed.
    registerKafkaCompressionCodecs();
    const clusterId = await this.clusterId();
    // Sessions need the context, which needs the bound port; connections are only accepted after listen()
    // resolves and `ctx` is set (connection events are macrotasks, the continuation below a microtask).
    let ctx: KafkaContext | null = null;
    const maxFrameBytes = config.kafkaMaxRequestBytes ?? DEFAULT_MAX_FRAME_BYTES;
    const tcp = new TcpListener('kafka', (socket) => {
      const session = new KafkaSession(socket, ctx!, { id: this.nextSessionId++, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, maxFrameBytes });
      this.sessions.add(session);
      const registered = broker.connections.register({ protocol: 'kafka', remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, principal: () => session.state.principal.name, clientId: () => session.clientId, traffic: session.traffic, transport: socket, close: () => session.close() });
      void session.closed$.then(() => {
        this.sessions.delete(session);
        broker.connections.unregister(registered);
      });
    }, logger);
    const bound = await tcp.listen(host, port);
    this.tcp = tcp;
    ctx = {
      broker,
      coordinator: broker.groups,
      logger,
      nodeId: NODE_ID,
      advertisedHost: config.advertisedHost,
      advertisedPort: bound.port,
      clusterId,
      autoCreateTopics: config.kafkaAutoCreate ?? true,
      defaultPartitions: config.kafkaDefaultPartitions ?? 1,
      producers: broker.producers,
    };
    logger.info({ address: bound.address, port: bound.port, advertisedHost: config.advertisedHost }, 'kafka listening');
    return [{ address: bound.address, port: bound.port }];
  }

  /** A cluster id kept in the broker's metadata so it survives restarts (Kafka's 22-character form). */
  private async clusterId(): Promise<string> {
    const md = this.deps.broker.metadata;
    const existing = md.get(CLUSTER_ID_KIND, CLUSTER_ID_NAME);
    if (typeof existing === 'string') return existing;
    const id = randomBytes(16).toString('base64url');
    await md.put(CLUSTER_ID_KIND, CLUSTER_ID_NAME, id);
    return id;
  }

  async close(): Promise<void> {
    const closed = this.tcp?.stop() ?? Promise.resolve();
    this.tcp = null;
    for (const s of this.sessions) s.close();
    this.sessions.clear();
    await closed;
  }
}
