/**
 * `tributary topic …`: streams (Kafka topics) through the HTTP API — create, list, describe, alter (configs
 * and partition count), delete.
 */
import { Command } from 'commander';
import { apiOf, collectKeyValue, examples, parseCount, withCommonOptions, type CommonOptions } from './common-options.js';
import { seg } from './api-client.js';
import { note, printFields, printJson, printTable } from './output.js';
import { usageError } from './cli-error.js';

interface StreamSummary {
  name: string;
  partitions: number;
  subjects: string[];
  retention: string;
}

interface StreamDescription extends Omit<StreamSummary, 'partitions'> {
  storage: string;
  partitions: Array<{ partition: number; startOffset: number; endOffset: number; highWatermark: number }>;
  configs: Array<{ name: string; value: string | null; isDefault: boolean }>;
}

interface CreateOptions extends CommonOptions {
  partitions?: number;
  config?: Record<string, string>;
  subject?: string[];
  retention?: string;
}

interface AlterOptions extends CommonOptions {
  config?: Record<string, string>;
  deleteConfig?: string[];
  partitions?: number;
}

function printStream(s: StreamDescription): void {
  printFields([
    ['name', s.name],
    ['retention', s.retention],
    ['storage', s.storage],
    ['subjects', s.subjects.join(', ')],
  ]);
  process.stdout.write('\n');
  printTable(['PARTITION', 'START', 'END', 'HIGH-WATERMARK'], s.partitions.map((p) => [p.partition, p.startOffset, p.endOffset, p.highWatermark]), 'no partitions');
  const set = s.configs.filter((c) => !c.isDefault);
  if (set.length > 0) {
    process.stdout.write('\n');
    printTable(['CONFIG', 'VALUE'], set.map((c) => [c.name, c.value]), '');
  }
}

export function topicCommand(): Command {
  const topic = new Command('topic').description('Create, list, describe, alter and delete topics (streams).');

  const create = withCommonOptions(new Command('create'))
    .description('Create a topic.')
    .argument('<name>')
    .option('--partitions <n>', 'number of partitions', parseCount)
    .option('--config <key=value>', 'a topic config, e.g. retention.ms=60000 (repeatable)', collectKeyValue)
    .option('--subject <filter>', 'a subject filter the topic captures, e.g. "sensors.>" (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--retention <policy>', 'limits, workqueue or compact')
    .action(async (name: string, opts: CreateOptions) => {
      const body = { name, partitions: opts.partitions, configs: opts.config, subjects: opts.subject, retention: opts.retention };
      const created = await apiOf(opts).post<StreamDescription>('/api/streams', body);
      if (opts.json) printJson(created);
      else note(`created topic ${created.name} with ${created.partitions.length} partition(s)`);
    });
  examples(create, ['tributary topic create orders --partitions 3 --config retention.ms=86400000']);

  const list = withCommonOptions(new Command('list'))
    .description('List topics.')
    .action(async (opts: CommonOptions) => {
      const { streams } = await apiOf(opts).get<{ streams: StreamSummary[] }>('/api/streams');
      if (opts.json) printJson(streams);
      else printTable(['NAME', 'PARTITIONS', 'RETENTION', 'SUBJECTS'], streams.map((s) => [s.name, s.partitions, s.retention, s.subjects.join(',')]), 'no topics');
    });
  examples(list, ['tributary topic list', 'tributary topic list --json --url http://broker:8080']);

  const describe = withCommonOptions(new Command('describe'))
    .description('Show a topic: partitions with offsets, and configs set on it.')
    .argument('<name>')
    .action(async (name: string, opts: CommonOptions) => {
      const s = await apiOf(opts).get<StreamDescription>(`/api/streams/${seg(name)}`);
      if (opts.json) printJson(s);
      else printStream(s);
    });
  examples(describe, ['tributary topic describe orders']);

  const alter = withCommonOptions(new Command('alter'))
    .description('Change a topic: set or reset configs, or raise the partition count.')
    .argument('<name>')
    .option('--config <key=value>', 'set a config (repeatable)', collectKeyValue)
    .option('--delete-config <key>', 'reset a config to the default (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--partitions <n>', 'the new total number of partitions (only grows)', parseCount)
    .action(async (name: string, opts: AlterOptions) => {
      const api = apiOf(opts);
      const configs: Record<string, string | null> = { ...opts.config };
      for (const k of opts.deleteConfig ?? []) configs[k] = null;
      if (Object.keys(configs).length === 0 && opts.partitions === undefined) throw usageError('topic alter: give --config, --delete-config or --partitions');
      let s: StreamDescription | undefined;
      if (Object.keys(configs).length > 0) s = await api.patch<StreamDescription>(`/api/streams/${seg(name)}/configs`, { configs });
      if (opts.partitions !== undefined) s = await api.post<StreamDescription>(`/api/streams/${seg(name)}/partitions`, { count: opts.partitions });
      if (opts.json) printJson(s);
      else note(`altered topic ${name}`);
    });
  examples(alter, ['tributary topic alter orders --config retention.ms=3600000', 'tributary topic alter orders --partitions 6']);

  const del = withCommonOptions(new Command('delete'))
    .description('Delete a topic and all its records.')
    .argument('<name>')
    .action(async (name: string, opts: CommonOptions) => {
      await apiOf(opts).delete(`/api/streams/${seg(name)}`);
      if (opts.json) printJson({ deleted: name });
      else note(`deleted topic ${name}`);
    });
  examples(del, ['tributary topic delete orders']);

  return topic.addCommand(create).addCommand(list).addCommand(describe).addCommand(alter).addCommand(del);
}
