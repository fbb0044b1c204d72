/**
 * Sets of IPv4 and IPv6 prefixes matched against raw address bytes (network
 * order, 4 or 16 bytes, as decodeTooBig returns them), for the relay's hot
 * path: no string formatting, no allocation per lookup.
 *
 * Structure: a multibit trie with a stride of one byte (the "controlled
 * prefix expansion" of Srinivasan & Varghese, SIGMETRICS 1998). Each node
 * covers one address byte with a 256-bit "match" bitmap and 256 child slots;
 * a prefix whose length is not a multiple of 8 is expanded into the
 * 2^(8 - len % 8) byte values it covers at its last level. A lookup reads at
 * most 4 (IPv4) or 16 (IPv6) bytes and stops at the first set bit, so the
 * cost does not grow with the number of prefixes. Sets are immutable once
 * built; callers that update a set (local addresses, peers) build a new one
 * and swap the reference, which is atomic for the reader.
 */
import { ConfigError, type ConfigProblem } from '../errors.js';
import { formatPrefix, hostPrefix, parsePrefix, type Prefix } from '../wire/ip-prefix.js';

/**
 * Parses `ADDR/LEN` or a bare address (a host: /32 or /128), blanks around
 * it ignored. Host bits set under the mask are cleared, as Go's
 * net.ParseCIDR does (go-pmtud read its --ignore-networks with it), so
 * `192.0.2.7/24` means 192.0.2.0/24. Returns undefined when the text is not
 * a prefix.
 */
export function parseCidr(text: string): Prefix | undefined {
  return parsePrefix(text.trim(), { bare: 'host', hostBits: 'clear' });
}

/** Parses every text as a prefix; throws one ConfigError listing every bad entry. */
export function parseCidrs(texts: readonly string[], field: string): Prefix[] {
  const out: Prefix[] = [];
  const problems: ConfigProblem[] = [];
  texts.forEach((t, i) => {
    const c = parseCidr(t);
    if (c) out.push(c);
    else problems.push({ field: `${field}[${i}]`, value: t, expected: 'an IPv4 or IPv6 prefix (ADDR/LEN) or address' });
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return out;
}

class TrieNode {
  /** Bit b set: every address whose byte at this level is b matches. */
  readonly match = new Uint32Array(8);
  /** Child per byte value; allocated on the first insert below this node. */
  next: (TrieNode | undefined)[] | undefined;
}

function insert(root: TrieNode, c: Prefix): void {
  const { address, prefixLength } = c;
  if (prefixLength === 0) {
    root.match.fill(0xffffffff);
    return;
  }
  // The level holding the prefix's last (possibly partial) byte.
  const last = ((prefixLength + 7) >> 3) - 1;
  let node = root;
  for (let i = 0; i < last; i++) {
    const b = address[i]!;
    if ((node.match[b >> 5]! >>> (b & 31)) & 1) return; // a shorter prefix already covers it
    node.next ??= new Array<TrieNode | undefined>(256).fill(undefined);
    node = node.next[b] ??= new TrieNode();
  }
  const keep = prefixLength - last * 8; // 1..8 bits of the last byte
  const lo = address[last]! & (0xff << (8 - keep)) & 0xff;
  const hi = lo | (0xff >> keep);
  for (let b = lo; b <= hi; b++) node.match[b >> 5]! |= 1 << (b & 31);
}

function lookup(root: TrieNode, a: Uint8Array): boolean {
  let node: TrieNode | undefined = root;
  for (let i = 0; i < a.length; i++) {
    const b = a[i]!;
    if ((node.match[b >> 5]! >>> (b & 31)) & 1) return true;
    const next: (TrieNode | undefined)[] | undefined = node.next;
    if (next === undefined) return false;
    node = next[b];
    if (node === undefined) return false;
  }
  return false;
}

export class PrefixSet {
  private readonly v4 = new TrieNode();
  private readonly v6 = new TrieNode();
  /** Number of prefixes given, per family (0 means the family never matches). */
  readonly size4: number;
  readonly size6: number;

  constructor(prefixes: readonly Prefix[] = []) {
    let n4 = 0;
    let n6 = 0;
    // Shorter prefixes first, so longer ones they cover are skipped instead of expanded.
    const sorted = [...prefixes].sort((x, y) => x.prefixLength - y.prefixLength);
    for (const c of sorted) {
      const bits = c.address.length * 8;
      if ((bits !== 32 && bits !== 128) || !Number.isInteger(c.prefixLength) || c.prefixLength < 0 || c.prefixLength > bits) {
        throw new ConfigError([{ field: 'prefix', value: formatCidrSafe(c), expected: 'a 4- or 16-byte address with a prefix length within it' }]);
      }
      if (bits === 32) {
        insert(this.v4, c);
        n4++;
      } else {
        insert(this.v6, c);
        n6++;
      }
    }
    this.size4 = n4;
    this.size6 = n6;
  }

  /** A set of host addresses (/32, /128), e.g. this node's local addresses. */
  static ofAddresses(addresses: readonly Uint8Array[]): PrefixSet {
    return new PrefixSet(addresses.map(hostPrefix));
  }

  get size(): number {
    return this.size4 + this.size6;
  }

  /** True when the 4- or 16-byte address lies inside one of the prefixes; other lengths never match. */
  has(address: Uint8Array): boolean {
    if (address.length === 4) return this.size4 > 0 && lookup(this.v4, address);
    if (address.length === 16) return this.size6 > 0 && lookup(this.v6, address);
    return false;
  }
}

function formatCidrSafe(c: Prefix): string {
  return c.address.length === 4 || c.address.length === 16 ? formatPrefix(c) : `<${c.address.length} bytes>/${c.prefixLength}`;
}
