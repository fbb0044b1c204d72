/**
 * The relay's per-packet decision: one captured IP packet in, one Decision
 * out, pure and synchronous (the clock and the capture interface arrive in
 * `meta`; all memory is in RelayState). The I/O part (NFLOG reader, senders,
 * metrics) calls it for each packet and acts on the result.
 *
 * Order, cheapest and most certain first:
 *   1. decode      decodeTooBig() (src/wire/too-big-decode.ts)  → reject
 *   2. validate    the policy of validate.ts                    → reject
 *   3. loop        the packet is a replica: the capture layer marked it
 *                  (`fromPeer`: TUN ingress, a peer's source MAC, broadcast
 *                  destination), or its outer source is a peer's address
 *                  (the `ip` transport re-originates from the peer) → loop
 *   4. dedup       same flow and MTU relayed within the window  → duplicate
 *   5. rate limit  per source, then per interface              → rate_limited
 * A message the rate limiter refuses is taken back out of the dedup table,
 * so the table only remembers what was actually relayed.
 *
 * Cost per packet: decode plus a few dozen typed-array reads. Decoding goes
 * into the state's reused storage (TooBigDecoder), and rejections, loops,
 * duplicates and rate limits allocate nothing here (shared frozen Decisions;
 * dedup and the limiter are typed-array tables). Only a relayed message
 * allocates its small Decision object. Its text key for logs (tooBigKey()) is
 * left to the caller, which builds it only when it logs: under a flood with
 * the limits raised, a string per message was the largest cost in here.
 */
import { TooBigDecoder } from '../wire/too-big-decode.js';
import type { TooBig } from '../wire/too-big.js';
import { Dedup, DEDUP_DEFAULTS, type DedupStats } from './dedup.js';
import { PrefixSet } from './prefix-set.js';
import type { Prefix } from '../wire/ip-prefix.js';
import { RATE_LIMIT, RATE_LIMIT_DEFAULTS, RateLimiter, type RateLimit, type RateLimiterStats } from './rate-limiter.js';
import { Policy, REJECT_REASONS, validate, type RejectReason } from './validate.js';

/**
 * What to do with one packet. A 'relay' decision's tooBig lives in the
 * state's reused decoder storage: it is valid until the next decide() with
 * the same state (copy what must outlive that).
 */
export type Decision =
  | { readonly kind: 'relay'; readonly tooBig: TooBig }
  | { readonly kind: 'reject'; readonly reason: RejectReason }
  | { readonly kind: 'rate_limited'; readonly limit: RateLimit }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'loop' };

export type DecisionKind = Decision['kind'];
export const DECISION_KINDS = ['relay', 'reject', 'rate_limited', 'duplicate', 'loop'] as const satisfies readonly DecisionKind[];

/** Per-packet inputs; decide() does not keep the object, so a caller may reuse one and overwrite its fields. */
export interface PacketMeta {
  /** Interface the packet was captured on (NFULA_IFINDEX_INDEV). */
  readonly ifindex: number;
  /** Monotonic clock reading, in RelayState's clock units. */
  readonly now: number;
  /** The capture layer recognised the packet as a replica from a peer. */
  readonly fromPeer?: boolean;
}

/** Plain counters per outcome, for the I/O part to export (pathguard_relay_*). */
export interface RelayCounters {
  /** Messages decided 'relay'. Relayed is what the transport then delivered, counted by the data plane. */
  accepted: number;
  duplicate: number;
  loop: number;
  readonly rateLimited: Record<RateLimit, number>;
  readonly rejected: Record<RejectReason, number>;
}

export interface RelayStateOptions {
  readonly vipNetworks?: readonly Prefix[];
  readonly ignoreNetworks?: readonly Prefix[];
  readonly ports?: readonly number[];
  /** Peer node addresses (4 or 16 bytes each); see setPeers(). */
  readonly peers?: readonly Uint8Array[];
  /** This node's addresses; see setLocalAddresses(). */
  readonly localAddresses?: readonly Uint8Array[];
  readonly srcRate?: number;
  readonly srcBurst?: number;
  readonly ifaceRate?: number;
  readonly ifaceBurst?: number;
  readonly maxSources?: number;
  /** Dedup window in milliseconds (0 disables dedup). */
  readonly dedupWindow?: number;
  readonly dedupMaxEntries?: number;
  /** Units per second of `meta.now`: 1000 (performance.now(), the default) or 1e9 (hrtime nanoseconds). */
  readonly unitsPerSecond?: number;
  /** Fixed secret for the table hashes (keyed-hash.ts; tests, benchmarks); random by default. */
  readonly hashKey?: Uint32Array;
}

function zeroCounters(): RelayCounters {
  return {
    accepted: 0,
    duplicate: 0,
    loop: 0,
    rateLimited: Object.fromEntries(RATE_LIMIT.map((r) => [r, 0])) as Record<RateLimit, number>,
    rejected: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>,
  };
}

/** Everything decide() remembers between packets. One per data-plane thread. */
export class RelayState {
  readonly policy: Policy;
  readonly limiter: RateLimiter;
  readonly dedup: Dedup;
  readonly counters: RelayCounters = zeroCounters();
  /** Decodes into reused storage: no allocation per packet (see Decision). */
  readonly decoder = new TooBigDecoder();
  private peerSet: PrefixSet;

  constructor(opts: RelayStateOptions = {}) {
    const unitsPerSecond = opts.unitsPerSecond ?? 1000;
    this.policy = new Policy({
      vipNetworks: opts.vipNetworks ?? [],
      ignoreNetworks: opts.ignoreNetworks ?? [],
      ports: opts.ports ?? [],
      localAddresses: opts.localAddresses ?? [],
    });
    this.limiter = new RateLimiter({
      srcRate: opts.srcRate ?? RATE_LIMIT_DEFAULTS.srcRate,
      srcBurst: opts.srcBurst ?? RATE_LIMIT_DEFAULTS.srcBurst,
      ifaceRate: opts.ifaceRate ?? RATE_LIMIT_DEFAULTS.ifaceRate,
      ifaceBurst: opts.ifaceBurst ?? RATE_LIMIT_DEFAULTS.ifaceBurst,
      maxSources: opts.maxSources ?? RATE_LIMIT_DEFAULTS.maxSources,
      unitsPerSecond,
      ...(opts.hashKey ? { hashKey: opts.hashKey } : {}),
    });
    this.dedup = new Dedup({
      window: ((opts.dedupWindow ?? DEDUP_DEFAULTS.windowMs) * unitsPerSecond) / 1000,
      maxEntries: opts.dedupMaxEntries ?? DEDUP_DEFAULTS.maxEntries,
      ...(opts.hashKey ? { hashKey: opts.hashKey } : {}),
    });
    this.peerSet = PrefixSet.ofAddresses(opts.peers ?? []);
  }

  /** Replaces the peer address set (static list, or Kubernetes Node objects as they change). */
  setPeers(addresses: readonly Uint8Array[]): void {
    this.peerSet = PrefixSet.ofAddresses(addresses);
  }

  /** Replaces this node's local addresses (from rtnetlink). */
  setLocalAddresses(addresses: readonly Uint8Array[]): void {
    this.policy.setLocalAddresses(addresses);
  }

  isPeer(address: Uint8Array): boolean {
    return this.peerSet.has(address);
  }

  /** Internal table sizes and pressure, for gauges. */
  get tables(): { readonly limiter: RateLimiterStats; readonly dedup: DedupStats } {
    return { limiter: this.limiter.stats, dedup: this.dedup.stats };
  }
}

const REJECT = Object.freeze(
  Object.fromEntries(REJECT_REASONS.map((reason) => [reason, Object.freeze({ kind: 'reject', reason })])),
) as Readonly<Record<RejectReason, Decision>>;
const RATE_LIMITED = Object.freeze(
  Object.fromEntries(RATE_LIMIT.map((limit) => [limit, Object.freeze({ kind: 'rate_limited', limit })])),
) as Readonly<Record<RateLimit, Decision>>;
const DUPLICATE: Decision = Object.freeze({ kind: 'duplicate' });
const LOOP: Decision = Object.freeze({ kind: 'loop' });

/** Decides what to do with one captured IP packet (starting at the IP header). Never throws. */
export function decide(packet: Uint8Array, meta: PacketMeta, state: RelayState): Decision {
  const c = state.counters;
  const decoded = state.decoder.decode(packet);
  if (!decoded.ok) {
    c.rejected[decoded.reason]++;
    return REJECT[decoded.reason];
  }
  const tb = decoded.value;
  const bad = validate(tb, state.policy);
  if (bad !== undefined) {
    c.rejected[bad]++;
    return REJECT[bad];
  }
  if (meta.fromPeer === true || state.isPeer(tb.outerSrc)) {
    c.loop++;
    return LOOP;
  }
  if (state.dedup.seen(tb.flow, tb.mtu, meta.now)) {
    c.duplicate++;
    return DUPLICATE;
  }
  const limited = state.limiter.check(tb.outerSrc, meta.ifindex, meta.now);
  if (limited !== 'ok') {
    state.dedup.forget(tb.flow, tb.mtu);
    c.rateLimited[limited]++;
    return RATE_LIMITED[limited];
  }
  c.accepted++;
  return { kind: 'relay', tooBig: tb };
}
