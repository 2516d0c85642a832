/**
 * Queues: depth (ready messages), unacked, consumers, and rates in and out computed from the cumulative
 * messagesIn / messagesOut of two successive polls (two seconds apart), with a depth trend line. A server
 * without those counters gets the change of depth per second instead.
 */
import { api, get } from '../api.js';
import { sparkline } from '../chart.js';
import { badge, card, field, fill, form, pageHeader, table, text, type Page } from '../components.js';
import { h, replace } from '../element.js';
import { formatCount, formatRate } from '../format.js';
import { poll } from '../live.js';
import { RateSeries } from '../rate-series.js';
import type { QueueJson } from '../types.js';

const HISTORY = 60;

export const queuesPage: Page = (main) => {
  const list = h('div', { 'data-testid': 'queues-list' }, h('div', { class: 'empty' }, 'Loading…'));
  const history = new Map<string, { depth: number[]; lastMs: number; depthRate: number; rates: RateSeries<'in' | 'out'> }>();

  const createForm = form(
    'create-queue',
    [
      field('Name', h('input', { name: 'name', required: true, placeholder: 'jobs', autocomplete: 'off' })),
      h(
        'div',
        { class: 'checks' },
        h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'durable', checked: true }), ' durable'),
        h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'autoDelete' }), ' auto-delete'),
      ),
      field('Arguments (JSON)', h('input', { name: 'arguments', class: 'mono', placeholder: '{"x-max-length": 1000}', autocomplete: 'off' })),
    ],
    'Create queue',
    async (data) => {
      const body: { [k: string]: unknown } = { name: text(data, 'name'), durable: data.get('durable') !== null, autoDelete: data.get('autoDelete') !== null };
      const args = text(data, 'arguments');
      if (args !== '') {
        try {
          body['arguments'] = JSON.parse(args);
        } catch {
          throw new Error('Arguments must be a JSON object.');
        }
      }
      await api('POST', '/api/queues', body);
      void refresh();
      return `Created queue ${String(body['name'])}.`;
    },
  );

  createForm.classList.add('form-inline');
  replace(main, pageHeader('Queues', 'AMQP queues: a log plus a cursor that tracks acks'), card('All queues', list), card('Create a queue', createForm));

  const rateCell = (name: string, k: 'in' | 'out' | 'depth'): HTMLElement => {
    const hst = history.get(name);
    const r = hst === undefined ? 0 : k === 'depth' ? hst.depthRate : hst.rates.latest(k);
    if (k !== 'depth') return h('span', { class: r > 0 ? 'strong' : 'muted' }, formatRate(r));
    return h('span', { class: r > 0 ? 'rate-up' : r < 0 ? 'rate-down' : 'muted' }, `${r > 0 ? '+' : ''}${formatRate(r)}`);
  };

  const refresh = (): Promise<void> =>
    fill(list, 'Queues', async () => {
      const { queues } = await get<{ queues: QueueJson[] }>('/api/queues');
      const now = Date.now();
      const counted = queues.every((q) => typeof q.messagesIn === 'number');
      for (const q of queues) {
        const hst = history.get(q.stream) ?? { depth: [], lastMs: now, depthRate: 0, rates: new RateSeries(['in', 'out'] as const, HISTORY) };
        // Depth is not cumulative (it falls as consumers drain), so its change is computed here, sign kept.
        const previous = hst.depth[hst.depth.length - 1];
        hst.depthRate = previous === undefined || now <= hst.lastMs ? 0 : ((q.messages - previous) * 1000) / (now - hst.lastMs);
        hst.lastMs = now;
        hst.depth.push(q.messages);
        if (hst.depth.length > HISTORY) hst.depth.shift();
        hst.rates.push(now, { in: q.messagesIn ?? 0, out: q.messagesOut ?? 0 });
        history.set(q.stream, hst);
      }
      const rateColumns = counted
        ? [
            { title: 'In / s', cell: (q: QueueJson) => rateCell(q.stream, 'in'), numeric: true },
            { title: 'Out / s', cell: (q: QueueJson) => rateCell(q.stream, 'out'), numeric: true },
          ]
        : [{ title: 'Δ depth / s', cell: (q: QueueJson) => rateCell(q.stream, 'depth'), numeric: true }];
      return table(
        [
          // Names repeat across vhosts; the history above is keyed by the backing stream, which does not.
          { title: 'Name', cell: (q) => h('span', { class: 'strong' }, `${q.name === '' ? '(default)' : q.name}${q.vhost !== undefined && q.vhost !== '/' ? ` (vhost ${q.vhost})` : ''}`) },
          { title: 'Flags', cell: (q) => [q.durable ? badge('durable', 'info') : badge('transient', 'muted'), q.exclusive ? badge('exclusive', 'warn') : null, q.autoDelete ? badge('auto-delete', 'muted') : null] },
          { title: 'Ready', cell: (q) => formatCount(q.messages), numeric: true },
          { title: 'Unacked', cell: (q) => formatCount(q.unacked), numeric: true },
          { title: 'Consumers', cell: (q) => formatCount(q.consumers), numeric: true },
          ...rateColumns,
          { title: 'Depth trend', cell: (q) => sparkline(history.get(q.stream)?.depth ?? []) },
          { title: 'Bound from', cell: (q) => (q.bindings.length === 0 ? h('span', { class: 'muted' }, '—') : q.bindings.map((b) => h('code', { class: 'binding' }, `${b.source || '(default)'} → ${b.routingKey}`))) },
        ],
        queues.sort((a, b) => a.name.localeCompare(b.name)),
        { empty: 'No queues yet: declare one from an AMQP client or with the form.', testid: 'queues-table' },
      );
    });
  const listPoll = poll(refresh, 2000);
  return () => listPoll.stop();
};
