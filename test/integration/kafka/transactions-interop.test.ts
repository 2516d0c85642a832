/**
 * Kafka transactions seen from other protocols: records produced in a transaction reach live NATS and MQTT
 * subscribers of the topic's subject only when the transaction commits, never when it aborts, and the markers
 * never arrive as messages. Real clients: kafkajs (transactional producer), nats.js, mqtt.js.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectN, startAll } from '../interop/harness.js';

test('records of a Kafka transaction reach NATS and MQTT subscribers at commit only; aborted ones and markers never', async (t) => {
  const f = await startAll(t);
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'txlive' }], waitForLeaders: true });

  const nc = await f.nats();
  const sub = nc.subscribe('txlive');
  await nc.flush();
  const mq = await f.mqtt();
  await mq.subscribeAsync('txlive', { qos: 0 });
  const natsGot = collectN<string>(4, 'four NATS deliveries', (push) => {
    void (async () => {
      for await (const m of sub) push(Buffer.from(m.data).toString());
    })();
  });
  const mqttGot = collectN<string>(4, 'four MQTT deliveries', (push) => mq.on('message', (_topic, payload) => push(payload.toString())));

  const plain = f.track(f.kafka().producer());
  await plain.connect();
  const producer = f.track(f.kafka().producer({ transactionalId: 'live-tx', idempotent: true, maxInFlightRequests: 1 }));
  await producer.connect();

  const t1 = await producer.transaction();
  await t1.send({ topic: 'txlive', messages: [{ value: 'tx-1' }] });
  // Appended and acknowledged, but not committed: a plain record produced after it is delivered before it.
  await plain.send({ topic: 'txlive', acks: -1, messages: [{ value: 'plain-1' }] });
  await t1.commit();

  const t2 = await producer.transaction();
  await t2.send({ topic: 'txlive', messages: [{ value: 'tx-aborted' }] });
  await t2.abort();
  await plain.send({ topic: 'txlive', acks: -1, messages: [{ value: 'plain-2' }] });

  const t3 = await producer.transaction();
  await t3.send({ topic: 'txlive', messages: [{ value: 'tx-3' }] });
  await t3.commit();

  const expected = ['plain-1', 'tx-1', 'plain-2', 'tx-3'];
  assert.deepEqual(await natsGot, expected);
  assert.deepEqual(await mqttGot, expected);
});
