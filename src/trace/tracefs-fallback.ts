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
 * Lines look like (the print fmt of each event's format file):
 *   <idle>-0 [001] ..s1. 1234.567890: kfree_skb: skbaddr=00000000c3a1f6e2 rx_sk=0000000000000000 protocol=2048 location=ip_forward+0x1a4/0x5d0 reason: PKT_TOO_BIG
 *   <idle>-0 [001] ..s1. 1234.567880: icmp_send: icmp_send: type=3, code=4. From 198.51.100.1:40000 to 203.0.113.9:9 ulen=1480 skbaddr=00000000c3a1f6e2
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync, readSync, rmdirSync, writeFileSync } from 'node:fs';
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

const LINE = /^\s*.+?\s+\[(\d+)\]\s+\S+\s+(\d+)\.(\d+):\s+([a-z_0-9]+):\s+(.*)$/;

/** Splits one trace_pipe line; undefined for lines that are not events (lost-event notes). */
export function parseTraceLine(line: string): ParsedTraceLine | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const frac = m[3]!.padEnd(9, '0').slice(0, 9);
  return { cpu: Number(m[1]), monoNs: BigInt(m[2]!) * 1_000_000_000n + BigInt(frac), event: m[4]!, body: m[5]! };
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

  constructor() {
    ensureTracefs();
    this.dir = join(TRACEFS, 'instances', `pathguard-${process.pid}-${instanceSeq++}`);
    mkdirSync(this.dir);
    try {
      writeFileSync(join(this.dir, 'trace_clock'), 'mono');
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
    this.timer = setInterval(() => void this.drain(), 50);
  }

  /** Reads what trace_pipe holds now. */
  async drain(): Promise<void> {
    if (this.fd === undefined) return;
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, this.buf.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return;
        throw err;
      }
      if (n <= 0) return;
      const text = this.partial + this.buf.toString('utf8', 0, n);
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        const l = parseTraceLine(line);
        const e = l && this.joiner.feed(l);
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
