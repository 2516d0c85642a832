/**
 * The options every admin verb shares (`--url`, `--json`) and the parsers for repeated `k=v` options, so
 * each verb file holds only what it does.
 */
import { Command, InvalidArgumentError } from 'commander';
import { ApiClient, DEFAULT_URL } from './api-client.js';

export interface CommonOptions {
  url?: string;
  json?: boolean;
}

/** Adds --url and --json to a verb. */
export function withCommonOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', `broker HTTP API address (env TRIBUTARY_URL; default ${DEFAULT_URL})`)
    .option('--json', 'print JSON for scripts instead of tables');
}

export function apiOf(opts: CommonOptions): ApiClient {
  return new ApiClient(opts.url);
}

/** commander collector for a repeatable `--config k=v`: builds an object, refusing entries without `=`. */
export function collectKeyValue(entry: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = entry.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got '${entry}'`);
  return { ...previous, [entry.slice(0, eq)]: entry.slice(eq + 1) };
}

/** commander parser for a whole number option. */
export function parseCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a whole number, got '${value}'`);
  return Number(value);
}

/** AMQP-style arguments from `k=v` text: numbers and booleans become typed, the rest stay strings. */
export function typedArguments(raw: Record<string, string>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(raw)) out[k] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v === 'true' ? true : v === 'false' ? false : v;
  return out;
}

/** Examples under a verb's --help. */
export function examples(cmd: Command, lines: string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}`);
}
