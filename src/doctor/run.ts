/**
 * Runs checks over a snapshot and collects one result object, the one the
 * text and JSON renderers (and the agent's status page and metrics) share.
 * Never throws: a check that throws becomes an `internal` error finding
 * naming the check, so one bug cannot hide the other checks' findings.
 */
import type { Check } from './check.js';
import { SEVERITY_RANK, type DoctorInputs, type Finding, type Severity } from './finding.js';
import { CHECKS, INTERNAL_ID } from './registry.js';
import type { Snapshot } from './snapshot.js';

/** The result format; bumped when a field changes meaning. */
export const RESULT_VERSION = 1;

export interface DoctorResult {
  readonly version: typeof RESULT_VERSION;
  readonly node: { readonly hostname: string | null; readonly kernel: string; readonly takenAt: string };
  /** Ids of the checks that ran. */
  readonly checks: readonly string[];
  /** Most severe first, then in check order. */
  readonly findings: readonly Finding[];
  readonly counts: Readonly<Record<Severity, number>>;
  /** Sources the snapshot could not read (checks that need them may have found nothing for that reason). */
  readonly problems: readonly { readonly source: string; readonly message: string }[];
  /** How long the checks took, in milliseconds. */
  readonly durationMs: number;
}

export interface RunOptions {
  /** Only these check ids (all when absent). */
  readonly only?: readonly string[];
  /** Injected clock, for tests. */
  readonly now?: () => number;
  /** The checks to choose from (the registry by default). */
  readonly checks?: readonly Check[];
}

export function runChecks(snapshot: Snapshot, inputs: DoctorInputs, opts: RunOptions = {}): DoctorResult {
  const now = opts.now ?? (() => performance.now());
  const started = now();
  const all = opts.checks ?? CHECKS;
  const selected = opts.only === undefined ? all : all.filter((c) => opts.only!.includes(c.id));
  const findings: Finding[] = [];
  for (const c of selected) {
    try {
      findings.push(...c.run(snapshot, inputs));
    } catch (err) {
      findings.push({
        id: INTERNAL_ID,
        severity: 'error',
        subject: c.id,
        title: `check ${c.id} failed: ${err instanceof Error ? err.message : String(err)}`,
        explanation: 'The check threw instead of returning findings; this is a bug in pathguard. The other checks ran normally.',
        evidence: [{ type: 'value', name: 'check', value: c.id, text: err instanceof Error && err.stack ? err.stack.split('\n').slice(0, 3).join(' | ') : String(err) }],
        fix: ['# please report it with the snapshot: pathguard doctor --save-snapshot node.json'],
      });
    }
  }
  const order = new Map(selected.map((c, i) => [c.id, i]));
  findings.sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || (order.get(a.id) ?? -1) - (order.get(b.id) ?? -1));
  const counts: Record<Severity, number> = { error: 0, warn: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  return {
    version: RESULT_VERSION,
    node: { hostname: snapshot.hostname ?? null, kernel: snapshot.kernel.release, takenAt: snapshot.takenAt },
    checks: selected.map((c) => c.id),
    findings,
    counts,
    problems: snapshot.problems,
    durationMs: Math.round((now() - started) * 100) / 100,
  };
}

/** Exit status: 1 when a finding is at or above `failOn`, else 0. */
export function exitStatus(result: DoctorResult, failOn: 'warn' | 'error'): 0 | 1 {
  const rank = SEVERITY_RANK[failOn];
  return result.findings.some((f) => SEVERITY_RANK[f.severity] >= rank) ? 1 : 0;
}

/** One sample of `pathguard_doctor_findings{check,severity}`. */
export interface FindingSample {
  readonly check: string;
  readonly severity: Severity;
  readonly value: number;
}

/**
 * The findings gauge for a result: one sample per check that ran and
 * severity, zeros included (so a fixed problem drops to 0 instead of
 * vanishing), plus `internal` when a check failed. Labels are bounded: check
 * ids and the three severities, never a device or an address.
 */
export function findingSamples(result: DoctorResult): FindingSample[] {
  const ids = result.findings.some((f) => f.id === INTERNAL_ID) ? [...result.checks, INTERNAL_ID] : result.checks;
  const out: FindingSample[] = [];
  for (const check of ids) {
    for (const severity of ['error', 'warn', 'info'] as const) {
      out.push({ check, severity, value: result.findings.filter((f) => f.id === check && f.severity === severity).length });
    }
  }
  return out;
}
