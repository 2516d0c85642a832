/** status, group, queue and exchange verbs run as the built binary against `tributary serve`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServedBroker } from './served-broker.js';

const broker = useServedBroker();
const cli = broker.cli;

test('queue and exchange verbs declare, bind, describe, purge and delete', async () => {
  const ex = await cli(['exchange', 'create', 'cli-events', '--type', 'topic']);
  assert.equal(ex.code, 0, ex.stderr);
  const q = await cli(['queue', 'create', 'cli-jobs', '--arg', 'x-max-length=100']);
  assert.equal(q.code, 0, q.stderr);
  const bound = await cli(['exchange', 'bind', 'cli-events', 'cli-jobs', '--routing-key', 'job.*']);
  assert.equal(bound.code, 0, bound.stderr);
  assert.match(bound.stderr, /bound queue cli-jobs to cli-events with key job\.\*/);

  const exList = await cli(['exchange', 'list']);
  assert.match(exList.stdout, /^cli-events\s+topic\s+true\s+1$/m);
  const exDescribe = await cli(['exchange', 'describe', 'cli-events']);
  assert.match(exDescribe.stdout, /job\.\*/);

  const queues = await cli(['queue', 'list', '--json']);
  const listed = (JSON.parse(queues.stdout) as Array<{ name: string; arguments: Record<string, unknown> }>).find((x) => x.name === 'cli-jobs');
  assert.deepEqual(listed?.arguments, { 'x-max-length': 100 });
  const qDescribe = await cli(['queue', 'describe', 'cli-jobs']);
  assert.match(qDescribe.stdout, /^cli-events\s+job\.\*$/m);

  const purged = await cli(['queue', 'purge', 'cli-jobs']);
  assert.equal(purged.code, 0, purged.stderr);
  assert.match(purged.stderr, /purged 0 message/);

  const unbound = await cli(['exchange', 'unbind', 'cli-events', 'cli-jobs', '--routing-key', 'job.*']);
  assert.equal(unbound.code, 0, unbound.stderr);
  assert.equal((await cli(['queue', 'delete', 'cli-jobs', '--if-empty'])).code, 0);
  assert.equal((await cli(['exchange', 'delete', 'cli-events'])).code, 0);
  const gone = await cli(['exchange', 'describe', 'cli-events']);
  assert.equal(gone.code, 1);
  const badType = await cli(['exchange', 'bind', 'a', 'b', '--destination-type', 'topic']);
  assert.equal(badType.code, 2);
});

test('status names the version, the listeners and the totals', async () => {
  const human = await cli(['status']);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^broker:\s+http:\/\/127\.0\.0\.1:\d+ \(tributary \d+\.\d+\.\d+\)$/m);
  assert.match(human.stdout, /^kafka:\s+127\.0\.0\.1:\d+$/m);
  const json = JSON.parse((await cli(['status', '--json'])).stdout) as { version: string; uptimeMs: number; totals: { streams: number } };
  assert.ok(json.uptimeMs > 0);
  assert.equal(typeof json.totals.streams, 'number');
});

test('group list, describe with lag, and reset-offsets after a kafkajs consumer committed', async () => {
  const { Kafka, logLevel } = await import('kafkajs');
  const ports = await broker.process.ports();
  const kafka = new Kafka({ clientId: 'cli-test', brokers: [`127.0.0.1:${ports['kafka']}`], logLevel: logLevel.NOTHING });
  assert.equal((await cli(['topic', 'create', 'cli-group-topic'])).code, 0);
  assert.equal((await cli(['produce', 'cli-group-topic'], 'a\nb\nc\nd\n')).code, 0);
  const consumer = kafka.consumer({ groupId: 'cli-group', sessionTimeout: 6000 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: 'cli-group-topic', fromBeginning: true });
    let seen = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the consumer did not read 2 records in 20 s')), 20_000);
      void consumer.run({
        autoCommit: false,
        eachMessage: async ({ message, partition }) => {
          if (++seen === 2) {
            await consumer.commitOffsets([{ topic: 'cli-group-topic', partition, offset: String(Number(message.offset) + 1) }]);
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    const live = await cli(['group', 'list']);
    assert.match(live.stdout, /^cli-group\s+Stable\s+1\s+consumer$/m);
    const busy = await cli(['group', 'reset-offsets', 'cli-group', '--topic', 'cli-group-topic', '--to', 'earliest']);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /TRIB_GROUP_NOT_EMPTY/);
  } finally {
    await consumer.disconnect();
  }
  const described = await cli(['group', 'describe', 'cli-group']);
  assert.equal(described.code, 0, described.stderr);
  assert.match(described.stdout, /^cli-group-topic\s+0\s+2\s+4\s+2$/m);
  const reset = await cli(['group', 'reset-offsets', 'cli-group', '--topic', 'cli-group-topic', '--to', 'earliest', '--json']);
  assert.equal(reset.code, 0, reset.stderr);
  assert.deepEqual((JSON.parse(reset.stdout) as { offsets: unknown[] }).offsets, [{ topic: 'cli-group-topic', partition: 0, offset: 0 }]);
  const after = JSON.parse((await cli(['group', 'describe', 'cli-group', '--json'])).stdout) as { totalLag: number };
  assert.equal(after.totalLag, 4);
});
