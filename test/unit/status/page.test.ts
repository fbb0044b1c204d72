// The status page rendered on the server: complete tables without
// JavaScript, hostile strings escaped, a script that parses and is allowed by
// the page's own Content-Security-Policy, and the /status and / routes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Script } from 'node:vm';
import { createMetrics } from '../../../src/obs/metrics.js';
import { StatusServer } from '../../../src/obs/http.js';
import { mountStatusPage, renderStatusPage } from '../../../src/status/page.js';
import type { HistorySample, StatusDocument } from '../../../src/status/model.js';
import { emptyDoc, failedDoc, healthyDoc, T0 } from '../../harness/status-samples.js';

/** The text of the element carrying data-k="key". */
function counterText(html: string, key: string): string | undefined {
  const m = new RegExp(`data-k="${key.replace(/[.]/g, '\\.')}">([^<]*)<`).exec(html);
  return m?.[1];
}

/** Inner text of the script element. */
function scriptOf(html: string): string {
  const m = /<script>([\s\S]*)<\/script>/.exec(html);
  assert.ok(m, 'the page has one inline script');
  return m[1]!;
}

test('a healthy node: counters, charts, rejections by reason, peers, routes and uplinks are all in the plain HTML', () => {
  const { html } = renderStatusPage(healthyDoc());
  assert.equal(counterText(html, 'relay.received'), '1200');
  assert.equal(counterText(html, 'relay.relayed'), '1150');
  assert.equal(counterText(html, 'relay.rejected'), '50', 'total of the reasons');
  assert.equal(counterText(html, 'relay.rejected.not-too-big'), '40');
  assert.equal(counterText(html, 'relay.rejected.vip-mismatch'), '10');
  assert.equal(counterText(html, 'relay.rateLimited.per-source'), '7');
  assert.equal(counterText(html, 'routes.rules'), '4');
  assert.equal(counterText(html, 'routes.table'), '200');
  assert.equal(counterText(html, 'uplink.eth0.mtu'), '9000');
  assert.match(html, /<span class="b warn">partial<\/span> <time[^>]*>42 s ago<\/time>, took 17 ms/);
  assert.match(html, /no IPv6 peer on this node/);
  assert.match(html, /02:00:00:00:00:12/);
  assert.match(html, /pathguard 0\.1\.0, up 3 h 5 min/);
  // rejections sorted largest first
  assert.ok(html.indexOf('data-k="relay.rejected.not-too-big"') < html.indexOf('data-k="relay.rejected.vip-mismatch"'));
  // three charts with a rate computed from the history (20/s received, 18/s relayed, 2/s rejected)
  for (const [series, rate] of [['relay.received', '20'], ['relay.relayed', '18'], ['relay.rejected', '2.0']] as const) {
    const fig = new RegExp(`<figure class="chart" data-series="${series.replace('.', '\\.')}">[\\s\\S]*?</figure>`).exec(html);
    assert.ok(fig, series);
    assert.match(fig[0], new RegExp(`<strong class="rate">${rate.replace('.', '\\.')}/s</strong>`), series);
    assert.match(fig[0], /<path d="M[\d. L]+"/);
  }
  assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
  assert.match(html, /prefers-color-scheme:dark/);
});

test('self-contained: no external URL of any kind', () => {
  const { html } = renderStatusPage(healthyDoc());
  assert.doesNotMatch(html, /\b(src|href)="(?!#|data:)/, 'only fragment and data: references');
  assert.doesNotMatch(html, /https?:\/\//);
  assert.doesNotMatch(html, /@import|url\(/);
});

test('a failed component shows its state and every problem; the doctor and an unknown component render', () => {
  const doc = failedDoc();
  const extra: StatusDocument = {
    ...doc,
    components: [...doc.components, { name: 'realserver', state: 'stopped', ready: false, live: true, problems: [], status: { decap: 'ipip0', vips: 3, nested: { a: [1, 2] } } }],
  };
  const { html } = renderStatusPage(extra);
  assert.match(html, /<span class="b bad">unhealthy<\/span>/);
  assert.match(html, /<a href="#c-relay">relay<\/a><\/td><td><span class="b bad">failed<\/span>/);
  assert.match(html, /<li>capture loop stalled for 12 s<\/li><li>nft apply failed: Operation not permitted<\/li>/);
  assert.match(html, /<span class="b bad">error<\/span><\/td><td><code>rp-filter-all<\/code><\/td><td>conf\/all\/rp_filter is 1/);
  assert.match(html, /<th scope="row">decap<\/th><td>ipip0<\/td>/);
  assert.match(html, /<th scope="row">nested<\/th><td><code class="json">\{&#34;a&#34;:\[1,2\]\}<\/code>/);
  assert.match(html, /<span class="b muted">stopped<\/span>/);
});

test('a node that just started: empty history says "no data yet", empty lists say so, nothing throws', () => {
  const { html } = renderStatusPage(emptyDoc());
  const main = (h: string) => h.slice(h.indexOf('<main'), h.indexOf('</main>'));
  assert.equal((main(html).match(/no data yet/g) ?? []).length, 3);
  assert.match(html, /No peers: this node relays to nobody\./);
  assert.match(html, /No uplinks known\./);
  assert.match(html, /<span class="b warn">starting<\/span>/);
  assert.match(html, /up 2 s/);
  // a single sample has no delta yet either
  const one = renderStatusPage({ ...emptyDoc(), history: { intervalMs: 5000, samples: [{ t: T0, series: { 'relay.received': 5 } }] } });
  assert.equal((main(one.html).match(/no data yet/g) ?? []).length, 3);
});

test('a counter that went down (restart) or a missing sample breaks the line instead of inventing a rate', () => {
  const samples: HistorySample[] = [
    { t: T0 - 15_000, series: { 'relay.received': 100 } },
    { t: T0 - 10_000, series: { 'relay.received': 150 } }, // 10/s
    { t: T0 - 5_000, series: { 'relay.received': 20 } }, // restart: no rate
    { t: T0, series: {} }, // not reported: no rate
  ];
  const { html } = renderStatusPage({ ...healthyDoc(), history: { intervalMs: 5000, samples } });
  const fig = /<figure class="chart" data-series="relay\.received">[\s\S]*?<\/figure>/.exec(html)![0];
  assert.match(fig, /<strong class="rate">10\/s<\/strong> <span class="muted">peak 10\/s<\/span>/);
  assert.equal((fig.match(/M/g) ?? []).length, 1, 'one point, one segment start');
});

test('hostile strings from outside are escaped everywhere they appear', () => {
  const evil = `<img src=x onerror=alert(1)>"'&`;
  const doc = healthyDoc({
    node: evil,
    version: evil,
    components: [
      {
        name: evil,
        state: 'running',
        ready: true,
        live: true,
        problems: [evil],
        status: { [evil]: evil, deep: { [evil]: evil } },
      },
      {
        name: 'relay',
        state: 'running',
        ready: true,
        live: true,
        problems: [],
        status: { transport: evil, groups: [1], counters: { received: 1, relayed: 1, duplicate: 0, loop: 0, rejected: { [evil]: 3 }, rateLimited: {} }, peers: [{ name: evil, addresses: [evil], carrier: evil, mac: evil, sendErrors: 2 }] },
      },
      { name: 'routes', state: 'running', ready: true, live: true, problems: [], status: { table: 1, rules: 0, routes: 0, lastReconcile: { at: evil, outcome: evil, durationMs: 1 }, problems: [{ item: evil, reason: evil }] } },
    ],
    uplinks: [{ name: evil, mtu: 1500, up: true }],
  });
  const { html } = renderStatusPage(doc);
  const body = html.slice(html.indexOf('<body>'), html.indexOf('<script>'));
  assert.doesNotMatch(body, /<img/);
  assert.doesNotMatch(body, /onerror=alert\(1\)>"/);
  assert.ok((body.match(/&#60;img src=x onerror=alert\(1\)&#62;&#34;&#39;&#38;/g) ?? []).length >= 12, 'escaped copies everywhere');
  // attribute values cannot be broken out of
  for (const m of body.matchAll(/\s([a-z-]+)="([^"]*)"/g)) assert.doesNotMatch(m[2]!, /[<>]/, `attribute ${m[1]}`);
  assert.match(html, /<title>pathguard · &#60;img/);
});

test('the inline script parses, holds no </script, and exactly it and the style are allowed by the CSP', () => {
  const { html, csp } = renderStatusPage(healthyDoc());
  const script = scriptOf(html);
  assert.doesNotThrow(() => new Script(script, { filename: 'status-page.js' }));
  assert.doesNotMatch(script, /<\/script/i);
  const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
  const hash = (t: string) => `'sha256-${createHash('sha256').update(t).digest('base64')}'`;
  assert.match(csp, new RegExp(`script-src ${hash(script).replace(/[+/=]/g, '\\$&')}(;|$)`));
  assert.match(csp, new RegExp(`style-src ${hash(style).replace(/[+/=]/g, '\\$&')}(;|$)`));
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /connect-src 'self'/);
  assert.doesNotMatch(html, /\sstyle="/, 'no style attributes: the CSP would block them');
});

test('mountStatusPage serves / as HTML with the CSP and /status as the JSON document, from the provider each time', async () => {
  const metrics = createMetrics({ processMetrics: false });
  const server = new StatusServer({ listen: { host: '127.0.0.1', port: 0 }, registry: metrics.registry });
  let doc = healthyDoc();
  const unmount = mountStatusPage(server, async () => doc);
  const { port } = await server.start();
  try {
    let r = await fetch(`http://127.0.0.1:${port}/status`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await r.json(), doc);

    doc = failedDoc();
    r = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(r.headers.get('content-security-policy') ?? '', /^default-src 'none'; script-src 'sha256-/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.match(await r.text(), /<span class="b bad">failed<\/span>/);

    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200, 'built-in paths unchanged');
    unmount();
    assert.equal((await fetch(`http://127.0.0.1:${port}/status`)).status, 404);
  } finally {
    await server.close();
  }
});
