/**
 * Load for the console's end-to-end test and screenshots, from the real clients: NATS publishes (counted as
 * messages in and, through a subscriber, out); and for screenshots also a kafkajs producer and a slow consumer
 * group (so there is lag), an amqplib queue with a slow consumer (so there are unacked messages) and an MQTT
 * client. The intervals pace the load; nothing here waits on the broker by sleeping.
 */
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { Kafka, logLevel } from 'kafkajs';
import amqp from 'amqplib';
import mqtt from 'mqtt';

export interface Traffic {
  stop(): Promise<void>;
}

const payload = (i: number): string => JSON.stringify({ id: i, sensor: `s-${i % 7}`, celsius: 18 + (i % 10) / 2, at: new Date().toISOString() });

/** A NATS client that subscribes to `sensors.>` and publishes `perTick` messages every 100 ms. */
export async function natsTraffic(port: number, perTick = 10): Promise<Traffic & { nc: NatsConnection }> {
  const nc = await natsConnect({ servers: `127.0.0.1:${port}`, name: 'console-e2e', reconnect: false, timeout: 10_000 });
  nc.subscribe('sensors.>', { callback: () => undefined });
  let i = 0;
  const timer = setInterval(() => {
    if (nc.isClosed()) return;
    for (let n = 0; n < perTick; n++) nc.publish('sensors.temp', payload(i++));
  }, 100);
  return {
    nc,
    async stop() {
      clearInterval(timer);
      if (!nc.isClosed()) await nc.close().catch(() => undefined);
    },
  };
}

/** Every protocol at once, for screenshots that are not empty. `topic` must exist with 3 partitions. */
export async function mixedTraffic(ports: { [p: string]: number }, topic: string): Promise<Traffic> {
  const stops: Array<() => Promise<void>> = [];
  const timers: NodeJS.Timeout[] = [];
  let i = 0;

  const kafka = new Kafka({ clientId: 'console-shop', brokers: [`127.0.0.1:${ports['kafka']}`], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  stops.push(() => producer.disconnect());
  timers.push(
    setInterval(() => {
      const messages = Array.from({ length: 6 }, () => ({ key: `customer-${i % 13}`, value: JSON.stringify({ order: i++, item: ['book', 'lamp', 'mug', 'desk'][i % 4], qty: 1 + (i % 3) }) }));
      producer.send({ topic, messages }).catch(() => undefined);
    }, 150),
  );
  const consumer = kafka.consumer({ groupId: 'billing', sessionTimeout: 10_000, heartbeatInterval: 1000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  // Slower than the producer, so the group has lag to chart.
  await consumer.run({ eachMessage: () => new Promise((resolve) => setTimeout(resolve, 40)) });
  stops.push(() => consumer.disconnect());

  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${ports['amqp']}`);
  stops.push(() => conn.close());
  const ch = await conn.createChannel();
  await ch.assertQueue('emails', { durable: true });
  await ch.assertQueue('thumbnails', { durable: true });
  timers.push(
    setInterval(() => {
      for (let n = 0; n < 4; n++) ch.sendToQueue('emails', Buffer.from(payload(i++)));
      ch.sendToQueue('thumbnails', Buffer.from([0x89, 0x50, 0x4e, 0x47, i & 0xff]));
    }, 200),
  );
  const worker = await conn.createChannel();
  await worker.prefetch(8);
  const pendingAcks = new Set<NodeJS.Timeout>();
  await worker.consume('emails', (m) => {
    if (m === null) return;
    // Acked late, so the queue shows unacked messages.
    const timer = setTimeout(() => {
      pendingAcks.delete(timer);
      worker.ack(m);
    }, 300);
    pendingAcks.add(timer);
  });
  stops.push(async () => pendingAcks.forEach((t) => clearTimeout(t)));

  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports['mqtt']}`, { clientId: 'thermostat-7', protocolVersion: 5, reconnectPeriod: 0 });
  stops.push(() => client.endAsync());
  await client.subscribeAsync('sensors/#');
  timers.push(setInterval(() => void client.publishAsync('sensors/humidity', payload(i++)).catch(() => undefined), 250));

  const nats = await natsTraffic(ports['nats']!, 5);
  stops.push(() => nats.stop());

  return {
    async stop() {
      for (const t of timers) clearInterval(t);
      for (const s of stops.reverse()) await s().catch(() => undefined);
    },
  };
}
