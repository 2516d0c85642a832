/** The server's Keep Alive limit (--mqtt-max-keepalive): v5 CONNACK Server Keep Alive, enforced; 3.1.1 refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextPacket, startMqtt } from './harness.js';
import mqtt from 'mqtt';

test('v5: a Keep Alive above the limit (or none) is replaced by CONNACK Server Keep Alive, which mqtt.js adopts', async (t) => {
  const f = await startMqtt(t, { maxKeepAliveSec: 20 });
  for (const keepalive of [60, 0]) {
    const client = mqtt.connect(f.url, { protocolVersion: 5, keepalive, reconnectPeriod: 0 });
    t.after(() => client.endAsync(true));
    const connack = await nextPacket(client, 'connack');
    assert.equal((connack.properties as { serverKeepAlive?: number }).serverKeepAlive, 20, `asked ${keepalive}`);
    // mqtt.js pings at the server's interval (it keeps 0 for a client that asked for no keep alive at all).
    if (keepalive > 0) assert.equal(client.keepalive, 20);
  }
  const within = await f.client({ protocolVersion: 5, keepalive: 10 });
  assert.equal(within.keepalive, 10, 'a Keep Alive within the limit stays');
  assert.equal(within.serverProperties?.serverKeepAlive, undefined);
});

test('v5: the server enforces its Keep Alive on a client that asked for none (DISCONNECT 0x8D)', async (t) => {
  const f = await startMqtt(t, { maxKeepAliveSec: 1 });
  const raw = await f.raw(5);
  const connack = (await raw.connect('idle', { keepAliveSec: 0 })) as { properties?: { serverKeepAlive?: number } };
  assert.equal(connack.properties?.serverKeepAlive, 1);
  const bye = (await raw.next('disconnect')) as { reasonCode: number };
  assert.equal(bye.reasonCode, 0x8d);
});

test('3.1.1: a Keep Alive above the limit is refused with return code 2 (identifier rejected)', async (t) => {
  const f = await startMqtt(t, { maxKeepAliveSec: 30 });
  const raw = await f.raw(4);
  const connack = (await raw.connect('slow', { keepAliveSec: 60 })) as { reasonCode: number };
  assert.equal(connack.reasonCode, 2);
  await raw.waitClosed();
  const ok = await f.raw(4);
  assert.equal(((await ok.connect('fine', { keepAliveSec: 30 })) as { reasonCode: number }).reasonCode, 0);
});
