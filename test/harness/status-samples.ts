/**
 * Status documents for the status page's tests (unit and browser): a busy
 * healthy node, a node with a failed component, and one with nothing yet.
 * Built by functions so a test can change counters and serve the next one.
 */
import type { ComponentStatus, HistorySample, RelayStatus, RoutesStatus, StatusDocument } from '../../src/status/model.js';

export const T0 = Date.parse('2024-05-01T12:00:00.000Z');

export interface RelayFigures {
  received: number;
  relayed: number;
  rejected: Record<string, number>;
  sendErrors?: number;
}

export function relayComponent(f: RelayFigures): ComponentStatus {
  const status: RelayStatus = {
    transport: 'udp',
    groups: [42, 43],
    counters: { received: f.received, relayed: f.relayed, duplicate: 3, loop: 1, rejected: f.rejected, rateLimited: { 'per-source': 7 } },
    peers: [
      { name: 'node-b', addresses: ['192.0.2.12', '2001:db8:1::12'], carrier: 'eth0', mac: '02:00:00:00:00:12', sendErrors: 0 },
      { name: 'node-c', addresses: ['192.0.2.13'], carrier: 'eth1', sendErrors: f.sendErrors ?? 0 },
    ],
  };
  return { name: 'relay', state: 'running', ready: true, live: true, problems: [], status: status as unknown as Record<string, unknown> };
}

export function routesComponent(now = T0): ComponentStatus {
  const status: RoutesStatus = {
    table: 200,
    rules: 4,
    routes: 2,
    lastReconcile: { at: new Date(now - 42_000).toISOString(), outcome: 'partial', durationMs: 17 },
    problems: [{ item: 'pool public 2001:db8:9::/64', reason: 'no IPv6 peer on this node' }],
  };
  return { name: 'routes', state: 'running', ready: true, live: true, problems: [], status: status as unknown as Record<string, unknown> };
}

/** `n` samples every `intervalMs` ending at `end`, counters growing by the given rates per second. */
export function historyOf(n: number, intervalMs: number, end: number, perSecond: Readonly<Record<string, number>>): HistorySample[] {
  const out: HistorySample[] = [];
  for (let i = 0; i < n; i++) {
    const t = end - (n - 1 - i) * intervalMs;
    const series: Record<string, number> = {};
    for (const [k, r] of Object.entries(perSecond)) series[k] = Math.round((r * (i * intervalMs)) / 1000);
    out.push({ t, series });
  }
  return out;
}

export function healthyDoc(over: Partial<StatusDocument> = {}, figures: RelayFigures = { received: 1200, relayed: 1150, rejected: { 'not-too-big': 40, 'vip-mismatch': 10 } }): StatusDocument {
  const now = over.now !== undefined ? Date.parse(over.now) : T0;
  return {
    node: 'node-a',
    version: '0.1.0',
    startedAt: new Date(T0 - 3 * 3600_000 - 5 * 60_000).toISOString(),
    now: new Date(T0).toISOString(),
    healthy: true,
    ready: true,
    components: [relayComponent(figures), routesComponent(now)],
    uplinks: [
      { name: 'eth0', mtu: 9000, up: true },
      { name: 'eth1', mtu: 1500, up: false },
    ],
    history: { intervalMs: 5000, samples: historyOf(181, 5000, T0, { 'relay.received': 20, 'relay.relayed': 18, 'relay.rejected': 2 }) },
    ...over,
  };
}

export function failedDoc(): StatusDocument {
  return healthyDoc({
    healthy: false,
    ready: false,
    components: [
      { ...relayComponent({ received: 5, relayed: 5, rejected: {} }), state: 'failed', ready: false, live: false, problems: ['capture loop stalled for 12 s', 'nft apply failed: Operation not permitted'] },
      routesComponent(),
      { name: 'doctor', state: 'running', ready: true, live: true, problems: [], status: { findings: [{ id: 'rp-filter-all', severity: 'error', title: 'conf/all/rp_filter is 1' }] } },
    ],
  });
}

export function emptyDoc(): StatusDocument {
  return {
    node: 'node-z',
    version: '0.1.0',
    startedAt: new Date(T0 - 2000).toISOString(),
    now: new Date(T0).toISOString(),
    healthy: true,
    ready: false,
    components: [{ name: 'relay', state: 'starting', ready: false, live: true, problems: ['not ready yet'], status: {} }],
    uplinks: [],
    history: { intervalMs: 5000, samples: [] },
  };
}
