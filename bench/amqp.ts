/**
 * AMQP end-to-end benchmark: Tributary (the built binary, a child process) against RabbitMQ (Debian's
 * rabbitmq-server, started here on free ports in a temp dir), both driven by the same amqplib client code in
 * this process, measured one after the other on the same machine.
 *
 * Cases (one publisher connection, one consumer connection; the consumer has prefetch 1000 and acks with
 * `multiple` every 100 messages):
 *   persistent  1 KiB persistent messages to a durable queue, publisher confirms pipelined with a window of
 *               `--window` (1000) in flight; msgs/s = messages / time from the first publish to the last
 *               delivery (every message confirmed too).
 *   transient   1 KiB transient messages to a non-durable queue, no confirms (the publisher honours
 *               amqplib's write backpressure); msgs/s as above.
 *   latency     persistent + confirms to a durable queue at a fixed `--rate` (2000 msg/s) for `--seconds` (5):
 *               publish time (performance.now) in the body, end-to-end latency p50/p99 at the consumer.
 * Each case runs `--rounds` (3) times per broker and the best round is reported (highest msgs/s, lowest p99):
 * the machine is shared, and the best round is the least disturbed one. Both brokers run at once and take
 * turns round by round (Tributary's round 1, RabbitMQ's round 1, ...), so a busy stretch of the machine falls on
 * both rather than on one broker's whole measurement. Broker CPU per message comes from /proc
 * (RabbitMQ runs without scheduler busy-waiting, `+sbwt none`, so its CPU is its work). Ratios are Tributary /
 * RabbitMQ: msgs/s (higher is better), CPU per message and p99 (lower is better). A warm-up of 2000 messages
 * precedes the cases on each broker and, when the latency case runs, `--latency-warmups` (2) unmeasured latency
 * runs on the same connections: both brokers' p99 falls over the first latency runs after a start and then holds
 * (measured: RabbitMQ 3.85, 4.07, 2.46, then 1.74-1.94 ms; Tributary 5.66, 3.94, 2.47, then 1.70-1.84 ms), and the
 * case is meant to show a broker in its steady state, not its warm-up.
 *
 * `--profile`: Tributary runs with a CPU profiler (node:inspector, preloaded through NODE_OPTIONS); after it
 * stops, the top self-time functions of the profile are printed (the file stays in the printed directory).
 *
 * Usage: npm run bench -- amqp [--count 20000] [--transient-count 50000] [--window 1000] [--rate 2000]
 *        [--seconds 5] [--rounds 3] [--latency-warmups 2] [--only tributary|rabbitmq]
 *        [--fsync always|interval|never] [--profile] [--cases persistent,transient,latency]
 * (`--fsync` is Tributary's policy, for finding what the disk costs; the figures in docs/amqp.md use the default.)
 */
import { freePort } from './peer-process.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import { EPHEMERAL, processCpuSeconds, serveProcess } from '../test/support/tributary-process.js';

const BODY_BYTES = 1024;
const RABBITMQ_SERVER = '/usr/lib/rabbitmq/lib/rabbitmq_server-3.10.8/sbin/rabbitmq-server';
const START_TIMEOUT_MS = 180_000;
const CASES = ['persistent', 'transient', 'latency'];

interface Options {
  count: number;
  transientCount: number;
  window: number;
  rate: number;
  seconds: number;
  only: string | null;
  profile: boolean;
  rounds: number;
  /** Unmeasured latency runs before the measured rounds (when the latency case runs). */
  latencyWarmups: number;
  /** Tributary's --fsync (default: its own default, always). */
  fsync: string | null;
  /** Which cases run (default all three); a skipped case shows '-' and no ratio. */
  cases: Set<string>;
}

interface Result {
  persistentRate: number;
  persistentCpu: number;
  persistentClientCpu: number;
  transientRate: number;
  transientCpu: number;
  p50: number;
  p99: number;
  latencyCount: number;
}

/** A broker under test: where to connect, how much CPU it used so far, how to stop it. */
interface Server {
  name: string;
  url: string;
  cpuSeconds(): number;
  /** A line about the broker's own view (Tributary: its fsyncs from /metrics), or null. */
  note(): Promise<string | null>;
  /** What the broker said (its last output), for an error message. */
  diagnostics(): string;
  stop(): Promise<void>;
}

function parseArgs(args: string[]): Options {
  const o: Options = { count: 20_000, transientCount: 50_000, window: 1000, rate: 2000, seconds: 5, only: null, profile: false, rounds: 3, latencyWarmups: 2, fsync: null, cases: new Set(CASES) };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const next = (): string => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--count') o.count = Number(next());
    else if (a === '--transient-count') o.transientCount = Number(next());
    else if (a === '--window') o.window = Number(next());
    else if (a === '--rate') o.rate = Number(next());
    else if (a === '--seconds') o.seconds = Number(next());
    else if (a === '--only') o.only = next();
    else if (a === '--profile') o.profile = true;
    else if (a === '--fsync') o.fsync = next();
    else if (a === '--rounds') o.rounds = Math.max(1, Number(next()));
    else if (a === '--latency-warmups') o.latencyWarmups = Math.max(0, Number(next()));
    else if (a === '--cases') {
      o.cases = new Set(next().split(','));
      for (const c of o.cases) if (!CASES.includes(c)) throw new Error(`--cases: '${c}' is not one of ${CASES.join(', ')}`);
    }
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

// --- servers ---------------------------------------------------------------------------------------------

async function startTributary(profileDir: string | null, fsync: string | null): Promise<Server> {
  const dir = await mkdtemp(join(os.tmpdir(), 'bench-amqp-trib-'));
  const env = profileDir === null ? undefined : { NODE_OPTIONS: `--require ${profilerPreload(profileDir)}` };
  const proc = serveProcess(dir, ['--data-dir', dir, ...(fsync === null ? [] : ['--fsync', fsync]), ...EPHEMERAL], env);
  const ports = await proc.ports();
  return {
    name: 'Tributary',
    url: `amqp://guest:guest@127.0.0.1:${ports.amqp}`,
    cpuSeconds: () => proc.cpuSeconds(),
    diagnostics: () => `\ntributary exit ${proc.child.exitCode ?? proc.child.signalCode ?? 'none'}; stderr: ${proc.stderr.slice(-2000)}; stdout: ${proc.stdout.slice(-10).join('\n')}`,
    async note() {
      const text = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text();
      const value = (name: string): number => Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1] ?? NaN);
      const count = value('tributary_fsync_duration_seconds_count');
      const sum = value('tributary_fsync_duration_seconds_sum');
      const appends = value('tributary_append_records_total');
      return `Tributary made ${count} fsyncs (mean ${((1000 * sum) / count).toFixed(2)} ms, ${(sum / count > 0 ? appends / count : NaN).toFixed(1)} records per fsync on average) over the whole run`;
    },
    async stop() {
      proc.kill('SIGTERM');
      await proc.waitForExit();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function tcpOpen(port: number): Promise<boolean> {
  const s = netConnect(port, '127.0.0.1');
  try {
    await Promise.race([once(s, 'connect'), once(s, 'error').then(([e]) => Promise.reject(e as Error))]);
    return true;
  } catch {
    return false;
  } finally {
    s.destroy();
  }
}

/** Children of `pid` (from /proc), to find the Erlang VM under the rabbitmq-server shell script. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/**
 * RabbitMQ on free ports, everything (Mnesia, logs, config, cookie, its own epmd port) in a temp dir. Started
 * as the script itself, not the Debian wrapper (which would `su rabbitmq` and drop this environment). Stopped
 * by SIGTERM to its process group (the script and the VM started here), then its own epmd with `epmd -kill`.
 */
async function startRabbit(): Promise<Server | null> {
  if (!existsSync(RABBITMQ_SERVER)) return null;
  const dir = await mkdtemp(join(os.tmpdir(), 'bench-amqp-rmq-'));
  const [amqpPort, distPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
  mkdirSync(join(dir, 'home'));
  writeFileSync(join(dir, 'home', '.erlang.cookie'), `bench${process.pid}${Date.now()}`, { mode: 0o400 });
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${amqpPort}\ndisk_free_limit.absolute = 50MB\n`);
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: join(dir, 'home'),
    RABBITMQ_NODE_PORT: String(amqpPort),
    RABBITMQ_NODENAME: `bench-${process.pid}@localhost`,
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_DIST_PORT: String(distPort),
    ERL_EPMD_PORT: String(epmdPort),
    // No scheduler busy-waiting (RabbitMQ's advice for shared hosts): the VM's CPU seconds are then its work.
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '+sbwt none +sbwtdcpu none +sbwtdio none',
  };
  let output = '';
  const child: ChildProcess = spawn(RABBITMQ_SERVER, [], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  const exited = once(child, 'exit');
  // If this process dies before stop() (an uncaught error), the VM and its epmd must not outlive it.
  const killOnExit = (): void => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    spawnSync('epmd', ['-kill'], { env: { ...process.env, ERL_EPMD_PORT: String(epmdPort) } });
  };
  process.on('exit', killOnExit);
  const stop = async (): Promise<void> => {
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(-child.pid!, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    }
    spawnSync('epmd', ['-kill'], { env: { ...process.env, ERL_EPMD_PORT: String(epmdPort) } });
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`rabbitmq-server exited during start:\n${output.slice(-2000)}`);
    }
    if (await tcpOpen(amqpPort)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`rabbitmq-server did not accept AMQP within ${START_TIMEOUT_MS} ms:\n${output.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const vm = childrenOf(child.pid!).find((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('beam'));
  return {
    name: 'RabbitMQ',
    url: `amqp://guest:guest@127.0.0.1:${amqpPort}`,
    cpuSeconds: () => (vm === undefined ? NaN : processCpuSeconds(vm)),
    note: async () => null,
    diagnostics: () => `\nrabbitmq output: ${output.slice(-2000)}`,
    stop,
  };
}

// --- cases -----------------------------------------------------------------------------------------------

/** A consumer acking with `multiple` every 100 messages; `onMessage` sees each one. Resolves after `total`. */
async function consume(ch: Channel, queue: string, total: number, onMessage?: (m: ConsumeMessage) => void): Promise<{ done: Promise<void>; tag: string }> {
  await ch.prefetch(1000);
  let n = 0;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  const { consumerTag } = await ch.consume(queue, (m) => {
    if (m === null) return;
    n++;
    onMessage?.(m);
    if (n % 100 === 0 || n === total) ch.ack(m, true);
    if (n === total) resolve();
  });
  return { done, tag: consumerTag };
}

/** Pipelined confirmed publishes with at most `window` unconfirmed; resolves when all are confirmed. */
async function publishConfirmed(ch: ConfirmChannel, queue: string, total: number, window: number, body: Buffer): Promise<void> {
  let sent = 0;
  let confirmed = 0;
  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      while (sent < total && sent - confirmed < window) {
        sent++;
        ch.publish('', queue, body, { persistent: true }, (err) => {
          if (err) return reject(err instanceof Error ? err : new Error(String(err)));
          if (++confirmed === total) resolve();
          else pump();
        });
      }
    };
    pump();
  });
}

/** Unconfirmed publishes honouring amqplib's write buffer (publish() false → wait for 'drain'). */
async function publishTransient(ch: Channel, queue: string, total: number, body: Buffer): Promise<void> {
  for (let i = 0; i < total; i++) {
    if (!ch.publish('', queue, body, { persistent: false })) await once(ch, 'drain');
  }
}

async function throughput(pubConn: ChannelModel, subConn: ChannelModel, server: Server, persistent: boolean, total: number, window: number): Promise<{ rate: number; cpu: number; clientCpu: number }> {
  const queue = `bench-${persistent ? 'durable' : 'transient'}-${Date.now()}`;
  const pub = persistent ? await pubConn.createConfirmChannel() : await pubConn.createChannel();
  const sub = await subConn.createChannel();
  await pub.assertQueue(queue, { durable: persistent });
  const body = Buffer.alloc(BODY_BYTES, 0x61);
  const { done, tag } = await consume(sub, queue, total);
  const cpu0 = server.cpuSeconds();
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  const published = persistent ? publishConfirmed(pub as ConfirmChannel, queue, total, window, body) : publishTransient(pub, queue, total, body);
  await Promise.all([published, done]);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = server.cpuSeconds() - cpu0;
  const client = process.cpuUsage(client0);
  await sub.cancel(tag);
  await pub.deleteQueue(queue);
  await pub.close();
  await sub.close();
  return { rate: total / seconds, cpu, clientCpu: (client.user + client.system) / 1e6 };
}

/** Fixed-rate persistent publishes (confirm channel, not awaited per message); latency percentiles in ms. */
async function latency(pubConn: ChannelModel, subConn: ChannelModel, rate: number, seconds: number): Promise<{ p50: number; p99: number; count: number }> {
  const queue = `bench-latency-${Date.now()}`;
  const pub = await pubConn.createConfirmChannel();
  const sub = await subConn.createChannel();
  await pub.assertQueue(queue, { durable: true });
  const total = Math.round(rate * seconds);
  const samples: number[] = [];
  const { done, tag } = await consume(sub, queue, total, (m) => samples.push(performance.now() - m.content.readDoubleLE(0)));
  const body = Buffer.alloc(BODY_BYTES, 0x62);
  const t0 = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      // Publish what the schedule says is due by now (a tick every ~1 ms; rate * elapsed, not per timer).
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
      while (sent < due) {
        const b = Buffer.from(body);
        b.writeDoubleLE(performance.now(), 0);
        pub.publish('', queue, b, { persistent: true });
        sent++;
      }
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await pub.waitForConfirms();
  await done;
  await sub.cancel(tag);
  await pub.deleteQueue(queue);
  await pub.close();
  await sub.close();
  samples.sort((a, b) => a - b);
  const pct = (p: number): number => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))];
  return { p50: pct(50), p99: pct(99), count: samples.length };
}

/** One broker under test with its two client connections and the rounds measured so far. */
interface Session {
  server: Server;
  pubConn: ChannelModel;
  subConn: ChannelModel;
  /** The first connection error, if any (a lost connection fails the case through its channel). */
  lost: Error | null;
  persistent: { rate: number; cpu: number; clientCpu: number }[];
  transient: { rate: number; cpu: number; clientCpu: number }[];
  latency: { p50: number; p99: number; count: number }[];
}

async function openSession(server: Server): Promise<Session> {
  let pubConn: ChannelModel;
  let subConn: ChannelModel;
  try {
    pubConn = await amqp.connect(server.url);
    subConn = await amqp.connect(server.url);
  } catch (err) {
    throw new Error(`${server.name}: ${(err as Error).message}${server.diagnostics()}`, { cause: err });
  }
  const session: Session = { server, pubConn, subConn, lost: null, persistent: [], transient: [], latency: [] };
  // Do not crash the process on 'error': the case fails through its channel, and the error is reported.
  for (const c of [pubConn, subConn]) c.on('error', (err: Error) => (session.lost ??= err));
  return session;
}

/** Runs `step` on the session's broker; an error names the broker and carries what it said. */
async function onBroker(s: Session, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (err) {
    throw new Error(`${s.server.name}: ${(err as Error).message}${s.lost === null ? '' : ` (connection error: ${s.lost.message})`}${s.server.diagnostics()}`, { cause: err });
  }
}

async function warmUp(s: Session, o: Options): Promise<void> {
  await onBroker(s, async () => {
    await throughput(s.pubConn, s.subConn, s.server, true, 2000, o.window);
    if (o.cases.has('latency')) for (let i = 0; i < o.latencyWarmups; i++) await latency(s.pubConn, s.subConn, o.rate, o.seconds);
  });
}

async function measureRound(s: Session, o: Options): Promise<void> {
  await onBroker(s, async () => {
    if (o.cases.has('persistent')) s.persistent.push(await throughput(s.pubConn, s.subConn, s.server, true, o.count, o.window));
    if (o.cases.has('transient')) s.transient.push(await throughput(s.pubConn, s.subConn, s.server, false, o.transientCount, o.window));
    if (o.cases.has('latency')) s.latency.push(await latency(s.pubConn, s.subConn, o.rate, o.seconds));
  });
}

/** Best round per case: the machine is shared, and the best round is the least disturbed one. */
function bestOf(s: Session): Result {
  const best = <T>(xs: T[], score: (x: T) => number): T => xs.reduce((a, b) => (score(b) > score(a) || Number.isNaN(score(a)) ? b : a));
  // The placeholder (NaN) stands for a skipped case; any measured round replaces it.
  const noRate = { rate: NaN, cpu: NaN, clientCpu: NaN };
  const p = best([noRate, ...s.persistent], (x) => x.rate);
  const tr = best([noRate, ...s.transient], (x) => x.rate);
  const l = best([{ p50: NaN, p99: NaN, count: 0 }, ...s.latency], (x) => -x.p99);
  return { persistentRate: p.rate, persistentCpu: p.cpu, persistentClientCpu: p.clientCpu, transientRate: tr.rate, transientCpu: tr.cpu, p50: l.p50, p99: l.p99, latencyCount: l.count };
}

async function closeSession(s: Session): Promise<void> {
  await s.pubConn.close().catch(() => undefined);
  await s.subConn.close().catch(() => undefined);
}

// --- profile summary -------------------------------------------------------------------------------------

/**
 * Node 20 refuses --cpu-prof in NODE_OPTIONS, and serveProcess runs the binary without node flags: a preload
 * starts the V8 profiler through node:inspector and writes the profile at exit (the in-thread session answers
 * synchronously, so it works in an 'exit' handler).
 */
function profilerPreload(dir: string): string {
  const file = join(dir, 'cpu-profile-preload.cjs');
  writeFileSync(
    file,
    `const inspector = require('node:inspector');
const fs = require('node:fs');
const session = new inspector.Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 200 });
session.post('Profiler.start');
process.on('exit', () => {
  session.post('Profiler.stop', (err, res) => {
    if (!err) fs.writeFileSync(${JSON.stringify(dir)} + '/tributary-' + process.pid + '.cpuprofile', JSON.stringify(res.profile));
  });
});
`,
  );
  return file;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Self time by function of the .cpuprofile files in `dir`, the top `n` as text lines. */
function topSelfTime(dir: string, n: number): string[] {
  const totals = new Map<string, number>();
  let all = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const prof = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: ProfileNode[] };
    for (const node of prof.nodes) {
      const hits = node.hitCount ?? 0;
      if (hits === 0) continue;
      const f = node.callFrame;
      const where = f.url === '' ? '' : ` ${f.url.replace(/^file:\/\/.*\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
      const key = `${f.functionName || '(anonymous)'}${where}`;
      totals.set(key, (totals.get(key) ?? 0) + hits);
      all += hits;
    }
  }
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${((100 * v) / all).toFixed(1).padStart(5)}%  ${k}`);
}

// --- main ------------------------------------------------------------------------------------------------

export async function run(args: string[] = []): Promise<void> {
  const o = parseArgs(args);
  const load = os.loadavg()[0].toFixed(1);
  console.log(`# amqp bench — Node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, load average ${load}`);
  console.log(`# best of ${o.rounds} rounds per case, the brokers taking turns round by round; broker CPU from /proc; amqplib client for both; 1 KiB bodies; persistent: ${o.count} msgs, confirms window ${o.window}; transient: ${o.transientCount} msgs; latency: ${o.rate} msg/s for ${o.seconds} s (persistent, confirms) after ${o.latencyWarmups} unmeasured runs`);
  const results = new Map<string, Result>();
  const notes: string[] = [];
  const profileDir = o.profile ? await mkdtemp(join(os.tmpdir(), 'bench-amqp-prof-')) : null;
  // Both brokers run at once and take turns, round by round: the machine's quiet and busy minutes then fall on
  // both (one after the other, a disturbed stretch could land on one broker's whole measurement).
  const servers: Server[] = [];
  const sessions: Session[] = [];
  try {
    for (const name of ['Tributary', 'RabbitMQ']) {
      if (o.only !== null && o.only.toLowerCase() !== name.toLowerCase()) continue;
      const server = name === 'Tributary' ? await startTributary(profileDir, o.fsync) : await startRabbit();
      if (server === null) {
        console.log(`# RabbitMQ is not installed (${RABBITMQ_SERVER}): Tributary's figures only`);
        continue;
      }
      servers.push(server);
      sessions.push(await openSession(server));
    }
    for (const s of sessions) await warmUp(s, o);
    for (let i = 0; i < o.rounds; i++) for (const s of sessions) await measureRound(s, o);
    for (const s of sessions) {
      results.set(s.server.name, bestOf(s));
      const note = await s.server.note();
      if (note !== null) notes.push(note);
    }
  } finally {
    for (const s of sessions) await closeSession(s);
    for (const server of servers) await server.stop();
  }
  const fmt = (v: number, digits = 0): string => (Number.isFinite(v) ? v.toFixed(digits) : '-');
  const header = ['server', 'persistent msg/s', 'CPU µs/msg', 'transient msg/s', 'CPU µs/msg', 'p50 ms', 'p99 ms'];
  console.log('');
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => '---').join('|')}|`);
  for (const [name, r] of results) {
    console.log(`| ${[name, fmt(r.persistentRate), fmt((1e6 * r.persistentCpu) / o.count), fmt(r.transientRate), fmt((1e6 * r.transientCpu) / o.transientCount), fmt(r.p50, 2), fmt(r.p99, 2)].join(' | ')} |`);
  }
  const t = results.get('Tributary');
  const r = results.get('RabbitMQ');
  if (t !== undefined && r !== undefined) {
    console.log(
      `| Tributary / RabbitMQ | ${fmt(t.persistentRate / r.persistentRate, 2)}× | ${fmt(t.persistentCpu / r.persistentCpu, 2)}× | ${fmt(t.transientRate / r.transientRate, 2)}× | ${fmt(t.transientCpu / r.transientCpu, 2)}× | ${fmt(t.p50 / r.p50, 2)}× | ${fmt(t.p99 / r.p99, 2)}× |`,
    );
    console.log('');
    console.log(`# targets: throughput ≥ 1.5× RabbitMQ (persistent ${fmt(t.persistentRate / r.persistentRate, 2)}×, transient ${fmt(t.transientRate / r.transientRate, 2)}×); p99 ≤ RabbitMQ (${fmt(t.p99 / r.p99, 2)}×)`);
  }
  for (const [name, r] of results) {
    console.log(`# ${name} persistent case: the amqplib client (publisher and consumer, this process) used ${fmt((1e6 * r.persistentClientCpu) / o.count)} µs CPU per message`);
  }
  for (const note of notes) console.log(`# ${note}`);
  if (profileDir !== null) {
    console.log('');
    console.log(`# Tributary CPU profile (${profileDir}), top self time:`);
    for (const line of topSelfTime(profileDir, 25)) console.log(`#   ${line}`);
  }
}
