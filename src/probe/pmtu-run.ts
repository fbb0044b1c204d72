/**
 * `probe pmtu`: runs the search and the localisation (pmtu-search.ts,
 * hop-trace.ts) over a Prober and builds the result. The overall time bound
 * stops the run between probes; what was learned until then is reported,
 * marked incomplete.
 */
import { performance } from 'node:perf_hooks';
import { formatAddress } from '../wire/ip-address.js';
import { applySearchOutcome, localiseSize, nextSearchProbe, startSearch, SMALL_PROBE, type ProbeOutcome, type SearchState } from './pmtu-search.js';
import { applyTraceOutcome, nextTraceProbe, startTrace, type TraceState } from './hop-trace.js';
import { buildPmtuResult, type PmtuResult, type ProbeProtocol } from './pmtu-result.js';
import { minimumProbeSize } from './probe-packet.js';
import { Prober, routeInfo } from './prober.js';

/** TTL of the search probes: far enough for any path (net.ipv4.ip_default_ttl). */
const SEARCH_TTL = 64;

export interface PmtuOptions {
  readonly target: Uint8Array;
  readonly proto: ProbeProtocol;
  readonly port: number;
  readonly attempts: number;
  readonly waitMs: number;
  /** Overall bound on the run. */
  readonly timeoutMs: number;
  readonly maxHops: number;
  /** Progress lines (one per probe result) for --verbose; default none. */
  readonly onProbe?: (line: string) => void;
}

export async function runPmtu(opts: PmtuOptions): Promise<PmtuResult> {
  const started = performance.now();
  const family = opts.target.byteLength === 16 ? 6 : 4;
  const route = await routeInfo(opts.target);
  const prober = Prober.open({
    family,
    proto: opts.proto,
    src: route.source,
    dst: opts.target,
    port: opts.port,
    attempts: opts.attempts,
    waitMs: opts.waitMs,
  });
  let incomplete: string | undefined;
  const outOfTime = (): boolean => {
    if (performance.now() - started < opts.timeoutMs) return false;
    incomplete ??= `stopped by the ${opts.timeoutMs / 1000} s time bound`;
    return true;
  };
  const say = opts.onProbe ?? (() => undefined);
  let search: SearchState;
  let trace: TraceState | undefined;
  try {
    // lo has an MTU of 65536; an IP packet ends at 65535
    search = startSearch({ family, start: Math.min(route.mtu, 65535), small: Math.max(SMALL_PROBE, minimumProbeSize(family, opts.proto)) });
    for (let next = nextSearchProbe(search); !next.done && !outOfTime(); next = nextSearchProbe(search)) {
      const outcome = await prober.probe(next.size, SEARCH_TTL);
      say(`search size ${next.size}: ${describe(outcome)}`);
      search = applySearchOutcome(search, next.size, outcome);
    }
    const large = localiseSize(search);
    trace = startTrace({ small: search.small, ...(large !== undefined ? { large } : {}), maxHops: opts.maxHops });
    for (let next = nextTraceProbe(trace); !next.done && !outOfTime(); next = nextTraceProbe(trace)) {
      const outcome = await prober.probe(next.size, next.ttl);
      say(`trace ttl ${next.ttl} size ${next.size}: ${describe(outcome)}`);
      trace = applyTraceOutcome(trace, outcome);
    }
  } finally {
    prober.close();
  }
  return buildPmtuResult(
    {
      target: formatAddress(opts.target),
      family,
      proto: opts.proto,
      ...(opts.proto === 'icmp' ? {} : { port: opts.port }),
      source: formatAddress(route.source),
      interface: route.interface,
      interfaceMtu: route.mtu,
      probes: prober.sent,
      elapsedMs: Math.round(performance.now() - started),
      ...(incomplete !== undefined ? { incomplete } : {}),
    },
    search,
    trace,
  );
}

/** One line per probe for --verbose. */
function describe(o: ProbeOutcome): string {
  switch (o.kind) {
    case 'silence':
      return 'silence';
    case 'local-too-big':
      return 'refused locally (EMSGSIZE)';
    case 'too-big':
      return `too-big mtu ${o.mtu} from ${o.from}${o.valid ? '' : ` (invalid: ${o.reason})`}`;
    case 'unreachable':
      return `unreachable code ${o.code} from ${o.from}`;
    default:
      return `${o.kind} from ${o.from} in ${o.rttMs} ms`;
  }
}
