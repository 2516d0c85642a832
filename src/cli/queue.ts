/**
 * `tributary queue …`: AMQP-style queues through the HTTP API — create (with x-arguments), list, describe,
 * purge, delete. Queue arguments are fixed at creation, as in AMQP, so there is no `alter`.
 */
import { Command } from 'commander';
import { apiOf, collectKeyValue, examples, typedArguments, withCommonOptions, type CommonOptions } from './common-options.js';
import { seg } from './api-client.js';
import { note, printFields, printJson, printTable } from './output.js';

interface QueueDescription {
  name: string;
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  arguments: Record<string, unknown>;
  messages: number;
  unacked: number;
  consumers: number;
  bindings?: Array<{ source: string; routingKey: string }>;
}

interface CreateOptions extends CommonOptions {
  durable: boolean;
  autoDelete?: boolean;
  arg?: Record<string, string>;
}

interface DeleteOptions extends CommonOptions {
  ifUnused?: boolean;
  ifEmpty?: boolean;
}

export function queueCommand(): Command {
  const queue = new Command('queue').description('Create, list, describe, purge and delete queues.');

  const create = withCommonOptions(new Command('create'))
    .description('Create (declare) a queue.')
    .argument('<name>')
    .option('--no-durable', 'a transient queue (gone after a restart)')
    .option('--auto-delete', 'delete the queue when its last consumer goes')
    .option('--arg <key=value>', 'a queue argument, e.g. x-max-length=1000 (repeatable; numbers are typed)', collectKeyValue)
    .action(async (name: string, opts: CreateOptions) => {
      const body = { name, durable: opts.durable, autoDelete: opts.autoDelete ?? false, arguments: typedArguments(opts.arg ?? {}) };
      const created = await apiOf(opts).post<QueueDescription>('/api/queues', body);
      if (opts.json) printJson(created);
      else note(`created queue ${name}`);
    });
  examples(create, ['tributary queue create jobs', 'tributary queue create jobs --arg x-max-length=10000 --arg x-dead-letter-exchange=dlx']);

  const list = withCommonOptions(new Command('list'))
    .description('List queues with their depth, unacknowledged messages and consumers.')
    .action(async (opts: CommonOptions) => {
      const { queues } = await apiOf(opts).get<{ queues: QueueDescription[] }>('/api/queues');
      if (opts.json) printJson(queues);
      else printTable(['NAME', 'MESSAGES', 'UNACKED', 'CONSUMERS', 'DURABLE'], queues.map((q) => [q.name, q.messages, q.unacked, q.consumers, q.durable]), 'no queues');
    });
  examples(list, ['tributary queue list']);

  const describe = withCommonOptions(new Command('describe'))
    .description('Show a queue: flags, arguments, counts and bindings.')
    .argument('<name>')
    .action(async (name: string, opts: CommonOptions) => {
      const q = await apiOf(opts).get<QueueDescription>(`/api/queues/${seg(name)}`);
      if (opts.json) return printJson(q);
      printFields([
        ['name', q.name],
        ['durable', q.durable],
        ['exclusive', q.exclusive],
        ['auto-delete', q.autoDelete],
        ['messages', q.messages],
        ['unacked', q.unacked],
        ['consumers', q.consumers],
        ['arguments', Object.keys(q.arguments).length === 0 ? '-' : JSON.stringify(q.arguments)],
      ]);
      const bindings = q.bindings ?? [];
      if (bindings.length > 0) {
        process.stdout.write('\n');
        printTable(['EXCHANGE', 'ROUTING-KEY'], bindings.map((b) => [b.source === '' ? '(default)' : b.source, b.routingKey]), '');
      }
    });
  examples(describe, ['tributary queue describe jobs']);

  const purge = withCommonOptions(new Command('purge'))
    .description('Remove every ready message from a queue.')
    .argument('<name>')
    .action(async (name: string, opts: CommonOptions) => {
      const res = await apiOf(opts).post<{ purged: number }>(`/api/queues/${seg(name)}/purge`, {});
      if (opts.json) printJson(res);
      else note(`purged ${res.purged} message(s) from ${name}`);
    });
  examples(purge, ['tributary queue purge jobs']);

  const del = withCommonOptions(new Command('delete'))
    .description('Delete a queue.')
    .argument('<name>')
    .option('--if-unused', 'only if it has no consumers')
    .option('--if-empty', 'only if it holds no messages')
    .action(async (name: string, opts: DeleteOptions) => {
      const query = new URLSearchParams();
      if (opts.ifUnused) query.set('ifUnused', 'true');
      if (opts.ifEmpty) query.set('ifEmpty', 'true');
      const qs = query.size > 0 ? `?${query.toString()}` : '';
      await apiOf(opts).delete(`/api/queues/${seg(name)}${qs}`);
      if (opts.json) printJson({ deleted: name });
      else note(`deleted queue ${name}`);
    });
  examples(del, ['tributary queue delete jobs --if-empty']);

  return queue.addCommand(create).addCommand(list).addCommand(describe).addCommand(purge).addCommand(del);
}
