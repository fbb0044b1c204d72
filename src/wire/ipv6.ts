/**
 * IPv6 packets (RFC 8200; struct ipv6hdr in include/uapi/linux/ipv6.h) and
 * the extension-header chain in front of the upper-layer header.
 *
 *   0      ver(4) traffic class(8) flow label(20)
 *   4      payload length(16)  next header(8)  hop limit(8)
 *   8      source address (16)
 *   24     destination address (16)
 *   40     extension headers, then the upper-layer header
 *
 * Extension headers walked (each kept raw, its first byte is the next header):
 *   hop-by-hop (0), routing (43), destination options (60): (len + 1) * 8 bytes
 *   fragment (44): always 8 bytes (struct frag_hdr)
 *   authentication (51): (len + 2) * 4 bytes (RFC 4303 §2.2, ipv6_authlen())
 * Hop-by-hop is only valid right after the fixed header (RFC 8200 §4.3);
 * the kernel answers any other placement with a parameter problem.
 * The walk stops at the first other value (the upper-layer protocol; ESP and
 * "no next header" (59) included) and after a fragment header whose offset is
 * not zero: a non-first fragment carries data, not an upper-layer header.
 */
import { IPPROTO, type DecodeIPOptions } from './ipv4.js';
import { Reader } from './reader.js';

export const IPV6_HEADER_LEN = 40;

/** Fragment header flag and mask (include/net/ipv6.h). */
export const IP6_FRAG = {
  MF: 0x0001, // IP6_MF: more fragments
  OFFSET: 0xfff8, // IP6_OFFSET: offset in 8-byte units, in the top 13 bits
} as const;

export interface IPv6ExtensionHeader {
  /** The header's own protocol number (0, 43, 44, 51 or 60). */
  readonly type: number;
  /** Raw bytes of the whole header, byte 0 being its next-header field (a view when decoded). */
  readonly bytes: Uint8Array;
}

export interface IPv6Fragment {
  /** Fragment offset in 8-byte units. */
  readonly offset: number;
  readonly moreFragments: boolean;
  readonly id: number;
}

export interface IPv6Packet {
  readonly trafficClass: number;
  readonly flowLabel: number;
  readonly payloadLength: number;
  /** The next-header field of the fixed header. */
  readonly nextHeader: number;
  readonly hopLimit: number;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /** Extension headers in order; empty when there are none. */
  readonly extensionHeaders: readonly IPv6ExtensionHeader[];
  /** The upper-layer protocol after the extension headers (for a non-first fragment: the fragment header's next header). */
  readonly protocol: number;
  /** Offset of the upper-layer header (or fragment data) from the start of the packet. */
  readonly upperOffset: number;
  /** Present when a fragment header was walked. */
  readonly fragment?: IPv6Fragment;
  /** Bytes from upperOffset to the end of the payload length (a view). */
  readonly payload: Uint8Array;
}

/** What encodeIPv6 needs; a decoded IPv6Packet may be given (payload length and next-header bytes are recomputed). */
export interface IPv6Fields {
  readonly trafficClass?: number;
  readonly flowLabel?: number;
  /** Default 64. */
  readonly hopLimit?: number;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly extensionHeaders?: readonly IPv6ExtensionHeader[];
  readonly protocol: number;
  readonly payload: Uint8Array;
}

/** True for the next-header values walked as extension headers. */
export function isIPv6ExtensionHeader(nextHeader: number): boolean {
  return (
    nextHeader === IPPROTO.HOPOPTS ||
    nextHeader === IPPROTO.ROUTING ||
    nextHeader === IPPROTO.FRAGMENT ||
    nextHeader === IPPROTO.DSTOPTS ||
    nextHeader === IPPROTO.AH
  );
}

/**
 * Length in bytes of the extension header of `type` whose second byte is
 * `lenByte` (ipv6_optlen() / ipv6_authlen() in include/net/ipv6.h).
 */
export function ipv6ExtensionHeaderLength(type: number, lenByte: number): number {
  if (type === IPPROTO.FRAGMENT) return 8;
  if (type === IPPROTO.AH) return (lenByte + 2) * 4;
  return (lenByte + 1) * 8;
}

/**
 * Decodes a packet and walks its extension headers. With { quoted: true }
 * (the head of a packet quoted in an ICMP error) the payload length may
 * exceed the bytes given; the chain must still fit in them.
 */
export function decodeIPv6(bytes: Uint8Array, options: DecodeIPOptions = {}): IPv6Packet {
  const r = new Reader(bytes, 'ipv6');
  const first = r.u32be('version/class/flow');
  if (first >>> 28 !== 6) r.fail(`version ${first >>> 28} is not 6`, 0);
  const payloadLength = r.u16be('payload length');
  const nextHeader = r.u8('next header');
  const hopLimit = r.u8('hop limit');
  const src = r.take(16, 'source');
  const dst = r.take(16, 'destination');
  let end = IPV6_HEADER_LEN + payloadLength;
  if (end > bytes.length) {
    if (!options.quoted) r.fail(`payload length ${payloadLength} runs past the ${bytes.length}-byte buffer`, 4);
    end = bytes.length;
  }

  // Walk the chain inside the payload only: a header that crosses the payload length is malformed.
  const chain = new Reader(bytes.subarray(0, end), 'ipv6 extension header', IPV6_HEADER_LEN);
  const extensionHeaders: IPv6ExtensionHeader[] = [];
  let fragment: IPv6Fragment | undefined;
  let nh = nextHeader;
  while (isIPv6ExtensionHeader(nh)) {
    const at = chain.pos;
    if (nh === IPPROTO.HOPOPTS && at !== IPV6_HEADER_LEN) chain.fail('hop-by-hop header not first', at);
    chain.need(2, `header ${nh}`);
    const len = ipv6ExtensionHeaderLength(nh, bytes[at + 1]!);
    const raw = chain.take(len, `header ${nh} of ${len} bytes`);
    extensionHeaders.push({ type: nh, bytes: raw });
    const next = raw[0]!;
    if (nh === IPPROTO.FRAGMENT) {
      const off = (raw[2]! << 8) | raw[3]!;
      fragment = {
        offset: (off & IP6_FRAG.OFFSET) >> 3,
        moreFragments: (off & IP6_FRAG.MF) !== 0,
        id: ((raw[4]! << 24) | (raw[5]! << 16) | (raw[6]! << 8) | raw[7]!) >>> 0,
      };
      nh = next;
      if (fragment.offset !== 0) break;
      continue;
    }
    nh = next;
  }
  const upperOffset = chain.pos;
  const base = {
    trafficClass: (first >>> 20) & 0xff,
    flowLabel: first & 0xfffff,
    payloadLength,
    nextHeader,
    hopLimit,
    src,
    dst,
    extensionHeaders,
    protocol: nh,
    upperOffset,
    payload: bytes.subarray(upperOffset, end),
  };
  return fragment ? { ...base, fragment } : base;
}

/** Builds a packet: chains the next-header bytes, computes the payload length; allocates once. */
export function encodeIPv6(p: IPv6Fields): Uint8Array {
  if (p.src.length !== 16 || p.dst.length !== 16) throw new RangeError('ipv6: addresses must be 16 bytes');
  const exts = p.extensionHeaders ?? [];
  let extLen = 0;
  for (const h of exts) {
    if (!isIPv6ExtensionHeader(h.type)) throw new RangeError(`ipv6: ${h.type} is not an extension header`);
    if (h.bytes.length < 2 || h.bytes.length !== ipv6ExtensionHeaderLength(h.type, h.bytes[1]!)) {
      throw new RangeError(`ipv6: extension header ${h.type} has ${h.bytes.length} bytes, its length field says otherwise`);
    }
    extLen += h.bytes.length;
  }
  const payloadLength = extLen + p.payload.length;
  if (payloadLength > 0xffff) throw new RangeError(`ipv6: payload of ${payloadLength} bytes exceeds 65535 (jumbograms are not built)`);
  const tc = p.trafficClass ?? 0;
  const flow = p.flowLabel ?? 0;
  if (tc < 0 || tc > 0xff || flow < 0 || flow > 0xfffff) throw new RangeError('ipv6: traffic class or flow label out of range');

  const out = new Uint8Array(IPV6_HEADER_LEN + payloadLength);
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  v.setUint32(0, ((6 << 28) | (tc << 20) | flow) >>> 0);
  v.setUint16(4, payloadLength);
  v.setUint8(6, exts.length > 0 ? exts[0]!.type : p.protocol);
  v.setUint8(7, p.hopLimit ?? 64);
  out.set(p.src, 8);
  out.set(p.dst, 24);
  let pos = IPV6_HEADER_LEN;
  for (let i = 0; i < exts.length; i++) {
    const h = exts[i]!;
    out.set(h.bytes, pos);
    out[pos] = i + 1 < exts.length ? exts[i + 1]!.type : p.protocol;
    pos += h.bytes.length;
  }
  out.set(p.payload, pos);
  return out;
}
