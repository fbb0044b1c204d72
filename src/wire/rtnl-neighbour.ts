/**
 * rtnetlink neighbours (ARP / NDP cache): RTM_NEWNEIGH / RTM_DELNEIGH / RTM_GETNEIGH.
 *
 *   struct ndmsg {                     // include/uapi/linux/neighbour.h, 12 bytes
 *     __u8  ndm_family;
 *     __u8  ndm_pad1;
 *     __u16 ndm_pad2;
 *     __s32 ndm_ifindex;
 *     __u16 ndm_state;                 // NUD_*
 *     __u8  ndm_flags;                 // NTF_*
 *     __u8  ndm_type;                  // RTN_*
 *   };
 *
 * followed by NDA_* attributes: NDA_DST (the IP address), NDA_LLADDR (the
 * MAC), NDA_CACHEINFO (struct nda_cacheinfo, ages in clock ticks) and
 * NDA_PROBES.
 */
import { type Attribute, decodeAttributes, nla } from './netlink-attribute.js';
import { type NetlinkMessage } from './netlink.js';
import { Reader, type Mutable } from './reader.js';
import {
  attrAddress,
  attrU32,
  checkInt32,
  checkRange,
  copyBytes,
  DUMP_FLAGS,
  exactValue,
  expectMessageType,
  familyAddressLength,
  keepAttribute,
  NTF,
  NUD,
  REPLACE_FLAGS,
  RTM,
  type RtnlRequest,
  RTNL_FAMILY,
} from './rtnetlink.js';

/** sizeof(struct ndmsg) */
export const NDMSG_LEN = 12;

/** Neighbour attributes (enum in include/uapi/linux/neighbour.h). */
export const NDA = {
  UNSPEC: 0, // NDA_UNSPEC
  DST: 1, // NDA_DST: the protocol (IP) address
  LLADDR: 2, // NDA_LLADDR: the link-layer address
  CACHEINFO: 3, // NDA_CACHEINFO: struct nda_cacheinfo
  PROBES: 4, // NDA_PROBES (u32)
  VLAN: 5, // NDA_VLAN
  PORT: 6, // NDA_PORT
  VNI: 7, // NDA_VNI
  IFINDEX: 8, // NDA_IFINDEX (u32): in a dump request, only this device
  MASTER: 9, // NDA_MASTER
  LINK_NETNSID: 10, // NDA_LINK_NETNSID
  SRC_VNI: 11, // NDA_SRC_VNI
  PROTOCOL: 12, // NDA_PROTOCOL (u8)
  NH_ID: 13, // NDA_NH_ID
  FDB_EXT_ATTRS: 14, // NDA_FDB_EXT_ATTRS
  FLAGS_EXT: 15, // NDA_FLAGS_EXT (u32)
} as const;

/** struct nda_cacheinfo: ages in clock ticks (USER_HZ) since the event. */
export interface NeighbourCacheInfo {
  /** ndm_confirmed: since the neighbour was last confirmed reachable. */
  readonly confirmed: number;
  /** ndm_used: since the entry was last used. */
  readonly used: number;
  /** ndm_updated: since the entry last changed. */
  readonly updated: number;
  /** ndm_refcnt */
  readonly refcnt: number;
}

export interface Neighbour {
  /** ndm_family: AF_INET (ARP) or AF_INET6 (NDP) */
  readonly family: number;
  /** ndm_ifindex */
  readonly ifindex: number;
  /** ndm_state: NUD_* (one state bit, or NUD_NONE) */
  readonly state: number;
  /** ndm_flags: NTF_* */
  readonly flags: number;
  /** ndm_type: RTN_* (RTN_UNICAST, RTN_MULTICAST...) */
  readonly type: number;
  /** NDA_DST */
  readonly dst?: Uint8Array;
  /** NDA_LLADDR (absent while unresolved) */
  readonly lladdr?: Uint8Array;
  /** NDA_CACHEINFO */
  readonly cacheinfo?: NeighbourCacheInfo;
  /** NDA_PROBES: probes sent so far. */
  readonly probes?: number;
  readonly unknown: readonly Attribute[];
}


const WHAT = 'ndmsg';

/** Decodes RTM_NEWNEIGH / RTM_DELNEIGH (and RTM_GETNEIGH requests). */
export function decodeNeighbour(msg: NetlinkMessage): Neighbour {
  expectMessageType(msg, [RTM.NEWNEIGH, RTM.DELNEIGH, RTM.GETNEIGH], WHAT);
  const r = new Reader(msg.payload, WHAT);
  const family = r.u8('ndm_family');
  r.skip(3, 'ndm_pad1, ndm_pad2'); // padding: ignored here, written as 0
  const n: Mutable<Neighbour> = {
    family,
    ifindex: r.i32le('ndm_ifindex'),
    state: r.u16le('ndm_state'),
    flags: r.u8('ndm_flags'),
    type: r.u8('ndm_type'),
    unknown: [],
  };
  const unknown: Attribute[] = [];
  for (const a of decodeAttributes(r.rest(), WHAT)) {
    switch (a.type) {
      case NDA.DST:
        n.dst = attrAddress(a, family, WHAT);
        break;
      case NDA.LLADDR:
        n.lladdr = copyBytes(a.value);
        break;
      case NDA.CACHEINFO: {
        const v = exactValue(a, 16, WHAT);
        n.cacheinfo = {
          confirmed: v.getUint32(0, true),
          used: v.getUint32(4, true),
          updated: v.getUint32(8, true),
          refcnt: v.getUint32(12, true),
        };
        break;
      }
      case NDA.PROBES:
        n.probes = attrU32(a, WHAT);
        break;
      default:
        unknown.push(keepAttribute(a));
    }
  }
  n.unknown = unknown;
  return n;
}

/** Encodes a neighbour into its ndmsg and attributes (for encodeMessage or the socket). */
export function encodeNeighbour(n: Neighbour): { fixed: Uint8Array; attrs: Attribute[] } {
  const fixed = encodeNdmsg(n.family, n.ifindex, n.state, n.flags, n.type);
  const attrs: Attribute[] = [];
  if (n.dst !== undefined) {
    const len = familyAddressLength(n.family);
    if (len !== undefined && n.dst.byteLength !== len) throw new RangeError(`neighbour.dst must be ${len} bytes for family ${n.family}`);
    attrs.push(nla.bytes(NDA.DST, n.dst));
  }
  if (n.lladdr !== undefined) attrs.push(nla.bytes(NDA.LLADDR, n.lladdr));
  if (n.cacheinfo !== undefined) {
    const c = n.cacheinfo;
    const value = new Uint8Array(16);
    const v = new DataView(value.buffer);
    v.setUint32(0, checkRange(c.confirmed, 0xffffffff, 'cacheinfo.confirmed'), true);
    v.setUint32(4, checkRange(c.used, 0xffffffff, 'cacheinfo.used'), true);
    v.setUint32(8, checkRange(c.updated, 0xffffffff, 'cacheinfo.updated'), true);
    v.setUint32(12, checkRange(c.refcnt, 0xffffffff, 'cacheinfo.refcnt'), true);
    attrs.push(nla.bytes(NDA.CACHEINFO, value));
  }
  if (n.probes !== undefined) attrs.push(nla.u32(NDA.PROBES, checkRange(n.probes, 0xffffffff, 'neighbour.probes')));
  attrs.push(...n.unknown);
  return { fixed, attrs };
}

function encodeNdmsg(family: number, ifindex: number, state: number, flags: number, type: number): Uint8Array {
  const out = new Uint8Array(NDMSG_LEN);
  const v = new DataView(out.buffer);
  v.setUint8(0, checkRange(family, 0xff, 'ndm_family'));
  v.setInt32(4, checkInt32(ifindex, 'ndm_ifindex'), true);
  v.setUint16(8, checkRange(state, 0xffff, 'ndm_state'), true);
  v.setUint8(10, checkRange(flags, 0xff, 'ndm_flags'));
  v.setUint8(11, checkRange(type, 0xff, 'ndm_type'));
  return out;
}

// ---- requests ----

/**
 * Neighbours of `family` (AF_INET: ARP, AF_INET6: NDP), of one device when
 * `ifindex` is given. The device goes in NDA_IFINDEX, with ndm_ifindex 0:
 * the kernel filters on that attribute with and without
 * NETLINK_GET_STRICT_CHK (neigh_valid_dump_req).
 * Equivalent to: `ip -4 neigh show` / `ip neigh show dev eth0`.
 */
export function dumpNeighbours(family: number, ifindex?: number): RtnlRequest {
  const attrs: Attribute[] = [];
  if (ifindex !== undefined) attrs.push(nla.u32(NDA.IFINDEX, checkRange(ifindex, 0xffffffff, 'ifindex')));
  return { type: RTM.GETNEIGH, flags: DUMP_FLAGS, fixed: encodeNdmsg(family, 0, 0, 0, 0), attrs };
}

/**
 * Asks the kernel to resolve `dst` on `ifindex` now: RTM_NEWNEIGH with
 * NTF_USE, NLM_F_CREATE|NLM_F_REPLACE and ndm_state NUD_NONE.
 *
 * In neigh_add() (net/core/neighbour.c) NTF_USE makes __neigh_update keep
 * the entry's current state (NEIGH_UPDATE_F_USE) and then calls
 * neigh_event_send(), exactly what a packet queued to the neighbour does: a
 * missing or failed entry is created and goes NUD_INCOMPLETE with an ARP
 * request / neighbour solicitation sent, a stale one goes through
 * NUD_DELAY/PROBE, and a reachable one is left alone. NLM_F_CREATE lets it
 * create the entry; NUD_NONE keeps the new entry subject to garbage
 * collection (only NUD_PERMANENT or NTF_EXT_LEARNED entries are exempt), and
 * no lladdr is given, so nothing is pinned. The ACK comes before the answer:
 * watch RTM_NEWNEIGH notifications or dump again to see the result.
 *
 * Equivalent to: `ip neigh replace 192.0.2.2 dev eth0 nud none use`.
 */
export function resolveNeighbour(ifindex: number, dst: Uint8Array): RtnlRequest {
  const family = dst.byteLength === 16 ? RTNL_FAMILY.INET6 : dst.byteLength === 4 ? RTNL_FAMILY.INET : undefined;
  if (family === undefined) throw new RangeError(`a neighbour address is 4 or 16 bytes, got ${dst.byteLength}`);
  return {
    type: RTM.NEWNEIGH,
    flags: REPLACE_FLAGS,
    fixed: encodeNdmsg(family, ifindex, NUD.NONE, NTF.USE, 0),
    attrs: [nla.bytes(NDA.DST, dst)],
  };
}
