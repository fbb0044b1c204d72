/**
 * A token bucket (the shaper of net/sched/sch_tbf.c and of the iptables
 * hashlimit match, net/netfilter/xt_hashlimit.c): `burst` tokens when idle,
 * refilled at `ratePerSecond`, one token per admitted packet. Over any
 * interval of length T it admits at most `burst + ratePerSecond * T` packets.
 *
 * Time is injected: `now` is a reading of a monotonic clock (performance.now()
 * in milliseconds by default, or nanoseconds from process.hrtime with
 * `unitsPerSecond: 1e9`); this module never reads a clock itself. A reading
 * earlier than the previous one (a caller mixing clocks) adds no tokens and
 * does not move the bucket's notion of time backwards, so it can never mint
 * credit.
 *
 * Tokens are a double: bursts are exact (whole tokens are subtracted from a
 * whole number), refills carry the usual rounding (~1e-16 relative), far
 * below one token.
 */
import { ConfigError, type ConfigProblem } from '../errors.js';

export interface TokenBucketOptions {
  /** Sustained rate, tokens per second (> 0). */
  readonly ratePerSecond: number;
  /** Bucket depth in tokens (>= 1): the most packets admitted back to back. */
  readonly burst: number;
  /** Clock units per second of `now` (1000 for milliseconds, the default; 1e9 for nanoseconds). */
  readonly unitsPerSecond?: number;
}

/** Checks bucket parameters; every problem at once. */
export function tokenBucketProblems(opts: TokenBucketOptions, prefix = ''): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (!(Number.isFinite(opts.ratePerSecond) && opts.ratePerSecond > 0)) {
    problems.push({ field: `${prefix}ratePerSecond`, value: opts.ratePerSecond, expected: 'a finite number > 0' });
  }
  if (!(Number.isFinite(opts.burst) && opts.burst >= 1)) {
    problems.push({ field: `${prefix}burst`, value: opts.burst, expected: 'a finite number >= 1' });
  }
  const u = opts.unitsPerSecond ?? 1000;
  if (!(Number.isFinite(u) && u > 0)) {
    problems.push({ field: `${prefix}unitsPerSecond`, value: u, expected: 'a finite number > 0' });
  }
  return problems;
}

/**
 * Tokens after `elapsed` clock units at `ratePerUnit`, capped at `burst`.
 * Shared with the per-source table in rate-limiter.ts so both use one formula.
 */
export function refill(tokens: number, elapsed: number, ratePerUnit: number, burst: number): number {
  if (!(elapsed > 0)) return tokens;
  const t = tokens + elapsed * ratePerUnit;
  return t > burst ? burst : t;
}

export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly unitsPerSecond: number;
  private readonly ratePerUnit: number;
  private tokens: number;
  /** Clock reading of the last refill; -Infinity until the first take(), so a fresh bucket is full. */
  private last = Number.NEGATIVE_INFINITY;

  constructor(opts: TokenBucketOptions) {
    const problems = tokenBucketProblems(opts);
    if (problems.length > 0) throw new ConfigError(problems);
    this.ratePerSecond = opts.ratePerSecond;
    this.burst = opts.burst;
    this.unitsPerSecond = opts.unitsPerSecond ?? 1000;
    this.ratePerUnit = this.ratePerSecond / this.unitsPerSecond;
    this.tokens = this.burst;
  }

  /** Takes one token at time `now`: true when the packet is admitted. */
  take(now: number): boolean {
    if (now > this.last) {
      if (this.last !== Number.NEGATIVE_INFINITY) this.tokens = refill(this.tokens, now - this.last, this.ratePerUnit, this.burst);
      this.last = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Tokens that would be available at `now` (for metrics and tests; changes nothing). */
  available(now: number): number {
    if (this.last === Number.NEGATIVE_INFINITY) return this.tokens;
    return refill(this.tokens, now - this.last, this.ratePerUnit, this.burst);
  }
}
