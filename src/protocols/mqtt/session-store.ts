/**
 * SessionStore: the definition of MQTT persistent sessions (Clean Session 0 / Session Expiry > 0). Each such
 * session is one metadata record (kind 'mqtt_session', name = Client Identifier): its expiry interval, its
 * subscriptions with their options, the inbound QoS 2 packet ids received and not yet released, and the
 * outbound ids whose PUBREL awaits PUBCOMP. Its messages are in its SessionQueue (session-queue.ts). At boot the
 * listener re-creates those sessions, offline, with their subscriptions and queue.
 *
 * Writes go through the broker's fsync-always metadata log; a failed write is logged and the session carries on
 * in memory.
 */
import type { MetadataStore } from '../../core/metadata.js';
import type { QoS } from './codec/index.js';

const KIND = 'mqtt_session';

export interface SubscriptionRecord {
  topicFilter: string;
  subjects: string[];
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  subscriptionId?: number;
  queueGroup?: string;
}

export interface SessionRecord {
  clientId: string;
  expirySec: number;
  subscriptions: SubscriptionRecord[];
  /** Inbound QoS 2 ids between PUBREC and PUBREL (absent in records of older versions). */
  inboundQos2?: number[];
  /** Outbound QoS 2 ids between PUBREL and PUBCOMP. */
  pubrel?: number[];
}

export class SessionStore {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly onError: (err: unknown, clientId: string) => void,
  ) {}

  list(): SessionRecord[] {
    return this.metadata.list(KIND).map((e) => e.value as SessionRecord);
  }

  save(record: SessionRecord): Promise<void> {
    return this.metadata.put(KIND, record.clientId, record).catch((err: unknown) => this.onError(err, record.clientId));
  }

  remove(clientId: string): Promise<void> {
    if (!this.metadata.has(KIND, clientId)) return Promise.resolve();
    return this.metadata.delete(KIND, clientId).catch((err: unknown) => this.onError(err, clientId));
  }
}
