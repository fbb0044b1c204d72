/**
 * The BPF side of `pathguard trace`: reads the kernel's BTF, creates the
 * maps, loads one program per hook, attaches them to raw tracepoints, and
 * hands decoded events to the caller until close(). close() releases every
 * program, link and map (they live only as long as their file descriptors),
 * and is safe to call twice.
 */
import { readFileSync, existsSync } from 'node:fs';
import { assemble } from '../wire/bpf-insn.js';
import { decodeBtf } from '../wire/btf.js';
import { BPF_MAP_TYPE, BPF_PROG_TYPE, mapCreate, mapLookup, objId, progLoad, rawTracepointOpen } from '../sys/bpf.js';
import { CAP, hasCapability } from '../sys/capabilities.js';
import { close as closeFd } from '../sys/libc.js';
import { BpfRingBuffer } from '../net/bpf-ring-buffer.js';
import { dropReasons, fib6Layout, fibLayout, kernelLayout, type DropReasons, type KernelLayout } from './kernel-layout.js';
import { buildFib6Program, buildFibProgram, buildHookProgram, FIB6_HOOK, FIB_HOOK, HOOKS, type HookSpec } from './program.js';
import { decodeEventRecord, type Symbolize, type TraceEvent } from './event.js';
import type { FlowFilter } from './filter.js';

export const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';

/** Why BPF cannot be used here, or undefined when it looks usable (the kernel still has the last word). */
export function bpfUnavailable(btfPath = VMLINUX_BTF): string | undefined {
  const bpf = hasCapability(CAP.BPF);
  const admin = hasCapability(CAP.SYS_ADMIN);
  if (admin === false && bpf === false) return 'the process has neither CAP_BPF nor CAP_SYS_ADMIN';
  if (admin === false && hasCapability(CAP.PERFMON) === false) return 'the process has CAP_BPF but not CAP_PERFMON (needed for tracing programs)';
  if (!existsSync(btfPath)) return `the kernel publishes no BTF at ${btfPath} (CONFIG_DEBUG_INFO_BTF is off)`;
  try {
    const lockdown = readFileSync('/sys/kernel/security/lockdown', 'utf8');
    if (/\[confidentiality\]/.test(lockdown)) return 'the kernel is locked down (confidentiality), which forbids reading kernel memory from BPF';
  } catch {
    // no securityfs or no lockdown LSM: nothing locked down
  }
  return undefined;
}

export interface BpfTracerOptions {
  readonly filter: FlowFilter;
  readonly symbolize: Symbolize;
  /** Ring buffer bytes (power of two); default 8 MiB, about 40,000 events. */
  readonly ringBytes?: number;
  readonly btfPath?: string;
  /** Hooks to attach; default all. */
  readonly hooks?: readonly HookSpec[];
  /** Also trace FIB lookups (default: yes; IPv4 when the filter can match IPv4, IPv6 when it can match IPv6). */
  readonly fib?: boolean;
}

/** Kernel ids of what the tracer loaded, so tests can check that nothing is left. */
export interface BpfObjectIds {
  readonly progs: readonly number[];
  readonly maps: readonly number[];
  readonly links: readonly number[];
}

export class BpfTracer {
  readonly layout: KernelLayout;
  readonly reasons: DropReasons;
  readonly ids: BpfObjectIds;
  /** Which families' FIB lookups are traced. */
  readonly fib: readonly (4 | 6)[];
  private readonly ring: BpfRingBuffer;
  private readonly fds: number[] = []; // links first, then programs, then maps: closed in this order
  /** The programs' descriptors (for run-time statistics: objGetInfo). */
  readonly progFds: readonly number[];
  private readonly lostFd: number;
  private readonly symbolize: Symbolize;
  private closed = false;

  constructor(opts: BpfTracerOptions) {
    const btf = decodeBtf(new Uint8Array(readFileSync(opts.btfPath ?? VMLINUX_BTF)));
    this.layout = kernelLayout(btf);
    this.reasons = dropReasons(btf);
    this.symbolize = opts.symbolize;
    const mapFds: number[] = [];
    const progFds: number[] = [];
    const linkFds: number[] = [];
    const mapIds: number[] = [];
    const progIds: number[] = [];
    const linkIds: number[] = [];
    let ring: BpfRingBuffer | undefined;
    try {
      ring = new BpfRingBuffer(opts.ringBytes ?? 8 << 20, 'pg_trace_ev');
      mapIds.push(objId(ring.fd));
      const followed = mapCreate({ type: BPF_MAP_TYPE.LRU_HASH, keySize: 8, valueSize: 8, maxEntries: 16384, name: 'pg_trace_skb' });
      mapFds.push(followed);
      mapIds.push(objId(followed));
      const lost = mapCreate({ type: BPF_MAP_TYPE.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, name: 'pg_trace_lost' });
      mapFds.push(lost);
      mapIds.push(objId(lost));
      this.lostFd = lost;
      const maps = { events: ring.fd, followed, lost };
      const wantFib = opts.fib ?? true;
      const fib = wantFib && opts.filter.family !== 6 ? fibLayout(btf) : undefined;
      const fib6 = wantFib && opts.filter.family !== 4 ? fib6Layout(btf) : undefined;
      const programs: { tracepoint: string; insns: Uint8Array }[] = (opts.hooks ?? HOOKS).map((hook) => ({
        tracepoint: hook.tracepoint,
        insns: assemble(buildHookProgram(hook, opts.filter, this.layout, maps)),
      }));
      if (fib) programs.push({ tracepoint: FIB_HOOK.tracepoint, insns: assemble(buildFibProgram(opts.filter, this.layout, fib, maps)) });
      if (fib6) programs.push({ tracepoint: FIB6_HOOK.tracepoint, insns: assemble(buildFib6Program(opts.filter, this.layout, fib6, maps)) });
      this.fib = [...(fib ? [4 as const] : []), ...(fib6 ? [6 as const] : [])];
      for (const hook of programs) {
        const insns = hook.insns;
        const prog = progLoad({ type: BPF_PROG_TYPE.RAW_TRACEPOINT, insns, license: 'GPL', name: `pg_${hook.tracepoint}` });
        progFds.push(prog);
        progIds.push(objId(prog));
        const link = rawTracepointOpen(hook.tracepoint, prog);
        linkFds.push(link);
        linkIds.push(objId(link));
      }
    } catch (err) {
      for (const fd of [...linkFds, ...progFds, ...mapFds]) closeFd(fd);
      ring?.close();
      throw err;
    }
    this.ring = ring;
    this.fds.push(...linkFds, ...progFds, ...mapFds);
    this.progFds = progFds;
    this.ids = { progs: progIds, maps: mapIds, links: linkIds };
  }

  /**
   * Delivers events on the event loop, every `intervalMs` (the programs do
   * not wake the reader; 10 ms at 60,000 events/s is 600 records, far below
   * what the ring holds).
   */
  start(onEvent: (e: TraceEvent) => void, intervalMs = 10): void {
    this.ring.poll(intervalMs, () => this.drain(onEvent));
  }

  /** Reads what is waiting now; returns how many events. */
  drain(onEvent: (e: TraceEvent) => void): number {
    return this.ring.drain((rec) => {
      const e = decodeEventRecord(rec, this.reasons, this.symbolize);
      if (e) onEvent(e);
    });
  }

  /** Events the ring buffer had no room for. */
  lost(): number {
    if (this.closed) return 0;
    const v = new Uint8Array(8);
    if (!mapLookup(this.lostFd, new Uint8Array(4), v)) return 0;
    return Number(new DataView(v.buffer).getBigUint64(0, true));
  }

  /** Detaches every program and frees every map. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.fds) closeFd(fd);
    this.ring.close();
  }
}
