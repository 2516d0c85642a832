import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startKafka } from './harness.js';

/** kafkajs ConfigResourceTypes.TOPIC (the CommonJS module has no ESM named export for it). */
const TOPIC = 2;

test('admin creates, lists, describes, grows and deletes topics', async (t) => {
  const f = await startKafka(t);
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  assert.equal(await admin.createTopics({ topics: [{ topic: 'a', numPartitions: 2 }, { topic: 'b', configEntries: [{ name: 'retention.ms', value: '60000' }] }] }), true);
  assert.deepEqual((await admin.listTopics()).sort(), ['a', 'b']);
  // validateOnly creates nothing.
  await admin.createTopics({ validateOnly: true, waitForLeaders: false, topics: [{ topic: 'c' }] });
  assert.equal((await admin.listTopics()).includes('c'), false);
  const md = await admin.fetchTopicMetadata({ topics: ['a'] });
  assert.equal(md.topics[0].partitions.length, 2);
  assert.equal(md.topics[0].partitions[0].leader, 0);
  await admin.createPartitions({ topicPartitions: [{ topic: 'a', count: 4 }] });
  assert.equal((await admin.fetchTopicMetadata({ topics: ['a'] })).topics[0].partitions.length, 4);
  const configs = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: TOPIC, name: 'b', configNames: ['retention.ms', 'cleanup.policy'] }] });
  const entries = Object.fromEntries(configs.resources[0].configEntries.map((e) => [e.configName, e]));
  assert.equal(entries['retention.ms'].configValue, '60000');
  assert.equal(entries['retention.ms'].isDefault, false);
  assert.equal(entries['cleanup.policy'].configValue, 'delete');
  await admin.deleteTopics({ topics: ['a'] });
  assert.deepEqual(await admin.listTopics(), ['b']);
  assert.equal(f.broker.stream('a'), undefined);
});

test('CreateTopics reports TOPIC_ALREADY_EXISTS, INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS and INVALID_CONFIG', async (t) => {
  const f = await startKafka(t);
  const admin = f.track(f.kafka().admin({ retry: { retries: 0 } }));
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'dup' }] });
  // kafkajs swallows TOPIC_ALREADY_EXISTS and answers false.
  assert.equal(await admin.createTopics({ topics: [{ topic: 'dup' }] }), false);
  const typeOf = async (p: Promise<unknown>): Promise<string[]> => {
    try {
      await p;
      return [];
    } catch (err) {
      const e = err as { errors?: Array<{ type: string }>; type?: string };
      return e.errors?.map((x) => x.type) ?? [String(e.type)];
    }
  };
  assert.deepEqual(await typeOf(admin.createTopics({ topics: [{ topic: 'bad name!' }] })), ['INVALID_TOPIC_EXCEPTION']);
  assert.deepEqual(await typeOf(admin.createTopics({ topics: [{ topic: 'zero', numPartitions: 0 }] })), ['INVALID_PARTITIONS']);
  assert.deepEqual(await typeOf(admin.createTopics({ topics: [{ topic: 'cfg', configEntries: [{ name: 'retention.ms', value: 'soon' }] }] })), ['INVALID_CONFIG']);
  assert.deepEqual(await typeOf(admin.createTopics({ topics: [{ topic: 'rf', replicationFactor: 3 }] })), ['INVALID_REPLICATION_FACTOR']);
  assert.deepEqual((await admin.listTopics()).sort(), ['dup']);
});

test('Metadata auto-creates a topic a producer names, and advertises the bound port and advertised host', async (t) => {
  const f = await startKafka(t);
  const producer = f.track(f.kafka().producer());
  await producer.connect();
  await producer.send({ topic: 'auto.created', messages: [{ value: 'x' }] });
  assert.ok(f.broker.stream('auto.created'));
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  const cluster = await admin.describeCluster();
  assert.deepEqual(cluster.brokers, [{ nodeId: 0, host: '127.0.0.1', port: f.port }]);
  assert.equal(cluster.controller, 0);
  assert.equal(typeof cluster.clusterId, 'string');
  // Internal streams stay out of the topic list.
  assert.deepEqual(await admin.listTopics(), ['auto.created']);
});
