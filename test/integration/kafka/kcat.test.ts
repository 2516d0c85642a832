/**
 * librdkafka through kcat (Debian's kcat 1.7.1 on librdkafka 2.0.2, /usr/bin/kcat; .ci/run installs it), unmodified,
 * against the in-process broker: metadata (-L), produce (-P) with keys, headers and every compression codec,
 * consume (-C) from absolute and relative offsets with a format string, the balanced consumer (-G) whose
 * commits kafkajs then reads, and records crossing between librdkafka and kafkajs both ways.
 *
 * Every kcat run is an execFile with a timeout. The file is skipped, saying why, only when kcat is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { batchSizeAt, readBatchHeader } from '../../../src/storage/record-batch.js';
import { ApiKey, ErrorCode } from '../../../src/protocols/kafka/codec/index.js';
import { deferred, startKafka, within, type KafkaFixture } from './harness.js';
import { rawKafka } from './raw-client.js';

const KCAT = process.env.KCAT ?? 'kcat';
const KCAT_TIMEOUT_MS = 20_000;

function kcatVersion(): string | null {
  try {
    return execFileSync(KCAT, ['-V'], { encoding: 'utf8', timeout: 5000 }).split('\n').find((l) => l.includes('librdkafka')) ?? 'kcat';
  } catch {
    return null;
  }
}
const version = kcatVersion();
const skip = version === null ? `kcat is not installed (looked for "${KCAT}"; apt-get install kcat, as .ci/run does)` : false;

/** librdkafka settings that keep a short-lived kcat quick against a one-node broker on loopback. */
const FAST = [
  '-q',
  '-X', 'topic.metadata.refresh.interval.ms=500',
  '-X', 'metadata.max.age.ms=1000',
  '-X', 'fetch.wait.max.ms=50',
  '-X', 'queue.buffering.max.ms=5',
  '-X', 'reconnect.backoff.ms=20',
  '-X', 'reconnect.backoff.max.ms=200',
  '-X', 'retry.backoff.ms=50',
  '-m', '10',
];

/** Runs kcat against the fixture's broker with `input` on stdin; resolves with stdout, rejects with stderr. */
function kcat(f: KafkaFixture, args: string[], input?: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(KCAT, ['-b', f.brokers[0]!, ...FAST, ...args], { timeout: KCAT_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`kcat ${args.join(' ')} failed (${err.message}): ${stderr}`));
      else resolve(stdout);
    });
    child.stdin!.end(input ?? '');
  });
}

interface MetadataJson {
  controllerid: number;
  brokers: Array<{ id: number; name: string }>;
  topics: Array<{ topic: string; error?: string; partitions: Array<{ partition: number; leader: number; replicas: Array<{ id: number }>; isrs: Array<{ id: number }> }> }>;
}

test('kcat -L lists this broker at its advertised port and every topic with its partitions', { skip }, async (t) => {
  const f = await startKafka(t);
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'meta-a', numPartitions: 3 }, { topic: 'meta-b', numPartitions: 1 }] });
  const md = JSON.parse(await kcat(f, ['-L', '-J'])) as MetadataJson;
  assert.deepEqual(md.brokers, [{ id: 0, name: `127.0.0.1:${f.port}` }]);
  assert.equal(md.controllerid, 0);
  const topics = new Map(md.topics.map((tp) => [tp.topic, tp]));
  assert.ok(![...topics.keys()].some((n) => n.startsWith('__')), 'internal streams are not listed');
  assert.deepEqual(topics.get('meta-a')!.partitions.map((p) => p.partition).sort(), [0, 1, 2]);
  for (const p of topics.get('meta-a')!.partitions) {
    assert.equal(p.leader, 0);
    assert.deepEqual(p.replicas, [{ id: 0 }]);
    assert.deepEqual(p.isrs, [{ id: 0 }]);
  }
  assert.equal(topics.get('meta-b')!.partitions.length, 1);
  // -t names one topic; the plain-text form names the broker the same way.
  const text = await kcat(f, ['-L', '-t', 'meta-a']);
  assert.match(text, new RegExp(`broker 0 at 127\\.0\\.0\\.1:${f.port}`));
  assert.match(text, /topic "meta-a" with 3 partitions/);
});

test('kcat -P with keys and headers, consumed by kcat -C from the beginning with a format string', { skip }, async (t) => {
  const f = await startKafka(t);
  const input = Array.from({ length: 50 }, (_, i) => `key${i}:value ${i}`).join('\n') + '\n';
  await kcat(f, ['-P', '-t', 'kv', '-p', '0', '-K:', '-H', 'source=kcat', '-H', 'trace=t1'], input);
  const out = await kcat(f, ['-C', '-t', 'kv', '-o', 'beginning', '-e', '-f', '%o|%p|%k|%s|%h\n']);
  const lines = out.trimEnd().split('\n');
  assert.equal(lines.length, 50);
  lines.forEach((line, i) => assert.equal(line, `${i}|0|key${i}|value ${i}|source=kcat,trace=t1`));
});

for (const codec of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
  test(`kcat -z ${codec} produces compressed batches that are stored as sent and read back by kcat and kafkajs`, { skip }, async (t) => {
    const f = await startKafka(t);
    const topic = `z-${codec}`;
    // Many similar lines in one go, so librdkafka builds multi-record batches worth compressing.
    const input = Array.from({ length: 200 }, (_, i) => `k${i % 5}:${codec} record ${i} ${'x'.repeat(100)}`).join('\n') + '\n';
    await kcat(f, ['-P', '-t', topic, '-p', '0', '-K:', '-z', codec, '-X', 'queue.buffering.max.ms=50'], input);
    // Stored as produced: the batches on disk carry the codec's attribute bits.
    const CODEC_BITS = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
    const { records } = await f.broker.requireStream(topic).read(0, 0, 16 * 1024 * 1024);
    assert.ok(records.length > 0);
    for (let pos = 0; pos < records.length; pos += batchSizeAt(records, pos)) assert.equal(readBatchHeader(records, pos).attributes & 0x7, CODEC_BITS[codec]);
    const out = await kcat(f, ['-C', '-t', topic, '-o', 'beginning', '-e', '-f', '%k=%s\n']);
    assert.deepEqual(out.trimEnd().split('\n'), input.trimEnd().split('\n').map((l) => l.replace(':', '=')));
    // kafkajs reads them too (gzip is built into kafkajs; its other codecs are plugins, see compression.test.ts).
    if (codec === 'gzip') {
      const consumer = f.track(f.kafka().consumer({ groupId: `g-${topic}`, maxWaitTimeInMs: 100 }));
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const values: string[] = [];
      const done = deferred();
      await consumer.run({ eachMessage: async ({ message }) => void (values.push(message.value!.toString()), values.length === 200 && done.resolve()) });
      await within(done.promise, '200 gzip records through kafkajs');
      assert.equal(values[199], `gzip record 199 ${'x'.repeat(100)}`);
    }
  });
}

test('kcat -C from an absolute offset, from the end minus N, and -c', { skip }, async (t) => {
  const f = await startKafka(t);
  await kcat(f, ['-P', '-t', 'offs', '-p', '0'], Array.from({ length: 10 }, (_, i) => `m${i}`).join('\n') + '\n');
  const fmt = ['-f', '%o:%s\n'];
  assert.equal(await kcat(f, ['-C', '-t', 'offs', '-p', '0', '-o', '7', '-e', ...fmt]), '7:m7\n8:m8\n9:m9\n');
  assert.equal(await kcat(f, ['-C', '-t', 'offs', '-p', '0', '-o', '-2', '-e', ...fmt]), '8:m8\n9:m9\n');
  assert.equal(await kcat(f, ['-C', '-t', 'offs', '-p', '0', '-o', 'beginning', '-c', '3', ...fmt]), '0:m0\n1:m1\n2:m2\n');
  // The end of the log: nothing to read, -e exits at once.
  assert.equal(await kcat(f, ['-C', '-t', 'offs', '-p', '0', '-o', 'end', '-e', ...fmt]), '');
});

test('kcat -G consumes every partition as a group member and commits offsets that kafkajs admin sees', { skip }, async (t) => {
  const f = await startKafka(t);
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'grp', numPartitions: 3 }] });
  const producer = f.track(f.kafka().producer());
  await producer.connect();
  const counts = [4, 5, 6];
  for (let p = 0; p < 3; p++) {
    await producer.send({ topic: 'grp', acks: -1, messages: Array.from({ length: counts[p]! }, (_, i) => ({ partition: p, value: `p${p}-${i}` })) });
  }
  const out = await kcat(f, [
    '-G', 'kcat-group',
    '-X', 'auto.offset.reset=earliest',
    '-X', 'session.timeout.ms=6000',
    '-X', 'heartbeat.interval.ms=500',
    '-X', 'auto.commit.interval.ms=100',
    '-e', '-f', '%p:%s\n',
    'grp',
  ]);
  const got = out.trimEnd().split('\n').sort();
  const want = counts.flatMap((n, p) => Array.from({ length: n }, (_, i) => `${p}:p${p}-${i}`)).sort();
  assert.deepEqual(got, want);
  // kcat commits on close (auto commit), before it exits; the group's offsets are the partition ends.
  const [committed] = await admin.fetchOffsets({ groupId: 'kcat-group', topics: ['grp'] });
  assert.deepEqual(
    committed!.partitions.map((p) => [p.partition, p.offset]).sort(),
    counts.map((n, p) => [p, String(n)]),
  );
  // A second run of the same group resumes from those offsets: nothing new, nothing re-read.
  await producer.send({ topic: 'grp', acks: -1, messages: [{ partition: 1, value: 'late' }] });
  const again = await kcat(f, ['-G', 'kcat-group', '-X', 'session.timeout.ms=6000', '-X', 'heartbeat.interval.ms=500', '-e', '-f', '%p:%s\n', 'grp']);
  assert.equal(again, '1:late\n');
});

test('records produced by kcat are consumed by kafkajs with key, headers and value intact', { skip }, async (t) => {
  const f = await startKafka(t);
  await kcat(f, ['-P', '-t', 'rd-to-js', '-p', '0', '-K:', '-H', 'h1=one', '-H', 'h2=two'], 'a:1\nb:2\nc:3\n');
  const consumer = f.track(f.kafka().consumer({ groupId: 'js-reads-rd', maxWaitTimeInMs: 100 }));
  await consumer.connect();
  await consumer.subscribe({ topic: 'rd-to-js', fromBeginning: true });
  const got: string[] = [];
  const done = deferred();
  await consumer.run({
    eachMessage: async ({ message }) => {
      got.push(`${message.offset} ${message.key} ${message.value} ${message.headers!.h1} ${message.headers!.h2}`);
      if (got.length === 3) done.resolve();
    },
  });
  await within(done.promise, 'three records through kafkajs');
  assert.deepEqual(got, ['0 a 1 one two', '1 b 2 one two', '2 c 3 one two']);
});

test('records produced by kafkajs are consumed by kcat with key, headers and value intact', { skip }, async (t) => {
  const f = await startKafka(t);
  const producer = f.track(f.kafka().producer());
  await producer.connect();
  await producer.send({
    topic: 'js-to-rd',
    acks: -1,
    messages: [
      { partition: 0, key: 'k1', value: 'v1', headers: { a: 'x' } },
      { partition: 0, key: 'k2', value: 'v2', headers: { a: 'y', b: 'z' } },
      { partition: 0, key: null, value: 'v3' },
    ],
  });
  const out = await kcat(f, ['-C', '-t', 'js-to-rd', '-o', 'beginning', '-e', '-Z', '-f', '%o|%k|%s|%h\n']);
  assert.equal(out, '0|k1|v1|a=x\n1|k2|v2|a=y,b=z\n2|NULL|v3|\n');
});

test('Produce v0–2 are advertised (librdkafka 2.0.2 compresses only then) and a v0/v1 message set is refused with CORRUPT_MESSAGE', async (t) => {
  const f = await startKafka(t);
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'old-format' }] });
  const raw = await rawKafka(t, f.port);
  const versions = await raw.request(ApiKey.ApiVersions, 0, {});
  assert.deepEqual(versions.apiKeys.find((a) => a.apiKey === ApiKey.Produce), { apiKey: ApiKey.Produce, minVersion: 0, maxVersion: 9 });
  // One magic-1 message: offset, size, crc, magic 1, attributes, timestamp, key -1, value "old".
  const message = Buffer.alloc(8 + 4 + 4 + 1 + 1 + 8 + 4 + 4 + 3);
  message.writeInt32BE(message.length - 12, 8);
  message.writeInt8(1, 16);
  message.writeInt32BE(-1, 26);
  message.writeInt32BE(3, 30);
  message.write('old', 34);
  for (const version of [0, 2]) {
    const res = await raw.request(ApiKey.Produce, version, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'old-format', partitionData: [{ index: 0, records: message }] }] });
    assert.equal(res.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.CORRUPT_MESSAGE, `Produce v${version}`);
  }
  // The connection stays usable and nothing was stored.
  const [p0] = await admin.fetchTopicOffsets('old-format');
  assert.equal(p0!.high, '0');
  const again = await raw.request(ApiKey.ApiVersions, 0, {});
  assert.equal(again.errorCode, 0);
});
