// The status page in a real browser (Debian's Chromium, headless): the
// numbers on the page follow the agent's counters without a reload, the page
// says when /status stops answering and recovers, the CSP lets its own
// script run and nothing else is loaded, and with JavaScript off the same
// numbers are there as plain tables. Screenshots (light, dark, phone) are
// saved under a temporary directory, kept with PATHGUARD_KEEP_SCREENSHOTS=1.
//
// Here the page is served by a StatusServer with a provider whose counters
// the test changes, so every state (failing /status, large histories) can be
// shown; test/integration/agent/agent.test.ts loads the same page from a
// running `pathguard agent` and follows its /metrics under real traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { labUnavailable, waitFor } from '../../harness/netns.js';
import { createMetrics } from '../../../src/obs/metrics.js';
import { StatusServer } from '../../../src/obs/http.js';
import { StatusHistory } from '../../../src/status/history.js';
import { mountStatusPage } from '../../../src/status/page.js';
import type { StatusDocument } from '../../../src/status/model.js';
import { healthyDoc, type RelayFigures } from '../../harness/status-samples.js';
import { browserUnavailable, openBrowser } from './helpers/browser.js';

const skip = labUnavailable() ?? browserUnavailable();

interface Served {
  readonly url: string;
  figures: RelayFigures;
  failing: boolean;
  close(): Promise<void>;
}

/** A StatusServer with the page mounted; its document follows `figures` and a history sampled on every change. */
async function servePage(): Promise<Served> {
  const metrics = createMetrics({ processMetrics: false });
  const server = new StatusServer({ listen: { host: '127.0.0.1', port: 0 }, registry: metrics.registry });
  const history = new StatusHistory({ intervalMs: 5000 });
  const started = Date.now() - 3_700_000;
  const served: Served = {
    url: '',
    figures: { received: 1200, relayed: 1150, rejected: { 'not-too-big': 40, 'vip-mismatch': 10 } },
    failing: false,
    close: () => server.close(),
  };
  // 15 minutes of history leading up to the first figures (20/s received, bursts of rejections),
  // so the charts have something to draw; then one sample per poll.
  const t0 = Date.now() - 180 * 5000;
  let rejectedSoFar = 0;
  for (let i = 0; i < 180; i++) {
    rejectedSoFar += i % 40 < 5 ? 100 : 10;
    history.record(t0 + i * 5000, { 'relay.received': 1200 - (180 - i) * 100, 'relay.relayed': 1150 - (180 - i) * 90, 'relay.rejected': 50 - 4050 + rejectedSoFar });
  }
  const provider = (): StatusDocument => {
    if (served.failing) throw new Error('component snapshot failed');
    const f = served.figures;
    const rejected = Object.values(f.rejected).reduce((a, b) => a + b, 0);
    history.record(Date.now(), { 'relay.received': f.received, 'relay.relayed': f.relayed, 'relay.rejected': rejected });
    return healthyDoc({ now: new Date().toISOString(), startedAt: new Date(started).toISOString(), history: history.snapshot() }, f);
  };
  mountStatusPage(server, provider);
  const { port } = await server.start();
  return Object.assign(served, { url: `http://127.0.0.1:${port}/` });
}

const counter = (page: Page, key: string) => page.locator(`[data-k="${key}"]`).first().textContent();

/**
 * Polls an element's text from the test side. Not page.waitForFunction: a
 * string expression is eval() inside the page, which the page's CSP forbids
 * (as it should), and this program is compiled without the DOM's types.
 */
async function waitForText(page: Page, selector: string, ok: (text: string) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  let last: string | null = null;
  try {
    await waitFor(async () => ok((last = await page.locator(selector).first().textContent({ timeout: 1000 })) ?? ''), timeoutMs);
  } catch (err) {
    throw new Error(`${what}: ${selector} still reads ${JSON.stringify(last)} (${(err as Error).message})`);
  }
}

const waitForCounter = (page: Page, key: string, value: string) => waitForText(page, `[data-k="${key}"]`, (t) => t === value, `counter ${key} = ${value}`);

/** Reads a value computed in the page (a function, so it runs under the CSP without eval). */
function inPage<T>(page: Page, fn: () => T): Promise<T> {
  return page.evaluate(fn);
}
type Doc = { body: unknown; documentElement: { scrollWidth: number; clientWidth: number } };
declare const getComputedStyle: (e: unknown) => { backgroundColor: string };

test('the page follows the counters live, reports a failing /status and recovers; JS off shows the plain tables', { skip, timeout: 120_000 }, async (t) => {
  const shots = mkdtempSync(join(tmpdir(), 'pgt-status-page-'));
  const served = await servePage();
  try {
    // ---- JavaScript on, light, desktop
    const light = await openBrowser({ colorScheme: 'light' });
    try {
      const page = await light.context.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(e.message));
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));

      const res = await page.goto(served.url);
      assert.equal(res?.status(), 200);
      assert.equal(await counter(page, 'relay.received'), '1200');
      assert.equal(await counter(page, 'relay.rejected'), '50');
      await waitForText(page, '#pg-live', (t) => t === 'live, every 2 s', 'the live indicator', 5000);

      // the counters change; the page shows the new values without a reload
      served.figures = { received: 5321, relayed: 5200, rejected: { 'not-too-big': 40, 'vip-mismatch': 10, 'ttl-expired': 77 }, sendErrors: 9 };
      await waitForCounter(page, 'relay.received', '5321');
      assert.equal(await counter(page, 'relay.relayed'), '5200');
      assert.equal(await counter(page, 'relay.rejected'), '127');
      assert.equal(await counter(page, 'relay.rejected.ttl-expired'), '77');
      assert.equal(await counter(page, 'relay.peer.1.sendErrors'), '9');
      const order = await page.locator('[data-k^="relay.rejected."]').evaluateAll((els) => els.map((e) => e.getAttribute('data-k')));
      assert.deepEqual(order, ['relay.rejected.ttl-expired', 'relay.rejected.not-too-big', 'relay.rejected.vip-mismatch'], 'largest first');
      assert.equal(await page.locator('figure.chart svg path').count(), 3, 'three rate charts drawn');

      // /status fails: the page says so and keeps the last numbers; then it recovers
      served.failing = true;
      await waitForText(page, '#pg-live', (t) => t.startsWith('live updates paused: /status answered HTTP 500'), 'the paused indicator');
      assert.equal(await counter(page, 'relay.received'), '5321');
      served.failing = false;
      served.figures = { ...served.figures, received: 6000 };
      await waitForCounter(page, 'relay.received', '6000');

      await page.screenshot({ path: join(shots, 'light.png'), fullPage: true });
      const onlyOwn = requests.filter((u) => !u.startsWith(served.url));
      assert.deepEqual(onlyOwn, [], 'no request leaves the agent');
      // The failing /status above is the one expected console error (the browser logs the 500).
      assert.deepEqual(problems.filter((p) => !/status of 500/.test(p)), [], 'no script error, no CSP violation');
    } finally {
      await light.close();
    }

    // ---- dark mode and a phone-sized screen
    const dark = await openBrowser({ colorScheme: 'dark', viewport: { width: 390, height: 844 } });
    try {
      const page = await dark.context.newPage();
      await page.goto(served.url);
      const bg = await inPage(page, () => getComputedStyle((globalThis as unknown as { document: Doc }).document.body).backgroundColor);
      assert.equal(bg, 'rgb(13, 17, 23)', 'dark background from prefers-color-scheme');
      const overflow = await inPage(page, () => {
        const d = (globalThis as unknown as { document: Doc }).document.documentElement;
        return d.scrollWidth - d.clientWidth;
      });
      assert.ok(overflow <= 0, `no horizontal scrolling on a phone (page is ${overflow}px too wide)`);
      await page.screenshot({ path: join(shots, 'dark-phone.png'), fullPage: true });
    } finally {
      await dark.close();
    }

    // ---- JavaScript off: the same numbers as plain tables, and it says it is a snapshot
    const nojs = await openBrowser({ javaScriptEnabled: false });
    try {
      const page = await nojs.context.newPage();
      served.figures = { ...served.figures, received: 7007 };
      await page.goto(served.url);
      assert.equal(await counter(page, 'relay.received'), '7007');
      assert.equal(await counter(page, 'relay.rejected.ttl-expired'), '77');
      assert.equal(await counter(page, 'routes.rules'), '4');
      assert.equal(await counter(page, 'uplink.eth0.mtu'), '9000');
      assert.equal(await page.locator('table').count() >= 6, true, 'components, relay, reasons, limits, peers, routes, problems, uplinks');
      assert.match((await page.locator('header').innerText()).replace(/\s+/g, ' '), /JavaScript is off: this is a snapshot, reload to refresh\./);
      assert.equal(await page.locator('#pg-live').textContent(), '', 'no script ran');
      await page.screenshot({ path: join(shots, 'no-js.png'), fullPage: true });
    } finally {
      await nojs.close();
    }
    for (const f of ['light.png', 'dark-phone.png', 'no-js.png']) assert.ok(statSync(join(shots, f)).size > 10_000, f);
    t.diagnostic(`screenshots in ${shots}${process.env['PATHGUARD_KEEP_SCREENSHOTS'] === '1' ? '' : ' (removed; PATHGUARD_KEEP_SCREENSHOTS=1 keeps them)'}`);
  } finally {
    await served.close();
    if (process.env['PATHGUARD_KEEP_SCREENSHOTS'] !== '1') rmSync(shots, { recursive: true, force: true });
  }
});
