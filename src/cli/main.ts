#!/usr/bin/env node
/**
 * The `tributary` command. One file per verb lives beside this one; this file only assembles them, supplies
 * what `serve` needs (the package version, how to open the broker) and turns failures into exit codes:
 * 0 ok, 1 error (the message on stderr), 2 usage (a bad flag, value or missing argument).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { serveCommand } from './serve.js';
import { topicCommand } from './topic.js';
import { queueCommand } from './queue.js';
import { exchangeCommand } from './exchange.js';
import { vhostCommand } from './vhost.js';
import { groupCommand } from './group.js';
import { produceCommand } from './produce.js';
import { consumeCommand } from './consume.js';
import { publishCommand, subscribeCommand } from './publish.js';
import { statusCommand } from './status.js';
import { CliError } from './cli-error.js';
import type { OpenBroker } from '../server/broker-handle.js';

// The core, opened over the data directory the server has locked and format-checked.
const openBroker: OpenBroker = (options) => import('../core/broker.js').then((m) => m.Broker.open(options));

/** Read from package.json at run time, so `--version` and FORMAT's createdBy never drift from the release. */
function packageVersion(): string {
  // dist/src/cli/main.js → package root, the same layout in the repo and in an installed package.
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const version = packageVersion();
const program = new Command('tributary')
  .description('One broker for logs, queues and pub/sub, speaking Kafka, AMQP 0-9-1, NATS, MQTT and HTTP.')
  .version(version)
  .addCommand(serveCommand({ version, openBroker }))
  .addCommand(statusCommand())
  .addCommand(topicCommand())
  .addCommand(produceCommand())
  .addCommand(consumeCommand())
  .addCommand(groupCommand())
  .addCommand(queueCommand())
  .addCommand(exchangeCommand())
  .addCommand(vhostCommand())
  .addCommand(publishCommand())
  .addCommand(subscribeCommand())
  .addHelpText('after', '\nAdmin verbs talk to a running broker over its HTTP API: --url or TRIBUTARY_URL (default http://127.0.0.1:8080).\nExit codes: 0 ok, 1 error, 2 usage. `tributary <verb> --help` shows examples.');

/** Commander exits by itself on usage errors; every command throws instead, so main decides the code. */
function throwInsteadOfExit(cmd: Command): void {
  cmd.exitOverride();
  for (const sub of cmd.commands) throwInsteadOfExit(sub);
}
throwInsteadOfExit(program);

// `tributary consume … | head` or `--help | head`: a reader that stops early is not a failure of ours.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and --version end with code 0; everything else commander throws is a usage error (already printed).
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (err instanceof CliError) {
    process.stderr.write(`tributary: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    throw err;
  }
}
