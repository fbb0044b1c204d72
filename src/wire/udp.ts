/**
 * UDP datagrams (RFC 768; struct udphdr in include/uapi/linux/udp.h).
 *
 *   0      source port(16)  destination port(16)
 *   4      length(16)       checksum(16)
 *   8      payload
 *
 * The length field (header included) bounds the datagram; bytes after it are
 * not payload. The checksum covers the IPv4 (RFC 768) or IPv6 (RFC 8200 §8.1)
 * pseudo-header. Over IPv4 a checksum of 0 means "none"; a computed 0 is sent
 * as 0xffff. Over IPv6 the checksum is mandatory (RFC 8200 §8.1 bullet 4).
 */
import { checksumWithFieldZeroed, pseudoHeaderSum, verifyChecksum } from './checksum.js';
import { IPPROTO } from './ipv4.js';
import { Reader } from './reader.js';

export const UDP_HEADER_LEN = 8;

export interface UdpDatagram {
  readonly srcPort: number;
  readonly dstPort: number;
  /** Length field as carried (header + payload). */
  readonly length: number;
  /** Checksum as carried (0: none, IPv4 only); check it with verifyUdpChecksum(). */
  readonly checksum: number;
  /** Payload bounded by the length field (a view). */
  readonly payload: Uint8Array;
}

export interface UdpFields {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
}

/** The IP addresses a UDP checksum is computed over: both 4 or both 16 bytes. */
export interface PseudoHeaderAddresses {
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
}

export function decodeUdp(bytes: Uint8Array): UdpDatagram {
  const r = new Reader(bytes, 'udp');
  const srcPort = r.u16be('source port');
  const dstPort = r.u16be('destination port');
  const length = r.u16be('length');
  const checksum = r.u16be('checksum');
  if (length < UDP_HEADER_LEN) r.fail(`length ${length} is shorter than the header`, 4);
  if (length > bytes.length) r.fail(`length ${length} runs past the ${bytes.length}-byte buffer`, 4);
  return { srcPort, dstPort, length, checksum, payload: bytes.subarray(UDP_HEADER_LEN, length) };
}

/**
 * Builds a datagram; allocates once. With `addresses` the checksum is
 * computed over their pseudo-header; without, it is 0 ("none"), which is
 * only valid over IPv4.
 */
export function encodeUdp(d: UdpFields, addresses?: PseudoHeaderAddresses): Uint8Array {
  const length = UDP_HEADER_LEN + d.payload.length;
  if (length > 0xffff) throw new RangeError(`udp: datagram of ${length} bytes exceeds 65535`);
  const out = new Uint8Array(length);
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  v.setUint16(0, d.srcPort);
  v.setUint16(2, d.dstPort);
  v.setUint16(4, length);
  out.set(d.payload, UDP_HEADER_LEN);
  if (addresses) {
    const sum = checksumWithFieldZeroed(out, 6, pseudoHeaderSum(addresses.src, addresses.dst, IPPROTO.UDP, length));
    v.setUint16(6, sum === 0 ? 0xffff : sum);
  }
  return out;
}

/**
 * True when the datagram's checksum verifies against the pseudo-header of
 * src/dst. The datagram is taken as bounded by its length field. A zero
 * checksum passes over IPv4 (none sent) and fails over IPv6.
 */
export function verifyUdpChecksum(src: Uint8Array, dst: Uint8Array, udp: Uint8Array): boolean {
  if (udp.length < UDP_HEADER_LEN) return false;
  const length = (udp[4]! << 8) | udp[5]!;
  if (length < UDP_HEADER_LEN || length > udp.length) return false;
  if (udp[6] === 0 && udp[7] === 0) return src.length === 4;
  return verifyChecksum(udp, pseudoHeaderSum(src, dst, IPPROTO.UDP, length), 0, length);
}
