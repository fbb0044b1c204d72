/**
 * The component contract: what every part of the agent (relay, routes, and
 * the ones to come) gets from the runtime and gives back to it.
 *
 * A component is started with a context — its logger, the process's one
 * metrics registry, the rtnetlink node client, shared Kubernetes access —
 * and a validated config, and returns a handle the runtime asks for
 * readiness, liveness and a status snapshot, and finally stops. The runtime
 * (runtime.ts) owns everything else: the HTTP server (/metrics, /healthz,
 * /readyz, /status, the page), signals, the ready file, exit codes.
 *
 * Adding a component is adding its folder (config, pure core, component.ts
 * with a ComponentDefinition) and one line in src/agent/components.ts. The
 * contract lives here, below the components, so they can implement it.
 */
import type { Logger } from './log.js';
import { heartbeatCheck } from './http.js';
import type { Metrics } from './metrics.js';
import type { NodeView } from '../net/node-view.js';
import type { KubeAccess } from '../k8s/access.js';

export interface ComponentContext {
  /** Already a child logger with `component: <name>`. */
  readonly log: Logger;
  /** The process's one registry: every component's series on one /metrics. */
  readonly metrics: Metrics;
  /** The rtnetlink node client (links, addresses, routes, neighbours, events). */
  readonly node: NodeView;
  /** One Kubernetes client and shared informers, created on first use. */
  readonly kube: KubeAccess;
  /** This node's name (--node-name, NODE_NAME, else the host name). */
  readonly nodeName: string;
  /**
   * Reports a failure after start. The runtime marks the component failed
   * (/healthz names it, /status shows it) and the others keep running; a
   * command that hosts only this component exits 1.
   */
  fail(err: unknown): void;
}

/** What a started component gives the runtime. */
export interface Component {
  /** Undefined when ready, else why not (shown on /readyz and /status). */
  ready(): string | undefined;
  /** Undefined when alive, else what is stuck (fails /healthz). */
  live(): string | undefined;
  /** Resolves once ready the first time (the ready file waits for every component). */
  readonly firstReady: Promise<void>;
  /** A JSON snapshot for /status and the page. */
  status(): Record<string, unknown>;
  /** Cumulative counters sampled into the page's bounded history (`received`, `relayed`, ...). */
  series?(): Readonly<Record<string, number>>;
  /** Stops what it started; the runtime calls it once, in reverse order of start. */
  stop(): Promise<void>;
}

/**
 * A component as the runtime knows it before it runs: its name (also its
 * YAML section), how its config is resolved (flags > environment > file
 * section > defaults, one ConfigError naming every bad field), and start.
 */
export interface ComponentDefinition<C = unknown> {
  readonly name: string;
  /**
   * Settings taken from other components' sections when this one's section
   * does not give them (in `pathguard agent`): `{ relay: ['vip-networks'] }`.
   */
  readonly borrows?: Readonly<Record<string, readonly string[]>>;
  config(flags: Readonly<Record<string, unknown>> | undefined, env: Readonly<Record<string, string | undefined>>, section: unknown): C;
  start(ctx: ComponentContext, cfg: C): Promise<Component>;
}

/** What reconcilingComponent() needs of a reconciler (routes', realserver's). */
export interface ReportingReconciler<R> {
  onReport(fn: (r: R) => void): unknown;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface ReconcilingOptions<R> {
  readonly reconciler: ReportingReconciler<R>;
  /** Closes what the reconciler works on (its netlink socket), after it stopped. */
  close(): void;
  /** Undefined when the report leaves the node as configured, else why not (readiness). A plan (dry run) returns 'skip'. */
  verdict(r: R): string | undefined | 'skip';
  /**
   * `first`: ready from the first good report on (later problems show on
   * /status; a node that once carried traffic keeps carrying it), `last`:
   * readiness follows every report.
   */
  readonly readiness: 'first' | 'last';
  /** The loop reports at least this often (its periodic check); three missed in a row fail liveness. 0: no periodic report. */
  readonly reportEveryMs: number;
  /** The component's status from the last report (undefined before the first) and when it came. */
  status(last: { readonly report: R; readonly at: string } | undefined): Record<string, unknown>;
  readonly log: Logger;
}

/**
 * The lifecycle every reconciling component shares: start the reconciler,
 * ready once a report leaves the node as configured, live while reports keep
 * coming, a status from the last report, and stop. Stopping leaves the
 * kernel as it is: what was set up keeps working while the agent restarts.
 */
export async function reconcilingComponent<R>(o: ReconcilingOptions<R>): Promise<Component> {
  let notReady: string | undefined = 'no successful reconcile yet';
  let everReady = false;
  let last: { report: R; at: string } | undefined;
  let reports = 0;
  let resolveFirst!: () => void;
  const firstReady = new Promise<void>((r) => (resolveFirst = r));
  const beat = o.reportEveryMs > 0 ? heartbeatCheck('reconcile loop', Math.max(3 * o.reportEveryMs, 60_000)) : undefined;
  o.reconciler.onReport((r) => {
    beat?.beat();
    const v = o.verdict(r);
    if (v === 'skip') return;
    reports++;
    last = { report: r, at: new Date().toISOString() };
    if (v === undefined) {
      if (notReady !== undefined) o.log.info('reconciled: the node is set up as configured');
      notReady = undefined;
      everReady = true;
      resolveFirst();
    } else if (o.readiness === 'last' || !everReady) {
      notReady = v;
    }
  });
  try {
    await o.reconciler.start();
  } catch (err) {
    await o.reconciler.stop();
    o.close();
    throw err;
  }
  return {
    ready: () => notReady,
    live: () => beat?.check(),
    firstReady,
    status: () => o.status(last),
    series: () => ({ reconciles: reports }),
    stop: async () => {
      await o.reconciler.stop();
      o.close();
    },
  };
}
