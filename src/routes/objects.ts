/**
 * The kernel objects the routes component owns, as plain data that maps one
 * to one onto rtnetlink (include/uapi/linux/rtnetlink.h for routes,
 * include/uapi/linux/fib_rules.h for rules):
 *
 *   rule  = family, FRA_PRIORITY, FRA_SRC/src_len, FRA_TABLE, FRA_FWMARK,
 *           FRA_FWMASK, FRA_SUPPRESS_PREFIXLEN, FRA_PROTOCOL
 *   route = family, RTA_TABLE, RTA_DST/dst_len (default), RTA_MULTIPATH
 *           (rtnexthop: rtnh_hops = weight - 1, rtnh_ifindex, RTA_GATEWAY),
 *           rtm_protocol
 *
 * Prefixes and addresses are canonical strings (`192.0.2.0/24`,
 * `2001:db8::/64`, RFC 5952 for IPv6) so that two objects compare equal when
 * the kernel would consider them the same.
 */

import { AF as SOCKET_AF } from '../wire/sockaddr.js';

/** The two address families routes deals in (include/linux/socket.h). */
export const AF = {
  INET: SOCKET_AF.INET, // AF_INET
  INET6: SOCKET_AF.INET6, // AF_INET6
} as const;
export type Family = (typeof AF)[keyof typeof AF];

/** Table ids, rule actions, route types and scopes, as the rtnetlink codecs define them. */
export { RT_TABLE, FR_ACT, RTN, RT_SCOPE } from '../wire/rtnetlink.js';

/**
 * The protocol id pathguard stamps on every rule (FRA_PROTOCOL) and route
 * (rtm_protocol) it creates; only objects carrying it are ever changed.
 *
 * 112 (0x70) is free: include/uapi/linux/rtnetlink.h defines 0-4, 8-18
 * (RTPROT_GATED .. RTPROT_KEEPALIVED), 42 (BABEL), 99 (OPENR) and 186-192
 * (BGP, ISIS, OSPF, RIP, EIGRP) and says values >= RTPROT_STATIC are not
 * interpreted by the kernel; iproute2's /etc/iproute2/rt_protos lists the
 * same; FRR uses 186-198, BIRD 12, kube-router 17, Calico 80 by default,
 * Cilium 2 (kernel). Operators can name it in
 * /etc/iproute2/rt_protos.d/pathguard.conf (`112 pathguard`).
 */
export const RTPROT_PATHGUARD = 112;

/** IPv6 routes added without a metric get IP6_RT_PRIO_USER (include/net/ip6_route.h); IPv4 ones get 0. */
export const DEFAULT_METRIC: Readonly<Record<Family, number>> = { [AF.INET]: 0, [AF.INET6]: 1024 };

/** `from <src> [fwmark M/K] lookup <table>` or, with suppressPrefixlen, `lookup main suppress_prefixlength N`. */
export interface RuleSpec {
  readonly family: Family;
  /** FRA_PRIORITY. */
  readonly priority: number;
  /** FRA_SRC with frh.src_len, canonical `addr/len`; absent means from all. */
  readonly src?: string;
  /** FRA_TABLE (also frh.table when < 256). */
  readonly table: number;
  /** FRA_FWMARK. */
  readonly fwmark?: number;
  /** FRA_FWMASK; absent with a non-zero fwmark means 0xffffffff, as the kernel stores it. */
  readonly fwmask?: number;
  /** FRA_SUPPRESS_PREFIXLEN; absent means unset (the kernel reports unset as 0xffffffff). */
  readonly suppressPrefixlen?: number;
  /** FRA_PROTOCOL. */
  readonly protocol: number;
}

/**
 * A rule as dumped from the kernel. Selectors pathguard never sets are kept
 * so that a rule using them is never mistaken for one of ours; whatever else
 * the decoder finds and pathguard does not model goes into `other` (any
 * canonical text, e.g. `uidrange 1000-2000`): a rule with `other` never
 * equals a desired rule.
 */
export interface KernelRule extends RuleSpec {
  /** FRA_DST with frh.dst_len. */
  readonly dst?: string;
  /** FRA_IIFNAME / FRA_OIFNAME. */
  readonly iifname?: string;
  readonly oifname?: string;
  /** frh.flags & FIB_RULE_INVERT. */
  readonly invert?: boolean;
  /** frh.action; absent means FR_ACT_TO_TBL. */
  readonly action?: number;
  /** frh.tos. */
  readonly tos?: number;
  readonly other?: readonly string[];
}

/** One path of a multipath route: `nexthop via <gateway> [dev <oif>] weight <weight>`. */
export interface Nexthop {
  /** RTA_GATEWAY (RTA_VIA is not used). Always set in desired routes. */
  readonly gateway?: string;
  /** 1..256; rtnexthop.rtnh_hops is weight - 1. A single-path route has no weight (see plan.ts). */
  readonly weight: number;
  /** rtnh_ifindex / RTA_OIF; required for IPv6 link-local gateways, otherwise left to the kernel. */
  readonly oif?: number;
}

/** `<dst> table <table> proto <protocol> nexthop via ... weight ...`. */
export interface RouteSpec {
  readonly family: Family;
  /** RTA_TABLE (also rtm_table when < 256). */
  readonly table: number;
  /** RTA_DST with rtm_dst_len, canonical; pathguard only installs the default route. */
  readonly dst: string;
  readonly nexthops: readonly Nexthop[];
  /** rtm_protocol. */
  readonly protocol: number;
}

/** A route as dumped from the kernel; see KernelRule for `other`. */
export interface KernelRoute extends RouteSpec {
  /** rtm_type; absent means RTN_UNICAST. */
  readonly type?: number;
  /** rtm_scope; absent means RT_SCOPE_UNIVERSE. */
  readonly scope?: number;
  /** RTA_PRIORITY; absent means the family default (DEFAULT_METRIC). */
  readonly metric?: number;
  /** rtm_tos. */
  readonly tos?: number;
  readonly other?: readonly string[];
}

/** The default destination of a family. */
export function defaultDst(family: Family): string {
  return family === AF.INET ? '0.0.0.0/0' : '::/0';
}

export function familyName(family: Family): 'IPv4' | 'IPv6' {
  return family === AF.INET ? 'IPv4' : 'IPv6';
}
