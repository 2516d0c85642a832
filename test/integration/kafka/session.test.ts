import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { ApiKey, decodeResponse, encodeRequest } from '../../../src/protocols/kafka/codec/index.js';
import { ADVERTISED_APIS } from '../../../src/protocols/kafka/index.js';
import { startKafka, within } from './harness.js';

/** Connects, sends `bytes`, collects what comes back until the server closes (or `untilBytes` arrived). */
async function exchange(port: number, bytes: Buffer, untilBytes = Infinity): Promise<{ data: Buffer; closed: boolean }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  let total = 0;
  const result = new Promise<{ data: Buffer; closed: boolean }>((resolve) => {
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      total += c.length;
      if (total >= untilBytes) {
        socket.destroy();
        resolve({ data: Buffer.concat(chunks), closed: false });
      }
    });
    socket.on('close', () => resolve({ data: Buffer.concat(chunks), closed: true }));
    socket.on('error', () => undefined);
  });
  socket.write(bytes);
  return within(result, 'the server');
}

test('a malformed or oversized frame closes only that connection, with a log line', async (t) => {
  const f = await startKafka(t, { kafkaMaxRequestBytes: 1024 });
  const admin = f.track(f.kafka().admin());
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'still-here' }] });
  const negative = Buffer.from([0xff, 0xff, 0xff, 0xfe, 1, 2, 3]);
  const oversized = Buffer.alloc(8);
  oversized.writeInt32BE(4096);
  // A frame whose header is cut short.
  const truncatedHeader = Buffer.from([0, 0, 0, 3, 0, 3, 0]);
  for (const bad of [negative, oversized, truncatedHeader]) {
    const { data, closed } = await exchange(f.port, bad);
    assert.equal(closed, true);
    assert.equal(data.length, 0);
  }
  assert.ok(f.entries.filter((e) => e.level === 'warn' && e.msg.startsWith('closing kafka connection')).length >= 3);
  // The admin's connection was not harmed.
  assert.deepEqual(await admin.listTopics(), ['still-here']);
});

test('an API the broker does not advertise closes the connection; ApiVersions of an unknown version gets the v0 fallback', async (t) => {
  const f = await startKafka(t);
  // DescribeLogDirs is not implemented (so not advertised).
  const describeLogDirs = encodeRequest(ApiKey.DescribeLogDirs, 0, 7, 'raw', { topics: null });
  const { closed } = await exchange(f.port, describeLogDirs);
  assert.equal(closed, true);
  // ApiVersions v9: v0-format body, error 35, the full table including ApiVersions itself.
  // Built as v3 (request header v2, as librdkafka sends it), then relabelled v9.
  const req = Buffer.from(encodeRequest(ApiKey.ApiVersions, 3, 42, 'raw', { clientSoftwareName: 'raw', clientSoftwareVersion: '1' }));
  req.writeInt16BE(9, 6);
  const { data } = await exchange(f.port, req, 10);
  const size = data.readInt32BE(0);
  const frame = data.subarray(4, 4 + size);
  if (frame.length < size) {
    // Not all of it arrived in the first chunk; the size prefix is enough to know the shape.
    assert.ok(size > 10);
    return;
  }
  const { correlationId, body } = decodeResponse(frame, ApiKey.ApiVersions, 0);
  assert.equal(correlationId, 42);
  assert.equal(body.errorCode, 35);
  assert.deepEqual(body.apiKeys.map((k) => [k.apiKey, k.minVersion, k.maxVersion]), ADVERTISED_APIS.map((a) => [a.apiKey, a.minVersion, a.maxVersion]));
});

test('pipelined requests are answered in order; ApiVersions v3 answers the advertised table', async (t) => {
  const f = await startKafka(t);
  const frames = [
    encodeRequest(ApiKey.ApiVersions, 3, 1, 'raw', { clientSoftwareName: 'raw-test', clientSoftwareVersion: '1.0' }),
    encodeRequest(ApiKey.Metadata, 12, 2, 'raw', { topics: null, allowAutoTopicCreation: false }),
    encodeRequest(ApiKey.ApiVersions, 2, 3, 'raw', {}),
  ];
  const socket = net.connect(f.port, '127.0.0.1');
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  socket.write(Buffer.concat(frames));
  const received: Buffer[] = [];
  let buf = Buffer.alloc(0);
  const done = new Promise<void>((resolve) => {
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        received.push(buf.subarray(4, 4 + buf.readInt32BE(0)));
        buf = buf.subarray(4 + buf.readInt32BE(0));
      }
      if (received.length === 3) resolve();
    });
  });
  await within(done, 'three responses');
  const v3 = decodeResponse(received[0], ApiKey.ApiVersions, 3);
  assert.equal(v3.correlationId, 1);
  assert.equal(v3.body.errorCode, 0);
  assert.equal(v3.body.apiKeys.length, ADVERTISED_APIS.length);
  const md = decodeResponse(received[1], ApiKey.Metadata, 12);
  assert.equal(md.correlationId, 2);
  assert.deepEqual(md.body.brokers.map((b) => [b.nodeId, b.host, b.port]), [[0, '127.0.0.1', f.port]]);
  assert.equal(md.body.controllerId, 0);
  assert.equal(decodeResponse(received[2], ApiKey.ApiVersions, 2).correlationId, 3);
});

test('SASL PLAIN authenticates against the user store and refuses a wrong password', async (t) => {
  const f = await startKafka(t);
  await f.broker.users.create('alice', 'secret-pw');
  const ok = f.track(f.kafka({ sasl: { mechanism: 'plain', username: 'alice', password: 'secret-pw' } }).admin());
  await ok.connect();
  assert.deepEqual(await ok.listTopics(), []);
  const bad = f.track(f.kafka({ sasl: { mechanism: 'plain', username: 'alice', password: 'wrong' }, retry: { retries: 0 } }).admin());
  await assert.rejects(bad.connect());
});
