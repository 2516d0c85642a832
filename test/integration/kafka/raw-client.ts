/**
 * A minimal Kafka client over one socket for tests that need exact requests (hand-built batches, APIs kafkajs
 * does not call): `request(apiKey, version, body)` sends one frame and resolves with the decoded response body.
 * Requests are answered in order, so responses are matched to a FIFO of waiters. Every await has a timeout.
 */
import net from 'node:net';
import { once } from 'node:events';
import type { TestContext } from 'node:test';
import { decodeResponse, encodeRequest, type Encodable, type RequestBodies, type ResponseBodies } from '../../../src/protocols/kafka/codec/index.js';
import { within } from './harness.js';

export interface RawKafka {
  request<K extends keyof RequestBodies & keyof ResponseBodies>(apiKey: K, version: number, body: Encodable<RequestBodies[K]>): Promise<ResponseBodies[K]>;
  close(): void;
}

export async function rawKafka(t: TestContext, port: number): Promise<RawKafka> {
  const socket = net.connect(port, '127.0.0.1');
  await within(once(socket, 'connect'), 'raw kafka connect');
  t.after(() => socket.destroy());
  let buffered = Buffer.alloc(0);
  const waiters: Array<(frame: Buffer) => void> = [];
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
      const size = buffered.readInt32BE(0);
      const frame = buffered.subarray(4, 4 + size);
      buffered = buffered.subarray(4 + size);
      waiters.shift()?.(frame);
    }
  });
  let correlationId = 1;
  return {
    async request(apiKey, version, body) {
      const cid = correlationId++;
      const frame = new Promise<Buffer>((resolve, reject) => {
        waiters.push(resolve);
        socket.once('close', () => reject(new Error('connection closed')));
      });
      socket.write(encodeRequest(apiKey, version, cid, 'raw-test', body));
      const decoded = decodeResponse(await within(frame, `response to api ${apiKey} v${version}`), apiKey, version);
      if (decoded.correlationId !== cid) throw new Error(`correlation id ${decoded.correlationId}, expected ${cid}`);
      return decoded.body;
    },
    close() {
      socket.destroy();
    },
  };
}
