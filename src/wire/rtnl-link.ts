/**
 * rtnetlink links: RTM_NEWLINK / RTM_DELLINK / RTM_GETLINK / RTM_SETLINK.
 *
 *   struct ifinfomsg {                 // include/uapi/linux/rtnetlink.h, 16 bytes
 *     unsigned char  ifi_family;       // AF_UNSPEC
 *     unsigned char  __ifi_pad;
 *     unsigned short ifi_type;         // ARPHRD_*
 *     int            ifi_index;
 *     unsigned       ifi_flags;        // IFF_*
 *     unsigned       ifi_change;       // IFF_* change mask (requests; 0 in dumps)
 *   };
 *
 * followed by IFLA_* attributes (include/uapi/linux/if_link.h). IFLA_LINKINFO
 * nests IFLA_INFO_KIND ("veth", "bridge", ...) and the kind-specific
 * IFLA_INFO_DATA, which is kept raw here; IFLA_INFO_SLAVE_KIND names the
 * master's kind for an enslaved port.
 */
import { type Attribute, decodeAttributes, encodeAttributes, nla } from './netlink-attribute.js';
import { type NetlinkMessage, NLM_F } from './netlink.js';
import { Reader, type Mutable } from './reader.js';
import { DecodeError } from '../errors.js';
import {
  ADD_FLAGS,
  attrS32,
  attrString,
  attrU32,
  attrU8,
  checkInt32,
  checkRange,
  copyBytes,
  DUMP_FLAGS,
  exactValue,
  expectMessageType,
  IFF,
  keepAttribute,
  RTM,
  type RtnlRequest,
  RTNL_FAMILY,
  stringAttribute,
} from './rtnetlink.js';

/** sizeof(struct ifinfomsg) */
export const IFINFOMSG_LEN = 16;

/** Link attributes (enum in include/uapi/linux/if_link.h). */
export const IFLA = {
  UNSPEC: 0, // IFLA_UNSPEC
  ADDRESS: 1, // IFLA_ADDRESS: hardware address
  BROADCAST: 2, // IFLA_BROADCAST: hardware broadcast address
  IFNAME: 3, // IFLA_IFNAME
  MTU: 4, // IFLA_MTU (u32)
  LINK: 5, // IFLA_LINK (u32): lower device, or a veth's peer
  QDISC: 6, // IFLA_QDISC
  STATS: 7, // IFLA_STATS
  MASTER: 10, // IFLA_MASTER (u32): bridge/bond this port belongs to
  TXQLEN: 13, // IFLA_TXQLEN (u32)
  OPERSTATE: 16, // IFLA_OPERSTATE (u8, IF_OPER_*)
  LINKMODE: 17, // IFLA_LINKMODE (u8)
  LINKINFO: 18, // IFLA_LINKINFO (nested IFLA_INFO_*)
  IFALIAS: 20, // IFLA_IFALIAS (string): free text, shown by `ip link` as `alias ...`
  STATS64: 23, // IFLA_STATS64
  AF_SPEC: 26, // IFLA_AF_SPEC
  GROUP: 27, // IFLA_GROUP (u32)
  NET_NS_FD: 28, // IFLA_NET_NS_FD
  EXT_MASK: 29, // IFLA_EXT_MASK (u32, RTEXT_FILTER_*)
  PROMISCUITY: 30, // IFLA_PROMISCUITY
  CARRIER: 33, // IFLA_CARRIER (u8)
  LINK_NETNSID: 37, // IFLA_LINK_NETNSID (s32): namespace of IFLA_LINK, as seen from this one
  MIN_MTU: 50, // IFLA_MIN_MTU (u32)
  MAX_MTU: 51, // IFLA_MAX_MTU (u32)
  PROP_LIST: 52, // IFLA_PROP_LIST
  ALT_IFNAME: 53, // IFLA_ALT_IFNAME
  PERM_ADDRESS: 54, // IFLA_PERM_ADDRESS
} as const;

/** Attributes nested in IFLA_LINKINFO (enum in if_link.h). */
export const IFLA_INFO = {
  KIND: 1, // IFLA_INFO_KIND (string)
  DATA: 2, // IFLA_INFO_DATA (nested, kind-specific)
  XSTATS: 3, // IFLA_INFO_XSTATS
  SLAVE_KIND: 4, // IFLA_INFO_SLAVE_KIND (string)
  SLAVE_DATA: 5, // IFLA_INFO_SLAVE_DATA (nested, master-kind-specific)
} as const;

/**
 * IP tunnel attributes nested in IFLA_INFO_DATA for kinds ipip, sit, ip6tnl
 * (enum in include/uapi/linux/if_tunnel.h).
 */
export const IFLA_IPTUN = {
  LINK: 1, // IFLA_IPTUN_LINK (u32)
  LOCAL: 2, // IFLA_IPTUN_LOCAL (in_addr / in6_addr)
  REMOTE: 3, // IFLA_IPTUN_REMOTE
  TTL: 4, // IFLA_IPTUN_TTL (u8)
  TOS: 5, // IFLA_IPTUN_TOS (u8)
  ENCAP_LIMIT: 6, // IFLA_IPTUN_ENCAP_LIMIT (u8, ip6tnl)
  FLOWINFO: 7, // IFLA_IPTUN_FLOWINFO (u32, ip6tnl)
  FLAGS: 8, // IFLA_IPTUN_FLAGS (u16 for ipip/sit, u32 for ip6tnl)
  PROTO: 9, // IFLA_IPTUN_PROTO (u8): inner protocol; 0 = any the kind can carry
  PMTUDISC: 10, // IFLA_IPTUN_PMTUDISC (u8)
  COLLECT_METADATA: 19, // IFLA_IPTUN_COLLECT_METADATA (flag): `external`, one device per namespace serving every remote
  FWMARK: 20, // IFLA_IPTUN_FWMARK (u32)
} as const;

/** IFLA_EXT_MASK bits (include/uapi/linux/rtnetlink.h). */
export const RTEXT_FILTER = {
  VF: 1 << 0, // #define RTEXT_FILTER_VF (1 << 0)
  SKIP_STATS: 1 << 3, // #define RTEXT_FILTER_SKIP_STATS (1 << 3): leave out IFLA_STATS/STATS64
} as const;

/** ARPHRD_* device types seen on the nodes pathguard runs on (include/uapi/linux/if_arp.h). */
export const ARPHRD = {
  ETHER: 1, // #define ARPHRD_ETHER 1
  TUNNEL: 768, // #define ARPHRD_TUNNEL 768: IPIP
  TUNNEL6: 769, // #define ARPHRD_TUNNEL6 769: IP6IP6 / IPIP6
  LOOPBACK: 772, // #define ARPHRD_LOOPBACK 772
  IPGRE: 778, // #define ARPHRD_IPGRE 778
  NONE: 65534, // #define ARPHRD_NONE 0xFFFE: TUN, WireGuard
} as const;

/** RFC 2863 operational state, spelled as /sys/class/net/DEV/operstate spells it. */
export type OperState = 'unknown' | 'notpresent' | 'down' | 'lowerlayerdown' | 'testing' | 'dormant' | 'up';

const OPER_NAMES: readonly OperState[] = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'];

/** IF_OPER_* value of a named state. */
function operStateValue(s: OperState): number {
  const v = OPER_NAMES.indexOf(s);
  if (v < 0) throw new RangeError(`unknown operstate ${String(s)}`);
  return v;
}

/** IFLA_LINKINFO. */
export interface LinkInfo {
  /** IFLA_INFO_KIND: the driver kind ("veth", "bridge", "vxlan", "ipip", "wireguard"...). */
  readonly kind?: string;
  /** IFLA_INFO_DATA: kind-specific attributes, raw (decode with decodeAttributes when needed). */
  readonly data?: Uint8Array;
  /** IFLA_INFO_SLAVE_KIND: the master's kind when this device is a port ("bridge", "bond"). */
  readonly slaveKind?: string;
  /** IFLA_INFO_SLAVE_DATA, raw. */
  readonly slaveData?: Uint8Array;
  /** Other IFLA_INFO_* attributes (IFLA_INFO_XSTATS...). */
  readonly unknown: readonly Attribute[];
}

/** A network device. */
export interface Link {
  /** ifi_family: AF_UNSPEC, or AF_BRIDGE for bridge port messages. */
  readonly family: number;
  /** ifi_type: ARPHRD_*. */
  readonly type: number;
  /** ifi_index. */
  readonly index: number;
  /** ifi_flags: IFF_* bits (IFF_UP administrative, IFF_LOWER_UP carrier, IFF_RUNNING operational). */
  readonly flags: number;
  /** ifi_change: which ifi_flags bits a request changes; 0 in what the kernel sends. */
  readonly change: number;
  /** IFLA_IFNAME */
  readonly name?: string;
  /** IFLA_MTU */
  readonly mtu?: number;
  /** IFLA_MIN_MTU */
  readonly minMtu?: number;
  /** IFLA_MAX_MTU */
  readonly maxMtu?: number;
  /** IFLA_ADDRESS: hardware address (6 bytes for Ethernet; other lengths for tunnels). */
  readonly address?: Uint8Array;
  /** IFLA_BROADCAST */
  readonly broadcast?: Uint8Array;
  /** IFLA_OPERSTATE; a value outside IF_OPER_* stays in `unknown`. */
  readonly operstate?: OperState;
  /** IFLA_LINK: ifindex of the lower device (a veth's peer, a VLAN's parent), in `linkNetnsid`'s namespace when that is present. */
  readonly link?: number;
  /** IFLA_MASTER: ifindex of the bridge or bond this device is a port of. */
  readonly master?: number;
  /** IFLA_TXQLEN */
  readonly txqlen?: number;
  /** IFLA_GROUP */
  readonly group?: number;
  /** IFLA_LINK_NETNSID: id (in this namespace) of the namespace `link` lives in. */
  readonly linkNetnsid?: number;
  /** IFLA_LINKINFO */
  readonly linkinfo?: LinkInfo;
  /** IFLA_IFALIAS (pathguard marks the devices it creates with one). */
  readonly alias?: string;
  /** Every other attribute, as received. */
  readonly unknown: readonly Attribute[];
}


const WHAT = 'ifinfomsg';

/** Decodes RTM_NEWLINK / RTM_DELLINK (and the GET/SET requests). */
export function decodeLink(msg: NetlinkMessage): Link {
  expectMessageType(msg, [RTM.NEWLINK, RTM.DELLINK, RTM.GETLINK, RTM.SETLINK], WHAT);
  const r = new Reader(msg.payload, WHAT);
  const family = r.u8('ifi_family');
  r.skip(1, '__ifi_pad');
  const link: Mutable<Link> = {
    family,
    type: r.u16le('ifi_type'),
    index: r.i32le('ifi_index'),
    flags: r.u32le('ifi_flags'),
    change: r.u32le('ifi_change'),
    unknown: [],
  };
  const unknown: Attribute[] = [];
  for (const a of decodeAttributes(r.rest(), WHAT)) {
    switch (a.type) {
      case IFLA.IFNAME:
        link.name = attrString(a, WHAT);
        break;
      case IFLA.MTU:
        link.mtu = attrU32(a, WHAT);
        break;
      case IFLA.MIN_MTU:
        link.minMtu = attrU32(a, WHAT);
        break;
      case IFLA.MAX_MTU:
        link.maxMtu = attrU32(a, WHAT);
        break;
      case IFLA.ADDRESS:
        link.address = copyBytes(a.value);
        break;
      case IFLA.BROADCAST:
        link.broadcast = copyBytes(a.value);
        break;
      case IFLA.OPERSTATE: {
        const name = OPER_NAMES[attrU8(a, WHAT)];
        if (name === undefined) unknown.push(keepAttribute(a));
        else link.operstate = name;
        break;
      }
      case IFLA.LINK:
        link.link = attrU32(a, WHAT);
        break;
      case IFLA.MASTER:
        link.master = attrU32(a, WHAT);
        break;
      case IFLA.TXQLEN:
        link.txqlen = attrU32(a, WHAT);
        break;
      case IFLA.GROUP:
        link.group = attrU32(a, WHAT);
        break;
      case IFLA.LINK_NETNSID:
        link.linkNetnsid = attrS32(a, WHAT);
        break;
      case IFLA.LINKINFO:
        link.linkinfo = decodeLinkInfo(a);
        break;
      case IFLA.IFALIAS:
        link.alias = attrString(a, WHAT);
        break;
      default:
        unknown.push(keepAttribute(a));
    }
  }
  link.unknown = unknown;
  return link;
}

function decodeLinkInfo(a: Attribute): LinkInfo {
  const what = 'IFLA_LINKINFO';
  const info: Mutable<LinkInfo> = { unknown: [] };
  const unknown: Attribute[] = [];
  for (const n of decodeAttributes(a.value, what)) {
    switch (n.type) {
      case IFLA_INFO.KIND:
        info.kind = attrString(n, what);
        break;
      case IFLA_INFO.DATA:
        info.data = copyBytes(n.value);
        break;
      case IFLA_INFO.SLAVE_KIND:
        info.slaveKind = attrString(n, what);
        break;
      case IFLA_INFO.SLAVE_DATA:
        info.slaveData = copyBytes(n.value);
        break;
      default:
        unknown.push(keepAttribute(n));
    }
  }
  info.unknown = unknown;
  return info;
}

/** Encodes a link into its ifinfomsg and attributes (for encodeMessage or the socket). */
export function encodeLink(link: Link): { fixed: Uint8Array; attrs: Attribute[] } {
  const fixed = encodeIfinfomsg(link.family, link.type, link.index, link.flags, link.change);
  const attrs: Attribute[] = [];
  if (link.name !== undefined) attrs.push(stringAttribute(IFLA.IFNAME, link.name, 'link.name'));
  if (link.mtu !== undefined) attrs.push(nla.u32(IFLA.MTU, checkRange(link.mtu, 0xffffffff, 'link.mtu')));
  if (link.minMtu !== undefined) attrs.push(nla.u32(IFLA.MIN_MTU, checkRange(link.minMtu, 0xffffffff, 'link.minMtu')));
  if (link.maxMtu !== undefined) attrs.push(nla.u32(IFLA.MAX_MTU, checkRange(link.maxMtu, 0xffffffff, 'link.maxMtu')));
  if (link.address !== undefined) attrs.push(nla.bytes(IFLA.ADDRESS, link.address));
  if (link.broadcast !== undefined) attrs.push(nla.bytes(IFLA.BROADCAST, link.broadcast));
  if (link.operstate !== undefined) attrs.push(nla.u8(IFLA.OPERSTATE, operStateValue(link.operstate)));
  if (link.link !== undefined) attrs.push(nla.u32(IFLA.LINK, checkRange(link.link, 0xffffffff, 'link.link')));
  if (link.master !== undefined) attrs.push(nla.u32(IFLA.MASTER, checkRange(link.master, 0xffffffff, 'link.master')));
  if (link.txqlen !== undefined) attrs.push(nla.u32(IFLA.TXQLEN, checkRange(link.txqlen, 0xffffffff, 'link.txqlen')));
  if (link.group !== undefined) attrs.push(nla.u32(IFLA.GROUP, checkRange(link.group, 0xffffffff, 'link.group')));
  if (link.linkNetnsid !== undefined) attrs.push(nla.u32(IFLA.LINK_NETNSID, checkInt32(link.linkNetnsid, 'link.linkNetnsid') >>> 0));
  if (link.linkinfo !== undefined) attrs.push(encodeLinkInfo(link.linkinfo));
  if (link.alias !== undefined) attrs.push(stringAttribute(IFLA.IFALIAS, link.alias, 'link.alias'));
  attrs.push(...link.unknown);
  return { fixed, attrs };
}

/**
 * IFLA_LINKINFO and its IFLA_INFO_DATA / IFLA_INFO_SLAVE_DATA go out without
 * NLA_F_NESTED, as the kernel sends them (nla_nest_start_noflag) and accepts
 * them (rtnl_newlink parses IFLA_LINKINFO with the deprecated, flag-optional
 * parser), so a decoded link re-encodes to the kernel's bytes.
 */
function encodeLinkInfo(info: LinkInfo): Attribute {
  const inner: Attribute[] = [];
  if (info.kind !== undefined) inner.push(stringAttribute(IFLA_INFO.KIND, info.kind, 'linkinfo.kind'));
  if (info.data !== undefined) inner.push(nla.bytes(IFLA_INFO.DATA, info.data));
  if (info.slaveKind !== undefined) inner.push(stringAttribute(IFLA_INFO.SLAVE_KIND, info.slaveKind, 'linkinfo.slaveKind'));
  if (info.slaveData !== undefined) inner.push(nla.bytes(IFLA_INFO.SLAVE_DATA, info.slaveData));
  inner.push(...info.unknown);
  return nla.bytes(IFLA.LINKINFO, encodeAttributes(inner));
}

function encodeIfinfomsg(family: number, type: number, index: number, flags: number, change: number): Uint8Array {
  const out = new Uint8Array(IFINFOMSG_LEN);
  const v = new DataView(out.buffer);
  v.setUint8(0, checkRange(family, 0xff, 'ifi_family'));
  v.setUint16(2, checkRange(type, 0xffff, 'ifi_type'), true);
  v.setInt32(4, checkInt32(index, 'ifi_index'), true);
  v.setUint32(8, checkRange(flags, 0xffffffff, 'ifi_flags'), true);
  v.setUint32(12, checkRange(change, 0xffffffff, 'ifi_change'), true);
  return out;
}

// ---- requests ----

/**
 * One link by index or by name.
 * Equivalent to: `ip link show dev eth0` (RTM_GETLINK with ifi_index or IFLA_IFNAME).
 * The kernel answers with one RTM_NEWLINK, or ENODEV.
 */
export function getLink(which: number | string): RtnlRequest {
  const byName = typeof which === 'string';
  const attrs: Attribute[] = [nla.u32(IFLA.EXT_MASK, RTEXT_FILTER.SKIP_STATS)];
  if (byName) attrs.push(stringAttribute(IFLA.IFNAME, which, 'link name'));
  return {
    type: RTM.GETLINK,
    flags: NLM_F.REQUEST,
    fixed: encodeIfinfomsg(RTNL_FAMILY.UNSPEC, 0, byName ? 0 : which, 0, 0),
    attrs,
  };
}

/**
 * Every link of the namespace.
 * Equivalent to: `ip link show` (RTM_GETLINK dump; statistics skipped with RTEXT_FILTER_SKIP_STATS).
 */
export function dumpLinks(): RtnlRequest {
  return {
    type: RTM.GETLINK,
    flags: DUMP_FLAGS,
    fixed: encodeIfinfomsg(RTNL_FAMILY.UNSPEC, 0, 0, 0, 0),
    attrs: [nla.u32(IFLA.EXT_MASK, RTEXT_FILTER.SKIP_STATS)],
  };
}

/**
 * Equivalent to: `ip link set dev IFINDEX up` (RTM_NEWLINK, ifi_flags = IFF_UP, ifi_change = IFF_UP).
 * Only the IFF_UP bit changes; the change mask keeps the kernel from touching other flags.
 */
export function setLinkUp(index: number): RtnlRequest {
  return { type: RTM.NEWLINK, flags: NLM_F.REQUEST, fixed: encodeIfinfomsg(RTNL_FAMILY.UNSPEC, 0, index, IFF.UP, IFF.UP), attrs: [] };
}

/** Equivalent to: `ip link set dev IFINDEX down` (RTM_NEWLINK, ifi_flags = 0, ifi_change = IFF_UP). */
export function setLinkDown(index: number): RtnlRequest {
  return { type: RTM.NEWLINK, flags: NLM_F.REQUEST, fixed: encodeIfinfomsg(RTNL_FAMILY.UNSPEC, 0, index, 0, IFF.UP), attrs: [] };
}

/** Equivalent to: `ip link set dev IFINDEX mtu MTU` (RTM_NEWLINK with IFLA_MTU). */
export function setMtu(index: number, mtu: number): RtnlRequest {
  return {
    type: RTM.NEWLINK,
    flags: NLM_F.REQUEST,
    fixed: encodeIfinfomsg(RTNL_FAMILY.UNSPEC, 0, index, 0, 0),
    attrs: [nla.u32(IFLA.MTU, checkRange(mtu, 0xffffffff, 'mtu'))],
  };
}

/** What pathguard reads from a tunnel device's IFLA_INFO_DATA. */
export interface TunnelData {
  /** IFLA_IPTUN_PROTO, when present. */
  readonly proto?: number;
  /** IFLA_IPTUN_COLLECT_METADATA present: the device is in `external` mode. */
  readonly collectMetadata: boolean;
  /** IFLA_IPTUN_REMOTE present and not all zeros: a point-to-point tunnel, not a catch-all. */
  readonly hasRemote: boolean;
}

/** Decodes the IFLA_INFO_DATA of an ipip / ip6tnl / sit device (the kernel's ipip_fill_info, ip6_tnl_fill_info). */
export function decodeTunnelData(data: Uint8Array): TunnelData {
  const what = 'IFLA_INFO_DATA (iptun)';
  let proto: number | undefined;
  let collectMetadata = false;
  let hasRemote = false;
  for (const a of decodeAttributes(data, what)) {
    if (a.type === IFLA_IPTUN.PROTO) proto = attrU8(a, what);
    else if (a.type === IFLA_IPTUN.COLLECT_METADATA) collectMetadata = true;
    else if (a.type === IFLA_IPTUN.REMOTE) hasRemote = a.value.some((b) => b !== 0);
  }
  return proto === undefined ? { collectMetadata, hasRemote } : { proto, collectMetadata, hasRemote };
}

/** The tunnel kinds pathguard creates: IPv4-in-IPv4 (net/ipv4/ipip.c) and IPv6 tunnels (net/ipv6/ip6_tunnel.c). */
export type TunnelKind = 'ipip' | 'ip6tnl';

export interface TunnelSpec {
  readonly name: string;
  readonly kind: TunnelKind;
  /** IFLA_IPTUN_COLLECT_METADATA (`external`). */
  readonly external: boolean;
  /** IFLA_IPTUN_PROTO; 0 (any) is what iproute2 sends when no `mode` is given. */
  readonly proto?: number;
}

/**
 * Creates a tunnel device.
 * Equivalent to: `ip link add NAME type ipip external` (or `type ip6tnl external`).
 *
 * Byte for byte what iproute2 6.1 sends (captured with strace, see the unit
 * test): ifinfomsg all zeros, IFLA_IFNAME with its NUL, then IFLA_LINKINFO
 * (not flagged nested) holding IFLA_INFO_KIND *without* a NUL — iproute2
 * writes it with addattr_l(..., strlen(type)), and the kernel's policy for it
 * is NLA_STRING, which takes either — and IFLA_INFO_DATA with IFLA_IPTUN_PROTO
 * 0 (iptnl_parse_opt / ip6tunnel_parse_opt start from "any") and the
 * IFLA_IPTUN_COLLECT_METADATA flag. A kernel without the kind's module
 * answers EOPNOTSUPP with the extended ACK "Unknown device type"
 * (rtnl_newlink, after request_module("rtnl-link-KIND") found nothing).
 */
export function newTunnelLink(spec: TunnelSpec): RtnlRequest {
  const kind = new TextEncoder().encode(spec.kind);
  const data: Attribute[] = [nla.u8(IFLA_IPTUN.PROTO, checkRange(spec.proto ?? 0, 0xff, 'tunnel.proto'))];
  if (spec.external) data.push(nla.flag(IFLA_IPTUN.COLLECT_METADATA));
  const info = encodeAttributes([nla.bytes(IFLA_INFO.KIND, kind), nla.bytes(IFLA_INFO.DATA, encodeAttributes(data))]);
  return {
    type: RTM.NEWLINK,
    flags: ADD_FLAGS,
    fixed: encodeIfinfomsg(RTNL_FAMILY.UNSPEC, 0, 0, 0, 0),
    attrs: [stringAttribute(IFLA.IFNAME, spec.name, 'tunnel.name'), nla.bytes(IFLA.LINKINFO, info)],
  };
}

/**
 * Sets a device's alias and brings it up, found by name (ifi_index 0: the
 * kernel's rtnl_setlink / do_setlink look the device up by IFLA_IFNAME), so it
 * can follow the creation in the same batch before the index is known.
 * Equivalent to: `ip link set dev NAME alias ALIAS up`.
 */
export function setLinkAliasUp(name: string, alias: string): RtnlRequest {
  return {
    type: RTM.NEWLINK,
    flags: NLM_F.REQUEST,
    fixed: encodeIfinfomsg(RTNL_FAMILY.UNSPEC, 0, 0, IFF.UP, IFF.UP),
    attrs: [stringAttribute(IFLA.IFNAME, name, 'link name'), stringAttribute(IFLA.IFALIAS, alias, 'link alias')],
  };
}

/** Equivalent to: `ip link del dev INDEX` (RTM_DELLINK). */
export function delLink(index: number): RtnlRequest {
  return { type: RTM.DELLINK, flags: NLM_F.REQUEST, fixed: encodeIfinfomsg(RTNL_FAMILY.UNSPEC, 0, index, 0, 0), attrs: [] };
}

/** IFLA_INET_CONF (include/uapi/linux/if_link.h: enum { IFLA_INET_UNSPEC, IFLA_INET_CONF }) */
export const IFLA_INET_CONF = 1;

/**
 * Per-device IPv4 settings (include/uapi/linux/ip.h, enum IPV4_DEVCONF_*,
 * 1-based): the same values as /proc/sys/net/ipv4/conf/DEV/*.
 */
export const IPV4_DEVCONF = {
  RP_FILTER: 8, // IPV4_DEVCONF_RP_FILTER
  ARP_ANNOUNCE: 18, // IPV4_DEVCONF_ARP_ANNOUNCE
  ARP_IGNORE: 19, // IPV4_DEVCONF_ARP_IGNORE
} as const;

export interface Ipv4ConfChange {
  readonly rpFilter?: number;
  readonly arpAnnounce?: number;
  readonly arpIgnore?: number;
}

/**
 * Sets per-device IPv4 settings over rtnetlink:
 *   RTM_SETLINK ifi_index=INDEX
 *     IFLA_AF_SPEC { AF_INET { IFLA_INET_CONF { IPV4_DEVCONF_x: u32 ... } } }
 * The kernel applies it in inet_set_link_af() (net/ipv4/devinet.c), which
 * needs CAP_NET_ADMIN only, where writing /proc/sys/net/ipv4/conf/DEV/x needs
 * a writable /proc/sys (a container without privilege has it read-only).
 * Equivalent to: `sysctl -w net.ipv4.conf.DEV.rp_filter=0` (ip has no such command).
 */
export function setIpv4Conf(index: number, change: Ipv4ConfChange): RtnlRequest {
  const conf: Attribute[] = [];
  const put = (id: number, v: number | undefined, what: string) => {
    if (v !== undefined) conf.push(nla.u32(id, checkRange(v, 0xffffffff, what)));
  };
  put(IPV4_DEVCONF.RP_FILTER, change.rpFilter, 'rp_filter');
  put(IPV4_DEVCONF.ARP_ANNOUNCE, change.arpAnnounce, 'arp_announce');
  put(IPV4_DEVCONF.ARP_IGNORE, change.arpIgnore, 'arp_ignore');
  if (conf.length === 0) throw new RangeError('setIpv4Conf: nothing to set');
  return {
    type: RTM.SETLINK,
    flags: NLM_F.REQUEST | NLM_F.ACK,
    fixed: encodeIfinfomsg(RTNL_FAMILY.UNSPEC, 0, checkInt32(index, 'ifi_index'), 0, 0),
    attrs: [nla.nested(IFLA.AF_SPEC, [nla.nested(RTNL_FAMILY.INET, [nla.nested(IFLA_INET_CONF, conf)])])],
  };
}

// ---- tunnel parameters (IFLA_INFO_DATA of encapsulating kinds) ----

/** IFLA_VXLAN_* (enum in include/uapi/linux/if_link.h). */
export const IFLA_VXLAN = {
  ID: 1, // IFLA_VXLAN_ID (u32): the VNI
  GROUP: 2, // IFLA_VXLAN_GROUP (be32 address): remote or multicast group
  LINK: 3, // IFLA_VXLAN_LINK (u32): underlay device
  LOCAL: 4, // IFLA_VXLAN_LOCAL (be32 address)
  PORT: 15, // IFLA_VXLAN_PORT (be16): destination UDP port
  GROUP6: 16, // IFLA_VXLAN_GROUP6 (struct in6_addr)
  LOCAL6: 17, // IFLA_VXLAN_LOCAL6 (struct in6_addr)
} as const;

/** IFLA_GENEVE_* (enum in include/uapi/linux/if_link.h). */
export const IFLA_GENEVE = {
  ID: 1, // IFLA_GENEVE_ID (u32)
  REMOTE: 2, // IFLA_GENEVE_REMOTE (be32 address)
  PORT: 5, // IFLA_GENEVE_PORT (be16)
  REMOTE6: 7, // IFLA_GENEVE_REMOTE6 (struct in6_addr)
} as const;

/** IFLA_GRE_* for gre, gretap, ip6gre, ip6gretap (enum in include/uapi/linux/if_tunnel.h). */
export const IFLA_GRE = {
  LINK: 1, // IFLA_GRE_LINK (u32)
  OFLAGS: 3, // IFLA_GRE_OFLAGS (be16 GRE_* flags of packets sent)
  LOCAL: 6, // IFLA_GRE_LOCAL
  REMOTE: 7, // IFLA_GRE_REMOTE
  ENCAP_LIMIT: 11, // IFLA_GRE_ENCAP_LIMIT (u8, ip6gre)
  FLAGS: 13, // IFLA_GRE_FLAGS (u32, ip6gre: IP6_TNL_F_*)
} as const;

/** GRE header flags as IFLA_GRE_OFLAGS carries them (include/uapi/linux/if_tunnel.h, __be16). */
export const GRE_FLAG = {
  CSUM: 0x8000, // #define GRE_CSUM __cpu_to_be16(0x8000)
  KEY: 0x2000, // #define GRE_KEY __cpu_to_be16(0x2000)
  SEQ: 0x1000, // #define GRE_SEQ __cpu_to_be16(0x1000)
} as const;

/** #define IP6_TNL_F_IGN_ENCAP_LIMIT 0x1 (include/uapi/linux/ip6_tunnel.h): no encapsulation-limit option. */
export const IP6_TNL_F_IGN_ENCAP_LIMIT = 0x1;

/**
 * What an encapsulating device's IFLA_INFO_DATA says about its underlay:
 * the endpoints, the device it is bound to and the options that change the
 * per-packet overhead. Only the attributes the kind defines are read; the
 * rest stay in the raw `LinkInfo.data`.
 */
export interface TunnelInfo {
  /** VNI (vxlan, geneve). */
  readonly id?: number;
  /** Local endpoint (network order bytes, 4 or 16). */
  readonly local?: Uint8Array;
  /** Remote endpoint or multicast group. */
  readonly remote?: Uint8Array;
  /** Destination UDP port (vxlan, geneve). */
  readonly port?: number;
  /** ifindex of the underlay device the tunnel is bound to (0 or absent: any). */
  readonly underlay?: number;
  /** GRE output flags (GRE_* bits). */
  readonly greFlags?: number;
  /**
   * ip6tnl / ip6gre: the encapsulation limit option is added (an 8-byte IPv6
   * destination option), unless IP6_TNL_F_IGN_ENCAP_LIMIT (`encaplimit none`)
   * is set: ip6_tnl_link_config subtracts those 8 bytes from the MTU likewise.
   */
  readonly encapLimit?: boolean;
}

function addressOf(a: Attribute, what: string): Uint8Array {
  if (a.value.byteLength !== 4 && a.value.byteLength !== 16) {
    throw new DecodeError(what, `address attribute ${a.type} has ${a.value.byteLength} bytes, expected 4 or 16`, 0);
  }
  return copyBytes(a.value);
}

function be16(a: Attribute, what: string): number {
  return exactValue(a, 2, what).getUint16(0, false);
}

/** An all-zero address means "unset" (the kernel reports 0.0.0.0 / :: for wildcard endpoints). */
function setAddress(out: Mutable<TunnelInfo>, key: 'local' | 'remote', v: Uint8Array): void {
  if (v.some((b) => b !== 0)) out[key] = v;
}

/**
 * Decodes the IFLA_INFO_DATA of vxlan, geneve, ipip, sit, ip6tnl, gre,
 * gretap, ip6gre and ip6gretap devices (drivers/net/vxlan/vxlan_core.c
 * vxlan_fill_info, drivers/net/geneve.c geneve_fill_info,
 * net/ipv4/ipip.c ipip_fill_info, net/ipv6/ip6_tunnel.c ip6_tnl_fill_info,
 * net/ipv4/ip_gre.c ipgre_fill_info, net/ipv6/ip6_gre.c ip6gre_fill_info).
 * WireGuard puts nothing there (its peers live in generic netlink), so it
 * and any other kind yield undefined.
 */
export function decodeTunnelInfo(kind: string, data: Uint8Array | undefined): TunnelInfo | undefined {
  const what = `IFLA_INFO_DATA (${kind})`;
  const attrs = data === undefined ? [] : decodeAttributes(data, what);
  const out: Mutable<TunnelInfo> = {};
  switch (kind) {
    case 'vxlan':
      for (const a of attrs) {
        if (a.type === IFLA_VXLAN.ID) out.id = attrU32(a, what);
        else if (a.type === IFLA_VXLAN.GROUP || a.type === IFLA_VXLAN.GROUP6) setAddress(out, 'remote', addressOf(a, what));
        else if (a.type === IFLA_VXLAN.LOCAL || a.type === IFLA_VXLAN.LOCAL6) setAddress(out, 'local', addressOf(a, what));
        else if (a.type === IFLA_VXLAN.LINK) out.underlay = attrU32(a, what);
        else if (a.type === IFLA_VXLAN.PORT) out.port = be16(a, what);
      }
      return out;
    case 'geneve':
      for (const a of attrs) {
        if (a.type === IFLA_GENEVE.ID) out.id = attrU32(a, what);
        else if (a.type === IFLA_GENEVE.REMOTE || a.type === IFLA_GENEVE.REMOTE6) setAddress(out, 'remote', addressOf(a, what));
        else if (a.type === IFLA_GENEVE.PORT) out.port = be16(a, what);
      }
      return out;
    case 'ipip':
    case 'sit':
    case 'ip6tnl': {
      let flags = 0;
      for (const a of attrs) {
        if (a.type === IFLA_IPTUN.LOCAL) setAddress(out, 'local', addressOf(a, what));
        else if (a.type === IFLA_IPTUN.REMOTE) setAddress(out, 'remote', addressOf(a, what));
        else if (a.type === IFLA_IPTUN.LINK) out.underlay = attrU32(a, what);
        else if (a.type === IFLA_IPTUN.FLAGS && kind === 'ip6tnl') flags = attrU32(a, what);
      }
      if (kind === 'ip6tnl') out.encapLimit = (flags & IP6_TNL_F_IGN_ENCAP_LIMIT) === 0;
      return out;
    }
    case 'gre':
    case 'gretap':
    case 'ip6gre':
    case 'ip6gretap': {
      let flags = 0;
      for (const a of attrs) {
        if (a.type === IFLA_GRE.LOCAL) setAddress(out, 'local', addressOf(a, what));
        else if (a.type === IFLA_GRE.REMOTE) setAddress(out, 'remote', addressOf(a, what));
        else if (a.type === IFLA_GRE.LINK) out.underlay = attrU32(a, what);
        else if (a.type === IFLA_GRE.OFLAGS) out.greFlags = be16(a, what);
        else if (a.type === IFLA_GRE.FLAGS) flags = attrU32(a, what);
      }
      if (kind.startsWith('ip6')) out.encapLimit = (flags & IP6_TNL_F_IGN_ENCAP_LIMIT) === 0;
      return out;
    }
    default:
      return undefined;
  }
}
