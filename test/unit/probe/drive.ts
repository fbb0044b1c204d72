// Runs the pure search and trace against a PathModel, as pmtu-run.ts runs them against the network.
import { applySearchOutcome, localiseSize, nextSearchProbe, startSearch, type SearchState } from '../../../src/probe/pmtu-search.js';
import { applyTraceOutcome, nextTraceProbe, startTrace, type TraceState } from '../../../src/probe/hop-trace.js';
import { buildPmtuResult, type PmtuResult } from '../../../src/probe/pmtu-result.js';
import { simulate, type PathModel } from './path-model.js';

export interface Driven {
  readonly search: SearchState;
  readonly trace: TraceState;
  readonly result: PmtuResult;
  /** Sizes the search probed, in order. */
  readonly sizes: number[];
  /** (ttl, size) the trace probed, in order. */
  readonly traced: [number, number][];
}

export function drive(path: PathModel, family: 4 | 6 = 4): Driven {
  let search = startSearch({ family, start: path.start });
  const sizes: number[] = [];
  for (let n = nextSearchProbe(search); !n.done; n = nextSearchProbe(search)) {
    if (sizes.length > 200) throw new Error(`search does not end: ${sizes.join(' ')}`);
    sizes.push(n.size);
    search = applySearchOutcome(search, n.size, simulate(path, n.size, 64));
  }
  const large = localiseSize(search);
  let trace = startTrace({ small: search.small, ...(large !== undefined ? { large } : {}) });
  const traced: [number, number][] = [];
  for (let n = nextTraceProbe(trace); !n.done; n = nextTraceProbe(trace)) {
    if (traced.length > 200) throw new Error('trace does not end');
    traced.push([n.ttl, n.size]);
    trace = applyTraceOutcome(trace, simulate(path, n.size, n.ttl));
  }
  const result = buildPmtuResult(
    { target: path.hops.at(-1)!.address, family, proto: 'udp', port: 33434, source: family === 4 ? '192.0.2.100' : '2001:db8::100', interface: 'eth0', interfaceMtu: path.start, probes: sizes.length + traced.length, elapsedMs: 0 },
    search,
    trace,
  );
  return { search, trace, result, sizes, traced };
}
