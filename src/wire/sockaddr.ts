/**
 * Socket address structures as the kernel lays them out (x86-64 / arm64 Linux):
 *
 *   struct sockaddr_in  { sa_family_t sin_family; __be16 sin_port; struct in_addr sin_addr; u8 pad[8]; }   16 bytes
 *   struct sockaddr_in6 { sa_family_t sin6_family; __be16 sin6_port; __be32 sin6_flowinfo;
 *                         struct in6_addr sin6_addr; __u32 sin6_scope_id; }                             28 bytes
 *   struct sockaddr_ll  { unsigned short sll_family; __be16 sll_protocol; int sll_ifindex;
 *                         unsigned short sll_hatype; unsigned char sll_pkttype; unsigned char sll_halen;
 *                         unsigned char sll_addr[8]; }                                                  20 bytes
 *   struct sockaddr_nl  { __kernel_sa_family_t nl_family; unsigned short nl_pad; __u32 nl_pid; __u32 nl_groups; }  12 bytes
 *
 * sa_family_t is host order; ports and protocols are network order.
 * (include/uapi/linux/in.h, in6.h, if_packet.h, netlink.h)
 */
import { Reader } from './reader.js';

export const AF = {
  UNSPEC: 0, // #define AF_UNSPEC 0
  INET: 2, // #define AF_INET 2
  NETLINK: 16, // #define AF_NETLINK 16
  PACKET: 17, // #define AF_PACKET 17
  INET6: 10, // #define AF_INET6 10
} as const;

export const SOCKADDR_IN_LEN = 16;
export const SOCKADDR_IN6_LEN = 28;
export const SOCKADDR_LL_LEN = 20;
export const SOCKADDR_NL_LEN = 12;

/** sockaddr_in or sockaddr_in6 for a 4- or 16-byte address. */
export function encodeSockaddrIn(addr: Uint8Array, port: number, scopeId = 0): Uint8Array {
  if (addr.byteLength === 4) {
    const out = new Uint8Array(SOCKADDR_IN_LEN);
    const v = new DataView(out.buffer);
    v.setUint16(0, AF.INET, true);
    v.setUint16(2, port, false);
    out.set(addr, 4);
    return out;
  }
  if (addr.byteLength === 16) {
    const out = new Uint8Array(SOCKADDR_IN6_LEN);
    const v = new DataView(out.buffer);
    v.setUint16(0, AF.INET6, true);
    v.setUint16(2, port, false);
    out.set(addr, 8);
    v.setUint32(24, scopeId, true);
    return out;
  }
  throw new RangeError(`an IP address is 4 or 16 bytes, got ${addr.byteLength}`);
}

export interface SockaddrIn {
  readonly family: 4 | 6;
  /** A copy of the address bytes. */
  readonly address: Uint8Array;
  readonly port: number;
  readonly scopeId?: number;
}

export function decodeSockaddrIn(bytes: Uint8Array): SockaddrIn {
  const r = new Reader(bytes, 'sockaddr');
  const family = r.u16le('family');
  const port = r.u16be('port');
  if (family === AF.INET) {
    return { family: 4, port, address: r.take(4, 'sin_addr').slice() };
  }
  if (family === AF.INET6) {
    r.skip(4, 'sin6_flowinfo');
    const address = r.take(16, 'sin6_addr').slice();
    return { family: 6, port, address, scopeId: r.u32le('sin6_scope_id') };
  }
  return r.fail(`family ${family} is not AF_INET or AF_INET6`, 0);
}

/** sockaddr_ll for sending to `mac` out of `ifindex` with EtherType `protocol`. */
export function encodeSockaddrLl(ifindex: number, protocol: number, mac?: Uint8Array): Uint8Array {
  const out = new Uint8Array(SOCKADDR_LL_LEN);
  const v = new DataView(out.buffer);
  v.setUint16(0, AF.PACKET, true);
  v.setUint16(2, protocol, false);
  v.setInt32(4, ifindex, true);
  if (mac) {
    if (mac.byteLength > 8) throw new RangeError('sll_addr holds at most 8 bytes');
    out[11] = mac.byteLength;
    out.set(mac, 12);
  }
  return out;
}

/** sockaddr_nl: port id 0 lets the kernel pick one; `groups` is the legacy group bitmask. */
export function encodeSockaddrNl(pid = 0, groups = 0): Uint8Array {
  const out = new Uint8Array(SOCKADDR_NL_LEN);
  const v = new DataView(out.buffer);
  v.setUint16(0, AF.NETLINK, true);
  v.setUint32(4, pid, true);
  v.setUint32(8, groups >>> 0, true);
  return out;
}

export function decodeSockaddrNl(bytes: Uint8Array): { pid: number; groups: number } {
  const r = new Reader(bytes, 'sockaddr_nl');
  const family = r.u16le('nl_family');
  if (family !== AF.NETLINK) r.fail(`family ${family} is not AF_NETLINK`, 0);
  r.skip(2, 'nl_pad');
  return { pid: r.u32le('nl_pid'), groups: r.u32le('nl_groups') };
}
