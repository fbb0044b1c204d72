/**
 * Events into per-packet timelines: every event gets the number of the
 * packet it belongs to (one skb, followed by address until it is freed; an
 * ICMP error joins the packet it quotes), and renders as one text line or
 * one JSON object. The summary counts drops by (reason, location).
 */
import { constants } from 'node:os';
import type { FlowSummary, TraceEvent } from './event.js';

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));

/** -101 → "ENETUNREACH" (fib_table_lookup returns a negative errno; -EAGAIN means "try the next rule"). */
export function errnoText(err: number): string {
  return ERRNO_NAMES.get(-err) ?? String(err);
}

const PROTO_NAMES: Readonly<Record<number, string>> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp', 4: 'ipip', 41: 'ipv6' };

export function protoName(p: number): string {
  return PROTO_NAMES[p] ?? String(p);
}

function flowKey(f: FlowSummary): string {
  return `${f.src}|${f.dst}|${f.proto}|${f.sport ?? ''}|${f.dport ?? ''}|${f.ipId ?? ''}`;
}

function fiveTuple(f: FlowSummary): string {
  return `${f.src}|${f.dst}|${f.proto}|${f.sport ?? ''}|${f.dport ?? ''}`;
}

/** Assigns packet numbers. */
export class Timeline {
  private next = 1;
  private readonly bySkb = new Map<bigint, number>();
  private readonly byFlow = new Map<string, number>();
  /** 5-tuple → the packet of that flow being handled now (seen, not yet freed). */
  private readonly inFlight = new Map<string, number>();
  /** src|dst → the same, for lookups that carry no protocol (input routes). */
  private readonly inFlightAddr = new Map<string, number>();

  /** The packet number of `e`; call once per event, in arrival order. */
  assign(e: TraceEvent): number {
    if (e.event === 'fib') {
      // a route lookup has no skb: it belongs to the packet of its flow in flight (a router's
      // input lookup); a sender looks up before the packet exists, so that lookup starts a number
      const f = e.flow;
      const id = !f ? undefined : f.proto === 0 ? this.inFlightAddr.get(`${f.src}|${f.dst}`) : this.inFlight.get(fiveTuple(f));
      return id ?? this.next++;
    }
    if (e.event === 'icmp') {
      const id = e.flow ? this.byFlow.get(flowKey(e.flow)) : undefined;
      return id ?? this.next++;
    }
    let id = this.bySkb.get(e.skb);
    if (id === undefined) {
      id = this.next++;
      this.bySkb.set(e.skb, id);
    }
    if (e.flow) {
      this.byFlow.set(flowKey(e.flow), id);
      if (this.byFlow.size > 65536) this.byFlow.delete(this.byFlow.keys().next().value!);
      const five = fiveTuple(e.flow);
      const addr = `${e.flow.src}|${e.flow.dst}`;
      if (e.event === 'drop' || e.event === 'consume') {
        if (this.inFlight.get(five) === id) this.inFlight.delete(five);
        if (this.inFlightAddr.get(addr) === id) this.inFlightAddr.delete(addr);
      } else {
        this.inFlight.set(five, id);
        this.inFlightAddr.set(addr, id);
        if (this.inFlight.size > 65536) this.inFlight.delete(this.inFlight.keys().next().value!);
        if (this.inFlightAddr.size > 65536) this.inFlightAddr.delete(this.inFlightAddr.keys().next().value!);
      }
    }
    if (e.event === 'drop' || e.event === 'consume') this.bySkb.delete(e.skb);
    return id;
  }
}

/** Converts bpf_ktime_get_ns() values to wall-clock time (both clocks read once, at start). */
export class Clock {
  private readonly offsetNs: bigint;
  constructor(wallMs: number = Date.now(), monoNs: bigint = process.hrtime.bigint()) {
    // process.hrtime is CLOCK_MONOTONIC on Linux, the clock bpf_ktime_get_ns() reads
    this.offsetNs = BigInt(wallMs) * 1_000_000n - monoNs;
  }
  wallNs(monoNs: bigint): bigint {
    return monoNs + this.offsetNs;
  }
  /** ISO 8601 with microseconds (2026-12-06T03:21:04.123456Z). */
  iso(monoNs: bigint): string {
    const ns = this.wallNs(monoNs);
    const ms = Number(ns / 1_000_000n);
    const micro = Number((ns / 1000n) % 1000n);
    return new Date(ms).toISOString().replace('Z', `${String(micro).padStart(3, '0')}Z`);
  }
}

function flowText(f: FlowSummary | undefined): string {
  if (!f) return '(not IP)';
  const host = (a: string, p: number | undefined) => (p === undefined ? a : f.family === 6 ? `[${a}]:${p}` : `${a}:${p}`);
  // protocol 0: a route lookup that did not say (input routes)
  return `${host(f.src, f.sport)} > ${host(f.dst, f.dport)}${f.proto === 0 ? '' : ` ${protoName(f.proto)}`}`;
}

/** One text line, pwru-like: packet, time, netns, device, event, details, and the drop marked. */
export function renderText(e: TraceEvent, packet: number, clock: Clock): string {
  const time = clock.iso(e.monoNs).slice(11, 26);
  const dev = e.dev ? `${e.dev}(${e.ifindex})` : '-';
  const head = `#${String(packet).padEnd(5)} ${time} netns ${String(e.netns).padEnd(10)} ${dev.padEnd(18)} ${e.event.padEnd(8)}`;
  switch (e.event) {
    case 'drop':
      return `${head} len ${String(e.len).padEnd(5)} ${flowText(e.flow)}  DROP ${e.reason} at ${e.location ?? '?'}${e.mark ? ` mark 0x${e.mark.toString(16)}` : ''}  <== dropped`;
    case 'icmp': {
      const i = e.icmp;
      const what = i ? `type ${i.type} code ${i.code}${i.mtu !== undefined ? ` mtu ${i.mtu}` : ''} ${i.src} > ${i.dst}` : '(undecoded)';
      return `${head} len ${String(e.len).padEnd(5)} ICMP error sent: ${what}, quoting ${flowText(e.flow)}`;
    }
    case 'consume':
      return `${head} len ${String(e.len).padEnd(5)} ${flowText(e.flow)}  consumed at ${e.location ?? '?'}`;
    case 'fib': {
      const r = e.fib;
      const result = !r ? '?' : r.err === 0 ? `-> ${dev}${r.gateway ? ` via ${r.gateway}` : ''}` : `err ${errnoText(r.err)}`;
      return `${head} table ${r?.table ?? '?'}  ${flowText(e.flow)}  ${result}${r?.iif ? ` iif ${r.iif}` : ''}${r?.oif ? ` oif ${r.oif}` : ''}`;
    }
    default:
      return `${head} len ${String(e.len).padEnd(5)} ${flowText(e.flow)}${e.mark ? ` mark 0x${e.mark.toString(16)}` : ''}`;
  }
}

/** One JSON object per event (the documented field names). */
export function renderJson(e: TraceEvent, packet: number, clock: Clock): Record<string, unknown> {
  const o: Record<string, unknown> = {
    event: e.event,
    packet,
    time: clock.iso(e.monoNs),
    mono_ns: e.monoNs.toString(),
    netns: e.netns,
    dev: e.dev,
    ifindex: e.ifindex,
    len: e.len,
    mark: e.mark,
    skb: `0x${e.skb.toString(16)}`,
  };
  if (e.flow) {
    o.family = e.flow.family;
    o.src = e.flow.src;
    o.dst = e.flow.dst;
    o.proto = protoName(e.flow.proto);
    if (e.flow.sport !== undefined) o.sport = e.flow.sport;
    if (e.flow.dport !== undefined) o.dport = e.flow.dport;
  }
  if (e.reason !== undefined) o.reason = e.reason;
  if (e.reasonCode !== undefined) o.reason_code = e.reasonCode;
  if (e.location !== undefined) o.location = e.location;
  if (e.fib) {
    o.table = e.fib.table;
    o.result = e.fib.err === 0 ? 'ok' : errnoText(e.fib.err);
    o.iif = e.fib.iif;
    o.oif = e.fib.oif;
    if (e.fib.gateway !== undefined) o.gateway = e.fib.gateway;
  }
  if (e.icmp) {
    o.type = e.icmp.type;
    o.code = e.icmp.code;
    if (e.icmp.mtu !== undefined) o.mtu = e.icmp.mtu;
    o.icmp_src = e.icmp.src;
    o.icmp_dst = e.icmp.dst;
  }
  return o;
}

export interface SummaryRow {
  readonly reason: string;
  readonly location: string;
  readonly count: number;
}

/** Drop counts by (reason, location), plus counts per event kind. */
export class Summary {
  private readonly drops = new Map<string, SummaryRow>();
  readonly byEvent = new Map<string, number>();

  add(e: TraceEvent): void {
    this.byEvent.set(e.event, (this.byEvent.get(e.event) ?? 0) + 1);
    if (e.event !== 'drop') return;
    const reason = e.reason ?? '?';
    const location = e.location ?? '?';
    const key = `${reason}\t${location}`;
    const row = this.drops.get(key);
    this.drops.set(key, { reason, location, count: (row?.count ?? 0) + 1 });
  }

  /** Rows, most frequent first. */
  rows(): SummaryRow[] {
    return [...this.drops.values()].sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
  }

  renderText(title: string): string {
    const rows = this.rows();
    const lines = [title];
    if (rows.length === 0) lines.push('  no drops');
    else {
      const w = Math.max(6, ...rows.map((r) => r.reason.length));
      lines.push(`  ${'count'.padStart(8)}  ${'reason'.padEnd(w)}  location`);
      for (const r of rows) lines.push(`  ${String(r.count).padStart(8)}  ${r.reason.padEnd(w)}  ${r.location}`);
    }
    const kinds = [...this.byEvent.entries()].map(([k, n]) => `${k} ${n}`).join(', ');
    lines.push(`  events: ${kinds || 'none'}`);
    return lines.join('\n');
  }
}
