/**
 * The routes component's objects (objects.ts) to and from rtnetlink
 * messages: decoded fib_rule_hdr / rtmsg (src/wire/rtnl-rule.ts,
 * src/wire/rtnl-route.ts; include/uapi/linux/fib_rules.h and rtnetlink.h)
 * become KernelRule / KernelRoute, and the plan's changes become requests.
 * Pure: no sockets here (kernel.ts sends what these build).
 *
 * What a dump reports that is kernel state rather than configuration is
 * dropped, so a route of ours never looks changed because of it:
 * - IPv6 routes always carry RTA_PREF (medium unless an RA said otherwise)
 *   and RTA_CACHEINFO; IPv4 and IPv6 report RTA_TABLE next to rtm_table;
 * - next hops carry RTNH_F_DEAD / RTNH_F_LINKDOWN / RTNH_F_OFFLOAD / TRAP
 *   while their device is down or offloaded (fib_nexthop_info);
 * - rules report FRA_SUPPRESS_PREFIXLEN and FRA_SUPPRESS_IFGROUP as -1 when
 *   unset, and FIB_RULE_UNRESOLVED / *_DETACHED as state bits.
 * Everything else pathguard never sets goes into `other`, so a foreign
 * object carrying it never equals one of ours (see plan.ts).
 *
 * Objects are built as literals with optional fields assigned one at a time
 * (never with object spread): the planner reads tens of thousands of them
 * per reconcile, and V8 (Node 20) is much slower at reading absent
 * properties of spread-built objects.
 */
import type { Mutable } from '../wire/reader.js';
import { formatAddress, parseAddress as addressBytes } from '../wire/ip-address.js';
import { NLM_F } from '../wire/netlink.js';
import { REQUEST_FLAGS, RTM, RTM_F, RTNH_F, FIB_RULE, FR_ACT as WIRE_FR_ACT, RTN as WIRE_RTN, RT_SCOPE as WIRE_RT_SCOPE, type RtnlRequest } from '../wire/rtnetlink.js';
import { ICMPV6_ROUTER_PREF, addRoute, delRoute, replaceRoute, type Route, type RouteSpec as WireRouteSpec, type Nexthop as WireNexthop } from '../wire/rtnl-route.js';
import { encodeRule, type Rule } from '../wire/rtnl-rule.js';
import { AF, FR_ACT, RT_SCOPE, RTN, defaultDst, type Family, type KernelRoute, type KernelRule, type Nexthop, type RouteSpec, type RuleSpec } from './objects.js';


function isFamily(f: number): f is Family {
  return f === AF.INET || f === AF.INET6;
}

function prefixText(bytes: Uint8Array, len: number): string {
  return `${formatAddress(bytes)}/${len}`;
}

function attrTypes(attrs: readonly { type: number }[], into: string[], what: string): void {
  for (const a of attrs) into.push(`${what}attr${a.type}`);
}

/** A decoded rule in the planner's terms; undefined for families pathguard does not manage. */
export function kernelRule(r: Rule): KernelRule | undefined {
  if (!isFamily(r.family)) return undefined;
  const k: Mutable<KernelRule> = { family: r.family, priority: r.priority ?? 0, table: r.table ?? 0, protocol: r.protocol ?? 0 };
  if (r.src !== undefined) k.src = prefixText(r.src, r.srcLen);
  if (r.dst !== undefined) k.dst = prefixText(r.dst, r.dstLen);
  if (r.fwmark !== undefined) k.fwmark = r.fwmark;
  if (r.fwmask !== undefined) k.fwmask = r.fwmask;
  // the kernel reports "unset" as -1 (fib_nl_fill_rule)
  if (r.suppressPrefixlen !== undefined && r.suppressPrefixlen >= 0) k.suppressPrefixlen = r.suppressPrefixlen;
  if (r.iifname !== undefined) k.iifname = r.iifname;
  if (r.oifname !== undefined) k.oifname = r.oifname;
  if ((r.flags & FIB_RULE.INVERT) !== 0) k.invert = true;
  if (r.action !== WIRE_FR_ACT.TO_TBL) k.action = r.action;
  if (r.tos !== 0) k.tos = r.tos;
  let other: string[] | undefined;
  const add = (s: string): void => {
    (other ??= []).push(s);
  };
  if (r.goto !== undefined) add(`goto ${r.goto}`);
  if (r.suppressIfgroup !== undefined && r.suppressIfgroup >= 0) add(`suppress_ifgroup ${r.suppressIfgroup}`);
  if (r.l3mdev) add('l3mdev');
  if (r.uidRange !== undefined) add(`uidrange ${r.uidRange.start}-${r.uidRange.end}`);
  if (r.ipProto !== undefined) add(`ipproto ${r.ipProto}`);
  if (r.sportRange !== undefined) add(`sport ${r.sportRange.start}-${r.sportRange.end}`);
  if (r.dportRange !== undefined) add(`dport ${r.dportRange.start}-${r.dportRange.end}`);
  if (r.unknown.length > 0) attrTypes(r.unknown, (other ??= []), '');
  if (other) k.other = other;
  return k;
}

/** Next-hop flags that describe the kernel's view of the device, not what was configured. */
const NH_STATE_FLAGS = RTNH_F.DEAD | RTNH_F.LINKDOWN | RTNH_F.OFFLOAD | RTNH_F.TRAP | RTNH_F.UNRESOLVED;
/** rtm_flags bits that are kernel state (RTM_F_OFFLOAD_FAILED and friends) or request-only. */
const NH_CONFIG_FLAGS = RTNH_F.ONLINK | RTNH_F.PERVASIVE;

function flagWords(flags: number): string[] {
  const out: string[] = [];
  if (flags & RTNH_F.ONLINK) out.push('onlink');
  if (flags & RTNH_F.PERVASIVE) out.push('pervasive');
  return out;
}

function nexthopOf(h: WireNexthop, other: string[] | undefined): { hop: Nexthop; other: string[] | undefined } {
  const hop: Mutable<Nexthop> = { weight: h.weight };
  if (h.gateway !== undefined) hop.gateway = formatAddress(h.gateway);
  if (h.ifindex !== 0) hop.oif = h.ifindex;
  const cfg = h.flags & NH_CONFIG_FLAGS & ~NH_STATE_FLAGS;
  if (cfg !== 0) (other ??= []).push(...flagWords(cfg));
  if (h.via !== undefined) (other ??= []).push(`nexthop via ${formatAddress(h.via.address)}`);
  if (h.unknown.length > 0) attrTypes(h.unknown, (other ??= []), 'nexthop ');
  return { hop, other };
}

/**
 * A decoded route in the planner's terms; undefined for cached clones
 * (RTM_F_CLONED: PMTU exceptions and redirects, not FIB entries) and for
 * families pathguard does not manage.
 */
export function kernelRoute(r: Route): KernelRoute | undefined {
  if (!isFamily(r.family) || (r.flags & RTM_F.CLONED) !== 0) return undefined;
  let other: string[] | undefined;
  const nexthops: Nexthop[] = [];
  if (r.multipath !== undefined) {
    for (const h of r.multipath) {
      const n = nexthopOf(h, other);
      other = n.other;
      nexthops.push(n.hop);
    }
  } else if (r.gateway !== undefined || r.oif !== undefined) {
    // a single-path route has no weight on the wire (plan.ts compares weights only for multipath)
    const hop: Mutable<Nexthop> = { weight: 1 };
    if (r.gateway !== undefined) hop.gateway = formatAddress(r.gateway);
    if (r.oif !== undefined) hop.oif = r.oif;
    nexthops.push(hop);
  }
  const k: Mutable<KernelRoute> = {
    family: r.family,
    table: r.table ?? 0,
    dst: r.dst !== undefined ? prefixText(r.dst, r.dstLen) : r.dstLen === 0 ? defaultDst(r.family) : `?/${r.dstLen}`,
    nexthops,
    protocol: r.protocol,
  };
  if (r.type !== RTN.UNICAST) k.type = r.type;
  if (r.scope !== RT_SCOPE.UNIVERSE) k.scope = r.scope;
  if (r.priority !== undefined) k.metric = r.priority;
  if (r.tos !== 0) k.tos = r.tos;
  const add = (s: string): void => {
    (other ??= []).push(s);
  };
  const cfgFlags = r.flags & NH_CONFIG_FLAGS;
  if (cfgFlags !== 0) for (const w of flagWords(cfgFlags)) add(w);
  if (r.src !== undefined) add(`from ${prefixText(r.src, r.srcLen)}`);
  if (r.prefsrc !== undefined) add(`src ${formatAddress(r.prefsrc)}`);
  if (r.via !== undefined) add(`via ${formatAddress(r.via.address)}`);
  if (r.iif !== undefined) add(`iif ${r.iif}`);
  if (r.nhId !== undefined) add(`nhid ${r.nhId}`);
  if (r.metrics !== undefined) {
    const m = r.metrics;
    if (m.mtu !== undefined) add(`mtu ${m.mtu}`);
    if (m.advmss !== undefined) add(`advmss ${m.advmss}`);
    if (m.lock !== undefined) add(`lock ${m.lock}`);
    if (m.unknown.length > 0) attrTypes(m.unknown, (other ??= []), 'metric ');
  }
  if (r.pref !== undefined && r.pref !== ICMPV6_ROUTER_PREF.MEDIUM) add(`pref ${r.pref}`);
  if (r.expires !== undefined) add(`expires ${r.expires}`);
  if (r.mark !== undefined) add(`mark ${r.mark}`);
  if (r.uid !== undefined) add(`uid ${r.uid}`);
  if (r.unknown.length > 0) attrTypes(r.unknown, (other ??= []), '');
  if (other) k.other = other;
  return k;
}

/** `addr/len` to the address bytes and length; throws TypeError on text the planner never produces. */
function prefixBytes(prefix: string): { bytes: Uint8Array; len: number } {
  const slash = prefix.indexOf('/');
  if (slash < 0) throw new TypeError(`not a prefix: ${prefix}`);
  const len = Number(prefix.slice(slash + 1));
  return { bytes: addressBytes(prefix.slice(0, slash)), len };
}

/**
 * The wire rule for an add or a delete, built as one literal with every
 * field in the same order (not through the wire module's spec helpers,
 * which spread): the encoder probes about twenty optional fields per rule,
 * tens of thousands of times per reconcile.
 */
function wireRule(r: RuleSpec | KernelRule, forDelete: boolean): Rule {
  const k = r as KernelRule;
  const src = r.src !== undefined ? prefixBytes(r.src) : undefined;
  const dst = k.dst !== undefined ? prefixBytes(k.dst) : undefined;
  const w: Mutable<Rule> = {
    family: r.family,
    dstLen: dst?.len ?? 0,
    srcLen: src?.len ?? 0,
    tos: forDelete ? (k.tos ?? 0) : 0,
    table: r.table,
    action: k.action ?? FR_ACT.TO_TBL,
    flags: forDelete && k.invert ? FIB_RULE.INVERT : 0,
    priority: r.priority,
    src: src !== undefined && src.len > 0 ? src.bytes : undefined,
    dst: dst !== undefined && dst.len > 0 ? dst.bytes : undefined,
    fwmark: r.fwmark,
    fwmask: r.fwmask,
    iifname: forDelete ? k.iifname : undefined,
    oifname: forDelete ? k.oifname : undefined,
    suppressPrefixlen: r.suppressPrefixlen,
    suppressIfgroup: undefined,
    goto: undefined,
    protocol: r.protocol,
    l3mdev: undefined,
    uidRange: undefined,
    ipProto: undefined,
    sportRange: undefined,
    dportRange: undefined,
    unknown: [],
  };
  return w;
}

/**
 * `ip rule add priority P [from SRC] [fwmark M/K] lookup T [suppress_prefixlength N] proto PG`
 * (RTM_NEWRULE with NLM_F_CREATE, without NLM_F_EXCL). Rules are one list per
 * family: fib_nl_newrule walks it to find the insertion point, and with
 * NLM_F_EXCL rule_exists() walks all of it once more, so 10,000 rules cost
 * O(n^2) list steps twice over. The plan only adds rules a dump taken just
 * before did not have; a duplicate can only come from a concurrent writer
 * using pathguard's protocol, and the next reconcile removes it.
 */
export function addRuleRequest(r: RuleSpec): RtnlRequest {
  const { fixed, attrs } = encodeRule(wireRule(r, false));
  return { type: RTM.NEWRULE, flags: NLM_F.REQUEST | NLM_F.CREATE, fixed, attrs };
}

/**
 * `ip rule del` carrying every selector the dumped rule has, protocol
 * included: the kernel deletes the first rule matching the fields given
 * (rule_find), so a foreign twin differing only in protocol is never hit.
 */
export function delRuleRequest(r: KernelRule): RtnlRequest {
  const { fixed, attrs } = encodeRule(wireRule(r, true));
  return { type: RTM.DELRULE, flags: REQUEST_FLAGS, fixed, attrs };
}

function routeSpec(r: RouteSpec): WireRouteSpec {
  const s: Mutable<WireRouteSpec> = { family: r.family, table: r.table, protocol: r.protocol, type: WIRE_RTN.UNICAST, scope: WIRE_RT_SCOPE.UNIVERSE };
  const dst = prefixBytes(r.dst);
  s.dstLen = dst.len;
  if (dst.len > 0) s.dst = dst.bytes;
  const gateway = (h: Nexthop): Uint8Array => {
    if (h.gateway === undefined) throw new TypeError('a pathguard route needs a gateway on every next hop');
    return addressBytes(h.gateway);
  };
  if (r.nexthops.length === 1) {
    // One path: RTA_GATEWAY (and RTA_OIF), as `ip route` sends it; the kernel keeps no weight for it.
    const h = r.nexthops[0] as Nexthop;
    s.gateway = gateway(h);
    if (h.oif !== undefined) s.oif = h.oif;
  } else {
    s.multipath = r.nexthops.map((h) => ({ flags: 0, weight: h.weight, ifindex: h.oif ?? 0, gateway: gateway(h), unknown: [] }));
  }
  return s;
}

/**
 * `ip route add` (NLM_F_EXCL: never overwrite what appeared since the dump)
 * or `ip route replace` (NLM_F_REPLACE: the next-hop set is swapped in one
 * step, no moment without a route).
 */
export function routeRequest(r: RouteSpec, mode: 'add' | 'replace'): RtnlRequest {
  if (r.nexthops.length === 0) throw new TypeError('a pathguard route needs at least one next hop');
  return mode === 'add' ? addRoute(routeSpec(r)) : replaceRoute(routeSpec(r));
}

/**
 * `ip route del` naming table, destination, tos, metric, type, scope and
 * protocol of the dumped route: fib_table_delete and ip6_route_del match on
 * the protocol when it is given, so a foreign route in the same slot is not
 * the one removed. Next hops are not given, so an IPv6 multipath route goes
 * as a whole (__ip6_del_rt_siblings) rather than one next hop at a time.
 */
export function delRouteRequest(r: KernelRoute): RtnlRequest {
  const s: Mutable<WireRouteSpec> = {
    family: r.family,
    table: r.table,
    protocol: r.protocol,
    type: r.type ?? WIRE_RTN.UNICAST,
    scope: r.scope ?? WIRE_RT_SCOPE.UNIVERSE,
  };
  const dst = prefixBytes(r.dst);
  s.dstLen = dst.len;
  if (dst.len > 0) s.dst = dst.bytes;
  if (r.metric !== undefined) s.priority = r.metric;
  if (r.tos !== undefined) s.tos = r.tos;
  return delRoute(s);
}
