/**
 * The runtime: hosts any set of components (component.ts) in one process.
 * It owns what every long-running command would otherwise repeat:
 *
 *   - one metrics registry and one HTTP server: /metrics, /healthz (fails
 *     when any component is not live or has failed, and names it), /readyz,
 *     /status (JSON, src/status/model.ts) and / (the page, src/status/page.ts);
 *   - one rtnetlink node client and one lazy Kubernetes access for all;
 *   - signals: SIGINT/SIGTERM stop the components in reverse order of start
 *     (obs/shutdown.ts), then the server, then the ready file;
 *   - the ready file, written once every component is ready;
 *   - exit codes: a component that fails to start stops the runtime with its
 *     error (the caller maps it to 1 or 2); one that fails later is reported
 *     on /healthz, /status and the page while the others keep running, except
 *     under `exitOnFailure` (a command that hosts one component), which then
 *     stops with 1.
 */
import { hostname } from 'node:os';
import type { Logger } from '../obs/log.js';
import { componentLogger } from '../obs/log.js';
import { createMetrics, type Metrics } from '../obs/metrics.js';
import { StatusServer, type ListenAddress, type ReadinessCondition } from '../obs/http.js';
import { readyFile, type ReadyFile } from '../obs/ready-file.js';
import { Shutdown } from '../obs/shutdown.js';
import { NodeView } from '../net/node-view.js';
import { kubeAccess, type KubeAccess } from '../k8s/access.js';
import { StatusHistory, startSampling } from '../status/history.js';
import { mountStatusPage } from '../status/page.js';
import type { ComponentState, ComponentStatus, StatusDocument, UplinkStatus } from '../status/model.js';
import type { Component, ComponentContext, ComponentDefinition } from '../obs/component.js';

export interface RuntimeOptions {
  readonly log: Logger;
  /** Where /metrics, /healthz, /readyz, /status and / are served; none without it. */
  readonly listen?: ListenAddress;
  readonly readyFile?: string;
  readonly nodeName?: string;
  readonly version?: string;
  /** Run the rtnetlink client in this network namespace (/run/netns/NAME); tests. */
  readonly netns?: string;
  /** Install SIGINT/SIGTERM handlers (default true). */
  readonly installSignals?: boolean;
  /** Stop with exit code 1 when a component fails after start (commands hosting one component). */
  readonly exitOnFailure?: boolean;
  /** Shared Kubernetes access (default: a new one from process.env). */
  readonly kube?: KubeAccess;
  /** Total time for every stop step (default 20 s, inside the DaemonSet's 30 s grace period). */
  readonly stopTimeoutMs?: number;
  /** History sampling period for the page (default 5 s). */
  readonly historyIntervalMs?: number;
}

/** One component to run, with its validated config. */
export interface Hosted<C = unknown> {
  readonly def: ComponentDefinition<C>;
  readonly cfg: C;
}

interface Slot {
  readonly name: string;
  state: ComponentState;
  component?: Component;
  failure?: string;
}

export class Runtime {
  /** Resolves with the exit code once everything has stopped. */
  readonly done: Promise<number>;
  readonly metrics: Metrics;
  readonly node: NodeView;
  private readonly opts: RuntimeOptions;
  private readonly log: Logger;
  private readonly shutdown: Shutdown;
  private readonly server: StatusServer | undefined;
  private readonly slots: Slot[] = [];
  private readonly history: StatusHistory;
  private readonly startedAt = new Date();
  private readonly nodeName: string;
  private readonly kube: KubeAccess;
  private resolveDone!: (code: number) => void;
  private stopping: Promise<number> | undefined;
  private uplinks: readonly UplinkStatus[] = [];
  private readiness: ReadinessCondition | undefined;
  private listening: { host: string; port: number } | undefined;

  private constructor(opts: RuntimeOptions) {
    this.opts = opts;
    this.log = componentLogger(opts.log, 'agent');
    this.done = new Promise((r) => (this.resolveDone = r));
    this.metrics = createMetrics();
    this.node = NodeView.open(opts.netns !== undefined ? { netns: opts.netns } : {});
    this.nodeName = opts.nodeName ?? hostname();
    this.kube = opts.kube ?? kubeAccess();
    this.kube.onError((e) => this.log.warn({ what: e.what, status: e.status, retryInMs: e.retryInMs }, `Kubernetes: ${e.message}; keeping the last state`));
    this.history = new StatusHistory({ intervalMs: opts.historyIntervalMs ?? 5000 });
    this.shutdown = new Shutdown({ log: this.log, timeoutMs: opts.stopTimeoutMs ?? 20_000, exit: (code) => this.resolveDone(code) });
    this.shutdown.add('netlink', () => this.node.close());
    this.shutdown.add('kubernetes', () => this.kube.stop());
    if (opts.listen !== undefined) {
      this.server = new StatusServer({ listen: opts.listen, registry: this.metrics.registry, log: this.log });
      this.readiness = this.server.addReadinessCondition('components');
      this.readiness.notReady('starting');
    }
  }

  /**
   * Starts `hosted` in order. A component that fails to start stops the ones
   * already started (reverse order) and the error is thrown.
   */
  static async start(opts: RuntimeOptions, hosted: readonly Hosted[]): Promise<Runtime> {
    const rt = new Runtime(opts);
    try {
      await rt.startAll(hosted);
    } catch (err) {
      await rt.stop('start-up failed', 1);
      throw err;
    }
    return rt;
  }

  private async startAll(hosted: readonly Hosted[]): Promise<void> {
    const server = this.server;
    for (const { def, cfg } of hosted) {
      const slot: Slot = { name: def.name, state: 'starting' };
      this.slots.push(slot);
      if (server) {
        server.addLivenessCheck(def.name, () => (slot.state === 'failed' ? `failed: ${slot.failure}` : slot.component?.live()));
      }
      const ctx: ComponentContext = {
        log: componentLogger(this.opts.log, def.name),
        metrics: this.metrics,
        node: this.node,
        kube: this.kube,
        nodeName: this.nodeName,
        fail: (err) => this.failed(slot, err),
      };
      const component = await def.start(ctx, cfg);
      slot.component = component;
      if (slot.state === 'starting') slot.state = 'running';
      this.shutdown.add(def.name, async () => {
        await component.stop();
        if (slot.state !== 'failed') slot.state = 'stopped';
      });
    }
    this.uplinks = await this.readUplinks();
    if (server) {
      mountStatusPage(server, () => this.document());
      this.listening = await server.start();
      this.shutdown.add('status server', () => server.close());
      this.log.info({ listen: `${this.listening.host}:${this.listening.port}`, components: this.slots.map((s) => s.name) }, 'serving /metrics, /healthz, /readyz, /status and the status page');
    }
    const stopSampling = startSampling(this.history, () => this.series(), { onError: (err) => this.log.warn({ err }, 'sampling the status history failed') });
    this.shutdown.add('history', () => stopSampling());
    this.watchReady();
    if (this.opts.installSignals !== false) this.shutdown.install();
  }

  /** Readiness follows the components; the ready file is written once all are ready the first time. */
  private watchReady(): void {
    const cond = this.readiness;
    const update = (): void => {
      const why = this.notReady();
      if (why === undefined) cond?.ready();
      else cond?.notReady(why);
    };
    update();
    const timer = setInterval(update, 250);
    timer.unref();
    this.shutdown.add('readiness', () => clearInterval(timer));
    let file: ReadyFile | undefined;
    const writing = Promise.all(this.slots.map((s) => s.component!.firstReady)).then(async () => {
      update();
      if (this.stopping || this.opts.readyFile === undefined) return;
      file = await readyFile(this.opts.readyFile, {
        component: this.slots.map((s) => s.name).join(','),
        components: this.slots.map((s) => s.name),
        ...(this.listening ? { metrics: this.listening } : {}),
      });
      this.log.info({ path: file.path }, 'every component is ready; wrote the ready file');
    });
    writing.catch((err: unknown) => this.log.error({ err, path: this.opts.readyFile }, 'could not write the ready file'));
    this.shutdown.add('ready file', async () => {
      await writing.catch(() => undefined);
      await file?.remove();
    });
  }

  private notReady(): string | undefined {
    const why: string[] = [];
    for (const s of this.slots) {
      if (s.state === 'failed') why.push(`${s.name}: failed: ${s.failure}`);
      else {
        const r = s.component?.ready();
        if (r !== undefined) why.push(`${s.name}: ${r}`);
      }
    }
    return why.length > 0 ? why.join('; ') : undefined;
  }

  private failed(slot: Slot, err: unknown): void {
    if (slot.state === 'failed' || this.stopping) return;
    slot.state = 'failed';
    slot.failure = err instanceof Error ? err.message : String(err);
    this.log.error({ component: slot.name, err }, `${slot.name} failed; ${this.opts.exitOnFailure ? 'stopping' : 'the other components keep running'}`);
    if (this.opts.exitOnFailure) void this.stop(`${slot.name} failed`, 1);
  }

  /** Stops every component in reverse order of start; resolves with the exit code. */
  stop(reason: string, code = 0): Promise<number> {
    this.stopping ??= (async () => {
      this.log.info({ reason }, 'stopping');
      const rc = await this.shutdown.trigger(reason);
      const out = code || rc;
      this.resolveDone(out);
      return out;
    })();
    return this.stopping;
  }

  /** A hosted component, for tests and commands that need more than the contract (routes --once's reconciler). */
  component(name: string): Component | undefined {
    return this.slots.find((s) => s.name === name)?.component;
  }

  /** The cumulative counters every component exposes, as `name.series`. */
  private series(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.slots) {
      const values = s.component?.series?.() ?? {};
      for (const [k, v] of Object.entries(values)) out[`${s.name}.${k}`] = v;
    }
    return out;
  }

  private async readUplinks(): Promise<UplinkStatus[]> {
    try {
      const names = new Set(await this.node.defaultRouteInterfaces());
      return (await this.node.linkDetails()).filter((l) => names.has(l.name)).map((l) => ({ name: l.name, mtu: l.mtu, up: l.up }));
    } catch (err) {
      this.log.warn({ err }, 'could not read the uplinks for /status');
      return [];
    }
  }

  /** The /status document. */
  document(): StatusDocument {
    const components: ComponentStatus[] = this.slots.map((s) => {
      const c = s.component;
      const notReady = s.state === 'failed' ? undefined : c?.ready();
      const notLive = s.state === 'failed' ? undefined : c?.live();
      const problems = [...(s.failure ? [`failed: ${s.failure}`] : []), ...(notLive ? [notLive] : []), ...(notReady ? [`not ready: ${notReady}`] : [])];
      let status: Record<string, unknown> = {};
      try {
        status = c?.status() ?? {};
      } catch (err) {
        problems.push(`status unavailable: ${err instanceof Error ? err.message : String(err)}`);
      }
      return { name: s.name, state: s.state, ready: s.state === 'running' && notReady === undefined, live: s.state !== 'failed' && notLive === undefined, problems, status };
    });
    return {
      node: this.nodeName,
      version: this.opts.version ?? 'unknown',
      startedAt: this.startedAt.toISOString(),
      now: new Date().toISOString(),
      healthy: components.every((c) => c.live),
      ready: components.every((c) => c.ready),
      components,
      uplinks: this.uplinks,
      history: this.history.snapshot(),
      kubernetes: this.kube.health(),
    };
  }
}
