#!/usr/bin/env node
/**
 * The `tributary` command. One file per verb lives beside this one; this file only assembles them and
 * supplies the two things every verb may need: the package version and how to open the broker.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { serveCommand } from './serve.js';
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
  .addCommand(serveCommand({ version, openBroker }));

await program.parseAsync(process.argv);
