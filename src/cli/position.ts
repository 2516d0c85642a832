/**
 * Where to start reading, as people write it: `earliest`, `latest`, an offset (`42`) or a point in time
 * (ISO-8601, `2026-11-23T10:00:00Z`, or epoch milliseconds written `@1763892000000`). One parser for
 * `consume --from` and `group reset-offsets --to`.
 */
import { InvalidArgumentError } from 'commander';

export type Position = { kind: 'earliest' } | { kind: 'latest' } | { kind: 'offset'; offset: number } | { kind: 'timestamp'; timestampMs: number };

export function parsePosition(text: string): Position {
  if (text === 'earliest' || text === 'beginning') return { kind: 'earliest' };
  if (text === 'latest' || text === 'end') return { kind: 'latest' };
  if (/^\d+$/.test(text)) return { kind: 'offset', offset: Number(text) };
  if (/^@\d+$/.test(text)) return { kind: 'timestamp', timestampMs: Number(text.slice(1)) };
  // Only full dates: Date.parse accepts loose forms ("1", "May") that would silently mean something else.
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const ms = Date.parse(text);
    if (!Number.isNaN(ms)) return { kind: 'timestamp', timestampMs: ms };
  }
  throw new InvalidArgumentError(`expected earliest, latest, an offset, an ISO-8601 time or @epoch-ms; got '${text}'`);
}
