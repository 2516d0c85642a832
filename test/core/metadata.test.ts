import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FORMAT_VERSION, METADATA_LOG_CONFIG, METADATA_LOG_NAME, MetadataStore } from '../../src/core/metadata.js';
import { MemoryLogFactory } from '../../src/core/log-factory.js';
import { isBrokerError } from '../../src/core/broker-error.js';
import { MemoryLog } from '../../src/storage/memory-log.js';
import { decodeRecords } from '../../src/storage/record-batch.js';
import type { StreamDefinition } from '../../src/core/stream.js';

const T = { timeout: 5000 };

const orders: StreamDefinition = { name: 'orders', partitions: 3, subjects: ['orders'], retention: 'limits', storage: 'file', configs: { 'retention.ms': '1000' } };

test('state written is the state replayed from the same log', T, async () => {
  const factory = new MemoryLogFactory();
  const store = await MetadataStore.open(factory);
  assert.equal(store.formatVersion, FORMAT_VERSION);
  await store.put('stream', 'orders', orders);
  await store.put('exchange', 'amq.topic', { type: 'topic', durable: true });
  await store.put('cursor', 'orders/billing', { ackFloor: [0, 4, 2] });
  await store.put('stream', 'orders', { ...orders, partitions: 6 });
  const before = store.dump();
  await store.close();

  const again = await MetadataStore.open(factory);
  assert.deepEqual(again.dump(), before);
  assert.equal(again.get('stream', 'orders')?.partitions, 6);
  assert.deepEqual(again.list('cursor'), [{ name: 'orders/billing', value: { ackFloor: [0, 4, 2] } }]);
  assert.deepEqual(again.kinds(), ['cursor', 'exchange', 'stream']);
  await again.close();
});

test('a tombstone removes an entry, and survives replay', T, async () => {
  const factory = new MemoryLogFactory();
  const store = await MetadataStore.open(factory);
  await store.put('queue', 'q1', { durable: true });
  await store.put('queue', 'q2', { durable: true });
  await store.delete('queue', 'q1');
  assert.equal(store.get('queue', 'q1'), undefined);
  assert.equal(store.has('queue', 'q2'), true);
  await store.close();

  const log = await factory.open(METADATA_LOG_NAME, METADATA_LOG_CONFIG, 'file');
  const records = decodeRecords((await log.read(0, 1 << 20)).records);
  const last = records[records.length - 1];
  assert.equal(last.key!.toString(), 'queue/q1');
  assert.equal(last.value, null, 'the delete is a null-valued record');
  await log.close();

  const again = await MetadataStore.open(factory);
  assert.deepEqual(again.list('queue').map((e) => e.name), ['q2']);
  await again.put('queue', 'q1', { durable: false });
  assert.deepEqual(again.get('queue', 'q1'), { durable: false });
  await again.close();
});

test('puts resolve after the append is in the log, then emit change', T, async () => {
  const log = new MemoryLog();
  const store = await MetadataStore.fromLog(log);
  const changes: unknown[] = [];
  store.on('change', (kind, name, value) => changes.push([kind, name, value]));
  const hwBefore = log.highWatermark;
  const value = { tags: ['a'] };
  await store.put('user', 'alice', value as never);
  assert.equal(log.highWatermark, hwBefore + 1);
  value.tags.push('mutated');
  assert.deepEqual(store.get('user', 'alice'), { tags: ['a'] }, 'the store keeps its own copy');
  await store.delete('user', 'alice');
  assert.deepEqual(changes, [
    ['user', 'alice', { tags: ['a'] }],
    ['user', 'alice', null],
  ]);
  await store.close();
  await assert.rejects(store.put('user', 'bob', {} as never), (e: unknown) => isBrokerError(e, 'TRIB_LOG_CLOSED'));
});

test('unknown kinds are kept; malformed records are skipped with a warning', T, async () => {
  const log = new MemoryLog();
  await log.appendRecords([
    { key: Buffer.from('_format/version'), value: Buffer.from('{"version":1}') },
    { key: Buffer.from('federation-link/upstream-1'), value: Buffer.from('{"uri":"amqp://x"}') },
    { key: Buffer.from('stream/broken'), value: Buffer.from('{not json') },
    { key: Buffer.from('no-slash'), value: Buffer.from('{}') },
    { key: null, value: Buffer.from('{}') },
    { key: Buffer.from('stream/ok'), value: Buffer.from(JSON.stringify(orders)) },
  ]);
  const warnings: string[] = [];
  const store = await MetadataStore.fromLog(log, { warn: (_obj, m) => warnings.push(m) });
  assert.deepEqual(store.list('federation-link'), [{ name: 'upstream-1', value: { uri: 'amqp://x' } }]);
  assert.deepEqual(store.list('stream').map((e) => e.name), ['ok']);
  assert.equal(warnings.length, 2);
  assert.equal(store.formatVersion, 1);
});

test('a newer format version refuses to boot', T, async () => {
  const log = new MemoryLog();
  await log.appendRecords([{ key: Buffer.from('_format/version'), value: Buffer.from('{"version":99}') }]);
  await assert.rejects(MetadataStore.fromLog(log), (e: unknown) => isBrokerError(e, 'TRIB_DATA_DIR_INCOMPATIBLE'));
});

test('the format record is written once, first', T, async () => {
  const factory = new MemoryLogFactory();
  await (await MetadataStore.open(factory)).close();
  await (await MetadataStore.open(factory)).close();
  const log = await factory.open(METADATA_LOG_NAME, METADATA_LOG_CONFIG, 'file');
  const keys = decodeRecords((await log.read(0, 1 << 20)).records).map((r) => r.key!.toString());
  assert.deepEqual(keys, ['_format/version']);
});

test('kinds and names are checked', T, async () => {
  const store = await MetadataStore.fromLog(new MemoryLog());
  for (const [kind, name] of [['Bad', 'x'], ['a/b', 'x'], ['_format', 'version'], ['ok', '']]) {
    await assert.rejects(store.put(kind, name, {}), (e: unknown) => isBrokerError(e, 'TRIB_INVALID_NAME'), `${kind}/${name}`);
  }
  await assert.rejects(store.put('ok', 'x', null), (e: unknown) => isBrokerError(e, 'TRIB_INVALID_CONFIG'));
});

test('any sequence of puts and deletes replays to the same state as a model map', T, async () => {
  const op = fc.record({
    del: fc.boolean(),
    kind: fc.constantFrom('stream', 'queue', 'user', 'x-future'),
    name: fc.constantFrom('a', 'b', 'c/d', 'ü'),
    value: fc.jsonValue().filter((v) => v !== null),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 30 }), async (ops) => {
      const factory = new MemoryLogFactory();
      const store = await MetadataStore.open(factory);
      const model = new Map<string, unknown>();
      for (const o of ops) {
        if (o.del) {
          await store.delete(o.kind, o.name);
          model.delete(`${o.kind}\0${o.name}`);
        } else {
          await store.put(o.kind, o.name, o.value);
          model.set(`${o.kind}\0${o.name}`, JSON.parse(JSON.stringify(o.value)));
        }
      }
      await store.close();
      const again = await MetadataStore.open(factory);
      const flat = new Map<string, unknown>();
      for (const kind of again.kinds()) for (const { name, value } of again.list(kind)) flat.set(`${kind}\0${name}`, value);
      assert.deepEqual(flat, model);
      await again.close();
    }),
    { numRuns: 50 },
  );
});
