/**
 * Follows one probe packet through a chain of the firewall model: an ICMPv4
 * "fragmentation needed" (type 3 code 4) or an ICMPv6 "packet too big"
 * (type 2), in conntrack state `related` (the state an ICMP error about a
 * tracked flow has, nf_conntrack_proto_icmp.c icmp_error_message).
 *
 * Each match answers yes, no or maybe for the probe. A rule whose matches
 * are all yes decides; one with a maybe never does (it may apply to some
 * such packets only: `ip saddr 10.0.0.0/8 drop` is not ICMP filtering).
 * Interface matches answer `iface`: a rule that drops the probe on eth0 does
 * drop it where it arrives, but one that accepts it on lo only does not let
 * it through on the uplink.
 */
import type { FwChain, FwRule, FirewallModel, Match } from './firewall-model.js';
import { chainKey } from './firewall-model.js';

export interface Probe {
  readonly family: 4 | 6;
  readonly l4: 'icmp' | 'icmpv6';
  readonly type: number;
  readonly code: number;
  readonly name: string;
}

export const FRAG_NEEDED: Probe = { family: 4, l4: 'icmp', type: 3, code: 4, name: 'ICMPv4 fragmentation needed (type 3 code 4)' };
export const PACKET_TOO_BIG: Probe = { family: 6, l4: 'icmpv6', type: 2, code: 0, name: 'ICMPv6 packet too big (type 2)' };
export const PROBES: readonly Probe[] = [FRAG_NEEDED, PACKET_TOO_BIG];

type Answer = 'yes' | 'no' | 'maybe' | 'iface';

function apply(op: '==' | '!=', hit: boolean): Answer {
  return (op === '==') === hit ? 'yes' : 'no';
}

export function matchAnswer(m: Match, p: Probe): Answer {
  switch (m.kind) {
    case 'l4proto':
      return apply(m.op, m.values.includes(p.l4));
    case 'icmp-type':
      // an `icmp type` match carries an implicit "is ICMP of this family" dependency
      if (m.family !== p.family) return 'no';
      return apply(m.op, m.values.includes(p.type));
    case 'icmp-code':
      if (m.family !== p.family) return 'no';
      return apply(m.op, m.values.includes(p.code));
    case 'ct-state':
      return apply(m.op, m.values.includes('related'));
    case 'nfproto':
      return apply(m.op, m.values.includes(p.family === 4 ? 'ipv4' : 'ipv6'));
    case 'iface':
      return 'iface';
    case 'tcp-flags':
      return 'no';
    case 'mark':
    case 'other':
      return 'maybe';
  }
}

/** no if any match says no; else maybe if any says maybe; else iface if an interface is named; else yes. */
export function ruleAnswer(r: FwRule, p: Probe): Answer {
  let out: Answer = 'yes';
  for (const m of r.matches) {
    const a = matchAnswer(m, p);
    if (a === 'no') return 'no';
    if (a === 'maybe') out = 'maybe';
    else if (a === 'iface' && out === 'yes') out = 'iface';
  }
  return out;
}

/** Whether a table of `family` sees packets of the probe's family. */
export function familySees(family: string, p: Probe): boolean {
  if (family === 'inet' || family === 'netdev') return true;
  return family === (p.family === 4 ? 'ip' : 'ip6');
}

export interface Outcome {
  readonly verdict: 'accept' | 'drop' | 'return' | 'none';
  /** The rule that decided, or undefined for a chain policy. */
  readonly rule?: FwRule;
  /** The chain whose policy decided. */
  readonly policyOf?: FwChain;
  /** Jumps taken to reach the deciding rule. */
  readonly via: readonly FwRule[];
  /** A rule accepted the probe on some interfaces only (`-o docker0 --ctstate RELATED -j ACCEPT`) before this outcome. */
  readonly partialAccept?: boolean;
}

/**
 * Runs the probe through `chain` (following jumps, at most `depth` deep).
 * A drop policy reached after an accept limited to some interfaces is not
 * reported: the probe is let through where that accept applies, and which
 * interface it arrives or leaves on is not known here (Docker's FORWARD
 * chain accepts RELATED traffic per bridge, then drops by policy).
 */
export function evaluate(model: FirewallModel, chain: FwChain, p: Probe, depth = 16, via: readonly FwRule[] = []): Outcome {
  let partialAccept = false;
  for (const r of chain.rules) {
    const a = ruleAnswer(r, p);
    if (a === 'no' || a === 'maybe') continue;
    const v = r.verdict;
    if (v.kind === 'accept') {
      if (a === 'yes') return { verdict: 'accept', rule: r, via };
      partialAccept = true; // accepted on some interfaces only
      continue;
    }
    if (v.kind === 'drop' || v.kind === 'reject') return { verdict: 'drop', rule: r, via, partialAccept };
    if (v.kind === 'return') {
      if (a === 'yes') return { verdict: 'return', rule: r, via, partialAccept };
      continue;
    }
    if ((v.kind === 'jump' || v.kind === 'goto') && depth > 0) {
      const target = model.chains.get(chainKey(chain.source, chain.family, chain.table, v.target));
      if (target === undefined) continue;
      const sub = evaluate(model, target, p, depth - 1, [...via, r]);
      if (sub.partialAccept) partialAccept = true;
      if (sub.verdict === 'drop') return { ...sub, partialAccept };
      if (sub.verdict === 'accept') {
        if (a === 'yes') return sub;
        partialAccept = true;
        continue;
      }
      if (v.kind === 'goto' && a === 'yes') return { verdict: 'return', via, partialAccept };
    }
  }
  if (chain.hook !== undefined && chain.policy === 'drop' && !partialAccept) return { verdict: 'drop', policyOf: chain, via };
  return { verdict: 'none', via, partialAccept };
}

/** Hooks on the receive and forward paths (an ICMP error to a local VIP or to a pod behind DNAT). */
export const RECEIVE_HOOKS = new Set(['prerouting', 'input', 'forward', 'ingress']);

/** Base chains on the receive/forward path that see the probe's family. */
export function receiveChains(model: FirewallModel, p: Probe): FwChain[] {
  const out: FwChain[] = [];
  for (const c of model.chains.values()) {
    if (c.hook === undefined || !RECEIVE_HOOKS.has(c.hook) || !familySees(c.family, p)) continue;
    if (c.source === 'iptables' && c.table === 'nat') continue; // nat chains do not filter
    if (c.source === 'nftables' && c.type !== undefined && c.type !== 'filter') continue;
    out.push(c);
  }
  return out;
}
