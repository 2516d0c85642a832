/**
 * connection.blocked / connection.unblocked with amqplib: while the broker's resource alarm is raised, a
 * connection that publishes is told it is blocked and its socket is no longer read; a consuming connection
 * carries on; clearing the alarm unblocks it and the held publishes go through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { ConsumeMessage } from 'amqplib';
import { startAmqp, until, within } from './harness.js';

test('under a resource alarm a publishing connection gets connection.blocked and is not read until the alarm clears', async (t) => {
  const f = await startAmqp(t);
  const publisher = await f.client();
  const pub = await publisher.createConfirmChannel();
  await pub.assertQueue('held', { durable: false });
  pub.sendToQueue('held', Buffer.from('before'));
  await within(pub.waitForConfirms(), 'the first confirm');

  const consumerConn = await f.client();
  const sub = await consumerConn.createChannel();
  const got: string[] = [];
  await sub.consume('held', (m: ConsumeMessage | null) => m && got.push(m.content.toString()), { noAck: true });

  let consumerBlocked = false;
  consumerConn.on('blocked', () => (consumerBlocked = true));
  f.broker.alarm.force('memory', true);
  const blocked = within(once(publisher, 'blocked'), "amqplib's 'blocked' event");
  pub.sendToQueue('held', Buffer.from('during-1'));
  const [reason] = await blocked;
  assert.equal(reason, 'low on memory');

  // The socket is not read: a round trip on the blocked connection does not complete while the alarm lasts.
  pub.sendToQueue('held', Buffer.from('during-2'));
  let checked = false;
  const check = pub.checkQueue('held').then((ok) => {
    checked = true;
    return ok;
  });
  // A connection that only consumes is not blocked: it still gets messages and answers round trips.
  await sub.checkQueue('held');
  await until(() => got.includes('during-1'), 'the publish that was read before blocking');
  await sub.checkQueue('held');
  assert.equal(checked, false, 'the blocked connection was not read');
  assert.deepEqual(got, ['before', 'during-1']);
  assert.equal(consumerBlocked, false);

  const unblocked = within(once(publisher, 'unblocked'), "amqplib's 'unblocked' event");
  f.broker.alarm.force('memory', false);
  await unblocked;
  await within(check, 'the round trip after unblocking');
  await within(pub.waitForConfirms(), 'confirms of the held publishes');
  await until(() => got.length >= 3, 'the held publish');
  assert.deepEqual(got, ['before', 'during-1', 'during-2']);

  // A connection that publishes for the first time during an alarm is blocked too, with the disk reason.
  f.broker.alarm.force('memory', null);
  f.broker.alarm.force('disk', true);
  const late = await f.client();
  const lateCh = await late.createChannel();
  const lateBlocked = within(once(late, 'blocked'), 'the late publisher blocked');
  lateCh.sendToQueue('held', Buffer.from('late'));
  assert.deepEqual(await lateBlocked, ['low on disk']);
  const lateUnblocked = within(once(late, 'unblocked'), 'the late publisher unblocked');
  f.broker.alarm.force('disk', null);
  await lateUnblocked;
});
