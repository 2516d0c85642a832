/**
 * Consumer groups (Kafka): the list, and per group its members with their assignments, committed offsets and
 * lag per partition, and the total lag over time (polled every two seconds and charted).
 */
import { get, seg } from '../api.js';
import { TimeChart } from '../chart.js';
import { badge, card, fill, pageHeader, table, tile, type Page } from '../components.js';
import { h, replace } from '../element.js';
import { formatCount } from '../format.js';
import { poll } from '../live.js';
import { ValueSeries } from '../rate-series.js';
import { navigate } from '../router.js';
import type { GroupDetail, GroupSummary } from '../types.js';

function stateBadge(state: string): HTMLElement {
  const s = state.toLowerCase();
  return badge(state, s === 'stable' ? 'ok' : s === 'empty' || s === 'dead' ? 'muted' : 'warn');
}

const memberCount = (g: GroupSummary): number => (Array.isArray(g.members) ? g.members.length : g.members);

export const groupsPage: Page = (main) => {
  const list = h('div', { 'data-testid': 'groups-list' }, h('div', { class: 'empty' }, 'Loading…'));
  replace(main, pageHeader('Consumer groups', 'Kafka consumer groups: members, committed offsets and lag'), card('All groups', list));
  const listPoll = poll(
    () =>
      fill(list, 'Consumer groups', async () => {
        const { groups } = await get<{ groups: GroupSummary[] }>('/api/groups');
        return table(
          [
            { title: 'Group', cell: (g) => h('a', { href: `#/groups/${seg(g.groupId)}`, class: 'strong' }, g.groupId) },
            { title: 'State', cell: (g) => stateBadge(g.state) },
            { title: 'Protocol type', cell: (g) => g.protocolType || '—' },
            { title: 'Members', cell: (g) => formatCount(memberCount(g)), numeric: true },
          ],
          groups.sort((a, b) => a.groupId.localeCompare(b.groupId)),
          { empty: 'No consumer groups yet: they appear when a Kafka consumer joins one.', onRow: (g) => navigate(`#/groups/${seg(g.groupId)}`), testid: 'groups-table' },
        );
      }),
    3000,
  );
  return () => listPoll.stop();
};

export const groupDetailPage: Page = (main, params) => {
  const id = params[0]!;
  const tiles = h('div', { class: 'tiles' });
  const members = h('div', {}, h('div', { class: 'empty' }, 'Loading…'));
  const offsets = h('div');
  const chartBox = h('div', { class: 'chart', 'data-testid': 'chart-lag' });
  replace(
    main,
    pageHeader(id, 'Consumer group', h('a', { href: '#/groups', class: 'button' }, '← All groups')),
    tiles,
    card('Total lag over time', chartBox),
    h('div', { class: 'grid-2' }, card('Members', members), card('Lag per partition', offsets)),
  );
  const chart = new TimeChart(chartBox, [{ label: 'total lag', color: '#dc2626' }], { yFormat: formatCount, height: 200 });
  const lag = new ValueSeries(['total'] as const, 300);

  const groupPoll = poll(
    () =>
      fill(members, 'Consumer group', async () => {
        const g = await get<GroupDetail>(`/api/groups/${seg(id)}`);
        lag.push(Date.now(), { total: g.totalLag });
        chart.setData(lag.times, lag.values.total);
        replace(tiles, tile('State', stateBadge(g.state)), tile('Members', formatCount(g.members.length)), tile('Generation', String(g.generationId), g.protocol || '—'), tile('Total lag', formatCount(g.totalLag), 'messages behind', 'tile-lag'));
        replace(
          offsets,
          table(
            [
              { title: 'Topic', cell: (o) => h('a', { href: `#/streams/${seg(o.topic)}` }, o.topic) },
              { title: 'Partition', cell: (o) => o.partition, numeric: true },
              { title: 'Committed', cell: (o) => (o.committedOffset < 0 ? '—' : formatCount(o.committedOffset)), numeric: true },
              { title: 'End', cell: (o) => formatCount(o.endOffset), numeric: true },
              { title: 'Lag', cell: (o) => h('span', { class: o.lag > 0 ? 'rate-up' : 'muted' }, formatCount(o.lag)), numeric: true },
            ],
            g.offsets,
            { empty: 'No committed offsets.', testid: 'offsets-table' },
          ),
        );
        return table(
          [
            { title: 'Member', cell: (m) => h('code', { class: 'ellipsis', title: m.memberId }, m.memberId) },
            { title: 'Client', cell: (m) => [m.clientId, h('div', { class: 'muted small' }, m.clientHost)] },
            { title: 'Assignment', cell: (m) => (m.assignment.length === 0 ? h('span', { class: 'muted' }, 'none') : m.assignment.map((a) => h('div', {}, h('code', {}, a.topic), ` [${a.partitions.join(', ')}]`))) },
          ],
          g.members,
          { empty: 'No members: the group is empty.', testid: 'members-table' },
        );
      }),
    2000,
  );
  return () => {
    groupPoll.stop();
    chart.destroy();
  };
};
