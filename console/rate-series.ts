/**
 * Turns samples of cumulative counters (messages in since start, ...) into per-second rates for charts, and
 * keeps a bounded history. A counter that goes down (the server restarted) restarts its rate from that sample
 * instead of charting a negative spike.
 */
export class RateSeries<K extends string> {
  readonly times: number[] = [];
  readonly rates: Record<K, number[]>;
  private last: { t: number; values: Record<K, number> } | null = null;

  constructor(
    readonly keys: readonly K[],
    readonly capacity = 300,
  ) {
    this.rates = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as unknown as Record<K, number[]>;
  }

  /** Adds a sample taken at `timestampMs`; returns false when it was the first one (no rate yet). */
  push(timestampMs: number, values: Record<K, number>): boolean {
    const prev = this.last;
    this.last = { t: timestampMs, values: { ...values } };
    if (prev === null || timestampMs <= prev.t) return false;
    const dt = (timestampMs - prev.t) / 1000;
    this.times.push(timestampMs / 1000);
    for (const k of this.keys) {
      const delta = values[k] - prev.values[k];
      this.rates[k].push(delta < 0 ? 0 : delta / dt);
    }
    if (this.times.length > this.capacity) {
      this.times.shift();
      for (const k of this.keys) this.rates[k].shift();
    }
    return true;
  }

  latest(k: K): number {
    const r = this.rates[k];
    return r.length === 0 ? 0 : r[r.length - 1]!;
  }
}

/** A bounded history of plain (not cumulative) values, such as the total lag of a group. */
export class ValueSeries<K extends string> {
  readonly times: number[] = [];
  readonly values: Record<K, number[]>;

  constructor(
    readonly keys: readonly K[],
    readonly capacity = 300,
  ) {
    this.values = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as unknown as Record<K, number[]>;
  }

  push(timestampMs: number, sample: Record<K, number>): void {
    this.times.push(timestampMs / 1000);
    for (const k of this.keys) this.values[k].push(sample[k]);
    if (this.times.length > this.capacity) {
      this.times.shift();
      for (const k of this.keys) this.values[k].shift();
    }
  }
}
