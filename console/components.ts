/** The console's building blocks: cards, tables, stat tiles, forms, notices and toasts. */
import { ApiError } from './api.js';
import { h, replace, type Child } from './element.js';

/** A page renders into `main` and returns what stops its feeds when it is left. */
export type Page = (main: HTMLElement, params: string[]) => () => void;

export function pageHeader(title: string, subtitle: string, ...actions: Child[]): HTMLElement {
  return h('header', { class: 'page-header' }, h('div', {}, h('h1', {}, title), h('p', { class: 'subtitle' }, subtitle)), h('div', { class: 'actions' }, ...actions));
}

export function card(title: Child, body: Child, opts: { class?: string; extra?: Child; testid?: string } = {}): HTMLElement {
  return h(
    'section',
    { class: `card ${opts.class ?? ''}`, 'data-testid': opts.testid },
    h('div', { class: 'card-head' }, h('h2', {}, title), opts.extra ?? null),
    h('div', { class: 'card-body' }, body),
  );
}

export function tile(label: string, value: Child, hint?: Child, testid?: string): HTMLElement {
  return h('div', { class: 'tile', 'data-testid': testid }, h('div', { class: 'tile-label' }, label), h('div', { class: 'tile-value' }, value), hint ? h('div', { class: 'tile-hint' }, hint) : null);
}

export interface Column<T> {
  title: string;
  cell: (row: T) => Child;
  numeric?: boolean;
}

export function table<T>(columns: Column<T>[], rows: T[], opts: { empty?: string; onRow?: (row: T) => void; testid?: string } = {}): HTMLElement {
  if (rows.length === 0) return h('div', { class: 'empty', 'data-testid': opts.testid }, opts.empty ?? 'Nothing here yet.');
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { 'data-testid': opts.testid },
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.numeric ? 'num' : undefined }, c.title)))),
      h(
        'tbody',
        {},
        rows.map((r) =>
          h(
            'tr',
            { class: opts.onRow ? 'clickable' : undefined, onclick: opts.onRow ? () => opts.onRow!(r) : undefined },
            columns.map((c) => h('td', { class: c.numeric ? 'num' : undefined }, c.cell(r))),
          ),
        ),
      ),
    ),
  );
}

export function badge(text: string, kind: 'ok' | 'warn' | 'muted' | 'info' | 'danger' = 'muted'): HTMLElement {
  return h('span', { class: `badge badge-${kind}` }, text);
}

/** The state shown where a route this page needs is missing on the server, or a request failed. */
export function problem(err: unknown, what: string): HTMLElement {
  if (err instanceof ApiError && err.notAvailable) {
    return h('div', { class: 'notice notice-muted', 'data-testid': 'not-available' }, h('strong', {}, `${what}: not available`), h('span', {}, ' — this server does not offer the route yet.'));
  }
  const message = err instanceof Error ? err.message : String(err);
  return h('div', { class: 'notice notice-error' }, h('strong', {}, `${what} failed: `), message);
}

/**
 * Renders `load()`'s result into `slot`, or the problem. A transient failure (no answer, or a 5xx while the
 * server restarts) keeps the last good view; an answer such as 404 (the stream was deleted) replaces it.
 */
export async function fill(slot: HTMLElement, what: string, load: () => Promise<Child>): Promise<void> {
  try {
    replace(slot, await load());
  } catch (err) {
    const transient = err instanceof ApiError && (err.status === 0 || err.status >= 500);
    if (transient && slot.dataset['loaded'] === '1') return;
    replace(slot, problem(err, what));
    return;
  }
  slot.dataset['loaded'] = '1';
}

export function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), control, hint ? h('span', { class: 'field-hint' }, hint) : null);
}

/** A form whose submit runs `onSubmit` with the button disabled, showing its error under the form. */
export function form(testid: string, fields: Child, submitLabel: string, onSubmit: (data: FormData) => Promise<string | void>): HTMLFormElement {
  const status = h('div', { class: 'form-status', 'data-testid': `${testid}-status` });
  const button = h('button', { type: 'submit', class: 'primary' }, submitLabel);
  const f = h('form', { class: 'form', 'data-testid': testid }, h('div', { class: 'form-fields' }, fields), h('div', { class: 'form-actions' }, button, status));
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    button.disabled = true;
    replace(status);
    status.className = 'form-status';
    onSubmit(new FormData(f))
      .then((message) => {
        status.className = 'form-status ok';
        replace(status, message ?? 'Done.');
      })
      .catch((err: unknown) => {
        status.className = 'form-status error';
        replace(status, err instanceof ApiError && err.notAvailable ? 'Not available on this server.' : err instanceof Error ? err.message : String(err));
      })
      .finally(() => (button.disabled = false));
  });
  return f;
}

export function toast(message: string, kind: 'ok' | 'error' = 'ok'): void {
  let host = document.getElementById('toasts');
  if (host === null) {
    host = h('div', { id: 'toasts' });
    document.body.appendChild(host);
  }
  const t = h('div', { class: `toast toast-${kind}` }, message);
  host.appendChild(t);
  window.setTimeout(() => t.remove(), 4000);
}

export function text(data: FormData, name: string): string {
  const v = data.get(name);
  return typeof v === 'string' ? v.trim() : '';
}
