import { test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import { connect as natsConnect } from '@nats-io/transport-node';
import { Kafka, logLevel } from 'kafkajs';
import type { ConnectionInfo } from '../../../src/core/connection-registry.js';
import { startApi } from './api-helper.js';
import { eventually, startTestServer, within } from './server-helper.js';

type ConnectionJson = ConnectionInfo;

test('connections of every protocol are listed with principal, client id and traffic, and an admin close reaches each client', async (t) => {
  const s = await startTestServer(t);
  const startedAt = Date.now();

  const amqpConn = await within(amqp.connect(`amqp://guest:guest@127.0.0.1:${s.port('amqp')}`), 'amqplib connect');
  // amqplib reports a server's connection.close 320 as the 'close' event's error (320 is not "fatal" to it).
  amqpConn.on('error', () => undefined);
  const amqpClosed = new Promise<Error>((resolve) => amqpConn.on('close', resolve));
  s.beforeStop(() => amqpConn.close());
  const ch = await amqpConn.createChannel();
  await ch.assertQueue('counted', { durable: false });
  for (let i = 0; i < 3; i++) ch.sendToQueue('counted', Buffer.from(`m${i}`));
  await ch.consume('counted', () => undefined, { noAck: true });

  const nc = await natsConnect({ servers: `127.0.0.1:${s.port('nats')}`, reconnect: false, name: 'nats-app', timeout: 10_000 });
  s.beforeStop(() => nc.close());
  nc.publish('x.y', 'hello');
  await nc.flush();

  const mc = await mqtt.connectAsync(`mqtt://127.0.0.1:${s.port('mqtt')}`, { clientId: 'mqtt-app', protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10_000 });
  s.beforeStop(() => mc.endAsync(true));

  const admin = new Kafka({ clientId: 'kafka-app', brokers: [`127.0.0.1:${s.port('kafka')}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  s.beforeStop(() => admin.disconnect());
  await admin.connect();
  await admin.listTopics();

  const list = await eventually(async () => {
    const r = await s.request('GET', '/api/connections');
    const c: ConnectionJson[] = r.body.connections;
    const amqpC = c.find((x) => x.protocol === 'amqp');
    return amqpC !== undefined && amqpC.messagesIn >= 3 && amqpC.messagesOut >= 3 && c.some((x) => x.protocol === 'nats' && x.messagesIn >= 1) ? c : undefined;
  }, 'the AMQP publishes and deliveries counted');
  const by = (p: string): ConnectionJson => list.find((x) => x.protocol === p)!;
  assert.equal(by('amqp').principal, 'guest');
  assert.equal(by('mqtt').clientId, 'mqtt-app');
  assert.equal(by('nats').clientId, 'nats-app');
  assert.ok(list.some((x) => x.protocol === 'kafka' && x.clientId === 'kafka-app'));
  for (const c of list) {
    assert.equal(c.remoteAddress, '127.0.0.1');
    assert.ok(c.connectedAt >= startedAt - 1000 && c.connectedAt <= Date.now());
    // (An HTTP connection's answer is still being written while it is listed.)
    if (c.protocol !== 'http') assert.ok(c.bytesIn > 0 && c.bytesOut > 0, `${c.protocol} bytes counted`);
  }
  assert.ok(list.some((x) => x.protocol === 'http'), 'the HTTP API connections are listed too');

  let res = await s.request('GET', '/api/connections?protocol=mqtt');
  assert.deepEqual(res.body.connections.map((c: ConnectionJson) => c.protocol), ['mqtt']);
  res = await s.request('GET', '/api/connections?protocol=smtp');
  assert.equal(res.status, 400);
  assert.equal(res.body.error.field, 'query.protocol');

  // AMQP: connection.close 320 CONNECTION_FORCED.
  const mqttDisconnect = new Promise<mqtt.IDisconnectPacket>((resolve) => mc.on('disconnect', resolve));
  res = await s.request('DELETE', `/api/connections/${by('amqp').id}`);
  assert.equal(res.status, 204);
  const amqpErr = await within(amqpClosed, 'amqplib sees the close');
  assert.match(amqpErr.message, /320/);
  assert.match(amqpErr.message, /CONNECTION.FORCED/);

  // MQTT 5: DISCONNECT with reason 0x98 Administrative action.
  res = await s.request('DELETE', `/api/connections/${by('mqtt').id}`);
  assert.equal(res.status, 204);
  assert.equal((await within(mqttDisconnect, 'mqtt.js sees DISCONNECT')).reasonCode, 0x98);

  // NATS: -ERR, then the close.
  res = await s.request('DELETE', `/api/connections/${by('nats').id}`);
  assert.equal(res.status, 204);
  const natsErr = await within(nc.closed(), 'nats.js sees the close');
  assert.match(String(natsErr), /administrator/i);

  const kafkaId = list.find((x) => x.protocol === 'kafka')!.id;
  res = await s.request('DELETE', `/api/connections/${kafkaId}`);
  assert.equal(res.status, 204);

  const gone = await eventually(async () => {
    const c: ConnectionJson[] = (await s.request('GET', '/api/connections')).body.connections;
    return c.every((x) => x.protocol === 'http') ? c : undefined;
  }, 'every closed connection unregistered');
  assert.ok(gone.length >= 1);
  res = await s.request('DELETE', `/api/connections/${kafkaId}`);
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_CONNECTION_NOT_FOUND');

  // Closed connections' traffic stays in the cumulative figures.
  res = await s.request('GET', '/api/stats');
  assert.ok(res.body.messagesIn >= 4, `messagesIn ${res.body.messagesIn}`);
  assert.ok(res.body.messagesOut >= 3);
});

test('closing an unknown connection is a 404', async (t) => {
  const api = await startApi(t);
  const res = await api.request('DELETE', '/api/connections/amqp-999');
  assert.equal(res.status, 404);
  assert.equal(res.body.error.code, 'TRIB_CONNECTION_NOT_FOUND');
});
