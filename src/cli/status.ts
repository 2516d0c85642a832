/** `tributary status`: the broker's version, uptime, listeners and totals, from GET /api/status. */
import { Command } from 'commander';
import { apiOf, examples, withCommonOptions, type CommonOptions } from './common-options.js';
import { printFields, printJson } from './output.js';

interface Status {
  version: string;
  uptimeMs: number;
  listeners: Record<string, string[]>;
  totals: Record<string, number>;
}

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const parts = [[Math.floor(s / 86400), 'd'], [Math.floor((s % 86400) / 3600), 'h'], [Math.floor((s % 3600) / 60), 'm'], [s % 60, 's']] as const;
  return parts.filter(([n], i) => n > 0 || i === 3).map(([n, u]) => `${n}${u}`).join(' ');
}

export function statusCommand(): Command {
  const cmd = withCommonOptions(new Command('status'))
    .description('Show the broker: version, uptime, listeners and totals.')
    .action(async (opts: CommonOptions) => {
      const api = apiOf(opts);
      const s = await api.get<Status>('/api/status');
      if (opts.json) return printJson(s);
      printFields([
        ['broker', `${api.baseUrl} (tributary ${s.version})`],
        ['uptime', duration(s.uptimeMs)],
        ...Object.entries(s.listeners).map(([name, addrs]): [string, string] => [name, addrs.join(', ')]),
        ...Object.entries(s.totals).map(([name, n]): [string, number] => [name, n]),
      ]);
    });
  return examples(cmd, ['tributary status', 'TRIBUTARY_URL=http://10.0.0.5:8080 tributary status --json']);
}
