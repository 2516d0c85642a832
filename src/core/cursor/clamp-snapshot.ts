/**
 * clampSnapshot: fits a cursor's persisted state to logs that end earlier than the cursor remembers.
 *
 * Why it happens: cursor state is written on its own schedule, while a log may lose its unsynced tail in a
 * power loss — records a cursor already saw (fsync `interval` / `never`, or visibility `written`, where
 * consumers see a record before its fsync). After recovery the log's end is below the cursor's `next`, and the
 * offsets above the end will be given again to new records. Left as it was, the cursor would treat those new
 * records as already delivered or acked and never deliver them; clamped, it delivers them.
 *
 * Rule per level, with `end` = the log's end after recovery: offsets at or above `end` are forgotten (floor
 * and next are lowered to `end`, acked ranges and delivery counts above it are dropped). Levels that fit are
 * returned as they are, and so is the snapshot when every level fits.
 *
 * Pure: no I/O.
 */
import type { CursorSnapshot, LevelSnapshot } from './cursor-state.js';

function clampLevel(level: LevelSnapshot, end: number): LevelSnapshot {
  if (level.next <= end && level.floor <= end) return level;
  const ranges: number[] = [];
  for (let i = 0; i + 1 < level.ranges.length; i += 2) {
    const start = level.ranges[i];
    const stop = Math.min(level.ranges[i + 1], end);
    if (start < stop) ranges.push(start, stop);
  }
  const counts: number[] = [];
  for (let i = 0; i + 1 < level.counts.length; i += 2) if (level.counts[i] < end) counts.push(level.counts[i], level.counts[i + 1]);
  return { floor: Math.min(level.floor, end), next: Math.min(level.next, end), ranges, counts };
}

/** `snapshot` with every level `l` cut at `ends[l]` (levels without an end are kept). */
export function clampSnapshot(snapshot: CursorSnapshot, ends: readonly number[]): CursorSnapshot {
  let changed = false;
  const levels = snapshot.levels.map((level, l) => {
    const end = ends[l];
    const clamped = end === undefined ? level : clampLevel(level, end);
    if (clamped !== level) changed = true;
    return clamped;
  });
  return changed ? { levels } : snapshot;
}
