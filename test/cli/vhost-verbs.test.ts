/** `tributary vhost list|create|delete` run as the built binary against `tributary serve`, with amqplib. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import { useServedBroker } from './served-broker.js';
import { within } from '../support/within.js';

const broker = useServedBroker();
const cli = broker.cli;

test('vhost create makes a vhost amqplib can open; list shows it; delete removes it', async () => {
  const created = await cli(['vhost', 'create', 'cli-staging']);
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stderr, /created vhost cli-staging/);
  assert.equal((await cli(['vhost', 'create', 'cli-staging'])).code, 0, 'creating it again is not an error');

  const ports = await broker.process.ports();
  const conn = await within(amqp.connect(`amqp://guest:guest@127.0.0.1:${ports['amqp']}/cli-staging`), 'amqplib connect');
  conn.on('error', () => undefined);
  const ch = await conn.createChannel();
  await ch.assertQueue('cli-jobs', { durable: false });

  const table = await cli(['vhost', 'list']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^NAME\s+QUEUES\s+EXCHANGES$/m);
  assert.match(table.stdout, /^\/\s+\d+\s+\d+$/m);
  assert.match(table.stdout, /^cli-staging\s+1\s+5$/m);
  const json = JSON.parse((await cli(['vhost', 'list', '--json'])).stdout) as Array<{ name: string; queues: number }>;
  assert.deepEqual(json.find((v) => v.name === 'cli-staging'), { name: 'cli-staging', default: false, queues: 1, exchanges: 5 });

  const closed = new Promise<Error>((resolve) => conn.once('close', resolve));
  const deleted = await cli(['vhost', 'delete', 'cli-staging']);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.match(deleted.stderr, /deleted vhost cli-staging/);
  assert.match(String(await within(closed, 'the vhost connection to close')), /CONNECTION_FORCED/);
  assert.doesNotMatch((await cli(['vhost', 'list'])).stdout, /cli-staging/);
});

test('vhost delete of an unknown vhost or of / fails with the broker code; a missing name is a usage error', async () => {
  const unknown = await cli(['vhost', 'delete', 'cli-nowhere']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /TRIB_VHOST_NOT_FOUND/);
  const root = await cli(['vhost', 'delete', '/']);
  assert.equal(root.code, 1);
  assert.match(root.stderr, /TRIB_VHOST_RESERVED/);
  assert.equal((await cli(['vhost', 'create'])).code, 2);
});
