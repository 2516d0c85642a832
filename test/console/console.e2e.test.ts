/**
 * The web console end to end: the built `tributary serve` binary (which serves dist/console/ at `/`), Debian's
 * Chromium driven by playwright-core, and real clients for traffic. One browser for the file; every wait has a
 * timeout (the page's default, 15 s). Skipped only when /usr/bin/chromium is missing (CI installs it).
 *
 * TRIBUTARY_SCREENSHOTS=1 also writes docs/images/console-<page>.png after a few seconds of mixed traffic.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { EPHEMERAL, serveProcess, type Tributary } from '../support/tributary-process.js';
import { mixedTraffic, natsTraffic, type Traffic } from './traffic.js';

const CHROMIUM = '/usr/bin/chromium';
const WAIT_MS = 15_000;
const SHOTS = process.env['TRIBUTARY_SCREENSHOTS'] === '1';
const imagesDir = fileURLToPath(new URL('../../../docs/images/', import.meta.url));
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing: install Debian's chromium (CI does) to run the console tests`;

/** Chromium's own network features would try the (closed) internet; these keep it to the page. */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function within<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)));
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/**
 * How many pixel rows of a chart's canvas hold a pixel of one of `colors` (its series lines): a flat line at
 * zero covers a few rows, a line that rises with traffic covers many. Browser-side code is passed as a string:
 * this file compiles against Node's types, not the DOM's.
 */
function seriesRows(page: Page, testid: string, colors: Array<[number, number, number]>): Promise<number> {
  return page.evaluate(`(() => {
    const canvas = document.querySelector('[data-testid="${testid}"] canvas');
    if (canvas === null) return 0;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const rows = new Set();
    for (let i = 0; i < data.length; i += 4) {
      for (const [r, g, b] of ${JSON.stringify(colors)}) {
        if (Math.abs(data[i] - r) < 40 && Math.abs(data[i + 1] - g) < 40 && Math.abs(data[i + 2] - b) < 40 && data[i + 3] > 200) rows.add(Math.floor(i / 4 / canvas.width));
      }
    }
    return rows.size;
  })()`);
}

/** Waits until a chart has at least `points` points and, if `positive`, a value above zero. */
async function chartData(page: Page, testid: string, points: number, positive: boolean): Promise<void> {
  await page.waitForFunction(
    `(() => { const el = document.querySelector('[data-testid="${testid}"]');
      return el !== null && Number(el.dataset.points) >= ${points} && (${!positive} || Number(el.dataset.max) > 0); })()`,
    undefined,
    { timeout: WAIT_MS },
  );
}

describe('web console', { skip }, () => {
  let dir = '';
  let server: Tributary | undefined;
  let ports: { [protocol: string]: number } = {};
  let base = '';
  let context: BrowserContext | undefined;
  let page: Page;
  const errors: string[] = [];
  const traffic: Traffic[] = [];
  const consumers: Consumer[] = [];

  const api = async (method: string, path: string, body?: unknown): Promise<any> => {
    const res = await fetch(base + path, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: body === undefined ? {} : { 'content-type': 'application/json' }, signal: AbortSignal.timeout(WAIT_MS) });
    const text = await res.text();
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
    return text === '' ? undefined : JSON.parse(text);
  };

  const go = async (section: string, heading: string): Promise<void> => {
    await page.getByTestId(`nav-${section}`).click();
    await page.waitForURL(`**/#/${section}`);
    await page.locator('h1', { hasText: heading }).waitFor();
  };

  /** Fills the named controls of the form `testid` (select or type by the element's kind) and submits it. */
  const submitForm = async (testid: string, values: { [name: string]: string }, button: string): Promise<void> => {
    const form = page.getByTestId(testid);
    for (const [name, value] of Object.entries(values)) {
      const control = form.locator(`[name="${name}"]`);
      if ((await control.evaluate((el) => el.tagName)) === 'SELECT') await control.selectOption(value);
      else await control.fill(value);
    }
    await form.getByRole('button', { name: button }).click();
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tributary-console-'));
    server = serveProcess(dir, ['--data-dir', join(dir, 'data'), ...EPHEMERAL]);
    ports = await server.ports();
    base = `http://127.0.0.1:${ports['http']}`;
    context = await chromium.launchPersistentContext(join(dir, 'chromium'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1440, height: 900 },
      timeout: 30_000,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(WAIT_MS);
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  });

  after(async () => {
    for (const t of traffic) await t.stop();
    for (const c of consumers) await c.disconnect().catch(() => undefined);
    await context?.close();
    if (server !== undefined) {
      server.kill('SIGTERM');
      await server.waitForExit().catch(() => server!.kill('SIGKILL'));
    }
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  test('the console loads at / with its navigation, live stats and no console errors', async () => {
    await page.goto(base + '/');
    await page.waitForURL('**/#/overview');
    await page.locator('h1', { hasText: 'Overview' }).waitFor();
    assert.deepEqual(await page.locator('#nav a').allTextContents(), ['◔Overview', '☰Streams', '⇶Queues', '⛁Consumer groups', '⇄Connections']);
    await page.getByTestId('stats-state').filter({ hasText: 'live' }).waitFor();
    // The page's own server information arrived through /api/status.
    await page.locator('.facts dt', { hasText: 'Version' }).waitFor();
    assert.deepEqual(errors, []);
  });

  test('the console takes only its own files: the API, health, metrics and OpenAPI answer as before', async () => {
    const get = (path: string): Promise<Response> => fetch(base + path, { signal: AbortSignal.timeout(WAIT_MS) });
    const unknown = await get('/api/no-such-route');
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'TRIB_HTTP_ROUTE_NOT_FOUND');
    for (const path of ['/healthz', '/metrics', '/openapi.json', '/api/streams']) assert.equal((await get(path)).status, 200, path);
    const index = await get('/');
    assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await index.text(), /<script type="module" src="app.js">/);
    assert.equal((await get('/uPlot.iife.min.js')).status, 200);
  });

  test('a stream is created through the form', async () => {
    await go('streams', 'Streams');
    await submitForm('create-stream', { name: 'orders', partitions: '3', retention: 'limits', retentionHours: '48' }, 'Create stream');
    await page.getByTestId('create-stream-status').filter({ hasText: 'Created orders with 3 partition(s).' }).waitFor();
    await page.getByTestId('streams-table').getByRole('link', { name: 'orders', exact: true }).waitFor();
    const stream = await api('GET', '/api/streams/orders');
    assert.equal(stream.partitions.length, 3);
    assert.equal(stream.configs.find((c: { name: string }) => c.name === 'retention.ms').value, String(48 * 3_600_000));
  });

  test('a message published through the form is seen in the message browser', async () => {
    await page.getByTestId('streams-table').getByRole('link', { name: 'orders', exact: true }).click();
    await page.waitForURL('**/#/streams/orders');
    await page.getByTestId('partitions-table').waitFor();
    await submitForm('publish', { partition: '2', key: 'customer-42', encoding: 'json', value: '{"id":42,"item":"book","tags":["gift"]}' }, 'Publish');
    await page.getByTestId('publish-status').filter({ hasText: 'Stored at partition 2, offset 0.' }).waitFor();

    await page.getByTestId('browse-partition').selectOption('2');
    await page.getByTestId('browse-latest').click();
    const record = page.locator('details.record[data-offset="0"]');
    await record.getByTestId('record-preview').filter({ hasText: '{"id":42,"item":"book","tags":["gift"]}' }).waitFor();
    assert.match(await record.locator('.rec-key').innerText(), /customer-42/);
    await record.locator('summary').click();
    // Pretty JSON by default (Auto), a hex dump on request.
    assert.equal(await record.getByTestId('record-payload').innerText(), JSON.stringify({ id: 42, item: 'book', tags: ['gift'] }, null, 2));
    await page.getByTestId('browse-mode').selectOption('hex');
    await page.locator('details.record[data-offset="0"] [data-testid="record-payload"]').filter({ hasText: /^00000000  7b 22 69 64 22 3a 34 32/ }).waitFor();
    await page.getByTestId('browse-mode').selectOption('auto');

    // Live tail (SSE /api/streams/:name/events) from the end of partition 2.
    await page.getByTestId('live-toggle').check();
    await page.getByText('following partition 2 from offset 1').waitFor();
    await api('POST', '/api/streams/orders/records', { partition: 2, value: 'appended while watching', encoding: 'text' });
    await page.getByTestId('live-list').getByTestId('record-preview').filter({ hasText: 'appended while watching' }).waitFor();
    await page.getByTestId('live-toggle').uncheck();

    // The same form publishes to a subject through the Router.
    await submitForm('publish', { target: 'subject', subject: 'sensors.test', encoding: 'text', value: 'plain text' }, 'Publish');
    await page.getByTestId('publish-status').filter({ hasText: /^Published to sensors\.test: \d+ live deliveries/ }).waitFor();
  });

  test('the overview charts message rates after some traffic', async () => {
    const nats = await natsTraffic(ports['nats']!, 20);
    traffic.push(nats);
    await go('overview', 'Overview');
    await chartData(page, 'chart-messages', 2, true);
    // The "in" (#2563eb) and "out" (#16a34a) lines rise on the canvas (equal rates overlap, so either counts).
    await within(
      (async () => {
        while ((await seriesRows(page, 'chart-messages', [[37, 99, 235], [22, 163, 74]])) < 20) await page.waitForTimeout(250);
      })(),
      'the messages-in line on the canvas',
    );
    await page.locator('[data-testid="connections-by-protocol"] [data-protocol="nats"]').filter({ hasText: /^[1-9]/ }).waitFor();
    assert.notEqual(await page.getByTestId('tile-in').locator('.tile-value').innerText(), '');
  });

  test('the live subject tail shows what NATS clients publish', async () => {
    await go('streams', 'Streams');
    await page.getByTestId('tail-filter').fill('sensors.*');
    await page.getByRole('button', { name: 'Subscribe' }).click();
    await page.getByTestId('tail-table').locator('tbody tr', { hasText: 'sensors.temp' }).first().waitFor();
    assert.match(await page.getByTestId('tail-table').locator('tbody tr').first().innerText(), /"sensor":"s-\d"/);
    await page.getByRole('button', { name: 'Stop' }).click();
  });

  test('a queue is created through the form and listed', async () => {
    await go('queues', 'Queues');
    await submitForm('create-queue', { name: 'jobs', arguments: '{"x-max-length": 1000}' }, 'Create queue');
    await page.getByTestId('create-queue-status').filter({ hasText: 'Created queue jobs.' }).waitFor();
    await page.getByTestId('queues-table').getByText('jobs', { exact: true }).waitFor();
    const q = await api('GET', '/api/queues/jobs');
    assert.equal(q.arguments['x-max-length'], 1000);
  });

  test('consumer groups show members and lag', async () => {
    const kafka = new Kafka({ clientId: 'console-e2e', brokers: [`127.0.0.1:${ports['kafka']}`], logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: 'audit', sessionTimeout: 10_000, heartbeatInterval: 1000 });
    consumers.push(consumer);
    await within(consumer.connect(), 'kafka consumer connect');
    await within(consumer.subscribe({ topic: 'orders', fromBeginning: true }), 'kafka subscribe');
    let seen!: () => void;
    const consumed = new Promise<void>((resolve) => (seen = resolve));
    await within(consumer.run({ eachMessage: async () => seen() }), 'kafka consumer run');
    await within(consumed, 'the consumer group reading the record');
    await go('groups', 'Consumer groups');
    await page.getByTestId('groups-table').getByText('audit', { exact: true }).click();
    await page.waitForURL('**/#/groups/audit');
    const member = page.getByTestId('members-table').locator('tbody tr', { hasText: 'orders' });
    await member.waitFor();
    assert.match(await member.innerText(), /console-e2e/);
    assert.match(await member.innerText(), /\[0, 1, 2\]/);
    await page.getByTestId('offsets-table').waitFor();
    await chartData(page, 'chart-lag', 1, false);
  });

  test('connections are listed per protocol and the close button closes one', async () => {
    const nats = await natsTraffic(ports['nats']!, 0);
    traffic.push(nats);
    const closed = nats.nc.closed();
    await go('connections', 'Connections');
    const natsCard = page.getByTestId('protocol-nats');
    await natsCard.waitFor();
    const rows = natsCard.locator('tbody tr', { hasText: 'console-e2e' });
    await within((async () => { while ((await rows.count()) < 2) await page.waitForTimeout(200); })(), 'two NATS connections listed');
    await rows.last().getByRole('button', { name: 'Close' }).click();
    await within(closed, 'the NATS client sees its connection closed');
    await page.getByTestId('protocol-kafka').waitFor();
  });

  test('every page is reachable from the navigation without console errors', async () => {
    for (const [section, heading] of [['overview', 'Overview'], ['streams', 'Streams'], ['queues', 'Queues'], ['groups', 'Consumer groups'], ['connections', 'Connections']] as const) {
      await go(section, heading);
      assert.equal(await page.getByTestId('not-available').count(), 0, `${section}: every route the page needs exists`);
      assert.equal(await page.locator('.notice-error').count(), 0, `${section}: no failed request`);
    }
    assert.deepEqual(errors, []);
  });

  test('a route the server lacks shows "not available" rather than breaking the page', async () => {
    // A second tab whose requests for the stats and groups routes answer as a server without them would.
    const tab = await context!.newPage();
    tab.setDefaultTimeout(WAIT_MS);
    const missing = JSON.stringify({ error: { code: 'TRIB_HTTP_ROUTE_NOT_FOUND', message: 'no route' } });
    for (const pattern of ['**/api/stats', '**/api/stats/events', '**/api/groups']) {
      await tab.route(pattern, (route) => route.fulfill({ status: 404, contentType: 'application/json', body: missing }));
    }
    const uncaught: string[] = [];
    tab.on('pageerror', (e) => uncaught.push(e.message));
    try {
      await tab.goto(base + '/#/overview');
      await tab.getByTestId('stats-state').filter({ hasText: 'stats not available' }).waitFor();
      await tab.getByTestId('not-available').filter({ hasText: 'Statistics: not available' }).waitFor();
      // The rest of the page still works.
      await tab.locator('.facts dt', { hasText: 'Version' }).waitFor();
      await tab.getByTestId('nav-groups').click();
      await tab.getByTestId('not-available').filter({ hasText: 'Consumer groups: not available' }).waitFor();
      await tab.getByTestId('nav-streams').click();
      await tab.getByTestId('streams-table').getByRole('link', { name: 'orders', exact: true }).waitFor();
      assert.deepEqual(uncaught, []);
    } finally {
      await tab.close();
    }
  });

  test('screenshots (TRIBUTARY_SCREENSHOTS=1)', { skip: SHOTS ? false : 'set TRIBUTARY_SCREENSHOTS=1 to write docs/images/console-*.png' }, async () => {
    traffic.push(await mixedTraffic(ports, 'orders'));
    await api('POST', '/api/streams', { name: 'telemetry', partitions: 1, retention: 'compact' });
    await api('POST', '/api/streams/telemetry/records', { records: [{ key: 'fw', value: 'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAAKklEQVR4nGNgGAWjYBSMglEwCkbBKBgF', encoding: 'base64' }] });
    // Long enough for the rate charts to show a history and the group to build up lag.
    await page.waitForTimeout(12_000);
    const shot = async (name: string): Promise<void> => {
      await page.waitForTimeout(1500);
      await page.screenshot({ path: join(imagesDir, `console-${name}.png`), fullPage: true });
    };
    await go('overview', 'Overview');
    await shot('overview');
    await go('streams', 'Streams');
    await page.getByTestId('tail-filter').fill('sensors.>');
    await page.getByRole('button', { name: 'Subscribe' }).click();
    await shot('streams');
    await page.getByTestId('streams-table').getByRole('link', { name: 'orders', exact: true }).click();
    await page.getByTestId('partitions-table').waitFor();
    await page.getByTestId('browse-partition').selectOption('2');
    await page.getByTestId('browse-first').click();
    await page.locator('details.record[data-offset="0"] summary').click();
    await shot('stream');
    await go('queues', 'Queues');
    // Rates need two polls (2 s apart) and the trend line a few.
    await page.waitForTimeout(6000);
    await shot('queues');
    await go('groups', 'Consumer groups');
    await page.getByTestId('groups-table').getByText('billing', { exact: true }).click();
    await page.getByTestId('members-table').waitFor();
    await page.waitForTimeout(6000);
    await shot('group');
    await go('groups', 'Consumer groups');
    await shot('groups');
    await go('connections', 'Connections');
    await shot('connections');
    assert.deepEqual(errors, []);
  });
});
