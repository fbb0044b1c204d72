/**
 * IPv4 headers (RFC 791; struct iphdr in include/uapi/linux/ip.h) and the
 * protocol numbers of include/uapi/linux/in.h and in6.h.
 *
 *   0      ver(4) ihl(4)   tos(8)        total length(16)
 *   4      id(16)                        flags(3) fragment offset(13)
 *   8      ttl(8)  protocol(8)           header checksum(16)
 *   12     source address
 *   16     destination address
 *   20     options (ihl*4 - 20 bytes), kept raw
 *
 * The packet is bounded by its total length: bytes after it (Ethernet
 * padding, a capture's trailer) are not part of the payload. The head of a
 * packet quoted in an ICMP error is decoded with { quoted: true }.
 */
import { checksumWithFieldZeroed, verifyChecksum } from './checksum.js';
import { Reader } from './reader.js';

export const IPPROTO = {
  IP: 0, // IPPROTO_IP (in.h); the same value is IPPROTO_HOPOPTS (in6.h) as an IPv6 next header
  HOPOPTS: 0, // IPPROTO_HOPOPTS (in6.h): IPv6 hop-by-hop options
  ICMP: 1, // IPPROTO_ICMP
  IGMP: 2, // IPPROTO_IGMP
  IPIP: 4, // IPPROTO_IPIP
  TCP: 6, // IPPROTO_TCP
  UDP: 17, // IPPROTO_UDP
  DCCP: 33, // IPPROTO_DCCP
  IPV6: 41, // IPPROTO_IPV6
  ROUTING: 43, // IPPROTO_ROUTING (in6.h)
  FRAGMENT: 44, // IPPROTO_FRAGMENT (in6.h)
  GRE: 47, // IPPROTO_GRE
  ESP: 50, // IPPROTO_ESP
  AH: 51, // IPPROTO_AH
  ICMPV6: 58, // IPPROTO_ICMPV6 (in6.h)
  NONE: 59, // IPPROTO_NONE (in6.h)
  DSTOPTS: 60, // IPPROTO_DSTOPTS (in6.h)
  SCTP: 132, // IPPROTO_SCTP
  UDPLITE: 136, // IPPROTO_UDPLITE
  RAW: 255, // IPPROTO_RAW
} as const;

/** Flag bits of the frag_off field (include/net/ip.h). */
export const IP_FLAGS = {
  CE: 0x8000, // IP_CE: reserved, "congestion" (the evil bit of RFC 3514)
  DF: 0x4000, // IP_DF: don't fragment
  MF: 0x2000, // IP_MF: more fragments
  OFFSET: 0x1fff, // IP_OFFSET: fragment offset mask, in 8-byte units
} as const;

export interface IPv4Packet {
  /** Header length in 32-bit words (5-15). */
  readonly ihl: number;
  /** Type of service: DSCP (upper 6 bits) and ECN (lower 2). */
  readonly tos: number;
  readonly totalLength: number;
  readonly id: number;
  /** The reserved flag bit (IP_CE); set only by broken or hostile senders. */
  readonly reservedFlag: boolean;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
  /** Fragment offset in 8-byte units, as carried. */
  readonly fragmentOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  /** Header checksum as carried; check it with verifyIPv4Header(). */
  readonly checksum: number;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /** Raw options (ihl*4 - 20 bytes), empty when there are none. */
  readonly options: Uint8Array;
  /** Bytes after the header up to totalLength (a view). */
  readonly payload: Uint8Array;
}

/** What encodeIPv4 needs; every field a decoded IPv4Packet has may be given (lengths and checksum are recomputed). */
export interface IPv4Fields {
  readonly tos?: number;
  readonly id?: number;
  readonly reservedFlag?: boolean;
  readonly dontFragment?: boolean;
  readonly moreFragments?: boolean;
  readonly fragmentOffset?: number;
  /** Default 64 (net.ipv4.ip_default_ttl). */
  readonly ttl?: number;
  readonly protocol: number;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /** Raw options, a multiple of 4 bytes, at most 40. */
  readonly options?: Uint8Array;
  readonly payload: Uint8Array;
}

export const IPV4_HEADER_MIN = 20;

export interface DecodeIPOptions {
  /**
   * The bytes are the head of a packet quoted inside an ICMP error, which
   * carries only its first bytes: the length field may exceed them, and the
   * payload is what is there (up to the length field).
   */
  readonly quoted?: boolean;
}

export function decodeIPv4(bytes: Uint8Array, options: DecodeIPOptions = {}): IPv4Packet {
  const r = new Reader(bytes, 'ipv4');
  const vihl = r.u8('version/ihl');
  if (vihl >> 4 !== 4) r.fail(`version ${vihl >> 4} is not 4`, 0);
  const ihl = vihl & 0x0f;
  if (ihl < 5) r.fail(`ihl ${ihl} is below 5`, 0);
  const tos = r.u8('tos');
  const totalLength = r.u16be('total length');
  const id = r.u16be('id');
  const fragOff = r.u16be('fragment offset');
  const ttl = r.u8('ttl');
  const protocol = r.u8('protocol');
  const checksum = r.u16be('checksum');
  const src = r.take(4, 'source');
  const dst = r.take(4, 'destination');
  const opts = r.take(ihl * 4 - IPV4_HEADER_MIN, 'options');
  if (totalLength < ihl * 4) r.fail(`total length ${totalLength} is shorter than the ${ihl * 4}-byte header`, 2);
  if (totalLength > bytes.length && !options.quoted) r.fail(`total length ${totalLength} runs past the ${bytes.length}-byte buffer`, 2);
  const payload = bytes.subarray(ihl * 4, Math.min(totalLength, bytes.length));
  return {
    ihl,
    tos,
    totalLength,
    id,
    reservedFlag: (fragOff & IP_FLAGS.CE) !== 0,
    dontFragment: (fragOff & IP_FLAGS.DF) !== 0,
    moreFragments: (fragOff & IP_FLAGS.MF) !== 0,
    fragmentOffset: fragOff & IP_FLAGS.OFFSET,
    ttl,
    protocol,
    checksum,
    src,
    dst,
    options: opts,
    payload,
  };
}

/** True when the header checksum of the IPv4 packet at the start of `bytes` verifies (RFC 791, RFC 1071). */
export function verifyIPv4Header(bytes: Uint8Array): boolean {
  if (bytes.length < IPV4_HEADER_MIN) return false;
  const hlen = (bytes[0]! & 0x0f) * 4;
  return hlen >= IPV4_HEADER_MIN && hlen <= bytes.length && verifyChecksum(bytes, 0, 0, hlen);
}

/** Builds a packet: computes IHL, total length and the header checksum; allocates once. */
export function encodeIPv4(p: IPv4Fields): Uint8Array {
  const options = p.options ?? new Uint8Array(0);
  if (options.length % 4 !== 0 || options.length > 40) throw new RangeError(`ipv4: options must be a multiple of 4 bytes up to 40, got ${options.length}`);
  if (p.src.length !== 4 || p.dst.length !== 4) throw new RangeError('ipv4: addresses must be 4 bytes');
  const hlen = IPV4_HEADER_MIN + options.length;
  const total = hlen + p.payload.length;
  if (total > 0xffff) throw new RangeError(`ipv4: packet of ${total} bytes exceeds 65535`);
  const fragmentOffset = p.fragmentOffset ?? 0;
  if (fragmentOffset < 0 || fragmentOffset > IP_FLAGS.OFFSET) throw new RangeError(`ipv4: fragment offset ${fragmentOffset} out of range`);

  const out = new Uint8Array(total);
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  v.setUint8(0, 0x40 | (hlen / 4));
  v.setUint8(1, p.tos ?? 0);
  v.setUint16(2, total);
  v.setUint16(4, p.id ?? 0);
  v.setUint16(
    6,
    (p.reservedFlag ? IP_FLAGS.CE : 0) | (p.dontFragment ? IP_FLAGS.DF : 0) | (p.moreFragments ? IP_FLAGS.MF : 0) | fragmentOffset,
  );
  v.setUint8(8, p.ttl ?? 64);
  v.setUint8(9, p.protocol);
  out.set(p.src, 12);
  out.set(p.dst, 16);
  out.set(options, IPV4_HEADER_MIN);
  v.setUint16(10, checksumWithFieldZeroed(out, 10, 0, 0, hlen));
  out.set(p.payload, hlen);
  return out;
}

/**
 * True when the option bytes in bytes[start, end) parse as a TLV list
 * (RFC 791 §3.1): EOL (0) ends the list, NOP (1) is one byte, every other
 * option carries a length byte of at least 2 that stays inside the area.
 * This mirrors the framing checks of __ip_options_compile() in
 * net/ipv4/ip_options.c; it does not judge individual options.
 */
export function ipv4OptionsWellFormed(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    const type = bytes[i]!;
    if (type === 0) return true; // IPOPT_END
    if (type === 1) {
      i++; // IPOPT_NOOP
      continue;
    }
    if (i + 1 >= end) return false;
    const len = bytes[i + 1]!;
    if (len < 2 || i + len > end) return false;
    i += len;
  }
  return true;
}
