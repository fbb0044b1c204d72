/**
 * ICMP for IPv4 (RFC 792; struct icmphdr and the ICMP_* constants of
 * include/uapi/linux/icmp.h).
 *
 *   0      type(8) code(8) checksum(16)
 *   4      rest of header (32): echo id + sequence, RFC 1191 next-hop MTU, ...
 *   8      body: for error messages the quoted packet (IP header + leading
 *          bytes; Linux quotes up to 576 - 28 bytes, icmp_send())
 *
 * For "fragmentation needed" (type 3 code 4) RFC 1191 §4 puts the next-hop
 * MTU in the low 16 bits of the rest of header (bytes 6-7; bytes 4-5 unused).
 */
import { checksumWithFieldZeroed } from './checksum.js';
import { Reader } from './reader.js';

/** Types and codes share one namespace in icmp.h; so do they here. */
export const ICMP = {
  // types
  ECHOREPLY: 0, // ICMP_ECHOREPLY
  DEST_UNREACH: 3, // ICMP_DEST_UNREACH
  SOURCE_QUENCH: 4, // ICMP_SOURCE_QUENCH
  REDIRECT: 5, // ICMP_REDIRECT
  ECHO: 8, // ICMP_ECHO
  TIME_EXCEEDED: 11, // ICMP_TIME_EXCEEDED
  PARAMETERPROB: 12, // ICMP_PARAMETERPROB
  TIMESTAMP: 13, // ICMP_TIMESTAMP
  TIMESTAMPREPLY: 14, // ICMP_TIMESTAMPREPLY
  INFO_REQUEST: 15, // ICMP_INFO_REQUEST
  INFO_REPLY: 16, // ICMP_INFO_REPLY
  ADDRESS: 17, // ICMP_ADDRESS
  ADDRESSREPLY: 18, // ICMP_ADDRESSREPLY
  // codes for DEST_UNREACH
  NET_UNREACH: 0, // ICMP_NET_UNREACH
  HOST_UNREACH: 1, // ICMP_HOST_UNREACH
  PROT_UNREACH: 2, // ICMP_PROT_UNREACH
  PORT_UNREACH: 3, // ICMP_PORT_UNREACH
  FRAG_NEEDED: 4, // ICMP_FRAG_NEEDED
  SR_FAILED: 5, // ICMP_SR_FAILED
  NET_UNKNOWN: 6, // ICMP_NET_UNKNOWN
  HOST_UNKNOWN: 7, // ICMP_HOST_UNKNOWN
  HOST_ISOLATED: 8, // ICMP_HOST_ISOLATED
  NET_ANO: 9, // ICMP_NET_ANO
  HOST_ANO: 10, // ICMP_HOST_ANO
  NET_UNR_TOS: 11, // ICMP_NET_UNR_TOS
  HOST_UNR_TOS: 12, // ICMP_HOST_UNR_TOS
  PKT_FILTERED: 13, // ICMP_PKT_FILTERED
  PREC_VIOLATION: 14, // ICMP_PREC_VIOLATION
  PREC_CUTOFF: 15, // ICMP_PREC_CUTOFF
  // codes for TIME_EXCEEDED
  EXC_TTL: 0, // ICMP_EXC_TTL
  EXC_FRAGTIME: 1, // ICMP_EXC_FRAGTIME
} as const;

export const ICMP_HEADER_LEN = 8;

export interface IcmpEcho {
  readonly id: number;
  readonly sequence: number;
}

export interface Icmpv4Message {
  readonly type: number;
  readonly code: number;
  /** Checksum as carried; check it with verifyIcmpv4Checksum() (checksum.ts). */
  readonly checksum: number;
  /** Bytes 4-7 as one big-endian 32-bit value, kept whatever the type so round trips are lossless. */
  readonly restOfHeader: number;
  /** Present for destination unreachable / fragmentation needed (type 3 code 4): RFC 1191 next-hop MTU. */
  readonly nextHopMtu?: number;
  /** Present for echo request / reply (types 8 / 0). */
  readonly echo?: IcmpEcho;
  /** Everything after the 8-byte header (a view): the quoted packet for error messages, the data for echo. */
  readonly body: Uint8Array;
}

/** What encodeIcmpv4 needs. `nextHopMtu` / `echo`, when given, override the matching bits of `restOfHeader`. */
export interface Icmpv4Fields {
  readonly type: number;
  readonly code: number;
  readonly restOfHeader?: number;
  readonly nextHopMtu?: number;
  readonly echo?: IcmpEcho;
  readonly body: Uint8Array;
}

/** True for the ICMPv4 error types that quote the offending packet (RFC 1122 §3.2.2). */
export function isIcmpv4Error(type: number): boolean {
  return (
    type === ICMP.DEST_UNREACH ||
    type === ICMP.SOURCE_QUENCH ||
    type === ICMP.REDIRECT ||
    type === ICMP.TIME_EXCEEDED ||
    type === ICMP.PARAMETERPROB
  );
}

export function decodeIcmpv4(bytes: Uint8Array): Icmpv4Message {
  const r = new Reader(bytes, 'icmpv4');
  const type = r.u8('type');
  const code = r.u8('code');
  const checksum = r.u16be('checksum');
  const restOfHeader = r.u32be('rest of header');
  const body = r.rest();
  const base = { type, code, checksum, restOfHeader, body };
  if (type === ICMP.DEST_UNREACH && code === ICMP.FRAG_NEEDED) return { ...base, nextHopMtu: restOfHeader & 0xffff };
  if (type === ICMP.ECHO || type === ICMP.ECHOREPLY) return { ...base, echo: { id: restOfHeader >>> 16, sequence: restOfHeader & 0xffff } };
  return base;
}

/** Builds a message with its checksum; allocates once. */
export function encodeIcmpv4(m: Icmpv4Fields): Uint8Array {
  let rest = m.restOfHeader ?? 0;
  if (m.nextHopMtu !== undefined) rest = (rest & 0xffff0000) | (m.nextHopMtu & 0xffff);
  if (m.echo !== undefined) rest = ((m.echo.id & 0xffff) << 16) | (m.echo.sequence & 0xffff);
  const out = new Uint8Array(ICMP_HEADER_LEN + m.body.length);
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  v.setUint8(0, m.type);
  v.setUint8(1, m.code);
  v.setUint32(4, rest >>> 0);
  out.set(m.body, ICMP_HEADER_LEN);
  v.setUint16(2, checksumWithFieldZeroed(out, 2));
  return out;
}

