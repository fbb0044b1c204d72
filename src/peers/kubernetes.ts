/**
 * Peers discovered from Kubernetes Node objects: every node's addresses
 * (status.addresses, InternalIP by default) except this node's own. A list
 * and watch of the nodes (src/k8s/informer.ts) keeps the set current; a
 * relist or a broken watch never empties it (the watcher delivers whole
 * snapshots only), so the relay keeps sending to the last known nodes.
 */
import { ResourceWatcher, nodesResource, type KubeObject, type WatcherError } from '../k8s/informer.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../errors.js';
import { notifyAll, normalizePeers, parsePeerList, samePeers, type Peer, type PeerListener, type PeerSource } from './peer-set.js';

export const NODE_ADDRESS_TYPES = ['InternalIP', 'ExternalIP'] as const;
export type NodeAddressType = (typeof NODE_ADDRESS_TYPES)[number];

interface NodeObject extends KubeObject {
  status?: { addresses?: { type?: string; address?: string }[] };
}

export interface KubernetesPeersOptions {
  /** This node's name: its addresses are never peers. */
  readonly nodeName?: string;
  /** Which status.addresses types count (default InternalIP). */
  readonly addressTypes?: readonly NodeAddressType[];
  /** Only nodes matching this label selector (e.g. `node-role.kubernetes.io/worker`). */
  readonly labelSelector?: string;
  readonly onError?: (e: WatcherError) => void;
}

/** The peers named by a snapshot of Node objects (pure; exported for tests). */
export function peersFromNodes(nodes: readonly NodeObject[], opts: Pick<KubernetesPeersOptions, 'nodeName' | 'addressTypes'>): Peer[] {
  const types = new Set<string>(opts.addressTypes ?? ['InternalIP']);
  const out: Peer[] = [];
  for (const n of nodes) {
    if (n.metadata.name === opts.nodeName) continue;
    for (const a of n.status?.addresses ?? []) {
      if (!a.type || !types.has(a.type) || !a.address) continue;
      try {
        for (const p of parsePeerList([a.address])) out.push({ ...p, name: n.metadata.name });
      } catch (err) {
        // A node advertising an unusable address (loopback, link-local ...) is not a peer by that address.
        if (!(err instanceof ConfigError)) throw err;
      }
    }
  }
  return normalizePeers(out);
}

export class KubernetesPeers implements PeerSource {
  private readonly watcher: ResourceWatcher<NodeObject>;
  private readonly listeners = new Set<PeerListener>();
  private discovered: readonly Peer[] = [];
  private peers: readonly Peer[] = [];
  private local = new Set<string>();

  constructor(kc: KubeConfig, opts: KubernetesPeersOptions = {}) {
    this.watcher = new ResourceWatcher<NodeObject>(kc, nodesResource(opts.labelSelector));
    const update = (nodes: readonly NodeObject[]) => this.update(peersFromNodes(nodes, opts));
    this.watcher.onSnapshot(update);
    this.watcher.onChange(update);
    if (opts.onError) this.watcher.onError(opts.onError);
  }

  /** Starts the list and watch; resolves once the first list is in (false if stopped before). */
  start(): Promise<boolean> {
    this.watcher.start();
    return this.watcher.synced;
  }

  stop(): Promise<void> {
    return this.watcher.stop();
  }

  current(): readonly Peer[] {
    return this.peers;
  }

  subscribe(listener: PeerListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** The node's own addresses (canonical text), also dropped when its name is unknown. */
  excludeLocal(localAddrs: Iterable<string>): void {
    this.local = new Set(localAddrs);
    this.update(this.discovered);
  }

  private update(found: readonly Peer[]): void {
    this.discovered = found;
    const next = Object.freeze(found.filter((p) => !this.local.has(p.address)));
    if (samePeers(next, this.peers)) return;
    this.peers = next;
    notifyAll(this.listeners, next);
  }
}
