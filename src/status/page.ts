/**
 * The status page at `/` and its JSON at `/status`.
 *
 * One self-contained HTML document (no CDN, no web fonts, no external
 * scripts: it must work on an air-gapped node). The server renders plain
 * tables from the status document, so the page is complete without
 * JavaScript; an inline script then polls `/status` every 2 s and re-renders
 * the same markup in place. Polling rather than server-sent events: a poll
 * holds no connection open, so it survives `kubectl port-forward` and API
 * server proxies that buffer streams, and it costs the agent nothing between
 * requests.
 *
 * Server and browser use the same renderer: the functions in "shared
 * renderers" below are embedded into the page's script with
 * Function.prototype.toString. So they may use nothing but their arguments,
 * each other and standard globals (no imports, no module constants, no
 * TypeScript-only runtime constructs such as enums), and every value they
 * print goes through `esc`, because node names, peer names, problems and
 * unknown components' status objects come from outside.
 *
 * The script and style are allowed by their SHA-256 in the page's
 * Content-Security-Policy, so nothing else can run even if escaping missed
 * something.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteHandler } from '../obs/http.js';
import type { ComponentStatus, DoctorStatus, HistorySample, RelayStatus, RoutesStatus, StatusDocument } from './model.js';

/** How often the page polls /status. */
export const REFRESH_MS = 2000;

// ---- shared renderers (server and browser) --------------------------------

/** HTML-escapes anything for text and attribute values. */
function esc(v: unknown): string {
  return String(v).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
}

/** A counter as digits; anything that is not a finite number shows as a dash. */
function num(v: unknown): string {
  return typeof v === 'number' && Number.isFinite(v) ? String(v) : '–';
}

/** A rate per second: one decimal below 10, whole numbers above. */
function perSecond(v: number): string {
  return v < 10 ? v.toFixed(1) : String(Math.round(v));
}

/** A duration in words, two units at most: `3 d 4 h`, `5 min 2 s`, `40 s`. */
function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (!Number.isFinite(s)) return '–';
  const units: [number, string][] = [
    [86400, 'd'],
    [3600, 'h'],
    [60, 'min'],
    [1, 's'],
  ];
  let i = 0;
  while (i < units.length - 1 && s < units[i]![0]) i++;
  const [size, name] = units[i]!;
  const big = Math.floor(Math.max(0, s) / size);
  const next = units[i + 1];
  const small = next === undefined ? 0 : Math.floor((Math.max(0, s) - big * size) / next[0]);
  return big + ' ' + name + (next !== undefined && small > 0 ? ' ' + small + ' ' + next[1] : '');
}

/** How long before `nowIso` the instant `iso` was; the document's clock, never the viewer's. */
function ago(iso: unknown, nowIso: string): string {
  const t = Date.parse(String(iso));
  const now = Date.parse(nowIso);
  if (!Number.isFinite(t) || !Number.isFinite(now)) return esc(iso);
  return '<time datetime="' + esc(iso) + '" title="' + esc(iso) + '">' + duration(now - t) + ' ago</time>';
}

/** A coloured word; `tone` is one of ok, warn, bad, muted. */
function badge(text: string, tone: string): string {
  return '<span class="b ' + tone + '">' + esc(text) + '</span>';
}

/** Readiness and liveness as two words in one cell, so the table fits a phone. */
function checks(ready: unknown, live: unknown): string {
  return (ready === true ? badge('ready', 'ok') : badge('not ready', 'warn')) + ' ' + (live === true ? badge('live', 'ok') : badge('not live', 'bad'));
}

function stateBadge(state: unknown): string {
  const tone = state === 'running' ? 'ok' : state === 'starting' ? 'warn' : state === 'failed' ? 'bad' : 'muted';
  return badge(String(state), tone);
}

/** A table of pre-rendered cells; `empty` when there are no rows. */
function table(caption: string, head: string[], rows: string[][], empty: string): string {
  if (rows.length === 0) return '<p class="empty">' + esc(empty) + '</p>';
  return (
    '<div class="tw"><table><caption>' + esc(caption) + '</caption><thead><tr>' +
    head.map((h) => '<th scope="col">' + esc(h) + '</th>').join('') +
    '</tr></thead><tbody>' +
    rows.map((r) => '<tr>' + r.map((c) => '<td>' + c + '</td>').join('') + '</tr>').join('') +
    '</tbody></table></div>'
  );
}

/** A two-column table of already-rendered values. */
function facts(caption: string, pairs: [string, string][]): string {
  return (
    '<div class="tw"><table class="kv"><caption>' + esc(caption) + '</caption><tbody>' +
    pairs.map((p) => '<tr><th scope="row">' + esc(p[0]) + '</th><td>' + p[1] + '</td></tr>').join('') +
    '</tbody></table></div>'
  );
}

/**
 * Per-second rates of one cumulative series between consecutive samples.
 * A missing value or a counter that went down (a restart) breaks the line
 * instead of inventing a rate.
 */
function ratesOf(samples: readonly HistorySample[], series: string): ({ t: number; r: number } | null)[] {
  const out: ({ t: number; r: number } | null)[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    const va = a.series[series];
    const vb = b.series[series];
    const dt = (b.t - a.t) / 1000;
    if (typeof va !== 'number' || typeof vb !== 'number' || vb < va || !(dt > 0)) out.push(null);
    else out.push({ t: b.t, r: (vb - va) / dt });
  }
  return out;
}

/** A small line chart of one series' rate over the last 15 minutes, with the latest and peak values as text. */
function rateChart(label: string, series: string, samples: readonly HistorySample[]): string {
  const pts = ratesOf(samples, series);
  const known = pts.filter((p): p is { t: number; r: number } => p !== null);
  const head = '<figure class="chart" data-series="' + esc(series) + '"><figcaption>' + esc(label) + ' ';
  if (known.length === 0) return head + '<span class="muted">no data yet</span></figcaption></figure>';
  const last = known[known.length - 1]!;
  const peak = Math.max(...known.map((p) => p.r));
  const end = samples[samples.length - 1]!.t;
  const span = 15 * 60 * 1000;
  const top = peak > 0 ? peak : 1;
  const W = 300;
  const H = 60;
  let d = '';
  let pen = false;
  for (const p of pts) {
    if (p === null) {
      pen = false;
      continue;
    }
    const x = Math.max(0, W - ((end - p.t) / span) * W);
    const y = H - 2 - (p.r / top) * (H - 4);
    d += (pen ? 'L' : 'M') + x.toFixed(1) + ' ' + y.toFixed(1);
    pen = true;
  }
  return (
    head + '<strong class="rate">' + perSecond(last.r) + '/s</strong> <span class="muted">peak ' + perSecond(peak) + '/s</span></figcaption>' +
    '<svg viewBox="0 0 ' + W + ' ' + H + '" preserveAspectRatio="none" role="img" aria-label="' + esc(label) + ' per second over the last 15 minutes">' +
    '<title>' + esc(label) + ': ' + perSecond(last.r) + '/s now, peak ' + perSecond(peak) + '/s</title>' +
    '<line class="axis" x1="0" y1="' + (H - 1) + '" x2="' + W + '" y2="' + (H - 1) + '"/>' +
    '<path d="' + d + '" vector-effect="non-scaling-stroke"/></svg></figure>'
  );
}

/** Counts by key, largest first, with a bar scaled to the largest. */
function countsTable(caption: string, keyName: string, counts: unknown, dataKey: string, empty: string): string {
  const entries = Object.entries(counts !== null && typeof counts === 'object' ? (counts as Record<string, unknown>) : {})
    .filter((e): e is [string, number] => typeof e[1] === 'number')
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const top = entries.length > 0 ? Math.max(1, entries[0]![1]) : 1;
  return table(
    caption,
    [keyName, 'messages', ''],
    entries.map((e) => [
      esc(e[0]),
      '<span class="n" data-k="' + esc(dataKey + '.' + e[0]) + '">' + num(e[1]) + '</span>',
      '<svg class="bar" viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true"><rect width="' + ((e[1] / top) * 100).toFixed(1) + '" height="8"/></svg>',
    ]),
    empty,
  );
}

/** A counter cell the browser test (and a reader's eye) can find by name. */
function counter(key: string, v: unknown): string {
  return '<span class="n" data-k="' + esc(key) + '">' + num(v) + '</span>';
}

function sumOf(counts: unknown): number {
  let n = 0;
  if (counts !== null && typeof counts === 'object') for (const v of Object.values(counts as Record<string, unknown>)) if (typeof v === 'number') n += v;
  return n;
}

function renderRelay(c: ComponentStatus, doc: StatusDocument): string {
  const s = c.status as Partial<RelayStatus>;
  const k = (s.counters ?? {}) as Partial<RelayStatus['counters']>;
  const name = c.name;
  const samples = doc.history && Array.isArray(doc.history.samples) ? doc.history.samples : [];
  const charts = [
    ['received', 'received'],
    ['relayed', 'relayed'],
    ['rejected', 'rejected'],
  ]
    .map((x) => rateChart(x[1]!, name + '.' + x[0], samples))
    .join('');
  const peers = Array.isArray(s.peers) ? s.peers : [];
  return (
    '<div class="charts">' + charts + '</div>' +
    facts('relay', [
      ['transport', esc(s.transport ?? '–')],
      ['NFLOG groups', esc(Array.isArray(s.groups) ? s.groups.join(', ') : '–')],
      ['received', counter(name + '.received', k.received)],
      ['relayed', counter(name + '.relayed', k.relayed)],
      ['duplicates', counter(name + '.duplicate', k.duplicate)],
      ['loops stopped', counter(name + '.loop', k.loop)],
      ['rejected', counter(name + '.rejected', sumOf(k.rejected))],
      ['rate limited', counter(name + '.rateLimited', sumOf(k.rateLimited))],
    ]) +
    countsTable('rejections by reason', 'reason', k.rejected, name + '.rejected', 'No message rejected.') +
    countsTable('rate limited by limit', 'limit', k.rateLimited, name + '.rateLimited', 'No message rate-limited.') +
    table(
      'peers (' + peers.length + ')',
      ['peer', 'last send', 'addresses', 'via', 'MAC'],
      peers.map((p, i) => [
        esc(p.name ?? '–'),
        p.sendErrors === 0
          ? badge('ok', 'ok')
          : badge('failing', 'bad') + ' <span class="n" data-k="' + esc(name + '.peer.' + i + '.sendErrors') + '">' + num(p.sendErrors) + '</span> errors',
        esc(Array.isArray(p.addresses) ? p.addresses.join(' ') : ''),
        esc(p.carrier ?? '–'),
        '<code>' + esc(p.mac ?? '–') + '</code>',
      ]),
      'No peers: this node relays to nobody.',
    )
  );
}

function renderRoutes(c: ComponentStatus, doc: StatusDocument): string {
  const s = c.status as Partial<RoutesStatus>;
  const r = s.lastReconcile;
  const tone = r === undefined ? 'muted' : r.outcome === 'ok' ? 'ok' : r.outcome === 'failed' ? 'bad' : 'warn';
  const problems = Array.isArray(s.problems) ? s.problems : [];
  return (
    facts('routes', [
      ['table', counter(c.name + '.table', s.table)],
      ['rules', counter(c.name + '.rules', s.rules)],
      ['routes', counter(c.name + '.routes', s.routes)],
      ['last reconcile', r === undefined ? badge('not yet', 'muted') : badge(String(r.outcome), tone) + ' ' + ago(r.at, doc.now) + ', took ' + num(r.durationMs) + ' ms'],
    ]) +
    table('problems (' + problems.length + ')', ['item', 'reason'], problems.map((p) => [esc(p.item), esc(p.reason)]), 'No problems.')
  );
}

function renderDoctor(c: ComponentStatus): string {
  const s = c.status as Partial<DoctorStatus>;
  const findings = Array.isArray(s.findings) ? s.findings : [];
  return table(
    'findings (' + findings.length + ')',
    ['severity', 'check', 'finding'],
    findings.map((f) => [badge(String(f.severity), f.severity === 'error' ? 'bad' : f.severity === 'warn' ? 'warn' : 'muted'), '<code>' + esc(f.id) + '</code>', esc(f.title)]),
    'No findings.',
  );
}

/** Any other component: its status object as key/value pairs (nested values as JSON). */
function renderGeneric(c: ComponentStatus): string {
  const s = c.status !== null && typeof c.status === 'object' ? c.status : {};
  const pairs: [string, string][] = Object.entries(s).map((e) => [e[0], typeof e[1] === 'object' && e[1] !== null ? '<code class="json">' + esc(JSON.stringify(e[1])) + '</code>' : esc(e[1])]);
  return pairs.length === 0 ? '<p class="empty">No status reported.</p>' : facts(c.name, pairs);
}

/** Everything inside <main>: what the poll replaces. */
function renderMain(doc: StatusDocument): string {
  const comps = Array.isArray(doc.components) ? doc.components : [];
  const uplinks = Array.isArray(doc.uplinks) ? doc.uplinks : [];
  const summary =
    '<section class="card wide" id="summary"><h2>node <span class="node">' + esc(doc.node) + '</span></h2><p class="line">' +
    (doc.healthy === true ? badge('healthy', 'ok') : badge('unhealthy', 'bad')) + ' ' +
    (doc.ready === true ? badge('ready', 'ok') : badge('not ready', 'warn')) +
    ' <span class="muted">pathguard ' + esc(doc.version) + ', up ' + esc(duration(Date.parse(doc.now) - Date.parse(doc.startedAt))) +
    ', as of <time id="pg-now" datetime="' + esc(doc.now) + '">' + esc(String(doc.now).slice(11, 19)) + ' UTC</time></span></p>' +
    (doc.kubernetes && doc.kubernetes.state === 'unreachable'
      ? '<p class="line" id="pg-kube">' + badge('Kubernetes API unreachable', 'warn') + ' <span class="muted">since ' + esc(String(doc.kubernetes.since ?? '').slice(11, 19)) + ' UTC: ' + esc(doc.kubernetes.message ?? '') + '; every component keeps its last state</span></p>'
      : doc.kubernetes && doc.kubernetes.state === 'ok'
        ? '<p class="line" id="pg-kube">' + badge('Kubernetes API ok', 'ok') + '</p>'
        : '') +
    table(
      'components',
      ['component', 'state', 'checks', 'problems'],
      comps.map((c) => [
        '<a href="#c-' + esc(c.name) + '">' + esc(c.name) + '</a>',
        stateBadge(c.state),
        checks(c.ready, c.live),
        Array.isArray(c.problems) && c.problems.length > 0 ? '<ul class="problems">' + c.problems.map((p: string) => '<li>' + esc(p) + '</li>').join('') + '</ul>' : '<span class="muted">none</span>',
      ]),
      'No components enabled.',
    ) +
    '</section>';
  const sections = comps
    .map((c) => {
      const body = c.name === 'relay' ? renderRelay(c, doc) : c.name === 'routes' ? renderRoutes(c, doc) : c.name === 'doctor' ? renderDoctor(c) : renderGeneric(c);
      return '<section class="card' + (c.name === 'relay' ? ' wide' : '') + '" id="c-' + esc(c.name) + '"><h2>' + esc(c.name) + ' ' + stateBadge(c.state) + '</h2>' + body + '</section>';
    })
    .join('');
  const links =
    '<section class="card" id="uplinks"><h2>uplinks</h2>' +
    table('uplinks and their MTU', ['link', 'MTU', 'state'], uplinks.map((u) => [esc(u.name), counter('uplink.' + u.name + '.mtu', u.mtu), u.up === true ? badge('up', 'ok') : badge('down', 'bad')]), 'No uplinks known.') +
    '</section>';
  return summary + sections + links;
}

// ---- the page ----------------------------------------------------------------

/** The renderers the browser needs, in dependency order (any order works for function declarations). */
const SHARED = [esc, num, perSecond, duration, ago, badge, checks, stateBadge, table, facts, ratesOf, rateChart, countsTable, counter, sumOf, renderRelay, renderRoutes, renderDoctor, renderGeneric, renderMain];

const STYLE = `
:root{color-scheme:light dark;--bg:#f6f7f9;--fg:#1b1f24;--card:#fff;--line:#d9dde3;--muted:#5d6673;--ok:#1a7f37;--okbg:#dafbe1;--warn:#9a6700;--warnbg:#fff8c5;--bad:#c0262d;--badbg:#ffebe9;--chart:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--card:#161b22;--line:#30363d;--muted:#8d96a0;--ok:#3fb950;--okbg:#12261e;--warn:#d29922;--warnbg:#272115;--bad:#f85149;--badbg:#2d1517;--chart:#58a6ff}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{padding:.75rem 1rem;border-bottom:1px solid var(--line);display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:baseline}
header h1{font-size:1.15rem;margin:0}
.live{font-size:.85rem;color:var(--muted)}
.live.bad{color:var(--bad)}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,24rem),1fr));gap:1rem;padding:1rem;max-width:80rem;margin:0 auto}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.75rem 1rem;min-width:0}
.wide{grid-column:1/-1}
h2{font-size:1rem;margin:0 0 .5rem}
.line{margin:.25rem 0 .75rem}
.tw{overflow-x:auto;margin:.25rem 0 .75rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
caption{text-align:left;font-weight:600;color:var(--muted);padding:.25rem 0}
th,td{text-align:left;padding:.3rem .5rem;border-top:1px solid var(--line);vertical-align:top}
.kv th{font-weight:normal;color:var(--muted);width:40%}
td .n,.kv .n{font-variant-numeric:tabular-nums}
code{font:.85em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:nowrap}
code.json{white-space:normal;word-break:break-all}
td:first-child{white-space:nowrap}
.b{display:inline-block;padding:0 .45em;border-radius:1em;font-size:.8rem;font-weight:600;border:1px solid currentColor}
.b.ok{color:var(--ok);background:var(--okbg)}.b.warn{color:var(--warn);background:var(--warnbg)}.b.bad{color:var(--bad);background:var(--badbg)}.b.muted{color:var(--muted)}
.muted,.empty{color:var(--muted)}
.empty{margin:.25rem 0 .75rem;font-size:.9rem}
.problems{margin:0;padding-left:1.1em}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,14rem),1fr));gap:.75rem;margin-bottom:.5rem}
.chart{margin:0}
.chart figcaption{font-size:.85rem}
.chart svg{display:block;width:100%;height:60px;border:1px solid var(--line);border-radius:4px}
.chart path{fill:none;stroke:var(--chart);stroke-width:1.5}
.chart .axis{stroke:var(--line)}
.bar{width:6rem;height:.6rem}
.bar rect{fill:var(--chart)}
.node{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
@media (max-width:480px){main{padding:.5rem;gap:.5rem}.card{padding:.5rem .6rem}th,td{padding:.25rem .3rem}}
`;

function clientScript(refreshMs: number): string {
  // The renderers above, then a poll loop. `renderMain` is the only entry point it calls.
  const boot = `
var main = document.getElementById('pg-main');
var live = document.getElementById('pg-live');
var timer;
function schedule() { clearTimeout(timer); timer = setTimeout(tick, ${refreshMs}); }
async function tick() {
  if (document.hidden) return schedule();
  try {
    var r = await fetch('status', { cache: 'no-store', headers: { accept: 'application/json' } });
    if (!r.ok) throw new Error('/status answered HTTP ' + r.status);
    var doc = await r.json();
    main.innerHTML = renderMain(doc);
    live.textContent = 'live, every ${refreshMs / 1000} s';
    live.className = 'live';
  } catch (e) {
    live.textContent = 'live updates paused: ' + (e && e.message ? e.message : String(e)) + '; retrying';
    live.className = 'live bad';
  }
  schedule();
}
document.addEventListener('visibilitychange', function () { if (!document.hidden) tick(); });
live.textContent = 'live, every ${refreshMs / 1000} s';
schedule();
`;
  return `(function () {\n'use strict';\n${SHARED.map((f) => f.toString()).join('\n')}\n${boot}})();`;
}

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

export interface RenderedPage {
  readonly html: string;
  /** The Content-Security-Policy that lets exactly this page's inline script and style run. */
  readonly csp: string;
}

/** The whole page for `doc`: complete tables without JavaScript, live with it. */
export function renderStatusPage(doc: StatusDocument, opts: { refreshMs?: number } = {}): RenderedPage {
  const script = clientScript(opts.refreshMs ?? REFRESH_MS);
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="data:,">
<title>pathguard · ${esc(doc.node)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>pathguard · <span class="node">${esc(doc.node)}</span></h1><span id="pg-live" class="live"></span>
<noscript><span class="live">JavaScript is off: this is a snapshot, reload to refresh.</span></noscript></header>
<main id="pg-main">${renderMain(doc)}</main>
<script>${script}</script>
</body>
</html>
`;
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(script)}`,
    `style-src ${sha256(STYLE)}`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, csp };
}

/** Where the page gets its document; may be async (the runtime collects component snapshots). */
export type StatusProvider = () => StatusDocument | Promise<StatusDocument>;

/** Anything routes can be mounted on (StatusServer). */
export interface RouteHost {
  route(path: string, handler: RouteHandler): () => void;
}

const COMMON_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const;

/** GET /status: the document as JSON. */
export function statusJsonHandler(provider: StatusProvider): RouteHandler {
  return async (_req: IncomingMessage, res: ServerResponse) => {
    const body = JSON.stringify(await provider()) + '\n';
    res.writeHead(200, { ...COMMON_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
}

/** GET /: the page. */
export function statusPageHandler(provider: StatusProvider, opts: { refreshMs?: number } = {}): RouteHandler {
  return async (_req: IncomingMessage, res: ServerResponse) => {
    const { html, csp } = renderStatusPage(await provider(), opts);
    res.writeHead(200, { ...COMMON_HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': csp, 'content-length': Buffer.byteLength(html) });
    res.end(html);
  };
}

/** Mounts `/` and `/status` on `host`; returns the function that unmounts both. */
export function mountStatusPage(host: RouteHost, provider: StatusProvider, opts: { refreshMs?: number } = {}): () => void {
  const a = host.route('/status', statusJsonHandler(provider));
  const b = host.route('/', statusPageHandler(provider, opts));
  return () => {
    a();
    b();
  };
}
