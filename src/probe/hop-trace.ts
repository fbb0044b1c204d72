/**
 * Localisation by TTL as a pure state machine (the second half of the method
 * described in pmtu-search.ts). For each TTL from 1 it asks for a small probe
 * and, until the narrow link is found, a probe of the smallest size that
 * failed during the search. It stops when the small probe reaches the target,
 * after `maxHops`, or after `gapLimit` hops in a row that never answered.
 *
 * Hops are numbered as traceroute numbers them: the router that answers a
 * probe sent with TTL n is hop n.
 */
import type { ProbeOutcome } from './pmtu-search.js';

export interface TraceOptions {
  readonly small: number;
  /** The smallest size that failed; undefined when nothing failed (then only small probes are sent). */
  readonly large?: number;
  /** Default 30, as traceroute. */
  readonly maxHops?: number;
  /** Hops in a row with no answer before giving up; default 5. */
  readonly gapLimit?: number;
}

/** What one TTL got back. */
export interface TraceHop {
  readonly ttl: number;
  readonly small: ProbeOutcome;
  /** Absent when no large probe was sent at this TTL. */
  readonly large?: ProbeOutcome;
}

export interface TraceState {
  readonly small: number;
  readonly large?: number;
  readonly maxHops: number;
  readonly gapLimit: number;
  readonly hops: readonly TraceHop[];
  /** The small probe of the TTL in progress, waiting for its large one. */
  readonly pendingSmall?: ProbeOutcome;
  /** First TTL whose small probe got past while the large one did not. */
  readonly firstFailTtl?: number;
  readonly reachedTarget: boolean;
}

export function startTrace(opts: TraceOptions): TraceState {
  const base = { small: opts.small, maxHops: opts.maxHops ?? 30, gapLimit: opts.gapLimit ?? 5, hops: [], reachedTarget: false };
  return opts.large === undefined ? base : { ...base, large: opts.large };
}

export type TraceNext = { readonly done: false; readonly ttl: number; readonly size: number } | { readonly done: true };

/** An outcome that proves the probe got as far as the hop its TTL names (or to the target). */
export function reached(o: ProbeOutcome): boolean {
  return o.kind === 'time-exceeded' || o.kind === 'reply';
}

function answered(o: ProbeOutcome): boolean {
  return o.kind !== 'silence' && o.kind !== 'local-too-big';
}

export function nextTraceProbe(t: TraceState): TraceNext {
  const ttl = t.hops.length + 1;
  if (t.pendingSmall !== undefined) return { done: false, ttl, size: t.large! };
  if (t.reachedTarget || ttl > t.maxHops) return { done: true };
  // a run of silent hops: the path ends or the rest filters ICMP
  const tail = t.hops.slice(-t.gapLimit);
  if (tail.length === t.gapLimit && tail.every((h) => !answered(h.small) && (h.large === undefined || !answered(h.large)))) return { done: true };
  return { done: false, ttl, size: t.small };
}

/** Feeds the outcome of the probe nextTraceProbe() asked for. */
export function applyTraceOutcome(t: TraceState, outcome: ProbeOutcome): TraceState {
  const ttl = t.hops.length + 1;
  const wantLarge = t.large !== undefined && t.firstFailTtl === undefined;
  if (t.pendingSmall === undefined && wantLarge) {
    return { ...t, pendingSmall: outcome };
  }
  const small = t.pendingSmall ?? outcome;
  const hop: TraceHop = t.pendingSmall !== undefined ? { ttl, small, large: outcome } : { ttl, small };
  let firstFailTtl = t.firstFailTtl;
  if (firstFailTtl === undefined && hop.large !== undefined && reached(small) && !reached(hop.large)) firstFailTtl = ttl;
  const next: TraceState = { small: t.small, maxHops: t.maxHops, gapLimit: t.gapLimit, hops: [...t.hops, hop], reachedTarget: small.kind === 'reply' };
  const withLarge = t.large === undefined ? next : { ...next, large: t.large };
  return firstFailTtl === undefined ? withLarge : { ...withLarge, firstFailTtl };
}
