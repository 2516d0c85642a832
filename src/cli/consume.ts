/**
 * `tributary consume TOPIC`: reads records through the HTTP API from a position (earliest, latest, an offset
 * or a time) on every partition, or one. Without --follow it stops at the end of each partition as it was
 * when read; with --follow it then streams new records (Server-Sent Events) until --count or Ctrl-C.
 */
import { Command } from 'commander';
import { apiOf, examples, parseCount, withCommonOptions, type CommonOptions } from './common-options.js';
import { seg, type ApiClient } from './api-client.js';
import { CliError } from './cli-error.js';
import { note } from './output.js';
import { parsePosition, type Position } from './position.js';
import { formatMessage, parseFormat, type ApiMessage, type RecordFormat } from './record-format.js';

const PAGE_LIMIT = 1000;

interface ConsumeOptions extends CommonOptions {
  from: Position;
  partition?: number;
  count?: number;
  follow?: boolean;
  format: RecordFormat;
}

interface PartitionOffsets {
  partition: number;
  startOffset: number;
  highWatermark: number;
}

interface Page {
  records: ApiMessage[];
  nextOffset: number;
  highWatermark: number;
}

/** Stops the command once `count` records are out (or never, without --count). */
class Budget {
  printed = 0;
  constructor(private readonly count: number | undefined) {}
  get done(): boolean {
    return this.count !== undefined && this.printed >= this.count;
  }
}

async function catchUp(api: ApiClient, topic: string, p: PartitionOffsets, from: Position, out: (m: ApiMessage) => void, budget: Budget): Promise<number> {
  const path = `/api/streams/${seg(topic)}/records`;
  let query: string;
  switch (from.kind) {
    case 'earliest':
      query = `offset=${p.startOffset}`;
      break;
    case 'latest':
      return p.highWatermark;
    case 'offset':
      // Below the log start (retention removed it): start at the first record kept, as Kafka's earliest reset.
      query = `offset=${Math.min(Math.max(from.offset, p.startOffset), p.highWatermark)}`;
      break;
    case 'timestamp':
      query = `timestamp=${from.timestampMs}`;
      break;
  }
  let next = p.highWatermark;
  for (;;) {
    const page = await api.get<Page>(`${path}?partition=${p.partition}&${query}&limit=${PAGE_LIMIT}`);
    for (const r of page.records) {
      if (budget.done) return next;
      out({ ...r, partition: p.partition });
    }
    next = page.nextOffset;
    if (budget.done || page.records.length === 0 || page.nextOffset >= p.highWatermark) return next;
    query = `offset=${page.nextOffset}`;
  }
}

export function consumeCommand(): Command {
  const cmd = withCommonOptions(new Command('consume'))
    .description('Read records from a topic.')
    .argument('<topic>')
    .option('--from <position>', 'earliest, latest, an offset, or an ISO-8601 time', parsePosition, { kind: 'earliest' } as Position)
    .option('--partition <n>', 'only this partition (default: all)', parseCount)
    .option('--count <n>', 'stop after this many records', parseCount)
    .option('--follow', 'keep reading new records as they arrive (until --count or Ctrl-C)')
    .option('--format <format>', 'text (the value), json (one object a line) or hex', parseFormat, 'text' as RecordFormat)
    .action(async (topic: string, opts: ConsumeOptions) => {
      const api = apiOf(opts);
      const described = await api.get<{ partitions: PartitionOffsets[] }>(`/api/streams/${seg(topic)}`);
      const partitions = described.partitions.filter((p) => opts.partition === undefined || p.partition === opts.partition);
      if (partitions.length === 0) throw new CliError(`topic ${topic} has no partition ${opts.partition}`);
      const budget = new Budget(opts.count);
      // --json prints JSON lines like --format json: a script asked for machine-readable records.
      const format: RecordFormat = opts.json ? 'json' : opts.format;
      const out = (m: ApiMessage): void => {
        process.stdout.write(formatMessage(format, m));
        budget.printed++;
      };
      const nextOffsets: number[] = [];
      for (const p of partitions) nextOffsets.push(await catchUp(api, topic, p, opts.from, out, budget));
      if (!opts.follow || budget.done) return;
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      let open = 0;
      const opened = (): void => {
        if (++open === partitions.length) note(`following ${topic}`);
      };
      try {
        await Promise.all(
          partitions.map((p, i) =>
            api.events(`/api/streams/${seg(topic)}/events?partition=${p.partition}&offset=${nextOffsets[i]}`, (e) => {
              if (e.event !== 'record') return;
              out(JSON.parse(e.data) as ApiMessage);
              if (budget.done) {
                stop.abort();
                return false;
              }
            }, stop.signal, opened),
          ),
        );
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
  return examples(cmd, [
    'tributary consume orders --from earliest',
    'tributary consume orders --from 2026-11-23T09:00:00Z --count 10 --format json',
    'tributary consume orders --from latest --follow',
  ]);
}
