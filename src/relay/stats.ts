/**
 * The data plane's counters, in shared memory. The worker thread that
 * receives, decides and sends writes plain numbers into a Float64Array over a
 * SharedArrayBuffer; the main thread reads them when Prometheus scrapes and
 * when /healthz asks whether the capture loop is alive. No message crosses
 * the thread boundary per packet, and a scrape never waits for the worker.
 *
 * Each slot has one writer (the worker), so no atomics are needed for
 * correctness of a single value; a scrape may see counters from slightly
 * different instants, which Prometheus tolerates.
 */
import { RATE_LIMIT, type RateLimit } from './rate-limiter.js';
import { REJECT_REASONS, type RejectReason } from './validate.js';
import { RELAY_DATAGRAM_REJECT } from '../wire/relay-datagram.js';
import { TOO_BIG_REJECT } from '../wire/too-big.js';

/** Why a replica arriving over the udp transport was refused. */
export const REPLICA_REJECT = [
  ...RELAY_DATAGRAM_REJECT,
  'unknown_peer', // the datagram's source is not a configured peer
  'bad_hmac',
  'stale', // its timestamp is outside the allowed clock skew
  'not_too_big', // the carried packet is not a valid too-big message
] as const;
export type ReplicaReject = (typeof REPLICA_REJECT)[number];

/** Upper bounds (µs) of the relay latency histogram: NFLOG receipt → replica handed to the kernel. */
export const LATENCY_BUCKETS_US = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000] as const;

/** Most peers whose send errors are counted individually (the rest share the last slot). */
export const MAX_PEER_SLOTS = 256;

const SCALARS = [
  'received', // packets read from NFLOG
  'relayed', // messages of which at least one replica was handed to the kernel
  'dry_run', // --dry-run: messages that would have been relayed
  'duplicate',
  'loop',
  'replicas_sent', // frames/datagrams the kernel accepted
  'send_errors',
  'nflog_overruns', // ENOBUFS: the kernel dropped log messages
  'heartbeat_ms', // Date.now() of the loop's last turn
  'loop_turns',
  'latency_sum_us',
  'latency_count',
  'replicas_received', // udp transport: datagrams read
  'replicas_injected', // written into the TUN device
  'inject_errors',
  'peers',
  'internal_errors', // unexpected errors the data plane survived (bugs, not bad packets)
  'nflog_qthresh', // messages the kernel gathers per NFLOG datagram (queue-threshold.ts)
] as const;
export type Scalar = (typeof SCALARS)[number];

const OFFSETS = (() => {
  let at = 0;
  const scalar = {} as Record<Scalar, number>;
  for (const s of SCALARS) scalar[s] = at++;
  const rejected = {} as Record<RejectReason, number>;
  for (const r of REJECT_REASONS) rejected[r] = at++;
  const rateLimited = {} as Record<RateLimit, number>;
  for (const r of RATE_LIMIT) rateLimited[r] = at++;
  const replicaRejected = {} as Record<ReplicaReject, number>;
  for (const r of REPLICA_REJECT) replicaRejected[r] = at++;
  const latency = at;
  at += LATENCY_BUCKETS_US.length + 1; // + the +Inf bucket
  const peerErrors = at;
  at += MAX_PEER_SLOTS;
  return { scalar, rejected, rateLimited, replicaRejected, latency, peerErrors, size: at };
})();

export class RelayStats implements StatsReader {
  readonly buffer: SharedArrayBuffer;
  private readonly v: Float64Array;

  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(OFFSETS.size * 8);
    this.v = new Float64Array(this.buffer);
  }

  add(s: Scalar, n = 1): void {
    this.v[OFFSETS.scalar[s]]! += n;
  }

  set(s: Scalar, value: number): void {
    this.v[OFFSETS.scalar[s]] = value;
  }

  get(s: Scalar): number {
    return this.v[OFFSETS.scalar[s]]!;
  }

  reject(r: RejectReason, n = 1): void {
    this.v[OFFSETS.rejected[r]]! += n;
  }

  rejected(r: RejectReason): number {
    return this.v[OFFSETS.rejected[r]]!;
  }

  rateLimit(r: RateLimit, n = 1): void {
    this.v[OFFSETS.rateLimited[r]]! += n;
  }

  rateLimited(r: RateLimit): number {
    return this.v[OFFSETS.rateLimited[r]]!;
  }

  replicaReject(r: ReplicaReject): void {
    this.v[OFFSETS.replicaRejected[r]]! += 1;
  }

  replicaRejected(r: ReplicaReject): number {
    return this.v[OFFSETS.replicaRejected[r]]!;
  }

  /** Records `count` messages that each took `us` microseconds. */
  latency(us: number, count = 1): void {
    let i = 0;
    while (i < LATENCY_BUCKETS_US.length && us > LATENCY_BUCKETS_US[i]!) i++;
    this.v[OFFSETS.latency + i]! += count;
    this.v[OFFSETS.scalar.latency_sum_us]! += us * count;
    this.v[OFFSETS.scalar.latency_count]! += count;
  }

  /** Non-cumulative count in bucket i (i === LATENCY_BUCKETS_US.length is +Inf). */
  latencyBucket(i: number): number {
    return this.v[OFFSETS.latency + i]!;
  }

  peerError(peerIndex: number): void {
    this.v[OFFSETS.peerErrors + Math.min(peerIndex, MAX_PEER_SLOTS - 1)]! += 1;
  }

  peerErrors(peerIndex: number): number {
    return this.v[OFFSETS.peerErrors + Math.min(peerIndex, MAX_PEER_SLOTS - 1)]!;
  }

  /** Quantile estimate from the histogram (upper bound of the bucket holding it), for benches and logs. */
  latencyQuantile(q: number): number | undefined {
    const total = this.get('latency_count');
    if (total === 0) return undefined;
    let seen = 0;
    for (let i = 0; i <= LATENCY_BUCKETS_US.length; i++) {
      seen += this.latencyBucket(i);
      if (seen >= q * total) return i < LATENCY_BUCKETS_US.length ? LATENCY_BUCKETS_US[i]! : Infinity;
    }
    return Infinity;
  }
}

/** What metrics and health read from the counters: one worker's RelayStats, or all workers' together. */
export interface StatsReader {
  get(s: Scalar): number;
  rejected(r: RejectReason): number;
  rateLimited(r: RateLimit): number;
  replicaRejected(r: ReplicaReject): number;
  latencyBucket(i: number): number;
  peerErrors(peerIndex: number): number;
}

/**
 * Several data-plane workers' counters read as one: counters add up; the
 * heartbeat is the oldest one (the relay is alive only if every worker
 * turns), the queue threshold the largest, the peer count any one's.
 */
export class CombinedStats implements StatsReader {
  constructor(private readonly parts: readonly RelayStats[]) {
    if (parts.length === 0) throw new RangeError('CombinedStats needs at least one RelayStats');
  }

  get(s: Scalar): number {
    const values = this.parts.map((p) => p.get(s));
    if (s === 'heartbeat_ms') return Math.min(...values);
    if (s === 'nflog_qthresh' || s === 'peers') return Math.max(...values);
    return sum(values);
  }

  rejected(r: RejectReason): number {
    return sum(this.parts.map((p) => p.rejected(r)));
  }

  rateLimited(r: RateLimit): number {
    return sum(this.parts.map((p) => p.rateLimited(r)));
  }

  replicaRejected(r: ReplicaReject): number {
    return sum(this.parts.map((p) => p.replicaRejected(r)));
  }

  latencyBucket(i: number): number {
    return sum(this.parts.map((p) => p.latencyBucket(i)));
  }

  peerErrors(peerIndex: number): number {
    return sum(this.parts.map((p) => p.peerErrors(peerIndex)));
  }
}

function sum(xs: readonly number[]): number {
  let t = 0;
  for (const x of xs) t += x;
  return t;
}

export { SCALARS as RELAY_SCALARS, TOO_BIG_REJECT };
