/**
 * IP addresses as bytes (network order, 4 or 16 bytes) and as text: the one
 * address codec of the program.
 *
 * Parsing is strict, like inet_pton(3) and Go's net.ParseIP (which MetalLB
 * and go-pmtud use): IPv4 only as four decimal octets without leading zeros
 * (inet_pton refuses "01", which some libcs read as octal; ipaddr.js alone
 * would take "127.1" and "0x7f.0.0.1"); IPv6 in the RFC 4291 §2.2 forms
 * ("::" standing for at least one zero group, a trailing dotted quad); no zone
 * ids, no prefixes, no surrounding blanks. The scanners read char codes
 * between two offsets without allocating, because routes parse tens of
 * thousands of pool prefixes per reconcile with them.
 *
 * Text output is canonical: dotted decimal for IPv4, RFC 5952 for IPv6
 * (lowercase, no leading zeros, the longest run of two or more zero groups
 * compressed to "::" — the first one on a tie — and IPv4-mapped addresses
 * written ::ffff:a.b.c.d as RFC 5952 §5 recommends and inet_ntop(3) does).
 */
import { DecodeError } from '../errors.js';

export type AddressFamily = 4 | 6;

const HEX2: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Strict dotted decimal in t[from, to) as an unsigned 32-bit value, or -1.
 * Four parts of 1-3 digits, 0..255, no leading zero, nothing else.
 */
export function scanIPv4(t: string, from = 0, to = t.length): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const c = t.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 1 && part === 0) return -1; // leading zero
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
      digits++;
    } else if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else return -1;
  }
  if (digits === 0 || dots !== 3) return -1;
  return n * 256 + part;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Why IPv6 text was refused (constant strings: the scanner allocates nothing). */
const V6_BAD = {
  group: 'a group is not 1-4 hex digits',
  groups: 'expected 8 groups',
  ellipsis: 'more than one "::"',
  emptyEllipsis: '"::" must replace at least one group',
  v4: 'bad embedded IPv4 address',
  trailingColon: 'a single trailing ":"',
} as const;

/**
 * IPv6 text in t[from, to) into out[at, at + 16); undefined when it is an
 * address, else why not. The rules of RFC 4291 §2.2 as Go's net/netip
 * parseIPv6 applies them: 1-4 hex digits per group, one "::" standing for
 * at least one zero group (§2.2 (2)), an optional dotted quad in the last
 * 32 bits (§2.2 (3)), no zone.
 */
export function scanIPv6(t: string, from: number, to: number, out: Uint8Array, at = 0): string | undefined {
  let groups = 0;
  let ellipsis = -1;
  let i = from;
  if (to - i >= 2 && t.charCodeAt(i) === 58 && t.charCodeAt(i + 1) === 58) {
    ellipsis = 0;
    i += 2;
  }
  while (i < to) {
    const start = i;
    let n = 0;
    let d = 0;
    while (i < to && d < 5) {
      const h = hexDigit(t.charCodeAt(i));
      if (h < 0) break;
      n = n * 16 + h;
      d++;
      i++;
    }
    if (i < to && t.charCodeAt(i) === 46) {
      // a dotted quad takes the last two groups, and only those
      if (groups > 6 || (ellipsis < 0 && groups !== 6)) return V6_BAD.v4;
      const v4 = scanIPv4(t, start, to);
      if (v4 < 0) return V6_BAD.v4;
      out[at + 2 * groups] = v4 >>> 24;
      out[at + 2 * groups + 1] = (v4 >>> 16) & 0xff;
      out[at + 2 * groups + 2] = (v4 >>> 8) & 0xff;
      out[at + 2 * groups + 3] = v4 & 0xff;
      groups += 2;
      break;
    }
    if (d === 0 || d > 4) return V6_BAD.group;
    if (groups === 8) return V6_BAD.groups;
    out[at + 2 * groups] = n >> 8;
    out[at + 2 * groups + 1] = n & 0xff;
    groups++;
    if (i === to) break;
    if (t.charCodeAt(i) !== 58) return V6_BAD.group;
    i++;
    if (i < to && t.charCodeAt(i) === 58) {
      if (ellipsis >= 0) return V6_BAD.ellipsis;
      ellipsis = groups;
      i++;
    } else if (i === to) return V6_BAD.trailingColon;
  }
  if (ellipsis < 0) return groups === 8 ? undefined : V6_BAD.groups;
  if (groups >= 8) return V6_BAD.emptyEllipsis;
  // Move the groups after "::" to the end and zero the gap.
  const tailBytes = 2 * (groups - ellipsis);
  const gapStart = at + 2 * ellipsis;
  out.copyWithin(at + 16 - tailBytes, gapStart, gapStart + tailBytes);
  out.fill(0, gapStart, at + 16 - tailBytes);
  return undefined;
}

/** Parses dotted decimal ("192.0.2.1") into 4 bytes; throws DecodeError. */
export function parseIPv4(text: string): Uint8Array {
  const n = scanIPv4(text);
  if (n < 0) throw new DecodeError('ipv4 address', `not a dotted-quad address: ${JSON.stringify(text)}`, 0);
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/** Parses an IPv6 address (RFC 4291 §2.2 text forms, including "::" and a trailing dotted quad) into 16 bytes; throws DecodeError. */
export function parseIPv6(text: string): Uint8Array {
  const out = new Uint8Array(16);
  const why = scanIPv6(text, 0, text.length, out);
  if (why !== undefined) throw new DecodeError('ipv6 address', `${why}: ${JSON.stringify(text)}`, 0);
  return out;
}

/** Parses an IPv4 or IPv6 address by its form (a colon means IPv6); throws DecodeError. */
export function parseAddress(text: string): Uint8Array {
  return text.includes(':') ? parseIPv6(text) : parseIPv4(text);
}

/** The bytes of t[from, to) as an IPv4 or IPv6 address, or undefined; never throws. */
export function tryParseAddress(t: string, from = 0, to = t.length): Uint8Array | undefined {
  const colon = t.indexOf(':', from);
  if (colon >= 0 && colon < to) {
    const out = new Uint8Array(16);
    return scanIPv6(t, from, to, out) === undefined ? out : undefined;
  }
  const n = scanIPv4(t, from, to);
  return n < 0 ? undefined : Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

export function formatIPv4(bytes: Uint8Array): string {
  if (bytes.length !== 4) throw new DecodeError('ipv4 address', `expected 4 bytes, got ${bytes.length}`, 0);
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/** RFC 5952 text of 16 bytes, IPv4-mapped addresses written ::ffff:a.b.c.d (§5). */
export function formatIPv6(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new DecodeError('ipv6 address', `expected 16 bytes, got ${bytes.length}`, 0);
  if (isIPv4Mapped(bytes)) return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  return formatIPv6Groups(bytes);
}

/**
 * RFC 5952 §4 text of 16 bytes as hex groups only, IPv4-mapped addresses
 * included (::ffff:c000:201, as ipaddr.js's toRFC5952String writes them):
 * the canonical text the routes component has always compared and printed.
 */
export function formatIPv6Groups(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new DecodeError('ipv6 address', `expected 16 bytes, got ${bytes.length}`, 0);
  // Longest run of zero groups, first on a tie; a single zero group is not compressed (RFC 5952 §4.2.2).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (bytes[2 * i] !== 0 || bytes[2 * i + 1] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && bytes[2 * j] === 0 && bytes[2 * j + 1] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    s += ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16);
    if (i < 7) s += ':';
  }
  return s;
}

/** Formats 4 or 16 bytes as an IPv4 or IPv6 address. */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return formatIPv4(bytes);
  if (bytes.length === 16) return formatIPv6(bytes);
  throw new DecodeError('ip address', `expected 4 or 16 bytes, got ${bytes.length}`, 0);
}

/** 4 for 4 bytes, 6 for 16, undefined for anything else. */
export function addressFamily(bytes: Uint8Array): AddressFamily | undefined {
  return bytes.length === 4 ? 4 : bytes.length === 16 ? 6 : undefined;
}

/** ::ffff:0:0/96, an IPv4 address written as IPv6 (RFC 4291 §2.5.5.2). */
export function isIPv4Mapped(bytes: Uint8Array): boolean {
  if (bytes.length !== 16 || bytes[10] !== 0xff || bytes[11] !== 0xff) return false;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** The IPv4 address an IPv4-mapped one names (4 bytes); any other address unchanged. */
export function unmapIPv4(bytes: Uint8Array): Uint8Array {
  return isIPv4Mapped(bytes) ? bytes.slice(12, 16) : bytes;
}

/**
 * The special range an address lies in, named as ipaddr.js's range() names
 * it, for the ranges the program refuses somewhere (RFC 6890 registry;
 * IPv4: RFC 1122 §3.2.1.3, RFC 3927, RFC 5771; IPv6: RFC 4291 §2.4-2.5);
 * `unicast` for everything else.
 */
export type AddressScope = 'unspecified' | 'broadcast' | 'multicast' | 'loopback' | 'linkLocal' | 'ipv4Mapped' | 'unicast';

export function addressScope(bytes: Uint8Array): AddressScope {
  if (bytes.length === 4) {
    const a = bytes[0]!;
    if (a === 0) return 'unspecified'; // 0.0.0.0/8 "this network"
    if (a === 255 && bytes[1] === 255 && bytes[2] === 255 && bytes[3] === 255) return 'broadcast';
    if (a >= 224 && a <= 239) return 'multicast'; // 224.0.0.0/4
    if (a === 169 && bytes[1] === 254) return 'linkLocal'; // 169.254.0.0/16
    if (a === 127) return 'loopback'; // 127.0.0.0/8
    return 'unicast';
  }
  let zeros = 0; // leading zero bytes
  while (zeros < 16 && bytes[zeros] === 0) zeros++;
  if (zeros === 16) return 'unspecified'; // ::/128
  if (zeros === 15 && bytes[15] === 1) return 'loopback'; // ::1/128
  if (bytes[0] === 0xfe && (bytes[1]! & 0xc0) === 0x80) return 'linkLocal'; // fe80::/10
  if (bytes[0] === 0xff) return 'multicast'; // ff00::/8
  if (isIPv4Mapped(bytes)) return 'ipv4Mapped';
  return 'unicast';
}

/** Orders addresses IPv4 before IPv6 (by length), then by their bytes. */
export function compareAddresses(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * A cheap, unambiguous map key for 4 or 16 address bytes: dotted decimal for
 * IPv4, 32 lowercase hex digits for IPv6 (not canonical text: no compression
 * to compute). Other lengths yield their hex, so a key never throws.
 */
export function addressKey(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX2[bytes[i]!]!;
  return s;
}

/** True when two addresses have the same length and bytes. */
export function addressEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
