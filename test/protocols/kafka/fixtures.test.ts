// Golden fixtures: request frames captured from kafkajs 2.2.4 (test/fixtures/kafka/capture-kafkajs.ts). Each must
// decode to the expected object, re-encode to the same bytes, and come out of FrameSplitter whole whatever the
// chunking (STYLE §7 "Golden fixtures", "Every split point").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FrameSplitter, decodeRequest, encodeRequest, ZERO_UUID, type KafkaRequest } from '../../../src/protocols/kafka/codec/index.js';
import { validateBatch, decodeRecordBatch } from '../../../src/storage/record-batch.js';
import { ByteChunks } from '../../../src/wire/index.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../../test/fixtures/kafka');

function loadFixtures(): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of readdirSync(DIR).sort()) {
    if (!name.endsWith('.kafkajs.hex')) continue;
    out.set(name.replace(/\.kafkajs\.hex$/, ''), Buffer.from(readFileSync(join(DIR, name), 'utf8').replace(/\s+/g, ''), 'hex'));
  }
  return out;
}

const fixtures = loadFixtures();

function req(name: string): KafkaRequest {
  const frame = fixtures.get(name);
  assert.ok(frame, `fixture ${name} exists`);
  return decodeRequest(frame.subarray(4));
}

/** Exact expectations on the fields that matter, per fixture. Header: client id "capture", header v1. */
const EXPECT: Record<string, (r: KafkaRequest) => void> = {
  'api-versions-v0': (r) => assert.deepEqual([r.apiKey, r.apiVersion, r.header.correlationId], [18, 0, 2]),
  'api-versions-v1': (r) => assert.deepEqual([r.apiKey, r.apiVersion, r.header.correlationId], [18, 1, 1]),
  'api-versions-v2': (r) => {
    assert.deepEqual([r.apiKey, r.apiVersion, r.header.correlationId], [18, 2, 0]);
    // v2 has an empty body: the v3 fields keep their defaults.
    assert.ok(r.apiKey === 18);
    assert.deepEqual(r.body, { clientSoftwareName: '', clientSoftwareVersion: '' });
  },
  'metadata-v6': (r) => {
    assert.ok(r.apiKey === 3);
    assert.deepEqual(r.body, { topics: [{ topicId: ZERO_UUID, name: 'capture-topic' }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
  },
  'produce-v3': (r) => {
    assert.ok(r.apiKey === 0);
    assert.equal(r.apiVersion, 3);
    assert.deepEqual([r.body.transactionalId, r.body.acks, r.body.timeoutMs], [null, 1, 30000]);
    const p = r.body.topicData[0].partitionData[0];
    assert.equal(r.body.topicData[0].name, 'capture-topic');
    assert.equal(p.index, 0);
    assert.ok(p.records instanceof Buffer, 'a frame decoded from one buffer has its records as a view of it');
    assert.equal(validateBatch(p.records), p.records.length, 'records is one whole, CRC-valid batch');
    const recs = decodeRecordBatch(p.records);
    assert.equal(recs.length, 1);
    assert.equal(recs[0].key?.toString(), 'k0');
    assert.equal(recs[0].value?.toString(), 'v0');
  },
  'produce-v7': (r) => {
    assert.ok(r.apiKey === 0);
    assert.deepEqual([r.body.transactionalId, r.body.acks, r.body.timeoutMs], [null, -1, 30000]);
    const records = r.body.topicData[0].partitionData[0].records;
    assert.ok(records instanceof Buffer);
    assert.equal(validateBatch(records), records.length);
    assert.equal(records.readInt32BE(43 + 4), 4242, 'idempotent batch carries the producer id (low word)');
    const [rec] = decodeRecordBatch(records);
    assert.equal(rec.key?.toString(), 'key-1');
    assert.equal(rec.value?.toString(), 'value-1');
    assert.equal(rec.timestamp, 1700000000000);
    assert.deepEqual(rec.headers.map((h) => [h.key, h.value?.toString()]), [['h', 'x']]);
  },
  'fetch-v11': (r) => {
    assert.ok(r.apiKey === 1);
    const b = r.body;
    assert.deepEqual([b.replicaId, b.maxWaitMs, b.minBytes, b.maxBytes, b.isolationLevel, b.sessionId, b.sessionEpoch, b.rackId], [-1, 100, 1, 10485760, 1, 0, -1, '']);
    assert.deepEqual(b.topics, [{ topic: 'capture-topic', topicId: ZERO_UUID, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1048576 }] }]);
    assert.deepEqual(b.forgottenTopicsData, []);
  },
  'list-offsets-v3': (r) => {
    assert.ok(r.apiKey === 2);
    assert.deepEqual([r.body.replicaId, r.body.isolationLevel], [-1, 1]);
    assert.deepEqual(r.body.topics[0].partitions[0], { partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -2, maxNumOffsets: 1 });
  },
  'find-coordinator-v2': (r) => {
    assert.ok(r.apiKey === 10);
    assert.deepEqual([r.body.key, r.body.keyType], ['capture-group', 0]);
  },
  'join-group-v5': (r) => {
    assert.ok(r.apiKey === 11);
    const b = r.body;
    assert.deepEqual([b.groupId, b.sessionTimeoutMs, b.rebalanceTimeoutMs, b.memberId, b.groupInstanceId, b.protocolType], ['capture-group', 6000, 60000, '', null, 'consumer']);
    assert.equal(b.protocols[0].name, 'RoundRobinAssigner');
    assert.equal(b.protocols[0].metadata.toString('hex'), '000000000001000d636170747572652d746f70696300000000');
  },
  'sync-group-v3': (r) => {
    assert.ok(r.apiKey === 14);
    assert.deepEqual([r.body.groupId, r.body.generationId, r.body.memberId], ['capture-group', 1, 'kafkajs-member-1']);
    assert.equal(r.body.assignments.length, 1);
    assert.equal(r.body.assignments[0].memberId, 'kafkajs-member-1');
  },
  'heartbeat-v3': (r) => {
    assert.ok(r.apiKey === 12);
    assert.deepEqual(r.body, { groupId: 'capture-group', generationId: 1, memberId: 'kafkajs-member-1', groupInstanceId: null });
  },
  'offset-fetch-v4': (r) => {
    assert.ok(r.apiKey === 9);
    assert.deepEqual(r.body.topics, [{ name: 'capture-topic', partitionIndexes: [0] }]);
    assert.equal(r.body.groupId, 'capture-group');
  },
  'offset-commit-v5': (r) => {
    assert.ok(r.apiKey === 8);
    assert.deepEqual([r.body.groupId, r.body.generationIdOrMemberEpoch, r.body.memberId, r.body.retentionTimeMs], ['capture-group', 1, 'kafkajs-member-1', -1]);
    assert.deepEqual(r.body.topics[0].partitions[0], { partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: null });
  },
  'leave-group-v3': (r) => {
    assert.ok(r.apiKey === 13);
    assert.deepEqual(r.body.members, [{ memberId: 'kafkajs-member-1', groupInstanceId: null, reason: null }]);
  },
  'create-topics-v3': (r) => {
    assert.ok(r.apiKey === 19);
    assert.deepEqual(r.body.topics, [{ name: 'capture-new', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'cleanup.policy', value: 'compact' }] }]);
    assert.deepEqual([r.body.timeoutMs, r.body.validateOnly], [5000, false]);
  },
  'delete-topics-v1': (r) => {
    assert.ok(r.apiKey === 20);
    assert.deepEqual([r.body.topicNames, r.body.timeoutMs], [['capture-new'], 5000]);
  },
  'init-producer-id-v1': (r) => {
    assert.ok(r.apiKey === 22);
    assert.deepEqual(r.body, { transactionalId: null, transactionTimeoutMs: 60000, producerId: -1, producerEpoch: -1 });
  },
  'add-partitions-to-txn-v1': (r) => {
    assert.ok(r.apiKey === 24);
    assert.deepEqual([r.body.v3AndBelowTransactionalId, r.body.v3AndBelowProducerId, r.body.v3AndBelowProducerEpoch], ['capture-txn', 4242, 0]);
    assert.deepEqual(r.body.v3AndBelowTopics, [{ name: 'capture-topic', partitions: [0] }]);
  },
  'add-offsets-to-txn-v1': (r) => {
    assert.ok(r.apiKey === 25);
    assert.deepEqual(r.body, { transactionalId: 'capture-txn', producerId: 4242, producerEpoch: 0, groupId: 'capture-group' });
  },
  'txn-offset-commit-v1': (r) => {
    assert.ok(r.apiKey === 28);
    assert.deepEqual([r.body.transactionalId, r.body.groupId, r.body.producerId], ['capture-txn', 'capture-group', 4242]);
    assert.equal(r.body.topics[0].partitions[0].committedOffset, 1);
  },
  'end-txn-v1': (r) => {
    assert.ok(r.apiKey === 26);
    assert.deepEqual(r.body, { transactionalId: 'capture-txn', producerId: 4242, producerEpoch: 0, committed: true });
  },
  'describe-configs-v2': (r) => {
    assert.ok(r.apiKey === 32);
    assert.deepEqual(r.body.resources, [{ resourceType: 2, resourceName: 'capture-topic', configurationKeys: null }]);
  },
  'alter-configs-v1': (r) => {
    assert.ok(r.apiKey === 33);
    assert.deepEqual(r.body.resources, [{ resourceType: 2, resourceName: 'capture-topic', configs: [{ name: 'retention.ms', value: '1000' }] }]);
  },
  'create-partitions-v1': (r) => {
    assert.ok(r.apiKey === 37);
    assert.deepEqual(r.body.topics, [{ name: 'capture-topic', count: 2, assignments: null }]);
  },
  'delete-records-v1': (r) => {
    assert.ok(r.apiKey === 21);
    assert.deepEqual(r.body.topics, [{ name: 'capture-topic', partitions: [{ partitionIndex: 0, offset: 0 }] }]);
  },
  'list-groups-v2': (r) => assert.ok(r.apiKey === 16 && r.apiVersion === 2),
  'describe-groups-v2': (r) => {
    assert.ok(r.apiKey === 15);
    assert.deepEqual(r.body.groups, ['capture-group']);
  },
  'delete-groups-v1': (r) => {
    assert.ok(r.apiKey === 42);
    assert.deepEqual(r.body.groupsNames, ['capture-group']);
  },
  'sasl-handshake-v1': (r) => {
    assert.ok(r.apiKey === 17);
    assert.equal(r.body.mechanism, 'PLAIN');
  },
  'sasl-authenticate-v1': (r) => {
    assert.ok(r.apiKey === 36);
    assert.deepEqual(r.body.authBytes, Buffer.from('\0alice\0secret'));
  },
};

test('every captured kafkajs fixture has an expectation, and the core APIs are all captured', () => {
  assert.deepEqual([...fixtures.keys()].sort(), Object.keys(EXPECT).sort());
  for (const core of ['api-versions-v2', 'metadata-v6', 'produce-v7', 'fetch-v11', 'list-offsets-v3', 'find-coordinator-v2', 'join-group-v5', 'sync-group-v3', 'heartbeat-v3', 'offset-commit-v5', 'offset-fetch-v4', 'leave-group-v3']) {
    assert.ok(fixtures.has(core), core);
  }
});

for (const [name, frame] of fixtures) {
  test(`${name}.kafkajs decodes to the expected request and re-encodes to the same bytes`, () => {
    assert.equal(frame.readInt32BE(0), frame.length - 4, 'size prefix');
    const r = req(name);
    assert.equal(`${r.apiVersion}`, name.replace(/^.*-v/, ''));
    assert.equal(r.header.clientId, 'capture');
    EXPECT[name](r);
    assert.deepEqual(encodeRequest(r.apiKey, r.apiVersion, r.header.correlationId, r.header.clientId, r.body), frame);
  });
}

test('every fixture comes out of FrameSplitter whole when split at every offset', () => {
  for (const [name, frame] of fixtures) {
    for (let cut = 0; cut <= frame.length; cut++) {
      const s = new FrameSplitter();
      s.push(frame.subarray(0, cut));
      const early = s.next();
      if (cut < frame.length) assert.equal(early, null, `${name} cut ${cut}: no frame before the last byte`);
      s.push(frame.subarray(cut));
      const got = early ?? s.next();
      assert.deepEqual(got, frame.subarray(4), `${name} cut at ${cut}`);
      assert.equal(s.next(), null);
      assert.equal(s.buffered, 0);
    }
  }
});

test('all fixtures back to back, fed one byte at a time and in 7-byte chunks, come out in order', () => {
  const all = Buffer.concat([...fixtures.values()]);
  const expected = [...fixtures.values()].map((f) => f.subarray(4));
  for (const step of [1, 7, all.length]) {
    const s = new FrameSplitter();
    const got: Buffer[] = [];
    for (let i = 0; i < all.length; i += step) {
      s.push(all.subarray(i, i + step));
      for (let f = s.next(); f !== null; f = s.next()) got.push(f instanceof ByteChunks ? f.join() : f);
    }
    assert.deepEqual(got, expected, `step ${step}`);
  }
});
