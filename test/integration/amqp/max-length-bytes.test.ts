/**
 * x-max-length-bytes with amqplib (RabbitMQ semantics: ready message body bytes): drop-head dead-letters the
 * oldest as maxlen, reject-publish nacks, reject-publish-dlx nacks and dead-letters; unacked messages do not
 * count; the count is right after a restart; the argument takes part in the equivalence check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Channel, ConfirmChannel, GetMessage } from 'amqplib';
import { drainQueue, startAmqp, within } from './harness.js';

function publishConfirmed(ch: ConfirmChannel, queue: string, body: string): Promise<boolean> {
  return within(new Promise<boolean>((resolve) => ch.sendToQueue(queue, Buffer.from(body), {}, (err) => resolve(err === null || err === undefined))), 'a confirm');
}

const drain = (ch: Channel, queue: string): Promise<string[]> => drainQueue(ch, queue);

test('x-max-length-bytes drop-head: the oldest messages are dead-lettered as maxlen until the ready bodies fit', async (t) => {
  const f = await startAmqp(t);
  const ch = await (await f.client()).createConfirmChannel();
  await ch.assertQueue('dead', { durable: false });
  await ch.assertQueue('bytes', { durable: false, arguments: { 'x-max-length-bytes': 10, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dead' } });
  for (const b of ['aaaa', 'bbbb', 'cccc']) assert.equal(await publishConfirmed(ch, 'bytes', b), true);
  await within(
    (async () => {
      while ((await ch.checkQueue('dead')).messageCount < 1) await new Promise((r) => setTimeout(r, 10));
    })(),
    'the dropped head in the dead-letter queue',
  );
  assert.equal((await ch.checkQueue('bytes')).messageCount, 2);
  const dropped = (await ch.get('dead', { noAck: true })) as GetMessage;
  assert.equal(dropped.content.toString(), 'aaaa');
  assert.equal((dropped.properties.headers?.['x-death'] as Array<{ reason: string }>)[0].reason, 'maxlen');
  assert.deepEqual(await drain(ch, 'bytes'), ['bbbb', 'cccc']);
  // One message larger than the limit on an empty queue is dropped at once (RabbitMQ drops it too).
  assert.equal(await publishConfirmed(ch, 'bytes', 'x'.repeat(11)), true);
  await within(
    (async () => {
      while ((await ch.checkQueue('bytes')).messageCount > 0) await new Promise((r) => setTimeout(r, 10));
    })(),
    'the oversized message to be dropped',
  );
});

test('x-max-length-bytes reject-publish nacks a publish that would exceed it; unacked messages do not count; reject-publish-dlx dead-letters the refused one', async (t) => {
  const f = await startAmqp(t);
  const ch = await (await f.client()).createConfirmChannel();
  await ch.assertQueue('rp', { durable: false, arguments: { 'x-max-length-bytes': 10, 'x-overflow': 'reject-publish' } });
  assert.equal(await publishConfirmed(ch, 'rp', 'aaaa'), true);
  assert.equal(await publishConfirmed(ch, 'rp', 'bbbb'), true);
  assert.equal(await publishConfirmed(ch, 'rp', 'cccc'), false, '12 bytes would exceed 10');
  assert.equal(await publishConfirmed(ch, 'rp', 'dd'), true, 'exactly 10 fits');
  assert.equal(await publishConfirmed(ch, 'rp', 'e'), false);
  // Taking one message out (unacked) frees its bytes.
  const got = (await ch.get('rp')) as GetMessage;
  assert.equal(got.content.toString(), 'aaaa');
  assert.equal(await publishConfirmed(ch, 'rp', 'ffff'), true);
  // Requeued, it counts again: now 14 bytes ready, over the limit, so nothing fits until some are consumed.
  ch.nack(got, false, true);
  assert.equal(await publishConfirmed(ch, 'rp', 'g'), false);
  assert.deepEqual((await drain(ch, 'rp')).sort(), ['aaaa', 'bbbb', 'dd', 'ffff']);
  assert.equal(await publishConfirmed(ch, 'rp', 'x'.repeat(10)), true);

  await ch.assertQueue('rp-dead', { durable: false });
  await ch.assertQueue('rpdlx', { durable: false, arguments: { 'x-max-length-bytes': 5, 'x-overflow': 'reject-publish-dlx', 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'rp-dead' } });
  assert.equal(await publishConfirmed(ch, 'rpdlx', 'abc'), true);
  assert.equal(await publishConfirmed(ch, 'rpdlx', 'def'), false);
  const dead = (await ch.get('rp-dead', { noAck: true })) as GetMessage;
  assert.equal(dead.content.toString(), 'def');
  assert.equal((dead.properties.headers?.['x-death'] as Array<{ reason: string }>)[0].reason, 'maxlen');
});

test('x-max-length-bytes counts the bytes still held after a restart; redeclaring with another value is 406', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'trib-amqp-bytes-'));
  const args = { 'x-max-length-bytes': 12, 'x-overflow': 'reject-publish' };
  {
    const f = await startAmqp(t, { dataDir });
    const ch = await (await f.client()).createConfirmChannel();
    await ch.assertQueue('kept', { durable: true, arguments: args });
    for (const b of ['aaaa', 'bbbb', 'cccc']) assert.equal(await publishConfirmed(ch, 'kept', b), true);
    const first = (await ch.get('kept')) as GetMessage;
    ch.ack(first);
    await ch.checkQueue('kept');
    await f.stop();
  }
  const f = await startAmqp(t, { dataDir });
  const conn = await f.client();
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('kept', { durable: true, arguments: args });
  assert.equal(await publishConfirmed(ch, 'kept', 'ddddd'), false, '8 held + 5 > 12');
  assert.equal(await publishConfirmed(ch, 'kept', 'dddd'), true, '8 held + 4 = 12');
  assert.deepEqual(await drain(ch, 'kept'), ['bbbb', 'cccc', 'dddd']);
  const other = await conn.createChannel();
  other.on('error', () => undefined);
  const err = await other.assertQueue('kept', { durable: true, arguments: { ...args, 'x-max-length-bytes': 13 } }).then(() => null, (e: Error) => e);
  assert.match(String(err), /406|PRECONDITION_FAILED/);
  await f.stop();
  await rm(dataDir, { recursive: true, force: true });
});
