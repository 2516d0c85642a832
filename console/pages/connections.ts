/** Connections: every client connection grouped by protocol, with its traffic and a button that closes it. */
import { api, get, seg } from '../api.js';
import { card, fill, pageHeader, table, toast, type Page } from '../components.js';
import { h, replace } from '../element.js';
import { formatBytes, formatCount, formatSince } from '../format.js';
import { poll } from '../live.js';
import type { ConnectionJson } from '../types.js';

const ORDER = ['kafka', 'amqp', 'nats', 'mqtt', 'http'];

export const connectionsPage: Page = (main) => {
  const body = h('div', { 'data-testid': 'connections' }, h('div', { class: 'empty' }, 'Loading…'));
  replace(main, pageHeader('Connections', 'Client connections per protocol'), body);

  const close = async (c: ConnectionJson, button: HTMLButtonElement): Promise<void> => {
    button.disabled = true;
    button.textContent = 'Closing…';
    try {
      await api('DELETE', `/api/connections/${seg(String(c.id))}`);
      toast(`Closed ${c.protocol} connection ${c.remoteAddress ?? ''}:${c.remotePort ?? ''}`);
    } catch (err) {
      toast(err instanceof Error ? err.message : String(err), 'error');
    }
    await refresh();
  };

  const refresh = (): Promise<void> =>
    fill(body, 'Connections', async () => {
      const { connections } = await get<{ connections: ConnectionJson[] }>('/api/connections');
      if (connections.length === 0) return h('div', { class: 'empty card' }, 'No client connections.');
      const rank = (p: string): number => (ORDER.includes(p) ? ORDER.indexOf(p) : ORDER.length);
      const protocols = [...new Set(connections.map((c) => c.protocol))].sort((a, b) => rank(a) - rank(b));
      return protocols.map((p) => {
        const rows = connections.filter((c) => c.protocol === p);
        return card(
          [p.toUpperCase(), h('span', { class: 'count-pill' }, String(rows.length))],
          table(
            [
              { title: 'Remote address', cell: (c) => h('code', {}, c.remoteAddress ?? '—', c.remotePort === null || c.remotePort === undefined ? '' : `:${c.remotePort}`) },
              { title: 'Client id', cell: (c) => c.clientId ?? h('span', { class: 'muted' }, '—') },
              { title: 'Principal', cell: (c) => c.principal ?? h('span', { class: 'muted' }, '—') },
              { title: 'Connected', cell: (c) => formatSince(c.connectedAt), numeric: true },
              { title: 'Msgs in', cell: (c) => formatCount(c.messagesIn), numeric: true },
              { title: 'Msgs out', cell: (c) => formatCount(c.messagesOut), numeric: true },
              { title: 'Bytes in', cell: (c) => formatBytes(c.bytesIn), numeric: true },
              { title: 'Bytes out', cell: (c) => formatBytes(c.bytesOut), numeric: true },
              {
                title: '',
                cell: (c) => {
                  const b = h('button', { type: 'button', class: 'danger small', 'data-testid': `close-${c.id}` }, 'Close');
                  b.addEventListener('click', () => void close(c, b));
                  return b;
                },
              },
            ],
            rows,
            { testid: `connections-${p}` },
          ),
          { testid: `protocol-${p}` },
        );
      });
    });
  const listPoll = poll(refresh, 2000);
  return () => listPoll.stop();
};
