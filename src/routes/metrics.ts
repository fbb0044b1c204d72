/**
 * Prometheus series of the routes component, fed from reconcile reports
 * (src/routes/reconciler.ts). Label values are closed lists: outcomes,
 * families, operations, error kinds, problem severities.
 *
 *   pathguard_routes_reconcile_duration_seconds       histogram
 *   pathguard_routes_reconciles_total{outcome}
 *   pathguard_routes_installed_rules{family}           pathguard's rules in the kernel
 *   pathguard_routes_installed_routes{family}
 *   pathguard_routes_changes_total{op,object}          changes the kernel accepted
 *   pathguard_routes_drift_repaired_total              changes made while the config had not changed
 *   pathguard_routes_errors_total{kind}                kernel | apply | script | config | source
 *   pathguard_routes_config_problems{severity}         problems of the current config
 *   pathguard_routes_foreign_objects{object}           foreign rules/routes pointing at the table
 *   pathguard_routes_last_success_timestamp_seconds
 */
import type { Metrics } from '../obs/metrics.js';
import type { ReconcileReport } from './reconciler.js';
import { formatProblem } from './problem.js';

const OUTCOMES = ['applied', 'unchanged', 'partial', 'held', 'failed', 'planned'] as const;
const FAMILIES = ['ipv4', 'ipv6'] as const;
export const ROUTES_ERROR_KINDS = ['kernel', 'apply', 'script', 'config', 'source'] as const;

/** Registers the series on `metrics` and returns the function that records one report. */
export function routesMetrics(metrics: Metrics): (r: ReconcileReport) => void {
  const c = 'routes';
  const duration = metrics.histogram({
    component: c,
    what: 'reconcile_duration',
    unit: 'seconds',
    help: 'Time of one reconcile: kernel dump, plan, apply (and pre/post scripts).',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  const reconciles = metrics.counter({ component: c, what: 'reconciles', unit: 'total', help: 'Reconciles by outcome.', labels: { outcome: OUTCOMES } });
  const rules = metrics.gauge({ component: c, what: 'installed', unit: 'rules', help: 'pathguard\'s rules in the kernel after the last reconcile.', labels: { family: FAMILIES } });
  const routes = metrics.gauge({ component: c, what: 'installed', unit: 'routes', help: 'pathguard\'s routes in the kernel after the last reconcile.', labels: { family: FAMILIES } });
  const changes = metrics.counter({
    component: c,
    what: 'changes',
    unit: 'total',
    help: 'Rules and routes added, replaced or removed (accepted by the kernel).',
    labels: { op: ['add', 'replace', 'remove'], object: ['rule', 'route'] },
  });
  const drift = metrics.counter({ component: c, what: 'drift_repaired', unit: 'total', help: 'Changes made while the configuration had not changed since the previous reconcile (the kernel had drifted).' });
  const errors = metrics.counter({
    component: c,
    what: 'errors',
    unit: 'total',
    help: 'Errors by kind: kernel (dump or socket failed), apply (a change refused), script (pre/post failed), config (a problem in a new config), source (it could not be read).',
    labels: { kind: ROUTES_ERROR_KINDS },
  });
  const problems = metrics.gauge({ component: c, what: 'config', unit: 'problems', help: 'Problems of the current configuration by severity.', labels: { severity: ['fatal', 'error', 'notice'] } });
  const foreign = metrics.gauge({ component: c, what: 'foreign', unit: 'objects', help: 'Rules and routes pointing at pathguard\'s table that pathguard did not create.', labels: { object: ['rule', 'route'] } });
  const lastSuccess = metrics.gauge({ component: c, what: 'last_success', unit: 'timestamp_seconds', help: 'When a reconcile last left the kernel matching the configuration (Unix time).' });

  let lastProblems = '';
  return (r) => {
    duration.observe(r.durationMs / 1000);
    reconciles.inc({ outcome: r.outcome });
    if (r.installed) {
      for (const f of FAMILIES) {
        rules.set({ family: f }, r.installed.rules[f]);
        routes.set({ family: f }, r.installed.routes[f]);
      }
    }
    for (const x of r.results) if (x.ok && !x.already) changes.inc({ op: x.operation.op, object: x.operation.kind });
    if (r.drift > 0) drift.inc(r.drift);
    if (r.outcome === 'failed') errors.inc({ kind: 'kernel' });
    if (r.failures.length > 0) errors.inc({ kind: 'apply' }, r.failures.length);
    const badScripts = r.scripts.filter((s) => !s.ok).length;
    if (badScripts > 0) errors.inc({ kind: 'script' }, badScripts);
    if (r.outcome !== 'failed') {
      const count = { fatal: 0, error: 0, notice: 0 };
      for (const p of r.problems) count[p.severity]++;
      for (const s of ['fatal', 'error', 'notice'] as const) problems.set({ severity: s }, count[s]);
      // each problem counts once, when a configuration showing it is first seen
      const key = r.problems.map(formatProblem).join('\n');
      if (key !== lastProblems) {
        lastProblems = key;
        const unavailable = r.problems.filter((p) => p.code === 'source-unavailable').length;
        if (unavailable > 0) errors.inc({ kind: 'source' }, unavailable);
        const bad = count.fatal + count.error - unavailable;
        if (bad > 0) errors.inc({ kind: 'config' }, bad);
      }
    }
    if (r.plan) {
      foreign.set({ object: 'rule' }, r.plan.foreign.filter((f) => f.kind === 'rule').length);
      foreign.set({ object: 'route' }, r.plan.foreign.filter((f) => f.kind === 'route').length);
    }
    if (r.outcome === 'applied' || r.outcome === 'unchanged') lastSuccess.set(Date.now() / 1000);
  };
}
