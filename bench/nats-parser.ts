/**
 * NATS parser benchmark: parse throughput of a stream of `PUB orders.created 128` frames (128 B payloads, 154 B
 * per frame) delivered in 64 KiB chunks, as socket reads arrive, against a baseline measured in the same run:
 * a plain `Buffer.indexOf` scan for every CRLF of the same bytes (the least work any line-based parser does).
 * Also MSG encoding (one Buffer per message, and many into one batch buffer) against a bare
 * `Buffer.allocUnsafe` + payload copy of the same size.
 *
 * Method: rounds alternate ours and the baseline (machines here are noisy); the best round of each is reported.
 * Usage: node dist/bench/run.js nats-parser [--quick]
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Parser, type Dispatcher } from '../src/protocols/nats/parser.js';
import { encodeMsg, encodePub, sizeOfMsg, writeMsg } from '../src/protocols/nats/encoder.js';

const PAYLOAD = Buffer.alloc(128, 0x78);
const CHUNK = 64 * 1024;

class Counter implements Dispatcher {
  msgs = 0;
  bytes = 0;
  onConnect(): void {}
  onPub(_s: string, _r: string | undefined, payload: Buffer): void {
    this.msgs++;
    this.bytes += payload.length;
  }
  onHpub(): void {}
  onSub(): void {}
  onUnsub(): void {}
  onPing(): void {}
  onPong(): void {}
}

function chunks(stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < stream.length; i += CHUNK) out.push(stream.subarray(i, i + CHUNK));
  return out;
}

function best(rounds: number, fn: () => number): number {
  let min = Infinity;
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    fn();
    min = Math.min(min, performance.now() - t0);
  }
  return min / 1000;
}

function row(name: string, seconds: number, msgs: number, bytes: number, baseSeconds: number): string {
  const mbs = bytes / seconds / 1e6;
  return `| ${name.padEnd(34)} | ${(msgs / seconds / 1e6).toFixed(2).padStart(8)} M/s | ${mbs.toFixed(0).padStart(6)} MB/s | ${(baseSeconds / seconds).toFixed(2).padStart(5)}x |`;
}

export async function run(args: string[] = []): Promise<void> {
  const quick = args.includes('--quick');
  const n = quick ? 100_000 : 500_000;
  const rounds = quick ? 3 : 7;
  const frame = encodePub('orders.created', undefined, PAYLOAD);
  const stream = Buffer.alloc(frame.length * n);
  for (let i = 0; i < n; i++) frame.copy(stream, i * frame.length);
  const parts = chunks(stream);

  console.log(`# nats-parser bench — Node ${process.version}, ${os.cpus()[0]?.model ?? '?'}`);
  console.log(`# ${n} PUB frames of ${frame.length} B (128 B payload) in ${CHUNK / 1024} KiB chunks; best of ${rounds} rounds`);
  console.log('');

  let sink = 0;
  const baseline = (): number => {
    // Every CRLF of the stream found with indexOf, chunk by chunk: the floor for a line-oriented parser.
    let found = 0;
    for (const c of parts) {
      let i = c.indexOf('\r\n');
      while (i !== -1) {
        found++;
        i = c.indexOf('\r\n', i + 2);
      }
    }
    sink += found;
    return found;
  };
  const ours = (): number => {
    const d = new Counter();
    const p = new Parser(d);
    for (const c of parts) p.parse(c);
    if (d.msgs !== n) throw new Error(`parsed ${d.msgs} of ${n}`);
    sink += d.bytes;
    return d.msgs;
  };
  // Warm up both, then alternate.
  baseline();
  ours();
  let tBase = Infinity;
  let tOurs = Infinity;
  for (let r = 0; r < rounds; r++) {
    tBase = Math.min(tBase, best(1, baseline));
    tOurs = Math.min(tOurs, best(1, ours));
  }

  // MSG encode: one Buffer per message vs allocUnsafe + copy of the same size.
  const m = quick ? 200_000 : 1_000_000;
  const size = sizeOfMsg('orders.created', '17', undefined, undefined, PAYLOAD.length);
  const encBase = (): number => {
    for (let i = 0; i < m; i++) {
      const b = Buffer.allocUnsafe(size);
      PAYLOAD.copy(b, 24);
      sink += b[0];
    }
    return m;
  };
  const encOurs = (): number => {
    for (let i = 0; i < m; i++) sink += encodeMsg('orders.created', '17', undefined, PAYLOAD)[0];
    return m;
  };
  const batch = Buffer.allocUnsafe(size * 256);
  const encBatch = (): number => {
    for (let i = 0; i < m; i += 256) {
      let off = 0;
      for (let k = 0; k < 256; k++) off = writeMsg(batch, off, 'orders.created', '17', undefined, undefined, PAYLOAD);
      sink += batch[off - 1];
    }
    return m;
  };
  encBase();
  encOurs();
  encBatch();
  let tEncBase = Infinity;
  let tEnc = Infinity;
  let tEncBatch = Infinity;
  for (let r = 0; r < rounds; r++) {
    tEncBase = Math.min(tEncBase, best(1, encBase));
    tEnc = Math.min(tEnc, best(1, encOurs));
    tEncBatch = Math.min(tEncBatch, best(1, encBatch));
  }

  console.log(`| ${'case'.padEnd(34)} | ${'msgs'.padStart(12)} | ${'bytes'.padStart(11)} | ratio |`);
  console.log(`|${'-'.repeat(36)}|${'-'.repeat(14)}|${'-'.repeat(13)}|-------|`);
  console.log(row('baseline: indexOf CRLF scan', tBase, n, stream.length, tBase));
  console.log(row('Parser.parse → onPub', tOurs, n, stream.length, tBase));
  console.log(row('baseline: allocUnsafe + copy', tEncBase, m, m * size, tEncBase));
  console.log(row('encodeMsg (one Buffer each)', tEnc, m, m * size, tEncBase));
  console.log(row('writeMsg (256 into one buffer)', tEncBatch, m, m * size, tEncBase));
  console.log('');
  console.log(`parser / indexOf-scan throughput ratio: ${(tBase / tOurs).toFixed(2)}  (1.00 = as fast as only finding the line ends)`);
  if (sink === -1) console.log(sink);
}
