/**
 * Shared set-up for the MQTT integration tests: a Broker over a temp data dir plus an MQTT listener on
 * 127.0.0.1:0, torn down with t.after(); mqtt.js clients; a raw TCP client that speaks packets through our codec
 * for exact-bytes checks; awaiting with timeouts (no sleeps).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient, type IPublishPacket } from 'mqtt';
import { Broker, type BrokerOptions } from '../../../src/core/broker.js';
import { createMqttListener, type MqttListener, type MqttSessionOptions } from '../../../src/protocols/mqtt/index.js';
import { PacketSplitter, decodePacket, encodePacket, type MqttPacket, type MqttVersion } from '../../../src/protocols/mqtt/codec/index.js';
import { within } from '../../support/within.js';
import { captureLogger, type LogEntry } from '../../support/capture-logger.js';
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
  const dataDir = await mkdtemp(join(tmpdir(), 'trib-mqtt-'));
  const { logger, entries } = captureLogger();
  const clients: MqttClient[] = [];
  const raws: RawMqtt[] = [];
  const open = async () => {
    const broker = await Broker.open({ dataDir, fsync: 'never', fsyncIntervalMs: 1000, ...brokerOptions });
    const listener = createMqttListener({ broker, logger, options });
    const [bound] = await listener.listen('127.0.0.1', 0);
    return { broker, listener, port: bound.port };
  };
  let cur = await open();
  const shut = async () => {
    for (const c of clients.splice(0)) await c.endAsync(true).catch(() => undefined);
    for (const r of raws.splice(0)) r.socket.destroy();
    await cur.listener.close();
    await cur.broker.close();
  };
  t.after(async () => {
    await shut();
    await rm(dataDir, { recursive: true, force: true });
  });
  const f: Fixture = {
    broker: cur.broker,
    listener: cur.listener,
    port: cur.port,
    url: `mqtt://127.0.0.1:${cur.port}`,
    dataDir,
    entries,
    async client(extra = {}) {
      const c = await mqtt.connectAsync(f.url, { reconnectPeriod: 0, connectTimeout: WAIT_MS, protocolVersion: 4, ...extra });
      clients.push(c);
      return c;
    },
    async raw(version: MqttVersion = 5) {
      const r = await RawMqtt.connect(f.port, version);
      raws.push(r);
      return r;
    },
    async restart() {
      await shut();
      cur = await open();
      f.broker = cur.broker;
      f.listener = cur.listener;
      f.port = cur.port;
      f.url = `mqtt://127.0.0.1:${cur.port}`;
    },
  };
  return f;
}

/** A plain TCP client that writes encoded packets and decodes what the server sends with our codec. */
export class RawMqtt {
  readonly packets: MqttPacket[] = [];
  ended = false;
  /** A packet from the server our codec could not decode. */
  error: unknown;
  private waiters: Array<() => void> = [];
  private readonly splitter: PacketSplitter;
  readonly closed: Promise<void>;

  private constructor(
    readonly socket: Socket,
    public version: MqttVersion,
  ) {
    this.splitter = new PacketSplitter({ onPacket: (first, body) => this.packets.push(decodePacket(first, Buffer.from(body), this.version)) });
    socket.on('data', (chunk: Buffer) => {
      try {
        if (this.error === undefined) this.splitter.push(chunk);
      } catch (err) {
        // Kept for the test to look at; an exception here would fail the whole file.
        this.error = err;
      }
      this.wake();
    });
    socket.on('error', () => undefined);
    this.closed = once(socket, 'close').then(() => {
      this.ended = true;
      this.wake();
    });
  }

  static async connect(port: number, version: MqttVersion): Promise<RawMqtt> {
    const socket = netConnect(port, '127.0.0.1');
    await within(once(socket, 'connect'), 'raw connect');
    return new RawMqtt(socket, version);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(p: MqttPacket | Buffer): void {
    this.socket.write(Buffer.isBuffer(p) ? p : encodePacket(p, this.version));
  }

  /** Sends CONNECT (clean, keepalive 0 unless given) and awaits CONNACK. */
  async connect(clientId: string, extra: Partial<Extract<MqttPacket, { type: 'connect' }>> = {}): Promise<MqttPacket> {
    this.send({ type: 'connect', protocolName: 'MQTT', protocolLevel: this.version, cleanStart: true, keepAliveSec: 0, clientId, ...extra });
    return this.next('connack');
  }

  /** Resolves with the first received packet of `type` not yet taken (removing it). */
  async next(type: MqttPacket['type']): Promise<MqttPacket> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const i = this.packets.findIndex((p) => p.type === type);
      if (i >= 0) return this.packets.splice(i, 1)[0];
      if (this.ended) throw new Error(`connection closed before ${type}; got ${JSON.stringify(this.packets.map((p) => p.type))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${type}; got ${JSON.stringify(this.packets.map((p) => p.type))}`);
      await within(new Promise<void>((resolve) => this.waiters.push(resolve)), type, left).catch(() => undefined);
    }
  }

  waitClosed(ms = WAIT_MS): Promise<void> {
    return within(this.closed, 'the server to close the connection', ms);
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
