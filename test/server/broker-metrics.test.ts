import { test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import { connect as natsConnect } from '@nats-io/transport-node';
import { eventually, startTestServer, within } from './api/server-helper.js';

test('/metrics has per-stream, per-queue, per-group and per-protocol series read from the broker', async (t) => {
  const s = await startTestServer(t);
  await s.request('POST', '/api/streams', { name: 'm.stream', partitions: 2 });
  await s.request('POST', '/api/streams/m.stream/records', { records: [{ value: 1, partition: 0 }, { value: 2, partition: 0 }, { value: 3, partition: 1 }] });
  await s.request('POST', '/api/queues', { name: 'mq' });
  await s.request('POST', '/api/bindings', { source: 'amq.direct', destination: 'mq', destinationType: 'queue', routingKey: 'mq' });
  for (let i = 0; i < 4; i++) await s.request('POST', '/api/exchanges/amq.direct/publish', { value: i, routingKey: 'mq' });
  await s.request('POST', '/api/groups/lagging/reset-offsets', { topic: 'm.stream', to: 'earliest' });

  const conn = await within(amqp.connect(`amqp://guest:guest@127.0.0.1:${s.port('amqp')}`), 'amqplib connect');
  s.beforeStop(() => conn.close());
  const ch = await conn.createChannel();
  await ch.prefetch(1);
  await ch.consume('mq', () => undefined);
  const nc = await natsConnect({ servers: `127.0.0.1:${s.port('nats')}`, reconnect: false, timeout: 10_000 });
  s.beforeStop(() => nc.close());
  nc.publish('a.b', 'x');
  await nc.flush();

  const text = await eventually(async () => {
    const body = await (await fetch(`${s.base}/metrics`)).text();
    return /^tributary_queue_unacked\{queue="mq"\} 1$/m.test(body) && /^tributary_messages_received_total\{protocol="nats"\} 1$/m.test(body) ? body : undefined;
  }, 'the consumer holding one unacked message and the NATS publish counted');
  const expect = [
    /^tributary_stream_appended_records\{stream="m\.stream"\} 3$/m,
    /^tributary_stream_end_offset\{stream="m\.stream",partition="0"\} 2$/m,
    /^tributary_stream_end_offset\{stream="m\.stream",partition="1"\} 1$/m,
    /^tributary_stream_size_bytes\{stream="m\.stream"\} [1-9]\d*$/m,
    /^tributary_queue_messages\{queue="mq"\} 3$/m,
    /^tributary_queue_consumers\{queue="mq"\} 1$/m,
    /^tributary_group_lag\{group="lagging",topic="m\.stream",partition="0"\} 2$/m,
    /^tributary_group_lag\{group="lagging",topic="m\.stream",partition="1"\} 1$/m,
    /^tributary_group_lag_total\{group="lagging"\} 3$/m,
    /^tributary_group_members\{group="lagging"\} 0$/m,
    /^tributary_messages_sent_total\{protocol="amqp"\} 1$/m,
    /^tributary_received_bytes_total\{protocol="amqp"\} [1-9]\d*$/m,
    /^tributary_connections_accepted_total\{protocol="nats"\} 1$/m,
    /^nodejs_eventloop_lag_seconds /m,
    /^process_resident_memory_bytes /m,
  ];
  for (const re of expect) assert.match(text, re);
  assert.doesNotMatch(text, /stream="amqp-q\./, 'a queue’s backing stream is reported as the queue');
  assert.doesNotMatch(text, /stream="__/, 'internal streams are left out');
});
