/**
 * The client property `connection_name` (amqplib clientProperties, rabbitmq-client connectionName) is the AMQP
 * connection's clientId in the connection registry, as RabbitMQ shows it as the connection's name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Connection } from 'rabbitmq-client';
import { startAdmin, within } from './admin-harness.js';

interface Listed {
  protocol: string;
  clientId: string | null;
}

test('connection_name from amqplib and rabbitmq-client is listed as clientId; none is null', async (t) => {
  const f = await startAdmin(t);
  await f.connect('/', 'guest', 'guest', { clientProperties: { connection_name: 'orders-service' } });
  await f.connect('/');
  const client = new Connection({ url: `amqp://guest:guest@127.0.0.1:${f.amqpPort}`, connectionName: 'billing-worker' });
  client.on('error', () => undefined);
  t.after(() => within(client.close(), 'rabbitmq-client close', 3000).catch(() => client.unsafeDestroy()));
  await within(once(client, 'connection'), 'rabbitmq-client connection');

  const { connections } = (await f.api('GET', '/api/connections?protocol=amqp')).body as { connections: Listed[] };
  assert.deepEqual(connections.map((c) => c.clientId).sort((a, b) => String(a).localeCompare(String(b))), ['billing-worker', null, 'orders-service']);
});
