/**
 * RetainedStore: the last retained message per subject (MQTT RETAIN; usable by any protocol that wants "last
 * value" semantics). One store per Broker, shared by every listener (`RetainedStore.for(broker)`).
 *
 * Persistence: each entry is a metadata record (kind 'retained', name = subject) in the broker's compacted,
 * fsync-always `__metadata` log, so a retained message survives restart and kill -9 once `set()` has resolved;
 * an empty payload deletes the entry (a tombstone). The whole set is also held in memory (decoded at first use),
 * so matching on subscribe does not touch the disk. Meant for "small durable state": many thousands of small
 * retained messages are fine, millions of large ones belong in a compacted stream (not done yet).
 *
 * Concurrency: set() applies to the in-memory map at once (a subscriber arriving before the write is durable
 * already sees it) and resolves when the metadata write is durable. Expired entries (expiresAtMs) are skipped
 * by match() and deleted lazily.
 */
import type { MetadataStore } from './metadata.js';
import { subjectMatchesFilter, startsWithWildcard } from './router/subject.js';
import type { RecordHeader } from '../storage/record-batch.js';

const KIND = 'retained';

export interface RetainedMessage {
  subject: string;
  value: Buffer;
  headers: RecordHeader[];
  timestamp: number;
  replyTo?: string;
  /** Absolute expiry (MQTT 5 Message Expiry Interval); absent = never. */
  expiresAtMs?: number;
  /** Protocol attributes kept with the message (MQTT: qos, payloadFormatIndicator). */
  attributes?: { [key: string]: number | string | boolean };
}

interface StoredRetained {
  subject: string;
  value: string;
  headers: Array<{ key: string; value: string | null }>;
  timestamp: number;
  replyTo?: string;
  expiresAtMs?: number;
  attributes?: { [key: string]: number | string | boolean };
}

const stores = new WeakMap<object, RetainedStore>();

export class RetainedStore {
  private readonly entries = new Map<string, RetainedMessage>();

  private constructor(private readonly metadata: MetadataStore) {
    for (const { name, value } of metadata.list(KIND)) {
      const v = value as StoredRetained;
      try {
        this.entries.set(name, {
          subject: v.subject,
          value: Buffer.from(v.value, 'base64'),
          headers: v.headers.map((h) => ({ key: h.key, value: h.value === null ? null : Buffer.from(h.value, 'base64') })),
          timestamp: v.timestamp,
          ...(v.replyTo !== undefined ? { replyTo: v.replyTo } : {}),
          ...(v.expiresAtMs !== undefined ? { expiresAtMs: v.expiresAtMs } : {}),
          ...(v.attributes !== undefined ? { attributes: v.attributes } : {}),
        });
      } catch {
        // A record this version cannot read is left in the log untouched rather than dropped.
      }
    }
  }

  /** The store of a broker (anything with its MetadataStore as `metadata`). */
  static for(broker: { metadata: MetadataStore }): RetainedStore {
    let s = stores.get(broker);
    if (s === undefined) {
      s = new RetainedStore(broker.metadata);
      stores.set(broker, s);
    }
    return s;
  }

  get size(): number {
    return this.entries.size;
  }

  get(subject: string): RetainedMessage | undefined {
    return this.entries.get(subject);
  }

  /** Stores `m` as the retained message of its subject, or deletes it when the value is empty. */
  async set(m: RetainedMessage): Promise<void> {
    if (m.value.length === 0) return this.delete(m.subject);
    // Copy: the value may be a view into a socket chunk.
    const own: RetainedMessage = { ...m, value: Buffer.from(m.value) };
    this.entries.set(m.subject, own);
    const stored: StoredRetained = {
      subject: m.subject,
      value: own.value.toString('base64'),
      headers: m.headers.map((h) => ({ key: h.key, value: h.value === null ? null : h.value.toString('base64') })),
      timestamp: m.timestamp,
    };
    if (m.replyTo !== undefined) stored.replyTo = m.replyTo;
    if (m.expiresAtMs !== undefined) stored.expiresAtMs = m.expiresAtMs;
    if (m.attributes !== undefined) stored.attributes = m.attributes;
    await this.metadata.put(KIND, m.subject, stored);
  }

  async delete(subject: string): Promise<void> {
    if (!this.entries.delete(subject) && !this.metadata.has(KIND, subject)) return;
    await this.metadata.delete(KIND, subject);
  }

  /**
   * Retained messages whose subject matches any of `filters` (each at most once). With `excludeDollar`,
   * filters starting with a wildcard do not match `$`-subjects ([MQTT-4.7.2-1]).
   */
  match(filters: readonly string[], options: { excludeDollar?: boolean; nowMs?: number } = {}): RetainedMessage[] {
    const now = options.nowMs ?? Date.now();
    const out: RetainedMessage[] = [];
    for (const [subject, m] of this.entries) {
      if (m.expiresAtMs !== undefined && m.expiresAtMs <= now) {
        this.entries.delete(subject);
        this.metadata.delete(KIND, subject).catch(() => undefined);
        continue;
      }
      for (const f of filters) {
        const excludeDollar = options.excludeDollar === true && startsWithWildcard(f);
        if (subjectMatchesFilter(f, subject, { excludeDollar })) {
          out.push(m);
          break;
        }
      }
    }
    return out;
  }
}
