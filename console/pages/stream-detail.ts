/**
 * One stream: partitions with their offsets (polled), the message browser (partition, offset, paging; text,
 * pretty JSON or hex dump), a live tail from the end of a partition (SSE /api/streams/:name/events), and a
 * form to publish a test message to the stream's records or to any subject.
 */
import { api, get, seg } from '../api.js';
import { badge, card, field, fill, form, pageHeader, table, text, toast, type Page } from '../components.js';
import { h, replace } from '../element.js';
import { formatCount, formatTime } from '../format.js';
import { openEvents, poll, type EventFeed } from '../live.js';
import { previewPayload, renderPayload, type ViewMode } from '../payload-view.js';
import type { RecordJson, RecordPage, StreamDetail } from '../types.js';
import { navigate } from '../router.js';

const PAGE_SIZE = 20;

export const streamDetailPage: Page = (main, params) => {
  const name = params[0]!;
  const base = `/api/streams/${seg(name)}`;
  let detail: StreamDetail | null = null;

  const partitions = h('div', { 'data-testid': 'partitions' }, h('div', { class: 'empty' }, 'Loading…'));
  const configs = h('div');
  const configSummary = h('summary', {}, 'Show configuration');
  const browser = messageBrowser(name, () => detail);
  const deleteButton = h('button', { type: 'button', class: 'danger' }, 'Delete stream');
  deleteButton.addEventListener('click', () => {
    if (deleteButton.dataset['armed'] !== '1') {
      deleteButton.dataset['armed'] = '1';
      deleteButton.textContent = 'Click again to delete';
      return;
    }
    api('DELETE', base)
      .then(() => {
        toast(`Deleted stream ${name}`);
        navigate('#/streams');
      })
      .catch((err: unknown) => toast(err instanceof Error ? err.message : String(err), 'error'));
  });

  replace(
    main,
    pageHeader(name, 'Stream', h('a', { href: '#/streams', class: 'button' }, '← All streams'), deleteButton),
    h('div', { class: 'grid-main-side' }, card('Partitions', partitions), card('Publish a test message', publishForm(name, () => void refresh()))),
    browser.element,
    card('Configuration', h('details', { class: 'configs' }, configSummary, configs)),
  );

  const refresh = (): Promise<void> =>
    fill(partitions, 'Stream', async () => {
      detail = await get<StreamDetail>(base);
      const set = detail.configs.filter((c) => !c.isDefault).length;
      replace(configSummary, `${detail.configs.length} entries, ${set} set on this stream (the rest are broker defaults)`);
      browser.partitionsKnown(detail.partitions.length);
      replace(
        configs,
        table(
          [
            { title: 'Key', cell: (c) => h('code', {}, c.name) },
            { title: 'Value', cell: (c) => h('code', {}, c.value ?? '—') },
            { title: '', cell: (c) => (c.isDefault ? badge('default', 'muted') : badge('set', 'info')) },
          ],
          detail.configs,
          { empty: 'No configuration entries.' },
        ),
      );
      const d = detail;
      return h(
        'div',
        {},
        h('div', { class: 'facts-inline' }, badge(d.retention, 'info'), badge(d.storage, 'muted'), d.subjects.length > 0 ? h('span', {}, 'captures ', h('code', {}, d.subjects.join(', '))) : null),
        table(
          [
            { title: 'Partition', cell: (p) => p.partition, numeric: true },
            { title: 'Start offset', cell: (p) => formatCount(p.startOffset), numeric: true },
            { title: 'End offset', cell: (p) => formatCount(p.endOffset), numeric: true },
            { title: 'High watermark', cell: (p) => formatCount(p.highWatermark), numeric: true },
            { title: 'Messages', cell: (p) => formatCount(p.highWatermark - p.startOffset), numeric: true },
            { title: '', cell: (p) => h('button', { type: 'button', class: 'link', onclick: () => browser.show(p.partition, Math.max(p.startOffset, p.highWatermark - PAGE_SIZE)) }, 'Browse') },
          ],
          d.partitions,
          { testid: 'partitions-table' },
        ),
      );
    });
  const detailPoll = poll(refresh, 2000);

  return () => {
    detailPoll.stop();
    browser.stop();
  };
};

function publishForm(stream: string, onPublished: () => void): HTMLFormElement {
  const target = h('select', { name: 'target', 'data-testid': 'publish-target' }, h('option', { value: 'records' }, `Stream records (${stream})`), h('option', { value: 'subject' }, 'A subject (Router publish)'));
  const subjectField = field('Subject', h('input', { name: 'subject', value: stream, class: 'mono' }), 'reaches NATS/MQTT subscribers and capturing streams');
  const partitionField = field('Partition', h('input', { name: 'partition', type: 'number', min: 0, placeholder: 'by key / round robin' }));
  const sync = (): void => {
    const toSubject = target.value === 'subject';
    subjectField.hidden = !toSubject;
    partitionField.hidden = toSubject;
  };
  target.addEventListener('change', sync);
  sync();
  return form(
    'publish',
    [
      field('Target', target),
      subjectField,
      h('div', { class: 'row-2' }, partitionField, field('Key', h('input', { name: 'key', placeholder: 'optional', autocomplete: 'off' }))),
      field('Value', h('textarea', { name: 'value', rows: 4, class: 'mono', placeholder: '{"hello": "world"}', required: true })),
      h(
        'div',
        { class: 'row-2' },
        field('Encoding', h('select', { name: 'encoding' }, h('option', { value: 'text' }, 'text (sent as typed)'), h('option', { value: 'json' }, 'json (validated first)'))),
        field('Headers', h('input', { name: 'headers', placeholder: 'k=v, k2=v2', autocomplete: 'off' })),
      ),
    ],
    'Publish',
    async (data) => {
      const raw = data.get('value');
      const valueText = typeof raw === 'string' ? raw : '';
      const encoding = text(data, 'encoding');
      const body: { [k: string]: unknown } = { encoding, value: valueText };
      if (encoding === 'json') {
        try {
          body['value'] = JSON.parse(valueText);
        } catch {
          throw new Error('Value is not valid JSON (choose the text encoding to send it as typed).');
        }
      }
      const key = text(data, 'key');
      if (key !== '') body['key'] = key;
      const headers = text(data, 'headers');
      if (headers !== '') {
        body['headers'] = Object.fromEntries(
          headers.split(',').map((pair) => {
            const at = pair.indexOf('=');
            return at < 0 ? [pair.trim(), ''] : [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
          }),
        );
      }
      if (text(data, 'target') === 'subject') {
        const subject = text(data, 'subject');
        const r = await api<{ deliveries: number; stored: Array<{ partition: number; offset: number }> }>('POST', `/api/subjects/${seg(subject)}/publish`, body);
        onPublished();
        return `Published to ${subject}: ${r.deliveries} live deliveries, stored ${r.stored.length} time(s).`;
      }
      const partition = text(data, 'partition');
      if (partition !== '') body['partition'] = Number(partition);
      const r = await api<{ offsets: Array<{ partition: number; offset: number }> }>('POST', `/api/streams/${seg(stream)}/records`, body);
      onPublished();
      const o = r.offsets[0]!;
      return `Stored at partition ${o.partition}, offset ${o.offset}.`;
    },
  );
}

interface Browser {
  element: HTMLElement;
  partitionsKnown(count: number): void;
  show(partition: number, offset: number): void;
  stop(): void;
}

function messageBrowser(stream: string, detail: () => StreamDetail | null): Browser {
  const partitionSelect = h('select', { 'aria-label': 'partition', 'data-testid': 'browse-partition' }, h('option', { value: '0' }, '0'));
  const offsetInput = h('input', { type: 'number', min: 0, value: 0, 'aria-label': 'offset', 'data-testid': 'browse-offset', class: 'offset-input' });
  const modeSelect = h('select', { 'aria-label': 'view', 'data-testid': 'browse-mode' }, ...(['auto', 'text', 'json', 'hex'] as const).map((m) => h('option', { value: m }, m === 'auto' ? 'Auto' : m === 'json' ? 'Pretty JSON' : m === 'hex' ? 'Hex dump' : 'Text')));
  const results = h('div', { 'data-testid': 'browse-results' }, h('div', { class: 'empty' }, 'Pick a partition and offset, then Load.'));
  const pageInfo = h('span', { class: 'muted small', 'data-testid': 'browse-info' });
  const liveToggle = h('input', { type: 'checkbox', 'data-testid': 'live-toggle' });
  const liveState = h('span', { class: 'muted small' });
  let partitionCount = 1;
  let current: RecordPage | null = null;
  let live: EventFeed | null = null;

  const load = async (offset: number): Promise<void> => {
    const p = Number(partitionSelect.value);
    offsetInput.value = String(offset);
    await fill(results, 'Reading records', async () => {
      current = await get<RecordPage>(`/api/streams/${seg(stream)}/records?partition=${p}&offset=${offset}&limit=${PAGE_SIZE}`);
      const page = current;
      replace(pageInfo, page.records.length === 0 ? `No records from offset ${offset} (high watermark ${page.highWatermark}).` : `Offsets ${page.records[0]!.offset}–${page.records[page.records.length - 1]!.offset} of partition ${p} · high watermark ${page.highWatermark}`);
      return recordList(page.records, modeSelect.value as ViewMode);
    });
  };
  const startOffset = (): number => detail()?.partitions[Number(partitionSelect.value)]?.startOffset ?? 0;
  const hw = (): number => detail()?.partitions[Number(partitionSelect.value)]?.highWatermark ?? 0;

  const button = (label: string, testid: string, action: () => void): HTMLButtonElement => h('button', { type: 'button', 'data-testid': testid, onclick: action }, label);
  const toolbar = h(
    'div',
    { class: 'toolbar' },
    field('Partition', partitionSelect),
    field('Offset', offsetInput),
    button('Load', 'browse-load', () => void load(Math.max(0, Number(offsetInput.value) || 0))),
    h('span', { class: 'toolbar-sep' }),
    button('⇤ First', 'browse-first', () => void load(startOffset())),
    button('← Older', 'browse-prev', () => void load(Math.max(startOffset(), (current?.records[0]?.offset ?? Number(offsetInput.value)) - PAGE_SIZE))),
    button('Newer →', 'browse-next', () => void load(current?.nextOffset ?? Number(offsetInput.value))),
    button('Latest ⇥', 'browse-latest', () => void load(Math.max(startOffset(), hw() - PAGE_SIZE))),
    h('span', { class: 'toolbar-sep' }),
    field('View as', modeSelect),
    h('label', { class: 'check' }, liveToggle, ' Live tail'),
    liveState,
  );
  partitionSelect.addEventListener('change', () => void load(startOffset()));
  // Re-rendered in place, so records the user opened stay open.
  modeSelect.addEventListener('change', () => {
    for (const pre of element.querySelectorAll<HTMLElement>('pre.payload')) {
      const r = shownRecords.get(pre);
      if (r !== undefined) pre.textContent = renderPayload(r.value, r.encoding, modeSelect.value as ViewMode);
    }
  });

  const liveRows = h('div', { class: 'live-list', 'data-testid': 'live-list' });
  const stopLive = (): void => {
    live?.stop();
    live = null;
  };
  liveToggle.addEventListener('change', () => {
    stopLive();
    replace(liveRows);
    if (!liveToggle.checked) return replace(liveState);
    const p = Number(partitionSelect.value);
    replace(liveState, badge(`following partition ${p} from offset ${hw()}`, 'ok'));
    live = openEvents(
      `/api/streams/${seg(stream)}/events?partition=${p}&offset=${hw()}`,
      ['record'],
      (d) => {
        const r = d as RecordJson;
        liveRows.prepend(recordList([r], modeSelect.value as ViewMode));
        while (liveRows.childElementCount > 50) liveRows.lastElementChild?.remove();
      },
      () => {
        stopLive();
        liveToggle.checked = false;
        replace(liveState, badge('live tail not available', 'danger'));
      },
    );
  });

  const element = card('Message browser', h('div', {}, toolbar, pageInfo, liveRows, results), { testid: 'message-browser' });
  let loadedOnce = false;
  return {
    element,
    partitionsKnown(count: number): void {
      if (count !== partitionCount || partitionSelect.options.length !== count) {
        const selected = partitionSelect.value;
        partitionCount = count;
        replace(partitionSelect, Array.from({ length: count }, (_, i) => h('option', { value: i }, String(i))));
        partitionSelect.value = Number(selected) < count ? selected : '0';
      }
      if (!loadedOnce) {
        loadedOnce = true;
        void load(Math.max(startOffset(), hw() - PAGE_SIZE));
      }
    },
    show(partition: number, offset: number): void {
      partitionSelect.value = String(partition);
      void load(offset);
      element.scrollIntoView({ behavior: 'smooth', block: 'start' });
    },
    stop: stopLive,
  };
}

/** The record each payload element shows, to re-render it when the view mode changes. */
const shownRecords = new WeakMap<HTMLElement, RecordJson>();

/** Records as rows that expand to the full payload, key and headers. */
function recordList(records: RecordJson[], mode: ViewMode): HTMLElement {
  if (records.length === 0) return h('div', { class: 'empty' }, 'No records in this range.');
  return h(
    'div',
    { class: 'records' },
    records.map((r) => {
      const body = h('pre', { class: 'payload', 'data-testid': 'record-payload' }, renderPayload(r.value, r.encoding, mode));
      shownRecords.set(body, r);
      const details = h(
        'details',
        { class: 'record', 'data-offset': r.offset },
        h(
          'summary',
          {},
          h('span', { class: 'rec-offset' }, `#${r.offset}`),
          h('span', { class: 'rec-time' }, formatTime(r.timestamp)),
          r.key !== null ? h('span', { class: 'rec-key' }, 'key ', h('code', {}, previewPayload(r.key, r.keyEncoding, 40))) : null,
          r.encoding === 'base64' ? badge('binary', 'warn') : null,
          h('span', { class: 'rec-preview', 'data-testid': 'record-preview' }, previewPayload(r.value, r.encoding)),
        ),
        r.headers.length > 0 ? h('div', { class: 'rec-headers' }, r.headers.map((hd) => h('span', { class: 'header-chip' }, h('b', {}, hd.key), ' ', previewPayload(hd.value, hd.encoding, 60)))) : null,
        body,
      );
      return details;
    }),
  );
}

