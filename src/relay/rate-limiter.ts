/**
 * The relay's rate limits, after cloudflare/pmtud's two hashlimits: one
 * token bucket per outer source address (the router that sent the ICMP
 * error), then one per capture interface (ifindex), which bounds how many
 * messages this node fans out to its peers whatever the sources.
 *
 * Defaults (RATE_LIMIT_DEFAULTS), and why:
 * - Per source, 2/s with a burst of 10. Routers rate-limit the ICMP errors
 *   they originate: Linux allows 1 per second per destination with a burst
 *   of 6 (net.ipv4.icmp_ratelimit = 1000 ms; XRLIM_BURST_FACTOR in
 *   net/ipv4/inetpeer.c; the destination is our VIP), IOS one unreachable per
 *   500 ms per interface. So a real router sends about 1-2/s per VIP, which
 *   these limits relay untouched for a few VIPs, while one (possibly
 *   spoofed) source can make this node emit at most 2 x (peers) replicas/s.
 *   cloudflare/pmtud used 1.0-1.1/s with a burst of 1.9x the rate.
 * - Per interface, 50/s with a burst of 100. After dedup every message is a
 *   distinct (flow, MTU), and an owner caches a learned path MTU for 10
 *   minutes (net.ipv4.route.mtu_expires), so real load is new clients behind
 *   a smaller MTU per second: a handful. 50/s is 5x cloudflare/pmtud's 10/s
 *   and caps the worst case at 50 x (N-1) replicas sent by a node and
 *   received by each node of an N-node cluster (2,450/s at N = 50).
 *
 * The per-source table is bounded (maxSources, default 65,536) and costs no
 * allocation per packet: a set-associative table of typed arrays (8 ways per
 * set), the set chosen by a hash keyed with a random secret, so an attacker
 * cannot aim sources at the set of a victim. Eviction is lossless: only an
 * entry whose bucket has refilled to `burst` may be replaced (the least
 * recently used such entry of the set), and forgetting a full bucket is
 * exactly the same as keeping it. A hot source therefore can never be reset
 * by flooding the table with other sources. When every entry of the set is
 * still paying off its tokens, the new source is refused ('src_rate', counted
 * in stats.tableFull): that takes 8 sources active within one refill period
 * in the same set, i.e. a spoofed flood of about maxSources / (1/srcRate)
 * distinct sources per second, during which the per-interface limit would
 * refuse the newcomer anyway. This fails closed and keeps the bound
 * "at most srcBurst + srcRate x T per source" true for every source.
 *
 * A source's token is spent before the interface limit is asked, as in
 * cloudflare/pmtud: a flooding source pays for its attempts even when the
 * interface limit drops them.
 */
import { ConfigError } from '../errors.js';
import { hashWords, HASH_KEY_WORDS, randomHashKey } from './keyed-hash.js';
import { refill, TokenBucket, tokenBucketProblems } from './token-bucket.js';

export const RATE_LIMIT = ['src_rate', 'global_rate'] as const;
export type RateLimit = (typeof RATE_LIMIT)[number];
export type RateCheck = 'ok' | RateLimit;

export const RATE_LIMIT_DEFAULTS = {
  srcRate: 2,
  srcBurst: 10,
  ifaceRate: 50,
  ifaceBurst: 100,
  maxSources: 65_536,
  maxInterfaces: 64,
} as const;

export interface RateLimiterOptions {
  /** Per-source rate (packets/s) and burst. */
  readonly srcRate: number;
  readonly srcBurst: number;
  /** Per-interface rate (packets/s) and burst. */
  readonly ifaceRate: number;
  readonly ifaceBurst: number;
  /** Upper bound on tracked sources; rounded down to a power of two times the associativity. */
  readonly maxSources?: number;
  /** Interfaces with their own bucket; further ifindexes share one overflow bucket. */
  readonly maxInterfaces?: number;
  /** Clock units per second of `now` (default 1000: milliseconds). */
  readonly unitsPerSecond?: number;
  /** Secret for the source hash (keyed-hash.ts; tests pass a fixed one); random by default. */
  readonly hashKey?: Uint32Array;
}

export interface RateLimiterStats {
  /** Source entries in use. */
  readonly sources: number;
  /** Full (idle) source entries replaced by new sources. */
  readonly evictions: number;
  /** New sources refused because their set held only sources still below their burst. */
  readonly tableFull: number;
}

/** Entries per set. */
const WAYS = 8;

export class RateLimiter {
  private readonly srcBurst: number;
  private readonly srcRatePerUnit: number;
  private readonly ways: number;
  private readonly setMask: number;
  /** Per slot: address length (0 = empty, 4, 16), 4 address words, tokens, last refill time. */
  private readonly len: Uint8Array;
  private readonly words: Int32Array;
  private readonly tokens: Float64Array;
  private readonly last: Float64Array;
  private readonly key: Uint32Array;
  /** Scratch for hashing: address length, then the 4 address words. */
  private readonly scratch = new Int32Array(5);
  private readonly ifaceOpts: { ratePerSecond: number; burst: number; unitsPerSecond: number };
  private readonly ifaces = new Map<number, TokenBucket>();
  private readonly maxInterfaces: number;
  private readonly overflow: TokenBucket;
  private used = 0;
  private evicted = 0;
  private full = 0;

  constructor(opts: RateLimiterOptions) {
    const unitsPerSecond = opts.unitsPerSecond ?? 1000;
    const problems = [
      ...tokenBucketProblems({ ratePerSecond: opts.srcRate, burst: opts.srcBurst, unitsPerSecond }, 'src.'),
      ...tokenBucketProblems({ ratePerSecond: opts.ifaceRate, burst: opts.ifaceBurst }, 'iface.'),
    ];
    const maxSources = opts.maxSources ?? RATE_LIMIT_DEFAULTS.maxSources;
    if (!(Number.isSafeInteger(maxSources) && maxSources >= 1 && maxSources <= 1 << 24)) {
      problems.push({ field: 'maxSources', value: maxSources, expected: `an integer in 1..${1 << 24}` });
    }
    const maxInterfaces = opts.maxInterfaces ?? RATE_LIMIT_DEFAULTS.maxInterfaces;
    if (!(Number.isSafeInteger(maxInterfaces) && maxInterfaces >= 0)) {
      problems.push({ field: 'maxInterfaces', value: maxInterfaces, expected: 'an integer >= 0' });
    }
    if (opts.hashKey !== undefined && opts.hashKey.length !== HASH_KEY_WORDS) {
      problems.push({ field: 'hashKey', value: opts.hashKey.length, expected: `${HASH_KEY_WORDS} words` });
    }
    if (problems.length > 0) throw new ConfigError(problems);

    this.srcBurst = opts.srcBurst;
    this.srcRatePerUnit = opts.srcRate / unitsPerSecond;
    this.ways = Math.min(WAYS, maxSources);
    let sets = 1;
    while (sets * 2 * this.ways <= maxSources) sets *= 2;
    this.setMask = sets - 1;
    const capacity = sets * this.ways;
    this.len = new Uint8Array(capacity);
    this.words = new Int32Array(capacity * 4);
    this.tokens = new Float64Array(capacity);
    this.last = new Float64Array(capacity);
    this.key = opts.hashKey ? new Uint32Array(opts.hashKey) : randomHashKey();
    this.ifaceOpts = { ratePerSecond: opts.ifaceRate, burst: opts.ifaceBurst, unitsPerSecond };
    this.maxInterfaces = maxInterfaces;
    this.overflow = new TokenBucket(this.ifaceOpts);
  }

  /** Source entries the table can hold. */
  get capacity(): number {
    return this.len.length;
  }

  get stats(): RateLimiterStats {
    return { sources: this.used, evictions: this.evicted, tableFull: this.full };
  }

  /**
   * Charges one packet from outer source `src` (4 or 16 bytes) captured on
   * `ifindex` at time `now`. Other address lengths share one entry.
   */
  check(src: Uint8Array, ifindex: number, now: number): RateCheck {
    if (!this.takeSource(src, now)) return 'src_rate';
    return this.ifaceBucket(ifindex).take(now) ? 'ok' : 'global_rate';
  }

  private ifaceBucket(ifindex: number): TokenBucket {
    let b = this.ifaces.get(ifindex);
    if (b === undefined) {
      if (this.ifaces.size >= this.maxInterfaces) return this.overflow;
      b = new TokenBucket(this.ifaceOpts);
      this.ifaces.set(ifindex, b);
    }
    return b;
  }

  private takeSource(src: Uint8Array, now: number): boolean {
    const n = src.length === 4 || src.length === 16 ? src.length : 0;
    // Address as four big-endian words; IPv4 uses the first only (the length tells them apart).
    let w0 = 0;
    let w1 = 0;
    let w2 = 0;
    let w3 = 0;
    if (n >= 4) w0 = (src[0]! << 24) | (src[1]! << 16) | (src[2]! << 8) | src[3]!;
    if (n === 16) {
      w1 = (src[4]! << 24) | (src[5]! << 16) | (src[6]! << 8) | src[7]!;
      w2 = (src[8]! << 24) | (src[9]! << 16) | (src[10]! << 8) | src[11]!;
      w3 = (src[12]! << 24) | (src[13]! << 16) | (src[14]! << 8) | src[15]!;
    }
    const h = this.scratch;
    h[0] = n;
    h[1] = w0;
    h[2] = w1;
    h[3] = w2;
    h[4] = w3;
    const base = (hashWords(this.key, h, 5) & this.setMask) * this.ways;

    let empty = -1;
    let evict = -1;
    let evictLast = Number.POSITIVE_INFINITY;
    for (let slot = base; slot < base + this.ways; slot++) {
      const len = this.len[slot]!;
      if (len === 0) {
        if (empty < 0) empty = slot;
        continue;
      }
      const k = slot * 4;
      if (len === n && this.words[k] === w0 && this.words[k + 1] === w1 && this.words[k + 2] === w2 && this.words[k + 3] === w3) {
        return this.takeSlot(slot, now);
      }
      // Replaceable only when its bucket is full again: forgetting it then changes nothing.
      const last = this.last[slot]!;
      if (last < evictLast && refill(this.tokens[slot]!, now - last, this.srcRatePerUnit, this.srcBurst) >= this.srcBurst) {
        evict = slot;
        evictLast = last;
      }
    }
    const victim = empty >= 0 ? empty : evict;
    if (victim < 0) {
      this.full++;
      return false;
    }
    if (this.len[victim] === 0) this.used++;
    else this.evicted++;
    this.len[victim] = n;
    const k = victim * 4;
    this.words[k] = w0;
    this.words[k + 1] = w1;
    this.words[k + 2] = w2;
    this.words[k + 3] = w3;
    this.tokens[victim] = this.srcBurst;
    this.last[victim] = now;
    return this.takeSlot(victim, now);
  }

  private takeSlot(slot: number, now: number): boolean {
    const last = this.last[slot]!;
    if (now > last) {
      this.tokens[slot] = refill(this.tokens[slot]!, now - last, this.srcRatePerUnit, this.srcBurst);
      this.last[slot] = now;
    }
    const t = this.tokens[slot]!;
    if (t >= 1) {
      this.tokens[slot] = t - 1;
      return true;
    }
    return false;
  }
}
