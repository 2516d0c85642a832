/**
 * `tributary serve`: runs the broker until SIGINT/SIGTERM. Its options are generated from the option table in
 * server/config.ts, so --help, docs/configuration.md and the parser always agree. Flags reach resolveConfig as
 * text; precedence and validation happen there, not in commander, so a bad value reads the same whether it
 * came from a flag, a variable or the file.
 */
import { Command, Option } from 'commander';
import { describeOptions, type OptionDescription, type OptionKey } from '../server/config.js';
import { runServer } from '../server/lifecycle.js';
import type { OpenBroker } from '../server/broker-handle.js';

export function optionHelp(d: OptionDescription): string {
  const parts = [d.help];
  if (d.choices !== null) parts.push(`One of: ${d.choices.join(', ')}.`);
  parts.push(`(default: ${d.defaultText}; env: ${d.env}${d.file !== null ? `; file: ${d.file}` : ''})`);
  return parts.join(' ');
}

export function serveCommand(options: { version: string; openBroker: OpenBroker }): Command {
  const command = new Command('serve').description('Run the broker: open the data directory and start the listeners.');
  const keyByAttribute = new Map<string, OptionKey>();
  for (const d of describeOptions()) {
    // No commander default: a default here would be indistinguishable from a flag and break precedence.
    const opt = new Option(d.flag, optionHelp(d));
    keyByAttribute.set(opt.attributeName(), d.key);
    command.addOption(opt);
  }
  command.addHelpText('after', '\nEach option can also be set by its environment variable or its key in the YAML file;\nprecedence is flag > environment > file > default. See docs/configuration.md.');
  command.action(async (parsed: Record<string, string | undefined>) => {
    const flags: Partial<Record<OptionKey, string>> = {};
    for (const [attr, value] of Object.entries(parsed)) {
      const key = keyByAttribute.get(attr);
      if (key !== undefined && value !== undefined) flags[key] = value;
    }
    await runServer({ inputs: { flags }, version: options.version, openBroker: options.openBroker });
  });
  return command;
}
