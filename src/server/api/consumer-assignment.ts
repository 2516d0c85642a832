/**
 * Decodes the assignment a Kafka consumer group leader hands each member (SyncGroup), so the HTTP API can show
 * which partitions each member owns. The coordinator keeps it as opaque bytes; only groups of protocol type
 * `consumer` use this layout.
 *
 * Grammar (ConsumerProtocolAssignment, versions 0-3; none is flexible, and later versions only append fields):
 *   Version            => INT16
 *   AssignedPartitions => ARRAY(INT32 count) of
 *     Topic            => STRING (INT16 length, UTF-8)
 *     Partitions       => ARRAY(INT32 count) of INT32
 *   UserData           => BYTES (INT32 length, -1 = null)          v0+
 * Fields after the ones listed are ignored, so a newer client's assignment still decodes.
 */
import { BufferReader } from '../../wire/buffer-reader.js';

export interface TopicAssignment {
  topic: string;
  partitions: number[];
}

/** Each count is checked against the bytes left before anything is allocated (STYLE.md §3.2). */
function count(r: BufferReader, field: string, minItemBytes: number): number {
  const n = r.readInt32(field);
  if (n < 0) return 0;
  r.need(field, n * minItemBytes);
  return n;
}

/** The assigned partitions; throws WireError on a malformed assignment. An empty buffer is no assignment. */
export function decodeConsumerAssignment(bytes: Buffer): TopicAssignment[] {
  if (bytes.length === 0) return [];
  const r = new BufferReader(bytes);
  r.readInt16('version');
  const topics = count(r, 'assignedPartitions', 6);
  const out: TopicAssignment[] = [];
  for (let i = 0; i < topics; i++) {
    const len = r.readInt16('topic');
    const topic = r.readBytes('topic', Math.max(0, len)).toString('utf8');
    const n = count(r, 'partitions', 4);
    const partitions: number[] = [];
    for (let p = 0; p < n; p++) partitions.push(r.readInt32('partition'));
    out.push({ topic, partitions });
  }
  return out;
}

/** The same, or [] when the bytes are not a consumer assignment (another protocol type, a broken client). */
export function tryDecodeConsumerAssignment(bytes: Buffer): TopicAssignment[] {
  try {
    return decodeConsumerAssignment(bytes);
  } catch {
    return [];
  }
}
