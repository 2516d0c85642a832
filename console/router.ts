/**
 * Hash routing (`#/streams/orders`): the server serves one index.html and no fallback route, so every console
 * URL is `/` plus a fragment, and /api, /metrics and the rest stay the server's.
 */
import type { Page } from './components.js';

export interface Route {
  /** First path segment: `streams` for `#/streams/...`. */
  section: string;
  /** The page for `#/<section>` (no params) and, if given, for `#/<section>/<param>...`. */
  list: Page;
  detail?: Page;
}

export function navigate(hash: string): void {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

/** The section and decoded parameters of the current hash. */
export function currentPath(): { section: string; params: string[] } {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter((p) => p !== '');
  const section = parts[0] ?? '';
  return { section, params: parts.slice(1).map((p) => decodeURIComponent(p)) };
}

/** Renders the page of the current hash into `main`, stopping the previous page first. */
export function startRouter(routes: Route[], fallback: string, main: HTMLElement, onSection: (section: string) => void): void {
  let stopPage: (() => void) | null = null;
  const show = (): void => {
    const { section, params } = currentPath();
    const route = routes.find((r) => r.section === section);
    if (route === undefined) {
      location.replace(`#/${fallback}`);
      return;
    }
    stopPage?.();
    stopPage = null;
    window.scrollTo(0, 0);
    onSection(section);
    const page = params.length > 0 && route.detail !== undefined ? route.detail : route.list;
    stopPage = page(main, params);
  };
  window.addEventListener('hashchange', show);
  show();
}
