/**
 * Virtual hosts with amqplib: each configured vhost is a core tenant with its own exchanges (amq.* included) and
 * queues; names are the client's own within a vhost; an unknown vhost is 530 NOT_ALLOWED; dead-lettering and
 * alternate exchanges stay within the vhost; durable vhost queues and bindings survive a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GetMessage } from 'amqplib';
import { drainQueue, startAmqp, within } from './harness.js';

const VHOSTS = { amqp: { vhosts: ['v1', 'v2'] } };

test('an unknown vhost is refused with 530; configured vhosts keep their exchanges and queues apart', async (t) => {
  const f = await startAmqp(t, VHOSTS);
  const err = await f.client('/nope').then(() => null, (e: Error) => e);
  // amqplib reports only that connection.close came instead of open-ok; the server's log has the code.
  assert.match(String(err), /ConnectionClose/);
  assert.ok(f.entries.some((e) => (e.obj as { code?: number }).code === 530 && /vhost 'nope' not found/.test(String((e.obj as { err?: string }).err))));

  const root = await (await f.client()).createConfirmChannel();
  const v1 = await (await f.client('/v1')).createConfirmChannel();
  const v2 = await (await f.client('/v2')).createConfirmChannel();
  for (const ch of [root, v1, v2]) await ch.assertQueue('jobs', { durable: false });
  root.sendToQueue('jobs', Buffer.from('root'));
  v1.sendToQueue('jobs', Buffer.from('one'));
  v2.sendToQueue('jobs', Buffer.from('two'));
  for (const ch of [root, v1, v2]) await within(ch.waitForConfirms(), 'confirms');
  assert.deepEqual(await drainQueue(root, 'jobs'), ['root']);
  assert.deepEqual(await drainQueue(v1, 'jobs'), ['one']);
  assert.deepEqual(await drainQueue(v2, 'jobs'), ['two']);

  // Each vhost has its own amq.topic: a binding in v1 does not see v2's publishes.
  await v1.assertQueue('topical', { durable: false });
  await v1.bindQueue('topical', 'amq.topic', 'a.*');
  v2.publish('amq.topic', 'a.b', Buffer.from('from-v2'));
  v1.publish('amq.topic', 'a.b', Buffer.from('from-v1'));
  await within(v2.waitForConfirms(), 'v2 confirm');
  await within(v1.waitForConfirms(), 'v1 confirm');
  assert.deepEqual(await drainQueue(v1, 'topical'), ['from-v1']);

  // An exchange declared in v1 does not exist in v2; the same name can be declared there with another type.
  await v1.assertExchange('logs', 'fanout', { durable: false });
  const probe = await (await f.client('/v2')).createChannel();
  probe.on('error', () => undefined);
  assert.match(String(await probe.checkExchange('logs').then(() => null, (e: Error) => e)), /404 \(NOT-FOUND\) with message "NOT_FOUND - no exchange 'logs' in vhost 'v2'"/);
  await v2.assertExchange('logs', 'direct', { durable: false });
  // Reserved names are checked within the vhost too.
  const reserved = await (await f.client('/v1')).createChannel();
  reserved.on('error', () => undefined);
  assert.match(String(await reserved.assertQueue('amq.mine').then(() => null, (e: Error) => e)), /403|ACCESS_REFUSED/);

  // A name with a NUL (the core's vhost separator) cannot reach into another vhost.
  const sneaky = await (await f.client()).createChannel();
  sneaky.on('error', () => undefined);
  assert.match(String(await sneaky.checkQueue('v1\u0000jobs').then(() => null, (e: Error) => e)), /406|PRECONDITION_FAILED/);

  // A server-named queue gets a plain amq.gen- name in its vhost.
  const { queue } = await v1.assertQueue('', { exclusive: true });
  assert.match(queue, /^amq\.gen-/);
  v1.sendToQueue(queue, Buffer.from('named'));
  await within(v1.waitForConfirms(), 'confirm');
  assert.deepEqual(await drainQueue(v1, queue), ['named']);
});

test('dead-lettering and alternate exchanges stay within the vhost, and x-death names the queue as clients know it', async (t) => {
  const f = await startAmqp(t, VHOSTS);
  const root = await (await f.client()).createConfirmChannel();
  const v1 = await (await f.client('/v1')).createConfirmChannel();
  await root.assertQueue('parking', { durable: false });
  await v1.assertQueue('parking', { durable: false });
  await v1.assertQueue('work', { durable: false, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'parking' } });
  v1.sendToQueue('work', Buffer.from('doomed'));
  await within(v1.waitForConfirms(), 'confirm');
  const m = (await v1.get('work')) as GetMessage;
  v1.reject(m, false);
  const parked = await within((async () => {
    for (;;) {
      const got = await v1.get('parking', { noAck: true });
      if (got !== false) return got;
    }
  })(), 'the dead-lettered message in v1');
  const deaths = parked.properties.headers?.['x-death'] as Array<{ queue: string; reason: string }>;
  assert.deepEqual([deaths[0].queue, deaths[0].reason], ['work', 'rejected']);
  assert.equal(await root.get('parking'), false, "the root vhost's parking queue got nothing");

  await v1.assertExchange('ae', 'fanout', { durable: false });
  await v1.assertQueue('unrouted', { durable: false });
  await v1.bindQueue('unrouted', 'ae', '');
  await v1.assertExchange('main', 'direct', { durable: false, alternateExchange: 'ae' });
  v1.publish('main', 'nobody', Buffer.from('to-ae'));
  await within(v1.waitForConfirms(), 'confirm');
  assert.deepEqual(await drainQueue(v1, 'unrouted'), ['to-ae']);
});

test('durable queues, exchanges and bindings of a vhost survive a restart', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'trib-amqp-vhost-'));
  {
    const f = await startAmqp(t, { ...VHOSTS, dataDir });
    const ch = await (await f.client('/v1')).createConfirmChannel();
    await ch.assertExchange('orders', 'direct', { durable: true });
    await ch.assertQueue('kept', { durable: true });
    await ch.bindQueue('kept', 'orders', 'new');
    await ch.bindQueue('kept', 'amq.direct', 'direct-key');
    ch.publish('orders', 'new', Buffer.from('o1'), { persistent: true });
    await within(ch.waitForConfirms(), 'confirm');
    await f.stop();
  }
  const f = await startAmqp(t, { ...VHOSTS, dataDir });
  const ch = await (await f.client('/v1')).createConfirmChannel();
  ch.publish('orders', 'new', Buffer.from('o2'));
  ch.publish('amq.direct', 'direct-key', Buffer.from('o3'));
  await within(ch.waitForConfirms(), 'confirms');
  assert.deepEqual(await drainQueue(ch, 'kept'), ['o1', 'o2', 'o3']);
  const root = await (await f.client()).createChannel();
  root.on('error', () => undefined);
  assert.match(String(await root.checkQueue('kept').then(() => null, (e: Error) => e)), /404|NOT_FOUND/);
  await f.stop();
  await rm(dataDir, { recursive: true, force: true });
});
