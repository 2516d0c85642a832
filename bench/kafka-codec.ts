/**
 * Kafka codec benchmark: the generic, table-driven codec on the hot APIs, against baselines measured in the same
 * run (DESIGN "Performance principles": a ratio, because these machines are noisy).
 *
 * Cases (golden kafkajs fixtures from test/fixtures/kafka plus one broker-built Fetch response):
 *   produce-v7 request   decodeRequest + encodeRequest of the captured frame (one 1-record batch)
 *   fetch-v11 request    decodeRequest + encodeRequest of the captured frame
 *   fetch-v11 response   encodeResponse + decodeResponse, 1 topic × 8 partitions × a 16 KiB records slice
 *   fetch-v12 response   the same in the flexible (compact, tagged) encoding librdkafka uses
 * Baselines per case: `Buffer.from(frame)` (one copy of the same bytes: the floor of any codec that
 * allocates its output) and `JSON.parse` of the decoded object serialised as JSON (records as base64) — what a
 * "just use JSON" codec would cost. Ratio > 1 means the codec is faster than the baseline.
 *
 * Usage: node dist/bench/run.js kafka-codec [--quick]
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import { ApiKey, decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../src/protocols/kafka/codec/index.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/kafka');

function fixture(name: string): Buffer {
  return Buffer.from(readFileSync(join(FIXTURES, `${name}.kafkajs.hex`), 'utf8').replace(/\s+/g, ''), 'hex');
}

/** ops/s of `fn`, run in rounds until `ms` elapse (after a warm-up of a quarter of that). */
function measure(fn: () => unknown, ms: number): number {
  const warmEnd = performance.now() + ms / 4;
  while (performance.now() < warmEnd) for (let i = 0; i < 100; i++) fn();
  let ops = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 200; i++) fn();
    ops += 200;
    t = performance.now();
  }
  return (ops * 1000) / (t - t0);
}

let sink = 0;

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0);
}

export async function run(args: string[] = []): Promise<void> {
  const ms = args.includes('--quick') ? 300 : 1500;
  const produce = fixture('produce-v7');
  const fetchReq = fixture('fetch-v11');
  const records = Buffer.alloc(16 * 1024, 0x61);
  const fetchBody = {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [
      {
        topic: 'bench-topic',
        partitions: Array.from({ length: 8 }, (_, i) => ({ partitionIndex: i, errorCode: 0, highWatermark: 1_000_000 + i, lastStableOffset: 1_000_000 + i, logStartOffset: 0, abortedTransactions: [], records })),
      },
    ],
  };
  const fetch11 = encodeResponse(ApiKey.Fetch, 11, 7, fetchBody);
  const fetch12 = encodeResponse(ApiKey.Fetch, 12, 7, fetchBody);

  const json = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (x !== null && typeof x === 'object' && (x as { type?: string }).type === 'Buffer' ? Buffer.from((x as { data: number[] }).data).toString('base64') : x));

  const cases: Array<{ name: string; frame: Buffer; codec: () => void; jsonText: string }> = [
    {
      name: 'produce-v7 request',
      frame: produce,
      codec: () => {
        const r = decodeRequest(produce.subarray(4));
        sink += encodeRequest(r.apiKey, r.apiVersion, r.header.correlationId, r.header.clientId, r.body as never).length;
      },
      jsonText: json(decodeRequest(produce.subarray(4))),
    },
    {
      name: 'fetch-v11 request',
      frame: fetchReq,
      codec: () => {
        const r = decodeRequest(fetchReq.subarray(4));
        sink += encodeRequest(r.apiKey, r.apiVersion, r.header.correlationId, r.header.clientId, r.body as never).length;
      },
      jsonText: json(decodeRequest(fetchReq.subarray(4))),
    },
    {
      name: 'fetch-v11 response 8×16KiB',
      frame: fetch11,
      codec: () => {
        const f = encodeResponse(ApiKey.Fetch, 11, 7, fetchBody);
        sink += decodeResponse(f.subarray(4), ApiKey.Fetch, 11).body.responses.length;
      },
      jsonText: json(fetchBody),
    },
    {
      name: 'fetch-v12 response 8×16KiB',
      frame: fetch12,
      codec: () => {
        const f = encodeResponse(ApiKey.Fetch, 12, 7, fetchBody);
        sink += decodeResponse(f.subarray(4), ApiKey.Fetch, 12).body.responses.length;
      },
      jsonText: json(fetchBody),
    },
  ];

  console.log(`kafka-codec: decode+encode per op; node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'}; ${ms} ms per measurement`);
  console.log('case                          bytes   codec ops/s   copy ops/s   ratio   JSON.parse ops/s   ratio');
  for (const c of cases) {
    // Interleave codec and baselines twice, keep the best of each, to damp drift.
    let codecOps = 0;
    let copyOps = 0;
    let jsonOps = 0;
    for (let round = 0; round < 2; round++) {
      codecOps = Math.max(codecOps, measure(c.codec, ms / 2));
      copyOps = Math.max(copyOps, measure(() => (sink += Buffer.from(c.frame).length), ms / 2));
      jsonOps = Math.max(jsonOps, measure(() => (sink += (JSON.parse(c.jsonText) as object) ? 1 : 0), ms / 2));
    }
    console.log(
      `${c.name.padEnd(28)}${String(c.frame.length).padStart(7)}${fmt(codecOps).padStart(14)}${fmt(copyOps).padStart(13)}${(codecOps / copyOps).toFixed(2).padStart(8)}${fmt(jsonOps).padStart(19)}${(codecOps / jsonOps).toFixed(2).padStart(8)}`,
    );
  }
  if (sink === 42) console.log('');
}
