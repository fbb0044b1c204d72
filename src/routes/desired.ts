/**
 * What the kernel should hold on this node, computed from the MetalLB model,
 * the node's name and labels, and the node's on-link prefixes. Pure: every
 * input is a parameter, the output is sorted, so the same inputs give the
 * same state byte for byte.
 *
 * Per address family (IPv4 and IPv6 are never mixed):
 *
 *   ip route replace default table T proto pathguard \
 *       nexthop via PEER1 weight W1 nexthop via PEER2 weight W2 ...
 *   ip rule add priority P-1 [fwmark M/K] lookup main suppress_prefixlength 0 proto pathguard
 *   ip rule add priority P from POOL_PREFIX [fwmark M/K] lookup T proto pathguard   (each prefix)
 *
 * The companion rule at P-1 sends traffic to every destination the main
 * table knows more specifically than its default route (on-link subnets,
 * pod and service CIDRs) through main, so replies from LoadBalancer addresses
 * to in-cluster peers are not hairpinned through the routers; only what main
 * would send to its default route falls through to table T. It carries the
 * fwmark when one is configured, so it only ever sees packets the pool rules
 * would see.
 *
 * Interpretations, documented because MetalLB does not define them:
 * - a pool is routed when some BGPAdvertisement selects it (by name, by
 *   ipAddressPoolSelectors, or by naming nothing, which means every pool);
 *   pools only an L2Advertisement selects are not;
 * - BGPAdvertisement nodeSelectors are not applied: a node that does not
 *   announce a pool may still answer for it (direct server return, or
 *   externalTrafficPolicy Local pods moved between announcements), and its
 *   replies must still leave through the peers;
 * - a peer applies when it has no nodeSelectors or any one matches the node;
 * - node label `metallb-nra/enabled` = false|0|no|off turns return-path
 *   routing off on the node: the desired state is empty on purpose, so
 *   everything pathguard installed is removed;
 * - node label `metallb-nra/address` replaces, for each family it names, the
 *   peers of that family with the given gateway address(es). Label values
 *   cannot hold ':' or ',', so several IPv4 addresses are separated by '_'
 *   (',' and spaces are accepted too, for labels given in a file); an IPv6
 *   override can only come from a static file.
 * - a family with pools but no usable peer gets neither rules nor a route
 *   (a rule pointing at an empty table would only fall through).
 */
import { AF, RT_TABLE, RTPROT_PATHGUARD, defaultDst, familyName, type Family, type Nexthop, type RouteSpec, type RuleSpec } from './objects.js';
import { containsAddress, parseAddress, parsePrefix, type NumericAddress, type NumericPrefix } from './prefix.js';
import { problem, type RouteProblem } from './problem.js';
import { matchesAny, type Labels } from './selector.js';
import type { MetallbModel, Pool } from './metallb.js';
import { addressScope, parseAddress as addressBytes } from '../wire/ip-address.js';

export const NODE_LABEL = {
  ENABLED: 'metallb-nra/enabled',
  ADDRESS: 'metallb-nra/address',
} as const;

export interface NodeInfo {
  readonly name: string;
  readonly labels: Labels;
}

export interface OnLinkPrefix {
  /** `addr/len`; host bits are ignored. */
  readonly prefix: string;
  readonly ifindex: number;
}

/** What the node reaches directly; from RTM_GETADDR and the main table's scope-link routes. */
export interface Reachability {
  /** Prefixes reachable without a gateway: interface address prefixes and scope-link routes of the main table. */
  readonly onLink: readonly OnLinkPrefix[];
  /** The node's own addresses; a peer must not be one of them. */
  readonly local: readonly string[];
}

export interface PeerWeights {
  /** 1..256, the weight of every peer not in perPeer. */
  readonly default: number;
  /** Canonical address → weight. */
  readonly perPeer?: ReadonlyMap<string, number>;
}

export interface FwMark {
  readonly value: number;
  readonly mask?: number;
}

export interface DesiredOptions {
  readonly table: number;
  /** Priority of the pool rules; the companion rule takes priority - 1. */
  readonly priority: number;
  readonly fwmark?: FwMark;
  /** Install the companion `lookup main suppress_prefixlength 0` rule. */
  readonly suppress: boolean;
  readonly peerWeight: PeerWeights;
  /** Defaults to RTPROT_PATHGUARD. */
  readonly protocol?: number;
  /** Without it, peers are not checked for being on-link and IPv6 link-local peers cannot be used. */
  readonly reachability?: Reachability;
}

export interface SelectedPeer {
  /** The BGPPeer name(s), or the label that overrode them. */
  readonly name: string;
  readonly family: Family;
  readonly address: string;
  readonly weight: number;
  readonly oif?: number;
}

export interface DesiredState {
  readonly rules: readonly RuleSpec[];
  readonly routes: readonly RouteSpec[];
  /** The model's problems followed by this node's. */
  readonly problems: readonly RouteProblem[];
  /** The node opted out: the state is empty on purpose. */
  readonly disabled: boolean;
  /** Names of the BGP-advertised pools, sorted. */
  readonly pools: readonly string[];
  /** The peers the routes go through, by family then address. */
  readonly peers: readonly SelectedPeer[];
}

const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);
const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);

function nodeEnabled(labels: Labels, problems: RouteProblem[]): boolean {
  if (!Object.prototype.hasOwnProperty.call(labels, NODE_LABEL.ENABLED)) return true;
  const v = (labels[NODE_LABEL.ENABLED] ?? '').trim().toLowerCase();
  if (FALSE_WORDS.has(v)) return false;
  if (!TRUE_WORDS.has(v)) {
    problems.push(problem('error', 'bad-label', `node label ${NODE_LABEL.ENABLED}`, 'expected true or false; treated as true', { value: labels[NODE_LABEL.ENABLED] }));
  }
  return true;
}

/** The override addresses by family, or undefined when the label is absent or unusable. */
function addressOverride(labels: Labels, problems: RouteProblem[]): Map<Family, NumericAddress[]> | undefined {
  if (!Object.prototype.hasOwnProperty.call(labels, NODE_LABEL.ADDRESS)) return undefined;
  const raw = labels[NODE_LABEL.ADDRESS] ?? '';
  const parts = raw.split(/[,_\s]+/).filter((s) => s !== '');
  const out = new Map<Family, NumericAddress[]>();
  for (const part of parts) {
    const a = parseAddress(part);
    if (!a) {
      problems.push(problem('error', 'bad-label', `node label ${NODE_LABEL.ADDRESS}`, 'expected IP addresses separated by _ ; label ignored', { value: raw }));
      return undefined;
    }
    const list = out.get(a.family) ?? [];
    list.push(a);
    out.set(a.family, list);
  }
  if (out.size === 0) {
    problems.push(problem('error', 'bad-label', `node label ${NODE_LABEL.ADDRESS}`, 'expected at least one IP address; label ignored', { value: raw }));
    return undefined;
  }
  return out;
}

/**
 * Each family's pool prefixes, deduplicated across pools, in address order.
 * Sorting then dropping neighbours costs less than a Map of tens of
 * thousands of strings; IPv4 sorts on a number, not on the bigint.
 */
function poolPrefixes(pools: readonly Pool[]): Map<Family, NumericPrefix[]> {
  const v4: { key: number; p: NumericPrefix }[] = [];
  const v6: NumericPrefix[] = [];
  for (const pool of pools) {
    for (const p of pool.prefixes) {
      if (p.family === AF.INET) v4.push({ key: Number(p.value) * 64 + p.length, p });
      else v6.push(p);
    }
  }
  v4.sort((a, b) => a.key - b.key);
  v6.sort((a, b) => cmpBig(a.value, b.value) || a.length - b.length);
  const out4: NumericPrefix[] = [];
  let last = -1;
  for (const x of v4) {
    if (x.key !== last) out4.push(x.p);
    last = x.key;
  }
  const out6 = v6.filter((p, i) => i === 0 || p.value !== v6[i - 1]?.value || p.length !== v6[i - 1]?.length);
  return new Map<Family, NumericPrefix[]>([[AF.INET, out4], [AF.INET6, out6]]);
}

/** Pools some BGP advertisement selects, in model order. */
function advertisedPools(model: MetallbModel, problems: RouteProblem[]): readonly Pool[] {
  const bgp = model.advertisements.filter((a) => a.kind === 'bgp');
  const all = bgp.some((a) => a.pools.length === 0 && a.poolSelectors.length === 0);
  const named = bgp.some((a) => a.pools.length > 0);
  const byName = named ? new Map(model.pools.map((p) => [p.name, p] as const)) : new Map<string, Pool>();
  const chosen = new Set<string>();
  for (const adv of bgp) {
    if (adv.pools.length === 0 && adv.poolSelectors.length === 0) continue;
    for (const name of adv.pools) {
      if (byName.has(name)) chosen.add(name);
      else problems.push(problem('notice', 'unknown-reference', adv.item, 'names a pool that does not exist', { field: 'spec.ipAddressPools', value: name }));
    }
    if (adv.poolSelectors.length > 0 && !all) {
      for (const p of model.pools) if (matchesAny(adv.poolSelectors, p.labels)) chosen.add(p.name);
    }
  }
  return all ? model.pools : model.pools.filter((p) => chosen.has(p.name));
}

interface Candidate {
  names: string[];
  items: string[];
  address: NumericAddress;
}

const UNUSABLE_RANGES = new Set(['unspecified', 'loopback', 'multicast', 'broadcast', 'ipv4Mapped']);

/** Whether an address can be a gateway; the oif to pin it to when it must be; or why not. */
function usable(
  c: Candidate,
  reach: { onLink: { prefix: NumericPrefix; ifindex: number }[]; local: Set<string> } | undefined,
): { ok: true; oif?: number } | { ok: false; code: 'unusable-peer' | 'off-link-peer'; why: string } {
  const range = addressScope(addressBytes(c.address.text));
  if (UNUSABLE_RANGES.has(range)) return { ok: false, code: 'unusable-peer', why: `a ${range} address cannot be a gateway` };
  const linkLocal = c.address.family === AF.INET6 && range === 'linkLocal';
  if (!reach) {
    if (linkLocal) return { ok: false, code: 'unusable-peer', why: 'a link-local gateway needs its interface, and no on-link prefixes were given' };
    return { ok: true };
  }
  if (reach.local.has(c.address.text)) return { ok: false, code: 'unusable-peer', why: 'the address is one of this node\'s own' };
  const ifs = new Set<number>();
  for (const o of reach.onLink) if (containsAddress(o.prefix, c.address.family, c.address.value)) ifs.add(o.ifindex);
  if (ifs.size === 0) return { ok: false, code: 'off-link-peer', why: 'not inside any on-link prefix of this node; a gateway must be directly reachable' };
  if (linkLocal) {
    if (ifs.size > 1) return { ok: false, code: 'unusable-peer', why: `link-local address on-link on ${ifs.size} interfaces; cannot tell which one` };
    return { ok: true, oif: [...ifs][0] as number };
  }
  return { ok: true };
}

export function desiredState(model: MetallbModel, node: NodeInfo, options: DesiredOptions): DesiredState {
  const protocol = options.protocol ?? RTPROT_PATHGUARD;
  const labelProblems: RouteProblem[] = [];
  if (!nodeEnabled(node.labels, labelProblems)) {
    return { rules: [], routes: [], problems: labelProblems, disabled: true, pools: [], peers: [] };
  }
  // model problems first; copied, not spread into a call (a hostile file can hold any number)
  const problems: RouteProblem[] = model.problems.slice();
  for (const p of labelProblems) problems.push(p);

  // pool prefixes by family, deduplicated across pools
  const pools = advertisedPools(model, problems);
  const prefixes = poolPrefixes(pools);

  // peers that apply to this node, deduplicated by address
  const candidates = new Map<string, Candidate>();
  for (const peer of model.peers) {
    if (!matchesAny(peer.nodeSelectors, node.labels)) continue;
    const c = candidates.get(peer.address.text);
    if (c) {
      c.names.push(peer.name);
      c.items.push(peer.item);
    } else candidates.set(peer.address.text, { names: [peer.name], items: [peer.item], address: peer.address });
  }
  const override = addressOverride(node.labels, problems);
  if (override) {
    for (const [family, addrs] of override) {
      for (const [k, c] of candidates) if (c.address.family === family) candidates.delete(k);
      for (const a of addrs) {
        candidates.set(a.text, { names: [`label ${NODE_LABEL.ADDRESS}`], items: [`node label ${NODE_LABEL.ADDRESS}`], address: a });
      }
    }
  }

  const reach = options.reachability && {
    onLink: options.reachability.onLink.flatMap((o) => {
      const prefix = parsePrefix(o.prefix);
      return prefix ? [{ prefix, ifindex: o.ifindex }] : [];
    }),
    local: new Set(options.reachability.local.flatMap((s) => parseAddress(s)?.text ?? [])),
  };

  const selected: SelectedPeer[] = [];
  for (const c of candidates.values()) {
    const u = usable(c, reach);
    if (!u.ok) {
      for (const item of c.items) problems.push(problem('error', u.code, item, `${u.why}; peer skipped`, { value: c.address.text }));
      continue;
    }
    const weight = options.peerWeight.perPeer?.get(c.address.text) ?? options.peerWeight.default;
    const s: { -readonly [K in keyof SelectedPeer]: SelectedPeer[K] } = { name: c.names.join(','), family: c.address.family, address: c.address.text, weight };
    if (u.oif !== undefined) s.oif = u.oif;
    selected.push(s);
  }
  const order = new Map([...candidates.values()].map((c) => [c.address.text, c.address.value] as const));
  selected.sort((a, b) => a.family - b.family || cmpBig(order.get(a.address) ?? 0n, order.get(b.address) ?? 0n));

  const rules: RuleSpec[] = [];
  const routes: RouteSpec[] = [];
  const fwmark = options.fwmark?.value;
  const fwmask = options.fwmark && (options.fwmark.mask ?? 0xffff_ffff);
  // one literal per shape (no spreads): tens of thousands of these are built per reconcile
  const rule = (family: Family, priority: number, table: number, src: string | undefined): RuleSpec => {
    if (src === undefined) {
      return fwmark === undefined
        ? { family, priority, table, suppressPrefixlen: 0, protocol }
        : { family, priority, table, fwmark, fwmask, suppressPrefixlen: 0, protocol };
    }
    return fwmark === undefined ? { family, priority, src, table, protocol } : { family, priority, src, table, fwmark, fwmask, protocol };
  };
  for (const family of [AF.INET, AF.INET6] as const) {
    const fam = prefixes.get(family) ?? [];
    const peers = selected.filter((p) => p.family === family);
    if (peers.length === 0) {
      if (fam.length > 0) {
        problems.push(problem('notice', 'no-peers', `node ${node.name}`, `no usable ${familyName(family)} peer for this node; its ${fam.length} ${familyName(family)} pool prefix(es) are not routed`));
      }
      continue;
    }
    const nexthops: Nexthop[] = peers.map((p) => (p.oif === undefined ? { gateway: p.address, weight: p.weight } : { gateway: p.address, weight: p.weight, oif: p.oif }));
    routes.push({ family, table: options.table, dst: defaultDst(family), nexthops, protocol });
    if (fam.length === 0) continue;
    if (options.suppress) {
      rules.push(rule(family, options.priority - 1, RT_TABLE.MAIN, undefined));
    }
    for (const pre of fam) rules.push(rule(family, options.priority, options.table, pre.text));
  }
  return { rules, routes, problems, disabled: false, pools: pools.map((p) => p.name).sort(), peers: selected };
}

function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
