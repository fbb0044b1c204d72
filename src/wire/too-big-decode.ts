/**
 * decodeTooBig(): the implementation of the contract in too-big.ts.
 *
 * Input is a whole IPv4 or IPv6 packet starting at the IP header, as NFLOG
 * delivers it (NFULA_PAYLOAD). This runs on the relay's hot path on hostile
 * input, so it is written with direct bounds checks on the byte array: it
 * never throws, creates no Reader/DataView, and allocates nothing on a
 * rejection (rejections are shared frozen objects). decodeTooBig() allocates
 * the result and address views of an acceptance; TooBigDecoder, for the
 * relay's data plane, reuses its own.
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
 *     IHL*4 >= 20 bytes with well-formed options, IPv6: 40 bytes plus the
 *     extension headers, walked like the outer ones); ports when 4 bytes of a
 *     TCP/UDP/UDP-Lite/SCTP/DCCP header are quoted and the quoted packet is
 *     not a non-first fragment.
 *
 * The quoted IPv4 header's options are checked (RFC 791: each option's length
 * byte inside the header): an IHL that claims options which are not there
 * means the bytes after the real header are read as options, and a router
 * never quotes a header no host could have sent. Its checksum is NOT
 * checked, on purpose. RFC 1812 §4.3.2.3 lets a router return the header
 * after the changes forwarding made before the error was found ("e.g.,
 * decrementing the TTL, or updating options") without undoing them, and
 * says nothing of fixing the checksum; NATs rewrite quoted addresses
 * (RFC 5508 §4.2) and not all of them fix the quoted checksum. The owner's
 * own kernel does not check it either: icmp_unreach() (net/ipv4/icmp.c)
 * only requires ihl >= 5 of the quoted header before looking up the socket
 * and lowering the PMTU. A checksum test would refuse genuine messages that
 * the owner would have used.
 */
import { foldSum, ipv6PseudoHeaderSumAt, onesSum } from './checksum.js';
import { addressKey } from './ip-address.js';
import { ipv4OptionsWellFormed } from './ipv4.js';
import { hasPorts } from './tcp.js';
import type { Mutable } from './reader.js';
import { TOO_BIG_REJECT, type QuotedFlow, type TooBig, type TooBigReject, type TooBigResult } from './too-big.js';

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

/**
 * What decodeParts() found, as offsets and numbers (no views), so that both
 * decodeTooBig() (fresh views) and TooBigDecoder (copies into its own
 * arrays) can build their result from it.
 */
interface Parts {
  family: 4 | 6;
  /** Offset of the outer source address; the destination follows it. */
  outer: number;
  hopLimit: number;
  mtu: number;
  icmp: number;
  protocol: number;
  /** Offsets of the quoted source and destination addresses. */
  quotedSrc: number;
  quotedDst: number;
  /** -1 when the quote carries no ports. */
  srcPort: number;
  dstPort: number;
  /** The quoted packet's stated length; 0 when its header says 0 (BIG TCP, jumbogram). */
  quotedLength: number;
}

function newParts(): Parts {
  return { family: 4, outer: 0, hopLimit: 0, mtu: 0, icmp: 0, protocol: 0, quotedSrc: 0, quotedDst: 0, srcPort: -1, dstPort: -1, quotedLength: 0 };
}

/** Parses the quote in b[q, end) of an ICMP error of `family` into `p`: undefined, or why not. */
function decodeQuote(b: Uint8Array, q: number, end: number, family: 4 | 6, p: Parts): TooBigReject | undefined {
  const qLen = end - q;
  let protocol: number;
  let l4: number;
  let portsAllowed: boolean;
  if (family === 4) {
    if (qLen < 20) return 'truncated_quote';
    if (b[q]! >> 4 !== 4) return 'bad_quote_header';
    const ihl = (b[q]! & 0x0f) * 4;
    if (ihl < 20) return 'bad_quote_header';
    if (ihl > qLen) return 'truncated_quote';
    if (ihl > 20 && !ipv4OptionsWellFormed(b, q + 20, q + ihl)) return 'bad_quote_header';
    protocol = b[q + 9]!;
    p.quotedLength = (b[q + 2]! << 8) | b[q + 3]!;
    l4 = q + ihl;
    // A quoted non-first fragment carries data where the ports would be.
    portsAllowed = (((b[q + 6]! & 0x1f) << 8) | b[q + 7]!) === 0;
    p.quotedSrc = q + 12;
    p.quotedDst = q + 16;
  } else {
    if (qLen < 40) return 'truncated_quote';
    if (b[q]! >> 4 !== 6) return 'bad_quote_header';
    const payload = (b[q + 4]! << 8) | b[q + 5]!;
    p.quotedLength = payload === 0 ? 0 : payload + 40;
    const walked = walkIPv6Chain(b, q, end);
    if (walked === CHAIN_SHORT) return 'truncated_quote';
    if (walked < 0) return 'bad_quote_header';
    portsAllowed = walked < CHAIN_FRAGMENT;
    const w = portsAllowed ? walked : walked - CHAIN_FRAGMENT;
    protocol = w & 0xff;
    l4 = Math.floor(w / 256);
    p.quotedSrc = q + 8;
    p.quotedDst = q + 24;
  }
  p.protocol = protocol;
  if (portsAllowed && l4 + 4 <= end && hasPorts(protocol)) {
    p.srcPort = (b[l4]! << 8) | b[l4 + 1]!;
    p.dstPort = (b[l4 + 2]! << 8) | b[l4 + 3]!;
  } else {
    p.srcPort = -1;
    p.dstPort = -1;
  }
  return undefined;
}

/** Checks an ICMPv4 fragmentation-needed or ICMPv6 packet-too-big packet into `p`: undefined, or why not. */
function decodeParts(b: Uint8Array, p: Parts): TooBigReject | undefined {
  const len = b.length;
  if (len < 1) return 'truncated_ip';
  const version = b[0]! >> 4;
  let family: 4 | 6;
  let icmp: number;
  let end: number;
  let sum: number;
  if (version === 4) {
    if (len < 20) return 'truncated_ip';
    const ihl = (b[0]! & 0x0f) * 4;
    const total = (b[2]! << 8) | b[3]!;
    if (ihl < 20 || total < ihl || total > len) return 'bad_ip_header';
    if (!ipv4OptionsWellFormed(b, 20, ihl)) return 'bad_ip_header';
    if (foldSum(onesSum(b, 0, ihl, 0)) !== 0xffff) return 'bad_ip_header';
    if ((((b[6]! & 0x1f) << 8) | b[7]!) !== 0) return 'fragment';
    if (b[9] !== IPPROTO_ICMP) return 'not_icmp';
    family = 4;
    icmp = ihl;
    end = total;
    if (end - icmp < 8) return 'truncated_icmp';
    if (b[icmp] !== ICMP_DEST_UNREACH || b[icmp + 1] !== ICMP_FRAG_NEEDED) return 'not_too_big';
    sum = 0;
    p.outer = 12;
    p.hopLimit = b[8]!;
  } else if (version === 6) {
    if (len < 40) return 'truncated_ip';
    end = 40 + ((b[4]! << 8) | b[5]!);
    if (end > len) return 'bad_ip_header';
    const walked = walkIPv6Chain(b, 0, end);
    if (walked < 0) return 'bad_ext_header';
    if (walked >= CHAIN_FRAGMENT) return 'fragment';
    if ((walked & 0xff) !== IPPROTO_ICMPV6) return 'not_icmp';
    family = 6;
    icmp = Math.floor(walked / 256);
    if (end - icmp < 8) return 'truncated_icmp';
    if (b[icmp] !== ICMPV6_PKT_TOOBIG || b[icmp + 1] !== 0) return 'not_too_big';
    sum = ipv6PseudoHeaderSumAt(b, 0, IPPROTO_ICMPV6, end - icmp);
    p.outer = 8;
    p.hopLimit = b[7]!;
  } else {
    return 'bad_ip_version';
  }
  if (foldSum(onesSum(b, icmp, end, sum)) !== 0xffff) return 'bad_checksum';
  p.family = family;
  p.icmp = icmp;
  p.mtu =
    family === 4
      ? (b[icmp + 6]! << 8) | b[icmp + 7]! // RFC 1191 §4: next-hop MTU in the low 16 bits
      : b[icmp + 4]! * 0x1000000 + ((b[icmp + 5]! << 16) | (b[icmp + 6]! << 8) | b[icmp + 7]!); // RFC 4443 §3.2
  const q = icmp + 8;
  if (q >= end) return 'no_quote';
  return decodeQuote(b, q, end, family, p);
}

/**
 * Decodes and validates an ICMPv4 fragmentation-needed or ICMPv6
 * packet-too-big packet. Never throws. The addresses in the result are views
 * into `packet`.
 */
export function decodeTooBig(packet: Uint8Array): TooBigResult {
  const p = newParts();
  const bad = decodeParts(packet, p);
  if (bad !== undefined) return REJECT[bad];
  const alen = p.family === 4 ? 4 : 16;
  const src = packet.subarray(p.quotedSrc, p.quotedSrc + alen);
  const dst = packet.subarray(p.quotedDst, p.quotedDst + alen);
  const flow: QuotedFlow =
    p.srcPort >= 0 ? { family: p.family, protocol: p.protocol, src, dst, srcPort: p.srcPort, dstPort: p.dstPort } : { family: p.family, protocol: p.protocol, src, dst };
  return {
    ok: true,
    value: {
      family: p.family,
      outerSrc: packet.subarray(p.outer, p.outer + alen),
      outerDst: packet.subarray(p.outer + alen, p.outer + 2 * alen),
      hopLimit: p.hopLimit,
      mtu: p.mtu,
      icmpOffset: p.icmp,
      ...(p.quotedLength > 0 ? { quotedLength: p.quotedLength } : {}),
      flow,
    },
  };
}

/** A reusable result for one family: its address arrays are owned, not views. */
class Slot {
  readonly outerSrc: Uint8Array;
  readonly outerDst: Uint8Array;
  readonly withPorts: Mutable<QuotedFlow>;
  readonly withoutPorts: Mutable<QuotedFlow>;
  /** Two results, so that an unknown quoted length stays an absent property (never `undefined`, never a delete). */
  readonly withLength: { readonly ok: true; readonly value: Mutable<TooBig> };
  readonly withoutLength: { readonly ok: true; readonly value: Mutable<TooBig> };

  constructor(family: 4 | 6) {
    const n = family === 4 ? 4 : 16;
    this.outerSrc = new Uint8Array(n);
    this.outerDst = new Uint8Array(n);
    const src = new Uint8Array(n);
    const dst = new Uint8Array(n);
    // Two flow objects, so that "no ports" stays absent properties, not undefined ones.
    this.withPorts = { family, protocol: 0, src, dst, srcPort: 0, dstPort: 0 };
    this.withoutPorts = { family, protocol: 0, src, dst };
    const base = { family, outerSrc: this.outerSrc, outerDst: this.outerDst, hopLimit: 0, mtu: 0, icmpOffset: 0 };
    this.withLength = { ok: true, value: { ...base, quotedLength: 0, flow: this.withoutPorts } };
    this.withoutLength = { ok: true, value: { ...base, flow: this.withoutPorts } };
  }
}

function copy(from: Uint8Array, at: number, to: Uint8Array): void {
  for (let i = 0; i < to.length; i++) to[i] = from[at + i]!;
}

/**
 * decodeTooBig() for a hot path: the same checks and results, but an
 * accepted packet is decoded into storage this decoder owns and reuses, so
 * decoding allocates nothing. Each typed-array view decodeTooBig() returns
 * costs about 35 ns to create plus its garbage, four per packet, a large
 * share of the relay's own CPU per message under a flood; copying 4 or 16
 * bytes is cheaper. The result, its flow and its address arrays are valid
 * until the next decode() call on this decoder: copy what must outlive it.
 */
export class TooBigDecoder {
  private readonly parts = newParts();
  private readonly v4 = new Slot(4);
  private readonly v6 = new Slot(6);

  decode(packet: Uint8Array): TooBigResult {
    const p = this.parts;
    const bad = decodeParts(packet, p);
    if (bad !== undefined) return REJECT[bad];
    const slot = p.family === 4 ? this.v4 : this.v6;
    const alen = slot.outerSrc.length;
    copy(packet, p.outer, slot.outerSrc);
    copy(packet, p.outer + alen, slot.outerDst);
    const flow = p.srcPort >= 0 ? slot.withPorts : slot.withoutPorts;
    copy(packet, p.quotedSrc, flow.src);
    copy(packet, p.quotedDst, flow.dst);
    flow.protocol = p.protocol;
    if (flow === slot.withPorts) {
      flow.srcPort = p.srcPort;
      flow.dstPort = p.dstPort;
    }
    const result = p.quotedLength > 0 ? slot.withLength : slot.withoutLength;
    const v = result.value;
    v.hopLimit = p.hopLimit;
    v.mtu = p.mtu;
    v.icmpOffset = p.icmp;
    if (p.quotedLength > 0) v.quotedLength = p.quotedLength;
    v.flow = flow;
    return result;
  }
}

/**
 * A compact dedup key for "this flow was told this MTU":
 * family|protocol|src|dst|srcPort|dstPort|mtu (ports empty when absent).
 * Addresses are keyed with addressKey() (dotted IPv4, 32 hex digits IPv6).
 */
export function tooBigKey(flow: QuotedFlow, mtu: number): string {
  return `${flow.family}|${flow.protocol}|${addressKey(flow.src)}|${addressKey(flow.dst)}|${flow.srcPort ?? ''}|${flow.dstPort ?? ''}|${mtu}`;
}
