/** The console's entry point: the navigation, the router and the session-wide stats feed. */
import { h, replace } from './element.js';
import { startRouter, type Route } from './router.js';
import { statsFeed } from './stats-feed.js';
import { overviewPage } from './pages/overview.js';
import { streamsPage } from './pages/streams.js';
import { streamDetailPage } from './pages/stream-detail.js';
import { queuesPage } from './pages/queues.js';
import { groupDetailPage, groupsPage } from './pages/groups.js';
import { connectionsPage } from './pages/connections.js';
import { get } from './api.js';
import type { StatusJson } from './types.js';

const NAV: Array<{ section: string; label: string; icon: string }> = [
  { section: 'overview', label: 'Overview', icon: '◔' },
  { section: 'streams', label: 'Streams', icon: '☰' },
  { section: 'queues', label: 'Queues', icon: '⇶' },
  { section: 'groups', label: 'Consumer groups', icon: '⛁' },
  { section: 'connections', label: 'Connections', icon: '⇄' },
];

const routes: Route[] = [
  { section: 'overview', list: overviewPage },
  { section: 'streams', list: streamsPage, detail: streamDetailPage },
  { section: 'queues', list: queuesPage },
  { section: 'groups', list: groupsPage, detail: groupDetailPage },
  { section: 'connections', list: connectionsPage },
];

function main(): void {
  const nav = document.getElementById('nav')!;
  const content = document.getElementById('main')!;
  const links = NAV.map((n) => h('a', { href: `#/${n.section}`, 'data-section': n.section, 'data-testid': `nav-${n.section}` }, h('span', { class: 'nav-icon', 'aria-hidden': 'true' }, n.icon), n.label));
  replace(nav, links);
  statsFeed.start();
  startRouter(routes, 'overview', content, (section) => {
    for (const a of links) {
      a.classList.toggle('active', a.dataset['section'] === section);
      if (a.dataset['section'] === section) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    document.title = `${NAV.find((n) => n.section === section)?.label ?? 'Console'} · Tributary`;
  });
  const version = document.getElementById('version');
  if (version !== null) {
    get<StatusJson>('/api/status')
      .then((s) => replace(version, `v${s.version}`))
      .catch(() => replace(version, ''));
  }
}

main();
