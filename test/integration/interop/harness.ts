/**
 * Shared set-up for the interop tests: ONE Broker over a temp data dir with all four listeners (Kafka, AMQP,
 * NATS, MQTT) on 127.0.0.1:0, and the real clients (kafkajs, amqplib, @nats-io/transport-node, mqtt.js), all
 * closed with t.after(). Awaiting is done with timeouts, never sleeps.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import amqp, { type ChannelModel } from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { Broker } from '../../../src/core/broker.js';
import { createAmqpListener } from '../../../src/protocols/amqp/index.js';
import { createKafkaListener } from '../../../src/protocols/kafka/index.js';
import { createMqttListener } from '../../../src/protocols/mqtt/index.js';
import { createNatsListener } from '../../../src/protocols/nats/index.js';
import { within } from '../../support/within.js';
export { within } from '../../support/within.js';

export const WAIT_MS = 10_000;


export interface Disconnectable {
  disconnect(): Promise<void>;
}

export interface InteropFixture {
  broker: Broker;
  kafka(): Kafka;
  /** A kafkajs producer/consumer/admin disconnected after the test. */
  track<T extends Disconnectable>(client: T): T;
  amqp(): Promise<ChannelModel>;
  nats(): Promise<NatsConnection>;
  mqtt(options?: IClientOptions): Promise<MqttClient>;
}

const NO_LOG = { debug() {}, info() {}, warn() {}, error() {} };

/** Starts the broker and the four listeners; everything is closed when `t` ends. */
export async function startAll(t: TestContext): Promise<InteropFixture> {
  const dataDir = await mkdtemp(join(tmpdir(), 'trib-interop-'));
  const broker = await Broker.open({ dataDir, fsync: 'never', fsyncIntervalMs: 1000, groups: { minSessionTimeoutMs: 1000 } });
  const kafkaListener = createKafkaListener({ broker, logger: NO_LOG, config: { advertisedHost: '127.0.0.1' } });
  const amqpListener = createAmqpListener({ broker, logger: NO_LOG });
  const natsListener = createNatsListener({ broker, logger: NO_LOG });
  const mqttListener = createMqttListener({ broker, logger: NO_LOG });
  const [k] = await kafkaListener.listen('127.0.0.1', 0);
  const [a] = await amqpListener.listen('127.0.0.1', 0);
  const [n] = await natsListener.listen('127.0.0.1', 0);
  const [m] = await mqttListener.listen('127.0.0.1', 0);
  const kafkaClients: Disconnectable[] = [];
  const amqpClients: ChannelModel[] = [];
  const natsClients: NatsConnection[] = [];
  const mqttClients: MqttClient[] = [];
  t.after(async () => {
    for (const c of kafkaClients) await within(c.disconnect(), 'kafkajs disconnect', 5000).catch(() => undefined);
    for (const c of amqpClients) await within(c.close(), 'amqplib close', 2000).catch(() => undefined);
    for (const c of natsClients) if (!c.isClosed()) await c.close().catch(() => undefined);
    for (const c of mqttClients) await c.endAsync(true).catch(() => undefined);
    await kafkaListener.close();
    await amqpListener.close();
    await natsListener.close();
    await mqttListener.close();
    await broker.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return {
    broker,
    kafka: () => new Kafka({ clientId: 'interop', brokers: [`127.0.0.1:${k.port}`], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 50, maxRetryTime: 500 } }),
    track(client) {
      kafkaClients.push(client);
      return client;
    },
    async amqp() {
      const c = await within(amqp.connect(`amqp://guest:guest@127.0.0.1:${a.port}`), 'amqplib connect');
      c.on('error', () => undefined);
      amqpClients.push(c);
      return c;
    },
    async nats() {
      const c = await natsConnect({ servers: `127.0.0.1:${n.port}`, reconnect: false, timeout: WAIT_MS });
      natsClients.push(c);
      return c;
    },
    async mqtt(options = {}) {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${m.port}`, { reconnectPeriod: 0, connectTimeout: WAIT_MS, protocolVersion: 5, ...options });
      mqttClients.push(c);
      return c;
    },
  };
}

/** The first message an mqtt.js client receives on `topic`, with its v5 packet. */
export function nextMqtt(client: MqttClient, topic: string, what: string): Promise<{ topic: string; payload: Buffer; packet: mqtt.IPublishPacket }> {
  return within(
    new Promise((resolve) => {
      const on = (tp: string, payload: Buffer, packet: mqtt.IPublishPacket): void => {
        if (tp !== topic) return;
        client.off('message', on);
        resolve({ topic: tp, payload, packet });
      };
      client.on('message', on);
    }),
    what,
  );
}

/** Resolves with the `n`th value `register` reports. */
export function collectN<T>(n: number, what: string, register: (push: (v: T) => void) => void): Promise<T[]> {
  return within(
    new Promise<T[]>((resolve) => {
      const out: T[] = [];
      register((v) => {
        out.push(v);
        if (out.length === n) resolve(out);
      });
    }),
    what,
  );
}
