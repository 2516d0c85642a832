/**
 * A deterministic Clock + TimerScheduler for cursor tests: time moves only when `advance` is called, and due
 * timers fire in time order (a timer set while firing fires in the same advance if it is due).
 */
import assert from 'node:assert/strict';
import type { Clock, TimerScheduler } from '../../../src/core/cursor/cursor-state.js';

interface Timer {
  id: number;
  atMs: number;
  fn: () => void;
}

export class ManualClock implements Clock, TimerScheduler {
  private t: number;
  private timers: Timer[] = [];
  private seq = 0;

  constructor(startMs = 1_000_000) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  setTimer(atMs: number, fn: () => void): unknown {
    const timer = { id: ++this.seq, atMs, fn };
    this.timers.push(timer);
    return timer.id;
  }

  clearTimer(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      let next: Timer | undefined;
      for (const t of this.timers) if (t.atMs <= target && (next === undefined || t.atMs < next.atMs)) next = t;
      if (next === undefined) break;
      this.timers = this.timers.filter((t) => t !== next);
      if (next.atMs > this.t) this.t = next.atMs;
      next.fn();
    }
    this.t = target;
  }
}

/** Resolves `p` or rejects after `ms` of real time (every await in these tests has a bound). */
export async function within<T>(p: Promise<T>, ms = 2000, what = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Lets pending I/O callbacks (MemoryLog reads resolve as microtasks; store writes use setImmediate) run. */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Waits (bounded, without sleeping) until `cond` holds, letting I/O callbacks run between checks. The bound is
 * real time, not a count of turns: a fast machine runs hundreds of turns inside the cursor store's 10 ms write
 * interval, so a count let a test give up before the write it waited for could start.
 */
export async function until(cond: () => boolean, what = 'condition', ms = 2000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) assert.fail(`${what} did not hold within ${ms} ms`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
