/**
 * The port pair at the start of transport headers. TCP (RFC 9293; struct
 * tcphdr in include/uapi/linux/tcp.h), UDP (RFC 768), UDP-Lite (RFC 3828),
 * SCTP (RFC 9260) and DCCP (RFC 4340) all begin with a 16-bit source port
 * and a 16-bit destination port in network order, which is all an ICMP
 * error's quote is guaranteed to hold of them (RFC 792: 64 bits of data).
 *
 * And whole TCP segments (RFC 9293 §3.1), for the probes that send a SYN and
 * read the SYN-ACK's options:
 *
 *   0      source port(16)        destination port(16)
 *   4      sequence number(32)
 *   8      acknowledgment number(32)
 *   12     data offset(4) reserved(3) flags(9)   window(16)
 *   16     checksum(16)           urgent pointer(16)
 *   20     options ((data offset - 5) * 4 bytes), then data
 *
 * The checksum covers the IPv4 (RFC 9293 §3.1) or IPv6 (RFC 8200 §8.1)
 * pseudo-header.
 */
import { checksumWithFieldZeroed, pseudoHeaderSum, verifyChecksum } from './checksum.js';
import { IPPROTO } from './ipv4.js';
import { Reader } from './reader.js';

export interface PortPair {
  readonly srcPort: number;
  readonly dstPort: number;
}

/** True for the protocols whose header starts with source and destination ports. */
export function hasPorts(protocol: number): boolean {
  return (
    protocol === IPPROTO.TCP ||
    protocol === IPPROTO.UDP ||
    protocol === IPPROTO.UDPLITE ||
    protocol === IPPROTO.SCTP ||
    protocol === IPPROTO.DCCP
  );
}

/** Reads the ports from the first 4 bytes of a TCP/UDP/UDP-Lite/SCTP/DCCP header. */
export function decodePorts(bytes: Uint8Array): PortPair {
  const r = new Reader(bytes, 'ports');
  const srcPort = r.u16be('source port');
  const dstPort = r.u16be('destination port');
  return { srcPort, dstPort };
}

/** Encodes a port pair as the first 4 bytes of a transport header. */
export function encodePorts(p: PortPair): Uint8Array {
  if (p.srcPort < 0 || p.srcPort > 0xffff || p.dstPort < 0 || p.dstPort > 0xffff) throw new RangeError('ports must be 0-65535');
  return Uint8Array.of(p.srcPort >> 8, p.srcPort & 0xff, p.dstPort >> 8, p.dstPort & 0xff);
}

/** Flag bits of the 16-bit word at offset 12, data offset masked out (include/net/tcp.h TCPHDR_*). */
export const TCP_FLAGS = {
  FIN: 0x001, // TCPHDR_FIN
  SYN: 0x002, // TCPHDR_SYN
  RST: 0x004, // TCPHDR_RST
  PSH: 0x008, // TCPHDR_PSH
  ACK: 0x010, // TCPHDR_ACK
  URG: 0x020, // TCPHDR_URG
  ECE: 0x040, // TCPHDR_ECE
  CWR: 0x080, // TCPHDR_CWR
  AE: 0x100, // RFC 3168's NS bit, RFC 9768's AE
} as const;

/** Option kinds (include/net/tcp.h TCPOPT_*). */
export const TCPOPT = {
  EOL: 0, // TCPOPT_EOL
  NOP: 1, // TCPOPT_NOP
  MSS: 2, // TCPOPT_MSS: 4 bytes, the 16-bit maximum segment size
  WINDOW: 3, // TCPOPT_WINDOW
  SACK_PERM: 4, // TCPOPT_SACK_PERM
  SACK: 5, // TCPOPT_SACK
  TIMESTAMP: 8, // TCPOPT_TIMESTAMP
} as const;

export const TCP_HEADER_MIN = 20;

export interface TcpOption {
  readonly kind: number;
  /** The bytes after kind and length (empty for EOL/NOP and for length 2). */
  readonly data: Uint8Array;
}

export interface TcpSegment {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  /** Header length in 32-bit words (5-15). */
  readonly dataOffset: number;
  /** TCP_FLAGS bits. */
  readonly flags: number;
  readonly window: number;
  /** Checksum as carried; check it with verifyTcpChecksum(). */
  readonly checksum: number;
  readonly urgent: number;
  /** The option area as carried (a view). */
  readonly options: Uint8Array;
  /** Present when the options hold a well-formed MSS option. */
  readonly mss?: number;
  readonly payload: Uint8Array;
}

export interface TcpFields {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack?: number;
  readonly flags: number;
  /** Default 64240 (what Linux offers on a SYN over Ethernet). */
  readonly window?: number;
  readonly urgent?: number;
  /** Options to put in the header, padded with EOL to a multiple of 4 bytes, at most 40. */
  readonly options?: readonly TcpOption[];
  readonly payload?: Uint8Array;
}

/**
 * Walks an option area (RFC 9293 §3.2): EOL ends it, NOP is one byte, every
 * other option has a length byte of at least 2 inside the area. A malformed
 * area yields the options before the fault.
 */
export function decodeTcpOptions(area: Uint8Array): TcpOption[] {
  const out: TcpOption[] = [];
  let i = 0;
  while (i < area.length) {
    const kind = area[i]!;
    if (kind === TCPOPT.EOL) break;
    if (kind === TCPOPT.NOP) {
      out.push({ kind, data: area.subarray(i + 1, i + 1) });
      i++;
      continue;
    }
    if (i + 1 >= area.length) break;
    const len = area[i + 1]!;
    if (len < 2 || i + len > area.length) break;
    out.push({ kind, data: area.subarray(i + 2, i + len) });
    i += len;
  }
  return out;
}

/** The option area for `options`: kind, length, data each, EOL-padded to 4 bytes. */
export function encodeTcpOptions(options: readonly TcpOption[]): Uint8Array {
  let len = 0;
  for (const o of options) len += o.kind === TCPOPT.EOL || o.kind === TCPOPT.NOP ? 1 : 2 + o.data.length;
  const padded = (len + 3) & ~3;
  if (padded > 40) throw new RangeError(`tcp: options of ${len} bytes exceed 40`);
  const out = new Uint8Array(padded);
  let i = 0;
  for (const o of options) {
    out[i++] = o.kind;
    if (o.kind === TCPOPT.EOL || o.kind === TCPOPT.NOP) continue;
    out[i++] = 2 + o.data.length;
    out.set(o.data, i);
    i += o.data.length;
  }
  return out;
}

/** The MSS option (kind 2, length 4). */
export function mssOption(mss: number): TcpOption {
  if (!Number.isInteger(mss) || mss < 0 || mss > 0xffff) throw new RangeError(`tcp: MSS ${mss} is not 0..65535`);
  return { kind: TCPOPT.MSS, data: Uint8Array.of(mss >> 8, mss & 0xff) };
}

export function decodeTcp(bytes: Uint8Array): TcpSegment {
  const r = new Reader(bytes, 'tcp');
  const srcPort = r.u16be('source port');
  const dstPort = r.u16be('destination port');
  const seq = r.u32be('sequence number');
  const ack = r.u32be('acknowledgment number');
  const word = r.u16be('data offset/flags');
  const window = r.u16be('window');
  const checksum = r.u16be('checksum');
  const urgent = r.u16be('urgent pointer');
  const dataOffset = word >> 12;
  if (dataOffset < 5) r.fail(`data offset ${dataOffset} is below 5`, 12);
  const options = r.take(dataOffset * 4 - TCP_HEADER_MIN, 'options');
  const base = { srcPort, dstPort, seq, ack, dataOffset, flags: word & 0x1ff, window, checksum, urgent, options, payload: r.rest() };
  const mss = decodeTcpOptions(options).find((o) => o.kind === TCPOPT.MSS && o.data.length === 2);
  return mss ? { ...base, mss: (mss.data[0]! << 8) | mss.data[1]! } : base;
}

/**
 * Builds a segment; allocates once. With `addresses` (both 4 or both 16
 * bytes) the checksum is computed over their pseudo-header; without, it is
 * left 0 for a kernel that fills it (an IPv6 raw socket with IPV6_CHECKSUM).
 */
export function encodeTcp(t: TcpFields, addresses?: { readonly src: Uint8Array; readonly dst: Uint8Array }): Uint8Array {
  const opts = encodeTcpOptions(t.options ?? []);
  const payload = t.payload ?? new Uint8Array(0);
  const hlen = TCP_HEADER_MIN + opts.length;
  const out = new Uint8Array(hlen + payload.length);
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (t.flags < 0 || t.flags > 0x1ff) throw new RangeError(`tcp: flags 0x${t.flags.toString(16)} do not fit 9 bits`);
  v.setUint16(0, t.srcPort);
  v.setUint16(2, t.dstPort);
  v.setUint32(4, t.seq >>> 0);
  v.setUint32(8, (t.ack ?? 0) >>> 0);
  v.setUint16(12, ((hlen / 4) << 12) | t.flags);
  v.setUint16(14, t.window ?? 64240);
  v.setUint16(18, t.urgent ?? 0);
  out.set(opts, TCP_HEADER_MIN);
  out.set(payload, hlen);
  if (addresses) v.setUint16(16, checksumWithFieldZeroed(out, 16, pseudoHeaderSum(addresses.src, addresses.dst, IPPROTO.TCP, out.length)));
  return out;
}

/** True when the segment's checksum verifies against the pseudo-header of src/dst. */
export function verifyTcpChecksum(src: Uint8Array, dst: Uint8Array, segment: Uint8Array): boolean {
  return segment.length >= TCP_HEADER_MIN && verifyChecksum(segment, pseudoHeaderSum(src, dst, IPPROTO.TCP, segment.length));
}
