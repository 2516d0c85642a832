/**
 * A queue deleted through the HTTP API (not by the consumer's own connection) cancels its AMQP consumers with
 * basic.cancel, as RabbitMQ does when another connection deletes a queue: amqplib and rabbitmq-client both
 * announce consumer_cancel_notify. The connections stay open and usable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Connection } from 'rabbitmq-client';
import { startAdmin, within } from './admin-harness.js';

test('DELETE /api/queues/:name sends basic.cancel to amqplib consumers of the queue, in its vhost', async (t) => {
  const f = await startAdmin(t, { vhosts: ['v1'] });
  const conn = await f.connect('v1');
  const ch = await conn.createChannel();
  await ch.assertQueue('doomed', { durable: true });
  await ch.assertQueue('kept', { durable: true });
  let cancelled!: () => void;
  const cancel = new Promise<void>((resolve) => (cancelled = resolve));
  // amqplib calls the consumer with null when the server cancels it.
  await ch.consume('doomed', (m) => (m === null ? cancelled() : undefined));
  let keptGot!: (body: string) => void;
  const kept = new Promise<string>((resolve) => (keptGot = resolve));
  await ch.consume('kept', (m) => (m === null ? undefined : keptGot(m.content.toString())), { noAck: true });

  assert.equal((await f.api('DELETE', '/api/queues/doomed?vhost=v1')).status, 204);
  await within(cancel, 'basic.cancel for the deleted queue');
  // The channel is still open: the other consumer works, and declaring again is fine.
  ch.sendToQueue('kept', Buffer.from('still here'));
  await ch.assertQueue('doomed', { durable: true });
  assert.equal(await within(kept, 'the other consumer to get its message'), 'still here');
  assert.equal((await f.api('GET', '/api/queues/kept?vhost=v1')).body.consumers, 1);
  assert.equal((await f.api('GET', '/api/queues/doomed?vhost=v1')).body.consumers, 0);
});

test('rabbitmq-client consumers are told too (they re-subscribe after a declare)', async (t) => {
  const f = await startAdmin(t);
  const client = new Connection({ url: `amqp://guest:guest@127.0.0.1:${f.amqpPort}`, retryLow: 50, retryHigh: 300, connectionName: 'cancel-test' });
  client.on('error', () => undefined);
  t.after(() => within(client.close(), 'rabbitmq-client close', 3000).catch(() => client.unsafeDestroy()));
  await within(once(client, 'connection'), 'rabbitmq-client connection');
  await client.queueDeclare({ queue: 'rc-doomed', durable: true });
  const consumer = client.createConsumer({ queue: 'rc-doomed', queueOptions: { durable: true } }, async () => undefined);
  consumer.on('error', () => undefined);
  t.after(() => within(consumer.close(), 'consumer close', 3000).catch(() => undefined));
  await within(once(consumer, 'ready'), 'consumer ready');
  assert.equal((await f.api('GET', '/api/queues/rc-doomed')).body.consumers, 1);
  // rabbitmq-client reports a server cancel as an error on the consumer, then tries to consume again.
  const cancelled = within(once(consumer, 'error'), 'the consumer to see the cancel');
  assert.equal((await f.api('DELETE', '/api/queues/rc-doomed')).status, 204);
  const [err] = (await cancelled) as [Error & { code?: string }];
  assert.match(String(err.code ?? err.message), /CANCEL/i);
});
