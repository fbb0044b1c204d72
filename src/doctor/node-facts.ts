/**
 * Facts the checks share, derived from a snapshot once (memoised per
 * snapshot object): links by index and name, parsed routes and addresses,
 * effective sysctls, the node's service addresses, tunnel overheads, route
 * lookups. Pure; nothing here throws on a snapshot the decoder accepted.
 */
import { AF, RT_TABLE, RTN } from '../routes/objects.js';
import { containsAddress, parseAddress, parsePrefix, type NumericAddress, type NumericPrefix } from '../routes/prefix.js';
import type { DoctorInputs, Evidence } from './finding.js';
import type { Snapshot, SnapshotLink, SnapshotRoute } from './snapshot.js';

/** ARPHRD_* values the checks tell apart (include/uapi/linux/if_arp.h). */
export const ARPHRD = { ETHER: 1, TUNNEL: 768, TUNNEL6: 769, LOOPBACK: 772, IPGRE: 778, NONE: 65534 } as const;

/** Kinds that put packets inside other packets. */
export const ENCAP_KINDS = new Set(['vxlan', 'geneve', 'ipip', 'sit', 'ip6tnl', 'gre', 'gretap', 'ip6gre', 'ip6gretap', 'wireguard']);

/**
 * Fallback devices the tunnel modules create in every namespace
 * (net/ipv4/ipip.c "tunl0", ip_gre.c "gre0"/"gretap0"/"erspan0",
 * ip6_tunnel.c "ip6tnl0", ip6_gre.c "ip6gre0", sit.c "sit0"). They carry
 * traffic only when configured (Calico's IPIP uses tunl0 with an address).
 */
export const FALLBACK_TUNNELS = new Set(['tunl0', 'gre0', 'gretap0', 'erspan0', 'ip6tnl0', 'ip6gre0', 'sit0']);

export interface ParsedRoute {
  readonly route: SnapshotRoute;
  readonly prefix: NumericPrefix;
  /** Output interfaces (one, or one per nexthop). */
  readonly oifs: readonly number[];
  /** Gateways (one, or one per nexthop). */
  readonly gateways: readonly string[];
}

export interface NodeFacts {
  readonly byIndex: ReadonlyMap<number, SnapshotLink>;
  readonly byName: ReadonlyMap<string, SnapshotLink>;
  readonly routes: readonly ParsedRoute[];
  /** Routes per table. */
  readonly tables: ReadonlyMap<number, readonly ParsedRoute[]>;
  readonly addresses: readonly { readonly link: SnapshotLink | undefined; readonly address: NumericAddress; readonly prefixlen: number; readonly scope: number }[];
}

const cache = new WeakMap<Snapshot, NodeFacts>();

export function nodeFacts(s: Snapshot): NodeFacts {
  const hit = cache.get(s);
  if (hit) return hit;
  const byIndex = new Map<number, SnapshotLink>();
  const byName = new Map<string, SnapshotLink>();
  for (const l of s.links) {
    byIndex.set(l.index, l);
    byName.set(l.name, l);
  }
  const routes: ParsedRoute[] = [];
  const tables = new Map<number, ParsedRoute[]>();
  for (const r of s.routes) {
    const prefix = parsePrefix(r.dst);
    if (prefix === undefined) continue;
    const oifs = r.nexthops ? r.nexthops.flatMap((n) => (n.oif !== undefined ? [n.oif] : [])) : r.oif !== undefined ? [r.oif] : [];
    const gateways = r.nexthops ? r.nexthops.flatMap((n) => (n.gateway !== undefined ? [n.gateway] : [])) : r.gateway !== undefined ? [r.gateway] : [];
    const p: ParsedRoute = { route: r, prefix, oifs, gateways };
    routes.push(p);
    let t = tables.get(r.table);
    if (t === undefined) tables.set(r.table, (t = []));
    t.push(p);
  }
  const addresses: NodeFacts['addresses'][number][] = [];
  for (const a of s.addresses) {
    const address = parseAddress(a.address);
    if (address) addresses.push({ link: byIndex.get(a.ifindex), address, prefixlen: a.prefixlen, scope: a.scope });
  }
  const f: NodeFacts = { byIndex, byName, routes, tables, addresses };
  cache.set(s, f);
  return f;
}

// ---------------------------------------------------------------------------
// sysctls

/** A sysctl's value as an integer, or undefined when absent or not a number. */
export function sysctlInt(s: Snapshot, key: string): number | undefined {
  const v = s.sysctls[key];
  if (v === undefined || !/^-?\d+$/.test(v)) return undefined;
  return Number(v);
}

export function sysctlEvidence(s: Snapshot, key: string): Evidence {
  const v = s.sysctls[key];
  return { type: 'sysctl', key, value: v ?? null, text: `${key} = ${v ?? '(absent)'}` };
}

/** The dotted key of a per-interface sysctl. */
export function confKey(proto: 'ipv4' | 'ipv6', dev: string, key: string): string {
  return `net.${proto}.conf.${dev}.${key}`;
}

/** `sysctl -w` spells an interface name with dots with slashes instead (sysctl(8)). */
export function sysctlWrite(key: string, value: number | string, dev?: string): string {
  const k = dev !== undefined && dev.includes('.') ? key.replace(`.${dev}.`, `.${dev.replace(/\./g, '/')}.`) : key;
  return `sysctl -w ${k}=${value}`;
}

/**
 * The value the kernel acts on for a per-interface IPv4 setting whose
 * effective value is max(conf/all, conf/DEV) (include/linux/inetdevice.h:
 * IN_DEV_RPFILTER, IN_DEV_ARP_ANNOUNCE and IN_DEV_ARP_IGNORE are
 * IN_DEV_MAXCONF). Undefined when neither is readable.
 */
export function effectiveMax(s: Snapshot, dev: string, key: string): { value: number | undefined; all: number | undefined; dev: number | undefined } {
  const all = sysctlInt(s, confKey('ipv4', 'all', key));
  const own = sysctlInt(s, confKey('ipv4', dev, key));
  const value = all === undefined && own === undefined ? undefined : Math.max(all ?? 0, own ?? 0);
  return { value, all, dev: own };
}

// ---------------------------------------------------------------------------
// links and routes

export function linkEvidence(l: SnapshotLink): Evidence {
  return { type: 'link', name: l.name, index: l.index, kind: l.kind ?? null, mtu: l.mtu, text: `${l.name} (index ${l.index}${l.kind ? `, ${l.kind}` : ''}, mtu ${l.mtu}${l.up ? '' : ', down'})` };
}

export function linkName(f: NodeFacts, index: number | undefined): string {
  if (index === undefined) return '?';
  return f.byIndex.get(index)?.name ?? `if${index}`;
}

/** `ip route` style text of a route. */
export function routeText(f: NodeFacts, r: SnapshotRoute): string {
  const parts: string[] = [];
  const type = r.type === RTN.UNICAST ? '' : `${ROUTE_TYPES[r.type] ?? `type ${r.type}`} `;
  parts.push(`${type}${r.dst === '0.0.0.0/0' || r.dst === '::/0' ? 'default' : r.dst}`);
  if (r.gateway !== undefined) parts.push(`via ${r.gateway}`);
  if (r.oif !== undefined) parts.push(`dev ${linkName(f, r.oif)}`);
  if (r.table !== RT_TABLE.MAIN) parts.push(`table ${tableName(r.table)}`);
  if (r.priority !== undefined && r.priority !== 0) parts.push(`metric ${r.priority}`);
  if (r.mtu !== undefined) parts.push(`mtu ${r.mtuLocked ? 'lock ' : ''}${r.mtu}`);
  for (const n of r.nexthops ?? []) parts.push(`nexthop${n.gateway !== undefined ? ` via ${n.gateway}` : ''}${n.oif !== undefined ? ` dev ${linkName(f, n.oif)}` : ''} weight ${n.weight}`);
  return parts.join(' ');
}

const ROUTE_TYPES: Readonly<Record<number, string>> = { 2: 'local', 3: 'broadcast', 4: 'anycast', 5: 'multicast', 6: 'blackhole', 7: 'unreachable', 8: 'prohibit', 9: 'throw' };

export function tableName(t: number): string {
  return t === RT_TABLE.MAIN ? 'main' : t === RT_TABLE.LOCAL ? 'local' : t === RT_TABLE.DEFAULT ? 'default' : String(t);
}

export function routeEvidence(f: NodeFacts, r: SnapshotRoute): Evidence {
  return { type: 'route', family: r.family, table: r.table, dst: r.dst, text: `${r.family === 6 ? 'ip -6 route' : 'ip route'}: ${routeText(f, r)}` };
}

/**
 * Longest-prefix match of `addr` in `table` (main by default), ignoring
 * route metrics beyond "lowest metric wins among equal prefixes". Enough to
 * say which device a tunnel's underlay leaves through; policy rules are not
 * consulted (a tunnel endpoint is looked up as the kernel does for packets
 * the node originates without a mark).
 */
export function lookupRoute(f: NodeFacts, addr: NumericAddress, table: number = RT_TABLE.MAIN): ParsedRoute | undefined {
  let best: ParsedRoute | undefined;
  for (const p of f.tables.get(table) ?? []) {
    if (p.prefix.family !== addr.family || !containsAddress(p.prefix, addr.family, addr.value)) continue;
    if (p.route.type !== RTN.UNICAST && p.route.type !== RTN.LOCAL) continue;
    if (
      best === undefined ||
      p.prefix.length > best.prefix.length ||
      (p.prefix.length === best.prefix.length && (p.route.priority ?? 0) < (best.route.priority ?? 0))
    ) {
      best = p;
    }
  }
  return best;
}

/** Default routes of `table` (both families unless one is named). */
export function defaultRoutes(f: NodeFacts, table: number = RT_TABLE.MAIN, family?: 4 | 6): ParsedRoute[] {
  return (f.tables.get(table) ?? []).filter((p) => p.prefix.length === 0 && p.route.type === RTN.UNICAST && (family === undefined || p.route.family === family));
}

/** Links carrying the node's default routes in the main table (its uplinks). */
export function uplinks(f: NodeFacts): SnapshotLink[] {
  const out = new Map<number, SnapshotLink>();
  for (const p of defaultRoutes(f)) for (const i of p.oifs) {
    const l = f.byIndex.get(i);
    if (l) out.set(i, l);
  }
  return [...out.values()];
}

// ---------------------------------------------------------------------------
// encapsulation

/**
 * Bytes an encapsulating device adds in front of each packet it sends, by
 * the underlay family (4 or 6), as the drivers compute their own MTU:
 *   vxlan  20/40 IP + 8 UDP + 8 VXLAN + 14 inner Ethernet  = 50 / 70 (vxlan_config_apply)
 *   geneve 20/40 IP + 8 UDP + 8 Geneve + 14 inner Ethernet = 50 / 70 (without options)
 *   ipip / sit 20; ip6tnl 40 (+ 8 with the encapsulation-limit option)
 *   gre 20/40 IP + 4 GRE (+ 4 each for key, checksum, sequence); gretap also 14 inner Ethernet
 *   wireguard 20/40 IP + 8 UDP + 32 (header 16 + tag 16) = 60 / 80
 */
export function encapOverhead(l: SnapshotLink, underlayFamily: 4 | 6): { bytes: number; why: string } | undefined {
  const ip = underlayFamily === 4 ? 20 : 40;
  const ipName = `IPv${underlayFamily} ${ip}`;
  switch (l.kind) {
    case 'vxlan':
      return { bytes: ip + 8 + 8 + 14, why: `${ipName} + UDP 8 + VXLAN 8 + inner Ethernet 14` };
    case 'geneve':
      return { bytes: ip + 8 + 8 + 14, why: `${ipName} + UDP 8 + Geneve 8 + inner Ethernet 14 (without options)` };
    case 'ipip':
    case 'sit':
      return { bytes: 20, why: 'IPv4 20' };
    case 'ip6tnl': {
      const lim = l.tunnel?.encapLimit !== false;
      return { bytes: 40 + (lim ? 8 : 0), why: `IPv6 40${lim ? ' + encapsulation limit option 8' : ''}` };
    }
    case 'gre':
    case 'gretap':
    case 'ip6gre':
    case 'ip6gretap': {
      const v6 = l.kind.startsWith('ip6');
      const outer = v6 ? 40 : 20;
      const flags = l.tunnel?.greFlags ?? 0;
      const opt = ((flags & 0x8000) !== 0 ? 4 : 0) + ((flags & 0x2000) !== 0 ? 4 : 0) + ((flags & 0x1000) !== 0 ? 4 : 0);
      const lim = v6 && l.tunnel?.encapLimit !== false ? 8 : 0;
      const eth = l.kind.endsWith('tap') ? 14 : 0;
      return {
        bytes: outer + 4 + opt + lim + eth,
        why: `IPv${v6 ? 6 : 4} ${outer} + GRE 4${opt ? ` + options ${opt}` : ''}${lim ? ' + encapsulation limit option 8' : ''}${eth ? ' + inner Ethernet 14' : ''}`,
      };
    }
    case 'wireguard':
      return { bytes: ip + 8 + 32, why: `${ipName} + UDP 8 + WireGuard 32` };
    default:
      return undefined;
  }
}

/**
 * Whether an encapsulating device is in use: it is up. The fallback devices
 * (tunl0, gre0...) are created down, so up means someone configured them
 * (Calico's IPIP, an LVS realserver decapsulating IPIP from its director).
 */
export function tunnelInUse(l: SnapshotLink): boolean {
  return ENCAP_KINDS.has(l.kind ?? '') && l.up;
}

// ---------------------------------------------------------------------------
// service addresses

export interface ServiceAddress {
  readonly address: NumericAddress;
  /** Where it is: the interface, or the input that names it. */
  readonly where: string;
  readonly evidence: Evidence;
}

function isLoopbackAddress(a: NumericAddress): boolean {
  return a.family === AF.INET ? (a.value >> 24n) === 127n : a.value === 1n;
}

/**
 * Service addresses (VIPs) this node holds or serves: non-loopback addresses
 * on lo (LVS-DR / anycast realservers), every address on kube-ipvs0
 * (kube-proxy's IPVS mode), addresses inside --vip-networks on any
 * interface, and IPVS virtual services.
 */
export function serviceAddresses(s: Snapshot, inputs: DoctorInputs): ServiceAddress[] {
  const f = nodeFacts(s);
  const out: ServiceAddress[] = [];
  for (const a of f.addresses) {
    const dev = a.link?.name ?? '?';
    const onLo = a.link?.type === ARPHRD.LOOPBACK || dev === 'lo';
    const inVip = inputs.vipNetworks.some((p) => containsAddress(p, a.address.family, a.address.value));
    if ((onLo && !isLoopbackAddress(a.address)) || dev === 'kube-ipvs0' || (inVip && !onLo)) {
      out.push({ address: a.address, where: dev, evidence: { type: 'address', dev, address: `${a.address.text}/${a.prefixlen}`, text: `${a.address.text}/${a.prefixlen} on ${dev}` } });
    }
  }
  for (const v of s.ipvs ?? []) {
    if (v.address === undefined) continue;
    const a = parseAddress(v.address);
    if (a && !out.some((o) => o.address.text === a.text)) {
      out.push({ address: a, where: 'ipvs', evidence: { type: 'value', name: 'ipvs service', value: `${v.protocol} ${v.address}:${v.port ?? 0}`, text: `IPVS virtual service ${v.protocol} ${v.address}:${v.port ?? 0}` } });
    }
  }
  return out;
}

/** Whether the node serves service addresses, and the evidence: what it holds plus the pools and prefixes it was told about. */
export function servesServices(s: Snapshot, inputs: DoctorInputs): { readonly yes: boolean; readonly evidence: Evidence[] } {
  const held = serviceAddresses(s, inputs);
  const evidence: Evidence[] = held.slice(0, 8).map((h) => h.evidence);
  if (held.length > 8) evidence.push({ type: 'value', name: 'more service addresses', value: held.length - 8, text: `and ${held.length - 8} more service addresses` });
  for (const p of inputs.bgpPools) evidence.push({ type: 'input', name: 'MetalLB BGP pool', value: `${p.name}: ${p.prefixes.map((x) => x.text).join(', ')}`, text: `MetalLB BGP pool ${p.name}: ${p.prefixes.map((x) => x.text).join(', ')}` });
  if (inputs.vipNetworks.length > 0) evidence.push({ type: 'input', name: '--vip-networks', value: inputs.vipNetworks.map((p) => p.text).join(','), text: `--vip-networks ${inputs.vipNetworks.map((p) => p.text).join(',')}` });
  return { yes: held.length > 0 || inputs.bgpPools.length > 0 || inputs.vipNetworks.length > 0, evidence };
}

// ---------------------------------------------------------------------------
// pod-facing interfaces

const POD_NAMES = [/^cali/, /^lxc/, /^veth/, /^cilium_(host|net)$/, /^cni\d*$/, /^cbr0$/, /^kube-bridge$/, /^weave$/, /^docker0$/];

/**
 * Interfaces that lead to pods: the CNI bridges (cni0, cbr0...), host ends of
 * pod veths (cali*, lxc*, veth*, or any veth enslaved to such a bridge) and
 * Cilium's host devices. A veth that carries a default route or a global
 * IPv4 address is an uplink, not a pod's.
 */
export function podInterfaces(s: Snapshot): SnapshotLink[] {
  const f = nodeFacts(s);
  const ups = new Set(uplinks(f).map((l) => l.index));
  const bridges = new Set(s.links.filter((l) => l.kind === 'bridge' && POD_NAMES.some((re) => re.test(l.name))).map((l) => l.index));
  return s.links.filter((l) => {
    if (ups.has(l.index) || ENCAP_KINDS.has(l.kind ?? '')) return false;
    const named = POD_NAMES.some((re) => re.test(l.name));
    const bridgePort = l.kind === 'veth' && l.master !== undefined && bridges.has(l.master);
    if (!named && !bridgePort) return false;
    if (l.kind === 'veth' && !bridgePort) {
      const hasV4 = f.addresses.some((a) => a.link === l && a.address.family === AF.INET && a.scope === 0 && !/^cali|^lxc/.test(l.name));
      if (hasV4) return false;
    }
    return true;
  });
}
