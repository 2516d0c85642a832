/**
 * Shared set-up for the MQTT integration tests: a Broker over a temp data dir plus an MQTT listener on
 * 127.0.0.1:0, torn down with t.after() (test/support/broker-fixture.ts); mqtt.js clients; a raw TCP client that
 * speaks packets through our codec for exact-bytes checks; awaiting with timeouts (no sleeps).
 */
import type { Socket } from 'node:net';
import type { TestContext } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient, type IPublishPacket } from 'mqtt';
import type { Broker, BrokerOptions } from '../../../src/core/broker.js';
import { createMqttListener, type MqttListener, type MqttSessionOptions } from '../../../src/protocols/mqtt/index.js';
import { PacketSplitter, decodePacket, encodePacket, type MqttPacket, type MqttVersion } from '../../../src/protocols/mqtt/codec/index.js';
import { startBroker } from '../../support/broker-fixture.js';
import { RawClient } from '../../support/raw-client.js';
import { within } from '../../support/within.js';
import type { LogEntry } from '../../support/capture-logger.js';
export { within } from '../../support/within.js';
export { captureLogger, type LogEntry } from '../../support/capture-logger.js';

export const WAIT_MS = 5_000;

export interface Received {
  topic: string;
  payload: Buffer;
  packet: IPublishPacket;
}

/** Resolves with the next `n` messages `client` receives (optionally only those on topics matching `filter`). */
export function nextMessages(client: MqttClient, n: number, what = `${n} messages`, filter?: (topic: string) => boolean): Promise<Received[]> {
  const out: Received[] = [];
  return within(
    new Promise<Received[]>((resolve) => {
      const on = (topic: string, payload: Buffer, packet: IPublishPacket) => {
        if (filter !== undefined && !filter(topic)) return;
        out.push({ topic, payload, packet });
        if (out.length >= n) {
          client.off('message', on);
          resolve(out);
        }
      };
      client.on('message', on);
    }),
    what,
  );
}

export interface Fixture {
  broker: Broker;
  listener: MqttListener;
  port: number;
  url: string;
  dataDir: string;
  entries: LogEntry[];
  /** An mqtt.js client (no reconnect), ended after the test. */
  client(options?: IClientOptions): Promise<MqttClient>;
  /** A raw TCP client, destroyed after the test. */
  raw(version?: MqttVersion): Promise<RawMqtt>;
  /** Closes listener and broker and opens both again on the same data dir (a restart). */
  restart(): Promise<void>;
}

export async function startMqtt(t: TestContext, options: Partial<MqttSessionOptions> = {}, brokerOptions: Partial<BrokerOptions> = {}): Promise<Fixture> {
  const b = await startBroker(t, { name: 'mqtt', broker: brokerOptions, listener: (deps) => createMqttListener({ ...deps, options }) });
  // Getters: a restart replaces broker, listener and port.
  const f: Fixture = {
    get broker() {
      return b.broker;
    },
    get listener() {
      return b.listener;
    },
    get port() {
      return b.port;
    },
    get url() {
      return `mqtt://127.0.0.1:${b.port}`;
    },
    dataDir: b.dataDir,
    entries: b.entries,
    async client(extra = {}) {
      const c = await mqtt.connectAsync(f.url, { reconnectPeriod: 0, connectTimeout: WAIT_MS, protocolVersion: 4, ...extra });
      b.onStop(() => c.endAsync(true));
      return c;
    },
    async raw(version: MqttVersion = 5) {
      const r = await RawMqtt.connect(b.port, version);
      b.onStop(() => r.socket.destroy());
      return r;
    },
    restart: () => b.restart(),
  };
  return f;
}

/** A plain TCP client (a RawClient) that writes encoded packets and decodes what the server sends with our codec. */
export class RawMqtt {
  readonly packets: MqttPacket[] = [];
  /** A packet from the server our codec could not decode. */
  error: unknown;

  private constructor(
    private readonly raw: RawClient,
    public version: MqttVersion,
  ) {
    const splitter = new PacketSplitter({ onPacket: (first, body) => this.packets.push(decodePacket(first, Buffer.from(body), this.version)) });
    // Registered after the RawClient's own listener, but a waiter it wakes runs only after this one (a microtask).
    raw.socket.on('data', (chunk: Buffer) => {
      try {
        if (this.error === undefined) splitter.push(chunk);
      } catch (err) {
        // Kept for the test to look at; an exception here would fail the whole file.
        this.error = err;
      }
    });
  }

  static async connect(port: number, version: MqttVersion): Promise<RawMqtt> {
    return new RawMqtt(await RawClient.connect(port, WAIT_MS), version);
  }

  get socket(): Socket {
    return this.raw.socket;
  }

  get ended(): boolean {
    return this.raw.ended;
  }

  get closed(): Promise<void> {
    return this.raw.closed;
  }

  send(p: MqttPacket | Buffer): void {
    this.raw.send(Buffer.isBuffer(p) ? p : encodePacket(p, this.version));
  }

  /** Sends CONNECT (clean, keepalive 0 unless given) and awaits CONNACK. */
  async connect(clientId: string, extra: Partial<Extract<MqttPacket, { type: 'connect' }>> = {}): Promise<MqttPacket> {
    this.send({ type: 'connect', protocolName: 'MQTT', protocolLevel: this.version, cleanStart: true, keepAliveSec: 0, clientId, ...extra });
    return this.next('connack');
  }

  /** Resolves with the first received packet of `type` not yet taken (removing it). */
  next(type: MqttPacket['type']): Promise<MqttPacket> {
    return this.raw.until(
      () => {
        const i = this.packets.findIndex((p) => p.type === type);
        return i >= 0 ? this.packets.splice(i, 1)[0] : null;
      },
      type,
      () => JSON.stringify(this.packets.map((p) => p.type)),
    );
  }

  waitClosed(ms = WAIT_MS): Promise<void> {
    return this.raw.waitClosed(ms);
  }
}

/** Resolves with the arguments of the next `event` of an mqtt.js client (whose typings are not Node's EventEmitter). */
export function nextEvent(emitter: { once(event: string, listener: (...args: any[]) => void): unknown }, event: string, what = event, ms = WAIT_MS): Promise<unknown[]> {
  return within(new Promise<unknown[]>((resolve) => void emitter.once(event, (...args: unknown[]) => resolve(args))), what, ms);
}

/** Resolves with the first packet an mqtt.js client receives whose cmd is `cmd`. */
export function nextPacket(client: MqttClient, cmd: string, ms = WAIT_MS): Promise<Record<string, unknown>> {
  return within(
    new Promise((resolve) => {
      const on = (p: { cmd: string }) => {
        if (p.cmd !== cmd) return;
        client.off('packetreceive', on);
        resolve(p as unknown as Record<string, unknown>);
      };
      client.on('packetreceive', on);
    }),
    `a ${cmd} packet`,
    ms,
  );
}
