/**
 * The doctor as a component of the agent: reads the node and runs every
 * check at start and every --doctor-interval (doctor.interval, default
 * 5 min), exports pathguard_doctor_findings{check,severity} and puts the
 * findings on /status and the status page. It only reads: a finding never
 * changes the node, and a run that fails (the node cannot be read) is
 * reported and tried again at the next interval; the findings of the last
 * good run stay.
 */
import type { Component, ComponentContext, ComponentDefinition } from '../obs/component.js';
import type { DoctorStatus } from '../status/model.js';
import { doctorConfig, type DoctorConfig } from './config.js';
import { CHECK_IDS, INTERNAL_ID } from './registry.js';
import { diagnose } from './diagnose.js';
import { findingSamples, type DoctorResult } from './run.js';

export const doctorComponent: ComponentDefinition<DoctorConfig> = {
  name: 'doctor',
  // What the node cannot tell: the service prefixes the relay serves, the MetalLB pools routes reads.
  borrows: { relay: ['vip-networks'], routes: ['metallb-file', 'metallb-namespace'] },
  config: (flags, env, section) => doctorConfig(flags, env, section),
  start: (ctx, cfg) => startDoctor(ctx, cfg),
};

export async function startDoctor(ctx: ComponentContext, cfg: DoctorConfig): Promise<Component> {
  const log = ctx.log;
  const gauge = ctx.metrics.gauge({
    component: 'doctor',
    what: 'findings',
    unit: '',
    help: 'Findings of the last doctor run, by check and severity (0 when the check found nothing).',
    labels: { check: [...CHECK_IDS, INTERNAL_ID], severity: ['error', 'warn', 'info'] },
  });
  const runs = ctx.metrics.counter({ component: 'doctor', what: 'runs', unit: 'total', help: 'Doctor runs, by outcome.', labels: { outcome: ['ok', 'failed'] } });
  let last: DoctorResult | undefined;
  let lastError: string | undefined;
  let running: Promise<void> | undefined;
  let resolveFirst!: () => void;
  const firstReady = new Promise<void>((r) => (resolveFirst = r));
  const once = (): Promise<void> =>
    (running ??= (async () => {
      try {
        const { result } = await diagnose(cfg);
        const before = new Set(last?.findings.map((f) => `${f.id}/${f.subject}`) ?? []);
        for (const s of findingSamples(result)) gauge.set({ check: s.check, severity: s.severity }, s.value);
        for (const f of result.findings) {
          if (f.severity !== 'info' && !before.has(`${f.id}/${f.subject}`)) log.warn({ check: f.id, severity: f.severity, subject: f.subject }, f.title);
        }
        last = result;
        lastError = undefined;
        runs.inc({ outcome: 'ok' });
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
        runs.inc({ outcome: 'failed' });
        log.warn({ err }, 'reading the node for the doctor failed; keeping the last findings, trying again at the next interval');
      } finally {
        running = undefined;
        resolveFirst();
      }
    })());
  void once();
  const timer = setInterval(() => void once(), cfg.interval);
  timer.unref();
  return {
    ready: () => (last === undefined && lastError === undefined ? 'the first run has not finished' : undefined),
    live: () => undefined,
    firstReady,
    status: (): DoctorStatus & Record<string, unknown> => ({
      findings: (last?.findings ?? []).map((f) => ({ id: f.id, severity: f.severity, title: f.title })),
      ...(last ? { takenAt: last.node.takenAt, counts: last.counts } : {}),
      ...(lastError !== undefined ? { lastError } : {}),
    }),
    series: () => ({ errors: last?.counts.error ?? 0, warnings: last?.counts.warn ?? 0 }),
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
