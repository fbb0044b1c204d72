/**
 * The path-MTU search as a pure state machine: it is given the outcome of
 * each probe and answers with the next probe to send (size and TTL) or
 * "done". No I/O, no clock: pmtu-run.ts sends what it asks for and feeds the
 * outcomes back, so every decision can be table-tested.
 *
 * Method (after scamper's PMTUD and RFC 4821 / RFC 8899 §5):
 *
 * 1. Search, with a TTL large enough to reach the target. The first probe has
 *    the size of the outgoing interface's MTU. A valid too-big message is
 *    trusted as RFC 1191 / RFC 8201 trust it: nothing larger than its MTU
 *    passes that router, so the next probe has exactly that size. Silence, or
 *    a too-big message with a useless MTU, only says that this size failed:
 *    then a small probe checks that the target answers at all, and the search
 *    walks down a table of common MTUs and finishes with a binary search
 *    between the largest size that passed and the smallest that failed.
 * 2. Localise, TTL by TTL from 1: a small probe and, while the failing hop is
 *    not found yet, a probe of the smallest size that failed. The router that
 *    answers a probe sent with TTL n is hop n; the first n whose small probe
 *    reaches hop n while the large one does not means the link in front of
 *    hop n (behind hop n-1) is the narrow one, so hop n-1 is the router that
 *    should have sent a too-big message.
 *
 * Sizes are whole IP packets (header included), as MTUs are.
 */
import { MIN_MTU } from '../relay/validate.js';

export type Family = 4 | 6;

/**
 * Common link MTUs, largest first: jumbo and FDDI/POS sizes, Ethernet 1500,
 * PPPoE 1492, IPv4-in-IPv4/GRE/VXLAN/WireGuard overheads below it, the IPv6
 * minimum 1280, and the old IPv4 plateaus of RFC 1191 §7.
 */
export const MTU_TABLE = [
  9000, 8192, 4470, 4352, 2002, 1500, 1492, 1480, 1476, 1460, 1450, 1440, 1420, 1400, 1380, 1360, 1280, 1006, 576, 552, 508, 296, 128, 68,
] as const;

/** Size of the small probes: reaches every IPv4 and IPv6 path that works at all. */
export const SMALL_PROBE = 128;

/** What one probe (after its retries) came back with. */
export type ProbeOutcome =
  /** The target answered (port unreachable, echo reply, SYN-ACK or RST from the target). */
  | { readonly kind: 'reply'; readonly from: string; readonly rttMs: number }
  /** A hop answered with time exceeded (TTL / hop limit reached zero there). */
  | { readonly kind: 'time-exceeded'; readonly from: string; readonly rttMs: number }
  /**
   * A too-big message quoting this probe. `mtu` as carried; `valid` false when
   * the message itself did not validate (checksum, quote), `reason` says why.
   */
  | { readonly kind: 'too-big'; readonly from: string; readonly mtu: number; readonly rttMs: number; readonly valid: boolean; readonly reason?: string }
  /** Another destination-unreachable (administratively prohibited, no route, ...). */
  | { readonly kind: 'unreachable'; readonly from: string; readonly code: number; readonly rttMs: number }
  /** The local stack refused the size (EMSGSIZE): the first link is narrower. */
  | { readonly kind: 'local-too-big' }
  | { readonly kind: 'silence' };

/** Why a too-big message is of no use, or undefined when it is a valid one for a probe of `size`. */
export function tooBigProblem(family: Family, size: number, mtu: number, valid: boolean, reason?: string): string | undefined {
  if (!valid) return reason ?? 'does not validate';
  if (mtu === 0) return 'carries no MTU (a pre-RFC 1191 router)';
  if (mtu < MIN_MTU[family]) return `MTU ${mtu} is below the IPv${family} minimum ${MIN_MTU[family]}`;
  if (mtu >= size) return `MTU ${mtu} is not smaller than the ${size}-byte probe`;
  return undefined;
}

export interface SearchOptions {
  readonly family: Family;
  /** The MTU of the outgoing interface: the first size probed. */
  readonly start: number;
  /** Size of the reachability probe (default SMALL_PROBE, at most start). */
  readonly small?: number;
}

/** One probe of the search and what came back. */
export interface SearchStep {
  readonly size: number;
  readonly outcome: ProbeOutcome;
  /** For a too-big message: why it was not used, when it was not. */
  readonly problem?: string;
}

export interface SearchState {
  readonly family: Family;
  readonly start: number;
  readonly small: number;
  /** Largest size known to pass; undefined until one did. */
  readonly lo?: number;
  /** Smallest size known to fail (start + 1 until one did). */
  readonly hi: number;
  /** The next size a valid too-big message asked for. */
  readonly told?: number;
  /** True once the small probe was sent (or a larger one passed). */
  readonly reachabilityChecked: boolean;
  /** The target never answered the small probe. */
  readonly unreachable: boolean;
  readonly steps: readonly SearchStep[];
}

export function startSearch(opts: SearchOptions): SearchState {
  if (!Number.isInteger(opts.start) || opts.start < MIN_MTU[opts.family] || opts.start > 65535) {
    throw new RangeError(`start size ${opts.start} is outside ${MIN_MTU[opts.family]}..65535`);
  }
  const small = Math.min(opts.small ?? SMALL_PROBE, opts.start);
  return { family: opts.family, start: opts.start, small, hi: opts.start + 1, reachabilityChecked: false, unreachable: false, steps: [] };
}

export type SearchNext = { readonly done: false; readonly size: number } | { readonly done: true };

/** The next size to probe, or done. */
export function nextSearchProbe(s: SearchState): SearchNext {
  if (s.unreachable) return { done: true };
  if (s.steps.length === 0) return { done: false, size: s.start };
  const lo = s.lo;
  if (lo === undefined) {
    // Nothing passed yet: a valid too-big message is followed first, then the small probe.
    if (s.told !== undefined && s.told < s.hi && s.told > s.small) return { done: false, size: s.told };
    if (!s.reachabilityChecked) return { done: false, size: s.small };
    return { done: true };
  }
  if (s.hi - lo <= 1) return { done: true };
  if (s.told !== undefined && s.told > lo && s.told < s.hi) return { done: false, size: s.told };
  for (const t of MTU_TABLE) if (t > lo && t < s.hi) return { done: false, size: t };
  return { done: false, size: Math.floor((lo + s.hi) / 2) };
}

/** Feeds the outcome of a probe of `size` into the search. */
export function applySearchOutcome(s: SearchState, size: number, outcome: ProbeOutcome): SearchState {
  const isSmall = size <= s.small;
  let problem: string | undefined;
  let { lo, hi, told, reachabilityChecked, unreachable } = s;
  if (isSmall) reachabilityChecked = true;
  switch (outcome.kind) {
    case 'reply':
      lo = Math.max(lo ?? 0, size);
      reachabilityChecked = true;
      if (hi <= lo) hi = lo + 1; // a path that changed under us: the newest answer wins
      break;
    case 'too-big': {
      problem = tooBigProblem(s.family, size, outcome.mtu, outcome.valid, outcome.reason);
      hi = Math.min(hi, size);
      if (problem === undefined) {
        // RFC 1191 §3 / RFC 8201 §4: nothing above the reported MTU gets through that router.
        hi = Math.min(hi, outcome.mtu + 1);
        told = outcome.mtu;
      }
      if (isSmall) unreachable = true;
      break;
    }
    case 'local-too-big':
      hi = Math.min(hi, size);
      if (isSmall) unreachable = true;
      break;
    case 'time-exceeded':
    case 'unreachable':
    case 'silence':
      hi = Math.min(hi, size);
      if (isSmall) unreachable = true;
      break;
  }
  if (lo !== undefined && hi <= lo) hi = lo + 1;
  const step: SearchStep = problem === undefined ? { size, outcome } : { size, outcome, problem };
  const next: SearchState = { ...s, hi, reachabilityChecked, unreachable, steps: [...s.steps, step] };
  const withLo = lo === undefined ? next : { ...next, lo };
  return told === undefined ? withLo : { ...withLo, told };
}

/** The path MTU the search found: the largest size that passed. */
export function searchPmtu(s: SearchState): number | undefined {
  return s.lo;
}

/** True when some size above the path MTU failed without a valid too-big message: real connections stall there. */
export function searchBlackHole(s: SearchState): boolean {
  const pmtu = s.lo;
  if (pmtu === undefined) return false;
  return s.steps.some((st) => st.size > pmtu && !(st.outcome.kind === 'too-big' && st.problem === undefined) && st.outcome.kind !== 'local-too-big');
}

/**
 * The size the localisation should try to get past each hop: for a black
 * hole the smallest size that vanished (or got an unusable too-big), so the
 * hop named is the one that swallows packets, even when a narrower link
 * further on does send too-big messages; otherwise the smallest size that
 * failed at all, which names the hop in front of the narrowest link.
 * Undefined when nothing failed or nothing passed.
 */
export function localiseSize(s: SearchState): number | undefined {
  const pmtu = s.lo;
  if (pmtu === undefined || s.hi > s.start) return undefined;
  let silent: number | undefined;
  for (const st of s.steps) {
    const usable = st.outcome.kind === 'too-big' && st.problem === undefined;
    if (st.size > pmtu && !usable && st.outcome.kind !== 'local-too-big' && (silent === undefined || st.size < silent)) silent = st.size;
  }
  return silent ?? s.hi;
}
