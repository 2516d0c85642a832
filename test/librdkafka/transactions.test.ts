/**
 * Exactly-once consume-transform-produce (KIP-98, with KIP-447's group metadata in TxnOffsetCommit) driven by
 * librdkafka 2.x through the binding's KafkaJS-compatible API: a read_committed consumer in a group feeds a
 * transactional producer that writes the transformed records and the consumer's next offsets in one
 * transaction per five input records. The third transaction is aborted, the consumer rewinds to the group's
 * committed offset and does that work again; a fresh producer with the same transactional.id then fences the
 * first one. kcat cannot drive transactions, so this is the only librdkafka client that does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binding, skipReason, type Producer } from './binding.js';
import { startServed } from './harness.js';
import { readTopic } from './read-topic.js';

const INPUT = 'eos-in';
const OUTPUT = 'eos-out';
const GROUP = 'eos-transformer';
const RECORDS = 20;
const PER_TRANSACTION = 5;
/** The input offset that ends the transaction aborted on its first attempt (the third of four). */
const ABORT_AT = 14;

const transform = (value: string): string => value.toUpperCase();

test('consume-transform-produce in librdkafka transactions: one abort in the middle, exactly once for read_committed', { skip: skipReason }, async (t) => {
  const f = await startServed(t);
  const admin = f.admin();
  await f.wait(admin.connect(), 'the admin client to connect');
  await f.wait(admin.createTopics({ topics: [{ topic: INPUT, numPartitions: 1 }, { topic: OUTPUT, numPartitions: 1 }] }), 'the topics');

  const plain = f.producer();
  await f.wait(plain.connect(), 'the input producer to connect');
  await f.wait(
    plain.send({ topic: INPUT, messages: Array.from({ length: RECORDS }, (_, i) => ({ key: `k${i}`, value: `record-${i}` })) }),
    'the input records',
  );

  const consumer = f.consumer({
    'group.id': GROUP,
    'enable.auto.commit': false, // offsets are committed by the transactions only
    'auto.offset.reset': 'earliest',
    'isolation.level': 'read_committed',
  });
  const producer: Producer = f.producer({ 'transactional.id': 'eos-tx' });
  await f.wait(consumer.connect(), 'the transforming consumer to connect');
  await f.wait(producer.connect(), 'the transactional producer to connect (InitProducerId)');
  await f.wait(consumer.subscribe({ topics: [INPUT] }), 'the subscription');

  let inTransaction = false;
  let aborted = false;
  let committedAfterAbort: string | undefined;
  const attempts: string[] = [];
  let finish!: () => void;
  let fail!: (err: unknown) => void;
  const finished = new Promise<void>((resolve, reject) => ((finish = resolve), (fail = reject)));
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      try {
        const offset = Number(message.offset);
        if (!inTransaction) {
          await producer.transaction();
          inTransaction = true;
        }
        await producer.send({
          topic: OUTPUT,
          messages: [{ key: message.key, value: transform(message.value!.toString()), headers: { 'source-offset': message.offset } }],
        });
        if ((offset + 1) % PER_TRANSACTION !== 0) return;
        const next = String(offset + 1);
        await producer.sendOffsets({ consumer, topics: [{ topic, partitions: [{ partition, offset: next }] }] });
        inTransaction = false;
        if (offset === ABORT_AT && !aborted) {
          aborted = true;
          await producer.abort();
          attempts.push(`abort ${next}`);
          // The aborted TxnOffsetCommit left the group's offset where the last commit put it: rewind there.
          const [committed] = await admin.fetchOffsets({ groupId: GROUP, topics: [INPUT] });
          committedAfterAbort = committed!.partitions[0]!.offset;
          consumer.seek({ topic, partition, offset: committedAfterAbort });
          return;
        }
        await producer.commit();
        attempts.push(`commit ${next}`);
        if (offset + 1 === RECORDS) finish();
      } catch (err) {
        fail(err);
      }
    },
  });
  await f.wait(finished, `the transformer to commit through offset ${RECORDS} (${attempts.join(', ')})`, 60_000);
  await f.wait(consumer.disconnect(), 'the transforming consumer to leave');

  assert.deepEqual(attempts, ['commit 5', 'commit 10', 'abort 15', 'commit 15', 'commit 20']);
  assert.equal(committedAfterAbort, '10', 'the aborted transaction did not move the group offset');

  const expected = Array.from({ length: RECORDS }, (_, i) => transform(`record-${i}`));
  const committed = await readTopic(f, OUTPUT, (rs) => rs.at(-1)?.value === expected.at(-1), { isolation: 'read_committed' });
  assert.deepEqual(committed.map((r) => r.value), expected, 'read_committed sees every committed record once, in order, none aborted');
  assert.deepEqual(committed.map((r) => r.key), Array.from({ length: RECORDS }, (_, i) => `k${i}`));
  assert.deepEqual(committed.map((r) => String(r.headers['source-offset'])), Array.from({ length: RECORDS }, (_, i) => String(i)));

  // The aborted records were written: read_uncommitted sees them between the second and the third commit.
  const uncommittedOrder = [...expected.slice(0, 15), ...expected.slice(10, 15), ...expected.slice(15)];
  const uncommitted = await readTopic(f, OUTPUT, (rs) => rs.length >= uncommittedOrder.length && rs.at(-1)?.value === expected.at(-1), {
    isolation: 'read_uncommitted',
  });
  assert.deepEqual(uncommitted.map((r) => r.value), uncommittedOrder);
  // Each transaction ends with one control record (a commit or abort marker) taking an offset: 25 records + 5 markers.
  assert.deepEqual(uncommitted.map((r) => r.offset), [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 24, 25, 26, 27, 28]);
  const [end] = await f.wait(admin.fetchTopicOffsets(OUTPUT), 'the output offsets');
  assert.equal(end!.high, '30');

  const [offsets] = await f.wait(admin.fetchOffsets({ groupId: GROUP, topics: [INPUT] }), "the group's offsets");
  assert.deepEqual(offsets!.partitions.map((p) => [p.partition, p.offset]), [[0, String(RECORDS)]], 'the group committed exactly what was transformed');
});

test('a second librdkafka producer with the same transactional.id fences the first and aborts its open transaction', { skip: skipReason }, async (t) => {
  const f = await startServed(t);
  const admin = f.admin();
  await f.wait(admin.connect(), 'the admin client to connect');
  await f.wait(admin.createTopics({ topics: [{ topic: 'fence', numPartitions: 1 }] }), 'the topic');

  const zombie = f.producer({ 'transactional.id': 'fenced-tx' });
  await f.wait(zombie.connect(), 'the first producer to connect');
  await f.wait(zombie.transaction(), 'the first transaction to begin');
  await f.wait(zombie.send({ topic: 'fence', messages: [{ value: 'from-the-zombie' }] }), 'the zombie record');

  // InitProducerId for the same id bumps the epoch and aborts the zombie's open transaction.
  const successor = f.producer({ 'transactional.id': 'fenced-tx' });
  await f.wait(successor.connect(), 'the successor to connect');
  await f.wait(successor.transaction(), "the successor's transaction to begin");
  await f.wait(successor.send({ topic: 'fence', messages: [{ value: 'from-the-successor' }] }), 'the successor record');
  await f.wait(successor.commit(), "the successor's commit");

  await assert.rejects(
    f.wait(zombie.commit(), "the zombie's commit to be refused"),
    (err: Error & { code?: number }) => /fenced|epoch/i.test(err.message),
    'the fenced producer cannot commit',
  );

  const committed = await readTopic(f, 'fence', (rs) => rs.some((r) => r.value === 'from-the-successor'), { isolation: 'read_committed' });
  assert.deepEqual(committed.map((r) => r.value), ['from-the-successor']);
});

test('librdkafka read_committed skips an aborted transaction and stops at an open one; ListOffsets answers the last stable offset', { skip: skipReason }, async (t) => {
  const f = await startServed(t);
  const { READ_COMMITTED, READ_UNCOMMITTED } = binding!.IsolationLevel;
  const admin = f.admin();
  await f.wait(admin.connect(), 'the admin client to connect');
  await f.wait(admin.createTopics({ topics: [{ topic: 'lso', numPartitions: 1 }] }), 'the topic');
  const tx = f.producer({ 'transactional.id': 'lso-tx' });
  const plain = f.producer();
  await f.wait(tx.connect(), 'the transactional producer to connect');
  await f.wait(plain.connect(), 'the plain producer to connect');
  const inTransaction = async (values: string[], end: 'commit' | 'abort' | 'leave open'): Promise<void> => {
    await f.wait(tx.transaction(), 'a transaction to begin');
    await f.wait(tx.send({ topic: 'lso', messages: values.map((value) => ({ value })) }), `${values.join(',')} to be sent`);
    if (end === 'commit') await f.wait(tx.commit(), 'the commit');
    if (end === 'abort') await f.wait(tx.abort(), 'the abort');
  };

  await inTransaction(['a1', 'a2'], 'commit'); // offsets 0, 1; marker 2
  await inTransaction(['b1', 'b2'], 'abort'); // offsets 3, 4; marker 5
  await f.wait(plain.send({ topic: 'lso', messages: [{ value: 'c1' }] }), 'a plain record'); // offset 6
  await inTransaction(['d1'], 'leave open'); // offset 7, open

  const offsets = async (isolationLevel: number): Promise<string> => (await f.wait(admin.fetchTopicOffsets('lso', { isolationLevel }), 'ListOffsets'))[0]!.high;
  assert.equal(await offsets(READ_UNCOMMITTED), '8', 'the high watermark counts the open record');
  assert.equal(await offsets(READ_COMMITTED), '7', 'the last stable offset is the open transaction\'s first offset');

  const stable = await readTopic(f, 'lso', (rs) => rs.some((r) => r.value === 'c1'), { isolation: 'read_committed' });
  assert.deepEqual(stable.map((r) => [r.offset, r.value]), [[0, 'a1'], [1, 'a2'], [6, 'c1']]);
  const everything = await readTopic(f, 'lso', (rs) => rs.some((r) => r.value === 'd1'), { isolation: 'read_uncommitted' });
  assert.deepEqual(everything.map((r) => [r.offset, r.value]), [[0, 'a1'], [1, 'a2'], [3, 'b1'], [4, 'b2'], [6, 'c1'], [7, 'd1']]);

  await f.wait(tx.commit(), 'the open transaction to commit');
  assert.equal(await offsets(READ_COMMITTED), '9', 'after the commit marker the last stable offset is the high watermark');
  const committed = await readTopic(f, 'lso', (rs) => rs.some((r) => r.value === 'd1'), { isolation: 'read_committed' });
  assert.deepEqual(committed.map((r) => [r.offset, r.value]), [[0, 'a1'], [1, 'a2'], [6, 'c1'], [7, 'd1']]);
});
