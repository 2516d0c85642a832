/**
 * ResourceAlarm: RabbitMQ's memory and disk alarms for the whole broker. A timer compares the process's
 * resident memory with the memory high watermark and the free space of the data directory's file system with
 * the disk free limit; when either crosses, the alarm is raised ('change' event), and it clears when both are
 * back on the right side. Protocols act on it: AMQP blocks publishing connections (connection.blocked, socket
 * reads paused) until it clears, as RabbitMQ does.
 *
 * Each resource can also be forced on or off (`force`), for tests and operators; a forced state wins over the
 * measurement until `force(kind, null)` gives the resource back to the timer.
 *
 * Cost: one `process.memoryUsage.rss()` and one `statfs` per check (default every second), on an unref'd timer.
 */
import { EventEmitter } from 'node:events';
import { statfs } from 'node:fs/promises';
import { totalmem } from 'node:os';

export type ResourceKind = 'memory' | 'disk';

export interface ResourceAlarmOptions {
  /** Directory whose file system's free space is watched. */
  dataDir: string;
  /**
   * Memory high watermark: a fraction of the machine's memory when at most 1 (RabbitMQ's
   * vm_memory_high_watermark, default 0.6), else bytes of resident memory; 0 turns the memory alarm off.
   */
  memoryHighWatermark?: number;
  /** Free bytes the data directory's file system must keep (RabbitMQ's disk_free_limit, default 50 MB); 0 = off. */
  diskFreeLimitBytes?: number;
  /** Check period. Default 1000 ms. */
  checkIntervalMs?: number;
  /** Measurements (tests inject them). */
  residentBytes?: () => number;
  freeDiskBytes?: (dir: string) => Promise<number>;
}

export const DEFAULT_MEMORY_HIGH_WATERMARK = 0.6;
export const DEFAULT_DISK_FREE_LIMIT_BYTES = 50_000_000;

async function freeBytesOf(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/** Events: 'change' (alarmed: boolean, kinds: ResourceKind[]). */
export class ResourceAlarm extends EventEmitter {
  /** Resident bytes above which the memory alarm is raised (Infinity = off). */
  readonly memoryLimitBytes: number;
  readonly diskFreeLimitBytes: number;
  private readonly measured = new Set<ResourceKind>();
  private readonly forced = new Map<ResourceKind, boolean>();
  private timer: NodeJS.Timeout | null = null;
  private checking = false;
  private wasAlarmed = false;

  constructor(private readonly options: ResourceAlarmOptions) {
    super();
    const mark = options.memoryHighWatermark ?? DEFAULT_MEMORY_HIGH_WATERMARK;
    this.memoryLimitBytes = mark <= 0 ? Infinity : mark <= 1 ? Math.floor(totalmem() * mark) : mark;
    this.diskFreeLimitBytes = options.diskFreeLimitBytes ?? DEFAULT_DISK_FREE_LIMIT_BYTES;
  }

  /** True while any resource is in alarm. */
  get alarmed(): boolean {
    return this.kinds.length > 0;
  }

  /** The resources in alarm now. */
  get kinds(): ResourceKind[] {
    const out: ResourceKind[] = [];
    for (const kind of ['memory', 'disk'] as const) {
      const f = this.forced.get(kind);
      if (f === true || (f === undefined && this.measured.has(kind))) out.push(kind);
    }
    return out;
  }

  /** Starts the periodic check (idempotent). */
  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.check(), this.options.checkIntervalMs ?? 1000);
    this.timer.unref();
    void this.check();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Measures both resources now and emits 'change' if the alarm state changed. */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const rss = (this.options.residentBytes ?? (() => process.memoryUsage.rss()))();
      this.set('memory', rss > this.memoryLimitBytes);
      if (this.diskFreeLimitBytes > 0) {
        try {
          const free = await (this.options.freeDiskBytes ?? freeBytesOf)(this.options.dataDir);
          this.set('disk', free < this.diskFreeLimitBytes);
        } catch {
          // statfs failing (the directory went away at shutdown) says nothing about space: keep the last state.
        }
      }
    } finally {
      this.checking = false;
    }
    this.emitIfChanged();
  }

  /** Forces a resource into (true) or out of (false) alarm whatever is measured; null measures it again. */
  force(kind: ResourceKind, alarmed: boolean | null): void {
    if (alarmed === null) this.forced.delete(kind);
    else this.forced.set(kind, alarmed);
    this.emitIfChanged();
  }

  private set(kind: ResourceKind, over: boolean): void {
    if (over) this.measured.add(kind);
    else this.measured.delete(kind);
  }

  private emitIfChanged(): void {
    const now = this.alarmed;
    if (now === this.wasAlarmed) return;
    this.wasAlarmed = now;
    this.emit('change', now, this.kinds);
  }
}
