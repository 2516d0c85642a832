/**
 * The HTTP API's queue, exchange and binding routes across vhosts: a `vhost` field and plain names in every
 * answer, the `vhost` query parameter selecting the vhost, and the same objects amqplib sees in that vhost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAdmin } from './admin-harness.js';

test('queues and exchanges carry their vhost and plain names; ?vhost= selects the vhost for every route', async (t) => {
  const f = await startAdmin(t, { vhosts: ['v1'] });
  const ch = await (await f.connect('v1')).createConfirmChannel();
  await ch.assertExchange('logs', 'fanout', { durable: true, alternateExchange: 'spill' });
  await ch.assertQueue('jobs', { durable: true });
  await ch.bindQueue('jobs', 'logs', '');
  const root = await (await f.connect('/')).createChannel();
  await root.assertQueue('jobs', { durable: true });

  const all = (await f.api('GET', '/api/queues')).body.queues as Array<{ name: string; vhost: string; bindings: Array<{ source: string }> }>;
  const jobs = all.filter((q) => q.name === 'jobs').sort((a, b) => a.vhost.localeCompare(b.vhost));
  assert.deepEqual(jobs.map((q) => q.vhost), ['/', 'v1']);
  assert.deepEqual(jobs[1]!.bindings.map((b) => b.source), ['logs']);
  assert.ok(!all.some((q) => q.name.includes('\u0000')), 'no core-scoped names');

  const v1Only = (await f.api('GET', '/api/queues?vhost=v1')).body.queues as Array<{ vhost: string }>;
  assert.ok(v1Only.length > 0 && v1Only.every((q) => q.vhost === 'v1'));
  const one = await f.api('GET', '/api/queues/jobs?vhost=v1');
  assert.equal(one.body.vhost, 'v1');
  assert.equal(one.body.name, 'jobs');
  assert.equal((await f.api('GET', '/api/queues/jobs?vhost=nope')).body.error.code, 'TRIB_VHOST_NOT_FOUND');

  const exchanges = (await f.api('GET', '/api/exchanges?vhost=v1')).body.exchanges as Array<{ name: string; vhost: string; arguments: { [k: string]: unknown }; bindings: Array<{ destination: string }> }>;
  const logs = exchanges.find((e) => e.name === 'logs')!;
  assert.equal(logs.vhost, 'v1');
  assert.deepEqual(logs.arguments, { 'alternate-exchange': 'spill' });
  assert.deepEqual(logs.bindings.map((b) => b.destination), ['jobs']);
  assert.ok(exchanges.some((e) => e.name === 'amq.topic' && e.vhost === 'v1'));
  assert.equal((await f.api('GET', '/api/exchanges')).body.exchanges.filter((e: { name: string }) => e.name === 'amq.topic').length, 2);

  // Declared over HTTP in v1, used by amqplib in v1 (and absent from '/').
  assert.equal((await f.api('POST', '/api/exchanges?vhost=v1', { name: 'audit', type: 'direct' })).status, 201);
  const created = await f.api('POST', '/api/queues?vhost=v1', { name: 'audit-log' });
  assert.equal(created.status, 201);
  assert.equal(created.body.vhost, 'v1');
  assert.equal((await f.api('POST', '/api/bindings?vhost=v1', { source: 'audit', destination: 'audit-log', destinationType: 'queue', routingKey: 'k' })).status, 201);
  const published = await f.api('POST', '/api/exchanges/audit/publish?vhost=v1', { value: 'over-http', encoding: 'text', routingKey: 'k' });
  assert.deepEqual(published.body, { routed: 1, deliveries: 0 });
  const m = await ch.get('audit-log', { noAck: true });
  assert.ok(m !== false);
  assert.equal(m.content.toString(), 'over-http');
  assert.equal((await f.api('GET', '/api/queues/audit-log')).status, 404, "not in '/'");

  assert.equal((await f.api('POST', '/api/queues/audit-log/purge?vhost=v1')).body.purged, 0);
  assert.equal((await f.api('DELETE', '/api/bindings?vhost=v1', { source: 'audit', destination: 'audit-log', destinationType: 'queue', routingKey: 'k' })).status, 204);
  assert.equal((await f.api('DELETE', '/api/queues/audit-log?vhost=v1')).status, 204);
  assert.equal((await f.api('DELETE', '/api/exchanges/audit?vhost=v1')).status, 204);
  ch.on('error', () => undefined);
  assert.match(String(await ch.checkQueue('audit-log').then(() => null, (e: Error) => e)), /404/);
});
