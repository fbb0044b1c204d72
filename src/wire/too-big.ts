/**
 * The contract between the packet codecs and the relay: an ICMPv4
 * "fragmentation needed" (type 3 code 4, RFC 1191) or ICMPv6 "packet too big"
 * (type 2 code 0, RFC 8201) message, decoded from the full IP packet that
 * carries it, with the flow of the packet it quotes.
 *
 * decodeTooBig() is on the relay's hot path and meets hostile input all day,
 * so it returns (never throws) a rejection with a reason from a small fixed
 * set; the reasons are used as metric labels.
 *
 * Implementation: src/wire/too-big-decode.ts (written with the packet codecs).
 */

/** The flow of the packet quoted inside an ICMP error. */
export interface QuotedFlow {
  readonly family: 4 | 6;
  /** Upper-layer protocol of the quoted packet (after IPv6 extension headers). */
  readonly protocol: number;
  /** Quoted source address, 4 or 16 bytes (a view into the packet; copy to keep). */
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /** Present when the quote holds a TCP/UDP/UDP-Lite/SCTP/DCCP header's first 4 bytes. */
  readonly srcPort?: number;
  readonly dstPort?: number;
}

export interface TooBig {
  readonly family: 4 | 6;
  /** Outer header addresses (views into the packet). */
  readonly outerSrc: Uint8Array;
  readonly outerDst: Uint8Array;
  /** Outer TTL / hop limit. */
  readonly hopLimit: number;
  /** Next-hop MTU exactly as carried (RFC 1191 field / ICMPv6 MTU); range is policy, checked by the relay. */
  readonly mtu: number;
  /** Offset of the ICMP header inside the packet. */
  readonly icmpOffset: number;
  /**
   * Length of the quoted packet as its own header states it (IPv4 total
   * length; IPv6 payload length + 40), even when the quote is truncated.
   * Absent when the header says 0: an IPv4 or IPv6 BIG TCP packet over 64 KiB
   * (or an IPv6 jumbogram), whose real length is not in the quote.
   */
  readonly quotedLength?: number;
  readonly flow: QuotedFlow;
}

export const TOO_BIG_REJECT = [
  'truncated_ip', // shorter than the fixed IP header
  'bad_ip_version', // neither 4 nor 6
  'bad_ip_header', // IHL < 5, total/payload length beyond the buffer, or malformed options
  'bad_ext_header', // IPv6 extension header chain malformed or truncated
  'fragment', // the outer packet is a non-first fragment
  'not_icmp', // upper layer is not ICMP (v4) / ICMPv6 (v6)
  'not_too_big', // ICMP type/code is not frag-needed / packet-too-big
  'truncated_icmp', // shorter than the 8-byte ICMP header
  'bad_checksum', // ICMP checksum (with the IPv6 pseudo-header) does not verify
  'no_quote', // nothing quoted after the ICMP header
  'truncated_quote', // the quote is too short to hold the quoted IP header (and its addresses)
  'bad_quote_header', // the quoted IP header is malformed (version, IHL, options, extension headers)
] as const;
export type TooBigReject = (typeof TOO_BIG_REJECT)[number];

export type TooBigResult =
  | { readonly ok: true; readonly value: TooBig }
  | { readonly ok: false; readonly reason: TooBigReject };
