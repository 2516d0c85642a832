/**
 * Shared set-up for the interop tests: ONE Broker over a temp data dir with all four listeners (Kafka, AMQP,
 * NATS, MQTT) on 127.0.0.1:0 (test/support/broker-fixture.ts), and the real clients (kafkajs, amqplib,
 * @nats-io/transport-node, mqtt.js), all closed with t.after(). Awaiting is done with timeouts, never sleeps.
 */
import type { TestContext } from 'node:test';
import amqp, { type ChannelModel } from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import type { Broker } from '../../../src/core/broker.js';
import { createAmqpListener } from '../../../src/protocols/amqp/index.js';
import { createKafkaListener } from '../../../src/protocols/kafka/index.js';
import { createMqttListener } from '../../../src/protocols/mqtt/index.js';
import { createNatsListener } from '../../../src/protocols/nats/index.js';
import type { ProtocolListener } from '../../../src/server/listener-plugin.js';
import { startBroker } from '../../support/broker-fixture.js';
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

/** Listeners that bind and close together: `listen` gives each one's first address, in order. */
function listenerGroup(listeners: ProtocolListener[]): ProtocolListener {
  return {
    async listen(host, port) {
      const out = [];
      for (const l of listeners) out.push((await l.listen(host, port))[0]);
      return out;
    },
    async close() {
      for (const l of listeners) await l.close();
    },
  };
}

/** Starts the broker and the four listeners; everything is closed when `t` ends. */
export async function startAll(t: TestContext): Promise<InteropFixture> {
  const b = await startBroker(t, {
    name: 'interop',
    broker: { groups: { minSessionTimeoutMs: 1000 } },
    listener: (deps) => listenerGroup([createKafkaListener({ ...deps, config: { advertisedHost: '127.0.0.1' } }), createAmqpListener(deps), createNatsListener(deps), createMqttListener(deps)]),
  });
  const [k, a, n, m] = b.bound;
  return {
    broker: b.broker,
    kafka: () => new Kafka({ clientId: 'interop', brokers: [`127.0.0.1:${k.port}`], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 50, maxRetryTime: 500 } }),
    track(client) {
      b.onStop(() => within(client.disconnect(), 'kafkajs disconnect', 5000));
      return client;
    },
    async amqp() {
      const c = await within(amqp.connect(`amqp://guest:guest@127.0.0.1:${a.port}`), 'amqplib connect');
      c.on('error', () => undefined);
      b.onStop(() => within(c.close(), 'amqplib close', 2000));
      return c;
    },
    async nats() {
      const c = await natsConnect({ servers: `127.0.0.1:${n.port}`, reconnect: false, timeout: WAIT_MS });
      b.onStop(() => (c.isClosed() ? undefined : c.close()));
      return c;
    },
    async mqtt(options = {}) {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${m.port}`, { reconnectPeriod: 0, connectTimeout: WAIT_MS, protocolVersion: 5, ...options });
      b.onStop(() => c.endAsync(true));
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
