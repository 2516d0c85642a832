/**
 * Test harness for the pure cursor state: records fed synchronously, a recording sink, a manual clock.
 */
import { CursorState, type CursorSink, type CursorStateOptions, type DeadLetterDecision, type Delivery } from '../../../src/core/cursor/cursor-state.js';
import { Dispatch, type Consumer, type DispatchMode } from '../../../src/core/cursor/dispatch.js';
import type { Record } from '../../../src/storage/record-batch.js';
import { ManualClock } from './manual-clock.js';

export function rec(offset: number, options: { key?: string | null; value?: string; ts?: number; subject?: string } = {}): Record {
  const headers = options.subject !== undefined ? [{ key: 'subject', value: Buffer.from(options.subject) }] : [];
  return {
    offset,
    timestamp: options.ts ?? 0,
    key: options.key === undefined || options.key === null ? null : Buffer.from(options.key),
    value: Buffer.from(options.value ?? `v${offset}`),
    headers,
  };
}

export function recs(from: number, to: number, key?: (o: number) => string | null): Record[] {
  const out: Record[] = [];
  for (let o = from; o < to; o++) out.push(rec(o, { key: key?.(o) ?? null }));
  return out;
}

export interface Delivered {
  consumer: string;
  level: number;
  offset: number;
  count: number;
  redelivered: boolean;
  delivery: Delivery;
}

export class Harness implements CursorSink {
  readonly clock = new ManualClock();
  readonly state: CursorState;
  readonly delivered: Delivered[] = [];
  readonly deadLettered: DeadLetterDecision[] = [];
  readonly needs: number[] = [];
  autoCompleteDeadLetters = true;
  /** Return value for deliver (false pauses the consumer). */
  accept = true;
  onDeliver: ((c: Consumer, d: Delivery) => void) | null = null;

  constructor(mode: DispatchMode, options: Partial<CursorStateOptions> = {}, levels = 1) {
    this.state = new CursorState({
      dispatch: new Dispatch(mode),
      startOffsets: new Array(levels).fill(0),
      clock: this.clock,
      timers: this.clock,
      ...options,
    });
    this.state.onWake = () => this.pump();
  }

  deliver(consumer: Consumer, delivery: Delivery): boolean {
    this.delivered.push({ consumer: consumer.id, level: delivery.level, offset: delivery.offset, count: delivery.deliveryCount, redelivered: delivery.redelivered, delivery });
    this.onDeliver?.(consumer, delivery);
    return this.accept;
  }

  deadLetter(decision: DeadLetterDecision): void {
    this.deadLettered.push(decision);
    if (this.autoCompleteDeadLetters) this.state.completeDeadLetter(decision.level, decision.offset);
  }

  needRecords(level: number): void {
    this.needs.push(level);
  }

  feed(level: number, records: Record[]): void {
    const end = records.length === 0 ? this.state.levels[level].readOffset : records[records.length - 1].offset + 1;
    this.state.pushRecords(level, records, end);
  }

  attach(id: string, prefetchCount = 0, extra: { priority?: number; prefetchBytes?: number } = {}): Consumer {
    return this.state.dispatch.attach({ id, prefetchCount, ...extra });
  }

  pump(): void {
    this.state.pump(this);
  }

  /** Offsets delivered to a consumer, in order. */
  offsetsOf(id: string): number[] {
    return this.delivered.filter((d) => d.consumer === id).map((d) => d.offset);
  }

  take(): Delivered[] {
    return this.delivered.splice(0, this.delivered.length);
  }
}
