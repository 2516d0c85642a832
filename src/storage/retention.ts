/**
 * Retention: which whole segments to delete, by age and by total size (the decision only; PartitionLog
 * deletes the files).
 *
 * Rules (Kafka's, applied oldest first, never to the active segment, so a log always keeps its newest data):
 * - age: a segment goes when its largest record timestamp is older than `now - retentionMs`
 *   (strictly: `maxTimestamp < now - retentionMs`); the scan stops at the first segment that is young enough,
 *   so deletion never leaves a hole;
 * - size: then, while the log holds more than `retentionBytes`, the oldest segment goes.
 * `-1` disables either rule; a cleanup policy without `delete` (pure `compact`) disables both.
 *
 * The caller then raises startOffset to the first remaining segment's base offset. No file needs to record
 * that: on open, startOffset is at least the first segment's base offset.
 *
 * Crash behaviour: segments are unlinked oldest first; a crash part-way leaves a log that merely kept more.
 */
import type { LogConfig } from './log.js';

export interface RetentionCandidate {
  readonly maxTimestamp: number;
  readonly sizeBytes: number;
}

/** How many of the oldest `segments` (oldest first; the last one is active) retention deletes now. */
export function segmentsToDelete(segments: readonly RetentionCandidate[], config: LogConfig, now: number): number {
  if (!config.cleanupPolicy.includes('delete')) return 0;
  let count = 0;
  const sealed = segments.length - 1;
  if (config.retentionMs >= 0) {
    const cutoff = now - config.retentionMs;
    while (count < sealed && segments[count].maxTimestamp < cutoff) count++;
  }
  if (config.retentionBytes >= 0) {
    let total = 0;
    for (const s of segments) total += s.sizeBytes;
    for (let i = 0; i < count; i++) total -= segments[i].sizeBytes;
    while (count < sealed && total > config.retentionBytes) {
      total -= segments[count].sizeBytes;
      count++;
    }
  }
  return count;
}
