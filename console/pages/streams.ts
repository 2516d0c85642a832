/**
 * Streams: the list (polled), a form to create one, and a live tail of any subject filter over SSE
 * (/api/subjects/:filter/events), which shows publishes from every protocol as they happen.
 */
import { api, get, seg } from '../api.js';
import { badge, card, field, fill, form, pageHeader, table, text, type Page } from '../components.js';
import { h, replace } from '../element.js';
import { formatTime } from '../format.js';
import { openEvents, poll, type EventFeed } from '../live.js';
import { previewPayload } from '../payload-view.js';
import type { MessageJson, StreamDetail, StreamSummary } from '../types.js';
import { navigate } from '../router.js';

export const streamsPage: Page = (main) => {
  const list = h('div', { 'data-testid': 'streams-list' }, h('div', { class: 'empty' }, 'Loading…'));

  const createForm = form(
    'create-stream',
    [
      field('Name', h('input', { name: 'name', required: true, placeholder: 'orders', autocomplete: 'off', pattern: '[A-Za-z0-9._\\-]+' })),
      field('Partitions', h('input', { name: 'partitions', type: 'number', min: 1, max: 1000, value: 1 })),
      field(
        'Retention',
        h('select', { name: 'retention' }, h('option', { value: 'limits' }, 'limits (time / size)'), h('option', { value: 'compact' }, 'compact (latest per key)'), h('option', { value: 'workqueue' }, 'workqueue (until acked)')),
      ),
      field('Retention time (hours)', h('input', { name: 'retentionHours', type: 'number', min: 0, step: 'any', placeholder: 'server default' }), 'retention.ms'),
    ],
    'Create stream',
    async (data) => {
      const body: { name: string; partitions: number; retention: string; configs?: { [k: string]: number } } = {
        name: text(data, 'name'),
        partitions: Number(text(data, 'partitions') || '1'),
        retention: text(data, 'retention'),
      };
      const hours = text(data, 'retentionHours');
      if (hours !== '') body.configs = { 'retention.ms': Math.round(Number(hours) * 3_600_000) };
      const created = await api<StreamDetail>('POST', '/api/streams', body);
      void refresh();
      return `Created ${created.name} with ${created.partitions.length} partition(s).`;
    },
  );

  const tail = subjectTail();
  replace(
    main,
    pageHeader('Streams', 'Partitioned, retained logs — Kafka topics, capture targets of subjects'),
    h('div', { class: 'grid-main-side' }, card('All streams', list), card('Create a stream', createForm)),
    tail.element,
  );

  const refresh = (): Promise<void> =>
    fill(list, 'Streams', async () => {
      const { streams } = await get<{ streams: StreamSummary[] }>('/api/streams');
      return table(
        [
          { title: 'Name', cell: (s) => h('a', { href: `#/streams/${seg(s.name)}`, class: 'strong' }, s.name) },
          { title: 'Partitions', cell: (s) => s.partitions, numeric: true },
          { title: 'Retention', cell: (s) => badge(s.retention, s.retention === 'limits' ? 'info' : s.retention === 'compact' ? 'warn' : 'ok') },
          { title: 'Subjects', cell: (s) => (s.subjects.length === 0 ? h('span', { class: 'muted' }, '—') : h('code', {}, s.subjects.join(', '))) },
        ],
        streams.sort((a, b) => a.name.localeCompare(b.name)),
        { empty: 'No streams yet: create one with the form.', onRow: (s) => navigate(`#/streams/${seg(s.name)}`), testid: 'streams-table' },
      );
    });
  const listPoll = poll(refresh, 3000);
  return () => {
    listPoll.stop();
    tail.stop();
  };
};

/** A card that subscribes to a subject filter over SSE and lists the newest messages first. */
function subjectTail(): { element: HTMLElement; stop(): void } {
  const MAX = 200;
  let feed: EventFeed | null = null;
  const rows = h('tbody');
  const state = h('span', { class: 'muted' }, 'stopped');
  const filter = h('input', { value: '>', 'aria-label': 'subject filter', class: 'mono', 'data-testid': 'tail-filter' });
  const button = h('button', { type: 'button' }, 'Subscribe');
  const stop = (): void => {
    feed?.stop();
    feed = null;
    button.textContent = 'Subscribe';
    replace(state, 'stopped');
  };
  button.addEventListener('click', () => {
    if (feed !== null) return stop();
    const f = filter.value.trim() || '>';
    replace(rows);
    replace(state, badge(`subscribed to ${f}`, 'ok'));
    button.textContent = 'Stop';
    feed = openEvents(
      `/api/subjects/${seg(f)}/events`,
      ['message'],
      (d) => {
        const m = d as MessageJson;
        rows.prepend(h('tr', {}, h('td', { class: 'nowrap muted small' }, formatTime(m.timestamp)), h('td', {}, h('code', {}, m.subject)), h('td', { class: 'mono preview' }, previewPayload(m.value, m.encoding))));
        while (rows.childElementCount > MAX) rows.lastElementChild?.remove();
      },
      () => {
        stop();
        replace(state, badge('subscription refused (bad filter or not available)', 'danger'));
      },
    );
  });
  const element = card(
    'Live subject tail',
    h(
      'div',
      {},
      h('div', { class: 'toolbar' }, field('Subject filter (wildcards * and >)', filter), button, state),
      h('div', { class: 'table-wrap tail-box' }, h('table', { 'data-testid': 'tail-table' }, h('thead', {}, h('tr', {}, h('th', {}, 'Time'), h('th', {}, 'Subject'), h('th', {}, 'Payload'))), rows)),
    ),
    { extra: h('span', { class: 'muted small' }, 'NATS, MQTT, AMQP amq.topic, Kafka and HTTP publishes') },
  );
  return { element, stop };
}
