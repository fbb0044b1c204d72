/**
 * Duplicate suppression: the same quoted flow told the same MTU is relayed
 * once per window. The key is what tooBigKey() (src/wire/too-big-decode.ts)
 * spells as a string: family, protocol, quoted source and destination
 * addresses, quoted ports (or their absence) and the MTU; here it is kept as
 * 11 words in a typed array so that checking a packet allocates nothing and
 * hashes no string (dedup sees every valid packet, floods included).
 *
 * Why duplicates come at all: a sender with a window of full-size segments in
 * flight gets one "too big" per segment the router drops (up to the router's
 * own ICMP burst, 6 on Linux), microseconds apart; the first one relayed is
 * all the owner needs. A key is remembered from the time it was relayed, not
 * refreshed by the duplicates, so a stream that keeps coming (the owner did
 * not learn, e.g. a replica was lost) is relayed again once per window.
 *
 * Default window 1 s (DEDUP_DEFAULTS): it covers a whole burst of segments
 * (one RTT, well under 1 s) and matches the 1/s per-destination ICMP rate
 * of Linux routers (net.ipv4.icmp_ratelimit = 1000 ms), so when the owner did
 * not learn, the ICMP provoked by its retransmission (RTO >= 200 ms,
 * TCP_RTO_MIN; 1 s initially, RFC 6298) gets through again within about a
 * second.
 *
 * Memory: a fixed set-associative table (maxEntries, default 65,536, 8 ways
 * per set, the set chosen by a keyed hash, keyed-hash.ts), each entry the
 * key and the time it was relayed. An entry older than the window is free
 * space. When every way of a set holds a live entry, the oldest is replaced
 * early (counted in stats.evictions): that can only let a duplicate through
 * sooner (fail open), never suppress a message that should go, and the rate
 * limiter after dedup still bounds what is sent. It takes 8 distinct
 * messages in one set within a window, i.e. a flood of about maxEntries
 * distinct (flow, MTU) pairs per window.
 */
import { ConfigError, type ConfigProblem } from '../errors.js';
import type { QuotedFlow } from '../wire/too-big.js';
import { hashWords, HASH_KEY_WORDS, randomHashKey } from './keyed-hash.js';

export const DEDUP_DEFAULTS = {
  windowMs: 1000,
  maxEntries: 65_536,
} as const;

export interface DedupOptions {
  /** Window in the clock's units (the same as `now`); 0 disables dedup. */
  readonly window: number;
  /** Entries in the table; rounded down to a power of two times the associativity. */
  readonly maxEntries?: number;
  /** Secret for the set hash (tests pass a fixed one); random by default. */
  readonly hashKey?: Uint32Array;
}

export interface DedupStats {
  /** Entries that hold a key (live or expired). */
  readonly entries: number;
  /** Live entries replaced before their window ended because their set was full. */
  readonly evictions: number;
}

const WAYS = 8;
/** Words per key: family/protocol/ports flag, source (4), destination (4), ports, MTU. */
const KEY_WORDS = 11;

export class Dedup {
  private readonly window: number;
  private readonly ways: number;
  private readonly setMask: number;
  private readonly keys: Int32Array;
  /** Time each entry was relayed; -Infinity when empty. */
  private readonly times: Float64Array;
  private readonly hashKey: Uint32Array;
  private readonly scratch = new Int32Array(KEY_WORDS);
  private used = 0;
  private evicted = 0;

  constructor(opts: DedupOptions) {
    const problems: ConfigProblem[] = [];
    if (!(Number.isFinite(opts.window) && opts.window >= 0)) {
      problems.push({ field: 'window', value: opts.window, expected: 'a finite number >= 0' });
    }
    const maxEntries = opts.maxEntries ?? DEDUP_DEFAULTS.maxEntries;
    if (!(Number.isSafeInteger(maxEntries) && maxEntries >= 1 && maxEntries <= 1 << 24)) {
      problems.push({ field: 'maxEntries', value: maxEntries, expected: `an integer in 1..${1 << 24}` });
    }
    if (opts.hashKey !== undefined && opts.hashKey.length !== HASH_KEY_WORDS) {
      problems.push({ field: 'hashKey', value: opts.hashKey.length, expected: `${HASH_KEY_WORDS} words` });
    }
    if (problems.length > 0) throw new ConfigError(problems);
    this.window = opts.window;
    this.ways = Math.min(WAYS, maxEntries);
    let sets = 1;
    while (sets * 2 * this.ways <= maxEntries) sets *= 2;
    this.setMask = sets - 1;
    this.keys = new Int32Array(sets * this.ways * KEY_WORDS);
    this.times = new Float64Array(sets * this.ways).fill(Number.NEGATIVE_INFINITY);
    this.hashKey = opts.hashKey ? new Uint32Array(opts.hashKey) : randomHashKey();
  }

  /** Entries the table can hold. */
  get capacity(): number {
    return this.times.length;
  }

  get stats(): DedupStats {
    return { entries: this.used, evictions: this.evicted };
  }

  /**
   * True when `flow` was told `mtu` by a message relayed less than one window
   * before `now` (a duplicate: drop it). Otherwise records it as relayed at
   * `now` and returns false.
   */
  seen(flow: QuotedFlow, mtu: number, now: number): boolean {
    if (this.window === 0) return false;
    const base = this.load(flow, mtu);
    const k = this.scratch;
    let free = -1;
    let freeTime = Number.POSITIVE_INFINITY;
    for (let slot = base; slot < base + this.ways; slot++) {
      const t = this.times[slot]!;
      if (t !== Number.NEGATIVE_INFINITY && this.matches(slot)) {
        if (now - t < this.window) return true;
        this.times[slot] = now; // the same key, expired: relay and restart its window
        return false;
      }
      // Prefer an empty entry, then the oldest (a NaN time, from a caller's broken clock, counts as free).
      if (!(t >= freeTime)) {
        free = slot;
        freeTime = t;
      }
    }
    if (freeTime === Number.NEGATIVE_INFINITY) this.used++;
    else if (now - freeTime < this.window) this.evicted++;
    this.keys.set(k, free * KEY_WORDS);
    this.times[free] = now;
    return false;
  }

  /**
   * Takes back the record of `flow`/`mtu` (the caller did not relay it after
   * all, e.g. rate-limited), so only relayed messages suppress later copies.
   */
  forget(flow: QuotedFlow, mtu: number): void {
    const base = this.load(flow, mtu);
    for (let slot = base; slot < base + this.ways; slot++) {
      if (this.times[slot] !== Number.NEGATIVE_INFINITY && this.matches(slot)) {
        this.times[slot] = Number.NEGATIVE_INFINITY;
        this.used--;
        return;
      }
    }
  }

  /** Writes the key words of (flow, mtu) into the scratch array; returns the first slot of its set. */
  private load(flow: QuotedFlow, mtu: number): number {
    const k = this.scratch;
    const s = flow.src;
    const d = flow.dst;
    const hasPorts = flow.srcPort !== undefined && flow.dstPort !== undefined;
    k[0] = (flow.family << 24) | ((flow.protocol & 0xff) << 16) | (hasPorts ? 1 : 0);
    if (s.length === 16 && d.length === 16) {
      for (let i = 0; i < 4; i++) {
        const o = 4 * i;
        k[1 + i] = (s[o]! << 24) | (s[o + 1]! << 16) | (s[o + 2]! << 8) | s[o + 3]!;
        k[5 + i] = (d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!;
      }
    } else {
      // IPv4 (the family word tells the address lengths apart).
      k[1] = (s[0]! << 24) | (s[1]! << 16) | (s[2]! << 8) | s[3]!;
      k[5] = (d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!;
      k[2] = k[3] = k[4] = k[6] = k[7] = k[8] = 0;
    }
    k[9] = hasPorts ? (flow.srcPort! << 16) | flow.dstPort! : 0;
    k[10] = mtu | 0;
    return (hashWords(this.hashKey, k, KEY_WORDS) & this.setMask) * this.ways;
  }

  private matches(slot: number): boolean {
    const keys = this.keys;
    const k = this.scratch;
    const o = slot * KEY_WORDS;
    for (let i = 0; i < KEY_WORDS; i++) if (keys[o + i] !== k[i]) return false;
    return true;
  }
}
