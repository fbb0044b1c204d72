/**
 * ICMPv6 (RFC 4443; struct icmp6hdr and the ICMPV6_* constants of
 * include/uapi/linux/icmpv6.h).
 *
 *   0      type(8) code(8) checksum(16)
 *   4      rest of header (32): MTU (packet too big), pointer (parameter
 *          problem), echo id + sequence, ...
 *   8      body: for error messages (types 1-127) as much of the offending
 *          packet as fits without exceeding the minimum MTU of 1280
 *          (RFC 4443 §2.4 (c)), i.e. up to 1232 bytes
 *
 * The checksum covers the IPv6 pseudo-header (RFC 8200 §8.1), so it is
 * computed and verified with the addresses: see icmpv6Checksum() and
 * verifyIcmpv6Checksum() in checksum.ts.
 */
import { checksumWithFieldZeroed, pseudoHeaderSum } from './checksum.js';
import { IPPROTO } from './ipv4.js';
import { Reader } from './reader.js';

/** Types and codes share one namespace in icmpv6.h; so do they here. */
export const ICMPV6 = {
  // error types
  DEST_UNREACH: 1, // ICMPV6_DEST_UNREACH
  PKT_TOOBIG: 2, // ICMPV6_PKT_TOOBIG
  TIME_EXCEED: 3, // ICMPV6_TIME_EXCEED
  PARAMPROB: 4, // ICMPV6_PARAMPROB
  // informational types
  ECHO_REQUEST: 128, // ICMPV6_ECHO_REQUEST
  ECHO_REPLY: 129, // ICMPV6_ECHO_REPLY
  MGM_QUERY: 130, // ICMPV6_MGM_QUERY
  MGM_REPORT: 131, // ICMPV6_MGM_REPORT
  MGM_REDUCTION: 132, // ICMPV6_MGM_REDUCTION
  NI_QUERY: 139, // ICMPV6_NI_QUERY
  NI_REPLY: 140, // ICMPV6_NI_REPLY
  MLD2_REPORT: 143, // ICMPV6_MLD2_REPORT
  // codes for DEST_UNREACH
  NOROUTE: 0, // ICMPV6_NOROUTE
  ADM_PROHIBITED: 1, // ICMPV6_ADM_PROHIBITED
  NOT_NEIGHBOUR: 2, // ICMPV6_NOT_NEIGHBOUR
  ADDR_UNREACH: 3, // ICMPV6_ADDR_UNREACH
  PORT_UNREACH: 4, // ICMPV6_PORT_UNREACH
  POLICY_FAIL: 5, // ICMPV6_POLICY_FAIL
  REJECT_ROUTE: 6, // ICMPV6_REJECT_ROUTE
  // codes for TIME_EXCEED
  EXC_HOPLIMIT: 0, // ICMPV6_EXC_HOPLIMIT
  EXC_FRAGTIME: 1, // ICMPV6_EXC_FRAGTIME
  // codes for PARAMPROB
  HDR_FIELD: 0, // ICMPV6_HDR_FIELD
  UNK_NEXTHDR: 1, // ICMPV6_UNK_NEXTHDR
  UNK_OPTION: 2, // ICMPV6_UNK_OPTION
  HDR_INCOMP: 3, // ICMPV6_HDR_INCOMP
} as const;

/** ND message types (include/net/ndisc.h; not in the uapi header). */
export const NDISC = {
  ROUTER_SOLICITATION: 133, // NDISC_ROUTER_SOLICITATION
  ROUTER_ADVERTISEMENT: 134, // NDISC_ROUTER_ADVERTISEMENT
  NEIGHBOUR_SOLICITATION: 135, // NDISC_NEIGHBOUR_SOLICITATION
  NEIGHBOUR_ADVERTISEMENT: 136, // NDISC_NEIGHBOUR_ADVERTISEMENT
  REDIRECT: 137, // NDISC_REDIRECT
} as const;

export const ICMPV6_HEADER_LEN = 8;

export interface Icmpv6Echo {
  readonly id: number;
  readonly sequence: number;
}

export interface Icmpv6Message {
  readonly type: number;
  readonly code: number;
  /** Checksum as carried; check it with verifyIcmpv6Checksum(src, dst, bytes) (checksum.ts). */
  readonly checksum: number;
  /** Bytes 4-7 as one big-endian 32-bit value, kept whatever the type so round trips are lossless. */
  readonly restOfHeader: number;
  /** Present for packet too big (type 2): the 32-bit MTU (RFC 4443 §3.2). */
  readonly mtu?: number;
  /** Present for parameter problem (type 4): offset of the offending byte (RFC 4443 §3.4). */
  readonly pointer?: number;
  /** Present for echo request / reply (types 128 / 129). */
  readonly echo?: Icmpv6Echo;
  /** Everything after the 8-byte header (a view): the quoted packet for error messages. */
  readonly body: Uint8Array;
}

/** What encodeIcmpv6 needs. `mtu` / `pointer` / `echo`, when given, override `restOfHeader`. */
export interface Icmpv6Fields {
  readonly type: number;
  readonly code: number;
  readonly restOfHeader?: number;
  readonly mtu?: number;
  readonly pointer?: number;
  readonly echo?: Icmpv6Echo;
  readonly body: Uint8Array;
}

/** True for error messages (types 0-127, RFC 4443 §2.1), which quote the offending packet. */
export function isIcmpv6Error(type: number): boolean {
  return type < 128;
}

export function decodeIcmpv6(bytes: Uint8Array): Icmpv6Message {
  const r = new Reader(bytes, 'icmpv6');
  const type = r.u8('type');
  const code = r.u8('code');
  const checksum = r.u16be('checksum');
  const restOfHeader = r.u32be('rest of header');
  const body = r.rest();
  const base = { type, code, checksum, restOfHeader, body };
  if (type === ICMPV6.PKT_TOOBIG) return { ...base, mtu: restOfHeader };
  if (type === ICMPV6.PARAMPROB) return { ...base, pointer: restOfHeader };
  if (type === ICMPV6.ECHO_REQUEST || type === ICMPV6.ECHO_REPLY) {
    return { ...base, echo: { id: restOfHeader >>> 16, sequence: restOfHeader & 0xffff } };
  }
  return base;
}

/** Builds a message with its checksum over the pseudo-header of src/dst (16 bytes each); allocates once. */
export function encodeIcmpv6(m: Icmpv6Fields, src: Uint8Array, dst: Uint8Array): Uint8Array {
  if (src.length !== 16 || dst.length !== 16) throw new RangeError('icmpv6: addresses must be 16 bytes');
  let rest = m.restOfHeader ?? 0;
  if (m.mtu !== undefined) rest = m.mtu;
  if (m.pointer !== undefined) rest = m.pointer;
  if (m.echo !== undefined) rest = ((m.echo.id & 0xffff) << 16) | (m.echo.sequence & 0xffff);
  const out = new Uint8Array(ICMPV6_HEADER_LEN + m.body.length);
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  v.setUint8(0, m.type);
  v.setUint8(1, m.code);
  v.setUint32(4, rest >>> 0);
  out.set(m.body, ICMPV6_HEADER_LEN);
  v.setUint16(2, checksumWithFieldZeroed(out, 2, pseudoHeaderSum(src, dst, IPPROTO.ICMPV6, out.length)));
  return out;
}
