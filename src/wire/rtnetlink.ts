/**
 * rtnetlink (NETLINK_ROUTE) message types and the constants shared by its
 * objects: links, addresses, routes, rules and neighbours.
 *
 * Mirrors include/uapi/linux/rtnetlink.h, if.h (IFF_*), if_link.h (IF_OPER_*),
 * neighbour.h (NUD_*, NTF_*) and fib_rules.h (FR_ACT_*, FIB_RULE_*). The
 * attribute types of each object (IFLA_*, IFA_*, RTA_*, FRA_*, NDA_*) live in
 * that object's module (rtnl-link.ts, rtnl-address.ts, ...).
 *
 * Every rtnetlink message is an nlmsghdr, a fixed family header (struct
 * ifinfomsg, ifaddrmsg, rtmsg, fib_rule_hdr, ndmsg) padded to 4 bytes, then
 * attributes, all in host byte order — except addresses, which are in network
 * order as they are on the wire.
 */
import { DecodeError } from '../errors.js';
import { type Attribute } from './netlink-attribute.js';
import { type NetlinkMessage, NLM_F } from './netlink.js';
import { AF } from './sockaddr.js';

/** Message types (enum in include/uapi/linux/rtnetlink.h, RTM_BASE = 16). */
export const RTM = {
  NEWLINK: 16, // RTM_NEWLINK
  DELLINK: 17, // RTM_DELLINK
  GETLINK: 18, // RTM_GETLINK
  SETLINK: 19, // RTM_SETLINK
  NEWADDR: 20, // RTM_NEWADDR
  DELADDR: 21, // RTM_DELADDR
  GETADDR: 22, // RTM_GETADDR
  NEWROUTE: 24, // RTM_NEWROUTE
  DELROUTE: 25, // RTM_DELROUTE
  GETROUTE: 26, // RTM_GETROUTE
  NEWNEIGH: 28, // RTM_NEWNEIGH
  DELNEIGH: 29, // RTM_DELNEIGH
  GETNEIGH: 30, // RTM_GETNEIGH
  NEWRULE: 32, // RTM_NEWRULE
  DELRULE: 33, // RTM_DELRULE
  GETRULE: 34, // RTM_GETRULE
} as const;

/**
 * Address families rtnetlink messages carry in their first byte
 * (include/linux/socket.h). The ones sockaddr.ts knows are taken from there.
 */
export const RTNL_FAMILY = {
  UNSPEC: AF.UNSPEC, // #define AF_UNSPEC 0
  INET: AF.INET, // #define AF_INET 2
  BRIDGE: 7, // #define AF_BRIDGE 7
  INET6: AF.INET6, // #define AF_INET6 10
  MPLS: 28, // #define AF_MPLS 28
} as const;

/** Multicast groups to subscribe to for change notifications (enum rtnetlink_groups). */
export const RTNLGRP = {
  LINK: 1, // RTNLGRP_LINK
  NEIGH: 3, // RTNLGRP_NEIGH
  IPV4_IFADDR: 5, // RTNLGRP_IPV4_IFADDR
  IPV4_ROUTE: 7, // RTNLGRP_IPV4_ROUTE
  IPV4_RULE: 8, // RTNLGRP_IPV4_RULE
  IPV6_IFADDR: 9, // RTNLGRP_IPV6_IFADDR
  IPV6_ROUTE: 11, // RTNLGRP_IPV6_ROUTE
  IPV6_RULE: 19, // RTNLGRP_IPV6_RULE
} as const;

/**
 * Reserved routing table ids (enum rt_class_t). Ids above 255 do not fit
 * rtm_table / fib_rule_hdr.table: those then hold RT_TABLE_COMPAT and the real
 * id travels in RTA_TABLE / FRA_TABLE.
 */
export const RT_TABLE = {
  UNSPEC: 0, // RT_TABLE_UNSPEC
  COMPAT: 252, // RT_TABLE_COMPAT
  DEFAULT: 253, // RT_TABLE_DEFAULT
  MAIN: 254, // RT_TABLE_MAIN
  LOCAL: 255, // RT_TABLE_LOCAL
} as const;

/**
 * Who installed a route (rtm_protocol) or a rule (FRA_PROTOCOL). Values at or
 * above RTPROT_STATIC are not interpreted by the kernel; pathguard marks its
 * own objects with one (see the routes component).
 */
export const RTPROT = {
  UNSPEC: 0, // #define RTPROT_UNSPEC 0
  REDIRECT: 1, // #define RTPROT_REDIRECT 1: installed by ICMP redirects
  KERNEL: 2, // #define RTPROT_KERNEL 2: installed by the kernel
  BOOT: 3, // #define RTPROT_BOOT 3: installed during boot (iproute2's default)
  STATIC: 4, // #define RTPROT_STATIC 4: installed by the administrator
  RA: 9, // #define RTPROT_RA 9: router advertisements
  DHCP: 16, // #define RTPROT_DHCP 16
  KEEPALIVED: 18, // #define RTPROT_KEEPALIVED 18
  BABEL: 42, // #define RTPROT_BABEL 42
  BGP: 186, // #define RTPROT_BGP 186
  ISIS: 187, // #define RTPROT_ISIS 187
  OSPF: 188, // #define RTPROT_OSPF 188
  RIP: 189, // #define RTPROT_RIP 189
} as const;

/** rtm_scope / ifa_scope: distance to the destination (enum rt_scope_t). */
export const RT_SCOPE = {
  UNIVERSE: 0, // RT_SCOPE_UNIVERSE
  SITE: 200, // RT_SCOPE_SITE
  LINK: 253, // RT_SCOPE_LINK
  HOST: 254, // RT_SCOPE_HOST
  NOWHERE: 255, // RT_SCOPE_NOWHERE (in a delete request: any scope)
} as const;

/** rtm_type / ndm_type (enum in rtnetlink.h). */
export const RTN = {
  UNSPEC: 0, // RTN_UNSPEC
  UNICAST: 1, // RTN_UNICAST: gateway or direct route
  LOCAL: 2, // RTN_LOCAL: accept locally
  BROADCAST: 3, // RTN_BROADCAST
  ANYCAST: 4, // RTN_ANYCAST
  MULTICAST: 5, // RTN_MULTICAST
  BLACKHOLE: 6, // RTN_BLACKHOLE: drop
  UNREACHABLE: 7, // RTN_UNREACHABLE: drop with ICMP unreachable
  PROHIBIT: 8, // RTN_PROHIBIT: drop with ICMP prohibited
  THROW: 9, // RTN_THROW: not in this table, continue with the next rule
  NAT: 10, // RTN_NAT
  XRESOLVE: 11, // RTN_XRESOLVE
} as const;

/** rtm_flags. */
export const RTM_F = {
  NOTIFY: 0x100, // #define RTM_F_NOTIFY 0x100
  CLONED: 0x200, // #define RTM_F_CLONED 0x200: a cached clone / PMTU exception, not a FIB entry
  EQUALIZE: 0x400, // #define RTM_F_EQUALIZE 0x400
  PREFIX: 0x800, // #define RTM_F_PREFIX 0x800
  LOOKUP_TABLE: 0x1000, // #define RTM_F_LOOKUP_TABLE 0x1000: route get reports the table that matched
  FIB_MATCH: 0x2000, // #define RTM_F_FIB_MATCH 0x2000: route get returns the FIB entry, not the dst
  OFFLOAD: 0x4000, // #define RTM_F_OFFLOAD 0x4000
  TRAP: 0x8000, // #define RTM_F_TRAP 0x8000
  OFFLOAD_FAILED: 0x20000000, // #define RTM_F_OFFLOAD_FAILED 0x20000000
} as const;

/** rtnh_flags of a multipath next hop (and rtm_flags of a single-path route). */
export const RTNH_F = {
  DEAD: 1, // #define RTNH_F_DEAD 1
  PERVASIVE: 2, // #define RTNH_F_PERVASIVE 2
  ONLINK: 4, // #define RTNH_F_ONLINK 4: gateway is on link even without a matching prefix
  OFFLOAD: 8, // #define RTNH_F_OFFLOAD 8
  LINKDOWN: 16, // #define RTNH_F_LINKDOWN 16: carrier is down on the next hop's device
  UNRESOLVED: 32, // #define RTNH_F_UNRESOLVED 32
  TRAP: 64, // #define RTNH_F_TRAP 64
} as const;

/** Device flags, ifi_flags (enum net_device_flags, include/uapi/linux/if.h). */
export const IFF = {
  UP: 0x1, // IFF_UP: administratively up
  BROADCAST: 0x2, // IFF_BROADCAST
  DEBUG: 0x4, // IFF_DEBUG
  LOOPBACK: 0x8, // IFF_LOOPBACK
  POINTOPOINT: 0x10, // IFF_POINTOPOINT
  NOTRAILERS: 0x20, // IFF_NOTRAILERS
  RUNNING: 0x40, // IFF_RUNNING: operationally up (RFC 2863 "up")
  NOARP: 0x80, // IFF_NOARP
  PROMISC: 0x100, // IFF_PROMISC
  ALLMULTI: 0x200, // IFF_ALLMULTI
  MASTER: 0x400, // IFF_MASTER
  SLAVE: 0x800, // IFF_SLAVE
  MULTICAST: 0x1000, // IFF_MULTICAST
  PORTSEL: 0x2000, // IFF_PORTSEL
  AUTOMEDIA: 0x4000, // IFF_AUTOMEDIA
  DYNAMIC: 0x8000, // IFF_DYNAMIC
  LOWER_UP: 0x10000, // IFF_LOWER_UP: carrier
  DORMANT: 0x20000, // IFF_DORMANT
  ECHO: 0x40000, // IFF_ECHO
} as const;

/** IFLA_OPERSTATE values (RFC 2863 operational status, enum in include/uapi/linux/if.h). */
export const IF_OPER = {
  UNKNOWN: 0, // IF_OPER_UNKNOWN
  NOTPRESENT: 1, // IF_OPER_NOTPRESENT
  DOWN: 2, // IF_OPER_DOWN
  LOWERLAYERDOWN: 3, // IF_OPER_LOWERLAYERDOWN
  TESTING: 4, // IF_OPER_TESTING
  DORMANT: 5, // IF_OPER_DORMANT
  UP: 6, // IF_OPER_UP
} as const;

/** Neighbour states, ndm_state (include/uapi/linux/neighbour.h). */
export const NUD = {
  NONE: 0x00, // #define NUD_NONE 0x00
  INCOMPLETE: 0x01, // #define NUD_INCOMPLETE 0x01: resolution in progress
  REACHABLE: 0x02, // #define NUD_REACHABLE 0x02
  STALE: 0x04, // #define NUD_STALE 0x04
  DELAY: 0x08, // #define NUD_DELAY 0x08
  PROBE: 0x10, // #define NUD_PROBE 0x10
  FAILED: 0x20, // #define NUD_FAILED 0x20
  NOARP: 0x40, // #define NUD_NOARP 0x40: pseudo state, never changes
  PERMANENT: 0x80, // #define NUD_PERMANENT 0x80: pseudo state, never changes or expires
} as const;

/** Neighbour flags, ndm_flags (include/uapi/linux/neighbour.h). */
export const NTF = {
  USE: 0x01, // #define NTF_USE (1 << 0): in a request, "use" the entry: start resolution if needed
  SELF: 0x02, // #define NTF_SELF (1 << 1)
  MASTER: 0x04, // #define NTF_MASTER (1 << 2)
  PROXY: 0x08, // #define NTF_PROXY (1 << 3)
  EXT_LEARNED: 0x10, // #define NTF_EXT_LEARNED (1 << 4)
  OFFLOADED: 0x20, // #define NTF_OFFLOADED (1 << 5)
  STICKY: 0x40, // #define NTF_STICKY (1 << 6)
  ROUTER: 0x80, // #define NTF_ROUTER (1 << 7)
} as const;

/** fib_rule_hdr.action (include/uapi/linux/fib_rules.h). */
export const FR_ACT = {
  UNSPEC: 0, // FR_ACT_UNSPEC
  TO_TBL: 1, // FR_ACT_TO_TBL: pass to a fixed table
  GOTO: 2, // FR_ACT_GOTO: jump to another rule
  NOP: 3, // FR_ACT_NOP
  BLACKHOLE: 6, // FR_ACT_BLACKHOLE: drop silently
  UNREACHABLE: 7, // FR_ACT_UNREACHABLE: drop with ENETUNREACH
  PROHIBIT: 8, // FR_ACT_PROHIBIT: drop with EACCES
} as const;

/** fib_rule_hdr.flags (include/uapi/linux/fib_rules.h). */
export const FIB_RULE = {
  PERMANENT: 0x1, // #define FIB_RULE_PERMANENT 0x00000001
  INVERT: 0x2, // #define FIB_RULE_INVERT 0x00000002: `ip rule add not ...`
  UNRESOLVED: 0x4, // #define FIB_RULE_UNRESOLVED 0x00000004: goto target missing
  IIF_DETACHED: 0x8, // #define FIB_RULE_IIF_DETACHED 0x00000008: iif names no existing device
  OIF_DETACHED: 0x10, // #define FIB_RULE_OIF_DETACHED 0x00000010
  FIND_SADDR: 0x10000, // #define FIB_RULE_FIND_SADDR 0x00010000
} as const;

/**
 * A request ready for the netlink socket: message type, NLM_F_* flags
 * (NLM_F_REQUEST included; the socket adds NLM_F_ACK where it wants one),
 * the fixed family header and the attributes. Dumps carry NLM_F_DUMP.
 */
export interface RtnlRequest {
  readonly type: number;
  readonly flags: number;
  readonly fixed: Uint8Array;
  readonly attrs: readonly Attribute[];
}

/** Flags of a plain request (get, set, delete). */
export const REQUEST_FLAGS = NLM_F.REQUEST;
/** Flags of a dump request. */
export const DUMP_FLAGS = NLM_F.REQUEST | NLM_F.DUMP;
/** Flags of a request that creates an object and fails if it exists (`ip ... add`). */
export const ADD_FLAGS = NLM_F.REQUEST | NLM_F.CREATE | NLM_F.EXCL;
/** Flags of a request that creates or replaces an object in one step (`ip ... replace`). */
export const REPLACE_FLAGS = NLM_F.REQUEST | NLM_F.CREATE | NLM_F.REPLACE;

// ---- shared decoding helpers for the rtnl-* modules ----

/** Address length of an AF_INET / AF_INET6 family, undefined for others (their addresses are kept as sent). */
export function familyAddressLength(family: number): number | undefined {
  if (family === AF.INET) return 4;
  if (family === AF.INET6) return 16;
  return undefined;
}

/** Throws unless `msg.type` is one of `types` (decoding a neighbour as a route is a caller bug or a hostile peer). */
export function expectMessageType(msg: NetlinkMessage, types: readonly number[], what: string): void {
  if (!types.includes(msg.type)) {
    throw new DecodeError(what, `message type ${msg.type} is not one of ${types.join(', ')}`, 0);
  }
}

/** The value of an attribute that must be exactly `n` bytes (a scalar or a fixed struct). */
export function exactValue(a: Attribute, n: number, what: string): DataView {
  if (a.value.byteLength !== n) {
    throw new DecodeError(what, `attribute ${a.type} has ${a.value.byteLength} bytes, expected ${n}`, 0);
  }
  return new DataView(a.value.buffer, a.value.byteOffset, a.value.byteLength);
}

export function attrU8(a: Attribute, what: string): number {
  return exactValue(a, 1, what).getUint8(0);
}
export function attrU32(a: Attribute, what: string): number {
  return exactValue(a, 4, what).getUint32(0, true);
}
export function attrS32(a: Attribute, what: string): number {
  return exactValue(a, 4, what).getInt32(0, true);
}

/**
 * An IP address attribute of a message of `family`: exactly 4 or 16 bytes for
 * AF_INET / AF_INET6; kept as sent for other families. Returns a copy, so a
 * stored address does not pin the whole receive buffer.
 */
export function attrAddress(a: Attribute, family: number, what: string): Uint8Array {
  const len = familyAddressLength(family);
  if (len !== undefined && a.value.byteLength !== len) {
    throw new DecodeError(what, `address attribute ${a.type} has ${a.value.byteLength} bytes, family ${family} needs ${len}`, 0);
  }
  return copyBytes(a.value);
}

/** Strict: bytes that are not UTF-8 would not survive a round trip through a JS string. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A string attribute: the bytes up to the first NUL. The kernel's strings
 * (nla_put_string) end in exactly one NUL; anything else is not what the
 * kernel sends and would not survive a round trip.
 */
export function attrString(a: Attribute, what: string): string {
  const nul = a.value.indexOf(0);
  if (nul !== a.value.byteLength - 1) {
    throw new DecodeError(what, `string attribute ${a.type} is not NUL-terminated exactly once`, 0);
  }
  try {
    return utf8.decode(a.value.subarray(0, nul));
  } catch (err) {
    throw new DecodeError(what, `string attribute ${a.type} is not UTF-8 (${(err as Error).message})`, 0);
  }
}

/** A NUL-terminated string attribute; rejects strings the kernel could not read back (embedded NUL). */
export function stringAttribute(type: number, s: string, field: string): Attribute {
  if (s.includes('\0')) throw new RangeError(`${field} must not contain NUL`);
  const enc = new TextEncoder().encode(s);
  const value = new Uint8Array(enc.byteLength + 1);
  value.set(enc);
  return { type, flags: 0, value };
}

/**
 * A plain Uint8Array copy of `bytes`. Not `bytes.slice()`: on a Node.js
 * Buffer (what a socket may hand us) slice() is a view, and a Buffer would
 * leak into values that are meant to be plain bytes.
 */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/** Copies an attribute so a kept unknown attribute does not pin the receive buffer. */
export function keepAttribute(a: Attribute): Attribute {
  return { type: a.type, flags: a.flags, value: copyBytes(a.value) };
}

/** Throws unless `v` is an integer in [0, max]; for values we are about to encode. */
export function checkRange(v: number, max: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${field} must be an integer in 0..${max}, got ${v}`);
  return v;
}

/** Throws unless `v` is a 32-bit signed integer; for values we are about to encode. */
export function checkInt32(v: number, field: string): number {
  if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new RangeError(`${field} must be a 32-bit signed integer, got ${v}`);
  return v;
}

/** rtm_table / fib_rule_hdr.table for a table id: the id when it fits 8 bits, else RT_TABLE_COMPAT (the id then goes in RTA_TABLE / FRA_TABLE). */
export function compatTable(table: number | undefined, field: string): number {
  if (table === undefined) return RT_TABLE.UNSPEC;
  return checkRange(table, 0xffffffff, field) > 0xff ? RT_TABLE.COMPAT : table;
}
