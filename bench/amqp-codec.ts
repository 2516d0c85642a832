/**
 * AMQP codec benchmark: a publish as a broker sees it (basic.publish method frame + content header with typical
 * properties + one 1 KiB body frame), split from a stream, decoded (method, header), then the delivery encoded
 * back (basic.deliver + header + body into one buffer). Reports msgs/s and MB/s of wire bytes against a baseline
 * in the same run: copying the same wire bytes with Buffer.concat-free Buffer#copy into a fresh allocation
 * per message, the least a broker that touches every message must do.
 *
 * A second row keeps the content header as the raw bytes it arrived in (peekBodySize + encodeMethodWithRawContent),
 * the pass-through DESIGN.md asks of a broker that only forwards properties.
 *
 * Method: batches of 2000 messages in one 2.4 MB chunk; the cases alternate in rounds of about 100 ms for ~3 s
 * each, so machine noise hits all of them; best-of-rounds and median are printed.
 *
 * Usage: node dist/bench/run.js amqp-codec [--quick]
 */
import { performance } from 'node:perf_hooks';
import {
  basicContentHeader,
  decodeContentHeader,
  decodeMethod,
  encodeMethodWithContent,
  encodeMethodWithRawContent,
  fieldTableFromObject,
  peekBodySize,
  FrameSplitter,
  FrameType,
  type BasicProperties,
} from '../src/protocols/amqp/codec/index.js';

const BODY_BYTES = 1024;
const FRAME_MAX = 131072;
const BATCH = 2000;

function publishBytes(): Buffer {
  const props: BasicProperties = {
    contentType: 'application/json',
    headers: fieldTableFromObject({ 'x-trace': 'abc123', retries: 3 }),
    deliveryMode: 2,
    correlationId: 'corr-42',
    replyTo: 'amq.rabbitmq.reply-to',
    messageId: 'msg-000001',
    timestamp: 1_700_000_000,
  };
  const body = Buffer.alloc(BODY_BYTES, 0x61);
  return encodeMethodWithContent(1, 'BasicPublish', { exchange: 'orders', routingKey: 'orders.eu.created' }, basicContentHeader(body.length, props), body, FRAME_MAX);
}

interface Round {
  msgs: number;
  seconds: number;
}

function runOurs(stream: Buffer, passThrough = false): Round {
  let msgs = 0;
  let sink = 0;
  let pending: { exchange: string; routingKey: string } | null = null;
  let header: ReturnType<typeof decodeContentHeader> | null = null;
  let rawHeader: Buffer | null = null;
  let tag = 0;
  const splitter = new FrameSplitter(
    {
      onFrame(type, channel, payload) {
        if (type === FrameType.METHOD) {
          const m = decodeMethod(payload);
          if (m.name === 'BasicPublish') pending = { exchange: m.args.exchange, routingKey: m.args.routingKey };
        } else if (type === FrameType.HEADER) {
          if (passThrough) {
            // The body size is all a forwarding broker needs; the properties travel as the bytes they came in.
            if (peekBodySize(payload) < 0) throw new Error('unreachable');
            rawHeader = payload;
          } else header = decodeContentHeader(payload);
        } else if (type === FrameType.BODY && pending !== null && passThrough && rawHeader !== null) {
          const out = encodeMethodWithRawContent(
            channel,
            'BasicDeliver',
            { consumerTag: 'amq.ctag-1', deliveryTag: ++tag, redelivered: false, exchange: pending.exchange, routingKey: pending.routingKey },
            rawHeader,
            payload,
            FRAME_MAX,
          );
          sink += out.length;
          msgs++;
          pending = null;
          rawHeader = null;
        } else if (type === FrameType.BODY && pending !== null && header !== null) {
          const out = encodeMethodWithContent(
            channel,
            'BasicDeliver',
            { consumerTag: 'amq.ctag-1', deliveryTag: ++tag, redelivered: false, exchange: pending.exchange, routingKey: pending.routingKey },
            header,
            payload,
            FRAME_MAX,
          );
          sink += out.length;
          msgs++;
          pending = null;
          header = null;
        }
      },
    },
    { frameMax: FRAME_MAX },
  );
  const t0 = performance.now();
  splitter.push(stream);
  const seconds = (performance.now() - t0) / 1000;
  if (sink === 0) throw new Error('nothing encoded');
  return { msgs, seconds };
}

function runBaseline(one: Buffer, stream: Buffer): Round {
  let sink = 0;
  const t0 = performance.now();
  for (let at = 0; at < stream.length; at += one.length) {
    const copy = Buffer.allocUnsafe(one.length);
    stream.copy(copy, 0, at, at + one.length);
    sink += copy[copy.length - 1];
  }
  const seconds = (performance.now() - t0) / 1000;
  if (sink === 0) throw new Error('nothing copied');
  return { msgs: stream.length / one.length, seconds };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

export async function run(args: string[] = []): Promise<void> {
  const budgetMs = args.includes('--quick') ? 600 : 3000;
  const one = publishBytes();
  const stream = Buffer.concat(Array.from({ length: BATCH }, () => one));
  // Warm up both paths so the JIT has settled before measuring.
  for (let i = 0; i < 5; i++) {
    runOurs(stream);
    runOurs(stream, true);
    runBaseline(one, stream);
  }
  const ours: number[] = [];
  const raw: number[] = [];
  const base: number[] = [];
  const start = performance.now();
  while (performance.now() - start < 2 * budgetMs) {
    for (const [rates, fn] of [
      [ours, () => runOurs(stream)],
      [raw, () => runOurs(stream, true)],
      [base, () => runBaseline(one, stream)],
    ] as const) {
      const t0 = performance.now();
      let msgs = 0;
      let seconds = 0;
      while (performance.now() - t0 < 100) {
        const r = fn();
        msgs += r.msgs;
        seconds += r.seconds;
      }
      rates.push(msgs / seconds);
    }
  }
  const mb = (rate: number): string => ((rate * one.length) / 1e6).toFixed(0);
  const row = (name: string, rates: number[]): string =>
    `${name.padEnd(44)} ${Math.max(...rates).toFixed(0).padStart(10)} ${median(rates).toFixed(0).padStart(10)} ${mb(median(rates)).padStart(8)}`;
  console.log(`AMQP codec: publish of ${BODY_BYTES} B body = ${one.length} wire bytes (3 frames); Node ${process.version}; ${ours.length} rounds each`);
  console.log(`${'case'.padEnd(44)} ${'best msg/s'.padStart(10)} ${'med msg/s'.padStart(10)} ${'med MB/s'.padStart(8)}`);
  console.log(row('split+decode publish, encode deliver (ours)', ours));
  console.log(row('same, header passed through raw (ours)', raw));
  console.log(row('baseline: alloc + copy the same bytes', base));
  console.log(`ratio full decode+encode / baseline (median): ${(median(ours) / median(base)).toFixed(3)}`);
  console.log(`ratio header pass-through / baseline (median): ${(median(raw) / median(base)).toFixed(3)}`);
}
