// The routes agent's pure parts: exit codes and reasons of --once, and the
// Prometheus series fed from reconcile reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exitCodeOf, reasonsOf } from '../../../src/routes/component.js';
import { routesMetrics } from '../../../src/routes/metrics.js';
import { createMetrics } from '../../../src/obs/metrics.js';
import { NetlinkError } from '../../../src/errors.js';
import { problem } from '../../../src/routes/problem.js';
import { AF, RTPROT_PATHGUARD as PG } from '../../../src/routes/objects.js';
import type { ReconcileReport } from '../../../src/routes/reconciler.js';
import type { OperationResult } from '../../../src/routes/kernel.js';

const base: ReconcileReport = { trigger: 'test', outcome: 'applied', durationMs: 12, keptLastGood: false, problems: [], results: [], failures: [], drift: 0, scripts: [] };
const rule = { family: AF.INET, priority: 20, src: '198.51.100.1/32', table: 20, protocol: PG } as const;
const ok: OperationResult = { operation: { op: 'add', kind: 'rule', rule }, ok: true, already: false };
const bad = { operation: { op: 'add', kind: 'route', route: { family: AF.INET, table: 20, dst: '0.0.0.0/0', nexthops: [{ gateway: '192.0.2.1', weight: 1 }], protocol: PG } }, ok: false, error: new NetlinkError(101, 'ENETUNREACH', { ackText: 'Nexthop has invalid gateway' }) } as const;

test('exit codes: 0 only when everything asked for is in place; skipped items, holds, failures and scripts are 1', () => {
  assert.equal(exitCodeOf(base), 0);
  assert.equal(exitCodeOf({ ...base, outcome: 'unchanged', problems: [problem('notice', 'no-peers', 'node n', 'x')] }), 0);
  assert.equal(exitCodeOf({ ...base, problems: [problem('error', 'bad-prefix', 'IPAddressPool a', 'x', { value: '192.0.2.300/32' })] }), 1);
  assert.equal(exitCodeOf({ ...base, outcome: 'held', held: { reason: 'r', problems: [] } }), 1);
  assert.equal(exitCodeOf({ ...base, outcome: 'partial', failures: [bad] }), 1);
  assert.equal(exitCodeOf({ ...base, outcome: 'failed', error: new Error('x') }), 1);
  assert.equal(exitCodeOf({ ...base, scripts: [{ phase: 'pre', path: '/x', ok: false, durationMs: 1 }] }), 1);
});

test('reasons name the item, the failed change and the kernel\'s words', () => {
  const r = reasonsOf({
    ...base,
    outcome: 'partial',
    problems: [problem('error', 'off-link-peer', 'BGPPeer metallb-system/p', 'not on-link; peer skipped', { value: '203.0.113.1' }), problem('notice', 'no-peers', 'node n', 'x')],
    failures: [bad],
  });
  assert.deepEqual(r, [
    'error off-link-peer BGPPeer metallb-system/p="203.0.113.1": not on-link; peer skipped',
    'failed: ip -4 route add default table 20 proto 112 via 192.0.2.1: ENETUNREACH (errno 101): Nexthop has invalid gateway',
  ]);
});

test('metrics: pathguard_routes_* from reports; config problems count once per configuration', async () => {
  const m = createMetrics({ processMetrics: false });
  const record = routesMetrics(m);
  const problems = [problem('error', 'bad-prefix', 'IPAddressPool a', 'x')];
  record({
    ...base,
    problems,
    results: [ok, ok, bad],
    failures: [bad],
    outcome: 'partial',
    installed: { rules: { ipv4: 2, ipv6: 0 }, routes: { ipv4: 0, ipv6: 0 } },
    plan: { add: [], replace: [], remove: [], foreign: [{ kind: 'rule', rule: { ...rule, protocol: 4 } }], conflicts: [], unchanged: 0 },
  });
  record({ ...base, outcome: 'unchanged', problems, drift: 0 });
  record({ ...base, outcome: 'applied', problems, results: [ok], drift: 1 });
  const text = await m.text();
  const value = (series: string): number => Number(new RegExp(`^${series.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1]);
  assert.equal(value('pathguard_routes_reconciles_total{outcome="partial"}'), 1);
  assert.equal(value('pathguard_routes_reconciles_total{outcome="unchanged"}'), 1);
  assert.equal(value('pathguard_routes_reconciles_total{outcome="held"}'), 0);
  assert.equal(value('pathguard_routes_changes_total{op="add",object="rule"}'), 3);
  assert.equal(value('pathguard_routes_errors_total{kind="apply"}'), 1);
  assert.equal(value('pathguard_routes_errors_total{kind="config"}'), 1);
  assert.equal(value('pathguard_routes_drift_repaired_total'), 1);
  assert.equal(value('pathguard_routes_installed_rules{family="ipv4"}'), 2);
  assert.equal(value('pathguard_routes_config_problems{severity="error"}'), 1);
  assert.equal(value('pathguard_routes_foreign_objects{object="rule"}'), 1);
  assert.equal(value('pathguard_routes_reconcile_duration_seconds_count'), 3);
  assert.ok(value('pathguard_routes_last_success_timestamp_seconds') > 1e9);
});
