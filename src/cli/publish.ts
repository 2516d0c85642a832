/**
 * `tributary publish SUBJECT MESSAGE` and `tributary subscribe FILTER`: the Router through the HTTP API.
 * A publish reaches NATS and MQTT subscribers, capturing streams and queues bound to amq.topic, like a
 * publish in any protocol; subscribe prints what arrives (Server-Sent Events) until --count or Ctrl-C.
 */
import { Command } from 'commander';
import { apiOf, collectKeyValue, examples, parseCount, withCommonOptions, type CommonOptions } from './common-options.js';
import { seg } from './api-client.js';
import { note, printJson } from './output.js';
import { formatMessage, parseFormat, type ApiMessage, type RecordFormat } from './record-format.js';

interface PublishOptions extends CommonOptions {
  header?: Record<string, string>;
  replyTo?: string;
}

interface SubscribeOptions extends CommonOptions {
  count?: number;
  format: RecordFormat;
}

export function publishCommand(): Command {
  const cmd = withCommonOptions(new Command('publish'))
    .description('Publish one message to a subject (NATS a.b, MQTT a/b, AMQP amq.topic key a.b).')
    .argument('<subject>')
    .argument('<message>', 'the payload, as UTF-8 text')
    .option('--header <key=value>', 'a header (repeatable)', collectKeyValue)
    .option('--reply-to <subject>', 'the reply subject (request/reply)')
    .action(async (subject: string, message: string, opts: PublishOptions) => {
      const res = await apiOf(opts).post<{ deliveries: number; stored: unknown[] }>(`/api/subjects/${seg(subject)}/publish`, {
        value: message,
        encoding: 'text',
        headers: opts.header,
        replyTo: opts.replyTo,
      });
      if (opts.json) printJson(res);
      else note(`published to ${subject}: ${res.deliveries} live delivery(ies), stored in ${res.stored.length} stream(s)`);
    });
  return examples(cmd, ["tributary publish sensors.kitchen.temp '21.5'", "tributary publish orders.created '{\"id\":1}' --header source=cli"]);
}

export function subscribeCommand(): Command {
  const cmd = withCommonOptions(new Command('subscribe'))
    .description('Print messages published to subjects matching a filter (* one token, > the rest).')
    .argument('<filter>')
    .option('--count <n>', 'exit after this many messages', parseCount)
    .option('--format <format>', 'text (the payload), json or hex', parseFormat, 'text' as RecordFormat)
    .action(async (filter: string, opts: SubscribeOptions) => {
      const format: RecordFormat = opts.json ? 'json' : opts.format;
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      let seen = 0;
      try {
        await apiOf(opts).events(`/api/subjects/${seg(filter)}/events`, (e) => {
          if (e.event !== 'message') return;
          process.stdout.write(formatMessage(format, JSON.parse(e.data) as ApiMessage));
          if (opts.count !== undefined && ++seen >= opts.count) {
            stop.abort();
            return false;
          }
        }, stop.signal, () => note(`subscribed to ${filter}`));
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
  return examples(cmd, ["tributary subscribe 'sensors.>'", "tributary subscribe 'orders.*' --count 1 --format json"]);
}
