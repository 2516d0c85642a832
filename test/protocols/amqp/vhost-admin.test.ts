/**
 * Virtual hosts managed at run time through the HTTP API, with amqplib: create (persisted across a restart),
 * list, delete (its connections closed with 320 CONNECTION_FORCED, its queues and exchanges gone), the
 * configured vhosts still seeded, and 530 NOT_ALLOWED for a vhost that does not exist.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { lastConnectionError, startAdmin, within } from './admin-harness.js';

test('a vhost created over HTTP is usable at once, listed, and back after a restart', async (t) => {
  const f = await startAdmin(t, { vhosts: ['seeded'] });
  const created = await f.api('PUT', '/api/vhosts/staging');
  assert.equal(created.status, 201);
  assert.deepEqual(created.body, { name: 'staging', default: false, queues: 0, exchanges: 5 });
  assert.equal((await f.api('PUT', '/api/vhosts/staging')).status, 200, 'creating it again is not an error');

  const listed = await f.api('GET', '/api/vhosts');
  assert.deepEqual(listed.body.vhosts.map((v: { name: string }) => v.name), ['/', 'seeded', 'staging']);
  assert.equal(listed.body.vhosts[0].default, true);

  const ch = await (await f.connect('staging')).createConfirmChannel();
  await ch.assertQueue('jobs', { durable: true });
  ch.sendToQueue('jobs', Buffer.from('kept'), { persistent: true });
  await within(ch.waitForConfirms(), 'confirm');
  assert.equal((await f.api('GET', '/api/vhosts/staging')).body.queues, 1);

  await f.restart();
  // Created at run time, so persisted; the seeded one comes back from the configuration.
  assert.deepEqual((await f.api('GET', '/api/vhosts')).body.vhosts.map((v: { name: string }) => v.name), ['/', 'seeded', 'staging']);
  const again = await (await f.connect('staging')).createChannel();
  const m = await again.get('jobs', { noAck: true });
  assert.ok(m !== false);
  assert.equal(m.content.toString(), 'kept');
});

test('connection.open of a vhost that does not exist is 530 NOT_ALLOWED', async (t) => {
  const f = await startAdmin(t);
  await f.refused('nowhere');
  assert.deepEqual(lastConnectionError(f.entries), { code: 530, text: "vhost 'nowhere' not found" });
  assert.equal((await f.api('GET', '/api/vhosts/nowhere')).status, 404);
  assert.equal((await f.api('GET', '/api/vhosts/nowhere')).body.error.code, 'TRIB_VHOST_NOT_FOUND');
});

test('deleting a vhost closes its connections with 320 and removes its queues and exchanges, not those of others', async (t) => {
  const f = await startAdmin(t);
  assert.equal((await f.api('PUT', '/api/vhosts/doomed')).status, 201);
  const doomed = await f.connect('doomed');
  const ch = await doomed.createConfirmChannel();
  await ch.assertExchange('events', 'topic', { durable: true });
  await ch.assertQueue('work', { durable: true });
  await ch.bindQueue('work', 'events', '#');
  ch.publish('events', 'a', Buffer.from('x'));
  await within(ch.waitForConfirms(), 'confirm');
  const root = await (await f.connect('/')).createChannel();
  await root.assertQueue('work', { durable: true });

  const closed = once(doomed, 'close');
  assert.equal((await f.api('DELETE', '/api/vhosts/doomed')).status, 204);
  const [err] = (await within(closed, 'the connection in the deleted vhost to close')) as [Error & { code?: number }];
  assert.equal(err.code, 320);
  assert.match(err.message, /CONNECTION_FORCED - vhost 'doomed' is deleted/);

  const queues = (await f.api('GET', '/api/queues')).body.queues as Array<{ name: string; vhost: string }>;
  assert.deepEqual(queues.filter((q) => q.name === 'work').map((q) => q.vhost), ['/']);
  const exchanges = (await f.api('GET', '/api/exchanges')).body.exchanges as Array<{ vhost: string }>;
  assert.ok(!exchanges.some((e) => e.vhost === 'doomed'));
  assert.equal(f.broker.metadata.list('exchange').filter(({ name }) => name.startsWith('doomed\u0000')).length, 0);
  assert.equal(f.broker.metadata.list('queue').filter(({ name }) => name.startsWith('doomed\u0000')).length, 0);

  await f.refused('doomed');
  assert.equal(lastConnectionError(f.entries)?.code, 530);
  assert.equal((await f.api('DELETE', '/api/vhosts/doomed')).status, 404);
  const reserved = await f.api('DELETE', '/api/vhosts/%2F');
  assert.equal(reserved.status, 403);
  assert.equal(reserved.body.error.code, 'TRIB_VHOST_RESERVED');

  // Gone for good: not back after a restart, and a new vhost of the same name starts empty.
  await f.restart();
  assert.deepEqual((await f.api('GET', '/api/vhosts')).body.vhosts.map((v: { name: string }) => v.name), ['/']);
  assert.equal((await f.api('PUT', '/api/vhosts/doomed')).status, 201);
  const fresh = await (await f.connect('doomed')).createChannel();
  fresh.on('error', () => undefined);
  assert.match(String(await fresh.checkQueue('work').then(() => null, (e: Error) => e)), /404/);
});

test('a vhost with a bad name is refused with 400', async (t) => {
  const f = await startAdmin(t);
  const bad = await f.api('PUT', `/api/vhosts/${encodeURIComponent('a\u0000b')}`);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'TRIB_INVALID_NAME');
});
