/**
 * Reads a topic from the beginning with a fresh librdkafka consumer in a group of its own until `done` says the
 * records seen so far are enough, then disconnects it. Records arrive in the order the binding delivers them
 * (offset order within a partition).
 */
import type { Headers } from './binding.js';
import type { RdFixture } from './harness.js';

export interface ReadRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string;
  headers: Headers;
}

let readers = 0;

export async function readTopic(
  f: RdFixture,
  topic: string,
  done: (records: ReadRecord[]) => boolean,
  options: { isolation?: 'read_committed' | 'read_uncommitted' } = {},
): Promise<ReadRecord[]> {
  const consumer = f.consumer({
    'group.id': `reader-${process.pid}-${++readers}`,
    'auto.offset.reset': 'earliest',
    ...(options.isolation === undefined ? {} : { 'isolation.level': options.isolation }),
  });
  await f.wait(consumer.connect(), `a reader of ${topic} to connect`);
  await f.wait(consumer.subscribe({ topics: [topic] }), `a reader of ${topic} to subscribe`);
  const records: ReadRecord[] = [];
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      records.push({
        partition,
        offset: Number(message.offset),
        key: message.key === null ? null : message.key.toString(),
        value: message.value === null ? '' : message.value.toString(),
        headers: message.headers ?? {},
      });
      if (done(records)) finish();
    },
  });
  await f.wait(finished, `the records of ${topic} (${records.length} read so far)`);
  await f.wait(consumer.disconnect(), `a reader of ${topic} to disconnect`);
  return records;
}
