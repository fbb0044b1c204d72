/**
 * IP-in-IP encapsulation as LVS-IPIP uses it: an IPv4 packet inside an IPv4
 * header with protocol 4 (IPPROTO_IPIP, RFC 2003) or an IPv6 packet inside an
 * IPv6 header with next header 41 (IPPROTO_IPV6, RFC 2473). The outer header
 * carries no options or extension headers; its addresses are the load
 * balancer (or this host) and the realserver, the inner ones the client and
 * the service address (VIP).
 *
 * The outer IPv4 header copies the inner DF bit (RFC 2003 §3.1 "Don't
 * Fragment ... copied from the inner header"); its TTL is a new one
 * (RFC 2003 §3.1: "the TTL ... of the inner header is not changed").
 */
import { decodeIPv4, encodeIPv4, IP_FLAGS, IPPROTO } from './ipv4.js';
import { decodeIPv6, encodeIPv6 } from './ipv6.js';
import { Reader } from './reader.js';

export interface TunnelEnds {
  /** Outer source: 4 bytes for an IPv4 inner packet, 16 for IPv6. */
  readonly src: Uint8Array;
  /** Outer destination (the realserver). */
  readonly dst: Uint8Array;
  /** Outer TTL / hop limit; default 64. */
  readonly ttl?: number;
  /** Outer IPv4 id; default 0. */
  readonly id?: number;
}

/** The outer protocol number for an inner packet of IP version `version`. */
export function tunnelProtocol(version: 4 | 6): number {
  return version === 4 ? IPPROTO.IPIP : IPPROTO.IPV6;
}

/** Wraps `inner` (a whole IPv4 or IPv6 packet) in an outer header of the same family. */
export function encapsulate(ends: TunnelEnds, inner: Uint8Array): Uint8Array {
  const version = new Reader(inner, 'inner packet').u8('version') >> 4;
  if (version === 4) {
    const df = inner.length >= 8 && (((inner[6]! << 8) | inner[7]!) & IP_FLAGS.DF) !== 0;
    return encodeIPv4({ protocol: IPPROTO.IPIP, src: ends.src, dst: ends.dst, ttl: ends.ttl ?? 64, id: ends.id ?? 0, dontFragment: df, payload: inner });
  }
  if (version === 6) return encodeIPv6({ protocol: IPPROTO.IPV6, src: ends.src, dst: ends.dst, hopLimit: ends.ttl ?? 64, payload: inner });
  throw new RangeError(`ip-tunnel: inner packet of IP version ${version}`);
}

/**
 * The inner packet of an IPIP (IPv4, protocol 4) or IP6IP6 (IPv6, next
 * header 41) packet, as a view; DecodeError for anything else.
 */
export function decapsulate(packet: Uint8Array): { readonly outerSrc: Uint8Array; readonly outerDst: Uint8Array; readonly inner: Uint8Array } {
  const version = new Reader(packet, 'tunnel packet').u8('version') >> 4;
  if (version === 4) {
    const p = decodeIPv4(packet);
    if (p.protocol !== IPPROTO.IPIP) new Reader(packet, 'ipip').fail(`protocol ${p.protocol} is not 4 (IPIP)`, 9);
    return { outerSrc: p.src, outerDst: p.dst, inner: p.payload };
  }
  const p = decodeIPv6(packet);
  if (p.protocol !== IPPROTO.IPV6) new Reader(packet, 'ip6ip6').fail(`next header ${p.protocol} is not 41 (IPv6)`, 6);
  return { outerSrc: p.src, outerDst: p.dst, inner: p.payload };
}
