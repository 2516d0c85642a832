import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionRegistry } from '../../src/core/connection-registry.js';

test('connections are listed with live counters, closed through their protocol, and their traffic stays in the totals', () => {
  let now = 1000;
  const registry = new ConnectionRegistry(() => now);
  const closed: string[] = [];
  const traffic = { messagesIn: 0, messagesOut: 0 };
  const socket = { bytesRead: 10, bytesWritten: 20 };
  let user = 'anonymous';
  const a = registry.register({ protocol: 'amqp', remoteAddress: '127.0.0.1', remotePort: 5000, principal: () => user, traffic, transport: socket, close: (r) => closed.push(`a:${r}`) });
  now = 2000;
  const n = registry.register({ protocol: 'nats', clientId: () => 'app', close: (r) => closed.push(`n:${r}`) });
  assert.deepEqual([a.id, n.id], ['amqp-1', 'nats-2']);

  traffic.messagesIn += 3;
  traffic.messagesOut += 1;
  socket.bytesRead = 100;
  user = 'alice';
  assert.deepEqual(registry.list('amqp'), [
    { id: 'amqp-1', protocol: 'amqp', remoteAddress: '127.0.0.1', remotePort: 5000, principal: 'alice', clientId: null, connectedAt: 1000, messagesIn: 3, messagesOut: 1, bytesIn: 100, bytesOut: 20 },
  ]);
  assert.equal(registry.list()[1]!.clientId, 'app');
  assert.deepEqual(registry.counts(), { kafka: 0, amqp: 1, nats: 1, mqtt: 0, http: 0 });

  assert.equal(registry.close('amqp-1', 'admin'), true);
  assert.deepEqual(closed, ['a:admin']);
  assert.equal(registry.close('amqp-9', 'admin'), false);

  registry.unregister(a);
  registry.unregister(a); // idempotent: counted once
  traffic.messagesIn += 50; // a closed session's later increments are not counted
  assert.equal(registry.size, 1);
  assert.deepEqual(registry.totals('amqp'), { messagesIn: 3, messagesOut: 1, bytesIn: 100, bytesOut: 20 });
  assert.deepEqual(registry.totals(), { messagesIn: 3, messagesOut: 1, bytesIn: 100, bytesOut: 20 });
  assert.equal(registry.acceptedCount('amqp'), 1);
  const again = registry.register({ protocol: 'amqp', close: () => undefined });
  assert.equal(again.id, 'amqp-3', 'ids are never reused');
});
