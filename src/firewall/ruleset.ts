/**
 * The nftables table pathguard owns (`table inet pathguard`), generated as one
 * text ruleset for `nft -f` (nft(8), "RULESET"; libnftables parses the text,
 * the kernel commits it as one nf_tables transaction — net/netfilter/
 * nf_tables_api.c, nf_tables_commit). Pure: no I/O, every value that reaches
 * the text is validated here first, nothing is interpolated unchecked.
 *
 * Where the relay captures, and why there:
 *
 *   chain capture { type filter hook prerouting priority raw (-300) }
 *
 * - prerouting, not input: the ICMP error is addressed to a VIP. When the VIP
 *   is local (MetalLB/LVS-DR: on lo or kube-ipvs0) the packet would reach
 *   input, but when it is DNATed to a pod (kube-proxy iptables/nftables mode)
 *   it is forwarded and input never sees it. Prerouting sees both, and sees
 *   the packet before the routing decision, so an rp_filter drop of an
 *   asymmetric ICMP (ECMP!) cannot hide it either.
 * - priority raw (-300, NF_IP_PRI_RAW) is before conntrack (-200,
 *   NF_IP_PRI_CONNTRACK) and DNAT (-100, NF_IP_PRI_NAT_DST): the packet is
 *   logged exactly as it arrived, which is what a replica must carry so the
 *   owner's conntrack/NAT treats it like the original. It is after defrag
 *   (-400, NF_IP_PRI_CONNTRACK_DEFRAG) when conntrack is loaded, and nft's
 *   transport-header matches never match a non-first fragment (pkt->fragoff,
 *   nft_payload_eval), so only whole ICMP headers are matched.
 *
 * Loop freedom by construction: a replica is recognised and never logged
 * again. The `too_big` chain returns early (with a counter) for
 *   - frames to ff:ff:ff:ff:ff:ff        (broadcast transport)
 *   - source MAC in @peer_mac            (l2 transport)
 *   - source IP in @peer_v4 / @peer_v6   (ip transport re-originates from the peer)
 * and the capture chain returns for the TUN interface (udp transport
 * injects replicas there), which additionally is never an uplink.
 *
 * Re-applying: nft's `add` of an existing object is a no-op, so the text
 * starts with `table inet pathguard` (create if missing) and then either
 *   - `delete table inet pathguard` (mode 'replace': everything new, counters
 *     from zero — used at agent start, and the only way to change a base
 *     chain's hook or priority, which the kernel refuses to modify in place
 *     with EOPNOTSUPP), or
 *   - `flush table inet pathguard` (mode 'update': every rule removed and
 *     re-added; named counters keep their values and so stay monotonic for
 *     Prometheus; set elements are kept by `flush table`, so the sets are
 *     flushed and refilled explicitly).
 * kube-proxy's nftables mode does the same (add table; flush table; define).
 * Objects the new text does not use are removed with the "add then delete"
 * idiom, which is valid whether or not they existed. The whole file is one
 * transaction: packets see the old table or the new one, never a gap, and a
 * text that fails to parse or commit leaves the previous table untouched.
 */
import { compareAddresses, formatAddress, parseAddress, tryParseAddress } from '../wire/ip-address.js';
import { ConfigError, type ConfigProblem } from '../errors.js';

/** The table pathguard owns. Nothing outside it is ever touched. */
export const PATHGUARD_TABLE = { family: 'inet', name: 'pathguard' } as const;

/** Named sets of replica sources (the peer nodes). */
export const PEER_SETS = {
  v4: 'peer_v4', // type ipv4_addr
  v6: 'peer_v6', // type ipv6_addr
  mac: 'peer_mac', // type ether_addr
} as const;

/**
 * Named counter objects, one per rule, readable with
 * `nft -j list table inet pathguard` (see readCounters in ./nft.ts).
 */
export const COUNTERS = [
  'replica_tun', // any packet entering through the TUN interface (udp transport replicas)
  'replica_broadcast', // too-big to ff:ff:ff:ff:ff:ff (broadcast transport replicas)
  'replica_peer_mac', // too-big from a peer's MAC (l2 transport replicas)
  'replica_peer_v4', // too-big from a peer's IPv4 address (ip transport replicas)
  'replica_peer_v6', // too-big from a peer's IPv6 address
  'captured_v4', // ICMPv4 frag-needed handed to NFLOG
  'captured_v6', // ICMPv6 packet-too-big handed to NFLOG
  'udp_peer', // relay datagrams from a peer (passed on)
  'udp_refused', // relay datagrams from anyone else (dropped)
] as const;
export type CounterName = (typeof COUNTERS)[number];

/** Addresses and MACs of the peer nodes, as set elements. */
export interface PeerElements {
  readonly v4: readonly string[];
  readonly v6: readonly string[];
  readonly mac: readonly string[];
}

export interface RelayRulesetOptions {
  /** Interfaces where ICMP errors arrive from the network; a trailing `*` is a prefix wildcard ("eth*"). */
  readonly uplinks: readonly string[];
  /** NFLOG group the relay reads (0–65535); with `shards`, the first of consecutive groups. */
  readonly nflogGroup: number;
  /**
   * Groups to spread captured messages over, one per data-plane worker
   * (default 1): by a hash of the outer source address (nft `jhash`), so all
   * messages from one router reach the same worker.
   */
  readonly shards?: number;
  /** The udp transport's TUN interface: never captured, and its traffic is counted as replicas. */
  readonly tunInterface?: string;
  /** When set, the udp transport's port: datagrams from peers pass, all others are dropped. */
  readonly udpPort?: number;
  /** Initial contents of the peer sets. */
  readonly peers?: PeerElements;
}

export type ApplyMode = 'replace' | 'update';

/** Linux dev_valid_name() allows more; this subset cannot break out of an nft or shell string. */
const IFNAME = /^[A-Za-z0-9_.-]+$/;
/** IFNAMSIZ (include/uapi/linux/if.h) is 16 including the terminating NUL. */
const IFNAMSIZ = 16;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** The reason `text` is not an interface name pathguard accepts, or undefined when it is. */
export function interfaceNameProblem(text: string, opts: { wildcard?: boolean } = {}): string | undefined {
  const wild = opts.wildcard === true && text.endsWith('*');
  const name = wild ? text.slice(0, -1) : text;
  if (name.length === 0) return 'a non-empty interface name';
  if (name.length > IFNAMSIZ - 1) return `an interface name of at most ${IFNAMSIZ - 1} characters (IFNAMSIZ)`;
  if (name === '.' || name === '..' || !IFNAME.test(name)) {
    return `an interface name of letters, digits, '_', '.', '-'${opts.wildcard ? " (optionally ending in '*')" : ''}`;
  }
  return undefined;
}

/** True when the wildcard-or-exact uplink pattern matches interface `name`. */
function ifaceMatches(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : pattern === name;
}

interface ValidPeers {
  v4: string[];
  v6: string[];
  mac: string[];
}

/** Validates and canonicalises set elements; sorted and deduplicated so the text is deterministic. */
function validatePeers(peers: PeerElements | undefined, field: string, problems: ConfigProblem[]): ValidPeers {
  const out: ValidPeers = { v4: [], v6: [], mac: [] };
  if (peers === undefined) return out;
  peers.v4.forEach((a, i) => {
    const b = typeof a === 'string' && !a.includes(':') ? tryParseAddress(a) : undefined;
    if (b) out.v4.push(formatAddress(b));
    else problems.push({ field: `${field}.v4[${i}]`, value: a, expected: 'a dotted-quad IPv4 address' });
  });
  peers.v6.forEach((a, i) => {
    const b = typeof a === 'string' && a.includes(':') ? tryParseAddress(a) : undefined;
    if (b) out.v6.push(formatAddress(b));
    else problems.push({ field: `${field}.v6[${i}]`, value: a, expected: 'an IPv6 address without zone' });
  });
  peers.mac.forEach((m, i) => {
    const lower = typeof m === 'string' ? m.toLowerCase() : '';
    if (MAC.test(lower)) out.mac.push(lower);
    else problems.push({ field: `${field}.mac[${i}]`, value: m, expected: 'a MAC address like 02:00:5e:00:53:01' });
  });
  const byAddress = (a: string, b: string) => compareAddresses(parseAddress(a), parseAddress(b));
  out.v4 = sortUnique(out.v4, byAddress);
  out.v6 = sortUnique(out.v6, byAddress);
  out.mac = sortUnique(out.mac, (a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return out;
}

function sortUnique(xs: string[], cmp: (a: string, b: string) => number): string[] {
  return [...new Set(xs)].sort(cmp);
}

/** Most data-plane workers, and so NFLOG groups, a relay spreads capture over. */
export const MAX_SHARDS = 16;

interface ValidOptions {
  uplinks: string[];
  nflogGroup: number;
  shards: number;
  tunInterface?: string;
  udpPort?: number;
  peers: ValidPeers;
}

function validate(opts: RelayRulesetOptions): ValidOptions {
  const problems: ConfigProblem[] = [];
  if (!Array.isArray(opts.uplinks) || opts.uplinks.length === 0) {
    problems.push({ field: 'uplinks', value: opts.uplinks, expected: 'at least one uplink interface' });
  }
  const uplinks: string[] = [];
  (opts.uplinks ?? []).forEach((u, i) => {
    const p = typeof u === 'string' ? interfaceNameProblem(u, { wildcard: true }) : 'a string';
    if (p !== undefined) problems.push({ field: `uplinks[${i}]`, value: u, expected: p });
    else if (!uplinks.includes(u)) uplinks.push(u);
  });
  if (!Number.isInteger(opts.nflogGroup) || opts.nflogGroup < 0 || opts.nflogGroup > 0xffff) {
    problems.push({ field: 'nflogGroup', value: opts.nflogGroup, expected: 'an integer 0-65535' });
  }
  const shards = opts.shards ?? 1;
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS) {
    problems.push({ field: 'shards', value: opts.shards, expected: `an integer 1-${MAX_SHARDS}` });
  } else if (Number.isInteger(opts.nflogGroup) && opts.nflogGroup >= 0 && opts.nflogGroup <= 0xffff && opts.nflogGroup + shards - 1 > 0xffff) {
    problems.push({ field: 'nflogGroup', value: opts.nflogGroup, expected: `a group that leaves room for ${shards} consecutive groups (at most ${0x10000 - shards})` });
  }
  if (opts.tunInterface !== undefined) {
    const p = interfaceNameProblem(opts.tunInterface);
    if (p !== undefined) problems.push({ field: 'tunInterface', value: opts.tunInterface, expected: p });
    else if (uplinks.some((u) => ifaceMatches(u, opts.tunInterface!))) {
      // A TUN that is also an uplink would capture the replicas it injects.
      problems.push({ field: 'tunInterface', value: opts.tunInterface, expected: 'an interface that no uplink pattern matches' });
    }
  }
  if (opts.udpPort !== undefined && (!Number.isInteger(opts.udpPort) || opts.udpPort < 1 || opts.udpPort > 0xffff)) {
    problems.push({ field: 'udpPort', value: opts.udpPort, expected: 'an integer 1-65535' });
  }
  const peers = validatePeers(opts.peers, 'peers', problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    uplinks,
    nflogGroup: opts.nflogGroup,
    shards,
    ...(opts.tunInterface !== undefined ? { tunInterface: opts.tunInterface } : {}),
    ...(opts.udpPort !== undefined ? { udpPort: opts.udpPort } : {}),
    peers,
  };
}

/** A validated interface name as an nft string literal. */
function nftString(s: string): string {
  return `"${s}"`;
}

function nftIfaces(names: readonly string[]): string {
  return names.length === 1 ? nftString(names[0]!) : `{ ${names.map(nftString).join(', ')} }`;
}

const T = `${PATHGUARD_TABLE.family} ${PATHGUARD_TABLE.name}`;

/** `flush set` + `add element` for the three peer sets: replaces their contents in the same transaction. */
function setContents(p: ValidPeers): string[] {
  const out: string[] = [];
  for (const [set, elems] of [
    [PEER_SETS.v4, p.v4],
    [PEER_SETS.v6, p.v6],
    [PEER_SETS.mac, p.mac],
  ] as const) {
    out.push(`flush set ${T} ${set}`);
    // An empty element list is a syntax error; an empty set is simply not filled.
    if (elems.length > 0) out.push(`add element ${T} ${set} { ${elems.join(', ')} }`);
  }
  return out;
}

/**
 * The too_big chain's last rules: count, then log to the group, or with
 * several shards to the group of `jhash(outer source) mod shards` (chains
 * log_0 .. log_N-1), so one router's messages always reach the same worker
 * and per-source rate limits stay exact.
 */
function captureRules(g: number, shards: number): string[] {
  if (shards === 1) {
    return [`\t\tmeta nfproto ipv4 counter name "captured_v4" log group ${g}`, `\t\tmeta nfproto ipv6 counter name "captured_v6" log group ${g}`];
  }
  const vmap = `vmap { ${Array.from({ length: shards }, (_, i) => `${i} : jump log_${i}`).join(', ')} }`;
  return [
    `\t\tmeta nfproto ipv4 counter name "captured_v4" jhash ip saddr mod ${shards} ${vmap}`,
    `\t\tmeta nfproto ipv6 counter name "captured_v6" jhash ip6 saddr mod ${shards} ${vmap}`,
  ];
}

/**
 * The relay's table as one `nft -f` transaction.
 *
 * mode 'replace' (default) deletes and recreates the table; 'update' keeps
 * counters and replaces rules and set contents (see the module comment).
 */
export function relayRuleset(opts: RelayRulesetOptions, { mode = 'replace' }: { mode?: ApplyMode } = {}): string {
  const o = validate(opts);
  const up = nftIfaces(o.uplinks);
  const used: CounterName[] = [
    ...(o.tunInterface !== undefined ? (['replica_tun'] as const) : []),
    'replica_broadcast',
    'replica_peer_mac',
    'replica_peer_v4',
    'replica_peer_v6',
    'captured_v4',
    'captured_v6',
    ...(o.udpPort !== undefined ? (['udp_peer', 'udp_refused'] as const) : []),
  ];
  const unused = COUNTERS.filter((c) => !used.includes(c));
  const g = o.nflogGroup;

  const lines: string[] = [
    `table ${T}`,
    mode === 'replace' ? `delete table ${T}` : `flush table ${T}`,
    `table ${T} {`,
  ];
  for (const c of used) lines.push(`\tcounter ${c} {`, `\t}`);
  lines.push(
    `\tset ${PEER_SETS.v4} {`,
    `\t\ttype ipv4_addr`,
    `\t}`,
    `\tset ${PEER_SETS.v6} {`,
    `\t\ttype ipv6_addr`,
    `\t}`,
    `\tset ${PEER_SETS.mac} {`,
    `\t\ttype ether_addr`,
    `\t}`,
    `\tchain capture {`,
    `\t\ttype filter hook prerouting priority raw; policy accept;`,
  );
  if (o.tunInterface !== undefined) lines.push(`\t\tiifname ${nftString(o.tunInterface)} counter name "replica_tun" return`);
  lines.push(
    // RFC 1191: type 3 (destination unreachable) code 4 (fragmentation needed and DF set).
    `\t\tiifname ${up} icmp type destination-unreachable icmp code frag-needed jump too_big`,
    // RFC 4443 §3.2: type 2; the code is always 0 and "ignored by the receiver", so it is not matched.
    `\t\tiifname ${up} icmpv6 type packet-too-big jump too_big`,
    `\t}`,
    `\tchain too_big {`,
    `\t\tether daddr ff:ff:ff:ff:ff:ff counter name "replica_broadcast" return`,
    `\t\tether saddr @${PEER_SETS.mac} counter name "replica_peer_mac" return`,
    `\t\tip saddr @${PEER_SETS.v4} counter name "replica_peer_v4" return`,
    `\t\tip6 saddr @${PEER_SETS.v6} counter name "replica_peer_v6" return`,
    ...captureRules(g, o.shards),
    `\t}`,
  );
  for (let i = 0; o.shards > 1 && i < o.shards; i++) lines.push(`\tchain log_${i} {`, `\t\tcounter log group ${g + i}`, `\t}`);
  if (o.udpPort !== undefined) {
    // An accept ends only this chain: another table's drop still drops. What
    // this chain adds is the drop of relay datagrams that do not come from a peer.
    const p = o.udpPort;
    lines.push(
      `\tchain udp_relay {`,
      `\t\ttype filter hook input priority filter; policy accept;`,
      `\t\tudp dport ${p} ip saddr @${PEER_SETS.v4} counter name "udp_peer" accept`,
      `\t\tudp dport ${p} ip6 saddr @${PEER_SETS.v6} counter name "udp_peer" accept`,
      `\t\tudp dport ${p} counter name "udp_refused" drop`,
      `\t}`,
    );
  } else if (mode === 'update') {
    // Declared (no-op when present) then deleted: gone either way.
    lines.push(`\tchain udp_relay {`, `\t\ttype filter hook input priority filter; policy accept;`, `\t}`);
  }
  lines.push(`}`);
  if (mode === 'update') {
    if (o.udpPort === undefined) lines.push(`delete chain ${T} udp_relay`);
    // After `flush table` no rule references them, so unused counters can go.
    for (const c of unused) lines.push(`add counter ${T} ${c}`, `delete counter ${T} ${c}`);
  }
  lines.push(...setContents(o.peers));
  return lines.join('\n') + '\n';
}

/** Replaces the contents of the three peer sets in one transaction. The table must exist. */
export function peerSetsUpdate(peers: PeerElements): string {
  const problems: ConfigProblem[] = [];
  const p = validatePeers(peers, 'peers', problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return setContents(p).join('\n') + '\n';
}

/** Deletes the table; valid whether or not it exists (created, then deleted, in one transaction). */
export function removeTableRuleset(): string {
  return `table ${T}\ndelete table ${T}\n`;
}

export type ManualFormat = 'nft' | 'iptables';

/**
 * The same capture (and udp) rules for operators who run with
 * `--no-manage-firewall` and keep the firewall themselves. Peers are written
 * in as they are known now: the text must be regenerated when peers change.
 *
 * iptables cannot match a destination MAC, so the broadcast replica is
 * recognised with `-m pkttype --pkt-type broadcast` (skb->pkt_type ==
 * PACKET_BROADCAST, set by eth_type_trans() for ff:ff:ff:ff:ff:ff).
 * Exclusions live in a PATHGUARD chain so that RETURN goes back to the
 * operator's PREROUTING instead of ending it with the chain policy.
 */
export function manualRules(opts: RelayRulesetOptions & { readonly format: ManualFormat }): string {
  if (opts.format === 'nft') {
    return (
      `# pathguard capture rules for nftables; load with: nft -f FILE\n` +
      `# The peer sets below are the peers known now; regenerate after they change.\n` +
      relayRuleset(opts, { mode: 'replace' })
    );
  }
  if (opts.format !== 'iptables') {
    throw new ConfigError([{ field: 'format', value: opts.format, expected: "'nft' or 'iptables'" }]);
  }
  const o = validate(opts);
  if (o.shards > 1) {
    throw new ConfigError([
      { field: 'workers (--workers)', value: o.shards, expected: '1 with iptables rules (they cannot hash sources to NFLOG groups); use --print-rules nft' },
    ]);
  }
  const ipt = (u: string) => u.replace(/\*$/, '+'); // iptables spells the prefix wildcard '+'
  const out: string[] = [
    `# pathguard capture rules for iptables/ip6tables (raw table, before conntrack), NFLOG group ${o.nflogGroup}.`,
    `# Peers are the ones known now; regenerate after they change.`,
  ];
  for (const fam of [4, 6] as const) {
    const cmd = fam === 4 ? 'iptables' : 'ip6tables';
    const addrs = fam === 4 ? o.peers.v4 : o.peers.v6;
    out.push(`${cmd} -t raw -N PATHGUARD`);
    out.push(`${cmd} -t raw -A PATHGUARD -m pkttype --pkt-type broadcast -j RETURN`);
    for (const m of o.peers.mac) out.push(`${cmd} -t raw -A PATHGUARD -m mac --mac-source ${m} -j RETURN`);
    for (const a of addrs) out.push(`${cmd} -t raw -A PATHGUARD -s ${a} -j RETURN`);
    out.push(`${cmd} -t raw -A PATHGUARD -j NFLOG --nflog-group ${o.nflogGroup}`);
    const match =
      fam === 4 ? '-p icmp -m icmp --icmp-type fragmentation-needed' : '-p ipv6-icmp -m icmp6 --icmpv6-type packet-too-big';
    for (const u of o.uplinks) out.push(`${cmd} -t raw -A PREROUTING -i ${ipt(u)} ${match} -j PATHGUARD`);
    if (o.udpPort !== undefined) {
      out.push(`${cmd} -N PATHGUARD-UDP`);
      for (const a of addrs) out.push(`${cmd} -A PATHGUARD-UDP -s ${a} -j RETURN`);
      out.push(`${cmd} -A PATHGUARD-UDP -j DROP`);
      out.push(`${cmd} -I INPUT -p udp --dport ${o.udpPort} -j PATHGUARD-UDP`);
    }
  }
  return out.join('\n') + '\n';
}
