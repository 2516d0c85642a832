import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { Stream, SUBJECT_HEADER, REPLY_TO_HEADER, messageToRecord, recordToMessage, resolveStreamDefinition, validateStreamName } from '../../src/core/stream.js';
import { FileLogFactory, MemoryLogFactory, parseLogName } from '../../src/core/log-factory.js';
import { isBrokerError } from '../../src/core/broker-error.js';
import type { Message } from '../../src/core/message.js';
import { decodeRecords, encodeRecordBatch, iterateBatches, readBatchHeader, ATTR_TIMESTAMP_TYPE_LOG_APPEND } from '../../src/storage/record-batch.js';

const T = { timeout: 5000 };

function msg(subject: string, key: string | null, value = 'v', extra: Partial<Message> = {}): Message {
  return { subject, key: key === null ? null : Buffer.from(key), value: Buffer.from(value), headers: [], timestamp: Date.now(), ...extra };
}

function batchCount(buf: Buffer): number {
  return [...iterateBatches(buf)].length;
}

/** Kafka's own test vectors for Utils.murmur2 (clients/src/test/.../UtilsTest.java testMurmur2). */
const KAFKA_MURMUR2: Array<[string, number]> = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['abc', 479470107],
];

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: string, mention?: string): Promise<void> {
  await assert.rejects(async () => (typeof p === 'function' ? p() : p), (err: unknown) => {
    assert.ok(isBrokerError(err), `expected BrokerError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (mention !== undefined) assert.match(err.message, new RegExp(mention.replace(/[.]/g, '\\.')));
    return true;
  });
}

test('stream names follow Kafka topic rules and reserve __ for internal streams', () => {
  for (const ok of ['orders', 'a.b-c_d', 'A9', 'x'.repeat(249), '...', '.a']) validateStreamName(ok);
  for (const bad of ['', '.', '..', 'a/b', 'a b', 'x'.repeat(250), 'ü', 'a*']) {
    assert.throws(() => validateStreamName(bad), (e: unknown) => isBrokerError(e, 'TRIB_INVALID_NAME'), bad);
  }
  assert.throws(() => validateStreamName('__consumer_offsets'), (e: unknown) => isBrokerError(e, 'TRIB_INVALID_NAME'));
  validateStreamName('__consumer_offsets', true);
});

test('log names cannot escape the data directory', () => {
  assert.deepEqual(parseLogName('orders/3'), { stream: 'orders', partition: 3 });
  for (const bad of ['../x/0', 'a/b/0', 'orders', 'orders/-1', 'orders/01', '../0', './0']) {
    assert.throws(() => parseLogName(bad), (e: unknown) => isBrokerError(e, 'TRIB_INVALID_NAME'), bad);
  }
});

test('configs are validated and errors name the key', async () => {
  const cases: Array<[{ [k: string]: string }, string]> = [
    [{ 'retention.ms': 'soon' }, 'retention.ms'],
    [{ 'retention.ms': '-2' }, 'retention.ms'],
    [{ 'cleanup.policy': 'forever' }, 'cleanup.policy'],
    [{ 'segment.bytes': '10' }, 'segment.bytes'],
    [{ 'max.message.bytes': '1.5' }, 'max.message.bytes'],
    [{ 'message.timestamp.type': 'WallClock' }, 'message.timestamp.type'],
    [{ 'no.such.config': '1' }, 'no.such.config'],
    [{ subjects: 'a..b' }, 'subjects'],
  ];
  for (const [configs, key] of cases) {
    await rejectsWith(() => resolveStreamDefinition({ name: 's', configs }), 'TRIB_INVALID_CONFIG', key);
  }
  await rejectsWith(() => resolveStreamDefinition({ name: 's', maxAgeMs: 5, configs: { 'retention.ms': '6' } }), 'TRIB_INVALID_CONFIG', 'retention.ms');
  await rejectsWith(() => resolveStreamDefinition({ name: 's', retention: 'workqueue', configs: { 'cleanup.policy': 'compact' } }), 'TRIB_INVALID_CONFIG', 'cleanup.policy');
  await rejectsWith(() => resolveStreamDefinition({ name: 's', partitions: 0 }), 'TRIB_INVALID_CONFIG', 'partitions');
  await rejectsWith(() => resolveStreamDefinition({ name: 's', subjects: ['a.>.b'] }), 'TRIB_SUBJECT_INVALID');

  const def = resolveStreamDefinition({ name: 's', maxMessages: 10, configs: { 'cleanup.policy': ' delete , compact ', 'retention.ms': '0100' } });
  assert.equal(def.retention, 'compact');
  assert.deepEqual(def.configs, { 'retention.messages': '10', 'cleanup.policy': 'compact,delete', 'retention.ms': '100' });
  assert.equal(resolveStreamDefinition({ name: 'c', retention: 'compact' }).configs['cleanup.policy'], 'compact');
});

test('subjects default to the stream name, plus the subjects config', T, async () => {
  const f = new MemoryLogFactory();
  const a = await Stream.open(f, { name: 'a.b', configs: { subjects: 'sensors.>,alerts.*' } });
  assert.deepEqual(a.subjects, ['a.b', 'sensors.>', 'alerts.*']);
  const b = await Stream.open(f, { name: 'ORDERS', subjects: ['orders.*'] });
  assert.deepEqual(b.subjects, ['orders.*']);
  const c = await Stream.open(f, { name: '__internal' }, { allowInternal: true });
  assert.deepEqual(c.subjects, []);
  const d = await Stream.open(f, { name: 'a..b' });
  assert.deepEqual(d.subjects, [], 'a name that is not a valid subject captures nothing by default');
  await Promise.all([a, b, c, d].map((s) => s.close()));
});

test('keyed messages land on the partition Kafka\'s default partitioner picks', T, async () => {
  const f = new MemoryLogFactory();
  for (const partitions of [1, 2, 3, 7, 12]) {
    const s = await Stream.open(f, { name: `keyed-${partitions}`, partitions, storage: 'memory' });
    const acks = await Promise.all(KAFKA_MURMUR2.map(([key]) => s.publish(msg(s.name, key))));
    KAFKA_MURMUR2.forEach(([key, hash], i) => {
      // Utils.toPositive(Utils.murmur2(keyBytes)) % numPartitions
      assert.equal(acks[i].partition, (hash & 0x7fffffff) % partitions, `key ${key} with ${partitions} partitions`);
    });
    await s.close();
  }
});

test('the same key always maps to the same partition', T, async () => {
  const s = await Stream.open(new MemoryLogFactory(), { name: 'prop', partitions: 5, storage: 'memory' });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (key) => {
      const p = s.partitionFor(Buffer.from(key));
      assert.ok(p >= 0 && p < 5);
      assert.equal(s.partitionFor(Buffer.from(key)), p);
    }),
  );
  await s.close();
});

test('100 publishes in one tick become one batch per partition, each publisher with its own offset', T, async () => {
  const f = new MemoryLogFactory();
  const s = await Stream.open(f, { name: 'batched', partitions: 3 });
  const pending = [];
  for (let i = 0; i < 100; i++) pending.push(s.publish(msg('batched', `key-${i}`, `value-${i}`)));
  const acks = await Promise.all(pending);

  const byPartition = new Map<number, number[]>();
  acks.forEach((a) => byPartition.set(a.partition, [...(byPartition.get(a.partition) ?? []), a.offset]));
  assert.equal(byPartition.size, 3, 'keys spread over every partition');
  for (let p = 0; p < 3; p++) {
    const offsets = byPartition.get(p)!;
    assert.deepEqual(offsets, offsets.map((_, i) => i), 'offsets 0..n-1 in publish order');
    const { records } = await s.read(p, 0, 1 << 20);
    assert.equal(batchCount(records), 1, `partition ${p} holds exactly one batch`);
    assert.equal(readBatchHeader(records).recordsCount, offsets.length);
  }
  // Each publisher's offset points at its own record.
  for (let i = 0; i < 100; i += 17) {
    const [stored] = await s.readMessages(acks[i].partition, acks[i].offset, 1 << 20);
    assert.equal(stored.message.value!.toString(), `value-${i}`);
  }
  await s.close();
});

test('unkeyed messages stick to one partition per tick and move round-robin between ticks', T, async () => {
  const s = await Stream.open(new MemoryLogFactory(), { name: 'sticky', partitions: 3, storage: 'memory' });
  const seen: number[] = [];
  for (let tick = 0; tick < 4; tick++) {
    const acks = await Promise.all(Array.from({ length: 10 }, () => s.publish(msg('sticky', null))));
    assert.equal(new Set(acks.map((a) => a.partition)).size, 1);
    seen.push(acks[0].partition);
  }
  assert.deepEqual(seen, [0, 1, 2, 0]);
  for (let p = 0; p < 3; p++) {
    const { records } = await s.read(p, 0, 1 << 20);
    assert.equal(batchCount(records), p === 0 ? 2 : 1);
  }
  await s.close();
});

test('the subject header is stored only when the subject differs from the stream name', T, async () => {
  const s = await Stream.open(new MemoryLogFactory(), { name: 'a.b', storage: 'memory' });
  await s.publish(msg('a.b', null, 'same', { headers: [{ key: 'h', value: Buffer.from('1') }] }));
  await s.publish(msg('sensors.x', null, 'other', { replyTo: '_INBOX.1' }));
  // A publisher cannot forge the subject of a record.
  await s.publish(msg('a.b', null, 'forged', { headers: [{ key: SUBJECT_HEADER, value: Buffer.from('evil') }] }));

  const raw = decodeRecords((await s.read(0, 0, 1 << 20)).records);
  assert.deepEqual(raw[0].headers.map((h) => h.key), ['h']);
  assert.deepEqual(raw[1].headers.map((h) => [h.key, h.value?.toString()]), [
    [SUBJECT_HEADER, 'sensors.x'],
    [REPLY_TO_HEADER, '_INBOX.1'],
  ]);
  assert.deepEqual(raw[2].headers, []);

  const messages = await s.readMessages(0, 0, 1 << 20);
  assert.deepEqual(messages.map((m) => [m.offset, m.message.subject, m.message.replyTo, m.message.value?.toString()]), [
    [0, 'a.b', undefined, 'same'],
    [1, 'sensors.x', '_INBOX.1', 'other'],
    [2, 'a.b', undefined, 'forged'],
  ]);
  assert.deepEqual(messages[0].message.headers.map((h) => h.key), ['h']);
  assert.deepEqual(messages[1].message.headers, []);
  await s.close();
});

test('messageToRecord and recordToMessage are inverse for any subject, reply and headers', () => {
  const token = fc.stringMatching(/^[a-z0-9_-]{1,6}$/);
  const subject = fc.array(token, { minLength: 1, maxLength: 4 }).map((t) => t.join('.'));
  fc.assert(
    fc.property(
      subject,
      fc.option(subject, { nil: undefined }),
      fc.array(fc.record({ key: fc.stringMatching(/^[a-z]{1,8}$/), value: fc.option(fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)), { nil: null }) }), { maxLength: 3 }),
      (subj, replyTo, headers) => {
        const m: Message = { subject: subj, key: null, value: Buffer.from('x'), headers, timestamp: 5 };
        if (replyTo !== undefined) m.replyTo = replyTo;
        const rec = messageToRecord('stream.name', m);
        const back = recordToMessage('stream.name', { offset: 0, timestamp: 5, key: null, value: rec.value, headers: rec.headers ?? [] });
        assert.equal(back.subject, subj);
        assert.equal(back.replyTo, replyTo);
        assert.deepEqual(back.headers, headers);
      },
    ),
  );
});

test('appendBatch passes Kafka batches through and validates them', T, async () => {
  const s = await Stream.open(new MemoryLogFactory(), { name: 'kafka', partitions: 2, maxMessageBytes: 1024 });
  const batch = encodeRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('v1'), timestamp: 42 }, { value: Buffer.from('v2'), timestamp: 43 }]);
  const copy = Buffer.from(batch);
  const res = await s.appendBatch(1, batch);
  assert.deepEqual([res.baseOffset, res.lastOffset], [0, 1]);
  const res2 = await s.appendBatch(1, Buffer.from(copy));
  assert.deepEqual([res2.baseOffset, res2.lastOffset], [2, 3]);
  const { records } = await s.read(1, 0, 1 << 20);
  // Everything after the base offset is byte-for-byte what the producer sent.
  assert.deepEqual(records.subarray(8, copy.length), copy.subarray(8));
  assert.deepEqual(decodeRecords(records).map((r) => r.offset), [0, 1, 2, 3]);

  const corrupt = Buffer.from(copy);
  corrupt[corrupt.length - 1] ^= 0xff;
  await rejectsWith(s.appendBatch(0, corrupt), 'TRIB_CORRUPT_RECORD');
  await rejectsWith(s.appendBatch(0, Buffer.alloc(0)), 'TRIB_CORRUPT_RECORD');
  await rejectsWith(s.appendBatch(0, encodeRecordBatch([{ value: Buffer.alloc(2000) }])), 'TRIB_MESSAGE_TOO_LARGE');
  await rejectsWith(s.appendBatch(2, Buffer.from(copy)), 'TRIB_PARTITION_NOT_FOUND');
  // Two batches in one buffer: both appended in order, or — if either is bad — neither.
  const two = Buffer.concat([copy, copy]);
  assert.deepEqual(await s.appendBatch(0, two).then((r) => [r.baseOffset, r.lastOffset]), [0, 3]);
  await rejectsWith(s.appendBatch(0, Buffer.concat([copy, corrupt])), 'TRIB_CORRUPT_RECORD');
  await rejectsWith(s.appendBatch(0, copy.subarray(0, copy.length - 1)), 'TRIB_CORRUPT_RECORD');
  assert.equal(s.offsets(0).endOffset, 4, 'nothing was appended by the failures');
  await s.close();
});

test('LogAppendTime stamps broker time on both write paths', T, async () => {
  const s = await Stream.open(new MemoryLogFactory(), { name: 'lat', configs: { 'message.timestamp.type': 'LogAppendTime' } }, { now: () => 99_000 });
  await s.appendBatch(0, encodeRecordBatch([{ value: Buffer.from('k'), timestamp: 1 }]));
  await s.publish(msg('lat', null));
  const { records } = await s.read(0, 0, 1 << 20);
  for (const { position } of iterateBatches(records)) {
    assert.ok((readBatchHeader(records, position).attributes & ATTR_TIMESTAMP_TYPE_LOG_APPEND) !== 0);
  }
  assert.deepEqual(decodeRecords(records).map((r) => r.timestamp), [99_000, 99_000]);
  await s.close();
});

test('publish refuses an oversized message and splits a tick at max.message.bytes', T, async () => {
  const s = await Stream.open(new MemoryLogFactory(), { name: 'small', maxMessageBytes: 400 });
  await rejectsWith(s.publish(msg('small', null, 'x'.repeat(400))), 'TRIB_MESSAGE_TOO_LARGE', 'max.message.bytes');
  const acks = await Promise.all(Array.from({ length: 10 }, (_, i) => s.publish(msg('small', null, `${i}`.padEnd(100, '.')))));
  assert.deepEqual(acks.map((a) => a.offset), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const { records } = await s.read(0, 0, 1 << 20);
  assert.ok(batchCount(records) > 1);
  for (const { size } of iterateBatches(records)) assert.ok(size <= 400);
  await s.close();
});

test('retention.messages keeps the newest records of each partition', T, async () => {
  const s = await Stream.open(new MemoryLogFactory(), { name: 'count', maxMessages: 5, storage: 'memory' });
  for (let i = 0; i < 12; i++) await s.publish(msg('count', null, `${i}`));
  await s.enforceRetention();
  assert.deepEqual(s.offsets(0), { startOffset: 7, endOffset: 12, highWatermark: 12 });
  const left = await s.readMessages(0, 7, 1 << 20);
  assert.deepEqual(left.map((m) => m.message.value!.toString()), ['7', '8', '9', '10', '11']);
  await s.close();
});

test('a workqueue deletes below the lowest ack floor of all cursors', T, async () => {
  const s = await Stream.open(new MemoryLogFactory(), { name: 'work', retention: 'workqueue', storage: 'memory' });
  for (let i = 0; i < 10; i++) await s.publish(msg('work', null, `${i}`));
  await s.enforceRetention();
  assert.equal(s.offsets(0).startOffset, 0, 'nothing is deleted before any cursor reports');
  s.setAckFloor(0, 6, 'fast');
  s.setAckFloor(0, 3, 'slow');
  assert.equal(s.ackFloor(0), 3);
  await s.enforceRetention();
  assert.equal(s.offsets(0).startOffset, 3);
  s.removeCursor('slow');
  await s.enforceRetention();
  assert.equal(s.offsets(0).startOffset, 6);
  assert.throws(() => s.setAckFloor(4, 1), (e: unknown) => isBrokerError(e, 'TRIB_PARTITION_NOT_FOUND'));
  await s.close();
});

test('age retention drops old batches in limits mode but never in compact mode', T, async () => {
  const f = new MemoryLogFactory();
  const limits = await Stream.open(f, { name: 'aged', maxAgeMs: 1000 });
  const compact = await Stream.open(f, { name: 'kept', retention: 'compact', maxAgeMs: 1000 });
  for (const s of [limits, compact]) {
    for (let i = 0; i < 3; i++) await s.publish(msg(s.name, `k${i}`, `${i}`, { timestamp: 1000 + i }));
    await s.enforceRetention(1_000_000);
  }
  assert.equal(limits.offsets(0).startOffset, 2, 'the newest batch is always kept');
  assert.equal(compact.offsets(0).startOffset, 0);
  await Promise.all([limits.close(), compact.close()]);
});

test('a reopened stream has its definition, data and offsets; addPartitions grows it', T, async () => {
  const f = new MemoryLogFactory();
  const s = await Stream.open(f, { name: 'orders', partitions: 2, configs: { 'retention.ms': '60000' } });
  await s.publish(msg('orders', null, 'first'), 1);
  assert.equal(await s.addPartitions(2), 4);
  const ack = await s.publish(msg('orders', null, 'on-new'), 3);
  assert.deepEqual(ack, { partition: 3, offset: 0 });
  const def = s.definition();
  await s.close();
  await rejectsWith(s.publish(msg('orders', null)), 'TRIB_LOG_CLOSED');

  const again = await Stream.open(f, JSON.parse(JSON.stringify(def)));
  assert.deepEqual(again.definition(), def);
  assert.equal(again.partitionCount, 4);
  assert.equal(again.configValue('retention.ms'), '60000');
  assert.equal(again.logConfig.retentionMs, 60000);
  assert.equal((await again.readMessages(1, 0, 1 << 20))[0].message.value!.toString(), 'first');
  assert.deepEqual(again.offsets(3), { startOffset: 0, endOffset: 1, highWatermark: 1 });
  await again.delete();
  assert.deepEqual(f.names(), []);
});

test('close flushes publishes still queued for the tick', T, async () => {
  const s = await Stream.open(new MemoryLogFactory(), { name: 'closing' });
  const pending = [s.publish(msg('closing', null, 'a')), s.publish(msg('closing', null, 'b'))];
  await s.close();
  assert.deepEqual((await Promise.all(pending)).map((a) => a.offset), [0, 1]);
});

test('alterConfigs validates all-or-nothing and applies to the logs', T, async () => {
  const s = await Stream.open(new MemoryLogFactory(), { name: 'alter' });
  await rejectsWith(() => s.alterConfigs({ 'retention.ms': '5', 'segment.bytes': 'big' }), 'TRIB_INVALID_CONFIG', 'segment.bytes');
  assert.equal(s.configValue('retention.ms'), String(7 * 24 * 3600 * 1000));
  s.alterConfigs({ 'retention.ms': '5', 'cleanup.policy': 'compact', subjects: 'x.>' });
  assert.equal(s.partitionLog(0).config.retentionMs, 5);
  assert.equal(s.retention, 'compact');
  assert.deepEqual(s.subjects, ['alter', 'x.>']);
  s.alterConfigs({ 'cleanup.policy': null });
  assert.equal(s.retention, 'limits');
  const entry = s.configEntries().find((e) => e.name === 'retention.ms')!;
  assert.deepEqual([entry.value, entry.isDefault], ['5', false]);
  await s.close();
});

test('offsetForTimestamp and capture go through to the partition', T, async () => {
  const s = await Stream.open(new MemoryLogFactory(), { name: 'ts' });
  await s.capture(msg('ts', null, 'a', { timestamp: 100 }));
  await s.capture(msg('ts', null, 'b', { timestamp: 200 }));
  assert.deepEqual(await s.offsetForTimestamp(0, 150), { offset: 1, timestamp: 200 });
  assert.equal(await s.offsetForTimestamp(0, 300), null);
  await rejectsWith(s.read(0, 5, 100), 'TRIB_OFFSET_OUT_OF_RANGE');
  await s.close();
  let unhandled: unknown;
  const onUnhandled = (reason: unknown): void => {
    unhandled = reason;
  };
  process.on('unhandledRejection', onUnhandled);
  s.capture(msg('ts', null)); // fire-and-forget, as an at-most-once router would
  await new Promise((resolve) => setImmediate(resolve));
  process.off('unhandledRejection', onUnhandled);
  assert.equal(unhandled, undefined, 'an ignored capture failure is not an unhandled rejection');
  await rejectsWith(s.capture(msg('ts', null)), 'TRIB_LOG_CLOSED');
});

test('a file-backed stream survives close and reopen', T, async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trib-stream-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const f = new FileLogFactory(dir);
  const s = await Stream.open(f, { name: 'durable', partitions: 2 });
  const acks = await Promise.all(['a', 'b', 'c'].map((k) => s.publish(msg('durable', k, k))));
  const def = s.definition();
  await s.close();
  await fs.access(path.join(dir, 'streams', 'durable', '1'));
  const again = await Stream.open(f, def);
  for (const a of acks) {
    const [m] = await again.readMessages(a.partition, a.offset, 1 << 20);
    assert.equal(m.offset, a.offset);
  }
  await again.delete();
  await assert.rejects(fs.access(path.join(dir, 'streams', 'durable')));
});
