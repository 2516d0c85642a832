/**
 * Overview: message and byte rates in and out (computed in the browser from the cumulative counters of
 * /api/stats), connections per protocol, disk used, and the totals of /api/status.
 */
import { get } from '../api.js';
import { TimeChart } from '../chart.js';
import { card, fill, pageHeader, tile, type Page } from '../components.js';
import { h, replace } from '../element.js';
import { formatBytes, formatCount, formatDuration, formatRate } from '../format.js';
import { poll } from '../live.js';
import { statsFeed } from '../stats-feed.js';
import type { StatusJson } from '../types.js';

const PROTOCOLS = ['kafka', 'amqp', 'nats', 'mqtt', 'http'] as const;
const PROTOCOL_COLORS: { [p: string]: string } = { kafka: '#2563eb', amqp: '#f97316', nats: '#16a34a', mqtt: '#9333ea', http: '#64748b' };

export const overviewPage: Page = (main) => {
  const stateBadge = h('span', { class: 'live-state', 'data-testid': 'stats-state' });
  const tiles = h('div', { class: 'tiles' });
  const messagesChart = h('div', { class: 'chart', 'data-testid': 'chart-messages' });
  const bytesChart = h('div', { class: 'chart', 'data-testid': 'chart-bytes' });
  const connections = h('div', { class: 'protocol-bars', 'data-testid': 'connections-by-protocol' });
  const status = h('div', { class: 'status-grid' });
  const chartNotice = h('div');

  replace(
    main,
    pageHeader('Overview', 'Throughput, connections and storage across every protocol', stateBadge),
    tiles,
    chartNotice,
    h(
      'div',
      { class: 'grid-2' },
      card('Messages / s', messagesChart, { testid: 'card-messages' }),
      card('Bytes / s', bytesChart, { testid: 'card-bytes' }),
    ),
    h('div', { class: 'grid-2' }, card('Connections by protocol', connections), card('Server', status)),
  );

  const msgChart = new TimeChart(messagesChart, [
    { label: 'in', color: '#2563eb' },
    { label: 'out', color: '#16a34a' },
  ], { yFormat: formatRate });
  const byteChart = new TimeChart(bytesChart, [
    { label: 'in', color: '#7c3aed' },
    { label: 'out', color: '#f59e0b' },
  ], { yFormat: (v) => formatBytes(v) });

  const render = (): void => {
    const s = statsFeed.latest;
    const r = statsFeed.rates;
    stateBadge.className = `live-state live-${statsFeed.state}`;
    replace(stateBadge, { connecting: 'connecting…', live: 'live', polling: 'polling', unavailable: 'stats not available' }[statsFeed.state]);
    if (statsFeed.state === 'unavailable') {
      replace(chartNotice, h('div', { class: 'notice notice-muted', 'data-testid': 'not-available' }, h('strong', {}, 'Statistics: not available'), ' — this server has no /api/stats route yet.'));
    }
    msgChart.setData(r.times, r.rates.messagesIn, r.rates.messagesOut);
    byteChart.setData(r.times, r.rates.bytesIn, r.rates.bytesOut);
    if (s === null) return;
    const totalConnections = Object.values(s.connections).reduce((a, b) => a + b, 0);
    const active = Object.values(s.connections).filter((n) => n > 0).length;
    replace(
      tiles,
      tile('Messages in / s', formatRate(r.latest('messagesIn')), `${formatCount(s.messagesIn)} total`, 'tile-in'),
      tile('Messages out / s', formatRate(r.latest('messagesOut')), `${formatCount(s.messagesOut)} total`, 'tile-out'),
      tile('Connections', formatCount(totalConnections), `${active} protocol${active === 1 ? '' : 's'} in use`),
      tile('Disk used', formatBytes(s.diskBytes), 'data directory', 'tile-disk'),
    );
    const max = Math.max(1, ...Object.values(s.connections));
    replace(
      connections,
      [...new Set([...PROTOCOLS, ...Object.keys(s.connections)])].map((p) => {
        const n = s.connections[p] ?? 0;
        return h(
          'div',
          { class: 'protocol-bar' },
          h('span', { class: 'protocol-name' }, p.toUpperCase()),
          h('span', { class: 'bar-track' }, h('span', { class: 'bar-fill', style: `width:${(n / max) * 100}%;background:${PROTOCOL_COLORS[p] ?? '#64748b'}` })),
          h('span', { class: 'protocol-count', 'data-protocol': p }, formatCount(n)),
        );
      }),
    );
  };
  render();
  const unsubscribe = statsFeed.onUpdate(render);

  const statusPoll = poll(
    () =>
      fill(status, 'Server status', async () => {
        const st = await get<StatusJson>('/api/status');
        const t = st.totals;
        return h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Version'), h('dd', {}, st.version),
          h('dt', {}, 'Uptime'), h('dd', {}, formatDuration(st.uptimeMs)),
          h('dt', {}, 'Streams'), h('dd', {}, formatCount(t.streams)),
          h('dt', {}, 'Queues'), h('dd', {}, formatCount(t.queues)),
          h('dt', {}, 'Exchanges'), h('dd', {}, formatCount(t.exchanges)),
          h('dt', {}, 'Consumer groups'), h('dd', {}, formatCount(t.groups)),
          h('dt', {}, 'Connections'), h('dd', {}, formatCount(t.connections)),
        );
      }),
    5000,
  );

  return () => {
    unsubscribe();
    statusPoll.stop();
    msgChart.destroy();
    byteChart.destroy();
  };
};
