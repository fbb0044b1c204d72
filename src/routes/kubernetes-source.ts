/**
 * The routes component's Kubernetes source: MetalLB's CRDs or the legacy
 * ConfigMap and this node's labels, through list+watch
 * (src/k8s/metallb-source.ts), turned into the model by modelFromSnapshot
 * (sources.ts). Only complete snapshots arrive here, so a watch that is
 * re-listing never looks like "no pools".
 *
 * A module of its own so that `routes --metallb-file`, `--clean` and the
 * other commands never load the Kubernetes client.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { MetallbSource, type MetallbSnapshot } from '../k8s/metallb-source.js';
import type { ResourceWatcher, WatcherOptions } from '../k8s/informer.js';
import type { Logger } from '../obs/log.js';
import { modelFromSnapshot, snapshotFingerprint, withTimeout, type RoutesSource, type SnapshotOptions, type SourceState } from './sources.js';

export interface KubernetesSourceOptions extends SnapshotOptions {
  readonly log?: Logger;
  /** For tests: backoff and sleep of the watchers. */
  readonly watcher?: WatcherOptions;
  /** For logs. */
  readonly server?: string;
  /** The agent's shared informer on every Node (this node's labels come from it). */
  readonly nodes?: ResourceWatcher;
}

/**
 * MetalLB resources from the API server. resync() lists everything again
 * with a second set of watchers and switches to it once that has listed
 * completely; until then the previous state stays.
 */
export class KubernetesSource implements RoutesSource {
  readonly origin: string;
  private readonly kc: KubeConfig;
  private readonly opts: KubernetesSourceOptions;
  private active: MetallbSource | undefined;
  private pending: MetallbSource | undefined;
  private state: SourceState | undefined;
  private lastKey: string | undefined;
  private version = 0;
  private stopped = false;
  private onChange: () => void = () => undefined;
  private readonly first: Promise<boolean>;
  private resolveFirst: (v: boolean) => void = () => undefined;

  constructor(kc: KubeConfig, opts: KubernetesSourceOptions) {
    this.kc = kc;
    this.opts = opts;
    this.origin = `kubernetes ${opts.server ?? kc.getCurrentCluster()?.server ?? ''}`.trim();
    this.first = new Promise((r) => (this.resolveFirst = r));
  }

  private open(): MetallbSource {
    const o = this.opts;
    const src = new MetallbSource(this.kc, {
      ...(o.watcher ?? {}),
      namespace: o.namespace,
      configMapName: o.useCrds ? false : o.configMapName,
      ...(o.nodeName !== undefined ? { nodeName: o.nodeName } : {}),
      ...(o.nodes !== undefined ? { nodes: o.nodes } : {}),
    });
    src.onError((e) => {
      this.opts.log?.warn({ what: e.what, phase: e.phase, status: e.status, retryInMs: e.retryInMs }, `Kubernetes API: ${e.message}; keeping the last state`);
    });
    src.onSnapshot((s) => {
      if (this.stopped) return;
      if (src === this.pending) {
        const old = this.active;
        this.active = src;
        this.pending = undefined;
        void old?.stop();
      }
      if (src === this.active) this.accept(s);
    });
    src.start();
    return src;
  }

  start(onChange: () => void): void {
    this.onChange = onChange;
    this.active = this.open();
  }

  loaded(timeoutMs: number): Promise<boolean> {
    return withTimeout(this.first, timeoutMs);
  }

  current(): SourceState | undefined {
    return this.state;
  }

  resync(): void {
    if (this.stopped || this.pending !== undefined || this.active === undefined) return;
    this.pending = this.open();
  }

  private accept(s: MetallbSnapshot): void {
    const key = snapshotFingerprint(s);
    if (key === this.lastKey) return;
    this.lastKey = key;
    this.version++;
    const { model, labels } = modelFromSnapshot(s, this.opts);
    this.state = { model, labels, version: this.version };
    this.resolveFirst(true);
    this.onChange();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.resolveFirst(false);
    await Promise.all([this.active?.stop(), this.pending?.stop()]);
  }
}
