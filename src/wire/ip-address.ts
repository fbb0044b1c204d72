/**
 * IP addresses as bytes (network order, 4 or 16 bytes) and as text.
 *
 * Text output is canonical: dotted decimal for IPv4, RFC 5952 for IPv6
 * (lowercase, no leading zeros, the longest run of two or more zero groups
 * compressed to "::" — the first one on a tie — and IPv4-mapped addresses
 * written ::ffff:a.b.c.d as RFC 5952 §5 recommends). Parsing is strict, like
 * inet_pton(3): no leading zeros in IPv4 octets, no zone ids, no prefixes.
 */
import { DecodeError } from '../errors.js';

const HEX2: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function formatIPv4(bytes: Uint8Array): string {
  if (bytes.length !== 4) throw new DecodeError('ipv4 address', `expected 4 bytes, got ${bytes.length}`, 0);
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

export function formatIPv6(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new DecodeError('ipv6 address', `expected 16 bytes, got ${bytes.length}`, 0);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);

  // ::ffff:0:0/96, IPv4-mapped (RFC 4291 §2.5.5.2; RFC 5952 §5).
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }

  // Longest run of zero groups, first on a tie; a single zero group is not compressed (RFC 5952 §4.2.2).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number) => g.toString(16);
  if (bestStart < 0) return groups.map(hex).join(':');
  const head = groups.slice(0, bestStart).map(hex).join(':');
  const tail = groups.slice(bestStart + bestLen).map(hex).join(':');
  return `${head}::${tail}`;
}

/** Formats 4 or 16 bytes as an IPv4 or IPv6 address. */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return formatIPv4(bytes);
  if (bytes.length === 16) return formatIPv6(bytes);
  throw new DecodeError('ip address', `expected 4 or 16 bytes, got ${bytes.length}`, 0);
}

/** Parses dotted decimal ("192.0.2.1") into 4 bytes. */
export function parseIPv4(text: string): Uint8Array {
  const out = new Uint8Array(4);
  if (!parseIPv4Into(text, out, 0)) throw new DecodeError('ipv4 address', `not a dotted-quad address: ${JSON.stringify(text)}`, 0);
  return out;
}

function parseIPv4Into(text: string, out: Uint8Array, at: number): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    // At most 3 digits, no leading zero (inet_pton rejects "01", which some libcs read as octal).
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return false;
    const v = Number(p);
    if (v > 255) return false;
    out[at + i] = v;
  }
  return true;
}

/** Parses an IPv6 address (RFC 4291 §2.2 text forms, including "::" and a trailing dotted quad) into 16 bytes. */
export function parseIPv6(text: string): Uint8Array {
  const fail = (why: string): never => {
    throw new DecodeError('ipv6 address', `${why}: ${JSON.stringify(text)}`, 0);
  };
  const out = new Uint8Array(16);
  if (text.length === 0 || text.length > 45) fail('not an IPv6 address');
  const halves = text.split('::');
  if (halves.length > 2) fail('more than one "::"');

  // Parses one side of "::" into 16-bit groups; a dotted quad may only end the address.
  const groupsOf = (side: string, isLast: boolean): number[] => {
    if (side === '') return [];
    const parts = side.split(':');
    const groups: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (isLast && i === parts.length - 1 && p.includes('.')) {
        const v4 = new Uint8Array(4);
        if (!parseIPv4Into(p, v4, 0)) fail('bad embedded IPv4 address');
        groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) fail('bad group');
      groups.push(parseInt(p, 16));
    }
    return groups;
  };

  let groups: number[];
  if (halves.length === 1) {
    groups = groupsOf(halves[0]!, true);
    if (groups.length !== 8) fail('expected 8 groups');
  } else {
    const head = groupsOf(halves[0]!, false);
    const tail = groupsOf(halves[1]!, true);
    // "::" stands for at least one zero group (RFC 4291 §2.2 (2)).
    if (head.length + tail.length > 7) fail('"::" must replace at least one group');
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i]! >> 8;
    out[2 * i + 1] = groups[i]! & 0xff;
  }
  return out;
}

/** Parses an IPv4 or IPv6 address by its form. */
export function parseAddress(text: string): Uint8Array {
  return text.includes(':') ? parseIPv6(text) : parseIPv4(text);
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
