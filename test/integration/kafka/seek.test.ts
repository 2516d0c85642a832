/**
 * kafkajs consumer.seek against the broker: back to an earlier offset re-reads from there; past the end, and
 * below a raised log start offset, Fetch answers OFFSET_OUT_OF_RANGE and kafkajs resets the way
 * auto.offset.reset says (fromBeginning: earliest, otherwise latest).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Consumer, Producer } from 'kafkajs';
import { startKafka, within, type KafkaFixture } from './harness.js';

const CONSUMER = { sessionTimeout: 6000, rebalanceTimeout: 6000, heartbeatInterval: 300, maxWaitTimeInMs: 100 };

interface Reader {
  consumer: Consumer;
  offsets: number[];
  /** The first group join. */
  joined: Promise<void>;
  /** Resolves once `pred` holds over the offsets read so far (checked after every message). */
  until(pred: (offsets: number[]) => boolean, what: string): Promise<void>;
}

async function reader(f: KafkaFixture, topic: string, fromBeginning: boolean): Promise<Reader> {
  const consumer = f.track(f.kafka().consumer({ groupId: `seek-${topic}`, ...CONSUMER }));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning });
  const offsets: number[] = [];
  const changed = new EventEmitter();
  const joined = within(new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve())), 'the group join');
  await consumer.run({
    eachMessage: async ({ message }) => {
      offsets.push(Number(message.offset));
      assert.equal(message.value!.toString(), `m${message.offset}`);
      changed.emit('change');
    },
  });
  const until = (pred: (o: number[]) => boolean, what: string): Promise<void> =>
    within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (pred(offsets)) {
            changed.off('change', check);
            resolve();
          }
        };
        changed.on('change', check);
        check();
      }),
      what,
    );
  return { consumer, offsets, joined, until };
}

async function produce(producer: Producer, topic: string, from: number, count: number): Promise<void> {
  await producer.send({ topic, acks: -1, messages: Array.from({ length: count }, (_, i) => ({ partition: 0, value: `m${from + i}` })) });
}

test('seek to an earlier offset re-reads from there, in order', async (t) => {
  const f = await startKafka(t);
  const producer = f.track(f.kafka().producer());
  await producer.connect();
  await produce(producer, 'rewind', 0, 20);
  const r = await reader(f, 'rewind', true);
  await r.until((o) => o.includes(19), 'the first pass');
  assert.deepEqual(r.offsets, Array.from({ length: 20 }, (_, i) => i));
  r.consumer.seek({ topic: 'rewind', partition: 0, offset: '5' });
  await r.until((o) => o.length === 35, 'the second pass from offset 5');
  assert.deepEqual(r.offsets.slice(20), Array.from({ length: 15 }, (_, i) => 5 + i));
});

test('seek past the end: OFFSET_OUT_OF_RANGE, then kafkajs resets to the earliest offset with fromBeginning', async (t) => {
  const f = await startKafka(t);
  const producer = f.track(f.kafka().producer());
  await producer.connect();
  await produce(producer, 'past-end', 0, 10);
  const r = await reader(f, 'past-end', true);
  await r.until((o) => o.includes(9), 'the first pass');
  r.consumer.seek({ topic: 'past-end', partition: 0, offset: '1000' });
  // The reset goes to the log start (0): everything is read again, nothing from beyond the end is invented.
  await r.until((o) => o.length === 20, 'the re-read after the reset');
  assert.deepEqual(r.offsets.slice(10), Array.from({ length: 10 }, (_, i) => i));
});

test('seek past the end without fromBeginning resets to the latest offset and reads only new records', async (t) => {
  const f = await startKafka(t);
  const producer = f.track(f.kafka().producer());
  await producer.connect();
  await produce(producer, 'latest', 0, 10);
  const r = await reader(f, 'latest', false);
  // When kafkajs resolves "latest" (its first Fetch) and when it resets after the seek (after its Fetch at 500
  // fails) are not observable from here, and records produced before either are rightly skipped: produce one
  // record at a time until one with an offset ≥ `from` is read.
  let next = 10;
  const produceUntilRead = async (from: number, what: string): Promise<void> => {
    let done = false;
    const reading = r.until((o) => o.some((x) => x >= from), what).then(() => void (done = true));
    while (!done && next < 400) {
      await produce(producer, 'latest', next++, 1);
      await Promise.race([reading, new Promise((resolve) => setTimeout(resolve, 100))]);
    }
    await reading;
  };
  await produceUntilRead(10, 'a record produced after the join');
  const beforeSeek = next;
  const readBeforeSeek = r.offsets.length;
  r.consumer.seek({ topic: 'latest', partition: 0, offset: '500' });
  await produceUntilRead(beforeSeek, 'a record produced after the seek');
  // Offsets 0–9 were never read: the reset went to the end, not to the beginning; and from the first record
  // read after the reset on, nothing is skipped.
  assert.ok(r.offsets.every((o) => o >= 10), `read ${r.offsets.join(',')}`);
  await produce(producer, 'latest', next, 1);
  await r.until((o) => o.includes(next), `offset ${next}`);
  const after = r.offsets.slice(readBeforeSeek).filter((o) => o >= beforeSeek);
  assert.deepEqual(after, Array.from({ length: after.length }, (_, i) => after[0]! + i));
  assert.equal(new Set(r.offsets).size, r.offsets.length, 'no record twice');
});

test('seek below a raised log start offset resets to the new earliest offset', async (t) => {
  const f = await startKafka(t);
  const producer = f.track(f.kafka().producer());
  await producer.connect();
  await produce(producer, 'trimmed', 0, 20);
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.fetchTopicMetadata({ topics: ['trimmed'] }); // kafkajs's deleteTopicRecords needs it loaded
  const r = await reader(f, 'trimmed', true);
  await r.until((o) => o.includes(19), 'the first pass');
  await admin.deleteTopicRecords({ topic: 'trimmed', partitions: [{ partition: 0, offset: '12' }] });
  r.consumer.seek({ topic: 'trimmed', partition: 0, offset: '3' });
  await r.until((o) => o.length === 28, 'the re-read from the new log start');
  assert.deepEqual(r.offsets.slice(20), Array.from({ length: 8 }, (_, i) => 12 + i));
});
