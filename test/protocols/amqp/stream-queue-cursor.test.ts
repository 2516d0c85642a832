/**
 * Stream queues (x-queue-type stream) have no shared cursor: each consumer reads with its own (openReader), so
 * none is created, none is persisted, and one left by an earlier version is removed at the next start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConsumeMessage } from 'amqplib';
import { ANONYMOUS } from '../../../src/core/principal.js';
import { streamNameForQueue } from '../../../src/core/queue-registry.js';
import { startAdmin, within } from './admin-harness.js';

const STREAM_ARGS = { durable: true, arguments: { 'x-queue-type': 'stream' } };

test('a stream queue creates no shared cursor; a classic one does; consumers still read it from their offset', async (t) => {
  const f = await startAdmin(t);
  const ch = await (await f.connect()).createConfirmChannel();
  await ch.assertQueue('events', STREAM_ARGS);
  await ch.assertQueue('work', { durable: true });
  const stream = streamNameForQueue('events');
  assert.equal(f.broker.cursor(stream, 'queue'), undefined);
  assert.deepEqual(f.broker.metadata.list('cursor').filter(({ value }) => (value as { stream: string }).stream === stream), []);
  assert.ok(f.broker.cursor(streamNameForQueue('work'), 'queue') !== undefined, 'a classic queue keeps its shared cursor');

  for (const body of ['a', 'b']) ch.sendToQueue('events', Buffer.from(body));
  await within(ch.waitForConfirms(), 'confirms');
  await ch.prefetch(10);
  const got: string[] = [];
  let done!: () => void;
  const both = new Promise<void>((resolve) => (done = resolve));
  await ch.consume('events', (m: ConsumeMessage | null) => {
    if (m === null) return;
    got.push(m.content.toString());
    ch.ack(m);
    if (got.length === 2) done();
  }, { arguments: { 'x-stream-offset': 'first' } });
  await within(both, 'both stream messages');
  assert.deepEqual(got, ['a', 'b']);
  const listed = (await f.api('GET', '/api/queues/events')).body;
  assert.equal(listed.messages, 2);
  assert.equal(listed.unacked, 0);
  assert.equal(listed.consumers, 1);
});

test('a shared cursor an earlier version made for a stream queue is removed at the next start', async (t) => {
  const f = await startAdmin(t);
  const ch = await (await f.connect()).createChannel();
  await ch.assertQueue('legacy', STREAM_ARGS);
  const stream = streamNameForQueue('legacy');
  // What earlier versions did at declare.
  await f.broker.createCursor(ANONYMOUS, { stream, name: 'queue', mode: 'shared' });
  assert.ok(f.broker.cursor(stream, 'queue') !== undefined);

  await f.restart();
  assert.equal(f.broker.cursor(stream, 'queue'), undefined);
  assert.equal((await f.api('GET', '/api/queues/legacy')).body.name, 'legacy', 'the queue itself stays');
});
