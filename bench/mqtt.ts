/**
 * MQTT end-to-end benchmark: the built `tributary serve` binary against mosquitto (/usr/sbin/mosquitto) and
 * aedes (npm, run in its own child process over node:net), all on 127.0.0.1, driven by the same client (mqtt.js).
 *
 * - pub/sub: 128 B messages at QoS 0 and QoS 1, 1 publisher (this process) and 1 or 10 subscriber connections
 *   (a separate child process, so publisher and subscriber client work are not on one event loop). The
 *   publisher sends windows of WINDOW messages and keeps at most two windows unconfirmed: the subscriber child
 *   reports each window once every subscriber has it, so no broker drops QoS 0 messages for a slow consumer and
 *   each is measured by what it delivers. One client process saturates near these servers' rates, so
 *   throughput alone mostly measures the client; the fair comparison is messages delivered per broker
 *   CPU-second (/proc/<pid>/stat before and after), printed with it.
 * - mosquitto runs with its defaults except max_inflight_messages 0 and max_queued_messages 0 (no limits, as
 *   Tributary towards a 3.1.1 client), so it drops nothing, and set_tcp_nodelay true (Tributary's sockets are
 *   noDelay; with Nagle, mosquitto's QoS 1 acks wait on delayed ACKs). Sessions are clean (no persistence).
 *
 * Rounds alternate the servers' order (machines here are noisy); the best round of each is reported. Targets:
 * QoS 0 throughput ≥ 1.0x mosquitto; QoS 1 throughput ≥ 1.0x mosquitto; QoS 1 deliveries per CPU-second ≥ 2x aedes.
 *
 * Usage: node dist/bench/run.js mqtt [--quick] [--rounds N]
 * The same file is two children: `--subscriber <url> <connections> <count> <qos>` and `--aedes <port>`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { freePort, lines, waitLine } from './peer-process.js';
import { EPHEMERAL, processCpuSeconds, serveProcess, type Tributary } from '../test/support/tributary-process.js';

const MOSQUITTO = '/usr/sbin/mosquitto';
const TOPIC = 'bench/x';
const PAYLOAD = Buffer.alloc(128, 0x78);
const WINDOW = 2000;
const WAIT_MS = 120_000;

interface Server {
  name: string;
  pid: number;
  url: string;
  stop(): Promise<void>;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
async function waitListening(port: number, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

async function startTributary(): Promise<Server> {
  const dir = await mkdtemp(join(os.tmpdir(), 'trib-bench-mqtt-'));
  const t: Tributary = serveProcess(dir, ['--data-dir', join(dir, 'data'), ...EPHEMERAL, '--fsync', 'never']);
  const { mqtt: port } = await t.ports();
  return {
    name: 'tributary',
    pid: t.child.pid!,
    url: `mqtt://127.0.0.1:${port}`,
    async stop() {
      t.kill('SIGTERM');
      await t.waitForExit().catch(() => t.kill());
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function startMosquitto(): Promise<Server> {
  const dir = await mkdtemp(join(os.tmpdir(), 'trib-bench-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 0\nmax_queued_messages 0\npersistence false\nset_tcp_nodelay true\n`);
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'ignore'] });
  await waitListening(port, 'mosquitto');
  return {
    name: 'mosquitto',
    pid: child.pid!,
    url: `mqtt://127.0.0.1:${port}`,
    async stop() {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function startAedes(): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--aedes', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await waitLine(lines(child, 'stdout'), (l) => l === 'ready', 'aedes', WAIT_MS);
  return { name: 'aedes', pid: child.pid!, url: `mqtt://127.0.0.1:${port}`, stop: () => stopChild(child) };
}

interface PubSubResult {
  seconds: number;
  deliveries: number;
  brokerCpu: number;
}

async function connectClient(url: string): Promise<MqttClient> {
  return mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: WAIT_MS, clean: true });
}

/** One round: subscriber child ready → publish `count` in windows → every subscriber got every message. */
async function pubSub(server: Server, subscribers: number, count: number, qos: 0 | 1): Promise<PubSubResult> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--subscriber', server.url, String(subscribers), String(count), String(qos)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const out = lines(child, 'stdout');
    await waitLine(out, (l) => l === 'ready', 'the subscribers', WAIT_MS);
    const client = await connectClient(server.url);
    try {
      const windows = Math.ceil(count / WINDOW);
      const cpu0 = processCpuSeconds(server.pid);
      const t0 = performance.now();
      let sent = 0;
      for (let w = 1; w <= windows; w++) {
        const end = Math.min(count, w * WINDOW);
        for (; sent < end; sent++) client.publish(TOPIC, PAYLOAD, { qos });
        // Two windows in flight: wait for the one before this one.
        if (w >= 2) await waitLine(out, (l) => l === `w ${w - 1}`, `window ${w - 1}`, WAIT_MS);
      }
      await waitLine(out, (l) => l === `w ${windows}`, 'the last window', WAIT_MS);
      const seconds = (performance.now() - t0) / 1000;
      const brokerCpu = processCpuSeconds(server.pid) - cpu0;
      return { seconds, deliveries: count * subscribers, brokerCpu };
    } finally {
      await client.endAsync();
    }
  } finally {
    child.stdin!.end();
    if (child.exitCode === null) await once(child, 'exit');
  }
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

const rate = (r: PubSubResult): number => r.deliveries / r.seconds;
const perCpu = (r: PubSubResult): number => r.deliveries / Math.max(r.brokerCpu, 0.01);

export async function run(args: string[] = []): Promise<void> {
  const quick = args.includes('--quick');
  const roundsAt = args.indexOf('--rounds');
  const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : quick ? 1 : 3;
  const perSub = { 1: quick ? 20_000 : 100_000, 10: quick ? 4_000 : 20_000 } as const;
  console.log(`# MQTT end to end: tributary vs mosquitto vs aedes — ${os.cpus()[0]?.model ?? 'cpu?'} x${os.cpus().length}, node ${process.version}, ${new Date().toISOString()}`);
  const servers: Server[] = [await startTributary(), await startAedes()];
  if (existsSync(MOSQUITTO)) servers.push(await startMosquitto());
  else console.log(`${MOSQUITTO} is not installed: compared with aedes only.`);
  const key = (qos: number, subs: number): string => `q${qos}s${subs}`;
  try {
    const best = new Map<string, Map<string, PubSubResult>>(servers.map((s) => [s.name, new Map()]));
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      for (const qos of [0, 1] as const) {
        for (const subs of [1, 10] as const) {
          for (const s of order) {
            const r = await pubSub(s, subs, perSub[subs], qos);
            const b = best.get(s.name)!;
            const prev = b.get(key(qos, subs));
            if (prev === undefined || rate(r) > rate(prev)) b.set(key(qos, subs), r);
            console.log(`round ${round + 1} ${s.name.padEnd(9)} QoS ${qos} 1 pub x ${String(subs).padStart(2)} sub: ${fmt(rate(r))} deliveries/s, ${fmt(perCpu(r))} per broker CPU-s (${r.brokerCpu.toFixed(2)} CPU-s in ${r.seconds.toFixed(2)} s)`);
          }
        }
      }
    }
    const t = best.get('tributary')!;
    const m = best.get('mosquitto');
    const a = best.get('aedes')!;
    const ratio = (x: number, y: number | undefined): string => (y === undefined ? 'n/a' : `${(x / y).toFixed(2)}x`);
    console.log('');
    console.log('| 128 B, delivered | tributary msgs/s | mosquitto msgs/s | aedes msgs/s | T/mosquitto | T/aedes | tributary msgs/CPU-s | mosquitto msgs/CPU-s | aedes msgs/CPU-s | T/mosquitto | T/aedes |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const qos of [0, 1]) {
      for (const subs of [1, 10]) {
        const k = key(qos, subs);
        const rt = t.get(k)!;
        const rm_ = m?.get(k);
        const ra = a.get(k)!;
        console.log(
          `| QoS ${qos}, 1 pub, ${subs} sub | ${fmt(rate(rt))} | ${rm_ === undefined ? 'n/a' : fmt(rate(rm_))} | ${fmt(rate(ra))} | ${ratio(rate(rt), rm_ && rate(rm_))} | ${ratio(rate(rt), rate(ra))} | ${fmt(perCpu(rt))} | ${rm_ === undefined ? 'n/a' : fmt(perCpu(rm_))} | ${fmt(perCpu(ra))} | ${ratio(perCpu(rt), rm_ && perCpu(rm_))} | ${ratio(perCpu(rt), perCpu(ra))} |`,
        );
      }
    }
    console.log(`\ntargets: QoS 0 and QoS 1 msgs/s ≥ 1.0x mosquitto; QoS 1 msgs/CPU-s ≥ 1.0x mosquitto and ≥ 2x aedes`);
    console.log(`best of ${rounds} round(s); ${perSub[1]} msgs with 1 sub, ${perSub[10]} msgs x 10 subs; window ${WINDOW}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  } finally {
    for (const s of servers) await s.stop();
  }
}

/** Subscriber child: `connections` clients subscribed to TOPIC; prints `w <k>` once all got k windows. */
async function subscriberChild(url: string, connections: number, count: number, qos: 0 | 1): Promise<void> {
  const clients: MqttClient[] = [];
  const reached = new Map<number, number>();
  const windows = Math.ceil(count / WINDOW);
  for (let i = 0; i < connections; i++) {
    const c = await connectClient(url);
    let got = 0;
    c.on('message', () => {
      got++;
      if (got % WINDOW !== 0 && got !== count) return;
      const w = got === count ? windows : got / WINDOW;
      const n = (reached.get(w) ?? 0) + 1;
      reached.set(w, n);
      if (n === connections) process.stdout.write(`w ${w}\n`);
    });
    await c.subscribeAsync(TOPIC, { qos });
    clients.push(c);
  }
  process.stdout.write('ready\n');
  process.stdin.resume();
  await once(process.stdin, 'end');
  await Promise.all(clients.map((c) => c.endAsync(true)));
  process.exit(0);
}

/** aedes child: one broker over node:net on 127.0.0.1:port, in its own process so its CPU is measurable. */
async function aedesChild(port: number): Promise<void> {
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle);
  server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
  process.on('SIGTERM', () => {
    server.close();
    broker.close(() => process.exit(0));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--subscriber') void subscriberChild(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]), Number(process.argv[6]) as 0 | 1);
  else if (process.argv[2] === '--aedes') void aedesChild(Number(process.argv[3]));
}
