/**
 * How a Stream looks to Kafka clients: one broker (node 0) leads every partition with a single replica and
 * a stable leader epoch of 0; configs with their source. Shared by Metadata, CreateTopics and DescribeConfigs.
 */
import type { Stream } from '../../../core/stream.js';
import type { MetadataResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';

export const LEADER_EPOCH = 0;
/** DescribeConfigs / CreateTopics ConfigSource: TOPIC_CONFIG (1) or DEFAULT_CONFIG (5). */
export const CONFIG_SOURCE_TOPIC = 1;
export const CONFIG_SOURCE_DEFAULT = 5;

export function partitionsOf(stream: Stream, nodeId: number): Encodable<MetadataResponse.MetadataResponsePartition>[] {
  const out: Encodable<MetadataResponse.MetadataResponsePartition>[] = [];
  for (let p = 0; p < stream.partitionCount; p++) {
    out.push({ errorCode: ErrorCode.NONE, partitionIndex: p, leaderId: nodeId, leaderEpoch: LEADER_EPOCH, replicaNodes: [nodeId], isrNodes: [nodeId], offlineReplicas: [] });
  }
  return out;
}
