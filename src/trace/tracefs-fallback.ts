/**
 * The tracer without BPF: the skb:kfree_skb and icmp:icmp_send tracepoints
 * through tracefs, in a private trace instance (instances/pathguard-PID-N,
 * so the global trace buffer and other users' settings stay untouched),
 * with the monotonic trace clock. Unfiltered and host-wide: tracefs event
 * filters cannot follow a flow through the packet's bytes. An ICMP error is
 * joined to the drop of the same skb (icmp_send fires in ip_forward just
 * before the packet is freed with PKT_TOO_BIG). IPv4 only for the ICMP side:
 * icmp:icmp_send has no IPv6 twin.
 *
 * Only the drops an ICMP error was sent for are reported one by one (the
 * PMTU case); every drop counts in the summary by reason and location.
 *
 * Lines look like (the print fmt of each event's format file):
 *   <idle>-0 [001] ..s1. 1234.567890: kfree_skb: skbaddr=00000000c3a1f6e2 rx_sk=0000000000000000 protocol=2048 location=ip_forward+0x1a4/0x5d0 reason: PKT_TOO_BIG
 *   <idle>-0 [001] ..s1. 1234.567880: icmp_send: icmp_send: type=3, code=4. From 198.51.100.1:40000 to 203.0.113.9:9 ulen=1480 skbaddr=00000000c3a1f6e2
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UnsupportedError } from '../errors.js';
import type { TraceEvent } from './event.js';

export const TRACEFS = '/sys/kernel/tracing';

export interface ParsedTraceLine {
  readonly cpu: number;
  readonly monoNs: bigint;
  readonly event: string;
  readonly body: string;
}

/**
 * Splits one trace_pipe line; undefined for lines that are not events (lost-event notes).
 * Index-based rather than one regular expression: host-wide drops arrive by
 * the hundred thousand a second under load.
 */
export function parseTraceLine(line: string): ParsedTraceLine | undefined {
  const open = line.indexOf('[');
  const close = line.indexOf(']', open);
  if (open < 0 || close < 0) return undefined;
  const cpu = Number(line.slice(open + 1, close));
  // "  flags  1011.461881: event: body"
  const colon = line.indexOf(': ', close);
  if (colon < 0) return undefined;
  const tsStart = line.lastIndexOf(' ', colon) + 1;
  const ts = line.slice(tsStart, colon);
  const dot = ts.indexOf('.');
  const evEnd = line.indexOf(': ', colon + 2);
  if (dot < 0 || evEnd < 0 || !Number.isInteger(cpu)) return undefined;
  const secs = ts.slice(0, dot);
  const frac = ts.slice(dot + 1).padEnd(9, '0').slice(0, 9);
  if (!/^\d+$/.test(secs) || !/^\d+$/.test(frac)) return undefined;
  return { cpu, monoNs: BigInt(secs) * 1_000_000_000n + BigInt(frac), event: line.slice(colon + 2, evEnd), body: line.slice(evEnd + 2) };
}

export interface IcmpSendLine {
  readonly skb: bigint;
  readonly type: number;
  readonly code: number;
  readonly src: string;
  readonly dst: string;
}

export function parseIcmpSend(body: string): IcmpSendLine | undefined {
  const m = /type=(\d+), code=(\d+)\. From ([\d.]+):\d+ to ([\d.]+):\d+ .*skbaddr=([0-9a-f]+)/.exec(body);
  if (!m) return undefined;
  return { type: Number(m[1]), code: Number(m[2]), src: m[3]!, dst: m[4]!, skb: BigInt(`0x${m[5]}`) };
}

export interface KfreeSkbLine {
  readonly skb: bigint;
  readonly protocol: number;
  readonly location: string;
  readonly reason: string;
}

export function parseKfreeSkb(body: string): KfreeSkbLine | undefined {
  const m = /skbaddr=([0-9a-f]+) .*protocol=(\d+) location=(\S+) reason: (\S+)/.exec(body);
  if (!m) return undefined;
  // %pS prints function+offset/size; keep function+offset, as the BPF path symbolises
  return { skb: BigInt(`0x${m[1]}`), protocol: Number(m[2]), location: m[3]!.replace(/\/0x[0-9a-f]+$/, ''), reason: m[4]! };
}

/**
 * Joins icmp_send lines to the kfree_skb of the same skb. Pure: feed it
 * parsed lines in order, it returns the drop events.
 */
export class FallbackJoiner {
  private readonly pendingIcmp = new Map<bigint, IcmpSendLine>();

  feed(l: ParsedTraceLine): TraceEvent | undefined {
    if (l.event === 'icmp_send') {
      const i = parseIcmpSend(l.body);
      if (i) {
        this.pendingIcmp.set(i.skb, i);
        if (this.pendingIcmp.size > 4096) this.pendingIcmp.delete(this.pendingIcmp.keys().next().value!);
      }
      return undefined;
    }
    if (l.event !== 'kfree_skb') return undefined;
    const k = parseKfreeSkb(l.body);
    if (!k) return undefined;
    const icmp = this.pendingIcmp.get(k.skb);
    if (icmp) this.pendingIcmp.delete(k.skb);
    return {
      event: 'drop',
      monoNs: l.monoNs,
      skb: k.skb,
      netns: 0,
      ifindex: 0,
      dev: '',
      len: 0,
      mark: 0,
      cpu: l.cpu,
      reason: k.reason,
      location: k.location,
      ...(icmp
        ? // icmp_send names the offending packet's addresses; the error goes back to its source, from an address the tracepoint does not carry
          { flow: { family: 4 as const, src: icmp.src, dst: icmp.dst, proto: 0 }, icmp: { type: icmp.type, code: icmp.code, src: '?', dst: icmp.src } }
        : {}),
    };
  }
}

let instanceSeq = 0;

/** Removes trace instances left by pathguard processes that no longer exist (killed before they could clean up). */
export function sweepStaleInstances(): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(join(TRACEFS, 'instances'));
  } catch {
    return removed;
  }
  for (const n of names) {
    const m = /^pathguard-(\d+)-\d+$/.exec(n);
    if (!m || existsSync(`/proc/${m[1]}`)) continue;
    try {
      rmdirSync(join(TRACEFS, 'instances', n));
      removed.push(n);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return removed;
}

/** Mounts tracefs at /sys/kernel/tracing when it is not there yet (root only). */
export function ensureTracefs(): void {
  if (existsSync(join(TRACEFS, 'events'))) return;
  try {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS], { stdio: 'pipe', timeout: 10_000 });
  } catch (err) {
    throw new UnsupportedError('tracefs', `${TRACEFS} is not mounted and mounting it failed: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`);
  }
  if (!existsSync(join(TRACEFS, 'events'))) throw new UnsupportedError('tracefs', `${TRACEFS} has no events after mounting`);
}

export class TracefsTracer {
  private readonly dir: string;
  private fd: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly joiner = new FallbackJoiner();
  private partial = '';
  private onEvent: ((e: TraceEvent) => void) | undefined;
  private readonly buf = Buffer.alloc(1 << 16);
  /** Events the instance's buffer overwrote before they were read ("[LOST n EVENTS]"). */
  lostEvents = 0;

  constructor() {
    ensureTracefs();
    sweepStaleInstances();
    this.dir = join(TRACEFS, 'instances', `pathguard-${process.pid}-${instanceSeq++}`);
    mkdirSync(this.dir);
    try {
      writeFileSync(join(this.dir, 'trace_clock'), 'mono');
      // per-CPU buffer: room for a burst of host-wide drops between two reads
      writeFileSync(join(this.dir, 'buffer_size_kb'), '4096');
      writeFileSync(join(this.dir, 'events/skb/kfree_skb/enable'), '1');
      if (existsSync(join(this.dir, 'events/icmp/icmp_send'))) writeFileSync(join(this.dir, 'events/icmp/icmp_send/enable'), '1');
      this.fd = openSync(join(this.dir, 'trace_pipe'), constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      this.removeInstance();
      throw err;
    }
  }

  start(onEvent: (e: TraceEvent) => void): void {
    this.onEvent = onEvent;
    this.timer = setInterval(() => void this.drain(), 20);
  }

  /**
   * Reads what trace_pipe holds now, at most `budgetBytes` (host-wide drops
   * can arrive faster than they are parsed; the rest waits for the next
   * tick, and what the instance's buffer cannot hold is counted as lost).
   */
  async drain(budgetBytes = 1 << 20): Promise<void> {
    if (this.fd === undefined) return;
    for (let done = 0; done < budgetBytes; ) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, this.buf.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return;
        throw err;
      }
      if (n <= 0) return;
      done += n;
      const text = this.partial + this.buf.toString('utf8', 0, n);
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        const l = parseTraceLine(line);
        if (!l) {
          const lost = /\[LOST (\d+) EVENTS\]/.exec(line);
          if (lost) this.lostEvents += Number(lost[1]);
          continue;
        }
        const e = this.joiner.feed(l);
        if (e) this.onEvent?.(e);
      }
    }
  }

  private removeInstance(): void {
    try {
      rmdirSync(this.dir); // removing an instance turns its events off and frees its buffer
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.removeInstance();
  }
}
