/**
 * The peer set: the other nodes the relay sends replicas to, and whose
 * replicas the firewall must recognise (peer_v4 / peer_v6 / peer_mac sets).
 *
 * A peer is a node, not an address. A dual-stack node (a Node object with an
 * IPv4 and an IPv6 InternalIP, or `--peers 192.0.2.11+2001:db8::11`) is one
 * peer that gets one replica per message, carried over whichever of its
 * addresses the transport needs. Every address of every peer still counts
 * for recognising replicas and for accepting udp datagrams.
 *
 * Everything that knows peers implements PeerSource. StaticPeers serves
 * `--peers`; KubernetesPeers (kubernetes.ts) serves Node objects. The relay
 * and the firewall never learn which source they have.
 *
 * Addresses are canonical text (dotted quad; RFC 5952 for IPv6, with
 * IPv4-mapped addresses folded to IPv4), so equal addresses compare equal as
 * strings. A peer's addresses are sorted (IPv4 before IPv6, then by bytes)
 * and peers are sorted by their first address, so "did the set change?" is
 * a plain element-wise comparison.
 */
import { ConfigError } from '../errors.js';
import type { PeerElements } from '../firewall/ruleset.js';
import { addressScope, compareAddresses, formatAddress, tryParseAddress, unmapIPv4, type AddressScope } from '../wire/ip-address.js';

export interface PeerAddress {
  /** Canonical text form. */
  readonly address: string;
  readonly family: 4 | 6;
  /** Network-order address, 4 or 16 bytes. */
  readonly bytes: Uint8Array;
}

export interface Peer {
  /** Stable identity: the node's name when the source knows it, else its first address. */
  readonly id: string;
  /** The node's name, when the source knows it (Kubernetes). */
  readonly name?: string;
  /** The node's addresses: at least one, sorted, no duplicates. */
  readonly addresses: readonly PeerAddress[];
}

/** Receives the whole new peer set after each real change. */
export type PeerListener = (peers: readonly Peer[]) => void;

export interface PeerSource {
  /** The peers now (sorted, deduplicated, never the node itself). */
  current(): readonly Peer[];
  /** Calls `listener` after every change (not with the current set); returns the unsubscribe function. */
  subscribe(listener: PeerListener): () => void;
}

/** Ranges that can never be another node's unicast address (and v6 link-local, which needs a zone). */
const NOT_A_PEER: ReadonlySet<AddressScope> = new Set<AddressScope>(['unspecified', 'broadcast', 'multicast', 'loopback']);

/** The peer address of 4 or 16 bytes, an IPv4-mapped one folded to the IPv4 node it names. */
function toPeerAddress(raw: Uint8Array): PeerAddress {
  const bytes = unmapIPv4(raw);
  return { address: formatAddress(bytes), family: bytes.length === 4 ? 4 : 6, bytes };
}

/** A peer address from text, or why it is not one (the same rules for --peers and Node objects). */
export function parsePeerAddress(text: string): PeerAddress | string {
  const t = text.trim();
  if (t.includes('/')) return 'a single address, not a prefix';
  if (t.includes('%')) return 'an address without zone id';
  const raw = tryParseAddress(t);
  if (raw === undefined) return 'an IPv4 (dotted quad) or IPv6 address';
  const a = toPeerAddress(raw);
  const range = addressScope(a.bytes);
  if (NOT_A_PEER.has(range)) return `a unicast address (this one is ${range})`;
  if (a.family === 6 && range === 'linkLocal') return 'a global IPv6 address (link-local needs an interface)';
  return a;
}

function comparePeerAddresses(a: PeerAddress, b: PeerAddress): number {
  return compareAddresses(a.bytes, b.bytes);
}

export function comparePeers(a: Peer, b: Peer): number {
  return comparePeerAddresses(a.addresses[0]!, b.addresses[0]!) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * One peer from its addresses (sorted, deduplicated); undefined when none is
 * left. The id is the name when given, else the first address.
 */
export function makePeer(addresses: Iterable<PeerAddress>, name?: string): Peer | undefined {
  const byAddr = new Map<string, PeerAddress>();
  for (const a of addresses) if (!byAddr.has(a.address)) byAddr.set(a.address, a);
  if (byAddr.size === 0) return undefined;
  const sorted = Object.freeze([...byAddr.values()].sort(comparePeerAddresses));
  return Object.freeze(name !== undefined ? { id: name, name, addresses: sorted } : { id: sorted[0]!.address, addresses: sorted });
}

/** Sorted by first address; a peer whose id was seen already is dropped (the first occurrence wins). */
export function normalizePeers(peers: Iterable<Peer>): Peer[] {
  const byId = new Map<string, Peer>();
  for (const p of peers) if (!byId.has(p.id)) byId.set(p.id, p);
  return [...byId.values()].sort(comparePeers);
}

/** The separator of one node's addresses in a --peers entry (`192.0.2.11+2001:db8::11`): never part of an address or a prefix. */
export const PEER_ADDRESS_SEPARATOR = '+';

/** One bad --peers entry: its index in the list, the bad value, what was expected. */
export interface PeerEntryProblem {
  readonly index: number;
  readonly value: unknown;
  readonly expected: string;
}

/**
 * Parses `--peers`: comma-separated entries, one per node; an entry lists
 * the node's addresses joined by `+` (`192.0.2.11+2001:db8::11`), so a
 * dual-stack node is one peer. Surrounding blanks and empty entries are
 * ignored, an address repeated inside an entry counts once. A YAML sequence
 * item may itself be a sequence of one node's addresses. Returns the peers
 * and every problem (a bad address, an address given for two nodes).
 */
export function parsePeerEntries(list: string | readonly unknown[]): { peers: Peer[]; problems: PeerEntryProblem[] } {
  const entries: readonly unknown[] = typeof list === 'string' ? list.split(',') : list;
  const problems: PeerEntryProblem[] = [];
  const parsed: { index: number; peer: Peer; key: string }[] = [];
  entries.forEach((raw, index) => {
    const parts: unknown[] = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(PEER_ADDRESS_SEPARATOR) : [raw];
    const texts = parts.map((p) => (typeof p === 'string' ? p.trim() : p));
    if (texts.every((t) => t === '')) return;
    const addresses: PeerAddress[] = [];
    for (const value of texts) {
      const r = typeof value === 'string' && value !== '' ? parsePeerAddress(value) : 'an IPv4 or IPv6 address';
      if (typeof r === 'string') problems.push({ index, value, expected: texts.length > 1 ? `${r} (in ${texts.join(PEER_ADDRESS_SEPARATOR)})` : r });
      else addresses.push(r);
    }
    const peer = makePeer(addresses);
    if (peer) parsed.push({ index, peer, key: peer.addresses.map((a) => a.address).join(PEER_ADDRESS_SEPARATOR) });
  });
  // The same node written twice (any spelling) is one peer; an address shared by two different nodes is a mistake.
  const owner = new Map<string, { index: number; key: string }>();
  const seen = new Set<string>();
  const peers: Peer[] = [];
  for (const e of parsed) {
    if (seen.has(e.key)) continue;
    let clash = false;
    for (const a of e.peer.addresses) {
      const o = owner.get(a.address);
      if (o !== undefined) {
        problems.push({ index: e.index, value: a.address, expected: `an address of one node only (entry ${o.index} is another node with it)` });
        clash = true;
      }
    }
    if (clash) continue;
    for (const a of e.peer.addresses) owner.set(a.address, e);
    seen.add(e.key);
    peers.push(e.peer);
  }
  problems.sort((a, b) => a.index - b.index);
  return { peers: normalizePeers(peers), problems };
}

/** parsePeerEntries(), throwing one ConfigError (fields `peers[i]`) when anything is wrong. */
export function parsePeerList(list: string | readonly unknown[], field = 'peers'): Peer[] {
  const { peers, problems } = parsePeerEntries(list);
  if (problems.length > 0) throw new ConfigError(problems.map((p) => ({ field: `${field}[${p.index}]`, value: p.value, expected: p.expected })));
  return peers;
}

/** The text form of a peer list, as --peers takes it (round-trips through parsePeerList). */
export function formatPeerList(peers: readonly Peer[]): string {
  return peers.map((p) => p.addresses.map((a) => a.address).join(PEER_ADDRESS_SEPARATOR)).join(',');
}

/** Canonical text of a local address given as text or as 4/16 network-order bytes. */
function canonicalLocal(a: string | Uint8Array, i: number): string {
  let raw: Uint8Array | undefined;
  if (typeof a === 'string') {
    raw = tryParseAddress(a.split('%')[0]!); // local link-local addresses carry a zone; the address is what matters
    if (raw === undefined) throw new ConfigError([{ field: `localAddrs[${i}]`, value: a, expected: 'an IPv4 or IPv6 address' }]);
  } else if (a.length === 4 || a.length === 16) {
    raw = a;
  } else {
    throw new ConfigError([{ field: `localAddrs[${i}]`, value: a.length, expected: '4 or 16 address bytes' }]);
  }
  return toPeerAddress(raw).address;
}

/** The canonical text of each local address (for excludeLocal). */
export function localAddressSet(localAddrs: Iterable<string | Uint8Array>): Set<string> {
  let i = 0;
  const local = new Set<string>();
  for (const a of localAddrs) local.add(canonicalLocal(a, i++));
  return local;
}

/** The peers that are not this node: a peer any of whose addresses is local is this node. */
export function withoutLocal(peers: readonly Peer[], local: ReadonlySet<string>): readonly Peer[] {
  return Object.freeze(peers.filter((p) => !p.addresses.some((a) => local.has(a.address))));
}

/** True when both lists hold the same peers with the same names and addresses (both sorted). */
export function samePeers(a: readonly Peer[], b: readonly Peer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.id !== y.id || x.name !== y.name || x.addresses.length !== y.addresses.length) return false;
    for (let j = 0; j < x.addresses.length; j++) if (x.addresses[j]!.address !== y.addresses[j]!.address) return false;
  }
  return true;
}

/** The firewall's set elements: every address of every peer, and the peers' MACs (l2 only). */
export function peerElements(peers: readonly Peer[], macs: Iterable<string> = []): PeerElements {
  const all = peers.flatMap((p) => p.addresses);
  return {
    v4: all.filter((a) => a.family === 4).map((a) => a.address),
    v6: all.filter((a) => a.family === 6).map((a) => a.address),
    mac: [...new Set(macs)].sort(),
  };
}

/**
 * Calls every listener, then rethrows what they threw: one failing consumer
 * must not keep the others on a stale set, and its error is not lost.
 */
export function notifyAll(listeners: Iterable<PeerListener>, peers: readonly Peer[]): void {
  const errors: unknown[] = [];
  for (const l of [...listeners]) {
    try {
      l(peers);
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} peer listeners failed`);
}

/** Peers from configuration, minus the node itself. */
export class StaticPeers implements PeerSource {
  private readonly configured: readonly Peer[];
  private peers: readonly Peer[];
  private readonly listeners = new Set<PeerListener>();

  constructor(configured: Iterable<Peer>) {
    this.configured = Object.freeze(normalizePeers(configured));
    this.peers = this.configured;
  }

  /** From the `--peers` text; throws ConfigError naming every bad entry. */
  static fromList(list: string | readonly string[], field = 'peers'): StaticPeers {
    return new StaticPeers(parsePeerList(list, field));
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

  /**
   * Replaces the set of the node's own addresses (all of them, as rtnetlink
   * reports them now). The same `--peers` list is given to every node, so
   * each node drops itself here: the peer any of whose addresses is local.
   * Listeners hear about it only when the resulting peer set changes.
   */
  excludeLocal(localAddrs: Iterable<string | Uint8Array>): void {
    const next = withoutLocal(this.configured, localAddressSet(localAddrs));
    if (samePeers(next, this.peers)) return;
    this.peers = next;
    notifyAll(this.listeners, next);
  }
}
