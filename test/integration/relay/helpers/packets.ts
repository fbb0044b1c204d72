/**
 * Crafted ICMP "too big" messages for the relay's acceptance tests, and a
 * sender that puts them on a lab segment from another namespace.
 *
 * The builders use the project's own encoders (src/wire), so checksums are
 * right unless a test breaks them on purpose. A message quotes what a Linux
 * router would: the head of a full-size TCP segment, as much as fits in 576
 * bytes (icmp_send(), net/ipv4/icmp.c) or in the IPv6 minimum MTU of 1280
 * (icmp6_send(), net/ipv6/icmp.c).
 *
 * Frames are sent with AF_PACKET (src/net/packet-socket.ts) to a node's MAC,
 * so the outer source can be any address: a router beyond the segment that
 * is not a peer, a spoofer, or many sources at once.
 */
import { PacketSender } from '../../../../src/net/packet-socket.js';
import { withNetns } from '../../../../src/sys/netns.js';
import { encodeIPv4, IPPROTO } from '../../../../src/wire/ipv4.js';
import { encodeIPv6, type IPv6Fields } from '../../../../src/wire/ipv6.js';
import { encodeIcmpv4, ICMP } from '../../../../src/wire/icmpv4.js';
import { encodeIcmpv6, ICMPV6 } from '../../../../src/wire/icmpv6.js';
import { ETH_P, parseMac } from '../../../../src/wire/ethernet.js';
import { parseAddress } from '../../../../src/wire/ip-address.js';
import type { Netns } from '../../../harness/netns.js';

export type Family = 4 | 6;

/** A TCP flow as the node that owns it sends it: from the VIP's port to a client. */
export interface Flow {
  readonly family: Family;
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
}

/** Quote budget of a Linux router: 576 - 20 - 8 (IPv4), 1280 - 40 - 8 (IPv6). */
const QUOTE = { 4: 548, 6: 1232 } as const;

/** A full-size TCP segment of `flow` (header with ports and ACK, zero payload), `size` bytes of IP packet. */
export function segment(flow: Flow, size = 1500): Uint8Array {
  const tcp = new Uint8Array(size - (flow.family === 4 ? 20 : 40));
  tcp[0] = flow.srcPort >> 8;
  tcp[1] = flow.srcPort & 0xff;
  tcp[2] = flow.dstPort >> 8;
  tcp[3] = flow.dstPort & 0xff;
  tcp[12] = 5 << 4; // data offset: 5 words
  tcp[13] = 0x10; // ACK
  tcp[14] = 0xff; // window
  const src = parseAddress(flow.src);
  const dst = parseAddress(flow.dst);
  return flow.family === 4
    ? encodeIPv4({ protocol: IPPROTO.TCP, src, dst, dontFragment: true, id: 0x5047, payload: tcp })
    : encodeIPv6({ protocol: IPPROTO.TCP, src, dst, payload: tcp });
}

/** The head of `packet` a router quotes. */
export function quoteOf(packet: Uint8Array, family: Family): Uint8Array {
  return packet.subarray(0, Math.min(packet.byteLength, QUOTE[family]));
}

export interface TooBigSpec {
  readonly family: Family;
  /** Outer source: the router that found the small link. */
  readonly from: string;
  /** Outer destination (the quoted packet's source, normally). */
  readonly to: string;
  readonly mtu: number;
  /** The ICMP body: normally quoteOf(segment(flow)). */
  readonly quote: Uint8Array;
  /** IPv6 extension headers between the outer header and ICMPv6. */
  readonly extensionHeaders?: IPv6Fields['extensionHeaders'];
}

/** An ICMPv4 frag-needed (3/4, RFC 1191) or ICMPv6 packet-too-big (2/0, RFC 4443) with valid checksums. */
export function tooBig(s: TooBigSpec): Uint8Array {
  const src = parseAddress(s.from);
  const dst = parseAddress(s.to);
  if (s.family === 4) {
    const icmp = encodeIcmpv4({ type: ICMP.DEST_UNREACH, code: ICMP.FRAG_NEEDED, nextHopMtu: s.mtu, body: s.quote });
    return encodeIPv4({ protocol: IPPROTO.ICMP, src, dst, ttl: 63, payload: icmp });
  }
  const icmp = encodeIcmpv6({ type: ICMPV6.PKT_TOOBIG, code: 0, mtu: s.mtu, body: s.quote }, src, dst);
  return encodeIPv6({
    protocol: IPPROTO.ICMPV6,
    src,
    dst,
    hopLimit: 63,
    payload: icmp,
    ...(s.extensionHeaders ? { extensionHeaders: s.extensionHeaders } : {}),
  });
}

/** The too-big message a router at `from` sends when `flow`'s full-size segment meets a link of `mtu`. */
export function tooBigFor(flow: Flow, from: string, mtu: number): Uint8Array {
  return tooBig({ family: flow.family, from, to: flow.src, mtu, quote: quoteOf(segment(flow), flow.family) });
}

/** A copy of `packet` with one bit of the ICMP checksum flipped (the IP header stays valid). */
export function withBadIcmpChecksum(packet: Uint8Array, family: Family): Uint8Array {
  const out = packet.slice();
  const icmp = family === 4 ? (out[0]! & 0x0f) * 4 : 40;
  out[icmp + 2]! ^= 0x01;
  return out;
}

/** An echo request (ICMPv4 8/0 or ICMPv6 128/0). */
export function echoRequest(family: Family, from: string, to: string, sequence: number): Uint8Array {
  const src = parseAddress(from);
  const dst = parseAddress(to);
  const body = new Uint8Array(32).fill(0x61);
  if (family === 4) {
    return encodeIPv4({ protocol: IPPROTO.ICMP, src, dst, payload: encodeIcmpv4({ type: ICMP.ECHO, code: 0, echo: { id: 0x5047, sequence }, body }) });
  }
  return encodeIPv6({
    protocol: IPPROTO.ICMPV6,
    src,
    dst,
    payload: encodeIcmpv6({ type: ICMPV6.ECHO_REQUEST, code: 0, echo: { id: 0x5047, sequence }, body }, src, dst),
  });
}

/** Sends crafted IP packets out of one interface of a lab namespace, to chosen MACs. */
export class Injector {
  private readonly sender: PacketSender;

  private constructor(sender: PacketSender) {
    this.sender = sender;
  }

  /** Opens the AF_PACKET socket inside `ns` (the socket stays in that namespace). */
  static open(ns: Netns, dev = 'eth0'): Injector {
    return new Injector(withNetns(ns.path, () => PacketSender.open({ device: dev })));
  }

  /** Sends each packet in its own frame to `mac` ("aa:bb:..."); throws unless the kernel took every one. */
  send(mac: string, packets: readonly Uint8Array[]): void {
    const to = parseMac(mac);
    for (let at = 0; at < packets.length; at += this.sender.batchSize) {
      const chunk = packets.slice(at, at + this.sender.batchSize);
      const r = this.sender.sendTo(
        chunk.map((p) => ({ payload: p, mac: to, protocol: p[0]! >> 4 === 6 ? ETH_P.IPV6 : ETH_P.IP })),
      );
      if (r.sent !== chunk.length) {
        const errs = Array.from({ length: r.count }, (_, i) => r.errnoName(i)).filter((e) => e !== undefined);
        throw new Error(`injector: the kernel refused ${r.failed} of ${chunk.length} frames (${errs.join(', ')})`);
      }
    }
  }

  close(): void {
    this.sender.close();
  }
}
