/**
 * Per-vhost permissions (configure / write / read regexes, RabbitMQ's access-control semantics) set over the
 * HTTP API and enforced on amqplib connections: 530 on connection.open without any permission on the vhost,
 * 403 ACCESS_REFUSED channel errors per operation, changes effective at once, kept across a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Channel, ChannelModel } from 'amqplib';
import { lastConnectionError, startAdmin, within } from './admin-harness.js';

/** Runs `op` on a fresh channel of `conn` and resolves with the channel error it causes. */
async function refusal(conn: ChannelModel, op: (ch: Channel) => Promise<unknown>): Promise<string> {
  const ch = await conn.createChannel();
  const closed = new Promise<Error>((resolve) => ch.once('error', resolve));
  op(ch).catch(() => undefined);
  return String(await within(closed, 'the channel error'));
}

test('without any permission set every user may use every vhost, as before', async (t) => {
  const f = await startAdmin(t, { vhosts: ['v1'] });
  assert.equal((await f.api('POST', '/api/users', { name: 'bob', password: 'pw' })).status, 201);
  const ch = await (await f.connect('v1', 'bob', 'pw')).createChannel();
  await ch.assertQueue('anything', { durable: false });
  assert.deepEqual((await f.api('GET', '/api/permissions')).body, { permissions: [] });
});

test('RabbitMQ permissions: vhost access, configure, write, read — 530 and 403 ACCESS_REFUSED otherwise', async (t) => {
  const f = await startAdmin(t, { vhosts: ['v1'] });
  assert.equal((await f.api('POST', '/api/users', { name: 'alice', password: 'pw' })).status, 201);
  const grant = (vhost: string, user: string, configure: string, write: string, read: string) =>
    f.api('PUT', `/api/permissions/${encodeURIComponent(vhost)}/${user}`, { configure, write, read });
  assert.equal((await grant('/', 'guest', '.*', '.*', '.*')).status, 201);
  const set = await grant('v1', 'alice', '^alice-', '^alice-|^amq\\.default$', '^alice-');
  assert.equal(set.status, 201);
  assert.deepEqual(set.body, { user: 'alice', vhost: 'v1', configure: '^alice-', write: '^alice-|^amq\\.default$', read: '^alice-' });

  // No entry on '/': refused at connection.open with RabbitMQ's words.
  await f.refused('/', 'alice', 'pw');
  assert.deepEqual(lastConnectionError(f.entries), { code: 530, text: "access to vhost '/' refused for user 'alice'" });
  // guest was granted '/' explicitly and works as before; it has nothing on v1.
  const guest = await (await f.connect('/')).createChannel();
  await guest.assertQueue('guest-q', { durable: false });
  await f.refused('v1');
  assert.equal(lastConnectionError(f.entries)?.code, 530);

  const alice = await f.connect('v1', 'alice', 'pw');
  const ch = await alice.createConfirmChannel();
  await ch.assertQueue('alice-jobs', { durable: false });
  await ch.assertExchange('alice-events', 'topic', { durable: false });
  // configure: declaring or deleting outside the pattern.
  assert.match(await refusal(alice, (c) => c.assertQueue('shared', { durable: false })), /403 \(ACCESS-REFUSED\) with message "ACCESS_REFUSED - configure access to queue 'shared' in vhost 'v1' refused for user 'alice'"/);
  assert.match(await refusal(alice, (c) => c.assertExchange('other', 'direct')), /ACCESS_REFUSED - configure access to exchange 'other' in vhost 'v1'/);
  // write: the default exchange (amq.default) is allowed, amq.direct is not.
  ch.sendToQueue('alice-jobs', Buffer.from('one'));
  await within(ch.waitForConfirms(), 'confirm');
  assert.match(await refusal(alice, async (c) => {
    c.publish('amq.direct', 'alice-jobs', Buffer.from('x'));
    await c.checkQueue('alice-jobs');
  }), /ACCESS_REFUSED - write access to exchange 'amq.direct' in vhost 'v1' refused for user 'alice'/);
  // read: consume and get on her queue; binding it to amq.topic needs read on amq.topic.
  const m = await ch.get('alice-jobs', { noAck: true });
  assert.ok(m !== false && m.content.toString() === 'one');
  await ch.bindQueue('alice-jobs', 'alice-events', '#');
  assert.match(await refusal(alice, (c) => c.bindQueue('alice-jobs', 'amq.topic', '#')), /ACCESS_REFUSED - read access to exchange 'amq.topic' in vhost 'v1'/);
  // A guest-made queue in v1 is readable only by pattern: another's queue is refused.
  await f.api('POST', '/api/queues?vhost=v1', { name: 'ops', durable: false });
  assert.match(await refusal(alice, (c) => c.consume('ops', () => undefined)), /ACCESS_REFUSED - read access to queue 'ops' in vhost 'v1'/);
  assert.match(await refusal(alice, (c) => c.get('ops')), /ACCESS_REFUSED - read access to queue 'ops'/);
  // Passive declares need no permission (RabbitMQ).
  await (await alice.createChannel()).checkQueue('ops');

  // A change takes effect at once for the open connection.
  assert.equal((await grant('v1', 'alice', '^alice-', '^alice-|^amq\\.default$', '.*')).status, 200);
  await (await alice.createChannel()).bindQueue('alice-jobs', 'amq.topic', '#');

  // Cleared: the next connection.open is refused.
  assert.equal((await f.api('DELETE', '/api/permissions/v1/alice')).status, 204);
  await f.refused('v1', 'alice', 'pw');
  assert.deepEqual(lastConnectionError(f.entries), { code: 530, text: "access to vhost 'v1' refused for user 'alice'" });
  assert.equal((await f.api('DELETE', '/api/permissions/v1/alice')).status, 404);

  // A deleted user's permissions go with it: a new user of the same name starts with none.
  assert.equal((await grant('v1', 'alice', '.*', '.*', '.*')).status, 201);
  assert.equal((await f.api('DELETE', '/api/users/alice')).status, 204);
  await within(
    (async () => {
      while ((await f.api('GET', '/api/permissions?user=alice')).body.permissions.length > 0) await new Promise((r) => setImmediate(r));
    })(),
    "alice's permissions to be removed",
  );
});

test('permissions are validated, listed, kept across a restart and cleared with their vhost', async (t) => {
  const f = await startAdmin(t);
  await f.api('PUT', '/api/vhosts/team');
  const bad = await f.api('PUT', '/api/permissions/team/guest', { configure: '(', write: '.*', read: '.*' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'TRIB_INVALID_CONFIG');
  assert.equal((await f.api('PUT', '/api/permissions/nowhere/guest', { configure: '', write: '', read: '' })).status, 404);
  assert.equal((await f.api('PUT', '/api/permissions/team/nobody', { configure: '', write: '', read: '' })).body.error.code, 'TRIB_USER_NOT_FOUND');
  assert.equal((await f.api('PUT', '/api/permissions/%2F/guest', { configure: '.*', write: '.*', read: '.*' })).status, 201);
  assert.equal((await f.api('PUT', '/api/permissions/team/guest', { configure: '', write: '', read: '.*' })).status, 201);

  await f.restart();
  assert.deepEqual((await f.api('GET', '/api/permissions?user=guest')).body.permissions, [
    { user: 'guest', vhost: '/', configure: '.*', write: '.*', read: '.*' },
    { user: 'guest', vhost: 'team', configure: '', write: '', read: '.*' },
  ]);
  // Empty regexes match nothing, but an entry still opens the vhost (RabbitMQ).
  const conn = await f.connect('team');
  assert.match(await refusal(conn, (c) => c.assertQueue('q', { durable: false })), /ACCESS_REFUSED - configure access to queue 'q' in vhost 'team'/);

  await f.api('DELETE', '/api/vhosts/team');
  assert.deepEqual((await f.api('GET', '/api/permissions?vhost=team')).body.permissions, []);
  assert.equal((await f.api('GET', '/api/permissions/%2F/guest')).body.read, '.*');
});

test('with --http-auth on, the HTTP API applies the same permissions to the user it authenticates', async (t) => {
  const f = await startAdmin(t, { vhosts: ['v1'] }, { httpAuth: true });
  const admin: [string, string] = ['guest', 'guest'];
  assert.equal((await f.api('POST', '/api/users', { name: 'carol', password: 'pw' }, admin)).status, 201);
  assert.equal((await f.api('PUT', '/api/permissions/%2F/guest', { configure: '.*', write: '.*', read: '.*' }, admin)).status, 201);
  assert.equal((await f.api('PUT', '/api/permissions/v1/carol', { configure: '^carol-', write: '^carol-', read: '^carol-' }, admin)).status, 201);
  const carol: [string, string] = ['carol', 'pw'];
  assert.equal((await f.api('POST', '/api/queues?vhost=v1', { name: 'carol-q' }, carol)).status, 201);
  const refused = await f.api('POST', '/api/queues?vhost=v1', { name: 'shared' }, carol);
  assert.equal(refused.status, 403);
  assert.match(refused.body.error.message, /configure access to queue 'shared' in vhost 'v1' refused for user 'carol'/);
  assert.equal((await f.api('POST', '/api/exchanges/amq.direct/publish?vhost=v1', { value: 'x', routingKey: 'k' }, carol)).status, 403);
  assert.equal((await f.api('POST', '/api/bindings?vhost=v1', { source: 'amq.topic', destination: 'carol-q', destinationType: 'queue' }, carol)).status, 403);
  assert.equal((await f.api('DELETE', '/api/queues/carol-q?vhost=v1', undefined, carol)).status, 204);
});
