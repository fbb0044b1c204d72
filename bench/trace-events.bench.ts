/**
 * `pathguard trace` under load: how many events a second the tracer
 * delivers to user space, what it costs in CPU, and what its programs cost
 * the kernel per run, for traffic it reports and traffic it filters out.
 *
 *   node dist/bench/trace-events.bench.js [--seconds 3]
 *
 * Lab: the integration tests' router lab (client C — router R — server S,
 * veth pairs). The tracer runs in this process exactly as `pathguard trace
 * --json` does (BpfTracer → decode → packet numbering → JSON line), except
 * that the lines are counted instead of written. The kernel's run time
 * statistics (BPF_ENABLE_STATS; run_cnt and run_time_ns of struct
 * bpf_prog_info, offsets from BTF) are on for the whole run.
 *
 * Phases, each --seconds long, one after the other:
 *   other-flow flood   ping -f C → 203.0.113.2 while tracing dst 203.0.113.1:
 *                      every packet runs the programs, none matches
 *   1,000 pkt/s        UDP datagrams C → S:9000 paced at 1,000 a second (the
 *                      acceptance rate; S has no socket there: NO_SOCKET drops)
 *   traced flood       ping -f of the traced flow: the ceiling
 * For each: packets sent (ping's own count), events delivered, events/s,
 * lost (ring buffer full), tracer CPU (process.cpuUsage, user+system, as a
 * share of one core), the tracer's CPU per event, and the programs' mean
 * ns per run (all four programs, matching or not).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeBtf, BTF_KIND } from '../src/wire/btf.js';
import { enableRunTimeStats, objGetInfo } from '../src/sys/bpf.js';
import { close } from '../src/sys/libc.js';
import { BpfTracer } from '../src/trace/bpf-tracer.js';
import { parseFilter } from '../src/trace/filter.js';
import { loadKallsyms } from '../src/trace/kallsyms.js';
import { Clock, Timeline, renderJson } from '../src/trace/timeline.js';
import { labUnavailable, withLab, type Netns } from '../test/harness/netns.js';
import { S4, routerLab } from '../test/integration/trace/helpers/trace-lab.js';

const why = labUnavailable();
if (why) {
  console.log(`skipped: ${why}`);
  process.exit(0);
}
const secondsArg = process.argv.indexOf('--seconds');
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 3;

const btf = decodeBtf(new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux')));
const info = btf.find(BTF_KIND.STRUCT, 'bpf_prog_info')!;
const RUN_TIME = btf.member(info, ['run_time_ns'])!.bitOffset / 8;
const RUN_CNT = btf.member(info, ['run_cnt'])!.bitOffset / 8;
const INFO_LEN = info.size;

function progStats(fds: readonly number[]): { runs: bigint; ns: bigint } {
  let runs = 0n;
  let ns = 0n;
  for (const fd of fds) {
    const b = new Uint8Array(INFO_LEN);
    objGetInfo(fd, b);
    const v = new DataView(b.buffer);
    runs += v.getBigUint64(RUN_CNT, true);
    ns += v.getBigUint64(RUN_TIME, true);
  }
  return { runs, ns };
}

const PACER = fileURLToPath(new URL('../test/integration/trace/helpers/udp-pacer.js', import.meta.url));

async function send(ns: Netns, args: string[]): Promise<number> {
  if (args[0] === 'pacer') {
    const r = await ns.exec(process.execPath, [PACER, ...args.slice(1)], { timeoutMs: (SECONDS + 10) * 1000 });
    return (JSON.parse(r.stdout) as { sent: number }).sent;
  }
  const r = await ns.exec('ping', ['-q', ...args], { timeoutMs: (SECONDS + 10) * 1000 }).catch((e: Error) => ({ stdout: e.message }));
  return Number(/(\d+) packets transmitted/.exec(r.stdout)?.[1] ?? NaN);
}

await withLab('trbench', async (lab) => {
  const { c } = await routerLab(lab);
  const symbols = loadKallsyms();
  const statsFd = enableRunTimeStats();
  const tracer = new BpfTracer({ filter: parseFilter({ dst: S4 }), symbolize: (a) => symbols.symbolize(a) });
  const progFds = tracer.progFds;
  const clock = new Clock();
  const timeline = new Timeline();
  let events = 0;
  let bytes = 0;
  tracer.start((e) => {
    events++;
    bytes += JSON.stringify(renderJson(e, timeline.assign(e), clock)).length + 1;
  });
  console.log(`tracer: ${tracer.ids.progs.length} programs; ${SECONDS} s per phase; kernel ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()}`);
  console.log('phase                 packets  events   events/s   lost  tracer CPU  µs CPU/event  ns/run (runs)');
  const phases: [string, string[]][] = [
    ['other-flow flood', ['-f', '-w', String(SECONDS), '203.0.113.2']],
    ['1,000 pkt/s traced', ['pacer', S4, '9000', '1000', String(1000 * SECONDS)]],
    ['traced flood', ['-f', '-w', String(SECONDS), S4]],
  ];
  try {
    for (const [name, args] of phases) {
      const e0 = events;
      const lost0 = tracer.lost();
      const s0 = progStats(progFds);
      const cpu0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const sent = await send(c, args);
      await new Promise((r) => setTimeout(r, 200)); // the last events of the phase
      tracer.drain((e) => {
        events++;
        bytes += JSON.stringify(renderJson(e, timeline.assign(e), clock)).length + 1;
      });
      const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = process.cpuUsage(cpu0);
      const s1 = progStats(progFds);
      const n = events - e0;
      const runs = s1.runs - s0.runs;
      const nsPerRun = runs > 0n ? Number(s1.ns - s0.ns) / Number(runs) : NaN;
      console.log(
        `${name.padEnd(20)} ${String(sent).padStart(8)} ${String(n).padStart(7)} ${String(Math.round(n / wallS)).padStart(10)} ${String(tracer.lost() - lost0).padStart(6)}  ${(((cpu.user + cpu.system) / 1e6 / wallS) * 100).toFixed(1).padStart(8)} %  ${(n ? (cpu.user + cpu.system) / n : NaN).toFixed(1).padStart(12)}  ${nsPerRun.toFixed(0).padStart(6)} (${runs})`,
      );
    }
    console.log(`JSON output that would have been written: ${(bytes / 1e6).toFixed(1)} MB`);
  } finally {
    tracer.close();
    close(statsFd);
  }
});
