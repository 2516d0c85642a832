/**
 * librdkafka's admin client (CreateTopics with partitions and configs, Metadata, ListOffsets, ListGroups,
 * DescribeGroups, OffsetFetch, DeleteGroups, DeleteTopics) through the binding's KafkaJS-compatible admin API.
 * The binding has no DescribeConfigs call, so kafkajs reads the created topic's configs back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { binding, ERR__ASSIGN_PARTITIONS, skipReason, type Consumer } from './binding.js';
import { startServed } from './harness.js';

const { Kafka, logLevel, ConfigResourceTypes } = kafkajs;

test('librdkafka admin: create a topic with partitions and configs, describe and list it, delete it', { skip: skipReason }, async (t) => {
  const f = await startServed(t);
  const admin = f.admin();
  await f.wait(admin.connect(), 'the admin client to connect');

  const created = await f.wait(
    admin.createTopics({
      topics: [
        {
          topic: 'orders',
          numPartitions: 3,
          replicationFactor: 1,
          configEntries: [
            { name: 'retention.ms', value: '3600000' },
            { name: 'cleanup.policy', value: 'compact' },
          ],
        },
        { topic: 'audit', numPartitions: 1 },
      ],
    }),
    'CreateTopics',
  );
  assert.equal(created, true);
  // Creating it again is refused (TOPIC_ALREADY_EXISTS), which the KafkaJS-style API reports as false.
  assert.equal(await f.wait(admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3 }] }), 'a second CreateTopics'), false);

  const topics = await f.wait(admin.listTopics(), 'the topic list');
  assert.deepEqual(topics.filter((n) => !n.startsWith('__')).sort(), ['audit', 'orders']);
  const [orders] = await f.wait(admin.fetchTopicMetadata({ topics: ['orders'] }), 'the topic metadata');
  assert.equal(orders!.name, 'orders');
  assert.deepEqual(
    orders!.partitions.map((p) => [p.partitionId, p.leader, p.replicas, p.isr]).sort((a, b) => Number(a[0]) - Number(b[0])),
    [0, 1, 2].map((p) => [p, 0, [0], [0]]),
  );
  const offsets = await f.wait(admin.fetchTopicOffsets('orders'), 'the topic offsets');
  assert.deepEqual(offsets.map((o) => [o.partition, o.low, o.high]).sort(), [0, 1, 2].map((p) => [p, '0', '0']));

  // The configs arrived: read back with kafkajs, the binding having no DescribeConfigs.
  const kafkajs = new Kafka({ brokers: [f.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await kafkajs.connect();
  t.after(() => kafkajs.disconnect());
  const described = await kafkajs.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'orders' }] });
  const entries = new Map(described.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
  assert.equal(entries.get('retention.ms'), '3600000');
  assert.equal(entries.get('cleanup.policy'), 'compact');

  // An unknown config is refused: the broker answers INVALID_CONFIG and librdkafka reports it.
  await assert.rejects(
    f.wait(admin.createTopics({ topics: [{ topic: 'bad', numPartitions: 1, configEntries: [{ name: 'no.such.config', value: '1' }] }] }), 'a refused CreateTopics'),
    (err: Error & { errors?: Array<Error & { topic?: string }> }) => {
      assert.deepEqual(err.errors?.map((e) => e.topic), ['bad']);
      assert.match(err.errors![0]!.message, /config/i);
      return true;
    },
  );

  await f.wait(admin.deleteTopics({ topics: ['orders'] }), 'DeleteTopics');
  assert.deepEqual((await f.wait(admin.listTopics(), 'the topic list')).filter((n) => !n.startsWith('__')), ['audit']);
});

test('librdkafka admin: a live group is listed and described with its member and assignment; empty, it is deleted', { skip: skipReason }, async (t) => {
  const f = await startServed(t);
  const admin = f.admin();
  await f.wait(admin.connect(), 'the admin client to connect');
  await f.wait(admin.createTopics({ topics: [{ topic: 'watched', numPartitions: 2 }] }), 'the topic');
  const producer = f.producer();
  await f.wait(producer.connect(), 'the producer to connect');
  await f.wait(producer.send({ topic: 'watched', messages: [{ value: 'a', partition: 0 }, { value: 'b', partition: 1 }] }), 'two records');

  let assigned!: () => void;
  const isAssigned = new Promise<void>((resolve) => (assigned = resolve));
  let read!: () => void;
  let seen = 0;
  const bothRead = new Promise<void>((resolve) => (read = resolve));
  const consumer: Consumer = f.consumer({
    'group.id': 'watchers',
    'client.id': 'watcher-1',
    'auto.offset.reset': 'earliest',
    rebalance_cb: (err) => {
      if (err.code === ERR__ASSIGN_PARTITIONS) assigned();
    },
  });
  await f.wait(consumer.connect(), 'the consumer to connect');
  await f.wait(consumer.subscribe({ topics: ['watched'] }), 'the subscription');
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
      if (++seen === 2) read();
    },
  });
  await f.wait(isAssigned, 'the assignment');
  await f.wait(bothRead, 'both records');

  const states = binding!.ConsumerGroupStates;
  const listed = await f.wait(admin.listGroups(), 'ListGroups');
  const group = listed.groups.find((g) => g.groupId === 'watchers');
  assert.ok(group !== undefined, 'the group is listed');
  assert.equal(group.protocolType, 'consumer');
  assert.equal(group.state, states['STABLE']);

  const { groups } = await f.wait(admin.describeGroups(['watchers']), 'DescribeGroups');
  const described = groups[0]!;
  assert.equal(described.groupId, 'watchers');
  assert.equal(described.state, states['STABLE']);
  assert.equal(described.protocolType, 'consumer');
  assert.equal(described.isSimpleConsumerGroup, false);
  assert.equal(described.members.length, 1);
  assert.equal(described.members[0]!.clientId, 'watcher-1');
  assert.deepEqual(
    described.members[0]!.assignment!.topicPartitions.map((tp) => [tp.topic, tp.partition]).sort(),
    [['watched', 0], ['watched', 1]],
  );

  // commitOffsets only queues the commits; the consumer's own OffsetFetch follows them on its connection.
  await f.wait(consumer.committed(), "the consumer's commits to land");
  const [fetched] = await f.wait(admin.fetchOffsets({ groupId: 'watchers', topics: ['watched'] }), 'OffsetFetch');
  assert.deepEqual(fetched!.partitions.map((p) => [p.partition, p.offset]).sort(), [[0, '1'], [1, '1']]);

  await f.wait(consumer.disconnect(), 'the consumer to leave');
  const { groups: after } = await f.wait(admin.describeGroups(['watchers']), 'DescribeGroups after the leave');
  assert.equal(after[0]!.state, states['EMPTY']);
  assert.equal(after[0]!.members.length, 0);

  const deleted = await f.wait(admin.deleteGroups(['watchers']), 'DeleteGroups');
  assert.deepEqual(deleted.map((d) => [d.groupId, d.errorCode ?? 0]), [['watchers', 0]]);
  const remaining = await f.wait(admin.listGroups(), 'ListGroups after the delete');
  assert.ok(!remaining.groups.some((g) => g.groupId === 'watchers'), 'the deleted group is gone');
});
