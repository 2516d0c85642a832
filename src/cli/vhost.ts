/**
 * `tributary vhost …`: AMQP virtual hosts through the HTTP API — list, create, delete. Deleting one closes its
 * AMQP connections and removes its queues and exchanges, as `rabbitmqctl delete_vhost` does.
 */
import { Command } from 'commander';
import { apiOf, examples, withCommonOptions, type CommonOptions } from './common-options.js';
import { seg } from './api-client.js';
import { note, printJson, printTable } from './output.js';

interface VhostDescription {
  name: string;
  default: boolean;
  queues: number;
  exchanges: number;
}

export function vhostCommand(): Command {
  const vhost = new Command('vhost').description('List, create and delete AMQP virtual hosts.');

  const list = withCommonOptions(new Command('list'))
    .description('List virtual hosts with their queue and exchange counts.')
    .action(async (opts: CommonOptions) => {
      const { vhosts } = await apiOf(opts).get<{ vhosts: VhostDescription[] }>('/api/vhosts');
      if (opts.json) printJson(vhosts);
      else printTable(['NAME', 'QUEUES', 'EXCHANGES'], vhosts.map((v) => [v.name, v.queues, v.exchanges]), 'no vhosts');
    });
  examples(list, ['tributary vhost list']);

  const create = withCommonOptions(new Command('create'))
    .description('Create a virtual host (kept across restarts; creating an existing one is not an error).')
    .argument('<name>')
    .action(async (name: string, opts: CommonOptions) => {
      const created = await apiOf(opts).request<VhostDescription>('PUT', `/api/vhosts/${seg(name)}`);
      if (opts.json) printJson(created);
      else note(`created vhost ${name}`);
    });
  examples(create, ['tributary vhost create staging']);

  const del = withCommonOptions(new Command('delete'))
    .description('Delete a virtual host: its AMQP connections are closed and its queues and exchanges removed.')
    .argument('<name>')
    .action(async (name: string, opts: CommonOptions) => {
      await apiOf(opts).delete(`/api/vhosts/${seg(name)}`);
      if (opts.json) printJson({ deleted: name });
      else note(`deleted vhost ${name}`);
    });
  examples(del, ['tributary vhost delete staging']);

  return vhost.addCommand(list).addCommand(create).addCommand(del);
}
