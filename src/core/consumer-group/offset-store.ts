/**
 * OffsetStore: committed consumer-group offsets, kept in the internal compacted stream `__consumer_offsets`
 * (one partition) and mirrored in memory.
 *
 * Record format (Tributary's own; Kafka's binary schema is not needed because no client reads this stream):
 *   key   = UTF-8 JSON `["o", groupId, topic, partition]`
 *   value = UTF-8 JSON `{ "offset": n, "metadata": s, "leaderEpoch": n, "commitTimestamp": ms }`, or null
 *           (a tombstone: the commit was deleted with its group or topic)
 * Compaction keeps the newest record per key, so the stream's size follows the number of live commits.
 *
 * Invariants: commit() resolves only after the batch is durable under the stream's fsync policy (created with
 * fsync=always), and the in-memory map is updated only then, so a fetch never shows an offset a crash could lose.
 * Recovery: open() replays the stream from its start; the last record per key wins.
 */
import { BrokerError } from '../broker-error.js';
import type { Broker } from '../broker.js';
import { ANONYMOUS } from '../principal.js';
import type { Stream } from '../stream.js';
import { decodeRecordBatch, encodeRecordBatch, iterateBatches, type RecordInput } from '../../storage/record-batch.js';

export const CONSUMER_OFFSETS_STREAM = '__consumer_offsets';

export interface CommittedOffset {
  offset: number;
  metadata: string | null;
  leaderEpoch: number;
  commitTimestamp: number;
}

export interface OffsetCommitInput extends CommittedOffset {
  topic: string;
  partition: number;
}

/** Read chunk while replaying (bytes). */
const REPLAY_READ_BYTES = 1024 * 1024;

export class OffsetStore {
  /** groupId → topic → partition → offset. */
  private readonly groups = new Map<string, Map<string, Map<number, CommittedOffset>>>();

  private constructor(private readonly stream: Stream) {}

  /** Opens (creating if needed) `__consumer_offsets` and replays it. */
  static async open(broker: Broker): Promise<OffsetStore> {
    let stream = broker.stream(CONSUMER_OFFSETS_STREAM);
    if (stream === undefined) {
      stream =
        (await broker.createStream(
          ANONYMOUS,
          { name: CONSUMER_OFFSETS_STREAM, partitions: 1, subjects: [], configs: { 'cleanup.policy': 'compact', fsync: 'always' } },
          { allowInternal: true },
        )) ?? undefined;
      if (stream === undefined) throw new BrokerError('TRIB_STREAM_NOT_FOUND', `could not create ${CONSUMER_OFFSETS_STREAM}`);
    }
    const store = new OffsetStore(stream);
    await store.replay();
    return store;
  }

  private async replay(): Promise<void> {
    let { startOffset: offset, highWatermark } = this.stream.offsets(0);
    while (offset < highWatermark) {
      const { records } = await this.stream.read(0, offset, REPLAY_READ_BYTES);
      if (records.length === 0) break;
      let next = offset;
      for (const { position } of iterateBatches(records)) {
        for (const rec of decodeRecordBatch(records, position)) {
          next = Math.max(next, rec.offset + 1);
          if (rec.offset < offset || rec.key === null) continue;
          this.apply(rec.key, rec.value);
        }
      }
      if (next <= offset) break;
      offset = next;
    }
  }

  private apply(key: Buffer, value: Buffer | null): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(key.toString('utf8'));
    } catch {
      return;
    }
    if (!Array.isArray(parsed) || parsed[0] !== 'o' || parsed.length !== 4) return;
    const [, groupId, topic, partition] = parsed as [string, string, string, number];
    if (value === null) {
      this.groups.get(groupId)?.get(topic)?.delete(partition);
      return;
    }
    try {
      this.set(groupId, topic, partition, JSON.parse(value.toString('utf8')) as CommittedOffset);
    } catch {
      // A value this version cannot read is skipped rather than stopping the broker.
    }
  }

  private set(groupId: string, topic: string, partition: number, value: CommittedOffset): void {
    let topics = this.groups.get(groupId);
    if (topics === undefined) {
      topics = new Map();
      this.groups.set(groupId, topics);
    }
    let partitions = topics.get(topic);
    if (partitions === undefined) {
      partitions = new Map();
      topics.set(topic, partitions);
    }
    partitions.set(partition, value);
  }

  /** Persists the commits as one batch, then makes them visible. */
  async commit(groupId: string, commits: OffsetCommitInput[]): Promise<void> {
    if (commits.length === 0) return;
    const records: RecordInput[] = commits.map((c) => ({
      key: keyOf(groupId, c.topic, c.partition),
      value: Buffer.from(JSON.stringify({ offset: c.offset, metadata: c.metadata, leaderEpoch: c.leaderEpoch, commitTimestamp: c.commitTimestamp })),
      headers: [],
      timestamp: c.commitTimestamp,
    }));
    await this.stream.appendBatch(0, encodeRecordBatch(records));
    for (const c of commits) this.set(groupId, c.topic, c.partition, { offset: c.offset, metadata: c.metadata, leaderEpoch: c.leaderEpoch, commitTimestamp: c.commitTimestamp });
  }

  get(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.groups.get(groupId)?.get(topic)?.get(partition);
  }

  /** Every committed offset of a group: topic → partition → offset. */
  all(groupId: string): ReadonlyMap<string, ReadonlyMap<number, CommittedOffset>> {
    return this.groups.get(groupId) ?? new Map();
  }

  /** Groups that have at least one committed offset. */
  groupIds(): string[] {
    const out: string[] = [];
    for (const [g, topics] of this.groups) {
      for (const parts of topics.values()) {
        if (parts.size > 0) {
          out.push(g);
          break;
        }
      }
    }
    return out;
  }

  /** Deletes some committed offsets of a group (Kafka OffsetDelete): tombstones first, then memory. */
  async deleteOffsets(groupId: string, entries: ReadonlyArray<{ topic: string; partition: number }>): Promise<void> {
    const topics = this.groups.get(groupId);
    if (topics === undefined) return;
    const present = entries.filter((e) => topics.get(e.topic)?.has(e.partition) === true);
    if (present.length === 0) return;
    await this.stream.appendBatch(0, encodeRecordBatch(present.map((e) => ({ key: keyOf(groupId, e.topic, e.partition), value: null, headers: [] }))));
    for (const e of present) topics.get(e.topic)?.delete(e.partition);
  }

  /**
   * Deletes every group's offsets of a deleted topic (tombstones first, then memory), as Kafka's coordinator
   * does when a topic goes: a topic created again under the same name starts with no committed offsets.
   */
  async deleteTopic(topic: string): Promise<void> {
    const records: RecordInput[] = [];
    for (const [groupId, topics] of this.groups) for (const p of topics.get(topic)?.keys() ?? []) records.push({ key: keyOf(groupId, topic, p), value: null, headers: [] });
    if (records.length === 0) return;
    await this.stream.appendBatch(0, encodeRecordBatch(records));
    for (const topics of this.groups.values()) topics.delete(topic);
  }

  /** Deletes every offset of a group (tombstones first, then memory). */
  async deleteGroup(groupId: string): Promise<void> {
    const topics = this.groups.get(groupId);
    if (topics === undefined) return;
    const records: RecordInput[] = [];
    for (const [topic, parts] of topics) for (const p of parts.keys()) records.push({ key: keyOf(groupId, topic, p), value: null, headers: [] });
    if (records.length > 0) await this.stream.appendBatch(0, encodeRecordBatch(records));
    this.groups.delete(groupId);
  }
}

function keyOf(groupId: string, topic: string, partition: number): Buffer {
  return Buffer.from(JSON.stringify(['o', groupId, topic, partition]));
}
