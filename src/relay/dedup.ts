/**
 * Duplicate suppression: the same quoted flow told the same MTU
 * (tooBigKey() of src/wire/too-big-decode.ts) is relayed once per window.
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
 * Memory: two generations of Map<key, time relayed>, the current one and the
 * previous one, swapped every window (O(1), no per-entry timers). An entry
 * lives between one and two windows; its time decides. A generation holds at
 * most maxEntries keys: when a flood of distinct keys fills it, it is retired
 * early (counted in stats.forcedRotations), which can only let a duplicate
 * through sooner (fail open); the rate limiter after dedup still bounds what
 * is sent.
 */
import { ConfigError, type ConfigProblem } from '../errors.js';

export const DEDUP_DEFAULTS = {
  windowMs: 1000,
  maxEntries: 65_536,
} as const;

export interface DedupOptions {
  /** Window in the clock's units (the same as `now`); 0 disables dedup. */
  readonly window: number;
  /** Keys per generation (two generations are kept). */
  readonly maxEntries?: number;
}

export interface DedupStats {
  /** Keys remembered now, both generations. */
  readonly entries: number;
  /** Generations retired before their window ended because they were full. */
  readonly forcedRotations: number;
}

export class Dedup {
  private readonly window: number;
  private readonly maxEntries: number;
  private current = new Map<string, number>();
  private previous = new Map<string, number>();
  /** When `current` started; -Infinity until the first call. */
  private start = Number.NEGATIVE_INFINITY;
  private forced = 0;

  constructor(opts: DedupOptions) {
    const problems: ConfigProblem[] = [];
    if (!(Number.isFinite(opts.window) && opts.window >= 0)) {
      problems.push({ field: 'window', value: opts.window, expected: 'a finite number >= 0' });
    }
    const maxEntries = opts.maxEntries ?? DEDUP_DEFAULTS.maxEntries;
    if (!(Number.isSafeInteger(maxEntries) && maxEntries >= 1)) {
      problems.push({ field: 'maxEntries', value: maxEntries, expected: 'an integer >= 1' });
    }
    if (problems.length > 0) throw new ConfigError(problems);
    this.window = opts.window;
    this.maxEntries = maxEntries;
  }

  get stats(): DedupStats {
    return { entries: this.current.size + this.previous.size, forcedRotations: this.forced };
  }

  /**
   * True when `key` was relayed less than one window before `now` (a
   * duplicate: drop it). Otherwise records `key` as relayed at `now` and
   * returns false.
   */
  seen(key: string, now: number): boolean {
    if (this.window === 0) return false;
    const age = now - this.start;
    if (age >= this.window) {
      if (age >= 2 * this.window) {
        // Idle for two windows: everything remembered has expired.
        this.previous.clear();
        this.current.clear();
      } else {
        this.rotate();
      }
      this.start = now;
    }
    // Every key in `current` was relayed after `start`, hence within the window.
    if (this.current.has(key)) return true;
    const t = this.previous.get(key);
    if (t !== undefined && now - t < this.window) return true;
    if (this.current.size >= this.maxEntries) {
      this.forced++;
      this.rotate();
      this.start = now;
    }
    this.current.set(key, now);
    return false;
  }

  /**
   * Takes back the record seen() just made for `key` (the caller did not
   * relay it after all, e.g. rate-limited), so only relayed keys suppress
   * later copies.
   */
  forget(key: string): void {
    this.current.delete(key);
  }

  private rotate(): void {
    const old = this.previous;
    old.clear();
    this.previous = this.current;
    this.current = old;
  }
}
