/**
 * One component hosted alone in the runtime, for the commands that run a
 * single component (`pathguard relay`, `pathguard routes`) and for tests that
 * drive one component in a namespace: the same runtime as `pathguard agent`,
 * so health, metrics, the ready file, signals and exit codes behave alike.
 */
import type { Logger } from '../obs/log.js';
import { routesComponent, startRoutesComponent, type RoutesComponent, type RoutesRunOptions } from '../routes/component.js';
import type { RoutesConfig } from '../routes/config.js';
import type { Reconciler } from '../routes/reconciler.js';
import { Runtime } from './runtime.js';

export interface RunningRoutes {
  /** Resolves with the exit code once the agent has stopped. */
  readonly done: Promise<number>;
  readonly reconciler: Reconciler;
  stop(reason: string): Promise<number>;
}

/** `pathguard routes` without --once/--clean: the routes component alone, until stopped. */
export async function startRoutes(cfg: RoutesConfig, log: Logger, opts: RoutesRunOptions & { readonly installSignals?: boolean } = {}): Promise<RunningRoutes> {
  let component: RoutesComponent | undefined;
  const rt = await Runtime.start(
    {
      log,
      exitOnFailure: true,
      ...(cfg.metricsAddr !== undefined ? { listen: cfg.metricsAddr } : {}),
      ...(cfg.readyFile !== undefined ? { readyFile: cfg.readyFile } : {}),
      ...(cfg.nodeName !== undefined ? { nodeName: cfg.nodeName } : {}),
      ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
      ...(opts.installSignals !== undefined ? { installSignals: opts.installSignals } : {}),
    },
    [{ def: { ...routesComponent, start: async (ctx, c: RoutesConfig) => (component = await startRoutesComponent(ctx, c, opts)) }, cfg }],
  );
  return { done: rt.done, reconciler: component!.reconciler, stop: (reason) => rt.stop(reason) };
}
