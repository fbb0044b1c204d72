/**
 * One Kubernetes client per process, and informers shared between the
 * components that need the same objects: the relay's peer discovery and the
 * routes component's node selectors both follow Node objects through one
 * list+watch, not two.
 *
 * Nothing is loaded until a component asks: the client library costs about
 * 0.6 s of start-up, and a relay with --peers and routes with --metallb-file
 * never need it. A failure to find credentials is a ConfigError naming every
 * place that was tried (src/k8s/client.ts).
 */
import type { LoadedKubeConfig } from './client.js';
import type { KubeObject, ResourceWatcher, WatcherError, WatcherOptions } from './informer.js';

export interface KubeAccess {
  /** The one client configuration (KUBECONFIG, in-cluster service account, ~/.kube/config). */
  config(): Promise<LoadedKubeConfig>;
  /**
   * The shared informer on every Node object, started on first use. Its
   * users must not stop it; KubeAccess.stop() does, after them.
   */
  nodes(): Promise<ResourceWatcher<KubeObject>>;
  /** Whether anything has been created (for /status: "Kubernetes: not used"). */
  readonly used: boolean;
  /** The shared informers' errors, for one log line each (watch retries are otherwise silent). */
  onError(fn: (e: WatcherError) => void): void;
  /**
   * How the API server looks from here: `unused` before anything asked for
   * it; `unreachable` after a list or watch failed and nothing has come
   * since (components keep their last state); `ok` otherwise.
   */
  health(): KubeHealth;
  stop(): Promise<void>;
}

export interface KubeHealth {
  readonly state: 'unused' | 'ok' | 'unreachable';
  /** The last error, while unreachable. */
  readonly message?: string;
  /** Since when, ISO 8601, while unreachable. */
  readonly since?: string;
}

export interface KubeAccessOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Backoff, sleep and debounce of the shared informers (tests). */
  readonly watcher?: WatcherOptions;
}

export function kubeAccess(opts: KubeAccessOptions = {}): KubeAccess {
  let loaded: Promise<LoadedKubeConfig> | undefined;
  let nodes: Promise<ResourceWatcher<KubeObject>> | undefined;
  const errorListeners: ((e: WatcherError) => void)[] = [];
  let failing: { message: string; since: string } | undefined;
  const config = (): Promise<LoadedKubeConfig> =>
    (loaded ??= import('./client.js').then(({ loadKubeConfig }) => loadKubeConfig(opts.env !== undefined ? { env: opts.env } : {})));
  return {
    config,
    nodes(): Promise<ResourceWatcher<KubeObject>> {
      nodes ??= (async () => {
        const [{ kubeConfig }, { ResourceWatcher, nodesResource, nodeEssentials }] = await Promise.all([config(), import('./informer.js')]);
        // Only names, labels and addresses are kept: a Node object is kilobytes of images and conditions,
        // and its kubelet updates them every few seconds without touching what the agent reads.
        const w = new ResourceWatcher<KubeObject>(kubeConfig, nodesResource(), { ...(opts.watcher ?? {}), keep: nodeEssentials });
        w.onError((e) => {
          failing ??= { message: e.message, since: new Date().toISOString() };
          for (const fn of errorListeners) fn(e);
        });
        // Anything listed or watched again means the API server answers.
        w.onSnapshot(() => (failing = undefined));
        w.onChange(() => (failing = undefined));
        w.start();
        return w;
      })();
      return nodes;
    },
    get used() {
      return loaded !== undefined;
    },
    onError(fn) {
      errorListeners.push(fn);
    },
    health(): KubeHealth {
      if (loaded === undefined) return { state: 'unused' };
      return failing ? { state: 'unreachable', ...failing } : { state: 'ok' };
    },
    async stop() {
      const w = await nodes?.catch(() => undefined);
      await w?.stop();
    },
  };
}
