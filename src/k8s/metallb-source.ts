/**
 * Everything `pathguard routes` reads from the Kubernetes API, as one
 * snapshot: MetalLB's CRDs (metallb.io IPAddressPool, BGPAdvertisement,
 * L2Advertisement v1beta1; BGPPeer v1beta2, falling back to v1beta1), the
 * legacy ConfigMap (`metallb-system/config`, MetalLB < 0.13) and this node's
 * labels (for the node selectors of advertisements and peers).
 *
 * Objects are delivered raw, as the API server sent them; turning them into a
 * model is the pure parser's job (src/routes/metallb.ts). A snapshot is only
 * emitted once every watcher has listed successfully, so a consumer never
 * mistakes "not loaded yet" for "no pools" and tears down routes.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import {
  ResourceWatcher,
  configMapResource,
  metallbResource,
  nodeResource,
  type KubeObject,
  type WatcherError,
  type WatcherOptions,
  type WatcherStats,
} from './informer.js';

export interface MetallbSnapshot {
  /** IPAddressPool objects. */
  readonly pools: readonly KubeObject[];
  /** BGPAdvertisement objects. */
  readonly advertisements: readonly KubeObject[];
  /** L2Advertisement objects. */
  readonly l2Advertisements: readonly KubeObject[];
  /** BGPPeer objects (v1beta2 when served, else v1beta1). */
  readonly peers: readonly KubeObject[];
  /** The legacy ConfigMap, when watched and present. */
  readonly configMap?: KubeObject;
  /** This node's labels, when `nodeName` was given and the Node exists. */
  readonly nodeLabels?: Readonly<Record<string, string>>;
  /** Every watcher has completed a list. `onSnapshot` only ever sees `true`. */
  readonly complete: boolean;
}

export interface MetallbSourceOptions extends WatcherOptions {
  /** Where MetalLB lives; default `metallb-system`. */
  readonly namespace?: string;
  /** Name of the legacy ConfigMap in `namespace`, or false not to watch it; default `config`. */
  readonly configMapName?: string | false;
  /** This node's name (the downward API's spec.nodeName); without it there are no node labels. */
  readonly nodeName?: string;
  /**
   * A shared, started informer on every Node (KubeAccess.nodes()): this
   * node's labels are read from it instead of a watch of its own. Its owner
   * stops it.
   */
  readonly nodes?: ResourceWatcher;
}

type Part = 'pools' | 'advertisements' | 'l2Advertisements' | 'peers' | 'configMap' | 'node';

export class MetallbSource {
  /** Resolves true once every watcher has listed, false if stopped before. */
  readonly synced: Promise<boolean>;

  readonly #watchers = new Map<Part, ResourceWatcher>();
  /** Parts read from an informer someone else owns: never started or stopped here. */
  readonly #borrowed = new Set<Part>();
  readonly #nodeName: string | undefined;
  readonly #offs: (() => void)[] = [];
  readonly #listeners: ((s: MetallbSnapshot) => void)[] = [];
  #pending: NodeJS.Immediate | undefined;
  #stopped = false;

  constructor(kc: KubeConfig, opts: MetallbSourceOptions = {}) {
    const ns = opts.namespace ?? 'metallb-system';
    this.#nodeName = opts.nodeName;
    const add = (part: Part, w: ResourceWatcher, borrowed = false): void => {
      this.#watchers.set(part, w);
      if (borrowed) this.#borrowed.add(part);
      this.#offs.push(
        w.onSnapshot(() => this.#schedule()),
        w.onChange(() => this.#schedule()),
      );
    };
    add('pools', new ResourceWatcher(kc, metallbResource('IPAddressPool', ns), opts));
    add('advertisements', new ResourceWatcher(kc, metallbResource('BGPAdvertisement', ns), opts));
    add('l2Advertisements', new ResourceWatcher(kc, metallbResource('L2Advertisement', ns), opts));
    add('peers', new ResourceWatcher(kc, metallbResource('BGPPeer', ns), opts));
    const cm = opts.configMapName ?? 'config';
    if (cm !== false) add('configMap', new ResourceWatcher(kc, configMapResource(ns, cm), opts));
    if (opts.nodeName !== undefined) {
      if (opts.nodes !== undefined) add('node', opts.nodes, true);
      else add('node', new ResourceWatcher(kc, nodeResource(opts.nodeName), opts));
    }
    this.synced = Promise.all([...this.#watchers.values()].map((w) => w.synced)).then((all) => all.every(Boolean));
  }

  start(): void {
    for (const [part, w] of this.#watchers) if (!this.#borrowed.has(part)) w.start();
    // A shared informer may have listed already: its snapshot will not come again.
    if (this.#borrowed.size > 0) this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#pending !== undefined) clearImmediate(this.#pending);
    this.#pending = undefined;
    for (const off of this.#offs.splice(0)) off();
    await Promise.all([...this.#watchers].filter(([part]) => !this.#borrowed.has(part)).map(([, w]) => w.stop()));
  }

  /** The current state; `complete` is false (and the lists may be partial) until every watcher has synced. */
  snapshot(): MetallbSnapshot {
    const get = (p: Part): readonly KubeObject[] => this.#watchers.get(p)?.snapshot() ?? [];
    const configMap = get('configMap')[0];
    // Our own watch selects this node by field; the shared informer has them all.
    const node = get('node').find((n) => n.metadata.name === this.#nodeName);
    return {
      pools: get('pools'),
      advertisements: get('advertisements'),
      l2Advertisements: get('l2Advertisements'),
      peers: get('peers'),
      ...(configMap !== undefined ? { configMap } : {}),
      ...(node !== undefined ? { nodeLabels: node.metadata.labels ?? {} } : {}),
      complete: [...this.#watchers.values()].every((w) => w.isSynced()),
    };
  }

  /**
   * Complete snapshots only: after every watcher has synced, then after
   * each change or re-list of any of them (coalesced within one turn of the
   * event loop).
   */
  onSnapshot(fn: (s: MetallbSnapshot) => void): () => void {
    this.#listeners.push(fn);
    return () => {
      const i = this.#listeners.indexOf(fn);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  onError(fn: (e: WatcherError) => void): () => void {
    const offs = [...this.#watchers.values()].map((w) => w.onError(fn));
    return () => offs.forEach((off) => off());
  }

  /** Per-watcher counters, keyed by part (`pools`, `peers`, `node`, …). */
  stats(): Readonly<Record<string, WatcherStats>> {
    return Object.fromEntries([...this.#watchers].map(([p, w]) => [p, w.stats()]));
  }

  #schedule(): void {
    if (this.#pending !== undefined || this.#stopped) return;
    this.#pending = setImmediate(() => {
      this.#pending = undefined;
      const s = this.snapshot();
      if (!s.complete) return;
      // A listener that throws is a bug in the consumer: let it surface as
      // an uncaught exception rather than hide it here.
      for (const fn of [...this.#listeners]) fn(s);
    });
  }
}
