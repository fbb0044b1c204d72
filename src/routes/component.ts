/**
 * `pathguard routes`, wired: a validated RoutesConfig in, and one of
 * - routesOnce: one reconcile (or, with --dry-run, one plan), a report, an exit code;
 * - routesClean: remove pathguard's own rules and routes (both families, every table);
 * - startRoutes: the long-running agent (reconciler, metrics, /healthz, /readyz,
 *   the ready file after the first successful reconcile, orderly shutdown).
 *
 * Shutdown leaves the kernel as it is: the rules and routes keep carrying
 * traffic while the agent restarts or is upgraded; `--clean` removes them.
 */
import type { Logger } from '../obs/log.js';
import { componentLogger } from '../obs/log.js';
import { reconcilingComponent, type Component, type ComponentContext, type ComponentDefinition } from '../obs/component.js';
import type { KubeAccess } from '../k8s/access.js';
import type { RoutesStatus } from '../status/model.js';
import { routesConfig, type RoutesConfig } from './config.js';
import { RoutesKernel, operations } from './kernel.js';
import { plan } from './plan.js';
import { formatPlan, planCounts } from './plan-text.js';
import { formatProblem } from './problem.js';
import { Reconciler, describeOperation, type ReconcileReport } from './reconciler.js';
import { FileSource, type RoutesSource } from './sources.js';
import { routesMetrics } from './metrics.js';

/** How long --once and --dry-run wait for the MetalLB source before giving up. */
export const ONCE_SOURCE_TIMEOUT_MS = 30_000;

/** Where command output goes: stdout for results, stderr for reasons (logs go to the logger). */
export interface RoutesOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

export interface RoutesRunOptions {
  /** Work in this network namespace (/run/netns/NAME); tests and benchmarks. */
  readonly netns?: string;
  /** The environment for the Kubernetes client; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Use this source instead of the one the configuration names (tests). */
  readonly source?: RoutesSource;
  /** How long --once waits for the source; default ONCE_SOURCE_TIMEOUT_MS. */
  readonly sourceTimeoutMs?: number;
}

/**
 * The source the configuration names: the file, or the Kubernetes API (whose
 * client is loaded only then; it takes most of a second).
 */
export async function openSource(cfg: RoutesConfig, log: Logger, env: Readonly<Record<string, string | undefined>> = process.env, kube?: KubeAccess): Promise<RoutesSource> {
  const common = { namespace: cfg.metallbNamespace, ...(cfg.nodeName !== undefined ? { nodeName: cfg.nodeName } : {}), log };
  if (cfg.metallbFile !== undefined) return new FileSource(cfg.metallbFile, common);
  const { KubernetesSource } = await import('./kubernetes-source.js');
  if (kube !== undefined) {
    // The agent's one client, and this node's labels from its shared Node informer.
    const kc = await kube.config();
    const nodes = cfg.nodeName !== undefined ? await kube.nodes() : undefined;
    return new KubernetesSource(kc.kubeConfig, { ...common, useCrds: cfg.useCrds, configMapName: cfg.metallbConfigmap, server: kc.server, ...(nodes ? { nodes } : {}) });
  }
  const { loadKubeConfig } = await import('../k8s/client.js');
  const kc = loadKubeConfig({ env });
  return new KubernetesSource(kc.kubeConfig, { ...common, useCrds: cfg.useCrds, configMapName: cfg.metallbConfigmap, server: kc.server });
}

function kernelOf(opts: RoutesRunOptions): RoutesKernel {
  return RoutesKernel.open(opts.netns !== undefined ? { netns: opts.netns } : {});
}

/** 0 when the kernel matches everything the configuration asked for; 1 otherwise (also when items were skipped). */
export function exitCodeOf(r: ReconcileReport): number {
  if (r.outcome === 'failed' || r.outcome === 'held' || r.outcome === 'partial') return 1;
  if (r.scripts.some((s) => !s.ok)) return 1;
  return r.problems.some((p) => p.severity !== 'notice') ? 1 : 0;
}

/** The reasons a reconcile was not a full success, each with the item it concerns (the status page's table). */
function itemProblems(r: ReconcileReport): { item: string; reason: string }[] {
  const out: { item: string; reason: string }[] = [];
  if (r.error) out.push({ item: 'kernel', reason: r.error.message });
  if (r.held) out.push({ item: 'configuration', reason: `held: ${r.held.reason}` });
  for (const p of r.problems) if (p.severity !== 'notice') out.push({ item: p.item, reason: formatProblem(p) });
  for (const f of r.failures) out.push({ item: describeOperation(f.operation), reason: f.error.message });
  for (const sc of r.scripts) if (!sc.ok) out.push({ item: `${sc.phase}-script`, reason: sc.detail ?? 'failed' });
  return out;
}

/** The reasons a reconcile was not a full success, one per line. */
export function reasonsOf(r: ReconcileReport): string[] {
  const out: string[] = [];
  if (r.error) out.push(`kernel: ${r.error.message}`);
  if (r.held) out.push(`held: ${r.held.reason}`);
  if (r.keptLastGood) out.push('the current configuration is unusable; the last good one was applied');
  for (const p of r.problems) if (p.severity !== 'notice') out.push(formatProblem(p));
  for (const f of r.failures) out.push(`failed: ${describeOperation(f.operation)}: ${f.error.message}`);
  for (const s of r.scripts) if (!s.ok) out.push(`${s.phase}-script ${s.path}: ${s.detail ?? 'failed'}`);
  return out;
}

function summaryLine(r: ReconcileReport): string {
  const counts = r.plan ? planCounts(r.plan) : undefined;
  const parts = [`outcome ${r.outcome}`];
  if (counts) {
    const verb = r.outcome === 'planned' ? 'would ' : '';
    parts.push(`${verb}add ${counts.add}`, `${verb}replace ${counts.replace}`, `${verb}remove ${counts.remove}`, `unchanged ${counts.unchanged}`);
    if (counts.foreign > 0) parts.push(`foreign ${counts.foreign}`);
    if (counts.conflicts > 0) parts.push(`conflicts ${counts.conflicts}`);
  }
  if (r.failures.length > 0) parts.push(`failed ${r.failures.length}`);
  if (r.installed) parts.push(`rules ${r.installed.rules.ipv4}+${r.installed.rules.ipv6}`, `routes ${r.installed.routes.ipv4}+${r.installed.routes.ipv6}`);
  parts.push(`${r.durationMs.toFixed(1)} ms`);
  return `routes: ${parts.join(', ')}`;
}

/** `--once` / `--dry-run`: one reconcile against the kernel, then exit. */
/** Interface names by index, for plans printed as `ip` commands. */
async function linkNames(kernel: RoutesKernel): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (const [index, l] of await kernel.links()) if (l.name !== undefined) out.set(index, l.name);
  return out;
}

export async function routesOnce(cfg: RoutesConfig, rootLog: Logger, out: RoutesOutput, opts: RoutesRunOptions = {}): Promise<number> {
  const log = componentLogger(rootLog, 'routes');
  const source = opts.source ?? (await openSource(cfg, log, opts.env));
  const kernel = kernelOf(opts);
  let reconciler: Reconciler | undefined;
  try {
    source.start(() => undefined);
    const wait = opts.sourceTimeoutMs ?? ONCE_SOURCE_TIMEOUT_MS;
    if (!(await source.loaded(wait))) {
      out.stderr(`routes: the MetalLB source (${source.origin}) could not be read within ${wait / 1000} s; nothing changed`);
      return 1;
    }
    reconciler = new Reconciler({ cfg, kernel, source, log });
    const r = await reconciler.reconcile('once', { dryRun: cfg.dryRun });
    if (cfg.dryRun && r.plan) for (const line of formatPlan(r.plan, await linkNames(kernel))) out.stdout(line);
    out.stdout(summaryLine(r));
    const reasons = reasonsOf(r);
    for (const line of reasons) out.stderr(line);
    return exitCodeOf(r);
  } finally {
    // A failed item schedules a retry; --once must not wait for it (it never ends otherwise).
    if (reconciler) await reconciler.stop();
    else await source.stop();
    kernel.close();
  }
}

/** `--clean`: remove every rule and route carrying pathguard's protocol, in both families and every table; nothing else. */
export async function routesClean(cfg: RoutesConfig, rootLog: Logger, out: RoutesOutput, opts: RoutesRunOptions = {}): Promise<number> {
  const log = componentLogger(rootLog, 'routes');
  const kernel = kernelOf(opts);
  try {
    const t0 = performance.now();
    const p = plan({ rules: [], routes: [] }, await kernel.snapshot(cfg.table), { table: cfg.table, removeForeign: false });
    if (cfg.dryRun) {
      for (const line of formatPlan(p, await linkNames(kernel))) out.stdout(line);
      out.stdout(`routes: would remove ${p.remove.length} object(s)`);
      return 0;
    }
    const results = await kernel.apply(operations(p));
    let failed = 0;
    for (const r of results) {
      if (r.ok) {
        if (!r.already) log.info({ op: r.operation.op, object: r.operation.kind, trigger: 'clean' }, describeOperation(r.operation));
      } else {
        failed++;
        out.stderr(`failed: ${describeOperation(r.operation)}: ${r.error.message}`);
      }
    }
    const rules = results.filter((r) => r.ok && r.operation.kind === 'rule').length;
    out.stdout(`routes: removed ${rules} rule(s) and ${results.filter((r) => r.ok).length - rules} route(s)${failed > 0 ? `, ${failed} failed` : ''}, ${(performance.now() - t0).toFixed(1)} ms`);
    if (p.foreign.length > 0) out.stdout(`routes: left ${p.foreign.length} foreign object(s) pointing at table ${cfg.table} in place`);
    return failed > 0 ? 1 : 0;
  } finally {
    kernel.close();
  }
}

export interface RunningRoutes {
  /** Resolves with the exit code once the agent has stopped. */
  readonly done: Promise<number>;
  readonly reconciler: Reconciler;
  stop(reason: string): Promise<number>;
}

/** The routes component: a reconciler kept running on configuration and kernel events. */
export interface RoutesComponent extends Component {
  readonly reconciler: Reconciler;
}

/** The routes component as the runtime hosts it (src/agent/runtime.ts). */
export const routesComponent: ComponentDefinition<RoutesConfig> = {
  name: 'routes',
  config: (flags, env, section) => routesConfig(flags, env, section),
  start: (ctx, cfg) => startRoutesComponent(ctx, cfg),
};

const OUTCOME: Readonly<Record<string, 'ok' | 'partial' | 'failed' | 'held'>> = { applied: 'ok', unchanged: 'ok', partial: 'partial', failed: 'failed', held: 'held' };

/**
 * Starts the reconciler. Stopping leaves the kernel as it is: the rules and
 * routes keep carrying traffic while the agent restarts or is upgraded
 * (`routes --clean` removes them).
 */
export async function startRoutesComponent(ctx: ComponentContext, cfg: RoutesConfig, opts: RoutesRunOptions = {}): Promise<RoutesComponent> {
  const log = ctx.log;
  const nodeCfg = cfg.nodeName === undefined && cfg.metallbFile === undefined ? { ...cfg, nodeName: ctx.nodeName } : cfg;
  const kernel = kernelOf(opts);
  let source: RoutesSource;
  try {
    source = opts.source ?? (await openSource(nodeCfg, log, opts.env, opts.env === undefined ? ctx.kube : undefined));
  } catch (err) {
    kernel.close();
    throw err;
  }
  const reconciler = new Reconciler({ cfg: nodeCfg, kernel, source, log });
  reconciler.onReport(routesMetrics(ctx.metrics));
  log.info(
    { source: source.origin, node: nodeCfg.nodeName, table: cfg.table, priority: cfg.rulePriority, fwmark: cfg.fwmark, debounceMs: cfg.debounce, maxReconcileWaitMs: cfg.maxReconcileWait },
    'return-path routing for MetalLB: watching the configuration and the kernel',
  );
  const component = await reconcilingComponent<ReconcileReport>({
    reconciler,
    close: () => kernel.close(),
    log,
    verdict: (r) => (r.outcome === 'planned' ? 'skip' : r.outcome === 'applied' || r.outcome === 'unchanged' ? undefined : `last reconcile: ${r.outcome}`),
    readiness: 'first',
    reportEveryMs: cfg.maxReconcileWait,
    status: (last): RoutesStatus & Record<string, unknown> => {
      const r = last?.report;
      return {
        table: cfg.table,
        rules: r?.installed ? r.installed.rules.ipv4 + r.installed.rules.ipv6 : 0,
        routes: r?.installed ? r.installed.routes.ipv4 + r.installed.routes.ipv6 : 0,
        ...(last && r ? { lastReconcile: { at: last.at, outcome: OUTCOME[r.outcome] ?? 'failed', durationMs: Math.round(r.durationMs * 10) / 10 } } : {}),
        problems: r ? itemProblems(r) : [],
      };
    },
  });
  return { ...component, reconciler };
}
