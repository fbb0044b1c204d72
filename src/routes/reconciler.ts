/**
 * The routes component's loop: source → desired state → plan → apply,
 * against a fresh dump of the kernel every time.
 *
 * Triggers (coalesced: the first one starts a `debounce` timer, everything
 * arriving before it fires joins the same reconcile):
 * - the source changed (file edited, API object changed, re-list finished);
 * - rtnetlink notifications that can change the outcome: a link's
 *   up / carrier / running state, any address, routes in pathguard's table,
 *   pathguard's routes and rules being removed, foreign rules pointing at
 *   the table, and main-table routes without a gateway (on-link prefixes).
 *   Links matter on their own: when a device goes down, IPv4 drops every
 *   route whose next hops all use it (fib_sync_down_dev, then fib_flush)
 *   without sending RTM_DELROUTE, and does not restore it when the device
 *   comes back; only the RTM_NEWLINK says anything happened;
 * - lost notifications (ENOBUFS): the view is stale, reconcile;
 * - a periodic safety reconcile every `maxReconcileWait`, and a re-read of
 *   the source every `resyncInterval`;
 * - a failed or partial reconcile is retried with backoff (1 s doubling to 30 s).
 * Reconciles never overlap; one asked for while another runs follows it.
 *
 * Fail static: a state the planner says must be held (holdVerdict: the
 * source failed, or errors emptied it) is not applied. The last state that
 * was good is applied instead, recomputed against the current kernel (so a
 * link flap is still repaired while the config is broken); before any good
 * state was seen nothing is changed. Kernel notifications about
 * pathguard's own additions are ignored (they are the echo of its own
 * batch); removals are not, since something else may have done them.
 *
 * Pre/post scripts run through child_process with a timeout (SIGKILL when
 * it expires), asynchronously: the event loop, the status server and the
 * Kubernetes watches keep running while a script does.
 */
import { execFile } from 'node:child_process';
import type { Logger } from '../obs/log.js';
import type { NetlinkSubscription } from '../net/netlink-socket.js';
import { IFF } from '../wire/rtnetlink.js';
import { desiredOptions, type RoutesConfig } from './config.js';
import { desiredState, type DesiredState } from './desired.js';
import { RTPROT_PATHGUARD, RT_TABLE, AF, type Family } from './objects.js';
import { holdVerdict, isNoop, plan, type Plan, type Snapshot } from './plan.js';
import { formatProblem, type RouteProblem } from './problem.js';
import { routeText, ruleText } from './plan-text.js';
import { operations, type KernelEvent, type Operation, type OperationResult, type RoutesKernel } from './kernel.js';
import type { RoutesSource, SourceState } from './sources.js';

export type Outcome =
  /** Changes were applied, all of them succeeded. */
  | 'applied'
  /** The kernel already matched. */
  | 'unchanged'
  /** Some changes failed; the others were applied. */
  | 'partial'
  /** Nothing was applied: the state must be held (fail static), see `held`. */
  | 'held'
  /** The kernel could not be read or the batch could not be sent. */
  | 'failed'
  /** Dry run: the plan was computed and not applied. */
  | 'planned';

export type FailedResult = OperationResult & { readonly ok: false };

export interface FamilyCounts {
  readonly ipv4: number;
  readonly ipv6: number;
}

export interface ScriptRun {
  readonly phase: 'pre' | 'post';
  readonly path: string;
  readonly ok: boolean;
  readonly detail?: string;
  readonly durationMs: number;
}

export interface ReconcileReport {
  /** What asked for it: `config`, `link`, `periodic`, ... (comma-separated when several). */
  readonly trigger: string;
  readonly outcome: Outcome;
  readonly durationMs: number;
  /** The source version the applied state came from. */
  readonly sourceVersion?: number;
  /** The current source is unusable and the last good one was applied instead. */
  readonly keptLastGood: boolean;
  /** Why nothing was applied (outcome `held`). */
  readonly held?: { readonly reason: string; readonly problems: readonly RouteProblem[] };
  /** Problems of the current source and node, as computed this time. */
  readonly problems: readonly RouteProblem[];
  readonly desired?: DesiredState;
  readonly plan?: Plan;
  readonly results: readonly OperationResult[];
  readonly failures: readonly FailedResult[];
  /** Changes made while the source was the same as at the previous successful reconcile: drift repaired. */
  readonly drift: number;
  /** pathguard's objects in the kernel after this reconcile. */
  readonly installed?: { readonly rules: FamilyCounts; readonly routes: FamilyCounts };
  readonly scripts: readonly ScriptRun[];
  /** Set with outcome `failed`. */
  readonly error?: Error;
}

/** The fields every report starts with; `scripts` is filled as they run. */
interface ReportBase {
  readonly trigger: string;
  readonly keptLastGood: boolean;
  readonly results: readonly OperationResult[];
  readonly failures: readonly FailedResult[];
  readonly drift: number;
  readonly scripts: ScriptRun[];
}

/** Runs one pre/post script; resolves (never rejects) with how it went. */
export type ScriptRunner = (path: string, env: Readonly<Record<string, string>>, timeoutMs: number) => Promise<{ ok: boolean; detail?: string }>;

/** child_process.execFile with a timeout: asynchronous, so the event loop keeps running while the script does. */
export const runScript: ScriptRunner = (path, env, timeoutMs) =>
  new Promise((resolve) => {
    execFile(path, [], { timeout: timeoutMs, killSignal: 'SIGKILL', env: { ...process.env, ...env }, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const tail = `${stderr}${stdout}`.trim().split('\n').slice(-5).join('\n');
      if (!err) {
        resolve(tail ? { ok: true, detail: tail } : { ok: true });
        return;
      }
      const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: number | string | null };
      let why: string;
      if (e.killed && e.signal === 'SIGKILL') why = `killed after the ${timeoutMs} ms timeout`;
      else if (typeof e.code === 'number') why = `exited ${e.code}`;
      else if (e.signal) why = `killed by ${e.signal}`;
      else why = e.message;
      resolve({ ok: false, detail: tail ? `${why}: ${tail}` : why });
    });
  });

export interface ReconcilerOptions {
  readonly cfg: RoutesConfig;
  readonly kernel: RoutesKernel;
  readonly source: RoutesSource;
  readonly log: Logger;
  /** Default runScript. */
  readonly scripts?: ScriptRunner;
  /** Retry backoff bounds for failed reconciles; default 1 s to 30 s. */
  readonly retryMs?: { readonly initial: number; readonly max: number };
}

/** The link flags whose change can make routes appear or vanish. */
const LINK_STATE = IFF.UP | IFF.LOWER_UP | IFF.RUNNING;

function familyKey(f: Family): 'ipv4' | 'ipv6' {
  return f === AF.INET ? 'ipv4' : 'ipv6';
}

/** The change as an iproute2 command, for logs and reports. */
export function describeOperation(o: Operation): string {
  const fam = (f: Family): string => (f === AF.INET ? '-4' : '-6');
  switch (o.op) {
    case 'replace':
      return `ip ${fam(o.route.family)} route replace ${routeText(o.route)}`;
    case 'add':
      return o.kind === 'route' ? `ip ${fam(o.route.family)} route add ${routeText(o.route)}` : `ip ${fam(o.rule.family)} rule add ${ruleText(o.rule)}`;
    case 'remove':
      return o.kind === 'route' ? `ip ${fam(o.route.family)} route del ${routeText(o.route)}` : `ip ${fam(o.rule.family)} rule del ${ruleText(o.rule)}`;
  }
}

export class Reconciler {
  private readonly cfg: RoutesConfig;
  private readonly kernel: RoutesKernel;
  private readonly source: RoutesSource;
  private readonly log: Logger;
  private readonly scripts: ScriptRunner;
  private readonly retry: { readonly initial: number; readonly max: number };
  private readonly protocol = RTPROT_PATHGUARD;
  private chain: Promise<unknown> = Promise.resolve();
  private lastGood: SourceState | undefined;
  private lastAppliedVersion: number | undefined;
  private lastProblemsKey = '';
  private readonly triggers = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private periodic: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private subscription: NetlinkSubscription | undefined;
  private readonly linkFlags = new Map<number, number>();
  private stopped = false;
  private readonly listeners: ((r: ReconcileReport) => void)[] = [];

  constructor(o: ReconcilerOptions) {
    this.cfg = o.cfg;
    this.kernel = o.kernel;
    this.source = o.source;
    this.log = o.log;
    this.scripts = o.scripts ?? runScript;
    this.retry = o.retryMs ?? { initial: 1000, max: 30_000 };
  }

  /** Called after every reconcile with its report. */
  onReport(fn: (r: ReconcileReport) => void): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /**
   * Runs continuously: watches the kernel and the source, reconciles on
   * their changes and periodically. The source must not have been started.
   */
  async start(): Promise<void> {
    // subscribe before reading the links, so no change falls between the two
    this.subscription = this.kernel.subscribe((events) => this.onKernelEvents(events));
    for (const [index, l] of await this.kernel.links()) this.linkFlags.set(index, l.flags & LINK_STATE);
    this.source.start(() => this.schedule('config'));
    if (this.cfg.maxReconcileWait > 0) this.periodic = setInterval(() => this.schedule('periodic'), this.cfg.maxReconcileWait);
    if (this.cfg.resyncInterval > 0) this.resync = setInterval(() => this.source.resync(), this.cfg.resyncInterval);
  }

  /** Stops watching and waits for a reconcile in flight; the kernel keeps its state. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of [this.timer, this.retryTimer]) if (t) clearTimeout(t);
    for (const t of [this.periodic, this.resync]) if (t) clearInterval(t);
    this.timer = this.retryTimer = this.periodic = this.resync = undefined;
    this.subscription?.close();
    this.subscription = undefined;
    await this.chain.catch(() => undefined);
    await this.source.stop();
  }

  /** Asks for a reconcile `debounce` ms from the first request not yet served. */
  schedule(trigger: string): void {
    if (this.stopped) return;
    this.triggers.add(trigger);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const t = [...this.triggers].join(',');
      this.triggers.clear();
      void this.reconcile(t);
    }, this.cfg.debounce);
  }

  private onKernelEvents(events: readonly KernelEvent[]): void {
    const table = this.cfg.table >>> 0;
    for (const e of events) {
      switch (e.kind) {
        case 'link': {
          const now = e.removed ? undefined : e.flags & LINK_STATE;
          const before = this.linkFlags.get(e.index);
          if (now === undefined) this.linkFlags.delete(e.index);
          else this.linkFlags.set(e.index, now);
          if (now !== before) this.schedule('link');
          break;
        }
        case 'address':
          this.schedule('address');
          break;
        case 'route': {
          const ours = e.protocol === this.protocol;
          // ours: only removals (additions are the echo of our own batch); foreign: in our table, or on-link prefixes in main
          if (ours ? e.removed : e.table >>> 0 === table || (e.table === RT_TABLE.MAIN && !e.gateway)) this.schedule('route');
          break;
        }
        case 'rule': {
          const ours = e.protocol === this.protocol;
          if (ours ? e.removed : e.table >>> 0 === table) this.schedule('rule');
          break;
        }
        case 'resync':
          this.log.info({ reason: e.reason }, 'kernel notifications lost; reconciling against a fresh dump');
          this.schedule('resync');
          break;
      }
    }
  }

  /** One reconcile now (after any in flight). With `dryRun` the plan is computed and not applied. */
  reconcile(trigger: string, opts: { readonly dryRun?: boolean } = {}): Promise<ReconcileReport> {
    const run = this.chain.then(() => this.once(trigger, opts.dryRun ?? this.cfg.dryRun));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async once(trigger: string, dryRun: boolean): Promise<ReconcileReport> {
    const t0 = performance.now();
    const base: ReportBase = { trigger, keptLastGood: false, results: [], failures: [], drift: 0, scripts: [] };
    let report: ReconcileReport;
    try {
      report = await this.compute(trigger, dryRun, t0, base);
    } catch (err) {
      report = { ...base, outcome: 'failed', durationMs: performance.now() - t0, problems: [], error: err as Error };
      this.log.error({ err, trigger }, 'reconcile failed: the kernel could not be read or written');
    }
    this.afterReport(report);
    for (const fn of [...this.listeners]) fn(report);
    return report;
  }

  private async compute(
    trigger: string,
    dryRun: boolean,
    t0: number,
    base: ReportBase,
  ): Promise<ReconcileReport> {
    const cfg = this.cfg;
    const state = this.source.current();
    if (state === undefined) {
      const held = { reason: `the MetalLB source (${this.source.origin}) has not been read yet`, problems: [] };
      return { ...base, outcome: 'held', durationMs: performance.now() - t0, problems: [], held };
    }
    const reach = await this.kernel.reachability();
    const snapshot = await this.kernel.snapshot(cfg.table, this.protocol);
    const opts = desiredOptions(cfg, reach);
    const nodeName = cfg.nodeName ?? '';
    const current = desiredState(state.model, { name: nodeName, labels: state.labels }, opts);
    this.logProblems(current.problems);
    let desired = current;
    let used = state;
    let keptLastGood = false;
    const verdict = holdVerdict(current);
    if (!verdict.hold) this.lastGood = state;
    else if (this.lastGood !== undefined && this.lastGood !== state) {
      const last = desiredState(this.lastGood.model, { name: nodeName, labels: this.lastGood.labels }, opts);
      if (!holdVerdict(last).hold) {
        desired = last;
        used = this.lastGood;
        keptLastGood = true;
      }
    }
    if (verdict.hold && !keptLastGood) {
      const reason =
        verdict.reason === 'source-failed'
          ? `the MetalLB configuration is unusable (${verdict.problems.length} fatal problem(s)); keeping the kernel as it is`
          : `every rule would be removed because of ${verdict.problems.length} error(s) in the configuration; keeping the kernel as it is`;
      return {
        ...base,
        outcome: 'held',
        durationMs: performance.now() - t0,
        problems: current.problems,
        desired: current,
        held: { reason, problems: verdict.problems },
        installed: installedCounts(snapshot, this.protocol, []),
      };
    }
    if (keptLastGood) {
      this.log.warn({ version: used.version }, 'the current MetalLB configuration is unusable; applying the last good one');
    }

    const p = plan(desired, snapshot, { table: cfg.table, protocol: this.protocol, removeForeign: cfg.removeForeign });
    const common = { ...base, keptLastGood, sourceVersion: used.version, problems: current.problems, desired, plan: p };
    if (dryRun) {
      return { ...common, outcome: 'planned', durationMs: performance.now() - t0, installed: installedCounts(snapshot, this.protocol, []) };
    }
    if (isNoop(p)) {
      this.lastAppliedVersion = used.version;
      return { ...common, outcome: 'unchanged', durationMs: performance.now() - t0, installed: installedCounts(snapshot, this.protocol, []) };
    }

    const ops = operations(p);
    const env = { PATHGUARD_TABLE: String(cfg.table), PATHGUARD_CHANGES: String(ops.length), PATHGUARD_TRIGGER: trigger };
    if (cfg.preScript !== undefined) base.scripts.push(await this.script('pre', cfg.preScript, env));
    const results = await this.kernel.apply(ops);
    const failures = results.filter((r): r is FailedResult => !r.ok);
    const changed = results.filter((r) => r.ok && !r.already).length;
    if (cfg.postScript !== undefined && changed > 0) base.scripts.push(await this.script('post', cfg.postScript, { ...env, PATHGUARD_FAILED: String(failures.length) }));
    const drift = this.lastAppliedVersion === used.version ? changed : 0;
    this.lastAppliedVersion = used.version;
    this.logResults(results, trigger);
    return {
      ...common,
      outcome: failures.length > 0 ? 'partial' : 'applied',
      durationMs: performance.now() - t0,
      results,
      failures,
      drift,
      installed: installedCounts(snapshot, this.protocol, results),
    };
  }

  private async script(phase: 'pre' | 'post', path: string, env: Record<string, string>): Promise<ScriptRun> {
    const t0 = performance.now();
    const r = await this.scripts(path, { ...env, PATHGUARD_PHASE: phase }, this.cfg.scriptTimeout);
    const run: ScriptRun = { phase, path, ok: r.ok, durationMs: performance.now() - t0, ...(r.detail !== undefined ? { detail: r.detail } : {}) };
    if (r.ok) this.log.info({ phase, script: path, ms: Math.round(run.durationMs) }, `${phase}-reconcile script done`);
    else this.log.error({ phase, script: path, detail: r.detail }, `${phase}-reconcile script failed; reconciling regardless`);
    return run;
  }

  /** Logs the problems when they differ from the ones logged last. */
  private logProblems(problems: readonly RouteProblem[]): void {
    const lines = problems.map(formatProblem);
    const key = lines.join('\n');
    if (key === this.lastProblemsKey) return;
    this.lastProblemsKey = key;
    problems.forEach((p, i) => {
      const fields = { severity: p.severity, code: p.code, item: p.item };
      if (p.severity === 'notice') this.log.info(fields, lines[i]);
      else this.log.warn(fields, lines[i]);
    });
  }

  /** One line per change, and one per failure. */
  private logResults(results: readonly OperationResult[], trigger: string): void {
    const info = this.log.isLevelEnabled('info');
    for (const r of results) {
      const o = r.operation;
      if (r.ok) {
        if (info && !r.already) this.log.info({ op: o.op, object: o.kind, trigger, ...('foreign' in o && o.foreign ? { foreign: true } : {}) }, describeOperation(o));
      } else {
        this.log.error({ op: o.op, object: o.kind, code: r.error.code, error: r.error.message }, `failed: ${describeOperation(o)}`);
      }
    }
  }

  private afterReport(r: ReconcileReport): void {
    const summary = {
      trigger: r.trigger,
      outcome: r.outcome,
      ms: Math.round(r.durationMs * 10) / 10,
      ...(r.plan ? { add: r.plan.add.length, replace: r.plan.replace.length, remove: r.plan.remove.length, unchanged: r.plan.unchanged, foreign: r.plan.foreign.length, conflicts: r.plan.conflicts.length } : {}),
      ...(r.failures.length > 0 ? { failed: r.failures.length } : {}),
      ...(r.drift > 0 ? { drift: r.drift } : {}),
    };
    if (r.outcome === 'unchanged' || r.outcome === 'planned') this.log.debug(summary, 'reconciled');
    else if (r.outcome === 'held') this.log.warn(summary, r.held?.reason ?? 'held');
    else if (r.outcome === 'applied') this.log.info(summary, 'reconciled');
    else this.log.warn(summary, 'reconcile incomplete; retrying');
    for (const c of r.plan?.conflicts ?? []) {
      this.log.warn({ table: c.blocker.table }, `a foreign route holds the slot of pathguard's route (use --remove-foreign to replace it): ${routeText(c.blocker)}`);
    }

    if (this.stopped) return;
    if (r.outcome === 'failed' || r.outcome === 'partial') {
      const delay = Math.min(this.retry.max, this.retry.initial * 2 ** Math.min(this.failures, 16));
      this.failures++;
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.schedule('retry');
      }, delay);
    } else this.failures = 0;
  }
}

/** pathguard's rules and routes by family, from the dump plus what this reconcile changed. */
function installedCounts(s: Snapshot, protocol: number, results: readonly OperationResult[]): { rules: FamilyCounts; routes: FamilyCounts } {
  const rules = { ipv4: 0, ipv6: 0 };
  const routes = { ipv4: 0, ipv6: 0 };
  for (const r of s.rules) if (r.protocol === protocol) rules[familyKey(r.family)]++;
  for (const r of s.routes) if (r.protocol === protocol) routes[familyKey(r.family)]++;
  for (const x of results) {
    if (!x.ok || x.already) continue;
    const o = x.operation;
    if (o.op === 'add') {
      if (o.kind === 'rule') rules[familyKey(o.rule.family)]++;
      else routes[familyKey(o.route.family)]++;
    } else if (o.op === 'replace' && o.foreign) routes[familyKey(o.route.family)]++;
    else if (o.op === 'remove' && !o.foreign) {
      if (o.kind === 'rule') rules[familyKey(o.rule.family)]--;
      else routes[familyKey(o.route.family)]--;
    }
  }
  return { rules, routes };
}
