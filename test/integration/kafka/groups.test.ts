import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Consumer, EachMessagePayload } from 'kafkajs';
import { deferred, startKafka, within, type KafkaFixture } from './harness.js';

const CONSUMER = { sessionTimeout: 6000, rebalanceTimeout: 6000, heartbeatInterval: 300, maxWaitTimeInMs: 200 };

async function produce(f: KafkaFixture, topic: string, from: number, count: number): Promise<void> {
  const producer = f.track(f.kafka().producer());
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: Array.from({ length: count }, (_, i) => ({ key: `k${from + i}`, value: `m${from + i}` })) });
  await producer.disconnect();
}

/** Awaits the group join event of `c` with a timeout. */
function joined(c: Consumer): Promise<{ memberAssignment: { [topic: string]: number[] } }> {
  const d = deferred<{ memberAssignment: { [topic: string]: number[] } }>();
  const off = c.on(c.events.GROUP_JOIN, (e) => {
    off();
    d.resolve(e.payload as unknown as { memberAssignment: { [topic: string]: number[] } });
  });
  return within(d.promise, 'group join');
}

test('a group of two consumers shares the partitions, receives every message once, and rebalances when one leaves', async (t) => {
  const f = await startKafka(t);
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'shared', numPartitions: 4 }] });
  const seen = new Map<string, string>();
  const dupes: string[] = [];
  let total = 0;
  let target = deferred();
  let want = 0;
  const handler = (name: string) => async ({ message }: EachMessagePayload) => {
    const v = message.value!.toString();
    if (seen.has(v)) dupes.push(v);
    seen.set(v, name);
    total++;
    if (seen.size >= want) target.resolve();
  };
  const c1 = f.track(f.kafka({ clientId: 'c1' }).consumer({ groupId: 'pair', ...CONSUMER }));
  const c2 = f.track(f.kafka({ clientId: 'c2' }).consumer({ groupId: 'pair', ...CONSUMER }));
  for (const c of [c1, c2]) {
    await c.connect();
    await c.subscribe({ topic: 'shared', fromBeginning: true });
  }
  const j1 = joined(c1);
  await c1.run({ eachMessage: handler('c1') });
  await j1;
  // c2 joins: c1 must rejoin (heartbeat says REBALANCE_IN_PROGRESS), and both end with 2 partitions each.
  const j1again = joined(c1);
  const j2 = joined(c2);
  await c2.run({ eachMessage: handler('c2') });
  const [a1, a2] = await Promise.all([j1again, j2]);
  assert.deepEqual([...a1.memberAssignment.shared, ...a2.memberAssignment.shared].sort(), [0, 1, 2, 3]);
  assert.equal(a1.memberAssignment.shared.length, 2);

  want = 100;
  await produce(f, 'shared', 0, 100);
  await within(target.promise, '100 messages');
  assert.equal(seen.size, 100);
  assert.deepEqual(dupes, []);
  assert.equal(new Set(seen.values()).size, 2, 'both consumers received messages');
  const described = await admin.describeGroups(['pair']);
  assert.equal(described.groups[0].state, 'Stable');
  assert.equal(described.groups[0].members.length, 2);
  assert.deepEqual((await admin.listGroups()).groups.map((g) => g.groupId), ['pair']);

  // c2 leaves: c1 takes over all four partitions and gets what is produced next.
  const j1last = joined(c1);
  await c2.disconnect();
  const last = await j1last;
  assert.deepEqual([...last.memberAssignment.shared].sort(), [0, 1, 2, 3]);
  target = deferred();
  want = 140;
  await produce(f, 'shared', 100, 40);
  await within(target.promise, '40 more messages');
  for (let i = 100; i < 140; i++) assert.equal(seen.get(`m${i}`), 'c1');
  assert.deepEqual(dupes, []);
  assert.equal(total, 140);
});

test('committed offsets survive a broker restart: a restarted consumer resumes after its last commit', async (t) => {
  const f = await startKafka(t);
  await produce(f, 'resume', 0, 30);
  const first = f.track(f.kafka().consumer({ groupId: 'resumer', ...CONSUMER }));
  await first.connect();
  await first.subscribe({ topic: 'resume', fromBeginning: true });
  const got1: string[] = [];
  const all30 = deferred();
  await first.run({
    eachMessage: async ({ message }) => {
      got1.push(message.value!.toString());
      if (got1.length === 30) all30.resolve();
    },
  });
  await within(all30.promise, '30 messages');
  await first.disconnect(); // commits on the way out
  const admin0 = f.track(f.kafka().admin());
  await admin0.connect();
  const committed = await admin0.fetchOffsets({ groupId: 'resumer', topics: ['resume'] });
  assert.equal(committed[0].partitions[0].offset, '30');
  await admin0.disconnect();

  await f.restart();
  await produce(f, 'resume', 30, 5);
  const second = f.track(f.kafka().consumer({ groupId: 'resumer', ...CONSUMER }));
  await second.connect();
  await second.subscribe({ topic: 'resume', fromBeginning: true });
  const got2: string[] = [];
  const five = deferred();
  await second.run({
    eachMessage: async ({ message }) => {
      got2.push(message.value!.toString());
      if (got2.length === 5) five.resolve();
    },
  });
  await within(five.promise, '5 new messages');
  assert.deepEqual(got2, ['m30', 'm31', 'm32', 'm33', 'm34']);
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  const groups = await admin.listGroups();
  assert.ok(groups.groups.some((g) => g.groupId === 'resumer'));
});
