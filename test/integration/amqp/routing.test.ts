/**
 * Routing the core does and AMQP proves with amqplib: alternate exchanges (unroutable → AE; mandatory + AE → no
 * basic.return), exchange-to-exchange bindings (bind and unbind), headers exchanges with x-match all / any /
 * all-with-x / any-with-x.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Channel, ConfirmChannel, Message } from 'amqplib';
import { drainQueue, startAmqp, within } from './harness.js';

/** Publishes on a confirm channel and waits for the confirm (so a return, if any, has arrived before it). */
function publishConfirmed(ch: ConfirmChannel, exchange: string, key: string, body: string, options: object = {}): Promise<void> {
  return within(
    new Promise<void>((resolve, reject) => ch.publish(exchange, key, Buffer.from(body), options, (err) => (err ? reject(err) : resolve()))),
    'a confirm',
  );
}

const drain = (ch: Channel, queue: string): Promise<string[]> => drainQueue(ch, queue);

test('alternate-exchange: an unroutable message goes to the AE; a routed one does not; mandatory + AE gives no basic.return', async (t) => {
  const f = await startAmqp(t);
  const ch = await (await f.client()).createConfirmChannel();
  const returned: Message[] = [];
  ch.on('return', (m: Message) => returned.push(m));
  await ch.assertExchange('ae', 'fanout', { durable: false });
  await ch.assertQueue('unrouted', { durable: false });
  await ch.bindQueue('unrouted', 'ae', '');
  await ch.assertExchange('main', 'direct', { durable: false, alternateExchange: 'ae' });
  await ch.assertQueue('routed', { durable: false });
  await ch.bindQueue('routed', 'main', 'known');

  await publishConfirmed(ch, 'main', 'known', 'r1', { mandatory: true });
  await publishConfirmed(ch, 'main', 'unknown', 'u1', { mandatory: true });
  await publishConfirmed(ch, 'main', 'other', 'u2');
  assert.deepEqual(await drain(ch, 'routed'), ['r1']);
  const unrouted = await ch.get('unrouted', { noAck: true });
  assert.ok(unrouted !== false);
  assert.equal(unrouted.content.toString(), 'u1');
  assert.equal(unrouted.fields.exchange, 'main', 'the message keeps the exchange it was published to');
  assert.equal(unrouted.fields.routingKey, 'unknown');
  assert.deepEqual(await drain(ch, 'unrouted'), ['u2']);
  assert.equal(returned.length, 0, 'routed through the AE, so mandatory does not return it');

  // An AE that routes nowhere (no binding) makes the message unroutable: mandatory returns it.
  await ch.unbindQueue('unrouted', 'ae', '');
  await publishConfirmed(ch, 'main', 'unknown', 'u3', { mandatory: true });
  assert.equal(returned.length, 1);
  assert.equal((returned[0].fields as unknown as { replyCode: number }).replyCode, 312);
  assert.equal(returned[0].content.toString(), 'u3');
  // An AE that does not exist is skipped the same way.
  await ch.assertExchange('main2', 'direct', { durable: false, alternateExchange: 'missing-ae' });
  await publishConfirmed(ch, 'main2', 'k', 'u4', { mandatory: true });
  assert.equal(returned.length, 2);
});

test('exchange-to-exchange bindings route through the destination exchange; unbind stops it', async (t) => {
  const f = await startAmqp(t);
  const ch = await (await f.client()).createConfirmChannel();
  const returned: Message[] = [];
  ch.on('return', (m: Message) => returned.push(m));
  await ch.assertExchange('src', 'topic', { durable: false });
  await ch.assertExchange('dst', 'direct', { durable: false });
  await ch.assertExchange('leaf', 'fanout', { durable: false });
  await ch.assertQueue('q-dst', { durable: false });
  await ch.assertQueue('q-leaf', { durable: false });
  await ch.bindQueue('q-dst', 'dst', 'a.b');
  await ch.bindQueue('q-leaf', 'leaf', '');
  await ch.bindExchange('dst', 'src', 'a.*');
  await ch.bindExchange('leaf', 'dst', 'a.c');
  // A cycle back to the source must not loop or duplicate.
  await ch.bindExchange('src', 'leaf', '');

  await publishConfirmed(ch, 'src', 'a.b', 'ab', { mandatory: true });
  await publishConfirmed(ch, 'src', 'a.c', 'ac', { mandatory: true });
  await publishConfirmed(ch, 'src', 'x.y', 'xy', { mandatory: true });
  assert.deepEqual(await drain(ch, 'q-dst'), ['ab']);
  assert.deepEqual(await drain(ch, 'q-leaf'), ['ac']);
  assert.deepEqual(returned.map((m) => m.content.toString()), ['xy']);

  await ch.unbindExchange('dst', 'src', 'a.*');
  await publishConfirmed(ch, 'src', 'a.b', 'ab2', { mandatory: true });
  assert.deepEqual(await drain(ch, 'q-dst'), []);
  assert.deepEqual(returned.map((m) => m.content.toString()), ['xy', 'ab2']);
  // The rest of the chain still routes when published to directly.
  await publishConfirmed(ch, 'dst', 'a.c', 'ac2');
  assert.deepEqual(await drain(ch, 'q-leaf'), ['ac2']);
  // Deleting a destination exchange removes the bindings to it.
  await ch.bindExchange('dst', 'src', '#');
  await ch.deleteExchange('dst');
  await publishConfirmed(ch, 'src', 'a.b', 'gone', { mandatory: true });
  assert.equal(returned.at(-1)?.content.toString(), 'gone');
});

test('headers exchange: x-match all and any, all-with-x and any-with-x, void values match on presence, numbers by value', async (t) => {
  const f = await startAmqp(t);
  const ch = await (await f.client()).createConfirmChannel();
  await ch.assertExchange('hx', 'headers', { durable: false });
  for (const q of ['all', 'any', 'allx', 'anyx', 'presence', 'empty-all']) await ch.assertQueue(q, { durable: false });
  await ch.bindQueue('all', 'hx', '', { 'x-match': 'all', format: 'pdf', type: 'report' });
  await ch.bindQueue('any', 'hx', '', { 'x-match': 'any', format: 'pdf', type: 'report' });
  await ch.bindQueue('allx', 'hx', '', { 'x-match': 'all-with-x', 'x-tenant': 'acme', format: 'pdf' });
  await ch.bindQueue('anyx', 'hx', '', { 'x-match': 'any-with-x', 'x-tenant': 'acme' });
  await ch.bindQueue('presence', 'hx', '', { 'x-match': 'all', flag: null, size: 1 });
  await ch.bindQueue('empty-all', 'hx', '', {});

  const pub = (body: string, headers: object): Promise<void> => publishConfirmed(ch, 'hx', 'ignored', body, { headers });
  await pub('both', { format: 'pdf', type: 'report' });
  await pub('one', { format: 'pdf', type: 'log' });
  await pub('none', { format: 'zip' });
  await pub('x-both', { format: 'pdf', 'x-tenant': 'acme' });
  await pub('x-only', { 'x-tenant': 'acme' });
  await pub('flag', { flag: 'anything', size: 1.0 });
  await pub('flag-wrong-size', { flag: 1, size: 2 });

  assert.deepEqual(await drain(ch, 'all'), ['both']);
  assert.deepEqual(await drain(ch, 'any'), ['both', 'one', 'x-both']);
  assert.deepEqual(await drain(ch, 'allx'), ['x-both']);
  assert.deepEqual(await drain(ch, 'anyx'), ['x-both', 'x-only']);
  assert.deepEqual(await drain(ch, 'presence'), ['flag']);
  assert.equal((await drain(ch, 'empty-all')).length, 7, 'all with no arguments matches every message');

  // A bad x-match is refused with 406 and closes the channel.
  const bad = await (await f.client()).createChannel();
  bad.on('error', () => undefined);
  const err = await bad.bindQueue('all', 'hx', '', { 'x-match': 'some' }).then(() => null, (e: Error) => e);
  assert.match(String(err), /406|PRECONDITION_FAILED/);
});
