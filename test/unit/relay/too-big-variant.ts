/**
 * Variants of the captured "too big" packets in test/unit/wire/fixtures/packets.ts:
 * the real bytes with a few fields rewritten (next-hop MTU, outer source,
 * quoted source address and port) and every checksum the decoder verifies
 * recomputed (outer IPv4 header, ICMPv4; ICMPv6 with its pseudo-header), so
 * the relay's tests drive decodeTooBig() with genuine packets rather than
 * hand-built TooBig objects.
 *
 * Supported bases: the IP packets (Ethernet header stripped) of
 * FRAG_NEEDED_UDP / FRAG_NEEDED_PING (outer IPv4 without options) and
 * PACKET_TOO_BIG_UDP / PACKET_TOO_BIG_PING (outer and quoted IPv6 without
 * extension headers).
 */
import { checksumWithFieldZeroed, icmpv6Checksum } from '../../../src/wire/checksum.js';
import { parseAddress } from '../../../src/wire/ip-address.js';
import { ETH_HEADER, FRAG_NEEDED_PING, FRAG_NEEDED_UDP, PACKET_TOO_BIG_PING, PACKET_TOO_BIG_UDP } from '../wire/fixtures/packets.js';

/** The captured IP packets, as NFLOG delivers them (no Ethernet header). */
export const V4_UDP = FRAG_NEEDED_UDP.slice(ETH_HEADER); // 192.0.2.254 → 192.0.2.1, mtu 1400, quotes UDP 192.0.2.1:40000 → 198.51.100.2:33434
export const V4_PING = FRAG_NEEDED_PING.slice(ETH_HEADER); // same, quoting an ICMP echo request (no ports)
export const V6_UDP = PACKET_TOO_BIG_UDP.slice(ETH_HEADER); // 2001:db8:1::fe → 2001:db8:1::1, mtu 1400, quotes UDP [2001:db8:1::1]:40000 → [2001:db8:2::2]:33434
export const V6_PING = PACKET_TOO_BIG_PING.slice(ETH_HEADER);

export interface Change {
  readonly mtu?: number;
  readonly outerSrc?: string;
  readonly quotedSrc?: string;
  readonly quotedSrcPort?: number;
  readonly quotedDstPort?: number;
  /** The quoted packet's own length field: IPv4 total length, IPv6 payload length + 40 (0 writes 0). */
  readonly quotedLength?: number;
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

/** A copy of `base` with `change` applied and the checksums fixed. */
export function variant(base: Uint8Array, change: Change): Uint8Array {
  const b = Uint8Array.from(base);
  const v = b[0]! >> 4;
  if (v === 4) {
    const ihl = (b[0]! & 0x0f) * 4;
    const total = (b[2]! << 8) | b[3]!;
    const icmp = ihl;
    const q = icmp + 8;
    const qIhl = (b[q]! & 0x0f) * 4;
    if (change.mtu !== undefined) put16(b, icmp + 6, change.mtu);
    if (change.outerSrc !== undefined) b.set(parseAddress(change.outerSrc), 12);
    if (change.quotedSrc !== undefined) b.set(parseAddress(change.quotedSrc), q + 12);
    if (change.quotedSrcPort !== undefined) put16(b, q + qIhl, change.quotedSrcPort);
    if (change.quotedDstPort !== undefined) put16(b, q + qIhl + 2, change.quotedDstPort);
    if (change.quotedLength !== undefined) put16(b, q + 2, change.quotedLength);
    put16(b, 10, checksumWithFieldZeroed(b, 10, 0, 0, ihl));
    put16(b, icmp + 2, checksumWithFieldZeroed(b, icmp + 2, 0, icmp, total));
    return b;
  }
  if (v !== 6 || b[6] !== 58) throw new Error('variant(): base must be IPv4, or IPv6 carrying ICMPv6 directly');
  const end = 40 + ((b[4]! << 8) | b[5]!);
  const icmp = 40;
  const q = icmp + 8;
  if (change.mtu !== undefined) {
    b[icmp + 4] = Math.floor(change.mtu / 0x1000000) & 0xff;
    b[icmp + 5] = (change.mtu >>> 16) & 0xff;
    put16(b, icmp + 6, change.mtu & 0xffff);
  }
  if (change.outerSrc !== undefined) b.set(parseAddress(change.outerSrc), 8);
  if (change.quotedSrc !== undefined) b.set(parseAddress(change.quotedSrc), q + 8);
  if (change.quotedSrcPort !== undefined) put16(b, q + 40, change.quotedSrcPort);
  if (change.quotedDstPort !== undefined) put16(b, q + 42, change.quotedDstPort);
  if (change.quotedLength !== undefined) put16(b, q + 4, change.quotedLength === 0 ? 0 : change.quotedLength - 40);
  put16(b, icmp + 2, icmpv6Checksum(b.subarray(8, 24), b.subarray(24, 40), b.subarray(icmp, end)));
  return b;
}
