/**
 * `tributary group …`: Kafka consumer groups through the HTTP API — list, describe (members, assignments,
 * committed offsets and lag per partition) and reset-offsets (the group must have no live members, as with
 * Kafka's own tool).
 */
import { Command } from 'commander';
import { apiOf, examples, withCommonOptions, type CommonOptions } from './common-options.js';
import { seg } from './api-client.js';
import { note, printFields, printJson, printTable } from './output.js';
import { parsePosition, type Position } from './position.js';

interface GroupListing {
  groupId: string;
  state: string;
  protocolType: string;
  members: number;
}

interface GroupDescription {
  groupId: string;
  state: string;
  protocolType: string;
  protocol: string | null;
  generationId: number;
  members: Array<{ memberId: string; groupInstanceId: string | null; clientId: string; clientHost: string; assignment: Array<{ topic: string; partitions: number[] }> }>;
  offsets: Array<{ topic: string; partition: number; committedOffset: number; endOffset: number; lag: number; metadata: string | null }>;
  totalLag: number;
}

interface ResetOptions extends CommonOptions {
  topic: string;
  to: Position;
  partitions?: number[];
}

function parsePartitions(text: string): number[] {
  return text.split(',').map((p) => {
    if (!/^\d+$/.test(p.trim())) throw new Error(`--partitions: '${p}' is not a partition number`);
    return Number(p.trim());
  });
}

export function groupCommand(): Command {
  const group = new Command('group').description('List, describe and reset Kafka consumer groups.');

  const list = withCommonOptions(new Command('list'))
    .description('List consumer groups.')
    .action(async (opts: CommonOptions) => {
      const { groups } = await apiOf(opts).get<{ groups: GroupListing[] }>('/api/groups');
      if (opts.json) printJson(groups);
      else printTable(['GROUP', 'STATE', 'MEMBERS', 'PROTOCOL-TYPE'], groups.map((g) => [g.groupId, g.state, g.members, g.protocolType]), 'no consumer groups');
    });
  examples(list, ['tributary group list']);

  const describe = withCommonOptions(new Command('describe'))
    .description('Show a group: state, members with their partitions, committed offsets and lag.')
    .argument('<id>')
    .action(async (id: string, opts: CommonOptions) => {
      const g = await apiOf(opts).get<GroupDescription>(`/api/groups/${seg(id)}`);
      if (opts.json) return printJson(g);
      printFields([
        ['group', g.groupId],
        ['state', g.state],
        ['protocol', g.protocol ?? '-'],
        ['generation', g.generationId],
        ['total lag', g.totalLag],
      ]);
      if (g.members.length > 0) {
        process.stdout.write('\n');
        const assigned = (m: GroupDescription['members'][number]): string => m.assignment.map((a) => `${a.topic}[${a.partitions.join(',')}]`).join(' ');
        printTable(['MEMBER', 'CLIENT', 'HOST', 'PARTITIONS'], g.members.map((m) => [m.groupInstanceId ?? m.memberId, m.clientId, m.clientHost, assigned(m)]), '');
      }
      process.stdout.write('\n');
      printTable(['TOPIC', 'PARTITION', 'COMMITTED', 'END', 'LAG'], g.offsets.map((o) => [o.topic, o.partition, o.committedOffset, o.endOffset, o.lag]), 'no committed offsets');
    });
  examples(describe, ['tributary group describe billing']);

  const reset = withCommonOptions(new Command('reset-offsets'))
    .description("Move a group's committed offsets for a topic (the group must have no live members).")
    .argument('<id>')
    .requiredOption('--topic <topic>', 'the topic whose offsets move')
    .requiredOption('--to <position>', 'earliest, latest, an offset, or an ISO-8601 time', parsePosition)
    .option('--partitions <list>', 'only these partitions, e.g. 0,2 (default: all)', parsePartitions)
    .action(async (id: string, opts: ResetOptions) => {
      const to = opts.to;
      const body = {
        topic: opts.topic,
        partitions: opts.partitions,
        to: to.kind,
        offset: to.kind === 'offset' ? to.offset : undefined,
        timestamp: to.kind === 'timestamp' ? to.timestampMs : undefined,
      };
      if (!opts.json) note(`resetting ${id} on ${opts.topic}…`);
      const res = await apiOf(opts).post<{ offsets: Array<{ topic: string; partition: number; offset: number }> }>(`/api/groups/${seg(id)}/reset-offsets`, body);
      if (opts.json) printJson(res);
      else printTable(['TOPIC', 'PARTITION', 'NEW-OFFSET'], res.offsets.map((o) => [o.topic, o.partition, o.offset]), 'no partitions reset');
    });
  examples(reset, ['tributary group reset-offsets billing --topic orders --to earliest', 'tributary group reset-offsets billing --topic orders --to 2026-11-23T09:00:00Z']);

  return group.addCommand(list).addCommand(describe).addCommand(reset);
}
