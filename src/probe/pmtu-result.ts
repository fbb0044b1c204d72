/**
 * The result of `probe pmtu`: one record per hop with a small set of notes
 * (as scamper and tracepath keep them), the path MTU, the verdict and the hop
 * responsible; built by one pure function from the search and the trace, and
 * rendered as text or JSON from the same object.
 *
 * Notes:
 *   ptb      the hop sent a valid too-big message (PMTUD works through it)
 *   ptb-bad  the hop sent a too-big message that cannot be used (bad checksum
 *            or quote, MTU 0, below the minimum, or not below the probe size)
 *   silence  the hop does not pass the larger probes and sent no too-big
 *            message: a PMTUD black hole (or the ICMP was filtered on its way back)
 */
import type { ProbeOutcome, SearchState } from './pmtu-search.js';
import { searchBlackHole, searchPmtu, tooBigProblem } from './pmtu-search.js';
import { reached, type TraceState } from './hop-trace.js';

export const VERDICTS = ['ok', 'black-hole', 'unreachable'] as const;
export type Verdict = (typeof VERDICTS)[number];
export type HopNote = 'ptb' | 'ptb-bad' | 'silence';
export const PROBE_PROTOCOLS = ['udp', 'tcp', 'icmp'] as const;
export type ProbeProtocol = (typeof PROBE_PROTOCOLS)[number];

export interface HopResult {
  readonly ttl: number;
  /** Absent when the hop never answered. */
  readonly address?: string;
  /** Round-trip time of the small probe, in milliseconds. */
  readonly rttMs?: number;
  /** The largest probe seen to get as far as this hop. */
  readonly passed?: number;
  readonly note?: HopNote;
  /** True for the target itself. */
  readonly target: boolean;
}

export interface TooBigSeen {
  readonly from: string;
  readonly mtu: number;
  /** Size of the probe it answered. */
  readonly size: number;
  /** Why it is of no use; absent for a valid one. */
  readonly problem?: string;
  /** The hop it belongs to (by its source address), when that hop answered the trace. */
  readonly ttl?: number;
}

export interface PmtuMeta {
  readonly target: string;
  readonly family: 4 | 6;
  readonly proto: ProbeProtocol;
  /** Destination port of UDP and TCP probes. */
  readonly port?: number;
  readonly source: string;
  readonly interface: string;
  readonly interfaceMtu: number;
  readonly probes: number;
  readonly elapsedMs: number;
  /** Set when the overall time bound cut the run short. */
  readonly incomplete?: string;
}

export interface HopRef {
  readonly ttl: number;
  readonly address?: string;
}

export interface PmtuResult extends PmtuMeta {
  /** The largest packet that gets through; absent when the target never answered. */
  readonly pmtu?: number;
  readonly verdict: Verdict;
  /** The hop responsible for a black hole or where the path ends; absent when ok. */
  readonly hop?: HopRef;
  /** The hop in front of the narrowest link, when the path MTU is below the interface MTU. */
  readonly bottleneck?: HopRef & { readonly note?: HopNote };
  /**
   * Present when hops that never answer stand between the last hop seen to
   * receive the large probe (`first`) and the first TTL it did not reach:
   * the narrow link is behind one of hops first..last, and `hop` is the last.
   */
  readonly hopRange?: { readonly first: number; readonly last: number };
  /** One sentence saying what was found. */
  readonly summary: string;
  readonly hops: readonly HopResult[];
  readonly tooBig: readonly TooBigSeen[];
}

function ownAddress(o: ProbeOutcome): string | undefined {
  return o.kind === 'time-exceeded' || o.kind === 'reply' || o.kind === 'unreachable' ? o.from : undefined;
}

interface MutableHop {
  ttl: number;
  address?: string;
  rttMs?: number;
  passed?: number;
  note?: HopNote;
  target: boolean;
}

function collectTooBig(family: 4 | 6, size: number, o: ProbeOutcome, out: TooBigSeen[]): void {
  if (o.kind !== 'too-big') return;
  const problem = tooBigProblem(family, size, o.mtu, o.valid, o.reason);
  out.push(problem === undefined ? { from: o.from, mtu: o.mtu, size } : { from: o.from, mtu: o.mtu, size, problem });
}

/** Builds the result; pure. */
export function buildPmtuResult(meta: PmtuMeta, search: SearchState, trace: TraceState | undefined): PmtuResult {
  const pmtu = searchPmtu(search);
  const hops: MutableHop[] = [];
  const tooBig: TooBigSeen[] = [];
  for (const st of search.steps) collectTooBig(meta.family, st.size, st.outcome, tooBig);

  for (const h of trace?.hops ?? []) {
    const hop: MutableHop = { ttl: h.ttl, target: h.small.kind === 'reply' || h.large?.kind === 'reply' };
    // The address of hop n is whoever answered a probe sent with TTL n from there: a time
    // exceeded, the target's reply, or an unreachable. Never a too-big message: it comes from the
    // hop in front of the narrow link, whatever the TTL of the probe it answered.
    const addr = ownAddress(h.small) ?? (h.large !== undefined && reached(h.large) ? ownAddress(h.large) : undefined);
    if (addr !== undefined) hop.address = addr;
    if (reached(h.small) && 'rttMs' in h.small) hop.rttMs = h.small.rttMs;
    if (reached(h.small)) hop.passed = trace!.small;
    if (h.large !== undefined && reached(h.large)) hop.passed = Math.max(hop.passed ?? 0, trace!.large!);
    collectTooBig(meta.family, h.small.kind === 'too-big' ? trace!.small : 0, h.small, tooBig);
    if (h.large !== undefined) collectTooBig(meta.family, trace!.large!, h.large, tooBig);
    hops.push(hop);
  }
  const target = hops.find((h) => h.target);
  // packets of the path MTU reached the target, so they went through every hop in front of it
  if (target && pmtu !== undefined) for (const h of hops) if (h.ttl <= target.ttl && h.address !== undefined) h.passed = Math.max(h.passed ?? 0, pmtu);
  const failTtl = trace?.firstFailTtl;
  // the last TTL below failTtl whose large probe was seen to get there (0: this host)
  let lastPassed = 0;
  if (failTtl !== undefined) for (const h of trace!.hops) if (h.ttl < failTtl && h.large !== undefined && reached(h.large)) lastPassed = h.ttl;
  // A router that sends too-big messages but no time exceeded: when exactly one hop in front of the
  // narrow link never answered and exactly one too-big sender matches no hop, they are the same.
  if (failTtl !== undefined) {
    const known = new Set(hops.map((h) => h.address));
    const strangers = new Set(tooBig.filter((t) => !known.has(t.from)).map((t) => t.from));
    const unnamed = hops.filter((h) => h.ttl >= Math.max(1, lastPassed) && h.ttl < failTtl && h.address === undefined);
    if (strangers.size === 1 && unnamed.length === 1) unnamed[0]!.address = [...strangers][0]!;
  }
  const placed: TooBigSeen[] = tooBig.map((t) => {
    const hop = hops.find((h) => h.address === t.from);
    if (hop === undefined) return t;
    if (t.problem === undefined) hop.note = 'ptb';
    else if (hop.note !== 'ptb') hop.note = 'ptb-bad';
    return { ...t, ttl: hop.ttl };
  });

  const ref = (ttl: number): HopRef & { note?: HopNote } => {
    if (ttl === 0) return { ttl: 0, address: meta.source };
    const h = hops.find((x) => x.ttl === ttl);
    const out: { ttl: number; address?: string; note?: HopNote } = { ttl };
    if (h?.address !== undefined) out.address = h.address;
    if (h?.note !== undefined) out.note = h.note;
    return out;
  };
  const where = (r: HopRef): string => (r.ttl === 0 ? `this host (${meta.source}, ${meta.interface})` : `hop ${r.ttl} (${r.address ?? 'no answer'})`);

  let verdict: Verdict;
  let hop: HopRef | undefined;
  let bottleneck: (HopRef & { note?: HopNote }) | undefined;
  let summary: string;
  // The narrow link is behind one of hops lastPassed..failTtl-1. A too-big message from one of
  // them names it; otherwise, when hops in between never answer, only the range is known.
  let narrowTtl: number | undefined;
  let hopRange: { first: number; last: number } | undefined;
  if (failTtl !== undefined) {
    // the answers to the large probe itself first: a wider link in front may have answered larger ones
    const inRange = placed.filter((t) => t.ttl !== undefined && t.ttl >= lastPassed && t.ttl <= failTtl - 1);
    const sender = inRange.find((t) => t.size === trace!.large) ?? inRange[0];
    narrowTtl = sender?.ttl ?? failTtl - 1;
    if (sender === undefined && lastPassed < failTtl - 1) hopRange = { first: lastPassed, last: failTtl - 1 };
  }
  const rangeText = hopRange
    ? `; ${hopRange.first + 1 === hopRange.last ? `hop ${hopRange.last} does` : `hops ${hopRange.first + 1}..${hopRange.last} do`} not answer, so the narrow link is behind one of hops ${hopRange.first}..${hopRange.last}`
    : '';

  if (pmtu === undefined) {
    verdict = 'unreachable';
    const last = [...hops].reverse().find((h) => h.address !== undefined && reached(trace!.hops[h.ttl - 1]!.small));
    if (last) hop = { ttl: last.ttl, address: last.address! };
    summary = last
      ? `the target does not answer ${meta.proto} probes; the last hop to answer is ${where(last)}`
      : `the target does not answer ${meta.proto} probes and no hop answered either`;
  } else {
    if (pmtu < search.start) {
      const validFrom = placed.find((t) => t.problem === undefined && t.ttl !== undefined);
      if (narrowTtl !== undefined) bottleneck = ref(narrowTtl);
      else if (validFrom !== undefined) bottleneck = ref(validFrom.ttl!);
    }
    if (searchBlackHole(search)) {
      verdict = 'black-hole';
      if (bottleneck !== undefined) {
        if (bottleneck.ttl > 0) {
          const h = hops.find((x) => x.ttl === bottleneck!.ttl);
          if (h !== undefined && h.note === undefined) h.note = 'silence';
          bottleneck = ref(bottleneck.ttl);
        }
        hop = { ttl: bottleneck.ttl, ...(bottleneck.address !== undefined ? { address: bottleneck.address } : {}) };
        const why =
          bottleneck.note === 'ptb-bad'
            ? 'sends too-big messages that cannot be used'
            : bottleneck.note === 'ptb'
              ? 'sends too-big messages, yet larger packets still vanish'
              : 'sends no too-big message that arrives here';
        summary = `PMTUD black hole: ${where(bottleneck)} does not pass packets larger than ${pmtu} bytes and ${why}${rangeText}`;
      } else {
        summary = `PMTUD black hole: packets larger than ${pmtu} bytes vanish without a too-big message; no hop could be named (the hops do not answer time-exceeded)`;
      }
    } else {
      verdict = 'ok';
      summary =
        pmtu < search.start
          ? `path MTU ${pmtu}: ${bottleneck ? where(bottleneck) : 'a hop'} sends valid too-big messages for larger packets${rangeText}`
          : `path MTU ${pmtu}, as large as the interface allows: no narrower link on the way`;
    }
  }
  if (meta.incomplete !== undefined) summary += ` (incomplete: ${meta.incomplete})`;

  const result: PmtuResult = {
    ...meta,
    ...(pmtu !== undefined ? { pmtu } : {}),
    verdict,
    ...(hop !== undefined ? { hop } : {}),
    ...(bottleneck !== undefined ? { bottleneck } : {}),
    ...(bottleneck !== undefined && hopRange !== undefined ? { hopRange } : {}),
    summary,
    hops: hops.map((h) => ({ ...h })),
    tooBig: placed,
  };
  return result;
}

/** Exit status: 0 ok, 1 black hole or no answer. */
export function pmtuExitCode(r: PmtuResult): 0 | 1 {
  return r.verdict === 'ok' ? 0 : 1;
}

function ms(v: number | undefined): string {
  return v === undefined ? '*' : `${v < 10 ? v.toFixed(3) : v.toFixed(1)} ms`;
}

export function renderPmtuText(r: PmtuResult): string {
  const port = r.port !== undefined ? ` port ${r.port}` : '';
  const lines = [`probe pmtu ${r.target}: ${r.proto}${port} from ${r.source} via ${r.interface} (mtu ${r.interfaceMtu})`, ''];
  const rows = [['hop', 'address', 'rtt', 'passed', 'note']];
  for (const h of r.hops) {
    rows.push([
      String(h.ttl),
      `${h.address ?? '*'}${h.target ? ' (target)' : ''}`,
      ms(h.rttMs),
      h.passed === undefined ? '-' : String(h.passed),
      h.note ?? '',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) lines.push(`  ${row.map((c, i) => (i === 0 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')}`.trimEnd());
  // one line per sender and MTU: a router that answers every size would otherwise fill the screen
  const groups = new Map<string, TooBigSeen[]>();
  for (const t of r.tooBig) {
    const key = `${t.from}|${t.problem === undefined ? `ok ${t.mtu}` : t.problem.replace(/\d+/g, 'N')}`;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  for (const g of groups.values()) {
    const t = g[0]!;
    const who = t.ttl !== undefined ? `hop ${t.ttl} (${t.from})` : t.from;
    const sizes = g.map((x) => x.size);
    const lo = Math.min(...sizes);
    const hi = Math.max(...sizes);
    const mtus = g.map((x) => x.mtu);
    const mtu = Math.min(...mtus) === Math.max(...mtus) ? `${t.mtu}` : `${Math.min(...mtus)}-${Math.max(...mtus)}`;
    const what = g.length === 1 ? `a ${lo}-byte probe` : `${g.length} probes of ${lo === hi ? lo : `${lo}-${hi}`} bytes`;
    const problem = t.problem === undefined ? '' : `, not usable: ${g.length === 1 ? t.problem : t.problem.replace(/MTU \d+/, 'MTU').replace(/the \d+-byte probe/, 'the probe')}`;
    lines.push(`  too-big from ${who}: mtu ${mtu} for ${what}${problem}`);
  }
  lines.push('');
  lines.push(`path MTU: ${r.pmtu ?? 'unknown'}`);
  lines.push(`verdict:  ${r.verdict}${r.hop ? ` at hop ${r.hop.ttl} (${r.hop.ttl === 0 ? `this host, ${r.interface}` : (r.hop.address ?? 'no answer')})` : ''}`);
  lines.push(r.summary);
  lines.push(`${r.probes} probes in ${(r.elapsedMs / 1000).toFixed(1)} s`);
  return lines.join('\n');
}

export function renderPmtuJson(r: PmtuResult): string {
  return JSON.stringify(r, null, 2);
}
