/**
 * One `pathguard trace` run: picks BPF or the tracefs fallback, streams
 * events to the output until the duration, the event budget or the abort
 * signal ends it, then detaches everything and returns what happened.
 */
import type { FlowFilter } from './filter.js';
import { describeFilter } from './filter.js';
import { BpfTracer, bpfUnavailable, type BpfObjectIds } from './bpf-tracer.js';
import { loadKallsyms } from './kallsyms.js';
import { Clock, Summary, Timeline, renderJson, renderText } from './timeline.js';
import type { TraceEvent } from './event.js';
import { TracefsTracer } from './tracefs-fallback.js';

export interface TraceRunOptions {
  readonly filter: FlowFilter;
  readonly json: boolean;
  readonly summary: boolean;
  readonly durationMs?: number;
  readonly maxEvents?: number;
  /** Skip BPF and use tracefs alone (--no-bpf). */
  readonly noBpf: boolean;
  readonly signal: AbortSignal;
  readonly out: (line: string) => void;
  readonly note: (line: string) => void;
  /** Called once everything is attached (the --ready-file). */
  readonly onReady?: (info: { mode: 'bpf' | 'tracefs'; ids?: BpfObjectIds }) => Promise<void> | void;
}

export interface TraceRunResult {
  readonly mode: 'bpf' | 'tracefs';
  /** Why BPF was not used (tracefs mode). */
  readonly whyNotBpf?: string;
  readonly events: number;
  readonly lost: number;
  readonly ids?: BpfObjectIds;
}

function waitForEnd(signal: AbortSignal, durationMs: number | undefined, reached: Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = durationMs !== undefined ? setTimeout(done, durationMs) : undefined;
    function done(): void {
      if (timer) clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    if (signal.aborted) return done();
    signal.addEventListener('abort', done);
    void reached.then(done);
  });
}

export async function runTrace(o: TraceRunOptions): Promise<TraceRunResult> {
  let whyNotBpf: string | undefined = o.noBpf ? 'BPF was turned off with --no-bpf' : bpfUnavailable();
  const symbols = loadKallsyms();
  let tracer: BpfTracer | undefined;
  if (!whyNotBpf) {
    try {
      tracer = new BpfTracer({ filter: o.filter, symbolize: (a) => symbols.symbolize(a) });
    } catch (err) {
      const e = err as { code?: string; errnoName?: string; message: string };
      // the kernel said no to BPF as such: fall back; a refused program is a bug to report, not to hide
      if (e.code === 'PG_UNSUPPORTED' || e.errnoName === 'EPERM' || e.errnoName === 'ENOSYS') whyNotBpf = e.message;
      else throw err;
    }
  }
  if (!tracer) return runFallback(o, whyNotBpf ?? 'unknown');

  const clock = new Clock();
  const timeline = new Timeline();
  const summary = new Summary();
  let events = 0;
  let reachMax: () => void = () => undefined;
  const reached = new Promise<void>((r) => (reachMax = r));
  const onEvent = (e: TraceEvent): void => {
    if (o.maxEvents !== undefined && events >= o.maxEvents) return;
    events++;
    const packet = timeline.assign(e);
    summary.add(e);
    o.out(o.json ? JSON.stringify(renderJson(e, packet, clock)) : renderText(e, packet, clock));
    if (o.maxEvents !== undefined && events >= o.maxEvents) reachMax();
  };
  let lost = 0;
  try {
    if (!o.json) o.note(`tracing ${describeFilter(o.filter)} with BPF on ${tracer.ids.progs.length} tracepoints (Ctrl-C to stop)`);
    tracer.start(onEvent);
    await o.onReady?.({ mode: 'bpf', ids: tracer.ids });
    await waitForEnd(o.signal, o.durationMs, reached);
    tracer.drain(onEvent);
  } finally {
    lost = tracer.lost();
    tracer.close();
    if (lost > 0) o.note(`${lost} events were lost (the ring buffer was full)`);
    if (o.summary) {
      if (o.json) o.out(JSON.stringify({ event: 'summary', drops: summary.rows(), counts: Object.fromEntries(summary.byEvent), lost }));
      else o.out(summary.renderText(`drops of ${describeFilter(o.filter)} by reason and location:`));
    }
  }
  return { mode: 'bpf', events, lost, ids: tracer.ids };

  async function runFallback(opts: TraceRunOptions, why: string): Promise<TraceRunResult> {
    opts.note(`BPF not used: ${why}`);
    opts.note(
      'falling back to tracefs: UNFILTERED, host-wide drop counts (skb:kfree_skb joined with icmp:icmp_send); ' +
        'the flow filter does not apply; drops an ICMP error was sent for are printed, all drops are counted at exit',
    );
    const fb = new TracefsTracer();
    const fbSummary = new Summary();
    const fbClock = new Clock();
    let n = 0;
    let reachFb: () => void = () => undefined;
    const reachedFb = new Promise<void>((r) => (reachFb = r));
    try {
      fb.start((e) => {
        if (opts.maxEvents !== undefined && n >= opts.maxEvents) return;
        n++;
        fbSummary.add(e);
        // host-wide drops are too many to print: only those an ICMP error was sent for, the rest is counted
        if (e.icmp) {
          if (opts.json) opts.out(JSON.stringify({ ...renderJson(e, 0, fbClock), unfiltered: true }));
          else opts.out(fallbackLine(e, fbClock));
        }
        if (opts.maxEvents !== undefined && n >= opts.maxEvents) reachFb();
      });
      await opts.onReady?.({ mode: 'tracefs' });
      await waitForEnd(opts.signal, opts.durationMs, reachedFb);
      await fb.drain();
    } finally {
      await fb.close();
    }
    if (fb.lostEvents > 0) opts.note(`${fb.lostEvents} tracefs events were lost (overwritten before they were read)`);
    if (opts.json) opts.out(JSON.stringify({ event: 'summary', unfiltered: true, drops: fbSummary.rows(), counts: Object.fromEntries(fbSummary.byEvent), lost: fb.lostEvents }));
    else opts.out(fbSummary.renderText('UNFILTERED host-wide drops by reason and location (tracefs):'));
    return { mode: 'tracefs', whyNotBpf: why, events: n, lost: fb.lostEvents };
  }
}

function fallbackLine(e: TraceEvent, clock: Clock): string {
  const time = clock.iso(e.monoNs).slice(11, 26);
  const icmp = e.icmp ? `  ICMP type ${e.icmp.type} code ${e.icmp.code} sent for it` : '';
  return `[unfiltered] ${time} drop ${e.reason} at ${e.location ?? '?'} skb 0x${e.skb.toString(16)}${icmp}`;
}
