/**
 * Peers discovered from Kubernetes Node objects: one peer per node, with all
 * of its addresses (status.addresses, InternalIP by default; a dual-stack node
 * lists one of each family), except this node. A list
 * and watch of the nodes (src/k8s/informer.ts) keeps the set current; a
 * relist or a broken watch never empties it (the watcher delivers whole
 * snapshots only), so the relay keeps sending to the last known nodes.
 */
import { ResourceWatcher, nodesResource, type KubeObject, type WatcherError } from '../k8s/informer.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { localAddressSet, makePeer, normalizePeers, notifyAll, parsePeerAddress, samePeers, withoutLocal, type Peer, type PeerAddress, type PeerListener, type PeerSource } from './peer-set.js';

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

/**
 * What a node's peer was derived from, so an unchanged node is not derived
 * again: kubelets update every Node's status every few seconds (heartbeats,
 * conditions) without touching its addresses, and a cluster of thousands of
 * nodes would otherwise re-parse every address on each of those updates.
 */
export type PeerCache = Map<string, { readonly key: string; readonly peer: Peer | undefined }>;

/**
 * The peers named by a snapshot of Node objects, one per node (pure but for
 * `cache`, which it fills and prunes; exported for tests).
 */
export function peersFromNodes(nodes: readonly NodeObject[], opts: Pick<KubernetesPeersOptions, 'nodeName' | 'addressTypes'>, cache?: PeerCache): Peer[] {
  const types = new Set<string>(opts.addressTypes ?? ['InternalIP']);
  const out: Peer[] = [];
  const seen = cache ? new Set<string>() : undefined;
  for (const n of nodes) {
    const name = n.metadata.name;
    if (name === opts.nodeName) continue;
    const texts: string[] = [];
    for (const a of n.status?.addresses ?? []) {
      if (a.type && types.has(a.type) && typeof a.address === 'string') texts.push(a.address);
    }
    const key = texts.join(' ');
    seen?.add(name);
    const hit = cache?.get(name);
    let peer: Peer | undefined;
    if (hit !== undefined && hit.key === key) {
      peer = hit.peer;
    } else {
      const addresses: PeerAddress[] = [];
      for (const t of texts) {
        // A node advertising an unusable address (loopback, link-local ...) is not reached by that address.
        const r = parsePeerAddress(t);
        if (typeof r !== 'string') addresses.push(r);
      }
      peer = makePeer(addresses, name);
      cache?.set(name, { key, peer });
    }
    if (peer) out.push(peer);
  }
  if (cache && seen) for (const name of cache.keys()) if (!seen.has(name)) cache.delete(name);
  return normalizePeers(out);
}

export class KubernetesPeers implements PeerSource {
  private readonly watcher: ResourceWatcher<NodeObject>;
  /** A shared informer (KubeAccess.nodes()) is started and stopped by its owner, not here. */
  private readonly borrowed: boolean;
  private readonly opts: KubernetesPeersOptions;
  private readonly listeners = new Set<PeerListener>();
  private readonly offs: (() => void)[] = [];
  private discovered: readonly Peer[] = [];
  private peers: readonly Peer[] = [];
  private local: ReadonlySet<string> = new Set<string>();
  private readonly cache: PeerCache = new Map();

  /** From a client configuration (its own Node informer), or from a shared, already started informer on every Node. */
  constructor(source: KubeConfig | ResourceWatcher<KubeObject>, opts: KubernetesPeersOptions = {}) {
    this.opts = opts;
    this.borrowed = source instanceof ResourceWatcher;
    if (this.borrowed && opts.labelSelector !== undefined) {
      throw new TypeError('a label selector needs an informer of its own, not the shared one');
    }
    this.watcher = source instanceof ResourceWatcher ? (source as ResourceWatcher<NodeObject>) : new ResourceWatcher<NodeObject>(source, nodesResource(opts.labelSelector));
    const update = (nodes: readonly NodeObject[]) => this.update(peersFromNodes(nodes, opts, this.cache));
    this.offs.push(this.watcher.onSnapshot(update), this.watcher.onChange(update));
    if (opts.onError && !this.borrowed) this.offs.push(this.watcher.onError(opts.onError));
  }

  /** Starts the list and watch (or joins the shared one); resolves once the first list is in (false if stopped before). */
  async start(): Promise<boolean> {
    if (!this.borrowed) this.watcher.start();
    const synced = await this.watcher.synced;
    if (synced && this.borrowed) this.update(peersFromNodes(this.watcher.snapshot(), this.opts, this.cache));
    return synced;
  }

  async stop(): Promise<void> {
    for (const off of this.offs.splice(0)) off();
    if (!this.borrowed) await this.watcher.stop();
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

  /** The node's own addresses: a node holding any of them is this one, also when its name is unknown. */
  excludeLocal(localAddrs: Iterable<string | Uint8Array>): void {
    this.local = localAddressSet(localAddrs);
    this.update(this.discovered);
  }

  private update(found: readonly Peer[]): void {
    this.discovered = found;
    const next = withoutLocal(found, this.local);
    if (samePeers(next, this.peers)) return;
    this.peers = next;
    notifyAll(this.listeners, next);
  }
}
