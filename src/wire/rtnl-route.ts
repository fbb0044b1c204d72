/**
 * rtnetlink routes: RTM_NEWROUTE / RTM_DELROUTE / RTM_GETROUTE.
 *
 *   struct rtmsg {                     // include/uapi/linux/rtnetlink.h, 12 bytes
 *     unsigned char rtm_family;
 *     unsigned char rtm_dst_len;
 *     unsigned char rtm_src_len;
 *     unsigned char rtm_tos;
 *     unsigned char rtm_table;         // RT_TABLE_COMPAT (252) when the id is above 255
 *     unsigned char rtm_protocol;      // RTPROT_*
 *     unsigned char rtm_scope;         // RT_SCOPE_*
 *     unsigned char rtm_type;          // RTN_*
 *     unsigned      rtm_flags;         // RTM_F_*, RTNH_F_*
 *   };
 *
 * followed by RTA_* attributes. A multipath route carries RTA_MULTIPATH: an
 * array of
 *
 *   struct rtnexthop {                 // 8 bytes, each entry aligned to 4 (RTNH_ALIGN)
 *     unsigned short rtnh_len;         // header + the entry's own attributes
 *     unsigned char  rtnh_flags;       // RTNH_F_*
 *     unsigned char  rtnh_hops;        // weight - 1
 *     int            rtnh_ifindex;
 *   };
 *
 * each followed by its own RTA_GATEWAY / RTA_VIA. RTA_TABLE (u32) carries the
 * full table id and wins over rtm_table. RTA_METRICS nests RTAX_* u32 values;
 * `ip route get` reports a learned path MTU (a PMTU exception, RTM_F_CLONED)
 * as RTAX_MTU plus a non-zero rta_cacheinfo.rta_expires.
 */
import { type Attribute, decodeAttributes, encodeAttributes, nla } from './netlink-attribute.js';
import { type NetlinkMessage } from './netlink.js';
import { Reader, type Mutable } from './reader.js';
import {
  ADD_FLAGS,
  attrAddress,
  attrU32,
  attrU8,
  checkInt32,
  checkRange,
  compatTable,
  copyBytes,
  DUMP_FLAGS,
  exactValue,
  expectMessageType,
  familyAddressLength,
  keepAttribute,
  REPLACE_FLAGS,
  REQUEST_FLAGS,
  RT_SCOPE,
  RT_TABLE,
  RTM,
  RTM_F,
  RTN,
  RTPROT,
  type RtnlRequest,
  RTNL_FAMILY,
} from './rtnetlink.js';

/** sizeof(struct rtmsg) */
export const RTMSG_LEN = 12;
/** sizeof(struct rtnexthop) */
export const RTNEXTHOP_LEN = 8;
/** sizeof(struct rta_cacheinfo) */
export const RTA_CACHEINFO_LEN = 32;

/** Route attributes (enum rtattr_type_t). */
export const RTA = {
  UNSPEC: 0, // RTA_UNSPEC
  DST: 1, // RTA_DST
  SRC: 2, // RTA_SRC
  IIF: 3, // RTA_IIF (u32)
  OIF: 4, // RTA_OIF (u32)
  GATEWAY: 5, // RTA_GATEWAY
  PRIORITY: 6, // RTA_PRIORITY (u32): the metric
  PREFSRC: 7, // RTA_PREFSRC
  METRICS: 8, // RTA_METRICS (nested RTAX_*)
  MULTIPATH: 9, // RTA_MULTIPATH (array of struct rtnexthop)
  FLOW: 11, // RTA_FLOW
  CACHEINFO: 12, // RTA_CACHEINFO (struct rta_cacheinfo)
  TABLE: 15, // RTA_TABLE (u32)
  MARK: 16, // RTA_MARK (u32)
  MFC_STATS: 17, // RTA_MFC_STATS
  VIA: 18, // RTA_VIA (struct rtvia): a gateway of another family
  NEWDST: 19, // RTA_NEWDST
  PREF: 20, // RTA_PREF (u8): IPv6 router preference
  ENCAP_TYPE: 21, // RTA_ENCAP_TYPE
  ENCAP: 22, // RTA_ENCAP
  EXPIRES: 23, // RTA_EXPIRES (u32)
  PAD: 24, // RTA_PAD
  UID: 25, // RTA_UID (u32)
  TTL_PROPAGATE: 26, // RTA_TTL_PROPAGATE
  IP_PROTO: 27, // RTA_IP_PROTO
  SPORT: 28, // RTA_SPORT
  DPORT: 29, // RTA_DPORT
  NH_ID: 30, // RTA_NH_ID (u32): a nexthop object
} as const;

/** Metrics nested in RTA_METRICS (enum in rtnetlink.h). */
export const RTAX = {
  LOCK: 1, // RTAX_LOCK: bitmask of locked metrics (1 << RTAX_MTU = "mtu lock")
  MTU: 2, // RTAX_MTU
  WINDOW: 3, // RTAX_WINDOW
  RTT: 4, // RTAX_RTT
  RTTVAR: 5, // RTAX_RTTVAR
  SSTHRESH: 6, // RTAX_SSTHRESH
  CWND: 7, // RTAX_CWND
  ADVMSS: 8, // RTAX_ADVMSS
  REORDERING: 9, // RTAX_REORDERING
  HOPLIMIT: 10, // RTAX_HOPLIMIT
  INITCWND: 11, // RTAX_INITCWND
  FEATURES: 12, // RTAX_FEATURES
  RTO_MIN: 13, // RTAX_RTO_MIN
  INITRWND: 14, // RTAX_INITRWND
  QUICKACK: 15, // RTAX_QUICKACK
  CC_ALGO: 16, // RTAX_CC_ALGO (string)
  FASTOPEN_NO_COOKIE: 17, // RTAX_FASTOPEN_NO_COOKIE
} as const;

/** RTA_PREF values (ICMPV6_ROUTER_PREF_*, include/uapi/linux/icmpv6.h). */
export const ICMPV6_ROUTER_PREF = {
  MEDIUM: 0x0, // #define ICMPV6_ROUTER_PREF_MEDIUM 0x0
  HIGH: 0x1, // #define ICMPV6_ROUTER_PREF_HIGH 0x1
  INVALID: 0x2, // #define ICMPV6_ROUTER_PREF_INVALID 0x2
  LOW: 0x3, // #define ICMPV6_ROUTER_PREF_LOW 0x3
} as const;

/** struct rtvia: a gateway of another family (an IPv6 next hop for an IPv4 route). */
export interface Via {
  /** rtvia_family (u16): AF_INET / AF_INET6. */
  readonly family: number;
  readonly address: Uint8Array;
}

/** One entry of RTA_MULTIPATH. */
export interface Nexthop {
  /** rtnh_flags: RTNH_F_* */
  readonly flags: number;
  /** rtnh_hops + 1: `ip route ... nexthop ... weight N` (1..256). */
  readonly weight: number;
  /** rtnh_ifindex (0: let the kernel find the device from the gateway). */
  readonly ifindex: number;
  /** RTA_GATEWAY */
  readonly gateway?: Uint8Array;
  /** RTA_VIA */
  readonly via?: Via;
  /** Other per-hop attributes (RTA_FLOW, RTA_ENCAP...). */
  readonly unknown: readonly Attribute[];
}

/** RTA_METRICS. */
export interface RouteMetrics {
  /** RTAX_LOCK: bitmask (1 << RTAX_*) of metrics that PMTU discovery and the like must not change. */
  readonly lock?: number;
  /** RTAX_MTU: the route's MTU, or a learned path MTU on a cloned route. */
  readonly mtu?: number;
  /** RTAX_ADVMSS */
  readonly advmss?: number;
  /** Other RTAX_* values, raw. */
  readonly unknown: readonly Attribute[];
}

/** struct rta_cacheinfo. Times are in clock ticks (USER_HZ, 100 per second on Linux). */
export interface RouteCacheInfo {
  readonly clntref: number;
  readonly lastuse: number;
  /** rta_expires (signed): ticks until a cached entry (a PMTU exception) expires; 0 = no expiry. */
  readonly expires: number;
  readonly error: number;
  readonly used: number;
  readonly id: number;
  readonly ts: number;
  readonly tsage: number;
}

export interface Route {
  /** rtm_family */
  readonly family: number;
  /** rtm_dst_len */
  readonly dstLen: number;
  /** rtm_src_len */
  readonly srcLen: number;
  /** rtm_tos */
  readonly tos: number;
  /**
   * The table id: RTA_TABLE when present, else rtm_table when it is not 0.
   * Absent means "not given" (RT_TABLE_UNSPEC with no RTA_TABLE), which is
   * different from an explicit RTA_TABLE of 0.
   */
  readonly table?: number;
  /** rtm_protocol: RTPROT_* */
  readonly protocol: number;
  /** rtm_scope: RT_SCOPE_* */
  readonly scope: number;
  /** rtm_type: RTN_* */
  readonly type: number;
  /** rtm_flags: RTM_F_* and RTNH_F_* */
  readonly flags: number;
  /** RTA_DST (absent for a default route) */
  readonly dst?: Uint8Array;
  /** RTA_SRC */
  readonly src?: Uint8Array;
  /** RTA_GATEWAY */
  readonly gateway?: Uint8Array;
  /** RTA_VIA */
  readonly via?: Via;
  /** RTA_OIF */
  readonly oif?: number;
  /** RTA_IIF */
  readonly iif?: number;
  /** RTA_PRIORITY: the metric. */
  readonly priority?: number;
  /** RTA_PREFSRC */
  readonly prefsrc?: Uint8Array;
  /** RTA_MULTIPATH */
  readonly multipath?: readonly Nexthop[];
  /** RTA_METRICS */
  readonly metrics?: RouteMetrics;
  /** RTA_CACHEINFO */
  readonly cacheinfo?: RouteCacheInfo;
  /** RTA_PREF: ICMPV6_ROUTER_PREF_* */
  readonly pref?: number;
  /** RTA_EXPIRES */
  readonly expires?: number;
  /** RTA_NH_ID */
  readonly nhId?: number;
  /** RTA_MARK (route get by fwmark) */
  readonly mark?: number;
  /** RTA_UID (route get by uid) */
  readonly uid?: number;
  readonly unknown: readonly Attribute[];
}


const WHAT = 'rtmsg';

/** Decodes RTM_NEWROUTE / RTM_DELROUTE (and RTM_GETROUTE requests). */
export function decodeRoute(msg: NetlinkMessage): Route {
  expectMessageType(msg, [RTM.NEWROUTE, RTM.DELROUTE, RTM.GETROUTE], WHAT);
  const r = new Reader(msg.payload, WHAT);
  const family = r.u8('rtm_family');
  const dstLen = r.u8('rtm_dst_len');
  const srcLen = r.u8('rtm_src_len');
  const tos = r.u8('rtm_tos');
  const rtmTable = r.u8('rtm_table');
  const route: Mutable<Route> = {
    family,
    dstLen,
    srcLen,
    tos,
    protocol: r.u8('rtm_protocol'),
    scope: r.u8('rtm_scope'),
    type: r.u8('rtm_type'),
    flags: r.u32le('rtm_flags'),
    unknown: [],
  };
  if (rtmTable !== RT_TABLE.UNSPEC) route.table = rtmTable;
  const unknown: Attribute[] = [];
  for (const a of decodeAttributes(r.rest(), WHAT)) {
    switch (a.type) {
      case RTA.TABLE:
        route.table = attrU32(a, WHAT);
        break;
      case RTA.DST:
        route.dst = attrAddress(a, family, WHAT);
        break;
      case RTA.SRC:
        route.src = attrAddress(a, family, WHAT);
        break;
      case RTA.GATEWAY:
        route.gateway = attrAddress(a, family, WHAT);
        break;
      case RTA.VIA:
        route.via = decodeVia(a);
        break;
      case RTA.OIF:
        route.oif = attrU32(a, WHAT);
        break;
      case RTA.IIF:
        route.iif = attrU32(a, WHAT);
        break;
      case RTA.PRIORITY:
        route.priority = attrU32(a, WHAT);
        break;
      case RTA.PREFSRC:
        route.prefsrc = attrAddress(a, family, WHAT);
        break;
      case RTA.MULTIPATH:
        route.multipath = decodeMultipath(a.value, family);
        break;
      case RTA.METRICS:
        route.metrics = decodeMetrics(a.value);
        break;
      case RTA.CACHEINFO:
        route.cacheinfo = decodeCacheInfo(a);
        break;
      case RTA.PREF:
        route.pref = attrU8(a, WHAT);
        break;
      case RTA.EXPIRES:
        route.expires = attrU32(a, WHAT);
        break;
      case RTA.NH_ID:
        route.nhId = attrU32(a, WHAT);
        break;
      case RTA.MARK:
        route.mark = attrU32(a, WHAT);
        break;
      case RTA.UID:
        route.uid = attrU32(a, WHAT);
        break;
      default:
        unknown.push(keepAttribute(a));
    }
  }
  route.unknown = unknown;
  return route;
}

function decodeVia(a: Attribute): Via {
  const r = new Reader(a.value, 'rtvia');
  const family = r.u16le('rtvia_family');
  const address = r.rest();
  const len = familyAddressLength(family);
  if (len !== undefined && address.byteLength !== len) r.fail(`family ${family} needs a ${len}-byte address, got ${address.byteLength}`, 2);
  return { family, address: copyBytes(address) };
}

/**
 * The rtnexthop array of RTA_MULTIPATH. Like the kernel's rtnh_ok() walk,
 * every entry must fit, and bytes that do not make a whole entry are an
 * error (fib_count_nexthops: "remaining > 0 ? 0 : nhs").
 */
function decodeMultipath(bytes: Uint8Array, family: number): Nexthop[] {
  const what = 'rtnexthop';
  const r = new Reader(bytes, what);
  const out: Nexthop[] = [];
  while (r.remaining > 0) {
    const start = r.pos;
    const len = r.u16le('rtnh_len');
    const flags = r.u8('rtnh_flags');
    const hops = r.u8('rtnh_hops');
    const ifindex = r.i32le('rtnh_ifindex');
    if (len < RTNEXTHOP_LEN) r.fail(`rtnh_len ${len} is shorter than the header`, start);
    if (start + len > bytes.byteLength) r.fail(`rtnh_len ${len} runs past the end (${bytes.byteLength - start} bytes left)`, start);
    const hop: Mutable<Nexthop> = { flags, weight: hops + 1, ifindex, unknown: [] };
    const unknown: Attribute[] = [];
    for (const a of decodeAttributes(bytes.subarray(start + RTNEXTHOP_LEN, start + len), what)) {
      if (a.type === RTA.GATEWAY) hop.gateway = attrAddress(a, family, what);
      else if (a.type === RTA.VIA) hop.via = decodeVia(a);
      else unknown.push(keepAttribute(a));
    }
    hop.unknown = unknown;
    out.push(hop);
    // #define RTNH_NEXT(rtnh) ((struct rtnexthop *)(((char *)(rtnh)) + RTNH_ALIGN((rtnh)->rtnh_len)))
    r.pos = Math.min(start + ((len + 3) & ~3), bytes.byteLength);
  }
  return out;
}

function decodeMetrics(bytes: Uint8Array): RouteMetrics {
  const what = 'RTA_METRICS';
  const m: Mutable<RouteMetrics> = { unknown: [] };
  const unknown: Attribute[] = [];
  for (const a of decodeAttributes(bytes, what)) {
    if (a.type === RTAX.LOCK) m.lock = attrU32(a, what);
    else if (a.type === RTAX.MTU) m.mtu = attrU32(a, what);
    else if (a.type === RTAX.ADVMSS) m.advmss = attrU32(a, what);
    else unknown.push(keepAttribute(a));
  }
  m.unknown = unknown;
  return m;
}

function decodeCacheInfo(a: Attribute): RouteCacheInfo {
  const v = exactValue(a, RTA_CACHEINFO_LEN, 'rta_cacheinfo');
  return {
    clntref: v.getUint32(0, true),
    lastuse: v.getUint32(4, true),
    expires: v.getInt32(8, true),
    error: v.getUint32(12, true),
    used: v.getUint32(16, true),
    id: v.getUint32(20, true),
    ts: v.getUint32(24, true),
    tsage: v.getUint32(28, true),
  };
}

/** Encodes a route into its rtmsg and attributes (for encodeMessage or the socket). */
export function encodeRoute(route: Route): { fixed: Uint8Array; attrs: Attribute[] } {
  const fixed = new Uint8Array(RTMSG_LEN);
  const v = new DataView(fixed.buffer);
  const table = route.table;
  v.setUint8(0, checkRange(route.family, 0xff, 'route.family'));
  v.setUint8(1, checkRange(route.dstLen, 0xff, 'route.dstLen'));
  v.setUint8(2, checkRange(route.srcLen, 0xff, 'route.srcLen'));
  v.setUint8(3, checkRange(route.tos, 0xff, 'route.tos'));
  v.setUint8(4, compatTable(table, 'route.table'));
  v.setUint8(5, checkRange(route.protocol, 0xff, 'route.protocol'));
  v.setUint8(6, checkRange(route.scope, 0xff, 'route.scope'));
  v.setUint8(7, checkRange(route.type, 0xff, 'route.type'));
  v.setUint32(8, checkRange(route.flags, 0xffffffff, 'route.flags'), true);

  const family = route.family;
  const ip = (type: number, bytes: Uint8Array, field: string): Attribute => nla.bytes(type, checkAddress(bytes, family, field));
  const u32 = (type: number, n: number, field: string): Attribute => nla.u32(type, checkRange(n, 0xffffffff, field));
  const attrs: Attribute[] = [];
  if (table !== undefined) attrs.push(nla.u32(RTA.TABLE, table));
  if (route.dst !== undefined) attrs.push(ip(RTA.DST, route.dst, 'route.dst'));
  if (route.src !== undefined) attrs.push(ip(RTA.SRC, route.src, 'route.src'));
  if (route.iif !== undefined) attrs.push(u32(RTA.IIF, route.iif, 'route.iif'));
  if (route.oif !== undefined) attrs.push(u32(RTA.OIF, route.oif, 'route.oif'));
  if (route.gateway !== undefined) attrs.push(ip(RTA.GATEWAY, route.gateway, 'route.gateway'));
  if (route.via !== undefined) attrs.push(encodeVia(route.via));
  if (route.priority !== undefined) attrs.push(u32(RTA.PRIORITY, route.priority, 'route.priority'));
  if (route.prefsrc !== undefined) attrs.push(ip(RTA.PREFSRC, route.prefsrc, 'route.prefsrc'));
  if (route.metrics !== undefined) attrs.push(encodeMetrics(route.metrics));
  if (route.multipath !== undefined) attrs.push(nla.bytes(RTA.MULTIPATH, encodeMultipath(route.multipath, family)));
  if (route.cacheinfo !== undefined) attrs.push(encodeCacheInfo(route.cacheinfo));
  if (route.pref !== undefined) attrs.push(nla.u8(RTA.PREF, checkRange(route.pref, 0xff, 'route.pref')));
  if (route.expires !== undefined) attrs.push(u32(RTA.EXPIRES, route.expires, 'route.expires'));
  if (route.nhId !== undefined) attrs.push(u32(RTA.NH_ID, route.nhId, 'route.nhId'));
  if (route.mark !== undefined) attrs.push(u32(RTA.MARK, route.mark, 'route.mark'));
  if (route.uid !== undefined) attrs.push(u32(RTA.UID, route.uid, 'route.uid'));
  attrs.push(...route.unknown);
  return { fixed, attrs };
}

function checkAddress(bytes: Uint8Array, family: number, field: string): Uint8Array {
  const len = familyAddressLength(family);
  if (len !== undefined && bytes.byteLength !== len) throw new RangeError(`${field} must be ${len} bytes for family ${family}, got ${bytes.byteLength}`);
  return bytes;
}

function encodeVia(via: Via): Attribute {
  checkAddress(via.address, via.family, 'via.address');
  const value = new Uint8Array(2 + via.address.byteLength);
  new DataView(value.buffer).setUint16(0, checkRange(via.family, 0xffff, 'via.family'), true);
  value.set(via.address, 2);
  return nla.bytes(RTA.VIA, value);
}

/** RTA_METRICS, without NLA_F_NESTED: iproute2 sends it that way and every kernel accepts it. */
function encodeMetrics(m: RouteMetrics): Attribute {
  const inner: Attribute[] = [];
  if (m.lock !== undefined) inner.push(nla.u32(RTAX.LOCK, checkRange(m.lock, 0xffffffff, 'metrics.lock')));
  if (m.mtu !== undefined) inner.push(nla.u32(RTAX.MTU, checkRange(m.mtu, 0xffffffff, 'metrics.mtu')));
  if (m.advmss !== undefined) inner.push(nla.u32(RTAX.ADVMSS, checkRange(m.advmss, 0xffffffff, 'metrics.advmss')));
  inner.push(...m.unknown);
  return nla.bytes(RTA.METRICS, encodeAttributes(inner));
}

function encodeMultipath(hops: readonly Nexthop[], family: number): Uint8Array {
  const parts = hops.map((hop, i) => {
    const attrs: Attribute[] = [];
    if (hop.gateway !== undefined) attrs.push(nla.bytes(RTA.GATEWAY, checkAddress(hop.gateway, family, `multipath[${i}].gateway`)));
    if (hop.via !== undefined) attrs.push(encodeVia(hop.via));
    attrs.push(...hop.unknown);
    const body = encodeAttributes(attrs);
    const len = RTNEXTHOP_LEN + body.byteLength;
    if (len > 0xffff) throw new RangeError(`multipath[${i}] is ${len} bytes, more than rtnh_len can hold`);
    const out = new Uint8Array(len);
    const v = new DataView(out.buffer);
    v.setUint16(0, len, true);
    v.setUint8(2, checkRange(hop.flags, 0xff, `multipath[${i}].flags`));
    // rtnh_hops is the weight minus one (iproute2: rtnh->rtnh_hops = weight - 1).
    v.setUint8(3, checkRange(hop.weight - 1, 0xff, `multipath[${i}].weight - 1`));
    v.setInt32(4, checkInt32(hop.ifindex, `multipath[${i}].ifindex`), true);
    out.set(body, RTNEXTHOP_LEN);
    return out;
  });
  // Every entry is a multiple of 4 long (8 + aligned attributes), so concatenation keeps RTNH_ALIGN.
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.byteLength;
  }
  return out;
}

function encodeCacheInfo(c: RouteCacheInfo): Attribute {
  const value = new Uint8Array(RTA_CACHEINFO_LEN);
  const v = new DataView(value.buffer);
  v.setUint32(0, checkRange(c.clntref, 0xffffffff, 'cacheinfo.clntref'), true);
  v.setUint32(4, checkRange(c.lastuse, 0xffffffff, 'cacheinfo.lastuse'), true);
  v.setInt32(8, checkInt32(c.expires, 'cacheinfo.expires'), true);
  v.setUint32(12, checkRange(c.error, 0xffffffff, 'cacheinfo.error'), true);
  v.setUint32(16, checkRange(c.used, 0xffffffff, 'cacheinfo.used'), true);
  v.setUint32(20, checkRange(c.id, 0xffffffff, 'cacheinfo.id'), true);
  v.setUint32(24, checkRange(c.ts, 0xffffffff, 'cacheinfo.ts'), true);
  v.setUint32(28, checkRange(c.tsage, 0xffffffff, 'cacheinfo.tsage'), true);
  return nla.bytes(RTA.CACHEINFO, value);
}

// ---- requests ----

/** A route to add, replace or delete: the family and whatever differs from iproute2's defaults. */
export type RouteSpec = Partial<Route> & Pick<Route, 'family'>;

/**
 * Fills iproute2's defaults (ip/iproute.c, iproute_modify): for add/replace
 * table main, protocol boot, type unicast, scope link for a unicast route
 * without any gateway (universe otherwise, host for local routes); for delete
 * protocol and type 0 (any) and scope nowhere, which the kernel reads as
 * "any scope" (fib_table_delete).
 */
function fromSpec(spec: RouteSpec, forDelete: boolean): Route {
  const type = spec.type ?? (forDelete ? RTN.UNSPEC : RTN.UNICAST);
  const viaGateway = spec.gateway !== undefined || spec.via !== undefined || spec.multipath !== undefined || spec.nhId !== undefined;
  let scope = spec.scope;
  if (scope === undefined) {
    if (forDelete) scope = RT_SCOPE.NOWHERE;
    else if (type === RTN.LOCAL || type === RTN.NAT) scope = RT_SCOPE.HOST;
    else if (type === RTN.BROADCAST || type === RTN.MULTICAST || type === RTN.ANYCAST) scope = RT_SCOPE.LINK;
    else if (type === RTN.UNICAST && !viaGateway) scope = RT_SCOPE.LINK;
    else scope = RT_SCOPE.UNIVERSE;
  }
  return {
    ...spec,
    dstLen: spec.dstLen ?? (spec.dst ? spec.dst.byteLength * 8 : 0),
    srcLen: spec.srcLen ?? (spec.src ? spec.src.byteLength * 8 : 0),
    tos: spec.tos ?? 0,
    table: spec.table ?? RT_TABLE.MAIN,
    protocol: spec.protocol ?? (forDelete ? RTPROT.UNSPEC : RTPROT.BOOT),
    scope,
    type,
    flags: spec.flags ?? 0,
    unknown: spec.unknown ?? [],
  };
}

function request(type: number, flags: number, route: Route): RtnlRequest {
  const { fixed, attrs } = encodeRoute(route);
  return { type, flags, fixed, attrs };
}

/**
 * Routes of `family`, of one table when `table` is given.
 * Equivalent to: `ip -4 route show table all` / `ip -6 route show table 20`.
 *
 * The kernel filters by table only on a socket with NETLINK_GET_STRICT_CHK;
 * without it, it returns every table and also the cached PMTU exceptions
 * (RTM_F_CLONED), so callers filter the result as well.
 */
export function dumpRoutes(family: number, table?: number): RtnlRequest {
  const fixed = new Uint8Array(RTMSG_LEN);
  fixed[0] = checkRange(family, 0xff, 'family');
  const attrs: Attribute[] = [];
  if (table !== undefined) {
    fixed[4] = compatTable(table, 'table');
    attrs.push(nla.u32(RTA.TABLE, table));
  }
  return { type: RTM.GETROUTE, flags: DUMP_FLAGS, fixed, attrs };
}

/**
 * The cached routes of `family`: PMTU exceptions and redirects (RTM_F_CLONED).
 * On a socket with NETLINK_GET_STRICT_CHK, RTM_F_CLONED in the request makes
 * the kernel dump only these (ip_valid_fib_dump_req: dump_routes = false).
 * Equivalent to: `ip route show cache` / `ip -6 route show cache`.
 */
export function dumpRouteCache(family: number): RtnlRequest {
  const fixed = new Uint8Array(RTMSG_LEN);
  const v = new DataView(fixed.buffer);
  v.setUint8(0, checkRange(family, 0xff, 'family'));
  v.setUint32(8, RTM_F.CLONED, true);
  return { type: RTM.GETROUTE, flags: DUMP_FLAGS, fixed, attrs: [] };
}

/** Selectors of a route lookup (`ip route get DST from SRC iif DEV oif DEV mark M uid U fibmatch`). */
export interface RouteGetOptions {
  readonly src?: Uint8Array;
  readonly iif?: number;
  readonly oif?: number;
  readonly mark?: number;
  readonly uid?: number;
  /** RTM_F_FIB_MATCH: return the FIB entry that matched instead of the resolved (cached) route. */
  readonly fibMatch?: boolean;
}

/**
 * Looks up the route the kernel would use for `dst`. The answer is one
 * RTM_NEWROUTE; when the kernel has learned a smaller path MTU for `dst`
 * (an ICMP "fragmentation needed" / "packet too big" arrived), it carries
 * RTA_METRICS with RTAX_MTU and rta_cacheinfo.rta_expires > 0 (the
 * exception's remaining life). RTM_F_CLONED alone says nothing: IPv4 sets it
 * on every answer (rt_fill_info), IPv6 only on cached entries (RTF_CACHE).
 * Equivalent to: `ip route get 198.51.100.2` (RTM_GETROUTE with RTA_DST, not a dump).
 */
export function getRoute(dst: Uint8Array, opts: RouteGetOptions = {}): RtnlRequest {
  const family = dst.byteLength === 16 ? RTNL_FAMILY.INET6 : RTNL_FAMILY.INET;
  checkAddress(dst, family, 'dst');
  const fixed = new Uint8Array(RTMSG_LEN);
  const v = new DataView(fixed.buffer);
  v.setUint8(0, family);
  v.setUint8(1, dst.byteLength * 8);
  const attrs: Attribute[] = [nla.bytes(RTA.DST, dst)];
  if (opts.src !== undefined) {
    v.setUint8(2, checkAddress(opts.src, family, 'src').byteLength * 8);
    attrs.push(nla.bytes(RTA.SRC, opts.src));
  }
  if (opts.iif !== undefined) attrs.push(nla.u32(RTA.IIF, checkRange(opts.iif, 0xffffffff, 'iif')));
  if (opts.oif !== undefined) attrs.push(nla.u32(RTA.OIF, checkRange(opts.oif, 0xffffffff, 'oif')));
  if (opts.mark !== undefined) attrs.push(nla.u32(RTA.MARK, checkRange(opts.mark, 0xffffffff, 'mark')));
  if (opts.uid !== undefined) attrs.push(nla.u32(RTA.UID, checkRange(opts.uid, 0xffffffff, 'uid')));
  // IPv4: RTM_F_LOOKUP_TABLE, as iproute2 sets it, so the answer names the table the lookup
  // matched instead of main. IPv6 answers with the matched table anyway and, on a strict socket,
  // refuses every flag but RTM_F_FIB_MATCH (inet6_rtm_valid_getroute_req: "Invalid flags").
  const lookupTable = family === RTNL_FAMILY.INET ? RTM_F.LOOKUP_TABLE : 0;
  v.setUint32(8, lookupTable | (opts.fibMatch ? RTM_F.FIB_MATCH : 0), true);
  return { type: RTM.GETROUTE, flags: REQUEST_FLAGS, fixed, attrs };
}

/**
 * Adds a route; EEXIST if the same destination, table, tos and metric exist.
 * Equivalent to: `ip route add default table 20 proto 240 nexthop via 192.0.2.2 weight 2 nexthop via 192.0.2.3`
 * (RTM_NEWROUTE, NLM_F_CREATE|NLM_F_EXCL).
 */
export function addRoute(spec: RouteSpec): RtnlRequest {
  return request(RTM.NEWROUTE, ADD_FLAGS, fromSpec(spec, false));
}

/**
 * Creates the route or replaces the one with the same destination, table,
 * tos and metric in a single step — how a multipath route's set of next
 * hops is swapped without a moment with no route.
 * Equivalent to: `ip route replace default table 20 proto 240 nexthop via 192.0.2.2 nexthop via 192.0.2.3`
 * (RTM_NEWROUTE, NLM_F_CREATE|NLM_F_REPLACE).
 */
export function replaceRoute(spec: RouteSpec): RtnlRequest {
  return request(RTM.NEWROUTE, REPLACE_FLAGS, fromSpec(spec, false));
}

/**
 * Deletes the first route matching the given fields (unset protocol, type
 * and scope match anything); ESRCH when none does.
 * Equivalent to: `ip route del default table 20` (RTM_DELROUTE).
 */
export function delRoute(spec: RouteSpec): RtnlRequest {
  return request(RTM.DELROUTE, REQUEST_FLAGS, fromSpec(spec, true));
}
