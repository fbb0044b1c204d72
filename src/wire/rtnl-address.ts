/**
 * rtnetlink addresses: RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR.
 *
 *   struct ifaddrmsg {            // include/uapi/linux/if_addr.h, 8 bytes
 *     __u8  ifa_family;
 *     __u8  ifa_prefixlen;
 *     __u8  ifa_flags;            // IFA_F_*, low 8 bits only; IFA_FLAGS (u32) overrides it
 *     __u8  ifa_scope;            // RT_SCOPE_*
 *     __u32 ifa_index;
 *   };
 *
 * followed by IFA_* attributes. IFA_LOCAL is the interface's own address;
 * IFA_ADDRESS is the prefix address, which differs from IFA_LOCAL only on
 * point-to-point links, where it is the peer (if_addr.h, "Important
 * comment"). IPv6 addresses carry only IFA_ADDRESS.
 */
import { type Attribute, decodeAttributes, nla } from './netlink-attribute.js';
import { type NetlinkMessage } from './netlink.js';
import { Reader, type Mutable } from './reader.js';
import {
  ADD_FLAGS,
  attrAddress,
  attrString,
  attrU32,
  attrU8,
  checkRange,
  DUMP_FLAGS,
  exactValue,
  expectMessageType,
  familyAddressLength,
  keepAttribute,
  REQUEST_FLAGS,
  RT_SCOPE,
  RTM,
  type RtnlRequest,
  RTNL_FAMILY,
  stringAttribute,
} from './rtnetlink.js';

/** sizeof(struct ifaddrmsg) */
export const IFADDRMSG_LEN = 8;

/** Address attributes (enum in include/uapi/linux/if_addr.h). */
export const IFA = {
  UNSPEC: 0, // IFA_UNSPEC
  ADDRESS: 1, // IFA_ADDRESS: prefix address (the peer on point-to-point links)
  LOCAL: 2, // IFA_LOCAL: the local address
  LABEL: 3, // IFA_LABEL: "eth0" or an alias label "eth0:1" (IPv4)
  BROADCAST: 4, // IFA_BROADCAST
  ANYCAST: 5, // IFA_ANYCAST
  CACHEINFO: 6, // IFA_CACHEINFO: struct ifa_cacheinfo
  MULTICAST: 7, // IFA_MULTICAST
  FLAGS: 8, // IFA_FLAGS (u32): all IFA_F_* bits; wins over ifa_flags
  RT_PRIORITY: 9, // IFA_RT_PRIORITY (u32): metric of the prefix route
  TARGET_NETNSID: 10, // IFA_TARGET_NETNSID
  PROTO: 11, // IFA_PROTO (u8): IFAPROT_*
} as const;

/** Address flags (include/uapi/linux/if_addr.h). */
export const IFA_F = {
  SECONDARY: 0x01, // #define IFA_F_SECONDARY 0x01 (IFA_F_TEMPORARY for IPv6)
  NODAD: 0x02, // #define IFA_F_NODAD 0x02
  OPTIMISTIC: 0x04, // #define IFA_F_OPTIMISTIC 0x04
  DADFAILED: 0x08, // #define IFA_F_DADFAILED 0x08
  HOMEADDRESS: 0x10, // #define IFA_F_HOMEADDRESS 0x10
  DEPRECATED: 0x20, // #define IFA_F_DEPRECATED 0x20
  TENTATIVE: 0x40, // #define IFA_F_TENTATIVE 0x40: DAD still running, not usable as a source
  PERMANENT: 0x80, // #define IFA_F_PERMANENT 0x80
  MANAGETEMPADDR: 0x100, // #define IFA_F_MANAGETEMPADDR 0x100
  NOPREFIXROUTE: 0x200, // #define IFA_F_NOPREFIXROUTE 0x200
  MCAUTOJOIN: 0x400, // #define IFA_F_MCAUTOJOIN 0x400
  STABLE_PRIVACY: 0x800, // #define IFA_F_STABLE_PRIVACY 0x800
} as const;

/** Lifetime value meaning "forever" (INFINITY_LIFE_TIME in net/ipv4/devinet.c). */
export const INFINITY_LIFE_TIME = 0xffffffff;

/** struct ifa_cacheinfo (16 bytes). */
export interface AddressCacheInfo {
  /** ifa_prefered: preferred lifetime left, seconds (INFINITY_LIFE_TIME = forever). */
  readonly preferred: number;
  /** ifa_valid: valid lifetime left, seconds. */
  readonly valid: number;
  /** cstamp: creation time, hundredths of a second since boot. */
  readonly cstamp: number;
  /** tstamp: last update, hundredths of a second since boot. */
  readonly tstamp: number;
}

export interface Address {
  /** ifa_family: AF_INET or AF_INET6. */
  readonly family: number;
  /** ifa_prefixlen */
  readonly prefixlen: number;
  /** IFA_F_* bits: IFA_FLAGS when present, else ifa_flags. */
  readonly flags: number;
  /** ifa_scope: RT_SCOPE_* */
  readonly scope: number;
  /** ifa_index: the interface. */
  readonly index: number;
  /** IFA_ADDRESS */
  readonly address?: Uint8Array;
  /** IFA_LOCAL */
  readonly local?: Uint8Array;
  /** IFA_LABEL */
  readonly label?: string;
  /** IFA_BROADCAST */
  readonly broadcast?: Uint8Array;
  /** IFA_CACHEINFO */
  readonly cacheinfo?: AddressCacheInfo;
  /** IFA_RT_PRIORITY */
  readonly routePriority?: number;
  /** IFA_PROTO */
  readonly protocol?: number;
  readonly unknown: readonly Attribute[];
}


const WHAT = 'ifaddrmsg';

/** Decodes RTM_NEWADDR / RTM_DELADDR (and RTM_GETADDR requests). */
export function decodeAddress(msg: NetlinkMessage): Address {
  expectMessageType(msg, [RTM.NEWADDR, RTM.DELADDR, RTM.GETADDR], WHAT);
  const r = new Reader(msg.payload, WHAT);
  const family = r.u8('ifa_family');
  const prefixlen = r.u8('ifa_prefixlen');
  const flags8 = r.u8('ifa_flags');
  const scope = r.u8('ifa_scope');
  const index = r.u32le('ifa_index');
  const addr: Mutable<Address> = { family, prefixlen, flags: flags8, scope, index, unknown: [] };
  const unknown: Attribute[] = [];
  for (const a of decodeAttributes(r.rest(), WHAT)) {
    switch (a.type) {
      case IFA.ADDRESS:
        addr.address = attrAddress(a, family, WHAT);
        break;
      case IFA.LOCAL:
        addr.local = attrAddress(a, family, WHAT);
        break;
      case IFA.LABEL:
        addr.label = attrString(a, WHAT);
        break;
      case IFA.BROADCAST:
        addr.broadcast = attrAddress(a, family, WHAT);
        break;
      case IFA.CACHEINFO: {
        const v = exactValue(a, 16, WHAT);
        addr.cacheinfo = {
          preferred: v.getUint32(0, true),
          valid: v.getUint32(4, true),
          cstamp: v.getUint32(8, true),
          tstamp: v.getUint32(12, true),
        };
        break;
      }
      case IFA.FLAGS:
        // "IFA_FLAGS is a u32 attribute that extends the u8 field ifa_flags.
        // If present, the value from struct ifaddrmsg will be ignored."
        addr.flags = attrU32(a, WHAT);
        break;
      case IFA.RT_PRIORITY:
        addr.routePriority = attrU32(a, WHAT);
        break;
      case IFA.PROTO:
        addr.protocol = attrU8(a, WHAT);
        break;
      default:
        unknown.push(keepAttribute(a));
    }
  }
  addr.unknown = unknown;
  return addr;
}

/**
 * Encodes an address. The flags go in both ifa_flags (low 8 bits) and
 * IFA_FLAGS (all of them), as the kernel itself reports them.
 */
export function encodeAddress(addr: Address): { fixed: Uint8Array; attrs: Attribute[] } {
  const fixed = new Uint8Array(IFADDRMSG_LEN);
  const v = new DataView(fixed.buffer);
  v.setUint8(0, checkRange(addr.family, 0xff, 'address.family'));
  v.setUint8(1, checkRange(addr.prefixlen, 0xff, 'address.prefixlen'));
  v.setUint8(2, checkRange(addr.flags, 0xffffffff, 'address.flags') & 0xff);
  v.setUint8(3, checkRange(addr.scope, 0xff, 'address.scope'));
  v.setUint32(4, checkRange(addr.index, 0xffffffff, 'address.index'), true);
  const attrs: Attribute[] = [];
  const len = familyAddressLength(addr.family);
  const ip = (type: number, bytes: Uint8Array, field: string): Attribute => {
    if (len !== undefined && bytes.byteLength !== len) throw new RangeError(`${field} must be ${len} bytes for family ${addr.family}`);
    return nla.bytes(type, bytes);
  };
  if (addr.address !== undefined) attrs.push(ip(IFA.ADDRESS, addr.address, 'address.address'));
  if (addr.local !== undefined) attrs.push(ip(IFA.LOCAL, addr.local, 'address.local'));
  if (addr.label !== undefined) attrs.push(stringAttribute(IFA.LABEL, addr.label, 'address.label'));
  if (addr.broadcast !== undefined) attrs.push(ip(IFA.BROADCAST, addr.broadcast, 'address.broadcast'));
  if (addr.cacheinfo !== undefined) {
    const c = addr.cacheinfo;
    const value = new Uint8Array(16);
    const cv = new DataView(value.buffer);
    cv.setUint32(0, checkRange(c.preferred, 0xffffffff, 'cacheinfo.preferred'), true);
    cv.setUint32(4, checkRange(c.valid, 0xffffffff, 'cacheinfo.valid'), true);
    cv.setUint32(8, checkRange(c.cstamp, 0xffffffff, 'cacheinfo.cstamp'), true);
    cv.setUint32(12, checkRange(c.tstamp, 0xffffffff, 'cacheinfo.tstamp'), true);
    attrs.push(nla.bytes(IFA.CACHEINFO, value));
  }
  attrs.push(nla.u32(IFA.FLAGS, addr.flags));
  if (addr.routePriority !== undefined) attrs.push(nla.u32(IFA.RT_PRIORITY, checkRange(addr.routePriority, 0xffffffff, 'address.routePriority')));
  if (addr.protocol !== undefined) attrs.push(nla.u8(IFA.PROTO, checkRange(addr.protocol, 0xff, 'address.protocol')));
  attrs.push(...addr.unknown);
  return { fixed, attrs };
}

// ---- requests ----

/**
 * What an add or delete needs: the interface, the address and its prefix
 * length. `local` and `address` default to each other (iproute2: "the peer
 * defaults to the local address"); the family follows the address length.
 */
export interface AddressSpec {
  readonly index: number;
  readonly prefixlen: number;
  readonly local?: Uint8Array;
  readonly address?: Uint8Array;
  readonly family?: number;
  readonly flags?: number;
  readonly scope?: number;
  readonly label?: string;
  readonly broadcast?: Uint8Array;
  readonly cacheinfo?: AddressCacheInfo;
  readonly routePriority?: number;
  readonly protocol?: number;
  readonly unknown?: readonly Attribute[];
}

function fromSpec(spec: AddressSpec): Address {
  const local = spec.local ?? spec.address;
  const address = spec.address ?? spec.local;
  if (local === undefined || address === undefined) throw new RangeError('an address needs `local` or `address`');
  const family = spec.family ?? (local.byteLength === 16 ? RTNL_FAMILY.INET6 : RTNL_FAMILY.INET);
  return { ...spec, family, local, address, flags: spec.flags ?? 0, scope: spec.scope ?? RT_SCOPE.UNIVERSE, unknown: spec.unknown ?? [] };
}

/**
 * Every address of `family` (AF_INET, AF_INET6, or AF_UNSPEC for both).
 * Equivalent to: `ip -4 addr show` / `ip -6 addr show`.
 */
export function dumpAddresses(family: number): RtnlRequest {
  const fixed = new Uint8Array(IFADDRMSG_LEN);
  fixed[0] = checkRange(family, 0xff, 'family');
  return { type: RTM.GETADDR, flags: DUMP_FLAGS, fixed, attrs: [] };
}

/**
 * Equivalent to: `ip addr add 192.0.2.1/24 dev IFINDEX` (RTM_NEWADDR, NLM_F_CREATE|NLM_F_EXCL;
 * EEXIST when the address is already there).
 */
export function addAddress(spec: AddressSpec): RtnlRequest {
  const { fixed, attrs } = encodeAddress(fromSpec(spec));
  return { type: RTM.NEWADDR, flags: ADD_FLAGS, fixed, attrs };
}

/** Equivalent to: `ip addr del 192.0.2.1/24 dev IFINDEX` (RTM_DELADDR; EADDRNOTAVAIL when absent). */
export function delAddress(spec: AddressSpec): RtnlRequest {
  const { fixed, attrs } = encodeAddress(fromSpec(spec));
  return { type: RTM.DELADDR, flags: REQUEST_FLAGS, fixed, attrs };
}
