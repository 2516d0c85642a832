/**
 * Router benchmark: publish-side subject matching with 10,000 subscriptions (literal and wildcard filters, shaped
 * like IoT telemetry `sensors.<region>.<device>.<metric>`), against a naive linear matcher — every filter tested
 * against every subject — measured in the same run, because these machines are noisy.
 *
 * Cases (each reports ops/s, mean matches per op and the ratio to the naive baseline):
 * - trie, cold: SubjectTrie with its cache disabled, subjects drawn from 100,000 distinct ones (the walk itself);
 * - trie, cached: the default 1024-entry cache, subjects from a hot set of 500 (the steady state of most brokers);
 * - router.publish, cached: Router.publish with no-op handlers, so fan-out and queue-group picks are included;
 * - naive: the filters as token arrays, scanned linearly for each subject (tokenised once per publish).
 * Ours and the baseline alternate in rounds of about 100 ms, and every case first checks its match counts against
 * the naive matcher on a sample, so a fast wrong answer cannot pass.
 *
 * Usage: node dist/bench/run.js router [--quick]   (or: node -e "import('./dist/bench/router.js').then(m => m.run([]))")
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Router } from '../src/core/router/router.js';
import { SubjectTrie } from '../src/core/router/subject-trie.js';
import { tokensMatch } from '../src/core/router/subject.js';
import type { Message } from '../src/core/message.js';

const SUBSCRIPTIONS = 10_000;
const REGIONS = 20;
const DEVICES = 500;
const METRICS = 10;

/** Deterministic PRNG (mulberry32) so every run benchmarks the same filters and subjects. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeFilters(random: () => number): string[] {
  const pick = (n: number): number => Math.floor(random() * n);
  const out: string[] = [];
  for (let i = 0; i < SUBSCRIPTIONS; i++) {
    const r = `r${pick(REGIONS)}`;
    const d = `d${pick(DEVICES)}`;
    const m = `m${pick(METRICS)}`;
    const kind = random();
    if (kind < 0.6) out.push(`sensors.${r}.${d}.${m}`);
    else if (kind < 0.8) out.push(`sensors.${r}.${d}.*`);
    else if (kind < 0.9) out.push(`sensors.${r}.*.${m}`);
    else if (kind < 0.95) out.push(`sensors.${r}.>`);
    else out.push(`*.${r}.${d}.>`);
  }
  return out;
}

function makeSubjects(random: () => number, count: number): string[] {
  const pick = (n: number): number => Math.floor(random() * n);
  return Array.from({ length: count }, () => `sensors.r${pick(REGIONS)}.d${pick(DEVICES)}.m${pick(METRICS)}`);
}

class NaiveMatcher {
  private readonly filters: string[][];
  constructor(filters: string[]) {
    this.filters = filters.map((f) => f.split('.'));
  }
  count(subject: string): number {
    const tokens = subject.split('.');
    let n = 0;
    for (const f of this.filters) if (tokensMatch(f, tokens)) n++;
    return n;
  }
}

interface Case {
  name: string;
  /** Runs `ops` lookups starting at subject index `from`; returns total matches. */
  step(from: number, ops: number): number;
  ops: number;
  matches: number;
  seconds: number;
}

function makeCase(name: string, step: (from: number, ops: number) => number): Case {
  return { name, step, ops: 0, matches: 0, seconds: 0 };
}

/** Runs a case for about `budgetMs`, in steps sized from a calibration, adding to its totals. */
function runFor(c: Case, budgetMs: number, cursor: { i: number }): void {
  let batch = 16;
  const end = performance.now() + budgetMs;
  while (performance.now() < end) {
    const t0 = performance.now();
    c.matches += c.step(cursor.i, batch);
    const dt = performance.now() - t0;
    c.seconds += dt / 1000;
    c.ops += batch;
    cursor.i += batch;
    if (dt < 5) batch *= 2;
  }
}

export async function run(args: string[] = []): Promise<void> {
  const quick = args.includes('--quick');
  const roundMs = quick ? 30 : 100;
  const rounds = quick ? 3 : 10;
  const random = rng(42);
  const filters = makeFilters(random);
  const coldSubjects = makeSubjects(random, 100_000);
  const hotPool = makeSubjects(random, 500);
  const hotSubjects = Array.from({ length: coldSubjects.length }, () => hotPool[Math.floor(random() * hotPool.length)]);

  const cold = new SubjectTrie<number>({ cacheSize: 0 });
  const cached = new SubjectTrie<number>();
  filters.forEach((f, i) => {
    cold.insert(f, i);
    cached.insert(f, i);
  });
  const router = new Router({ random });
  let delivered = 0;
  const handler = (): void => {
    delivered++;
  };
  filters.forEach((f, i) => router.subscribe(f, handler, i % 10 === 0 ? { queueGroup: `g${i % 7}` } : {}));
  const naive = new NaiveMatcher(filters);

  // Correctness first: trie and naive agree on a sample (the router's count differs only by queue groups).
  for (let i = 0; i < 200; i++) {
    const s = coldSubjects[i];
    const want = naive.count(s);
    if (cold.match(s).length !== want || cached.match(s).length !== want) throw new Error(`trie disagrees with the naive matcher on ${s}`);
  }

  const message: Message = { subject: '', key: null, value: Buffer.alloc(0), headers: [], timestamp: 0 };
  // Both subject arrays have this length; indexes wrap around it.
  const N = coldSubjects.length;
  const cases = [
    makeCase('trie, cache off, 100k distinct subjects', (from, ops) => {
      let n = 0;
      for (let i = 0; i < ops; i++) n += cold.match(coldSubjects[(from + i) % N]).length;
      return n;
    }),
    makeCase('trie, cached, hot set of 500 subjects', (from, ops) => {
      let n = 0;
      for (let i = 0; i < ops; i++) n += cached.match(hotSubjects[(from + i) % N]).length;
      return n;
    }),
    makeCase('router.publish, cached, hot set (delivery)', (from, ops) => {
      const before = delivered;
      for (let i = 0; i < ops; i++) {
        message.subject = hotSubjects[(from + i) % N];
        router.publish(message);
      }
      return delivered - before;
    }),
  ];
  const baseline = makeCase('naive linear scan (baseline)', (from, ops) => {
    let n = 0;
    for (let i = 0; i < ops; i++) n += naive.count(coldSubjects[(from + i) % N]);
    return n;
  });

  const cursors = new Map<Case, { i: number }>();
  for (const c of [...cases, baseline]) cursors.set(c, { i: 0 });
  // Warm up (JIT), then discard.
  for (const c of [...cases, baseline]) runFor(c, 20, cursors.get(c)!);
  for (const c of [...cases, baseline]) Object.assign(c, { ops: 0, matches: 0, seconds: 0 });
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) {
      runFor(baseline, roundMs / cases.length, cursors.get(baseline)!);
      runFor(c, roundMs, cursors.get(c)!);
    }
  }

  const baseRate = baseline.ops / baseline.seconds;
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`router bench: ${SUBSCRIPTIONS} subscriptions (60% literal, 40% wildcard), node ${process.version}, ${cpu}`);
  console.log(`${'case'.padEnd(46)} ${'ops/s'.padStart(12)} ${'matches/op'.padStart(11)} ${'vs naive'.padStart(9)}`);
  for (const c of [...cases, baseline]) {
    const rate = c.ops / c.seconds;
    console.log(`${c.name.padEnd(46)} ${Math.round(rate).toLocaleString('en-US').padStart(12)} ${(c.matches / c.ops).toFixed(2).padStart(11)} ${(rate / baseRate).toFixed(1).padStart(8)}x`);
  }
  const s = cached.stats();
  console.log(`cache: ${s.cacheHits} hits, ${s.cacheMisses} misses (cached trie)`);
}
