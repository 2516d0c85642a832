/**
 * MQTT 5 enhanced authentication (5.0 §4.12) with SCRAM-SHA-256 against the core user store: the real mqtt.js
 * client with `authenticationMethod` and `handleAuth`, the client side of SCRAM (RFC 5802) computed here with
 * node:crypto; re-authentication over a raw connection; an unknown method is refused with 0x8C.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { nextMessages, startMqtt, within, WAIT_MS, type RawMqtt } from './harness.js';
import type { MqttPacket } from '../../../src/protocols/mqtt/codec/index.js';

const METHOD = 'SCRAM-SHA-256';
const USERS = [{ name: 'alice', password: 'wonderland' }, { name: 'bob', password: 'builder' }];

/** The client side of one SCRAM-SHA-256 exchange. */
class ScramClient {
  private readonly nonce = randomBytes(18).toString('base64');
  private clientFirstBare: string;
  private expectedServerSignature: Buffer | null = null;
  constructor(
    user: string,
    private readonly password: string,
  ) {
    this.clientFirstBare = `n=${user},r=${this.nonce}`;
  }
  first(): Buffer {
    return Buffer.from(`n,,${this.clientFirstBare}`);
  }
  final(serverFirst: Buffer): Buffer {
    const text = serverFirst.toString();
    const attrs = Object.fromEntries(text.split(',').map((kv) => [kv[0], kv.slice(2)]));
    assert.ok(attrs.r!.startsWith(this.nonce), 'the server nonce extends ours');
    const salted = pbkdf2Sync(this.password, Buffer.from(attrs.s!, 'base64'), Number(attrs.i), 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${attrs.r}`;
    const authMessage = `${this.clientFirstBare},${text},${withoutProof}`;
    const signature = createHmac('sha256', storedKey).update(authMessage).digest();
    const proof = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    const serverKey = createHmac('sha256', salted).update('Server Key').digest();
    this.expectedServerSignature = createHmac('sha256', serverKey).update(authMessage).digest();
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`);
  }
  /** True when server-final proves the server knows the credential. */
  verifies(serverFinal: Buffer): boolean {
    return serverFinal.toString() === `v=${this.expectedServerSignature!.toString('base64')}`;
  }
}

function scramOptions(user: string, password: string): { scram: ScramClient; options: mqtt.IClientOptions } {
  const scram = new ScramClient(user, password);
  const options: mqtt.IClientOptions = {
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: WAIT_MS,
    properties: { authenticationMethod: METHOD, authenticationData: scram.first() },
  };
  return { scram, options };
}

/** mqtt.js's hook: answers the server-first AUTH with client-final. */
function handleAuthWith(client: mqtt.MqttClient, scram: ScramClient): void {
  client.handleAuth = (packet, callback) => {
    const data = packet.properties?.authenticationData as Buffer;
    callback(undefined, { cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: METHOD, authenticationData: scram.final(data) } });
  };
}

test('mqtt.js logs in with SCRAM-SHA-256: AUTH continue, then CONNACK with server-final; the session acts as the user', async (t) => {
  const f = await startMqtt(t, { allowAnonymous: false }, { users: USERS });
  const { scram, options } = scramOptions('alice', 'wonderland');
  const client = mqtt.connect(f.url, { ...options, manualConnect: true });
  t.after(() => client.endAsync(true));
  handleAuthWith(client, scram);
  const connack = within(new Promise<mqtt.IConnackPacket>((resolve, reject) => client.once('connect', resolve).once('error', reject)), 'CONNACK');
  client.connect();
  const ack = await connack;
  assert.equal(ack.reasonCode, 0);
  assert.equal(ack.properties?.authenticationMethod, METHOD);
  assert.ok(scram.verifies(ack.properties!.authenticationData as Buffer), 'server-final carries the right server signature');
  assert.equal(f.listener.connections()[0]!.principal.name, 'alice');
  assert.equal(f.listener.connections()[0]!.principal.mechanism, METHOD);
  await client.subscribeAsync('auth/t', { qos: 1 });
  const got = nextMessages(client, 1);
  await client.publishAsync('auth/t', 'hi', { qos: 1 });
  assert.equal((await got)[0]!.payload.toString(), 'hi');
});

test('a wrong SCRAM password gets CONNACK 0x86; an unknown user too; an unknown method gets 0x8C', async (t) => {
  const f = await startMqtt(t, { allowAnonymous: false }, { users: USERS });
  for (const [user, password] of [['alice', 'nope'], ['mallory', 'x']] as const) {
    const { scram, options } = scramOptions(user, password);
    const client = mqtt.connect(f.url, { ...options, manualConnect: true });
    handleAuthWith(client, scram);
    const failed = within(new Promise<{ code?: number }>((resolve) => client.once('error', (err) => resolve(err as { code?: number }))), `the refusal of ${user}`);
    client.connect();
    assert.equal((await failed).code, 0x86, user);
    client.end(true);
  }
  const client = mqtt.connect(f.url, { protocolVersion: 5, reconnectPeriod: 0, properties: { authenticationMethod: 'KERBEROS-9' } });
  const err = await within(new Promise<{ code?: number }>((resolve) => client.once('error', (e) => resolve(e as { code?: number }))), 'the refusal of an unknown method');
  assert.equal(err.code, 0x8c);
  client.end(true);
});

async function rawScramLogin(raw: RawMqtt, user: string, password: string): Promise<MqttPacket> {
  const scram = new ScramClient(user, password);
  raw.send({ type: 'connect', protocolName: 'MQTT', protocolLevel: 5, cleanStart: true, keepAliveSec: 0, clientId: `raw-${user}`, properties: { authenticationMethod: METHOD, authenticationData: scram.first() } });
  const cont = (await raw.next('auth')) as Extract<MqttPacket, { type: 'auth' }>;
  assert.equal(cont.reasonCode, 0x18);
  raw.send({ type: 'auth', reasonCode: 0x18, properties: { authenticationMethod: METHOD, authenticationData: scram.final(cont.properties!.authenticationData!) } });
  return raw.next('connack');
}

test('re-authentication: AUTH 0x19 → 0x18 server-first → client-final → AUTH 0x00 with server-final; another user is refused', async (t) => {
  const f = await startMqtt(t, { allowAnonymous: false }, { users: USERS });
  const raw = await f.raw(5);
  const connack = (await rawScramLogin(raw, 'alice', 'wonderland')) as { reasonCode: number };
  assert.equal(connack.reasonCode, 0);

  const again = new ScramClient('alice', 'wonderland');
  raw.send({ type: 'auth', reasonCode: 0x19, properties: { authenticationMethod: METHOD, authenticationData: again.first() } });
  const cont = (await raw.next('auth')) as Extract<MqttPacket, { type: 'auth' }>;
  assert.equal(cont.reasonCode, 0x18);
  raw.send({ type: 'auth', reasonCode: 0x18, properties: { authenticationMethod: METHOD, authenticationData: again.final(cont.properties!.authenticationData!) } });
  const done = (await raw.next('auth')) as Extract<MqttPacket, { type: 'auth' }>;
  assert.equal(done.reasonCode, 0);
  assert.ok(again.verifies(done.properties!.authenticationData!));
  // Still connected and working.
  raw.send({ type: 'pingreq' });
  await raw.next('pingresp');

  const bob = new ScramClient('bob', 'builder');
  raw.send({ type: 'auth', reasonCode: 0x19, properties: { authenticationMethod: METHOD, authenticationData: bob.first() } });
  const cont2 = (await raw.next('auth')) as Extract<MqttPacket, { type: 'auth' }>;
  raw.send({ type: 'auth', reasonCode: 0x18, properties: { authenticationMethod: METHOD, authenticationData: bob.final(cont2.properties!.authenticationData!) } });
  const bye = (await raw.next('disconnect')) as { reasonCode: number };
  assert.equal(bye.reasonCode, 0x87);
  await raw.waitClosed();
});

test('during enhanced authentication only AUTH may come: a PUBLISH before CONNACK is a protocol error', async (t) => {
  const f = await startMqtt(t, { allowAnonymous: false }, { users: USERS });
  const raw = await f.raw(5);
  const scram = new ScramClient('alice', 'wonderland');
  raw.send({ type: 'connect', protocolName: 'MQTT', protocolLevel: 5, cleanStart: true, keepAliveSec: 0, clientId: 'eager', properties: { authenticationMethod: METHOD, authenticationData: scram.first() } });
  await raw.next('auth');
  raw.send({ type: 'publish', dup: false, qos: 0, retain: false, topic: 'x', payload: Buffer.from('early') });
  await raw.waitClosed();
  assert.ok(!raw.packets.some((p) => p.type === 'connack'));
});
