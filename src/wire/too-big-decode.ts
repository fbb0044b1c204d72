/**
 * decodeTooBig(): the implementation of the contract in too-big.ts.
 *
 * Input is a whole IPv4 or IPv6 packet starting at the IP header, as NFLOG
 * delivers it (NFULA_PAYLOAD). This runs on the relay's hot path on hostile
 * input, so it is written with direct bounds checks on the byte array: it
 * never throws, creates no Reader/DataView, and allocates nothing on a
 * rejection (rejections are shared frozen objects); an acceptance allocates
 * the result objects and the address views it returns.
 *
 * Checks, in order (each failure names one reason of TOO_BIG_REJECT):
 *   outer IPv4: IHL >= 5, header within total length, total length within the
 *     buffer (bytes after it are ignored), well-formed options, header
 *     checksum; a non-first fragment is rejected (its payload is not an ICMP
 *     header); the protocol must be ICMP.
 *   outer IPv6: payload length within the buffer; extension headers walked
 *     (see walkIPv6Chain) inside the payload up to ICMPv6.
 *   ICMP: at least 8 bytes; type 3 code 4 (RFC 1191) or type 2 code 0
 *     (RFC 8201); checksum over the ICMP bytes as bounded by the IP length
 *     (ICMPv6 with the pseudo-header of the outer addresses; a routing
 *     header's final destination is not substituted, so such packets fail).
 *   quote: non-empty; holds the quoted IP header of the same family (IPv4:
 *     IHL*4 >= 20 bytes, IPv6: 40 bytes plus the extension headers, walked
 *     like the outer ones); ports when 4 bytes of a TCP/UDP/UDP-Lite/SCTP/
 *     DCCP header are quoted and the quoted packet is not a non-first fragment.
 */
import { foldSum, ipv6PseudoHeaderSumAt, onesSum } from './checksum.js';
import { addressKey } from './ip-address.js';
import { ipv4OptionsWellFormed } from './ipv4.js';
import { hasPorts } from './tcp.js';
import { TOO_BIG_REJECT, type QuotedFlow, type TooBigReject, type TooBigResult } from './too-big.js';

type Rejection = { readonly ok: false; readonly reason: TooBigReject };

/** One frozen rejection per reason, so rejecting allocates nothing. */
const REJECT = Object.freeze(
  Object.fromEntries(TOO_BIG_REJECT.map((reason) => [reason, Object.freeze({ ok: false, reason })])),
) as Readonly<Record<TooBigReject, Rejection>>;

const IPPROTO_ICMP = 1; // IPPROTO_ICMP (include/uapi/linux/in.h)
const IPPROTO_ICMPV6 = 58; // IPPROTO_ICMPV6 (include/uapi/linux/in6.h)
const ICMP_DEST_UNREACH = 3; // include/uapi/linux/icmp.h
const ICMP_FRAG_NEEDED = 4;
const ICMPV6_PKT_TOOBIG = 2; // include/uapi/linux/icmpv6.h

/** walkIPv6Chain results below zero. */
const CHAIN_MALFORMED = -1; // hop-by-hop not first
const CHAIN_SHORT = -2; // a header runs past `end`
/** Added to a walk result when it stopped at a non-first fragment. */
const CHAIN_FRAGMENT = 1 << 26;

/**
 * Walks the IPv6 extension headers of the packet whose fixed header starts at
 * `ip`, inside bytes[.., end). Returns `upperOffset * 256 + protocol`
 * (+ CHAIN_FRAGMENT when it stopped after a fragment header with a non-zero
 * offset, `protocol` then being that header's next header), or a negative
 * CHAIN_* code. Packed into one number so the hot path allocates nothing.
 * Header lengths: ipv6_optlen() / ipv6_authlen() (include/net/ipv6.h).
 */
function walkIPv6Chain(b: Uint8Array, ip: number, end: number): number {
  let nh = b[ip + 6]!;
  let off = ip + 40;
  for (;;) {
    let len: number;
    if (nh === 0 || nh === 43 || nh === 60) {
      // hop-by-hop (only first, RFC 8200 §4.3), routing, destination options
      if (nh === 0 && off !== ip + 40) return CHAIN_MALFORMED;
      if (off + 2 > end) return CHAIN_SHORT;
      len = (b[off + 1]! + 1) * 8;
    } else if (nh === 51) {
      if (off + 2 > end) return CHAIN_SHORT;
      len = (b[off + 1]! + 2) * 4; // AH
    } else if (nh === 44) {
      len = 8; // fragment
    } else {
      return off * 256 + nh;
    }
    if (off + len > end) return CHAIN_SHORT;
    const next = b[off]!;
    if (nh === 44 && (((b[off + 2]! << 8) | b[off + 3]!) & 0xfff8) !== 0) {
      return CHAIN_FRAGMENT + (off + 8) * 256 + next;
    }
    nh = next;
    off += len;
  }
}

/** Parses the quote in b[q, end) of an ICMP error of `family`: a flow, or why not. */
function decodeQuote(b: Uint8Array, q: number, end: number, family: 4 | 6): QuotedFlow | TooBigReject {
  const qLen = end - q;
  let protocol: number;
  let l4: number;
  let portsAllowed: boolean;
  let src: Uint8Array;
  let dst: Uint8Array;
  if (family === 4) {
    if (qLen < 20) return 'truncated_quote';
    if (b[q]! >> 4 !== 4) return 'bad_quote_header';
    const ihl = (b[q]! & 0x0f) * 4;
    if (ihl < 20) return 'bad_quote_header';
    if (ihl > qLen) return 'truncated_quote';
    protocol = b[q + 9]!;
    l4 = q + ihl;
    // A quoted non-first fragment carries data where the ports would be.
    portsAllowed = (((b[q + 6]! & 0x1f) << 8) | b[q + 7]!) === 0;
    src = b.subarray(q + 12, q + 16);
    dst = b.subarray(q + 16, q + 20);
  } else {
    if (qLen < 40) return 'truncated_quote';
    if (b[q]! >> 4 !== 6) return 'bad_quote_header';
    const walked = walkIPv6Chain(b, q, end);
    if (walked === CHAIN_SHORT) return 'truncated_quote';
    if (walked < 0) return 'bad_quote_header';
    portsAllowed = walked < CHAIN_FRAGMENT;
    const w = portsAllowed ? walked : walked - CHAIN_FRAGMENT;
    protocol = w & 0xff;
    l4 = Math.floor(w / 256);
    src = b.subarray(q + 8, q + 24);
    dst = b.subarray(q + 24, q + 40);
  }
  if (portsAllowed && l4 + 4 <= end && hasPorts(protocol)) {
    return {
      family,
      protocol,
      src,
      dst,
      srcPort: (b[l4]! << 8) | b[l4 + 1]!,
      dstPort: (b[l4 + 2]! << 8) | b[l4 + 3]!,
    };
  }
  return { family, protocol, src, dst };
}

/** Decodes and validates an ICMPv4 fragmentation-needed or ICMPv6 packet-too-big packet. Never throws. */
export function decodeTooBig(packet: Uint8Array): TooBigResult {
  const b = packet;
  const len = b.length;
  if (len < 1) return REJECT.truncated_ip;
  const version = b[0]! >> 4;
  let family: 4 | 6;
  let icmp: number;
  let end: number;
  let sum: number;
  let src: number;
  let hopLimit: number;
  if (version === 4) {
    if (len < 20) return REJECT.truncated_ip;
    const ihl = (b[0]! & 0x0f) * 4;
    const total = (b[2]! << 8) | b[3]!;
    if (ihl < 20 || total < ihl || total > len) return REJECT.bad_ip_header;
    if (!ipv4OptionsWellFormed(b, 20, ihl)) return REJECT.bad_ip_header;
    if (foldSum(onesSum(b, 0, ihl, 0)) !== 0xffff) return REJECT.bad_ip_header;
    if ((((b[6]! & 0x1f) << 8) | b[7]!) !== 0) return REJECT.fragment;
    if (b[9] !== IPPROTO_ICMP) return REJECT.not_icmp;
    family = 4;
    icmp = ihl;
    end = total;
    if (end - icmp < 8) return REJECT.truncated_icmp;
    if (b[icmp] !== ICMP_DEST_UNREACH || b[icmp + 1] !== ICMP_FRAG_NEEDED) return REJECT.not_too_big;
    sum = 0;
    src = 12;
    hopLimit = b[8]!;
  } else if (version === 6) {
    if (len < 40) return REJECT.truncated_ip;
    end = 40 + ((b[4]! << 8) | b[5]!);
    if (end > len) return REJECT.bad_ip_header;
    const walked = walkIPv6Chain(b, 0, end);
    if (walked < 0) return REJECT.bad_ext_header;
    if (walked >= CHAIN_FRAGMENT) return REJECT.fragment;
    if ((walked & 0xff) !== IPPROTO_ICMPV6) return REJECT.not_icmp;
    family = 6;
    icmp = Math.floor(walked / 256);
    if (end - icmp < 8) return REJECT.truncated_icmp;
    if (b[icmp] !== ICMPV6_PKT_TOOBIG || b[icmp + 1] !== 0) return REJECT.not_too_big;
    sum = ipv6PseudoHeaderSumAt(b, 0, IPPROTO_ICMPV6, end - icmp);
    src = 8;
    hopLimit = b[7]!;
  } else {
    return REJECT.bad_ip_version;
  }
  if (foldSum(onesSum(b, icmp, end, sum)) !== 0xffff) return REJECT.bad_checksum;
  const mtu =
    family === 4
      ? (b[icmp + 6]! << 8) | b[icmp + 7]! // RFC 1191 §4: next-hop MTU in the low 16 bits
      : b[icmp + 4]! * 0x1000000 + ((b[icmp + 5]! << 16) | (b[icmp + 6]! << 8) | b[icmp + 7]!); // RFC 4443 §3.2
  const q = icmp + 8;
  if (q >= end) return REJECT.no_quote;
  const flow = decodeQuote(b, q, end, family);
  if (typeof flow === 'string') return REJECT[flow];
  const alen = family === 4 ? 4 : 16;
  return {
    ok: true,
    value: {
      family,
      outerSrc: b.subarray(src, src + alen),
      outerDst: b.subarray(src + alen, src + 2 * alen),
      hopLimit,
      mtu,
      icmpOffset: icmp,
      flow,
    },
  };
}

/**
 * A compact dedup key for "this flow was told this MTU":
 * family|protocol|src|dst|srcPort|dstPort|mtu (ports empty when absent).
 * Addresses are keyed with addressKey() (dotted IPv4, 32 hex digits IPv6).
 */
export function tooBigKey(flow: QuotedFlow, mtu: number): string {
  return `${flow.family}|${flow.protocol}|${addressKey(flow.src)}|${addressKey(flow.dst)}|${flow.srcPort ?? ''}|${flow.dstPort ?? ''}|${mtu}`;
}
