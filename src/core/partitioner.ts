/**
 * Kafka's default partitioning, so that a record published through any protocol lands on the partition a Kafka
 * producer would have chosen for the same key (DESIGN.md "Core model": keyed records use murmur2).
 *
 * - Keyed: `toPositive(murmur2(key)) % numPartitions` — the Java client's (and kafkajs's Java-compatible)
 *   formula. A key is its bytes; a string key is its UTF-8 bytes. An empty key is still a key (Kafka hashes
 *   zero bytes); only a null key is "unkeyed".
 * - Unkeyed: the partition does not matter for correctness, only for spreading load and batching.
 *   StickyPartitioner is Kafka's behaviour since KIP-480/KIP-794: stay on one partition until a batch's worth
 *   of bytes went there (or the caller starts a new batch), then move to another at random. RoundRobinPartitioner
 *   is the pre-2.4 behaviour and kafkajs's: a counter mod the partition count.
 *
 * Invariants: results are always in [0, numPartitions); numPartitions must be a positive integer (RangeError
 * otherwise, a programming error rather than a broker condition). Not thread-safe; one instance per stream.
 */
import { murmur2, toPositive } from './murmur2.js';

function checkCount(numPartitions: number): void {
  if (!Number.isInteger(numPartitions) || numPartitions <= 0) throw new RangeError(`numPartitions must be a positive integer, got ${numPartitions}`);
}

/** The partition Kafka's default partitioner gives a keyed record. */
export function partitionForKey(key: Uint8Array | string, numPartitions: number): number {
  checkCount(numPartitions);
  return toPositive(murmur2(key)) % numPartitions;
}

/** Chooses partitions for unkeyed records. */
export interface UnkeyedPartitioner {
  /** The partition for the next unkeyed record of `recordBytes` bytes (0 when unknown). */
  partition(numPartitions: number, recordBytes?: number): number;
}

/** `key` null: the unkeyed partitioner decides; otherwise partitionForKey. */
export function choosePartition(key: Uint8Array | string | null, numPartitions: number, unkeyed: UnkeyedPartitioner): number {
  return key === null ? unkeyed.partition(numPartitions) : partitionForKey(key, numPartitions);
}

/** A counter mod the partition count (Kafka < 2.4 for null keys; kafkajs). */
export class RoundRobinPartitioner implements UnkeyedPartitioner {
  constructor(private counter = 0) {}

  partition(numPartitions: number): number {
    checkCount(numPartitions);
    const p = this.counter % numPartitions;
    // Wrap well before 2^53 so the counter stays an exact integer forever.
    this.counter = (this.counter + 1) % 0x7fffffff;
    return p;
  }
}

export interface StickyPartitionerOptions {
  /** Bytes sent to one partition before switching (Kafka's batch.size). Default 16384. */
  batchBytes?: number;
  /** Random source in [0, 1); tests inject a deterministic one. */
  random?: () => number;
}

/** Kafka's sticky partitioner for null keys: one partition per batch, then a random different one. */
export class StickyPartitioner implements UnkeyedPartitioner {
  private current = -1;
  private bytes = 0;
  private readonly batchBytes: number;
  private readonly random: () => number;

  constructor(options: StickyPartitionerOptions = {}) {
    this.batchBytes = options.batchBytes ?? 16384;
    this.random = options.random ?? Math.random;
  }

  partition(numPartitions: number, recordBytes = 0): number {
    checkCount(numPartitions);
    if (this.current < 0 || this.current >= numPartitions || this.bytes >= this.batchBytes) this.switchPartition(numPartitions);
    this.bytes += recordBytes;
    return this.current;
  }

  /** Starts a new batch: the next record goes to another partition (Kafka's onNewBatch). */
  onNewBatch(): void {
    this.bytes = this.batchBytes;
  }

  private switchPartition(numPartitions: number): void {
    const previous = this.current;
    this.bytes = 0;
    if (numPartitions === 1) {
      this.current = 0;
      return;
    }
    // A random partition other than the previous one, uniformly (Kafka avoids sticking to the same one).
    let p = Math.floor(this.random() * (previous >= 0 && previous < numPartitions ? numPartitions - 1 : numPartitions));
    if (previous >= 0 && previous < numPartitions && p >= previous) p++;
    this.current = Math.min(p, numPartitions - 1);
  }
}
