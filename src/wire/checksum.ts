/**
 * The Internet checksum (RFC 1071) and the pseudo-headers that IPv4 (RFC 768,
 * RFC 793 §3.1) and IPv6 (RFC 8200 §8.1) add to UDP, TCP and ICMPv6.
 *
 * The checksum is the ones' complement of the ones' complement sum of the
 * data taken as big-endian 16-bit words; an odd trailing byte is padded with a
 * zero byte on the right. The sum is accumulated in a plain number and the
 * carries are folded once at the end (RFC 1071 §2 "deferred carries"): a
 * 64 KiB packet sums to less than 2^31, far inside a double's exact range.
 *
 * Every function works on (bytes, start, end) ranges, so the relay can
 * verify a packet without copying it; the only allocation is the one word
 * view onesSum() makes over a long range (see there).
 */
import { DecodeError } from '../errors.js';

/** Ranges at least this long are summed 32 bits at a time (shorter ones are not worth the view). */
const WIDE_MIN = 128;
/** Byte order of this host, for reading network-order words through a Uint32Array. */
const HOST_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * Adds the 16-bit big-endian words of bytes[start, end) to `initial` and
 * returns an unfolded sum for foldSum(). Chain calls to checksum
 * discontiguous pieces; every piece except the last must have an even length
 * (RFC 1071 §2 (B)).
 *
 * The value is congruent modulo 0xffff to the plain sum of the words, which
 * is all the ones' complement arithmetic needs, but not always equal to it:
 * a range of WIDE_MIN bytes or more is read as 32-bit words through a
 * Uint32Array view (a quarter of the loads of the byte loop; this sum is the
 * bulk of checking a 576-byte ICMP error, measured by bench/too-big.bench.ts).
 * On a little-endian host those words hold byte-swapped 16-bit words, and
 * RFC 1071 §2 (B) "byte order independence" lets them be summed as they are,
 * folded, and swapped once: swapping multiplies by 256 modulo 0xffff, and
 * 256 * 256 = 65536 ≡ 1.
 */
export function onesSum(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  let sum = initial;
  let i = start;
  // Only inside the view: the word view reads the ArrayBuffer directly, and
  // must never see bytes past `bytes` (a pooled Buffer shares its buffer).
  if (end - start >= WIDE_MIN && start >= 0 && end <= bytes.length) {
    // The word view must start 4-aligned in the ArrayBuffer and an even
    // distance from `start`, so its 16-bit halves are the range's own words.
    const base = bytes.byteOffset;
    const aligned = base + i + ((4 - ((base + i) % 4)) % 4);
    if (((aligned - base - i) & 1) === 0) {
      const head = aligned - base;
      for (; i < head; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
      const count = (base + end - aligned) >>> 2;
      const words = new Uint32Array(bytes.buffer, aligned, count);
      let wide = 0;
      for (let k = 0; k < count; k++) {
        const w = words[k]!;
        wide += (w & 0xffff) + (w >>> 16);
      }
      wide = foldSum(wide);
      sum += HOST_LITTLE_ENDIAN ? ((wide & 0xff) << 8) | (wide >>> 8) : wide;
      i = head + count * 4;
    }
  }
  const last = end - 1;
  for (; i < last; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i === last) sum += bytes[i]! << 8;
  return sum;
}

/** Folds the carries of an unfolded sum back into 16 bits (end-around carry). */
export function foldSum(sum: number): number {
  // Two folds suffice for any sum below 2^32; a third is free insurance for larger inputs.
  sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** RFC 1071 checksum of bytes[start, end), starting from a partial sum (e.g. a pseudo-header). */
export function internetChecksum(bytes: Uint8Array, initial = 0, start = 0, end = bytes.length): number {
  return ~foldSum(onesSum(bytes, start, end, initial)) & 0xffff;
}

/**
 * The checksum of bytes[start, end) computed as if the 16-bit checksum field at
 * `fieldOffset` (absolute, inside the range, at an even distance from `start`)
 * were zero — how a sender computes it (RFC 1071 §1 step 2).
 */
export function checksumWithFieldZeroed(
  bytes: Uint8Array,
  fieldOffset: number,
  initial = 0,
  start = 0,
  end = bytes.length,
): number {
  let sum = onesSum(bytes, start, fieldOffset, initial);
  sum = onesSum(bytes, fieldOffset + 2, end, sum);
  return ~foldSum(sum) & 0xffff;
}

/** True when bytes[start, end), checksum field included, sums to 0xffff (RFC 1071 §1 step 3). */
export function verifyChecksum(bytes: Uint8Array, initial = 0, start = 0, end = bytes.length): boolean {
  return foldSum(onesSum(bytes, start, end, initial)) === 0xffff;
}

/**
 * Partial sum of the pseudo-header for an upper-layer checksum.
 * IPv4 (RFC 768, RFC 793): src(4) dst(4) zero(1) protocol(1) length(2).
 * IPv6 (RFC 8200 §8.1): src(16) dst(16) upper-layer length(4) zero(3) next header(1).
 * Both addresses must have the same length, 4 or 16.
 */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, protocol: number, upperLength: number): number {
  if (src.length !== dst.length || (src.length !== 4 && src.length !== 16)) {
    throw new DecodeError('pseudo-header', `addresses must both be 4 or 16 bytes, got ${src.length} and ${dst.length}`, 0);
  }
  let sum = onesSum(src, 0, src.length, 0);
  sum = onesSum(dst, 0, dst.length, sum);
  // The 32-bit IPv6 length contributes both of its words; IPv4's 16-bit length has only the low one.
  return sum + Math.floor(upperLength / 0x10000) + (upperLength & 0xffff) + (protocol & 0xff);
}

/**
 * The IPv6 pseudo-header sum read straight out of a packet: the addresses sit
 * contiguously at bytes 8-39 of the IPv6 header that starts at `ipOffset`.
 */
export function ipv6PseudoHeaderSumAt(packet: Uint8Array, ipOffset: number, protocol: number, upperLength: number): number {
  return onesSum(packet, ipOffset + 8, ipOffset + 40, 0) + Math.floor(upperLength / 0x10000) + (upperLength & 0xffff) + (protocol & 0xff);
}

/** The ICMPv4 checksum of an ICMP message (header + body), its checksum field (bytes 2-3) taken as zero. RFC 792. */
export function icmpv4Checksum(icmp: Uint8Array): number {
  if (icmp.length < 4) throw new DecodeError('icmpv4', `message of ${icmp.length} bytes has no checksum field`, 0);
  return checksumWithFieldZeroed(icmp, 2);
}

/** True when an ICMPv4 message's checksum verifies. */
export function verifyIcmpv4Checksum(icmp: Uint8Array): boolean {
  return icmp.length >= 4 && verifyChecksum(icmp);
}

/** IPPROTO_ICMPV6 (include/uapi/linux/in6.h), the next-header value in the ICMPv6 pseudo-header. */
const IPPROTO_ICMPV6 = 58;

/** The ICMPv6 checksum (RFC 4443 §2.3): IPv6 pseudo-header + message, checksum field (bytes 2-3) taken as zero. */
export function icmpv6Checksum(src: Uint8Array, dst: Uint8Array, icmp: Uint8Array): number {
  if (icmp.length < 4) throw new DecodeError('icmpv6', `message of ${icmp.length} bytes has no checksum field`, 0);
  return checksumWithFieldZeroed(icmp, 2, pseudoHeaderSum(src, dst, IPPROTO_ICMPV6, icmp.length));
}

/** True when an ICMPv6 message's checksum verifies against the pseudo-header of src/dst. */
export function verifyIcmpv6Checksum(src: Uint8Array, dst: Uint8Array, icmp: Uint8Array): boolean {
  return icmp.length >= 4 && verifyChecksum(icmp, pseudoHeaderSum(src, dst, IPPROTO_ICMPV6, icmp.length));
}
