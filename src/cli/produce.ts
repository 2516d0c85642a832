/**
 * `tributary produce TOPIC`: one record per line from stdin or `--file`, sent to the HTTP API in requests of
 * up to 1000 records (the API's limit; each request is one durable batch). Shows progress on a terminal.
 */
import { Command } from 'commander';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { apiOf, examples, parseCount, withCommonOptions, type CommonOptions } from './common-options.js';
import { seg } from './api-client.js';
import { CliError, usageError } from './cli-error.js';
import { note, printJson } from './output.js';

const RECORDS_PER_REQUEST = 1000;

interface ProduceOptions extends CommonOptions {
  key?: string;
  keySeparator?: string;
  file?: string;
  partition?: number;
  header?: Record<string, string>;
}

interface ProduceRecord {
  key?: string;
  value: string;
  encoding: 'text';
  partition?: number;
  headers?: Record<string, string>;
}

export function produceCommand(): Command {
  const cmd = withCommonOptions(new Command('produce'))
    .description('Produce records to a topic: one per line, from stdin or --file.')
    .argument('<topic>')
    .option('--key <key>', 'the key of every record')
    .option('--key-separator <sep>', 'each line is KEY<sep>VALUE (split at the first separator)')
    .option('--file <path>', 'read records from this file instead of stdin')
    .option('--partition <n>', 'write to this partition (default: by key, else round-robin)', parseCount)
    .option('--header <key=value>', 'a header on every record (repeatable)', (entry: string, prev: Record<string, string> = {}) => {
      const eq = entry.indexOf('=');
      if (eq <= 0) throw usageError(`--header: expected key=value, got '${entry}'`);
      return { ...prev, [entry.slice(0, eq)]: entry.slice(eq + 1) };
    })
    .action(async (topic: string, opts: ProduceOptions) => {
      if (opts.key !== undefined && opts.keySeparator !== undefined) throw usageError('produce: --key and --key-separator exclude each other');
      if (opts.keySeparator === '') throw usageError('produce: --key-separator must not be empty');
      const api = apiOf(opts);
      const input = opts.file === undefined ? process.stdin : createReadStream(opts.file);
      input.on('error', () => undefined); // reported through the readline loop below
      const lines = createInterface({ input, crlfDelay: Infinity });
      const progress = process.stderr.isTTY === true && opts.json !== true;
      let batch: ProduceRecord[] = [];
      let produced = 0;
      const offsets: Array<{ partition: number; offset: number }> = [];
      const flush = async (): Promise<void> => {
        if (batch.length === 0) return;
        const res = await api.post<{ offsets: Array<{ partition: number; offset: number }> }>(`/api/streams/${seg(topic)}/records`, { records: batch });
        produced += batch.length;
        batch = [];
        if (opts.json) offsets.push(...res.offsets);
        if (progress) process.stderr.write(`\rproduced ${produced} record(s)…`);
      };
      try {
        for await (const line of lines) {
          const record: ProduceRecord = { value: line, encoding: 'text', partition: opts.partition, headers: opts.header };
          if (opts.key !== undefined) record.key = opts.key;
          if (opts.keySeparator !== undefined) {
            const at = line.indexOf(opts.keySeparator);
            if (at < 0) throw new CliError(`line ${produced + batch.length + 1} has no key separator '${opts.keySeparator}'`);
            record.key = line.slice(0, at);
            record.value = line.slice(at + opts.keySeparator.length);
          }
          batch.push(record);
          if (batch.length === RECORDS_PER_REQUEST) await flush();
        }
      } catch (err) {
        if (err instanceof CliError) throw err;
        throw new CliError(`reading ${opts.file ?? 'stdin'}: ${(err as Error).message}`);
      }
      await flush();
      if (progress) process.stderr.write('\n');
      if (opts.json) printJson({ topic, produced, offsets });
      else note(`produced ${produced} record(s) to ${topic}`);
    });
  return examples(cmd, [
    "echo 'hello' | tributary produce greetings",
    'tributary produce orders --file orders.txt --key-separator :',
    'seq 1 100000 | tributary produce numbers --key n',
  ]);
}
