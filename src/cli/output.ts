/**
 * What the admin verbs print: aligned tables and `key: value` blocks for people, one JSON document for
 * scripts (`--json`). Data goes to stdout; progress and notes go to stderr so a pipe gets only data.
 */
export type Cell = string | number | boolean | null | undefined;

export function formatTable(headers: string[], rows: Cell[][]): string {
  const text = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...text.map(line)].join('\n');
}

export function printTable(headers: string[], rows: Cell[][], emptyNote: string): void {
  if (rows.length === 0) process.stderr.write(`${emptyNote}\n`);
  else process.stdout.write(`${formatTable(headers, rows)}\n`);
}

export function printFields(fields: Array<[string, Cell]>): void {
  const width = Math.max(...fields.map(([k]) => k.length));
  for (const [k, v] of fields) process.stdout.write(`${`${k}:`.padEnd(width + 2)}${v === null || v === undefined ? '-' : String(v)}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A note for people (stderr), e.g. "created topic t". */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}
