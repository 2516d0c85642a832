/**
 * A consumer group of three kafkajs consumers, two in this process and one in a child process
 * (rebalance-member.ts): the group rebalances when a member joins, when one leaves (disconnect, LeaveGroup) and
 * when one crashes (SIGKILL: only its session timing out tells the coordinator). After every rebalance each
 * partition is owned by exactly one member, and consumption resumes from the committed offsets: every record is
 * read, and none that was committed before the crash is read again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Consumer, Producer } from 'kafkajs';
import { startKafka, within, type KafkaFixture } from './harness.js';

const TOPIC = 'work';
const GROUP = 'trio';
const PARTITIONS = 6;
// Short, so the crash is noticed quickly; the harness lowers the broker's minimum session timeout to 1 s.
const SESSION_TIMEOUT_MS = 5000;
const ALL = Array.from({ length: PARTITIONS }, (_, i) => i);

/** The group as this test sees it: each member's latest assignment and every record each member read. */
class Observed extends EventEmitter {
  readonly assignments = new Map<string, number[]>();
  readonly reads: Array<{ value: string; by: string }> = [];

  joined(member: string, partitions: number[]): void {
    this.assignments.set(member, [...partitions].sort((a, b) => a - b));
    this.emit('change');
  }

  read(member: string, value: string): void {
    this.reads.push({ value, by: member });
    this.emit('change');
  }

  left(member: string): void {
    this.assignments.delete(member);
    this.emit('change');
  }

  /** Resolves when `pred` holds, re-checked after every join and read. */
  until(pred: () => boolean, what: string, ms = 20_000): Promise<void> {
    return within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (!pred()) return;
          this.off('change', check);
          resolve();
        };
        this.on('change', check);
        check();
      }),
      what,
      ms,
    );
  }

  /** True when the members named hold exactly these partition counts and together own every partition once. */
  balanced(counts: Record<string, number>): boolean {
    const owned: number[] = [];
    for (const [member, n] of Object.entries(counts)) {
      const a = this.assignments.get(member);
      if (a === undefined || a.length !== n) return false;
      owned.push(...a);
    }
    return JSON.stringify(owned.sort((a, b) => a - b)) === JSON.stringify(ALL);
  }

  seen(values: string[]): boolean {
    const got = new Set(this.reads.map((r) => r.value));
    return values.every((v) => got.has(v));
  }
}

async function member(f: KafkaFixture, name: string, obs: Observed): Promise<Consumer> {
  const consumer = f.track(f.kafka({ clientId: name }).consumer({ groupId: GROUP, sessionTimeout: SESSION_TIMEOUT_MS, rebalanceTimeout: 10_000, heartbeatInterval: 300, maxWaitTimeInMs: 100 }));
  consumer.on(consumer.events.GROUP_JOIN, (e) => obs.joined(name, e.payload.memberAssignment[TOPIC] ?? []));
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  await consumer.run({ autoCommitThreshold: 1, eachMessage: async ({ message }) => obs.read(name, message.value!.toString()) });
  return consumer;
}

async function produce(producer: Producer, batch: string, count: number): Promise<string[]> {
  const values = Array.from({ length: count }, (_, i) => `${batch}${i}`);
  await producer.send({ topic: TOPIC, acks: -1, messages: values.map((value, i) => ({ partition: i % PARTITIONS, value })) });
  return values;
}

test('three consumers rebalance on join, leave and crash; every partition stays owned and no record is lost', async (t) => {
  const f = await startKafka(t);
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });
  const producer = f.track(f.kafka().producer());
  await producer.connect();
  const obs = new Observed();
  const produced: string[] = [];

  // One member owns everything.
  await member(f, 'a', obs);
  await obs.until(() => obs.balanced({ a: 6 }), 'a owning all partitions');
  produced.push(...(await produce(producer, 'A', 60)));
  await obs.until(() => obs.seen(produced), 'batch A');

  // Join: b arrives, a rejoins, 3 + 3.
  const b = await member(f, 'b', obs);
  await obs.until(() => obs.balanced({ a: 3, b: 3 }), 'a and b sharing 3 + 3');

  // Join of a member in another process: 2 + 2 + 2.
  const child = fork(fileURLToPath(new URL('./rebalance-member.js', import.meta.url)), [String(f.port), GROUP, TOPIC, String(SESSION_TIMEOUT_MS)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const childExit = once(child, 'exit');
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  child.on('message', (m: { type: string; partitions?: number[]; value?: string }) => {
    if (m.type === 'join') obs.joined('c', m.partitions!);
    else if (m.type === 'message') obs.read('c', m.value!);
  });
  await obs.until(() => obs.balanced({ a: 2, b: 2, c: 2 }), 'a, b and the child sharing 2 + 2 + 2');
  produced.push(...(await produce(producer, 'B', 60)));
  await obs.until(() => obs.seen(produced), 'batch B');
  assert.deepEqual(new Set(obs.reads.filter((r) => r.value.startsWith('B')).map((r) => r.by)), new Set(['a', 'b', 'c']), 'all three members read batch B');

  // Leave: b disconnects (LeaveGroup), a and the child take 3 + 3 at once, without waiting for a session timeout.
  const leftAt = Date.now();
  await b.disconnect();
  obs.left('b');
  await obs.until(() => obs.balanced({ a: 3, c: 3 }), 'a and the child sharing 3 + 3 after b left');
  assert.ok(Date.now() - leftAt < SESSION_TIMEOUT_MS, 'a leave rebalances before a session timeout would');
  produced.push(...(await produce(producer, 'C', 60)));
  await obs.until(() => obs.seen(produced), 'batch C');

  // Everything so far is committed (the members commit after every batch) before the crash.
  const committedAll = async (): Promise<boolean> => {
    const [offsets] = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
    return offsets!.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0) === produced.length;
  };
  await within(
    (async () => {
      while (!(await committedAll())) await new Promise((resolve) => setTimeout(resolve, 100));
    })(),
    'the group committing batches A–C',
  );
  const readsBeforeCrash = obs.reads.length;

  // Crash: SIGKILL the child. Its partitions go quiet until its session times out; then a owns all six.
  child.kill('SIGKILL');
  await within(childExit, 'the child to die');
  const crashedAt = Date.now();
  produced.push(...(await produce(producer, 'D', 60)));
  await obs.until(() => obs.balanced({ a: 6 }), 'a owning all partitions after the crash', 30_000);
  assert.ok(Date.now() - crashedAt >= SESSION_TIMEOUT_MS - 1000, 'the crash was noticed by the session timeout, not earlier');
  await obs.until(() => obs.seen(produced), 'batch D, including the crashed member’s partitions');

  // Resumed from the committed offsets: after the crash only batch D was read, each record once.
  const after = obs.reads.slice(readsBeforeCrash).map((r) => r.value);
  assert.deepEqual([...after].sort(), produced.filter((v) => v.startsWith('D')).sort());
  // And over the whole run no record was read twice (every rebalance resumed from what was committed).
  const values = obs.reads.map((r) => r.value);
  assert.equal(new Set(values).size, values.length, 'no record read twice');
  assert.deepEqual([...new Set(values)].sort(), [...produced].sort());
  const described = await admin.describeGroups([GROUP]);
  assert.equal(described.groups[0]!.state, 'Stable');
  assert.equal(described.groups[0]!.members.length, 1);
});
