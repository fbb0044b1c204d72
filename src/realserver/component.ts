/**
 * `pathguard realserver`, wired: a validated RealserverConfig in, and one of
 * - realserverOnce: one reconcile (or, with --dry-run, one plan), a report, an exit code;
 * - realserverClean: remove what pathguard added and restore the sysctls it changed;
 * - realserverComponent: the long-running component (reconciler on events and
 *   a periodic check), hosted by the runtime alone or in `pathguard agent`.
 *
 * Shutdown leaves the kernel as it is: the node keeps serving while the agent
 * restarts or is upgraded; `--clean` undoes the set-up.
 */
import type { Logger } from '../obs/log.js';
import { componentLogger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';
import { reconcilingComponent, type Component, type ComponentContext, type ComponentDefinition } from '../obs/component.js';
import { realserverConfig, type RealserverConfig } from './config.js';
import { RealserverKernel } from './kernel.js';
import { planClean } from './plan.js';
import { changeText, formatPlan } from './plan-text.js';
import { Reconciler, exitCodeOf, reasonsOf, summaryLine, type ReconcileReport } from './reconciler.js';

export interface RealserverOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** `--once` / `--dry-run`: one reconcile, then exit. */
export async function realserverOnce(cfg: RealserverConfig, rootLog: Logger, out: RealserverOutput): Promise<number> {
  const log = componentLogger(rootLog, 'realserver');
  const kernel = RealserverKernel.open();
  try {
    const reconciler = new Reconciler({ cfg, kernel, log, logReasons: false });
    const r = await reconciler.reconcile('once', { dryRun: cfg.dryRun });
    if (cfg.dryRun && r.plan) for (const line of formatPlan(r.plan)) out.stdout(line);
    out.stdout(summaryLine(r));
    for (const line of reasonsOf(r)) out.stderr(line);
    return exitCodeOf(r, cfg.partial);
  } finally {
    kernel.close();
  }
}

/** `--clean`: remove the devices, VIPs and table pathguard added; put back the sysctls it changed. */
export async function realserverClean(cfg: RealserverConfig, rootLog: Logger, out: RealserverOutput): Promise<number> {
  const log = componentLogger(rootLog, 'realserver');
  const kernel = RealserverKernel.open();
  try {
    const t0 = performance.now();
    const first = await kernel.snapshot([], cfg.stateFile);
    // the sysctls to restore are the recorded ones: read them now
    const snapshot = await kernel.snapshot(Object.keys(first.state.sysctls), cfg.stateFile);
    const p = planClean(snapshot);
    for (const pr of p.problems) out.stderr(`${pr.severity} ${pr.code}: ${pr.message}`);
    if (cfg.dryRun) {
      for (const line of formatPlan(p)) out.stdout(line);
      out.stdout(`realserver: would remove or restore ${p.changes.length}`);
      return 0;
    }
    const applied = await kernel.apply(p, { partial: true, statePath: cfg.stateFile, state: snapshot.state, clean: true });
    let failed = 0;
    for (const x of applied.results) {
      if (x.ok) {
        if (!x.already) log.info({ change: x.change.kind, trigger: 'clean' }, changeText(x.change));
      } else {
        failed++;
        out.stderr(`failed: ${changeText(x.change)}: ${'error' in x ? x.error.message : x.skipped}`);
      }
    }
    const done = applied.results.filter((x) => x.ok).length;
    out.stdout(`realserver: removed or restored ${done}${failed > 0 ? `, ${failed} failed` : ''}, ${(performance.now() - t0).toFixed(1)} ms`);
    return failed > 0 ? 1 : 0;
  } finally {
    kernel.close();
  }
}

const OUTCOMES = ['planned', 'unchanged', 'applied', 'partial', 'unsupported', 'held', 'failed'] as const;
const CHANGE_KINDS = ['device-add', 'device-up', 'device-del', 'vip-add', 'vip-del', 'sysctl', 'sysctl-restore', 'nft-apply', 'nft-remove'] as const;

/**
 * pathguard_realserver_reconciles_total{outcome}, _changes_total{kind},
 * _decap_unsupported{kind} (1 while the kernel lacks that device kind),
 * _last_success_timestamp_seconds.
 */
function realserverMetrics(metrics: Metrics): (r: ReconcileReport) => void {
  const c = 'realserver';
  const reconciles = metrics.counter({ component: c, what: 'reconciles', unit: 'total', help: 'Reconciles by outcome.', labels: { outcome: OUTCOMES } });
  const changes = metrics.counter({ component: c, what: 'changes', unit: 'total', help: 'Changes the kernel accepted, by kind.', labels: { kind: CHANGE_KINDS } });
  const unsupported = metrics.gauge({ component: c, what: 'decap_unsupported', unit: 'info', help: '1 while the kernel cannot create this decapsulation device kind.', labels: { kind: ['ipip', 'ip6tnl'] } });
  const lastSuccess = metrics.gauge({ component: c, what: 'last_success', unit: 'timestamp_seconds', help: 'When a reconcile last left the node set up as configured (Unix time).' });
  return (r) => {
    reconciles.inc({ outcome: r.outcome });
    for (const x of r.results) if (x.ok && !x.already) changes.inc({ kind: x.change.kind });
    if (r.outcome !== 'held' && r.outcome !== 'failed' && r.outcome !== 'planned') {
      for (const kind of ['ipip', 'ip6tnl'] as const) unsupported.set({ kind }, r.unsupported.some((u) => u.kind === kind) ? 1 : 0);
    }
    if (r.outcome === 'applied' || r.outcome === 'unchanged') lastSuccess.set(Date.now() / 1000);
  };
}

/** The realserver set-up as a component of the runtime (src/agent/runtime.ts). */
export const realserverComponent: ComponentDefinition<RealserverConfig> = {
  name: 'realserver',
  config: (flags, env, section) => realserverConfig(flags, env, section),
  start: (ctx, cfg) => startRealserver(ctx, cfg),
};

export interface RealserverComponent extends Component {
  readonly reconciler: Reconciler;
}

/** Starts the reconciler; stopping leaves the set-up in place (the node keeps serving while the agent restarts). */
export async function startRealserver(ctx: ComponentContext, cfg: RealserverConfig): Promise<RealserverComponent> {
  const log = ctx.log;
  const kernel = RealserverKernel.open();
  const reconciler = new Reconciler({ cfg, kernel, log });
  reconciler.onReport(realserverMetrics(ctx.metrics));
  log.info({ vips: cfg.vips.length, vipsFile: cfg.vipsFile, lvsSources: cfg.lvsSources, mss: cfg.mss, checkIntervalMs: cfg.checkInterval }, 'LVS-IPIP realserver: keeping the set-up on kernel events and periodic checks');
  const component = await reconcilingComponent<ReconcileReport>({
    reconciler,
    close: () => kernel.close(),
    log,
    verdict: (r) => (r.outcome === 'planned' ? 'skip' : exitCodeOf(r, cfg.partial) === 0 ? undefined : `last reconcile: ${r.outcome}`),
    readiness: 'last',
    reportEveryMs: cfg.checkInterval,
    status: (last) => ({
      vips: cfg.vips.length,
      ...(last ? { lastReconcile: { at: last.at, outcome: last.report.outcome, reasons: reasonsOf(last.report) } } : {}),
      unsupported: last?.report.unsupported.map((u) => u.kind) ?? [],
    }),
  });
  return { ...component, reconciler };
}
