/**
 * What a probe carries and how an answer is recognised as the answer to it;
 * pure, so matching can be tested with captured packets.
 *
 * Probes carry no user data: the bytes past the headers are zeros, except a
 * 16-bit sequence number at the start of a UDP payload, so an answer to an
 * earlier probe that arrives late is never taken for the answer to the
 * current one. Routers quote far more than RFC 792's 8 bytes (RFC 1812
 * §4.3.2.3: up to 576 bytes; Linux does, ICMPv6 quotes up to 1232), so the
 * number is in the quote; when a quote stops short of it, ports and size
 * have to do. (The UDP checksum would identify a probe in 8 bytes, but with
 * checksum offload the copy a router quotes may hold only the pseudo-header
 * sum: veth passes CHECKSUM_PARTIAL packets on unfinished.) ICMP echo probes
 * carry the number as the echo sequence, TCP SYN probes in the sequence number.
 *
 * An answer is:
 *   reply          the target itself: ICMP port unreachable (UDP), echo reply
 *                  (ICMP), SYN-ACK or RST (TCP)
 *   time-exceeded  a hop where the TTL / hop limit ran out
 *   too-big        ICMPv4 type 3 code 4 / ICMPv6 type 2, checked with
 *                  decodeTooBig() exactly as the relay checks what it captures
 *   unreachable    any other destination unreachable or parameter problem
 */
import { decodeIPv4, IPPROTO, IPV4_HEADER_MIN } from '../wire/ipv4.js';
import { decodeIPv6, encodeIPv6, IPV6_HEADER_LEN } from '../wire/ipv6.js';
import { decodeIcmpv4, encodeIcmpv4, ICMP, ICMP_HEADER_LEN } from '../wire/icmpv4.js';
import { decodeIcmpv6, encodeIcmpv6, ICMPV6 } from '../wire/icmpv6.js';
import { UDP_HEADER_LEN } from '../wire/udp.js';
import { decodeTcp, encodeTcp, TCP_FLAGS, TCP_HEADER_MIN, type TcpSegment } from '../wire/tcp.js';
import { decodeTooBig } from '../wire/too-big-decode.js';
import { addressEqual, formatAddress } from '../wire/ip-address.js';
import { DecodeError } from '../errors.js';
import type { ProbeProtocol } from './pmtu-result.js';

export interface ProbeSpec {
  readonly family: 4 | 6;
  readonly proto: ProbeProtocol;
  /** This host's address (the route's preferred source). */
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /** UDP: the bound socket's port; TCP: a port of our choosing. */
  readonly srcPort: number;
  /** UDP and TCP destination port. */
  readonly dstPort: number;
  /** ICMP echo identifier; TCP: the base of the sequence numbers. */
  readonly ident: number;
}

export interface BuiltProbe {
  /** Whole IP packet size. */
  readonly size: number;
  readonly seq: number;
  /** What the socket is given: a UDP payload, an ICMP message or a TCP segment. */
  readonly data: Uint8Array;
  /** TCP: the segment's sequence number. */
  readonly tcpSeq?: number;
  /** TCP: bytes of padding after the header (a RST acknowledges them, a SYN-ACK does not). */
  readonly tcpPadding?: number;
}

export type Answer =
  | { readonly kind: 'reply'; readonly from: string; readonly tcp?: TcpSegment }
  | { readonly kind: 'time-exceeded'; readonly from: string }
  | { readonly kind: 'too-big'; readonly from: string; readonly mtu: number; readonly valid: boolean; readonly reason?: string }
  | { readonly kind: 'unreachable'; readonly from: string; readonly code: number };

export function ipHeaderLength(family: 4 | 6): number {
  return family === 4 ? IPV4_HEADER_MIN : IPV6_HEADER_LEN;
}

/** The smallest probe of `proto`: the headers alone (plus the sequence number for UDP). */
export function minimumProbeSize(family: 4 | 6, proto: ProbeProtocol): number {
  const l4 = proto === 'udp' ? UDP_HEADER_LEN + 2 : proto === 'icmp' ? ICMP_HEADER_LEN : TCP_HEADER_MIN;
  return ipHeaderLength(family) + l4;
}

/** Builds the probe of `size` bytes (IP header included) with sequence number `seq`. */
export function buildProbe(spec: ProbeSpec, size: number, seq: number): BuiltProbe {
  const min = minimumProbeSize(spec.family, spec.proto);
  if (!Number.isInteger(size) || size < min || size > 65535) throw new RangeError(`probe size ${size} is outside ${min}..65535`);
  const l4 = size - ipHeaderLength(spec.family);
  const s16 = seq & 0xffff;
  switch (spec.proto) {
    case 'udp': {
      const payload = new Uint8Array(l4 - UDP_HEADER_LEN);
      payload[0] = s16 >> 8;
      payload[1] = s16 & 0xff;
      return { size, seq, data: payload };
    }
    case 'icmp': {
      const body = new Uint8Array(l4 - ICMP_HEADER_LEN);
      const echo = { id: spec.ident & 0xffff, sequence: s16 };
      const data =
        spec.family === 4
          ? encodeIcmpv4({ type: ICMP.ECHO, code: 0, echo, body })
          : encodeIcmpv6({ type: ICMPV6.ECHO_REQUEST, code: 0, echo, body }, spec.src, spec.dst);
      return { size, seq, data };
    }
    case 'tcp': {
      const tcpSeq = (spec.ident + seq) >>> 0;
      const data = encodeTcp(
        { srcPort: spec.srcPort, dstPort: spec.dstPort, seq: tcpSeq, flags: TCP_FLAGS.SYN, payload: new Uint8Array(l4 - TCP_HEADER_MIN) },
        { src: spec.src, dst: spec.dst },
      );
      return { size, seq, data, tcpSeq, tcpPadding: l4 - TCP_HEADER_MIN };
    }
  }
}

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** True when the quoted upper-layer bytes are those of `probe`. */
function quotesProbe(spec: ProbeSpec, probe: BuiltProbe, protocol: number, upper: Uint8Array): boolean {
  switch (spec.proto) {
    case 'udp':
      if (protocol !== IPPROTO.UDP || upper.length < 8) return false;
      if (u16(upper, 0) !== spec.srcPort || u16(upper, 2) !== spec.dstPort) return false;
      // a quote of 8 bytes only (RFC 792's minimum) ends before the sequence number: ports and size must do
      return upper.length < UDP_HEADER_LEN + 2 || u16(upper, UDP_HEADER_LEN) === (probe.seq & 0xffff);
    case 'icmp': {
      const echo = spec.family === 4 ? ICMP.ECHO : ICMPV6.ECHO_REQUEST;
      if (protocol !== (spec.family === 4 ? IPPROTO.ICMP : IPPROTO.ICMPV6) || upper.length < 8) return false;
      return upper[0] === echo && u16(upper, 4) === (spec.ident & 0xffff) && u16(upper, 6) === (probe.seq & 0xffff);
    }
    case 'tcp':
      if (protocol !== IPPROTO.TCP || upper.length < 8) return false;
      return u16(upper, 0) === spec.srcPort && u16(upper, 2) === spec.dstPort && u32(upper, 4) === probe.tcpSeq;
  }
}

/**
 * The answer `packet` gives to `probe`, or undefined when it is not one.
 * `packet` is what the socket read: from the ICMP socket an IPv4 packet or
 * an ICMPv6 message; from the TCP socket an IPv4 packet or a TCP segment.
 */
export function matchAnswer(spec: ProbeSpec, probe: BuiltProbe, source: 'icmp' | 'tcp', data: Uint8Array, from: Uint8Array): Answer | undefined {
  try {
    if (source === 'tcp') return matchTcp(spec, probe, data, from);
    return spec.family === 4 ? matchIcmpv4(spec, probe, data) : matchIcmpv6(spec, probe, data, from);
  } catch (err) {
    if (err instanceof DecodeError) return undefined;
    throw err;
  }
}

function matchTcp(spec: ProbeSpec, probe: BuiltProbe, data: Uint8Array, from: Uint8Array): Answer | undefined {
  if (spec.proto !== 'tcp' || probe.tcpSeq === undefined) return undefined;
  let segment = data;
  if (spec.family === 4) {
    const ip = decodeIPv4(data);
    if (ip.protocol !== IPPROTO.TCP || !addressEqual(ip.dst, spec.src)) return undefined;
    segment = ip.payload;
  }
  if (!addressEqual(from, spec.dst)) return undefined;
  const tcp = decodeTcp(segment);
  if (tcp.srcPort !== spec.dstPort || tcp.dstPort !== spec.srcPort) return undefined;
  // A SYN-ACK acknowledges the SYN alone (data on a SYN is not taken without TCP Fast Open);
  // a RST acknowledges everything the segment held (tcp_v4_send_reset(): seq + syn + data length).
  const acked = [(probe.tcpSeq + 1) >>> 0, (probe.tcpSeq + 1 + (probe.tcpPadding ?? 0)) >>> 0];
  const acks = (tcp.flags & TCP_FLAGS.ACK) !== 0 && acked.includes(tcp.ack);
  const synAck = (tcp.flags & (TCP_FLAGS.SYN | TCP_FLAGS.ACK)) === (TCP_FLAGS.SYN | TCP_FLAGS.ACK);
  const rst = (tcp.flags & TCP_FLAGS.RST) !== 0;
  if (acks && (synAck || rst)) return { kind: 'reply', from: formatAddress(from), tcp };
  return undefined;
}

function matchIcmpv4(spec: ProbeSpec, probe: BuiltProbe, data: Uint8Array): Answer | undefined {
  const ip = decodeIPv4(data);
  if (ip.protocol !== IPPROTO.ICMP) return undefined;
  const from = formatAddress(ip.src);
  const icmp = decodeIcmpv4(ip.payload);
  if (icmp.type === ICMP.ECHOREPLY) {
    if (spec.proto !== 'icmp' || !addressEqual(ip.src, spec.dst)) return undefined;
    return icmp.echo!.id === (spec.ident & 0xffff) && icmp.echo!.sequence === (probe.seq & 0xffff) ? { kind: 'reply', from } : undefined;
  }
  if (icmp.type !== ICMP.DEST_UNREACH && icmp.type !== ICMP.TIME_EXCEEDED && icmp.type !== ICMP.PARAMETERPROB) return undefined;
  const quoted = decodeIPv4(icmp.body, { quoted: true });
  if (!addressEqual(quoted.dst, spec.dst) || quoted.totalLength !== probe.size) return undefined;
  if (!quotesProbe(spec, probe, quoted.protocol, quoted.payload)) return undefined;
  if (icmp.type === ICMP.TIME_EXCEEDED) return { kind: 'time-exceeded', from };
  if (icmp.type === ICMP.DEST_UNREACH && icmp.code === ICMP.FRAG_NEEDED) {
    const tb = decodeTooBig(data);
    return tb.ok ? { kind: 'too-big', from, mtu: icmp.nextHopMtu!, valid: true } : { kind: 'too-big', from, mtu: icmp.nextHopMtu!, valid: false, reason: tb.reason };
  }
  if (icmp.type === ICMP.DEST_UNREACH && icmp.code === ICMP.PORT_UNREACH && spec.proto === 'udp' && addressEqual(ip.src, spec.dst)) {
    return { kind: 'reply', from };
  }
  return { kind: 'unreachable', from, code: icmp.type === ICMP.PARAMETERPROB ? -1 : icmp.code };
}

function matchIcmpv6(spec: ProbeSpec, probe: BuiltProbe, data: Uint8Array, fromBytes: Uint8Array): Answer | undefined {
  const icmp = decodeIcmpv6(data);
  const from = formatAddress(fromBytes);
  if (icmp.type === ICMPV6.ECHO_REPLY) {
    if (spec.proto !== 'icmp' || !addressEqual(fromBytes, spec.dst)) return undefined;
    return icmp.echo!.id === (spec.ident & 0xffff) && icmp.echo!.sequence === (probe.seq & 0xffff) ? { kind: 'reply', from } : undefined;
  }
  if (icmp.type !== ICMPV6.DEST_UNREACH && icmp.type !== ICMPV6.PKT_TOOBIG && icmp.type !== ICMPV6.TIME_EXCEED && icmp.type !== ICMPV6.PARAMPROB) {
    return undefined;
  }
  const quoted = decodeIPv6(icmp.body, { quoted: true });
  if (!addressEqual(quoted.dst, spec.dst) || quoted.payloadLength + IPV6_HEADER_LEN !== probe.size) return undefined;
  if (!quotesProbe(spec, probe, quoted.protocol, quoted.payload)) return undefined;
  if (icmp.type === ICMPV6.TIME_EXCEED) return { kind: 'time-exceeded', from };
  if (icmp.type === ICMPV6.PKT_TOOBIG) {
    // The raw ICMPv6 socket hands over the message without its IPv6 header; put back the
    // header it arrived with (its source, our address) so the relay's decoder checks the
    // checksum over the same pseudo-header.
    const packet = encodeIPv6({ src: fromBytes, dst: spec.src, protocol: IPPROTO.ICMPV6, hopLimit: 64, payload: data });
    const tb = decodeTooBig(packet);
    return tb.ok ? { kind: 'too-big', from, mtu: icmp.mtu!, valid: true } : { kind: 'too-big', from, mtu: icmp.mtu!, valid: false, reason: tb.reason };
  }
  if (icmp.type === ICMPV6.DEST_UNREACH && icmp.code === ICMPV6.PORT_UNREACH && spec.proto === 'udp' && addressEqual(fromBytes, spec.dst)) {
    return { kind: 'reply', from };
  }
  return { kind: 'unreachable', from, code: icmp.type === ICMPV6.PARAMPROB ? -1 : icmp.code };
}
