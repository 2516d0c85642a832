/**
 * NATS end-to-end benchmark: the built `tributary serve` binary against nats-server (/usr/sbin/nats-server),
 * both as child processes on 127.0.0.1, driven by the same client (@nats-io/transport-node).
 *
 * - pub/sub: 128 B messages, 1 publisher (this process) and 1 or 10 subscriber connections (a separate child
 *   process, so the publisher's and the subscribers' client work are not on one event loop). One client
 *   process saturates near these servers' rates, so throughput alone mostly measures the client; the fair
 *   comparison is messages delivered per broker CPU-second (/proc/<pid>/stat before and after), printed with it.
 *   The publisher flushes (PING/PONG) every FLUSH_EVERY messages, which bounds what waits in the server.
 * - request/reply: sequential requests (responder on another connection of this process), latency p50/p99.
 *
 * Each server first gets a warm-up pass (not reported: Node's JIT). Rounds alternate the two servers
 * (machines here are noisy); the best round of each is reported, and ratios
 * are Tributary / nats-server. Targets: throughput ≥ 0.7x, deliveries per CPU-second ≥ 0.5x, p99 ≤ 1.5x.
 *
 * Usage: node dist/bench/run.js nats [--quick] [--rounds N] [--gomaxprocs N (nats-server's GOMAXPROCS)]
 * The same file is the subscriber child: node dist/bench/nats.js --subscriber <servers> <connections> <count>.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { freePort, lines, waitLine } from './peer-process.js';
import { EPHEMERAL, processCpuSeconds, serveProcess, type Tributary } from '../test/support/tributary-process.js';

const NATS_SERVER = '/usr/sbin/nats-server';
const SUBJECT = 'bench.x';
const PAYLOAD = new Uint8Array(128).fill(0x78);
const FLUSH_EVERY = 4096;
const WAIT_MS = 60_000;

interface Server {
  name: string;
  pid: number;
  servers: string;
  stop(): Promise<void>;
}

async function startNatsServer(gomaxprocs: string | undefined): Promise<Server> {
  const port = await freePort();
  const env = gomaxprocs === undefined ? process.env : { ...process.env, GOMAXPROCS: gomaxprocs };
  const child = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'], env });
  await waitLine(lines(child, 'stderr'), (l) => l.includes('Server is ready'), 'nats-server to be ready', WAIT_MS);
  return {
    name: 'nats-server',
    pid: child.pid!,
    servers: `127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

async function startTributary(): Promise<Server> {
  const dir = await mkdtemp(join(os.tmpdir(), 'trib-bench-nats-'));
  const t: Tributary = serveProcess(dir, ['--data-dir', join(dir, 'data'), ...EPHEMERAL, '--fsync', 'never']);
  const { nats: port } = await t.ports();
  return {
    name: 'tributary',
    pid: t.child.pid!,
    servers: `127.0.0.1:${port}`,
    async stop() {
      t.kill('SIGTERM');
      await t.waitForExit().catch(() => t.kill());
      await rm(dir, { recursive: true, force: true });
    },
  };
}

interface PubSubResult {
  seconds: number;
  /** When the publisher's last flush returned (the server had read everything); the rest is subscribers' lag. */
  publishedSeconds: number;
  /** CPU seconds of the publisher (this process) and of the subscriber child: which side saturates. */
  clientCpu: { publisher: number; subscribers: number };
  published: number;
  deliveries: number;
  brokerCpu: number;
}

/** One pub/sub round: subscriber child ready → publish `count` → child reports every connection got them all. */
async function pubSub(server: Server, subscribers: number, count: number): Promise<PubSubResult> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--subscriber', server.servers, String(subscribers), String(count)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const out = lines(child, 'stdout');
    await waitLine(out, (l) => l === 'ready', 'the subscribers', WAIT_MS);
    const nc = await connect({ servers: server.servers, reconnect: false });
    try {
      const done = waitLine(out, (l) => l === 'done', 'every subscriber to get every message', WAIT_MS);
      const cpu0 = processCpuSeconds(server.pid);
      const subCpu0 = processCpuSeconds(child.pid!);
      const pubCpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 1; i <= count; i++) {
        nc.publish(SUBJECT, PAYLOAD);
        if (i % FLUSH_EVERY === 0) await nc.flush();
      }
      await nc.flush();
      const publishedSeconds = (performance.now() - t0) / 1000;
      await done;
      const seconds = (performance.now() - t0) / 1000;
      const brokerCpu = processCpuSeconds(server.pid) - cpu0;
      const pubCpu = process.cpuUsage(pubCpu0);
      const clientCpu = { publisher: (pubCpu.user + pubCpu.system) / 1e6, subscribers: processCpuSeconds(child.pid!) - subCpu0 };
      return { seconds, publishedSeconds, clientCpu, published: count, deliveries: count * subscribers, brokerCpu };
    } finally {
      await nc.close();
    }
  } finally {
    child.stdin!.end();
    if (child.exitCode === null) await once(child, 'exit');
  }
}

interface LatencyResult {
  p50: number;
  p99: number;
}

async function requestReply(server: Server, count: number): Promise<LatencyResult> {
  const responder = await connect({ servers: server.servers, reconnect: false });
  const requester = await connect({ servers: server.servers, reconnect: false });
  try {
    responder.subscribe('bench.rr', { callback: (_err, m) => void m.respond(m.data) });
    await responder.flush();
    for (let i = 0; i < 200; i++) await requester.request('bench.rr', PAYLOAD, { timeout: 5000 }); // warm-up
    const samples = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      await requester.request('bench.rr', PAYLOAD, { timeout: 5000 });
      samples[i] = performance.now() - t0;
    }
    samples.sort();
    return { p50: samples[Math.floor(count * 0.5)], p99: samples[Math.floor(count * 0.99)] };
  } finally {
    await requester.close();
    await responder.close();
  }
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export async function run(args: string[] = []): Promise<void> {
  const quick = args.includes('--quick');
  const roundsAt = args.indexOf('--rounds');
  const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : quick ? 1 : 3;
  const perSub = { 1: quick ? 50_000 : 200_000, 10: quick ? 10_000 : 50_000 } as const;
  const rrCount = quick ? 1_000 : 5_000;
  console.log(`# NATS end to end: tributary vs nats-server — ${os.cpus()[0]?.model ?? 'cpu?'} x${os.cpus().length}, node ${process.version}, ${new Date().toISOString()}`);
  if (!existsSync(NATS_SERVER)) {
    console.log(`${NATS_SERVER} is not installed: no peer to compare with, nothing measured.`);
    return;
  }
  // --gomaxprocs 1 runs nats-server's Go code on one thread at a time, like the broker's one event loop: on a
  // machine loaded by other jobs a multi-threaded server gets a larger share of the CPUs.
  const gomaxprocsAt = args.indexOf('--gomaxprocs');
  const gomaxprocs = gomaxprocsAt >= 0 ? args[gomaxprocsAt + 1] : undefined;
  if (gomaxprocs !== undefined) console.log(`nats-server runs with GOMAXPROCS=${gomaxprocs}`);
  const servers = [await startTributary(), await startNatsServer(gomaxprocs)];
  try {
    type Best = { pubsub: Map<number, PubSubResult>; rr: LatencyResult | null };
    const best = new Map<string, Best>(servers.map((s) => [s.name, { pubsub: new Map(), rr: null }]));
    // Warm-up, not reported: a fresh Node process runs its first messages through the interpreter and the
    // JIT; what is compared is a broker in its steady state.
    for (const s of servers) {
      await pubSub(s, 1, perSub[10]);
      await pubSub(s, 10, perSub[10] / 5);
      await requestReply(s, 500);
    }
    for (let round = 0; round < rounds; round++) {
      // Alternate the order each round so neither server always runs on a warmer (or busier) machine.
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      for (const subs of [1, 10] as const) {
        for (const s of order) {
          const r = await pubSub(s, subs, perSub[subs]);
          const b = best.get(s.name)!;
          const prev = b.pubsub.get(subs);
          if (prev === undefined || r.deliveries / r.seconds > prev.deliveries / prev.seconds) b.pubsub.set(subs, r);
          console.log(`round ${round + 1} ${s.name.padEnd(11)} 1 pub x ${String(subs).padStart(2)} sub: ${fmt(r.deliveries / r.seconds)} deliveries/s, ${fmt(r.deliveries / r.brokerCpu)} per broker CPU-s (${r.brokerCpu.toFixed(2)} CPU-s in ${r.seconds.toFixed(2)} s, published by ${r.publishedSeconds.toFixed(2)} s; client CPU-s: pub ${r.clientCpu.publisher.toFixed(2)}, subs ${r.clientCpu.subscribers.toFixed(2)})`);
        }
      }
      for (const s of order) {
        const r = await requestReply(s, rrCount);
        const b = best.get(s.name)!;
        if (b.rr === null || r.p99 < b.rr.p99) b.rr = r;
        console.log(`round ${round + 1} ${s.name.padEnd(11)} request/reply: p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms`);
      }
    }
    const t = best.get('tributary')!;
    const n = best.get('nats-server')!;
    console.log('');
    console.log('| 128 B pub/sub | tributary msgs/s | nats-server msgs/s | ratio (≥0.7) | tributary msgs/CPU-s | nats-server msgs/CPU-s | ratio (≥0.5) |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    for (const subs of [1, 10]) {
      const a = t.pubsub.get(subs)!;
      const b = n.pubsub.get(subs)!;
      const ta = a.deliveries / a.seconds;
      const tb = b.deliveries / b.seconds;
      const ca = a.deliveries / a.brokerCpu;
      const cb = b.deliveries / b.brokerCpu;
      console.log(`| 1 pub, ${subs} sub (delivered) | ${fmt(ta)} | ${fmt(tb)} | ${(ta / tb).toFixed(2)}x | ${fmt(ca)} | ${fmt(cb)} | ${(ca / cb).toFixed(2)}x |`);
    }
    console.log('');
    console.log('| request/reply | tributary | nats-server | ratio (p99 ≤1.5) |');
    console.log('|---|---:|---:|---:|');
    console.log(`| p50 ms | ${t.rr!.p50.toFixed(3)} | ${n.rr!.p50.toFixed(3)} | ${(t.rr!.p50 / n.rr!.p50).toFixed(2)}x |`);
    console.log(`| p99 ms | ${t.rr!.p99.toFixed(3)} | ${n.rr!.p99.toFixed(3)} | ${(t.rr!.p99 / n.rr!.p99).toFixed(2)}x |`);
    console.log(`\nbest of ${rounds} round(s); ${perSub[1]} msgs with 1 sub, ${perSub[10]} msgs x 10 subs; ${rrCount} requests; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  } finally {
    for (const s of servers) await s.stop();
  }
}

/** The subscriber child: `connections` connections each subscribed to SUBJECT; prints 'done' once all got `count`. */
async function subscriberChild(servers: string, connections: number, count: number): Promise<void> {
  const conns: NatsConnection[] = [];
  let finished = 0;
  for (let i = 0; i < connections; i++) {
    const nc = await connect({ servers, reconnect: false });
    let got = 0;
    nc.subscribe(SUBJECT, {
      callback: () => {
        if (++got === count && ++finished === connections) process.stdout.write('done\n');
      },
    });
    conns.push(nc);
  }
  await Promise.all(conns.map((c) => c.flush()));
  process.stdout.write('ready\n');
  // The parent ends stdin when the round is over.
  process.stdin.resume();
  await once(process.stdin, 'end');
  await Promise.all(conns.map((c) => c.close()));
  process.exit(0);
}

if (process.argv[2] === '--subscriber' && process.argv[1] === fileURLToPath(import.meta.url)) {
  void subscriberChild(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]));
}
