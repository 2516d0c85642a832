/**
 * What this broker advertises in ApiVersions: exactly the API keys and versions the handlers implement
 * (shared specs CLIENTS.md §2). kafkajs picks min(its max, our max) and ignores our min; librdkafka picks the
 * highest version in both ranges. Minimums keep record batches v2 only (Produce ≥3, Fetch ≥4): the log stores
 * v2 batches and does not down-convert. Fetch stops at 12 (13+ names topics by id, and Metadata reports zero
 * topic ids), ListOffsets at 6 (7 adds the max-timestamp query), OffsetFetch at 7 (8 batches groups),
 * DeleteTopics at 5 (6 by topic id), AddPartitionsToTxn at 3 (4+ batches transactions, a broker-to-broker form),
 * AddOffsetsToTxn, EndTxn and TxnOffsetCommit at 3 (4 only adds error codes of KIP-890 part 2).
 */
import { ApiKey } from './codec/index.js';

export interface AdvertisedApi {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

export const ADVERTISED_APIS: readonly AdvertisedApi[] = [
  // Min 0 although v0–2 (message sets v0/v1) are refused per partition (CORRUPT_MESSAGE: storage takes magic 2
  // only): librdkafka before 2.10 (Debian's kcat) sends gzip/snappy/lz4 only to a broker whose Produce range
  // includes v0, and silently sends uncompressed otherwise. Clients pick the highest common version (≥3).
  { apiKey: ApiKey.Produce, minVersion: 0, maxVersion: 9 },
  { apiKey: ApiKey.Fetch, minVersion: 4, maxVersion: 12 },
  { apiKey: ApiKey.ListOffsets, minVersion: 0, maxVersion: 6 },
  { apiKey: ApiKey.Metadata, minVersion: 0, maxVersion: 12 },
  { apiKey: ApiKey.OffsetCommit, minVersion: 0, maxVersion: 8 },
  { apiKey: ApiKey.OffsetFetch, minVersion: 1, maxVersion: 7 },
  { apiKey: ApiKey.FindCoordinator, minVersion: 0, maxVersion: 4 },
  { apiKey: ApiKey.JoinGroup, minVersion: 0, maxVersion: 7 },
  { apiKey: ApiKey.Heartbeat, minVersion: 0, maxVersion: 4 },
  { apiKey: ApiKey.LeaveGroup, minVersion: 0, maxVersion: 4 },
  { apiKey: ApiKey.SyncGroup, minVersion: 0, maxVersion: 5 },
  { apiKey: ApiKey.DescribeGroups, minVersion: 0, maxVersion: 5 },
  { apiKey: ApiKey.ListGroups, minVersion: 0, maxVersion: 4 },
  { apiKey: ApiKey.SaslHandshake, minVersion: 0, maxVersion: 1 },
  { apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 3 },
  { apiKey: ApiKey.CreateTopics, minVersion: 0, maxVersion: 5 },
  { apiKey: ApiKey.DeleteTopics, minVersion: 0, maxVersion: 5 },
  { apiKey: ApiKey.DescribeConfigs, minVersion: 0, maxVersion: 4 },
  { apiKey: ApiKey.SaslAuthenticate, minVersion: 0, maxVersion: 2 },
  { apiKey: ApiKey.CreatePartitions, minVersion: 0, maxVersion: 3 },
  { apiKey: ApiKey.DeleteGroups, minVersion: 0, maxVersion: 2 },
  { apiKey: ApiKey.DeleteRecords, minVersion: 0, maxVersion: 2 },
  { apiKey: ApiKey.InitProducerId, minVersion: 0, maxVersion: 4 },
  { apiKey: ApiKey.AddPartitionsToTxn, minVersion: 0, maxVersion: 3 },
  { apiKey: ApiKey.AddOffsetsToTxn, minVersion: 0, maxVersion: 3 },
  { apiKey: ApiKey.EndTxn, minVersion: 0, maxVersion: 3 },
  { apiKey: ApiKey.TxnOffsetCommit, minVersion: 0, maxVersion: 3 },
  { apiKey: ApiKey.OffsetForLeaderEpoch, minVersion: 0, maxVersion: 4 },
  { apiKey: ApiKey.AlterConfigs, minVersion: 0, maxVersion: 2 },
  { apiKey: ApiKey.IncrementalAlterConfigs, minVersion: 0, maxVersion: 1 },
  { apiKey: ApiKey.OffsetDelete, minVersion: 0, maxVersion: 0 },
  { apiKey: ApiKey.DescribeCluster, minVersion: 0, maxVersion: 1 },
];

const BY_KEY = new Map(ADVERTISED_APIS.map((a) => [a.apiKey, a]));

export function isAdvertised(apiKey: number, apiVersion: number): boolean {
  const a = BY_KEY.get(apiKey);
  return a !== undefined && apiVersion >= a.minVersion && apiVersion <= a.maxVersion;
}
