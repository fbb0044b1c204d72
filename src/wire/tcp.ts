/**
 * The port pair at the start of transport headers. TCP (RFC 9293; struct
 * tcphdr in include/uapi/linux/tcp.h), UDP (RFC 768), UDP-Lite (RFC 3828),
 * SCTP (RFC 9260) and DCCP (RFC 4340) all begin with a 16-bit source port
 * and a 16-bit destination port in network order, which is all an ICMP
 * error's quote is guaranteed to hold of them (RFC 792: 64 bits of data).
 */
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
