/**
 * Address and prefix arithmetic for pool addresses and peers: strict
 * parsing (what Go's net.ParseIP/ParseCIDR accept, as MetalLB uses them),
 * canonical text, and the minimal CIDR cover of an address range.
 * Addresses are handled as bigints. The parsers are hand-written char-code
 * scanners because they run for every rule of every reconcile (tens of
 * thousands); the unit tests hold them to ipaddr.js's verdicts.
 */
import { AF, type Family } from './objects.js';

export interface Address {
  readonly family: Family;
  /** Canonical text: dotted decimal, or RFC 5952 for IPv6. */
  readonly text: string;
  readonly value: bigint;
}

export interface Prefix {
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

/**
 * Strict dotted decimal (four parts, 0..255, no leading zeros, nothing else)
 * in t[from, to) to a u32, or -1. Scans char codes without allocating: this
 * is the hot path for tens of thousands of pool prefixes per reconcile.
 */
function parseV4(t: string, from = 0, to = t.length): number {
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

function v4Text(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * IPv6 text in t[from, to) to its eight 16-bit groups, or undefined; the
 * rules of Go's net/netip parseIPv6: 1-4 hex digits per group, one `::`
 * standing for at least one zero group, an optional trailing dotted quad,
 * no zone. Hand-written for the same reason as parseV4; the unit tests check
 * it against ipaddr.js.
 */
function parseV6(t: string, from = 0, to = t.length): number[] | undefined {
  const g: number[] = [];
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
    if (d === 0 || d > 4) return undefined;
    if (i < to && t.charCodeAt(i) === 46) {
      // embedded IPv4: takes the last two groups
      if (g.length > 6 || (ellipsis < 0 && g.length !== 6)) return undefined;
      const v4 = parseV4(t, start, to);
      if (v4 < 0) return undefined;
      g.push(Math.floor(v4 / 65536), v4 % 65536);
      i = to;
      break;
    }
    g.push(n);
    if (g.length > 8) return undefined;
    if (i === to) break;
    if (t.charCodeAt(i) !== 58) return undefined;
    i++;
    if (i < to && t.charCodeAt(i) === 58) {
      if (ellipsis >= 0) return undefined;
      ellipsis = g.length;
      i++;
    } else if (i === to) return undefined; // a single trailing colon
  }
  if (ellipsis < 0) return g.length === 8 ? g : undefined;
  if (g.length >= 8) return undefined; // `::` must stand for at least one group
  g.splice(ellipsis, 0, ...new Array<number>(8 - g.length).fill(0));
  return g;
}

/** RFC 5952: lower-case hex, no leading zeros, the longest run (>= 2) of zero groups as `::`, the first such run on a tie. */
function v6GroupsText(g: readonly number[]): string {
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: readonly number[]) => xs.map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return hex(g);
  return `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`;
}

function v6Groups(value: bigint): number[] {
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  return g;
}

function groupsValue(g: readonly number[]): bigint {
  let v = 0n;
  for (const x of g) v = (v << 16n) | BigInt(x);
  return v;
}

/** Clear the host bits of eight groups. */
function maskGroups(g: readonly number[], length: number): number[] {
  return g.map((x, k) => {
    const left = length - 16 * k;
    if (left >= 16) return x;
    if (left <= 0) return 0;
    return x & ((0xffff << (16 - left)) & 0xffff);
  });
}

/** Canonical text of an address value. */
export function addressText(family: Family, value: bigint): string {
  return family === AF.INET ? v4Text(Number(value)) : v6GroupsText(v6Groups(value));
}

/**
 * An IP address as Go's net.ParseIP takes it: IPv4 only in four-part
 * dotted decimal without leading zeros (ipaddr.js alone would also take
 * `127.1` and `0x7f.0.0.1`), IPv6 without a zone.
 */
export function parseAddress(s: string): Address | undefined {
  const t = s.trim();
  if (t.includes(':')) {
    const g = parseV6(t);
    if (!g) return undefined;
    return { family: AF.INET6, text: v6GroupsText(g), value: groupsValue(g) };
  }
  const n = parseV4(t);
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
export function prefixOf(family: Family, value: bigint, length: number): Prefix {
  if (family === AF.INET) {
    const net = (Number(value) & v4Mask(length)) >>> 0;
    const address = v4Text(net);
    return { family, address, length, text: `${address}/${length}`, value: BigInt(net) };
  }
  const net = value & mask(family, length);
  const address = v6GroupsText(v6Groups(net));
  return { family, address, length, text: `${address}/${length}`, value: net };
}

/**
 * `addr/len` as Go's net.ParseCIDR takes it: host bits are allowed and
 * cleared (192.0.2.5/24 is 192.0.2.0/24), a missing length is not.
 */
export function parsePrefix(s: string): Prefix | undefined {
  const t = s.trim();
  const slash = t.indexOf('/');
  if (slash < 0) return undefined;
  const length = prefixLength(t, slash + 1);
  if (length < 0) return undefined;
  if (t.indexOf(':') < 0) {
    // IPv4 without BigInt arithmetic, and without re-formatting when the text is already canonical
    const n = parseV4(t, 0, slash);
    if (n < 0 || length > 32) return undefined;
    const net = (n & v4Mask(length)) >>> 0;
    if (net === n && t.length - slash - 1 === decimalDigits(length)) {
      return { family: AF.INET, address: t.slice(0, slash), length, text: t, value: BigInt(n) };
    }
    const address = v4Text(net);
    return { family: AF.INET, address, length, text: `${address}/${length}`, value: BigInt(net) };
  }
  const g = parseV6(t, 0, slash);
  if (!g || length > 128) return undefined;
  const net = maskGroups(g, length);
  const address = v6GroupsText(net);
  return { family: AF.INET6, address, length, text: `${address}/${length}`, value: groupsValue(net) };
}

/** How many digits `n` (0..999) has when written without leading zeros. */
function decimalDigits(n: number): number {
  return n < 10 ? 1 : n < 100 ? 2 : 3;
}

/** Decimal prefix length of 1-3 digits at t[from..], or -1. */
function prefixLength(t: string, from: number): number {
  const digits = t.length - from;
  if (digits < 1 || digits > 3) return -1;
  let n = 0;
  for (let i = from; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    n = n * 10 + (c - 48);
  }
  return n;
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
    const length = prefixLength(s, slash + 1);
    const n = parseV4(s, 0, slash);
    if (length >= 0 && length <= 32 && n >= 0 && ((n & v4Mask(length)) >>> 0) === n && s.length - slash - 1 === decimalDigits(length)) return s;
  }
  if (fastOnly) return undefined;
  const t = s.trim();
  const sl = t.indexOf('/');
  if (sl < 0) return undefined;
  const length = prefixLength(t, sl + 1);
  if (length < 0) return undefined;
  if (t.indexOf(':') >= 0) {
    // IPv6 without BigInt arithmetic
    const g = parseV6(t, 0, sl);
    if (!g || length > 128) return undefined;
    return `${v6GroupsText(maskGroups(g, length))}/${length}`;
  }
  return parsePrefix(t)?.text;
}

/** Whether `prefix` contains the address `value` of the same family. */
export function containsAddress(prefix: Prefix, family: Family, value: bigint): boolean {
  return prefix.family === family && (value & mask(family, prefix.length)) === prefix.value;
}

/**
 * The minimal list of prefixes whose union is exactly [start, end]
 * (inclusive), in address order. Each step takes the largest block that is
 * aligned at `start` and does not pass `end`.
 */
export function rangeToPrefixes(family: Family, start: bigint, end: bigint): Prefix[] {
  const width = bits(family);
  const out: Prefix[] = [];
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
export function parseRange(s: string): { readonly prefixes: Prefix[] } | { readonly error: RangeError_ } {
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
export function comparePrefixes(a: Prefix, b: Prefix): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.value !== b.value) return a.value < b.value ? -1 : 1;
  return a.length - b.length;
}
