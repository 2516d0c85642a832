/**
 * `tributary exchange …`: exchanges and bindings through the HTTP API — create, list, describe, bind, unbind,
 * delete. Like queues, an exchange's type and arguments are fixed at creation.
 */
import { Command, InvalidArgumentError } from 'commander';
import { apiOf, collectKeyValue, examples, typedArguments, withCommonOptions, type CommonOptions } from './common-options.js';
import { seg } from './api-client.js';
import { CliError } from './cli-error.js';
import { note, printFields, printJson, printTable } from './output.js';

interface ExchangeDescription {
  name: string;
  type: string;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: Record<string, unknown>;
  bindings: Array<{ destination: unknown; routingKey: string; arguments?: Record<string, unknown> }>;
}

interface CreateOptions extends CommonOptions {
  type: string;
  durable: boolean;
  autoDelete?: boolean;
  internal?: boolean;
  arg?: Record<string, string>;
}

interface BindOptions extends CommonOptions {
  routingKey: string;
  destinationType: 'queue' | 'exchange';
  arg?: Record<string, string>;
}

function destinationText(d: unknown): string {
  if (typeof d === 'string') return d;
  const o = d as { kind?: string; type?: string; name?: string };
  return `${o.kind ?? o.type ?? 'queue'}:${o.name ?? JSON.stringify(d)}`;
}

function parseDestinationType(v: string): 'queue' | 'exchange' {
  if (v !== 'queue' && v !== 'exchange') throw new InvalidArgumentError(`expected queue or exchange, got '${v}'`);
  return v;
}

export function exchangeCommand(): Command {
  const exchange = new Command('exchange').description('Create, list, describe, bind, unbind and delete exchanges.');

  const create = withCommonOptions(new Command('create'))
    .description('Create (declare) an exchange.')
    .argument('<name>')
    .requiredOption('--type <type>', 'direct, fanout, topic, headers or x-delayed-message')
    .option('--no-durable', 'a transient exchange (gone after a restart)')
    .option('--auto-delete', 'delete it when its last binding goes')
    .option('--internal', 'only other exchanges may publish to it')
    .option('--arg <key=value>', 'an exchange argument, e.g. alternate-exchange=ae (repeatable)', collectKeyValue)
    .action(async (name: string, opts: CreateOptions) => {
      const body = { name, type: opts.type, durable: opts.durable, autoDelete: opts.autoDelete ?? false, internal: opts.internal ?? false, arguments: typedArguments(opts.arg ?? {}) };
      const created = await apiOf(opts).post<ExchangeDescription>('/api/exchanges', body);
      if (opts.json) printJson(created);
      else note(`created ${opts.type} exchange ${name}`);
    });
  examples(create, ['tributary exchange create orders --type topic', 'tributary exchange create events --type fanout --arg alternate-exchange=unrouted']);

  const list = withCommonOptions(new Command('list'))
    .description('List exchanges.')
    .action(async (opts: CommonOptions) => {
      const { exchanges } = await apiOf(opts).get<{ exchanges: ExchangeDescription[] }>('/api/exchanges');
      if (opts.json) printJson(exchanges);
      else printTable(['NAME', 'TYPE', 'DURABLE', 'BINDINGS'], exchanges.map((e) => [e.name === '' ? '(default)' : e.name, e.type, e.durable, e.bindings.length]), 'no exchanges');
    });
  examples(list, ['tributary exchange list']);

  const describe = withCommonOptions(new Command('describe'))
    .description('Show an exchange and its bindings.')
    .argument('<name>')
    .action(async (name: string, opts: CommonOptions) => {
      const { exchanges } = await apiOf(opts).get<{ exchanges: ExchangeDescription[] }>('/api/exchanges');
      const e = exchanges.find((x) => x.name === name);
      if (e === undefined) throw new CliError(`exchange '${name}' does not exist (TRIB_EXCHANGE_NOT_FOUND)`);
      if (opts.json) return printJson(e);
      printFields([
        ['name', e.name],
        ['type', e.type],
        ['durable', e.durable],
        ['auto-delete', e.autoDelete],
        ['internal', e.internal],
        ['arguments', Object.keys(e.arguments).length === 0 ? '-' : JSON.stringify(e.arguments)],
      ]);
      if (e.bindings.length > 0) {
        process.stdout.write('\n');
        printTable(['DESTINATION', 'ROUTING-KEY', 'ARGUMENTS'], e.bindings.map((b) => [destinationText(b.destination), b.routingKey, b.arguments && Object.keys(b.arguments).length > 0 ? JSON.stringify(b.arguments) : '']), '');
      }
    });
  examples(describe, ['tributary exchange describe amq.topic']);

  const bindingCommand = (verb: 'bind' | 'unbind'): Command => {
    const cmd = withCommonOptions(new Command(verb))
      .description(verb === 'bind' ? 'Bind a queue (or an exchange) to an exchange.' : 'Remove a binding.')
      .argument('<source>', 'the exchange messages come from')
      .argument('<destination>', 'the queue (or exchange) they go to')
      .option('--routing-key <key>', 'the binding key (topic patterns use * and #)', '')
      .option('--destination-type <type>', 'queue or exchange', parseDestinationType, 'queue')
      .option('--arg <key=value>', 'a binding argument, e.g. x-match=any for headers exchanges (repeatable)', collectKeyValue)
      .action(async (source: string, destination: string, opts: BindOptions) => {
        const body = { source, destination, destinationType: opts.destinationType, routingKey: opts.routingKey, arguments: typedArguments(opts.arg ?? {}) };
        const api = apiOf(opts);
        if (verb === 'bind') await api.post('/api/bindings', body);
        else await api.delete('/api/bindings', body);
        if (opts.json) printJson(body);
        else note(`${verb === 'bind' ? 'bound' : 'unbound'} ${opts.destinationType} ${destination} ${verb === 'bind' ? 'to' : 'from'} ${source}${opts.routingKey === '' ? '' : ` with key ${opts.routingKey}`}`);
      });
    return examples(cmd, [`tributary exchange ${verb} orders billing --routing-key 'order.*.paid'`]);
  };

  const del = withCommonOptions(new Command('delete'))
    .description('Delete an exchange.')
    .argument('<name>')
    .option('--if-unused', 'only if nothing is bound to it')
    .action(async (name: string, opts: CommonOptions & { ifUnused?: boolean }) => {
      await apiOf(opts).delete(`/api/exchanges/${seg(name)}${opts.ifUnused ? '?ifUnused=true' : ''}`);
      if (opts.json) printJson({ deleted: name });
      else note(`deleted exchange ${name}`);
    });
  examples(del, ['tributary exchange delete orders --if-unused']);

  return exchange.addCommand(create).addCommand(list).addCommand(describe).addCommand(bindingCommand('bind')).addCommand(bindingCommand('unbind')).addCommand(del);
}
