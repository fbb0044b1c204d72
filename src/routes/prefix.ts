/**
 * Pool addresses, pool prefixes and BGP peer addresses in the integer form
 * that range arithmetic needs (the minimal CIDR cover of an address range,
 * containment, ordering), with their canonical text. Parsing and text are
 * the shared codec's (wire/ip-address.ts, wire/ip-prefix.ts) with Go's
 * net.ParseIP/ParseCIDR rules, as MetalLB applies them; IPv4 takes a path
 * without BigInt and without allocation for text that is already canonical,
 * because it runs for every rule of every reconcile (tens of thousands).
 * IPv4-mapped IPv6 is written in hex groups (::ffff:c000:201), the text
 * routes have always compared and printed (formatIPv6Groups).
 */
import { formatIPv4, formatIPv6Groups, scanIPv4, scanIPv6 } from '../wire/ip-address.js';
import { parsePrefix as parseWirePrefix, scanPrefixLength } from '../wire/ip-prefix.js';
import { AF, type Family } from './objects.js';

export interface NumericAddress {
  readonly family: Family;
  /** Canonical text: dotted decimal, or RFC 5952 for IPv6. */
  readonly text: string;
  readonly value: bigint;
}

export interface NumericPrefix {
  readonly family: Family;
  /** The network address (host bits cleared), canonical. */
  readonly address: string;
  readonly length: number;
  /** `address/length`. */
  readonly text: string;
  /** The network address as an integer. */
  readonly value: bigint;
}

export function bits(family: Family): number {
  return family === AF.INET ? 32 : 128;
}

function v4Text(n: number): string {
  return formatIPv4(Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255));
}

/** The 128-bit value of 16 address bytes. */
function bytesValue(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = 0; i < 16; i += 4) v = (v << 32n) | BigInt((((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0));
  return v;
}

function valueBytes(value: bigint): Uint8Array {
  const b = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    b[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return b;
}

/** Canonical text of an address value. */
export function addressText(family: Family, value: bigint): string {
  return family === AF.INET ? v4Text(Number(value)) : formatIPv6Groups(valueBytes(value));
}

/**
 * An IP address as Go's net.ParseIP takes it (the strict rules of
 * wire/ip-address.ts), blanks around it ignored.
 */
export function parseAddress(s: string): NumericAddress | undefined {
  const t = s.trim();
  if (t.includes(':')) {
    const b = new Uint8Array(16);
    if (scanIPv6(t, 0, t.length, b) !== undefined) return undefined;
    return { family: AF.INET6, text: formatIPv6Groups(b), value: bytesValue(b) };
  }
  const n = scanIPv4(t);
  if (n < 0) return undefined;
  return { family: AF.INET, text: t, value: BigInt(n) };
}

function mask(family: Family, length: number): bigint {
  const b = bits(family);
  return ((1n << BigInt(b)) - 1n) ^ ((1n << BigInt(b - length)) - 1n);
}

function v4Mask(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
}

/** The prefix of `length` containing `value` (host bits cleared). */
export function prefixOf(family: Family, value: bigint, length: number): NumericPrefix {
  if (family === AF.INET) {
    const net = (Number(value) & v4Mask(length)) >>> 0;
    const address = v4Text(net);
    return { family, address, length, text: `${address}/${length}`, value: BigInt(net) };
  }
  const net = value & mask(family, length);
  const address = addressText(family, net);
  return { family, address, length, text: `${address}/${length}`, value: net };
}

/** Go's net.ParseCIDR rules: host bits cleared, a length with leading zeros read as decimal, no bare address. */
const GO_CIDR = { bare: 'refuse', hostBits: 'clear', lengthZeros: 'allow' } as const;

/**
 * `addr/len` as Go's net.ParseCIDR takes it: host bits are allowed and
 * cleared (192.0.2.5/24 is 192.0.2.0/24), a missing length is not.
 */
export function parsePrefix(s: string): NumericPrefix | undefined {
  const t = s.trim();
  const slash = t.indexOf('/');
  if (slash < 0) return undefined;
  if (t.indexOf(':') < 0) {
    // IPv4 without BigInt arithmetic, and without re-formatting when the text is already canonical
    const length = scanPrefixLength(t, slash + 1, t.length, 'allow');
    const n = scanIPv4(t, 0, slash);
    if (n < 0 || length < 0 || length > 32) return undefined;
    const net = (n & v4Mask(length)) >>> 0;
    if (net === n && t.length - slash - 1 === decimalDigits(length)) {
      return { family: AF.INET, address: t.slice(0, slash), length, text: t, value: BigInt(n) };
    }
    const address = v4Text(net);
    return { family: AF.INET, address, length, text: `${address}/${length}`, value: BigInt(net) };
  }
  const p = parseWirePrefix(t, GO_CIDR);
  if (!p || p.address.length !== 16) return undefined;
  const address = formatIPv6Groups(p.address);
  return { family: AF.INET6, address, length: p.prefixLength, text: `${address}/${p.prefixLength}`, value: bytesValue(p.address) };
}

/** How many digits `n` (0..999) has when written without leading zeros. */
function decimalDigits(n: number): number {
  return n < 10 ? 1 : n < 100 ? 2 : 3;
}

/**
 * The canonical text of a prefix, or undefined when it is not one; like
 * parsePrefix(s)?.text but allocation-free for prefixes that are already
 * canonical IPv4, which is what a rule dump mostly holds. With `fastOnly`,
 * anything else is undefined (the caller memoises the slow path).
 */
export function canonicalPrefix(s: string, fastOnly = false): string | undefined {
  const slash = s.indexOf('/');
  if (slash > 0 && s.indexOf(':') < 0) {
    const length = scanPrefixLength(s, slash + 1, s.length, 'allow');
    const n = scanIPv4(s, 0, slash);
    if (length >= 0 && length <= 32 && n >= 0 && ((n & v4Mask(length)) >>> 0) === n && s.length - slash - 1 === decimalDigits(length)) return s;
  }
  if (fastOnly) return undefined;
  const t = s.trim();
  if (t.indexOf(':') >= 0) {
    // IPv6 without BigInt arithmetic
    const p = parseWirePrefix(t, GO_CIDR);
    return p && p.address.length === 16 ? `${formatIPv6Groups(p.address)}/${p.prefixLength}` : undefined;
  }
  return parsePrefix(t)?.text;
}

/** Whether `prefix` contains the address `value` of the same family. */
export function containsAddress(prefix: NumericPrefix, family: Family, value: bigint): boolean {
  return prefix.family === family && (value & mask(family, prefix.length)) === prefix.value;
}

/**
 * The minimal list of prefixes whose union is exactly [start, end]
 * (inclusive), in address order. Each step takes the largest block that is
 * aligned at `start` and does not pass `end`.
 */
export function rangeToPrefixes(family: Family, start: bigint, end: bigint): NumericPrefix[] {
  const width = bits(family);
  const out: NumericPrefix[] = [];
  let cur = start;
  while (cur <= end) {
    // largest power of two dividing cur (cur = 0 is aligned to everything)
    let size = cur === 0n ? 1n << BigInt(width) : cur & -cur;
    while (cur + size - 1n > end) size >>= 1n;
    let hostBits = 0;
    while (1n << BigInt(hostBits) < size) hostBits++;
    out.push(prefixOf(family, cur, width - hostBits));
    cur += size;
  }
  return out;
}

export type RangeError_ = 'syntax' | 'mixed-family' | 'order';

/**
 * `start-end` (spaces around the dash allowed, as MetalLB trims them) to its
 * minimal CIDR cover; or why it is not a range.
 */
export function parseRange(s: string): { readonly prefixes: NumericPrefix[] } | { readonly error: RangeError_ } {
  const parts = s.split('-');
  if (parts.length !== 2) return { error: 'syntax' };
  const a = parseAddress(parts[0] ?? '');
  const b = parseAddress(parts[1] ?? '');
  if (!a || !b) return { error: 'syntax' };
  if (a.family !== b.family) return { error: 'mixed-family' };
  if (a.value > b.value) return { error: 'order' };
  return { prefixes: rangeToPrefixes(a.family, a.value, b.value) };
}


/** Sort key order for prefixes: family, then address, then length. */
export function comparePrefixes(a: NumericPrefix, b: NumericPrefix): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.value !== b.value) return a.value < b.value ? -1 : 1;
  return a.length - b.length;
}
