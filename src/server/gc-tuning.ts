/**
 * GC tuning for the server process: V8 flags set at start, before traffic, because V8's defaults are tuned for
 * pages and short scripts and one of them hurts a broker's tail latency.
 *
 * Allocation-site pretenuring off. V8 watches which allocation sites (object and array literals) produce objects
 * that survive young collections, and from then on allocates those sites' objects straight in the old
 * generation. A broker's per-message objects (pending appends, deliveries, records) survive while a burst is
 * queued, so a burst teaches V8 to pretenure them; afterwards, at a steady low rate, each of them lives a few
 * milliseconds but sits in the old generation, holding its young message Buffers alive through scavenges until a
 * full mark-compact. Measured on the AMQP latency case (2 vCPUs, 2000 msg/s, 1 KiB persistent, after a warm-up
 * burst): the old generation grew ~1 MB/s plus ~6 MB/s of retained Buffer memory, V8 ran a mark-compact every
 * second (2-7 ms pauses plus marking steps of up to 8 ms on the event loop) and p99 was 7-15 ms in about half of
 * the broker starts; without pretenuring the old generation grew ~0.1 MB/s, no mark-compact ran in the measured
 * rounds and p99 was 1.7-2.1 ms. The cost: objects that do live long are copied once more by the scavenger.
 *
 * A flag the operator gives node explicitly (`node --allocation-site-pretenuring …`) wins: it is left alone.
 * The flags must name options this V8 knows (test/server/gc-tuning.test.ts checks them against `--v8-options`).
 */
import v8 from 'node:v8';

/** V8 flags the server sets, each as `--[no-]name`. */
export const SERVER_V8_FLAGS: readonly string[] = ['--no-allocation-site-pretenuring'];

/** The flag's name without `--` and `no-`, with `_` read as `-` (V8 accepts both spellings). */
export function v8FlagName(flag: string): string {
  return flag.replace(/^--/, '').replace(/^no-/, '').split('=')[0].replace(/_/g, '-');
}

/**
 * Sets SERVER_V8_FLAGS, except those the process was started with (in either polarity) in `execArgv`.
 * Returns the flags it set, for the log.
 */
export function tuneGarbageCollector(execArgv: readonly string[] = process.execArgv, setFlags: (flags: string) => void = v8.setFlagsFromString): string[] {
  const given = new Set(execArgv.filter((a) => a.startsWith('--')).map(v8FlagName));
  const applied: string[] = [];
  for (const flag of SERVER_V8_FLAGS) {
    if (given.has(v8FlagName(flag))) continue;
    setFlags(flag);
    applied.push(flag);
  }
  return applied;
}
