/**
 * The peer set: the other nodes the relay sends replicas to, and whose
 * replicas the firewall must recognise (peer_v4 / peer_v6 / peer_mac sets).
 *
 * Everything that knows peers implements PeerSource. StaticPeers serves
 * `--peers` (a comma-separated list of IPv4/IPv6 addresses); Kubernetes
 * discovery (Node objects, InternalIP addresses) is meant to plug in behind
 * the same interface, with MACs filled in from the kernel neighbour table —
 * the relay and the firewall never learn which source they have.
 *
 * Addresses are canonical text (dotted quad; RFC 5952 for IPv6, with
 * IPv4-mapped addresses folded to IPv4), so equal peers compare equal as
 * strings, and sets are kept sorted (IPv4 before IPv6, then by bytes) so that
 * "did the set change?" is a plain element-wise comparison.
 */
import ipaddr from 'ipaddr.js';
import { ConfigError, type ConfigProblem } from '../errors.js';
import type { PeerElements } from '../firewall/ruleset.js';

export interface Peer {
  /** Canonical text form. */
  readonly address: string;
  readonly family: 4 | 6;
  /** Network-order address, 4 or 16 bytes. */
  readonly bytes: Uint8Array;
  /** The node's name, when the source knows it (Kubernetes). */
  readonly name?: string;
  /** Lowercase colon-separated MAC, when known (needed by the l2 transport). */
  readonly mac?: string;
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
const NOT_A_PEER: ReadonlySet<string> = new Set(['unspecified', 'broadcast', 'multicast', 'loopback']);

type Parsed = ipaddr.IPv4 | ipaddr.IPv6;

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) is the IPv4 node it names. */
function fold(a: Parsed): Parsed {
  return a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress() ? (a as ipaddr.IPv6).toIPv4Address() : a;
}

function toPeer(a: Parsed): Peer {
  const v4 = a.kind() === 'ipv4';
  return {
    address: v4 ? a.toString() : (a as ipaddr.IPv6).toRFC5952String(),
    family: v4 ? 4 : 6,
    bytes: Uint8Array.from(a.toByteArray()),
  };
}

/** The reason `text` is not a usable peer address, or the parsed address. */
function parseAddress(text: string): Parsed | string {
  if (text.includes('/')) return 'a single address, not a prefix';
  if (text.includes('%')) return 'an address without zone id';
  let a: Parsed;
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) a = ipaddr.IPv4.parse(text);
  else if (ipaddr.IPv6.isValid(text)) a = fold(ipaddr.IPv6.parse(text));
  else return 'an IPv4 (dotted quad) or IPv6 address';
  const range = a.range();
  if (NOT_A_PEER.has(range)) return `a unicast address (this one is ${range})`;
  if (a.kind() === 'ipv6' && range === 'linkLocal') return 'a global IPv6 address (link-local needs an interface)';
  return a;
}

export function comparePeers(a: Peer, b: Peer): number {
  if (a.family !== b.family) return a.family - b.family;
  for (let i = 0; i < a.bytes.length; i++) if (a.bytes[i] !== b.bytes[i]) return a.bytes[i]! - b.bytes[i]!;
  return 0;
}

/** Sorted, one entry per address (the first occurrence wins). */
export function normalizePeers(peers: Iterable<Peer>): Peer[] {
  const byAddr = new Map<string, Peer>();
  for (const p of peers) if (!byAddr.has(p.address)) byAddr.set(p.address, p);
  return [...byAddr.values()].sort(comparePeers);
}

/**
 * Parses `--peers`: comma-separated addresses, surrounding blanks and empty
 * entries ignored, duplicates removed. Every bad entry is reported at once.
 */
export function parsePeerList(list: string | readonly string[], field = 'peers'): Peer[] {
  const entries = typeof list === 'string' ? list.split(',') : list;
  const problems: ConfigProblem[] = [];
  const peers: Peer[] = [];
  entries.forEach((raw, i) => {
    const text = raw.trim();
    if (text === '') return;
    const r = parseAddress(text);
    if (typeof r === 'string') problems.push({ field: `${field}[${i}]`, value: text, expected: r });
    else peers.push(toPeer(r));
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return normalizePeers(peers);
}

/** Canonical text of a local address given as text or as 4/16 network-order bytes. */
function canonicalLocal(a: string | Uint8Array, i: number): string {
  let parsed: Parsed;
  if (typeof a === 'string') {
    const text = a.split('%')[0]!; // local link-local addresses carry a zone; the address is what matters
    if (ipaddr.IPv4.isValidFourPartDecimal(text)) parsed = ipaddr.IPv4.parse(text);
    else if (ipaddr.IPv6.isValid(text)) parsed = ipaddr.IPv6.parse(text);
    else throw new ConfigError([{ field: `localAddrs[${i}]`, value: a, expected: 'an IPv4 or IPv6 address' }]);
  } else if (a.length === 4 || a.length === 16) {
    parsed = ipaddr.fromByteArray([...a]);
  } else {
    throw new ConfigError([{ field: `localAddrs[${i}]`, value: a.length, expected: '4 or 16 address bytes' }]);
  }
  return toPeer(fold(parsed)).address;
}

/** True when both lists hold the same peers with the same names and MACs (both sorted). */
export function samePeers(a: readonly Peer[], b: readonly Peer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.address !== y.address || x.name !== y.name || x.mac !== y.mac) return false;
  }
  return true;
}

/** The firewall's set elements for a peer list. */
export function peerElements(peers: readonly Peer[]): PeerElements {
  return {
    v4: peers.filter((p) => p.family === 4).map((p) => p.address),
    v6: peers.filter((p) => p.family === 6).map((p) => p.address),
    mac: [...new Set(peers.flatMap((p) => (p.mac !== undefined ? [p.mac] : [])))],
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

/** Peers from configuration, minus the node's own addresses. */
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
   * each node drops itself here. Listeners hear about it only when the
   * resulting peer set changes.
   */
  excludeLocal(localAddrs: Iterable<string | Uint8Array>): void {
    let i = 0;
    const local = new Set<string>();
    for (const a of localAddrs) local.add(canonicalLocal(a, i++));
    const next = Object.freeze(this.configured.filter((p) => !local.has(p.address)));
    if (samePeers(next, this.peers)) return;
    this.peers = next;
    notifyAll(this.listeners, next);
  }
}
