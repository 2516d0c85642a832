/**
 * Deleting a topic deletes every group's committed offsets for it, as Kafka's coordinator does: a topic created
 * again under the same name starts with no committed offsets (a resuming consumer does not jump to a stale
 * position), other topics' offsets stay, and the deletion survives a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey } from '../../../src/protocols/kafka/codec/index.js';
import { startKafka } from './harness.js';
import { rawKafka } from './raw-client.js';

const T = { timeout: 60_000 };

test("deleting a topic deletes the groups' committed offsets for it, durably; other topics keep theirs", T, async (t) => {
  const f = await startKafka(t);
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'gone', numPartitions: 2 }, { topic: 'kept', numPartitions: 1 }] });
  // Simple (member-less) commits, as a consumer with manual assignment makes them; kafkajs' setOffsets would
  // join the group first.
  const raw = await rawKafka(t, f.port);
  const commit = async (groupId: string, topic: string, offsets: number[]): Promise<void> => {
    const res = await raw.request(ApiKey.OffsetCommit, 7, {
      groupId,
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      topics: [{ name: topic, partitions: offsets.map((committedOffset, partitionIndex) => ({ partitionIndex, committedOffset, committedLeaderEpoch: -1, committedMetadata: null })) }],
    });
    assert.deepEqual(res.topics[0].partitions.map((p) => p.errorCode), offsets.map(() => 0));
  };
  await commit('g1', 'gone', [5, 7]);
  await commit('g2', 'gone', [3]);
  await commit('g2', 'kept', [9]);
  const before = await admin.fetchOffsets({ groupId: 'g1', topics: ['gone'] });
  assert.deepEqual(before[0].partitions.map((p) => p.offset).sort(), ['5', '7']);

  await admin.deleteTopics({ topics: ['gone'] });
  await admin.createTopics({ topics: [{ topic: 'gone', numPartitions: 2 }] });
  const offsetsOf = async (groupId: string, topic: string): Promise<string[]> =>
    (await admin.fetchOffsets({ groupId, topics: [topic] }))[0].partitions.map((p) => p.offset);
  assert.deepEqual(await offsetsOf('g1', 'gone'), ['-1', '-1'], 'the re-created topic has no committed offsets');
  assert.deepEqual(await offsetsOf('g2', 'gone'), ['-1', '-1']);
  raw.close();
  assert.deepEqual(await offsetsOf('g2', 'kept'), ['9'], "another topic's offsets stay");

  await admin.disconnect();
  await f.restart();
  const again = f.track(f.kafka().admin());
  await again.connect();
  const afterRestart = await again.fetchOffsets({ groupId: 'g1', topics: ['gone'] });
  assert.deepEqual(afterRestart[0].partitions.map((p) => p.offset), ['-1', '-1'], 'the tombstones were durable');
  const kept = await again.fetchOffsets({ groupId: 'g2', topics: ['kept'] });
  assert.deepEqual(kept[0].partitions.map((p) => p.offset), ['9']);
});
