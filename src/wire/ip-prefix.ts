/**
 * IP prefixes: address bytes (4 or 16, network order) and a prefix length,
 * the one prefix model of the program. Text is `ADDR/LEN` with the address
 * in the strict forms of ip-address.ts.
 *
 * Callers differ on three points, and say which they want:
 * - a bare address: a host prefix (/32, /128; go-pmtud's --ignore-networks)
 *   or refused (MetalLB's pool CIDRs);
 * - host bits under the mask: cleared as Go's net.ParseCIDR does
 *   (192.0.2.7/24 is 192.0.2.0/24) or refused as netip.Prefix.Masked()
 *   checks would;
 * - a length with leading zeros (`/024`): Go's net.ParseCIDR reads it as 24
 *   (its dtoi takes leading zeros; MetalLB reads pools with it), netip
 *   refuses it.
 * The defaults are the strict choice for each.
 */
import { compareAddresses, formatAddress, scanIPv4, scanIPv6 } from './ip-address.js';

export interface Prefix {
  /** 4 or 16 bytes; host bits cleared. */
  readonly address: Uint8Array;
  readonly prefixLength: number;
}

export interface PrefixRules {
  /** A bare address: a host prefix (`host`) or not a prefix (`refuse`, the default). */
  readonly bare?: 'host' | 'refuse';
  /** Host bits set under the mask: `clear`ed or `refuse`d (the default). */
  readonly hostBits?: 'clear' | 'refuse';
  /** A length written with leading zeros (`/024`): `allow`ed or `refuse`d (the default). */
  readonly lengthZeros?: 'allow' | 'refuse';
}

/**
 * The decimal prefix length of 1-3 digits in t[from, to), or -1. With
 * `lengthZeros: 'refuse'` a leading zero (other than "0" itself) is -1.
 */
export function scanPrefixLength(t: string, from: number, to: number, lengthZeros: 'allow' | 'refuse' = 'refuse'): number {
  const digits = to - from;
  if (digits < 1 || digits > 3) return -1;
  if (lengthZeros === 'refuse' && digits > 1 && t.charCodeAt(from) === 48) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = t.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    n = n * 10 + (c - 48);
  }
  return n;
}

/** A copy of `address` with the bits after `prefixLength` cleared. */
export function maskAddress(address: Uint8Array, prefixLength: number): Uint8Array {
  const out = new Uint8Array(address);
  clearHostBits(out, prefixLength);
  return out;
}

/** Clears, in place, the bits of `address` after `prefixLength`; true when any was set. */
function clearHostBits(address: Uint8Array, prefixLength: number): boolean {
  let changed = false;
  for (let i = prefixLength >> 3; i < address.length; i++) {
    const keep = prefixLength - i * 8;
    const v = keep <= 0 ? 0 : address[i]! & (0xff << (8 - keep)) & 0xff;
    if (v !== address[i]) {
      address[i] = v;
      changed = true;
    }
  }
  return changed;
}

/** Parses `ADDR/LEN` (or a bare address, when the rules allow) into a prefix; undefined when it is not one. No blanks around it. */
export function parsePrefix(text: string, rules: PrefixRules = {}): Prefix | undefined {
  const slash = text.indexOf('/');
  const end = slash < 0 ? text.length : slash;
  let address: Uint8Array;
  const colon = text.indexOf(':');
  if (colon >= 0 && colon < end) {
    address = new Uint8Array(16);
    if (scanIPv6(text, 0, end, address) !== undefined) return undefined;
  } else {
    const n = scanIPv4(text, 0, end);
    if (n < 0) return undefined;
    address = Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  }
  const bits = address.length * 8;
  let prefixLength = bits;
  if (slash < 0) {
    if (rules.bare !== 'host') return undefined;
  } else {
    prefixLength = scanPrefixLength(text, slash + 1, text.length, rules.lengthZeros);
    if (prefixLength < 0 || prefixLength > bits) return undefined;
  }
  if (clearHostBits(address, prefixLength) && rules.hostBits !== 'clear') return undefined;
  return { address, prefixLength };
}

/** A host prefix (/32 or /128) of an address. */
export function hostPrefix(address: Uint8Array): Prefix {
  return { address, prefixLength: address.length * 8 };
}

/** `ADDR/LEN`, the address canonical. */
export function formatPrefix(p: Prefix): string {
  return `${formatAddress(p.address)}/${p.prefixLength}`;
}

/** True when `address` is of the prefix's family and inside it. */
export function prefixContains(p: Prefix, address: Uint8Array): boolean {
  const a = p.address;
  if (address.length !== a.length) return false;
  const full = p.prefixLength >> 3;
  for (let i = 0; i < full; i++) if (address[i] !== a[i]) return false;
  const rest = p.prefixLength & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (address[full]! & mask) === a[full];
}

/** Orders prefixes by family (IPv4 first), then address, then length. */
export function comparePrefixes(a: Prefix, b: Prefix): number {
  return compareAddresses(a.address, b.address) || a.prefixLength - b.prefixLength;
}
