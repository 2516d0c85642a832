/**
 * ListOffsets (2): latest (-1) is the high watermark, or for read_committed (isolation level 1, v2+) the last
 * stable offset (the first offset of the oldest open transaction in the partition); earliest (-2) the log start
 * offset, any other timestamp the first offset whose timestamp is at or after it (-1 when none; for
 * read_committed also when that offset is at or past the last stable offset, as Kafka answers).
 * v0 answers in oldStyleOffsets. The LSO comes from the partition's transaction index, built first if nothing
 * has since the start.
 */
import type { ListOffsetsRequest, ListOffsetsResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import type { Stream } from '../../../core/stream.js';
import { kafkaErrorOf } from '../error-map.js';
import { LEADER_EPOCH } from './topic-description.js';

const LATEST = -1;
const EARLIEST = -2;
const READ_COMMITTED = 1;

export async function handleListOffsets(ctx: KafkaContext, session: SessionState, req: ListOffsetsRequest, version: number): Promise<Encodable<ListOffsetsResponse>> {
  const topics: Encodable<ListOffsetsResponse.ListOffsetsTopicResponse>[] = [];
  for (const t of req.topics) {
    const partitions: Encodable<ListOffsetsResponse.ListOffsetsPartitionResponse>[] = [];
    for (const p of t.partitions) {
      const answer = (offset: number, timestamp: number): void => {
        partitions.push({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE, oldStyleOffsets: version === 0 ? [offset] : [], timestamp, offset, leaderEpoch: LEADER_EPOCH });
      };
      try {
        ctx.broker.check(session.principal, 'describe', 'stream', t.name);
        const stream = ctx.broker.requireStream(t.name);
        const committedOnly = req.isolationLevel === READ_COMMITTED;
        const { startOffset, highWatermark } = stream.offsets(p.partitionIndex);
        if (p.timestamp === LATEST) answer(committedOnly ? await lastStableOffset(ctx, stream, p.partitionIndex) : highWatermark, -1);
        else if (p.timestamp === EARLIEST) answer(startOffset, -1);
        else if (p.timestamp < 0) {
          partitions.push({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.UNSUPPORTED_VERSION, oldStyleOffsets: [], timestamp: -1, offset: -1, leaderEpoch: -1 });
        } else {
          const found = await stream.offsetForTimestamp(p.partitionIndex, p.timestamp);
          // A read_committed consumer must not be pointed at a record whose transaction may yet abort.
          if (found === null || (committedOnly && found.offset >= (await lastStableOffset(ctx, stream, p.partitionIndex)))) answer(-1, -1);
          else answer(found.offset, found.timestamp);
        }
      } catch (err) {
        partitions.push({ partitionIndex: p.partitionIndex, errorCode: kafkaErrorOf(err).code, oldStyleOffsets: [], timestamp: -1, offset: -1, leaderEpoch: -1 });
      }
    }
    topics.push({ name: t.name, partitions });
  }
  return { throttleTimeMs: 0, topics };
}

/** The partition's last stable offset now (its transaction index built first, once per partition after a start). */
async function lastStableOffset(ctx: KafkaContext, stream: Stream, partition: number): Promise<number> {
  const txns = await ctx.broker.transactions.index.ensure(stream, partition);
  return txns.lastStableOffset(stream.offsets(partition).highWatermark);
}
