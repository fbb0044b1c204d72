// A model of a routed path for the pure search and trace: what a probe of a
// given size and TTL gets back, following the order in which Linux checks a
// forwarded packet (ip_forward(): the TTL first, then the MTU of the next link).
//
//   this host ──(start)── hop 1 ──links[0]── hop 2 ──links[1]── ... ── hop N (the target)
import type { ProbeOutcome } from '../../../src/probe/pmtu-search.js';

/** What a router does with a packet too big for its next link. */
export type TooBigBehaviour = 'ptb' | 'drop' | 'mtu-zero' | 'mtu-too-large' | 'bad-checksum';

export interface ModelHop {
  readonly address: string;
  /** MTU of the link behind this hop (towards the target); ignored for the target. */
  readonly mtu: number;
  readonly tooBig: TooBigBehaviour;
  /** Sends no time exceeded. */
  readonly silent?: boolean;
}

export interface PathModel {
  /** The interface MTU of this host. */
  readonly start: number;
  /** Routers then the target (last). */
  readonly hops: readonly ModelHop[];
  /** The target answers probes. Default true. */
  readonly targetAnswers?: boolean;
}

const RTT = 1;

export function simulate(path: PathModel, size: number, ttl: number): ProbeOutcome {
  if (size > path.start) return { kind: 'local-too-big' };
  for (let i = 0; i < path.hops.length; i++) {
    const hop = path.hops[i]!;
    const n = i + 1;
    if (n === path.hops.length) return path.targetAnswers === false ? { kind: 'silence' } : { kind: 'reply', from: hop.address, rttMs: RTT };
    if (ttl <= n) return hop.silent ? { kind: 'silence' } : { kind: 'time-exceeded', from: hop.address, rttMs: RTT };
    if (size > hop.mtu) {
      switch (hop.tooBig) {
        case 'ptb':
          return { kind: 'too-big', from: hop.address, mtu: hop.mtu, rttMs: RTT, valid: true };
        case 'drop':
          return { kind: 'silence' };
        case 'mtu-zero':
          return { kind: 'too-big', from: hop.address, mtu: 0, rttMs: RTT, valid: true };
        case 'mtu-too-large':
          return { kind: 'too-big', from: hop.address, mtu: size, rttMs: RTT, valid: true };
        case 'bad-checksum':
          return { kind: 'too-big', from: hop.address, mtu: hop.mtu, rttMs: RTT, valid: false, reason: 'bad_checksum' };
      }
    }
  }
  return { kind: 'silence' };
}

/** The true path MTU of the model. */
export function truePmtu(path: PathModel): number {
  return Math.min(path.start, ...path.hops.slice(0, -1).map((h) => h.mtu));
}

/** A chain of `routers` routers with the given link MTUs (default all 1500), then the target. */
export function chain(start: number, links: readonly (Partial<ModelHop> & { mtu?: number })[], family: 4 | 6 = 4): PathModel {
  const addr = (n: number): string => (family === 4 ? `192.0.2.${n}` : `2001:db8::${n}`);
  const hops: ModelHop[] = links.map((l, i) => ({ address: addr(i + 1), mtu: l.mtu ?? 1500, tooBig: l.tooBig ?? 'ptb', ...(l.silent ? { silent: true } : {}) }));
  hops.push({ address: family === 4 ? '198.51.100.2' : '2001:db8:d::2', mtu: 65535, tooBig: 'ptb' });
  return { start, hops };
}
