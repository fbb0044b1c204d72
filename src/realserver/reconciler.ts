/**
 * The realserver loop: configuration (and the VIP file) → desired state →
 * a fresh kernel snapshot → plan → apply → report. One reconcile at a time;
 * triggers arriving meanwhile are coalesced (the first starts a `debounce`
 * timer, everything before it fires joins the same reconcile).
 *
 * Triggers: link and address notifications (a device or a VIP removed by
 * hand, lo going down), lost notifications, and a periodic check every
 * `checkInterval` — sysctls and nftables send no events, so drift there is
 * found by the check.
 *
 * Fail static: when the VIP file cannot be read, nothing is applied (its
 * absence would otherwise remove every VIP pathguard added) and the reason
 * is reported; the kernel keeps the last good state.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from '../obs/log.js';
import type { RealserverConfig } from './config.js';
import { desiredState, parseVipsText, type Problem } from './desired.js';
import { plan, type Plan } from './plan.js';
import { changeText } from './plan-text.js';
import type { ApplyOutcome, ChangeResult, RealserverKernel } from './kernel.js';
import type { NetlinkSubscription } from '../net/netlink-socket.js';
import { PathguardError } from '../errors.js';

export type Outcome = 'planned' | 'unchanged' | 'applied' | 'partial' | 'unsupported' | 'held' | 'failed';

export interface ReconcileReport {
  readonly trigger: string;
  readonly outcome: Outcome;
  readonly plan?: Plan;
  readonly results: readonly ChangeResult[];
  readonly unsupported: ApplyOutcome['unsupported'];
  readonly problems: readonly Problem[];
  /** Changes the kernel accepted that were not already in place. */
  readonly changed: number;
  readonly error?: PathguardError;
  readonly durationMs: number;
}

/** 0 when the node is set up as configured (with --partial: as far as the kernel allows); 1 otherwise. */
export function exitCodeOf(r: ReconcileReport, partial: boolean): number {
  if (r.outcome === 'failed' || r.outcome === 'held' || r.outcome === 'unsupported') return 1;
  // with --partial, what a missing device kind made impossible (the device, its rp_filter) is accepted
  if (r.results.some((x) => !x.ok && !(partial && isUnsupportedCasualty(x, r)))) return 1;
  return r.problems.some((p) => p.severity !== 'notice') ? 1 : 0;
}

function isUnsupportedCasualty(x: ChangeResult, r: ReconcileReport): boolean {
  const names = new Set(r.unsupported.map((u) => u.name));
  const c = x.change;
  if (c.kind === 'device-add') return names.has(c.device.name);
  if (c.kind === 'sysctl' && c.device !== undefined) return names.has(c.device);
  return false;
}

/** The reasons a reconcile was not a full success, one per line. */
export function reasonsOf(r: ReconcileReport): string[] {
  const out: string[] = [];
  if (r.error) out.push(`error: ${r.error.message}`);
  for (const u of r.unsupported) out.push(`unsupported: ${u.message}`);
  if (r.outcome === 'unsupported') out.push('nothing else was applied; run with --partial to set up the rest (VIPs, sysctls, firewall, MSS clamp) anyway');
  for (const p of r.problems) out.push(`${p.severity} ${p.code}: ${p.message}`);
  for (const x of r.results) {
    if (x.ok) continue;
    if ('error' in x) {
      const c = x.change;
      // already said above, in the kernel's words
      if (c.kind === 'device-add' && r.unsupported.some((u) => u.name === c.device.name)) continue;
      out.push(`failed: ${changeText(c)}: ${x.error.message}`);
    } else if (r.outcome !== 'unsupported') out.push(`skipped: ${changeText(x.change)}: ${x.skipped}`);
  }
  return out;
}

export function summaryLine(r: ReconcileReport): string {
  const parts = [`outcome ${r.outcome}`];
  if (r.plan) {
    if (r.outcome === 'planned') parts.push(`would change ${r.plan.changes.length}`);
    else parts.push(`changes ${r.changed}`);
    parts.push(`unchanged ${r.plan.unchanged}`);
  }
  const failed = r.results.filter((x) => !x.ok && 'error' in x).length;
  const skipped = r.results.filter((x) => !x.ok && 'skipped' in x).length;
  if (failed > 0) parts.push(`failed ${failed}`);
  if (skipped > 0) parts.push(`skipped ${skipped}`);
  if (r.unsupported.length > 0) parts.push(`unsupported ${r.unsupported.map((u) => u.kind).join('+')}`);
  parts.push(`${r.durationMs.toFixed(1)} ms`);
  return `realserver: ${parts.join(', ')}`;
}

export interface ReconcilerOptions {
  readonly cfg: RealserverConfig;
  readonly kernel: RealserverKernel;
  readonly log: Logger;
  /** Reads the VIP file; injected in tests. */
  readonly readText?: (path: string) => Promise<string>;
  /** Log the reasons of an incomplete reconcile (default true; --once prints them itself). */
  readonly logReasons?: boolean;
}

export class Reconciler {
  private readonly cfg: RealserverConfig;
  private readonly kernel: RealserverKernel;
  private readonly log: Logger;
  private readonly readText: (path: string) => Promise<string>;
  private readonly listeners: ((r: ReconcileReport) => void)[] = [];
  private running: Promise<void> | undefined;
  private pending: string | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private sub: NetlinkSubscription | undefined;
  private stopped = false;
  private lastReasons = '';
  private readonly logReasons: boolean;

  constructor(o: ReconcilerOptions) {
    this.cfg = o.cfg;
    this.kernel = o.kernel;
    this.log = o.log;
    this.readText = o.readText ?? ((p) => readFile(p, 'utf8'));
    this.logReasons = o.logReasons ?? true;
  }

  onReport(fn: (r: ReconcileReport) => void): void {
    this.listeners.push(fn);
  }

  /** One reconcile against a fresh snapshot. Never throws: failures are reports. */
  async reconcile(trigger: string, opts: { readonly dryRun?: boolean } = {}): Promise<ReconcileReport> {
    const t0 = performance.now();
    const base = { trigger, results: [] as ChangeResult[], unsupported: [] as ApplyOutcome['unsupported'], changed: 0 };
    let fileVips: string[] = [];
    let fileProblems: Problem[] = [];
    if (this.cfg.vipsFile !== undefined) {
      try {
        ({ vips: fileVips, problems: fileProblems } = parseVipsText(await this.readText(this.cfg.vipsFile), this.cfg.vipsFile));
      } catch (err) {
        const problems: Problem[] = [{ severity: 'fatal', code: 'vips-file', message: `${this.cfg.vipsFile} cannot be read (${(err as Error).message}); nothing is changed until it can` }];
        return this.done({ ...base, outcome: 'held', problems, durationMs: performance.now() - t0 });
      }
    }
    try {
      const desired = desiredState(this.cfg, fileVips, fileProblems);
      if (desired.vips.length === 0 && fileProblems.length > 0) {
        // every address was bad: applying "no VIPs" would remove them all because of a typo
        const held: Problem = { severity: 'fatal', code: 'vips-file', message: 'no usable service address, only bad entries; nothing is changed until the file is fixed' };
        return this.done({ ...base, outcome: 'held', problems: [...fileProblems, held], durationMs: performance.now() - t0 });
      }
      const snapshot = await this.kernel.snapshot(desired.sysctls.map((s) => s.key), this.cfg.stateFile);
      const p = plan(desired, snapshot);
      if (opts.dryRun) return this.done({ ...base, outcome: 'planned', plan: p, problems: p.problems, durationMs: performance.now() - t0 });
      // the table was found as recorded: remember the generation it was seen in, so the next check need not run nft
      const tableVerified = desired.nft !== undefined && snapshot.nftGeneration !== undefined && !p.changes.some((c) => c.kind === 'nft-apply' || c.kind === 'nft-remove');
      if (p.changes.length === 0) {
        if (tableVerified) await this.kernel.rememberGeneration(this.cfg.stateFile, snapshot.nftGeneration!);
        return this.done({ ...base, outcome: 'unchanged', plan: p, problems: p.problems, durationMs: performance.now() - t0 });
      }
      const applied = await this.kernel.apply(p, { partial: this.cfg.partial, statePath: this.cfg.stateFile, state: snapshot.state });
      if (tableVerified && !applied.stopped) await this.kernel.rememberGeneration(this.cfg.stateFile, snapshot.nftGeneration!);
      const changed = applied.results.filter((x) => x.ok && !x.already).length;
      const anyFailed = applied.results.some((x) => !x.ok);
      const outcome: Outcome = applied.stopped ? 'unsupported' : anyFailed ? 'partial' : 'applied';
      for (const x of applied.results) {
        if (x.ok && !x.already) this.log.info({ change: x.change.kind, trigger }, changeText(x.change));
      }
      return this.done({ ...base, outcome, plan: p, results: applied.results, unsupported: applied.unsupported, changed, problems: p.problems, durationMs: performance.now() - t0 });
    } catch (err) {
      const error = err instanceof PathguardError ? err : new PathguardError('PG_SYSCALL', (err as Error).message, { cause: err });
      return this.done({ ...base, outcome: 'failed', problems: [], error, durationMs: performance.now() - t0 });
    }
  }

  private done(r: ReconcileReport): ReconcileReport {
    const reasons = reasonsOf(r);
    const key = reasons.join('\n');
    // the same reasons every minute are logged once, until they change
    if (this.logReasons && key !== this.lastReasons) {
      this.lastReasons = key;
      for (const line of reasons) this.log.warn({ trigger: r.trigger, outcome: r.outcome }, line);
    }
    // a check that changed nothing and left the node as configured (with --partial: as far as the kernel allows) is routine
    const level = r.changed > 0 ? (r.outcome === 'applied' ? 'info' : 'warn') : exitCodeOf(r, this.cfg.partial) === 0 ? 'debug' : 'warn';
    this.log[level]({ trigger: r.trigger, outcome: r.outcome, changed: r.changed, unchanged: r.plan?.unchanged, ms: Math.round(r.durationMs * 10) / 10 }, 'reconciled');
    for (const fn of this.listeners) fn(r);
    return r;
  }

  /** Long-running mode: the first reconcile, then events and the periodic check. */
  async start(): Promise<void> {
    this.sub = this.kernel.subscribe((what) => this.schedule(what));
    await this.runNow('start');
    this.armCheck();
  }

  private armCheck(): void {
    if (this.cfg.checkInterval <= 0 || this.stopped) return;
    if (this.checkTimer) clearTimeout(this.checkTimer);
    this.checkTimer = setTimeout(() => {
      this.checkTimer = undefined;
      this.schedule('periodic check');
    }, this.cfg.checkInterval);
  }

  /** Coalesces triggers within `debounce`. */
  schedule(trigger: string): void {
    if (this.stopped) return;
    this.pending ??= trigger;
    if (this.debounceTimer) return;
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      const t = this.pending ?? trigger;
      this.pending = undefined;
      void this.runNow(t);
    }, this.cfg.debounce);
  }

  private async runNow(trigger: string): Promise<void> {
    while (this.running) await this.running;
    if (this.stopped) return;
    this.running = (async () => {
      await this.reconcile(trigger);
    })();
    try {
      await this.running;
    } finally {
      this.running = undefined;
      this.armCheck();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    if (this.checkTimer) clearTimeout(this.checkTimer);
    this.sub?.close();
    await this.running;
  }
}
