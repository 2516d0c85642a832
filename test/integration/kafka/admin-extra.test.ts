import { test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';

const { ConfigResourceTypes } = kafkajs;
import { ApiKey, ErrorCode } from '../../../src/protocols/kafka/codec/index.js';
import { deferred, startKafka, within } from './harness.js';
import { rawKafka } from './raw-client.js';
import { encodeRecordBatch } from '../../../src/storage/record-batch.js';

const TOPIC = 2;

test('kafkajs deleteTopicRecords raises the low watermark durably', async (t) => {
  const f = await startKafka(t);
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'trim', numPartitions: 2 }] });
  const producer = f.track(f.kafka().producer());
  await producer.connect();
  await producer.send({ topic: 'trim', messages: Array.from({ length: 10 }, (_, i) => ({ value: `v${i}`, partition: 0 })) });
  // kafkajs looks leaders up in its cached metadata only, so the topic must be in it first.
  await admin.fetchTopicMetadata({ topics: ['trim'] });
  await admin.deleteTopicRecords({ topic: 'trim', partitions: [{ partition: 0, offset: '6' }] }).catch((err: { partitions?: Array<{ error: Error }> }) => {
    throw new Error(`deleteTopicRecords: ${err.partitions?.map((p) => p.error.message).join('; ')}`);
  });
  let offsets = await admin.fetchTopicOffsets('trim');
  assert.deepEqual(offsets.find((o) => o.partition === 0), { partition: 0, offset: '10', high: '10', low: '6' });
  await f.restart();
  offsets = await admin.fetchTopicOffsets('trim');
  assert.equal(offsets.find((o) => o.partition === 0)?.low, '6');
  const read = await f.broker.requireStream('trim').readMessages(0, 6, 1_000_000);
  assert.deepEqual(read.map((m) => m.offset), [6, 7, 8, 9]);
});

test('DeleteRecords over the wire: -1 means the high watermark, beyond it is OFFSET_OUT_OF_RANGE', async (t) => {
  const f = await startKafka(t);
  const raw = await rawKafka(t, f.port);
  await raw.request(ApiKey.CreateTopics, 4, { topics: [{ name: 'dr', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  const stream = f.broker.requireStream('dr');
  for (let i = 0; i < 3; i++) await stream.appendBatch(0, encodeRecordBatch([{ value: Buffer.from(`r${i}`) }]));
  const res = await raw.request(ApiKey.DeleteRecords, 2, {
    topics: [
      { name: 'dr', partitions: [{ partitionIndex: 0, offset: 99 }, { partitionIndex: 5, offset: 0 }] },
      { name: 'missing', partitions: [{ partitionIndex: 0, offset: 0 }] },
      { name: '__consumer_offsets', partitions: [{ partitionIndex: 0, offset: 0 }] },
    ],
    timeoutMs: 1000,
  });
  assert.deepEqual(res.topics[0].partitions.map((p) => p.errorCode), [ErrorCode.OFFSET_OUT_OF_RANGE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
  assert.equal(res.topics[1].partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal(res.topics[2].partitions[0].errorCode, ErrorCode.POLICY_VIOLATION);
  const all = await raw.request(ApiKey.DeleteRecords, 0, { topics: [{ name: 'dr', partitions: [{ partitionIndex: 0, offset: -1 }] }], timeoutMs: 1000 });
  assert.deepEqual(all.topics[0].partitions[0], { ...all.topics[0].partitions[0], errorCode: ErrorCode.NONE, lowWatermark: 3 });
  assert.equal(stream.offsets(0).startOffset, 3);
});

test('kafkajs alterConfigs replaces a topic config set; validateOnly changes nothing; bad values are INVALID_CONFIG', async (t) => {
  const f = await startKafka(t);
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'cfg', configEntries: [{ name: 'retention.ms', value: '1000' }, { name: 'max.message.bytes', value: '5000' }] }] });
  await admin.alterConfigs({ validateOnly: true, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg', configEntries: [{ name: 'retention.ms', value: '7' }] }] });
  assert.equal(f.broker.requireStream('cfg').configValue('retention.ms'), '1000');
  await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg', configEntries: [{ name: 'retention.ms', value: '60000' }] }] });
  const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg', configNames: ['retention.ms', 'max.message.bytes'] }] });
  const entries = Object.fromEntries(described.resources[0].configEntries.map((e) => [e.configName, { value: e.configValue, isDefault: e.isDefault }]));
  assert.deepEqual(entries['retention.ms'], { value: '60000', isDefault: false });
  // Not named in the AlterConfigs request: back to the default, as Kafka's full-replacement semantics say.
  assert.equal(entries['max.message.bytes'].isDefault, true);
  await assert.rejects(
    admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg', configEntries: [{ name: 'retention.ms', value: 'soon' }] }] }),
    (err: Error & { type?: string }) => err.type === 'INVALID_CONFIG' || /INVALID_CONFIG|Invalid config/i.test(err.message),
  );
  // Survives a restart (persisted in the broker's metadata).
  await f.restart();
  assert.equal(f.broker.requireStream('cfg').configValue('retention.ms'), '60000');
});

test('IncrementalAlterConfigs sets, deletes, appends and subtracts, all or nothing per resource', async (t) => {
  const f = await startKafka(t);
  const raw = await rawKafka(t, f.port);
  await raw.request(ApiKey.CreateTopics, 4, { topics: [{ name: 'inc', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'retention.ms', value: '1000' }] }], timeoutMs: 5000, validateOnly: false });
  const alter = (configs: Array<{ name: string; configOperation: number; value: string | null }>, validateOnly = false) =>
    raw.request(ApiKey.IncrementalAlterConfigs, 1, { resources: [{ resourceType: TOPIC, resourceName: 'inc', configs }], validateOnly });
  let res = await alter([
    { name: 'retention.ms', configOperation: 1, value: null },
    { name: 'segment.bytes', configOperation: 0, value: '2000000' },
    { name: 'cleanup.policy', configOperation: 2, value: 'compact' },
  ]);
  assert.equal(res.responses[0].errorCode, ErrorCode.NONE, res.responses[0].errorMessage ?? '');
  const s = f.broker.requireStream('inc');
  assert.equal(s.configEntries().find((e) => e.name === 'retention.ms')?.isDefault, true);
  assert.equal(s.configValue('segment.bytes'), '2000000');
  assert.deepEqual(s.configValue('cleanup.policy').split(',').sort(), ['compact', 'delete']);
  res = await alter([{ name: 'cleanup.policy', configOperation: 3, value: 'delete' }]);
  assert.equal(res.responses[0].errorCode, ErrorCode.NONE);
  assert.equal(s.configValue('cleanup.policy'), 'compact');
  res = await alter([{ name: 'segment.bytes', configOperation: 0, value: '3000000' }], true);
  assert.equal(res.responses[0].errorCode, ErrorCode.NONE);
  assert.equal(s.configValue('segment.bytes'), '2000000');
  res = await alter([
    { name: 'segment.bytes', configOperation: 0, value: '4000000' },
    { name: 'no.such.config', configOperation: 0, value: 'x' },
  ]);
  assert.equal(res.responses[0].errorCode, ErrorCode.INVALID_CONFIG);
  assert.equal(s.configValue('segment.bytes'), '2000000');
  res = await alter([{ name: 'segment.bytes', configOperation: 9, value: '1' }]);
  assert.equal(res.responses[0].errorCode, ErrorCode.INVALID_REQUEST);
  const broker = await raw.request(ApiKey.IncrementalAlterConfigs, 0, { resources: [{ resourceType: 4, resourceName: '0', configs: [] }], validateOnly: false });
  assert.equal(broker.responses[0].errorCode, ErrorCode.INVALID_REQUEST);
  const missing = await raw.request(ApiKey.AlterConfigs, 0, { resources: [{ resourceType: TOPIC, resourceName: 'nope', configs: [] }], validateOnly: false });
  assert.equal(missing.responses[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
});

test('DescribeCluster names this node as broker and controller; kafkajs describeCluster agrees', async (t) => {
  const f = await startKafka(t);
  const raw = await rawKafka(t, f.port);
  const res = await raw.request(ApiKey.DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 1 });
  assert.equal(res.errorCode, ErrorCode.NONE);
  assert.equal(res.controllerId, 0);
  assert.deepEqual(res.brokers.map((b) => [b.brokerId, b.host, b.port]), [[0, '127.0.0.1', f.port]]);
  const controllers = await raw.request(ApiKey.DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 2 });
  assert.equal(controllers.errorCode, ErrorCode.MISMATCHED_ENDPOINT_TYPE);
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  const cluster = await admin.describeCluster();
  assert.equal(cluster.clusterId, res.clusterId);
  assert.equal(cluster.controller, 0);
});

test('OffsetForLeaderEpoch answers epoch 0 with the high watermark and fences unknown epochs', async (t) => {
  const f = await startKafka(t);
  const raw = await rawKafka(t, f.port);
  const producer = f.track(f.kafka().producer());
  await producer.connect();
  await producer.send({ topic: 'ep', messages: [{ value: 'a' }, { value: 'b' }] });
  for (const version of [2, 3, 4]) {
    const res = await raw.request(ApiKey.OffsetForLeaderEpoch, version, {
      replicaId: -1,
      topics: [
        {
          topic: 'ep',
          partitions: [
            { partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0 },
            { partition: 0, currentLeaderEpoch: -1, leaderEpoch: 3 },
            { partition: 0, currentLeaderEpoch: 5, leaderEpoch: 0 },
            { partition: 7, currentLeaderEpoch: -1, leaderEpoch: 0 },
          ],
        },
        { topic: 'nope', partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] },
      ],
    });
    const p = res.topics[0].partitions;
    assert.deepEqual([p[0].errorCode, p[0].leaderEpoch, p[0].endOffset], [ErrorCode.NONE, 0, 2], `v${version}`);
    assert.deepEqual([p[1].errorCode, p[1].leaderEpoch, p[1].endOffset], [ErrorCode.NONE, -1, -1]);
    assert.equal(p[2].errorCode, ErrorCode.UNKNOWN_LEADER_EPOCH);
    assert.equal(p[3].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal(res.topics[1].partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  }
});

test('OffsetDelete removes committed offsets durably, but not of a topic a live member subscribes to', async (t) => {
  const f = await startKafka(t);
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'od-a' }, { topic: 'od-b' }] });
  let raw = await rawKafka(t, f.port);
  // A simple (group-less) commit, as admin tools do; kafkajs setOffsets would spend seconds on a throwaway consumer.
  const part = { partitionIndex: 0, committedOffset: 0, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: null };
  const commit = await raw.request(ApiKey.OffsetCommit, 2, {
    groupId: 'od',
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [{ name: 'od-a', partitions: [part] }, { name: 'od-b', partitions: [part] }],
  });
  assert.deepEqual(commit.topics.map((tp) => tp.partitions[0].errorCode), [ErrorCode.NONE, ErrorCode.NONE]);
  const res = await raw.request(ApiKey.OffsetDelete, 0, { groupId: 'od', topics: [{ name: 'od-a', partitions: [{ partitionIndex: 0 }] }] });
  assert.deepEqual([res.errorCode, res.topics[0].partitions[0].errorCode], [ErrorCode.NONE, ErrorCode.NONE]);
  const missing = await raw.request(ApiKey.OffsetDelete, 0, { groupId: 'nobody', topics: [{ name: 'od-a', partitions: [{ partitionIndex: 0 }] }] });
  assert.equal(missing.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  raw.close();
  await f.restart();
  const offsets = await admin.fetchOffsets({ groupId: 'od', topics: ['od-a', 'od-b'] });
  assert.deepEqual(offsets.map((o) => [o.topic, o.partitions[0].offset]).sort(), [['od-a', '-1'], ['od-b', '0']]);

  // A live consumer subscribed to od-b keeps its offsets.
  const consumer = f.track(f.kafka().consumer({ groupId: 'od', sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 100 }));
  await consumer.connect();
  await consumer.subscribe({ topic: 'od-b', fromBeginning: true });
  const joined = deferred();
  consumer.on(consumer.events.GROUP_JOIN, () => joined.resolve());
  await consumer.run({ eachMessage: async () => undefined });
  await within(joined.promise, 'group join');
  raw = await rawKafka(t, f.port);
  const kept = await raw.request(ApiKey.OffsetDelete, 0, { groupId: 'od', topics: [{ name: 'od-b', partitions: [{ partitionIndex: 0 }] }] });
  assert.equal(kept.topics[0].partitions[0].errorCode, ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC);
});
