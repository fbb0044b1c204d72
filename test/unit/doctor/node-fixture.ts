/**
 * Snapshots for the doctor's unit tests: a healthy node (one uplink, a
 * default route, the sysctls a well-run node has, a stateful input chain and
 * pathguard's capture table) that tests change one thing at a time, plus
 * firewall material captured from the real kernel.
 */
import { decodeSnapshot, type Snapshot } from '../../../src/doctor/snapshot.js';
import { NO_INPUTS, type DoctorInputs } from '../../../src/doctor/finding.js';
import { parseAddress, parsePrefix } from '../../../src/routes/prefix.js';

export type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer U)[] ? U[] : T[K] };
export type Node = Mutable<Snapshot>;

/**
 * `nft -j list table inet filter` (nftables 1.0.6, Linux 6.18) after
 * `nft -f` of:
 *   table inet filter {
 *     chain input { type filter hook input priority filter; policy drop;
 *       ct state established,related accept
 *       iifname "lo" accept
 *       meta l4proto icmp drop
 *       icmpv6 type packet-too-big drop
 *       icmp type { echo-request, destination-unreachable } drop
 *       ip saddr 203.0.113.0/24 drop
 *       tcp dport 22 accept
 *       jump extra }
 *     chain extra {
 *       icmp type destination-unreachable icmp code frag-needed drop
 *       log group 33
 *       icmpv6 type packet-too-big log group 33 } }
 */
export const NFT_INET_FILTER: Record<string, unknown>[] = [
  {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
  {"table": {"family": "inet", "name": "filter", "handle": 1}},
  {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
  {"chain": {"family": "inet", "table": "filter", "name": "extra", "handle": 2}},
  {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 3, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}},
  {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 4, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lo"}}, {"accept": null}]}},
  {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 5, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "icmp"}}, {"drop": null}]}},
  {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 6, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "icmpv6", "field": "type"}}, "right": "packet-too-big"}}, {"drop": null}]}},
  {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 8, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "icmp", "field": "type"}}, "right": {"set": ["destination-unreachable", "echo-request"]}}}, {"drop": null}]}},
  {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 9, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "203.0.113.0", "len": 24}}}}, {"drop": null}]}},
  {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 10, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"accept": null}]}},
  {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 11, "expr": [{"jump": {"target": "extra"}}]}},
  {"rule": {"family": "inet", "table": "filter", "chain": "extra", "handle": 12, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "icmp", "field": "type"}}, "right": "destination-unreachable"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "icmp", "field": "code"}}, "right": "frag-needed"}}, {"drop": null}]}},
  {"rule": {"family": "inet", "table": "filter", "chain": "extra", "handle": 13, "expr": [{"log": {"group": 33}}]}},
  {"rule": {"family": "inet", "table": "filter", "chain": "extra", "handle": 14, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "icmpv6", "field": "type"}}, "right": "packet-too-big"}}, {"log": {"group": 33}}]}},
];

/** The same table without its first rule (handle 3, `ct state established,related accept`). */
export function nftWithoutConntrackAccept(): Record<string, unknown>[] {
  return NFT_INET_FILTER.filter((i) => !((i['rule'] as { handle?: number } | undefined)?.handle === 3));
}

/** pathguard's capture table, as `nft -j list ruleset` shows it (abridged to the table and one rule). */
export const NFT_PATHGUARD: Record<string, unknown>[] = [
  { table: { family: 'inet', name: 'pathguard', handle: 9 } },
  { chain: { family: 'inet', table: 'pathguard', name: 'capture', handle: 1, type: 'filter', hook: 'prerouting', prio: -300, policy: 'accept' } },
  {
    rule: {
      family: 'inet', table: 'pathguard', chain: 'capture', handle: 2,
      expr: [
        { match: { op: '==', left: { payload: { protocol: 'icmp', field: 'type' } }, right: 'destination-unreachable' } },
        { match: { op: '==', left: { payload: { protocol: 'icmp', field: 'code' } }, right: 'frag-needed' } },
        { log: { group: 33 } },
      ],
    },
  },
];

/** A stateful input chain that lets ICMP errors through: `ct state established,related accept; tcp dport 22 accept`, policy drop. */
export const NFT_HEALTHY_INPUT: Record<string, unknown>[] = NFT_INET_FILTER.filter((i) => {
  const r = i['rule'] as { handle?: number } | undefined;
  const c = i['chain'] as { name?: string } | undefined;
  return (r === undefined || r.handle === 3 || r.handle === 10) && c?.name !== 'extra';
});

/** A healthy node: lo, eth0 (192.0.2.10/24, 2001:db8:1::10/64, MTU 1500), default routes via .1 / ::1. */
export function healthyNode(): Node {
  const s: Snapshot = {
    version: 1,
    takenAt: '2026-01-01T00:00:00.000Z',
    hostname: 'node-1',
    kernel: { release: '6.18.0' },
    links: [
      { index: 1, name: 'lo', type: 772, mtu: 65536, up: true, lowerUp: true, operstate: 'unknown' },
      { index: 2, name: 'eth0', type: 1, mtu: 1500, up: true, lowerUp: true, operstate: 'up' },
    ],
    addresses: [
      { ifindex: 1, family: 4, address: '127.0.0.1', prefixlen: 8, scope: 254 },
      { ifindex: 1, family: 6, address: '::1', prefixlen: 128, scope: 254 },
      { ifindex: 2, family: 4, address: '192.0.2.10', prefixlen: 24, scope: 0 },
      { ifindex: 2, family: 6, address: '2001:db8:1::10', prefixlen: 64, scope: 0 },
    ],
    routes: [
      { family: 4, table: 254, dst: '0.0.0.0/0', type: 1, protocol: 4, scope: 0, oif: 2, gateway: '192.0.2.1' },
      { family: 4, table: 254, dst: '192.0.2.0/24', type: 1, protocol: 2, scope: 253, oif: 2, prefsrc: '192.0.2.10' },
      { family: 4, table: 255, dst: '192.0.2.10/32', type: 2, protocol: 2, scope: 254, oif: 2, prefsrc: '192.0.2.10' },
      { family: 6, table: 254, dst: '::/0', type: 1, protocol: 4, scope: 0, oif: 2, gateway: '2001:db8:1::1', priority: 1024 },
      { family: 6, table: 254, dst: '2001:db8:1::/64', type: 1, protocol: 2, scope: 0, oif: 2, priority: 256 },
    ],
    rules: [
      { family: 4, priority: 0, table: 255, action: 1 },
      { family: 4, priority: 32766, table: 254, action: 1 },
      { family: 4, priority: 32767, table: 253, action: 1 },
      { family: 6, priority: 0, table: 255, action: 1 },
      { family: 6, priority: 32766, table: 254, action: 1 },
    ],
    neighbours: [{ ifindex: 2, family: 4, address: '192.0.2.1', lladdr: '02:00:00:00:00:01', state: 2 }],
    sysctls: {
      'net.ipv4.ip_forward': '1',
      'net.ipv4.ip_no_pmtu_disc': '0',
      'net.ipv4.route.min_pmtu': '552',
      'net.ipv4.tcp_mtu_probing': '1',
      'net.ipv4.tcp_base_mss': '1024',
      'net.ipv4.fib_multipath_use_neigh': '1',
      'net.netfilter.nf_conntrack_max': '262144',
      'net.netfilter.nf_conntrack_count': '120',
      'net.ipv4.conf.all.rp_filter': '2',
      'net.ipv4.conf.default.rp_filter': '2',
      'net.ipv4.conf.eth0.rp_filter': '2',
      'net.ipv4.conf.lo.rp_filter': '0',
      'net.ipv4.conf.all.arp_ignore': '1',
      'net.ipv4.conf.all.arp_announce': '2',
      'net.ipv4.conf.eth0.arp_ignore': '0',
      'net.ipv4.conf.eth0.arp_announce': '0',
      'net.ipv6.conf.all.forwarding': '1',
      'net.ipv6.conf.all.disable_ipv6': '0',
      'net.ipv6.conf.eth0.disable_ipv6': '0',
    },
    nftables: [{ metainfo: { version: '1.0.6' } }, ...NFT_HEALTHY_INPUT, ...NFT_PATHGUARD],
    conntrack: { count: 120, max: 262144 },
    problems: [],
  };
  return structuredClone(s) as Node;
}

/** Validates through the decoder, as a saved snapshot would be. */
export function snap(n: Node): Snapshot {
  return decodeSnapshot(JSON.parse(JSON.stringify(n)));
}

export function inputs(over: Partial<{ vipNetworks: string[]; bgpPools: { name: string; prefixes: string[] }[]; bgpPeers: string[]; tunnelEndpoints: string[]; podNetworks: string[] }> = {}): DoctorInputs {
  const p = (t: string) => parsePrefix(t)!;
  const a = (t: string) => parseAddress(t)!;
  return {
    ...NO_INPUTS,
    vipNetworks: (over.vipNetworks ?? []).map(p),
    bgpPools: (over.bgpPools ?? []).map((x) => ({ name: x.name, prefixes: x.prefixes.map(p) })),
    bgpPeers: (over.bgpPeers ?? []).map(a),
    tunnelEndpoints: (over.tunnelEndpoints ?? []).map(a),
    podNetworks: (over.podNetworks ?? []).map(p),
  };
}

/** Adds a link (next free index) and returns it. */
export function addLink(n: Node, l: Omit<Node['links'][number], 'index'> & { index?: number }): Node['links'][number] {
  const link = { ...l, index: l.index ?? Math.max(...n.links.map((x) => x.index)) + 1 } as Node['links'][number];
  n.links.push(link);
  return link;
}
