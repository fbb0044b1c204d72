/**
 * The tracer's BPF programs, one per raw tracepoint, generated for one flow
 * filter and the running kernel's struct layout. Pure: returns instructions.
 *
 * Each program gets the tracepoint's raw arguments (ctx is u64 args[],
 * BPF_PROG_TYPE_RAW_TRACEPOINT), and:
 *   1. copies the packet's first 128 bytes from the IP header
 *      (skb->data on receive, where eth_type_trans() has pulled the MAC
 *      header; skb->head + skb->network_header elsewhere);
 *   2. if the skb's address is in the `followed` map, reports the event
 *      whatever the headers say now (after NAT or decapsulation), as pwru's
 *      --filter-track-skb does;
 *   3. otherwise runs the flow filter on the copy; a match adds the skb to
 *      `followed` and is reported; on transmit a packet that does not match
 *      but is an ICMP/ICMPv6 error quoting a matching packet is reported as
 *      an `icmp` event;
 *   4. on kfree_skb / consume_skb, forgets the skb (its address is reused).
 * Events go to a BPF ring buffer without waking the reader, which drains it
 * on a timer (a wakeup per event costs more than the event at high rates);
 * a failed write counts in `lost`.
 * Packets of other flows never leave the kernel.
 */
import {
  BPF_FUNC,
  R,
  alu32Imm,
  alu64Imm,
  alu64Reg,
  atomicAdd,
  call,
  exit,
  ja,
  jmp32Imm,
  jmpImm,
  label,
  ldMapFd,
  ldx,
  movImm,
  movReg,
  st,
  stx,
  type Item,
  type Reg,
} from '../wire/bpf-insn.js';
import type { KernelLayout } from './kernel-layout.js';
import { filterNeedsPorts, type FlowFilter, type Prefix } from './filter.js';

/** What an event record says happened (u32 `kind`). */
export const EVENT_KIND = { receive: 1, transmit: 2, drop: 3, consume: 4, icmp: 5, fib: 6 } as const;
export type EventKindName = keyof typeof EVENT_KIND;

/**
 * The record each program writes to the ring buffer (host byte order):
 *   0  u64 time (bpf_ktime_get_ns, CLOCK_MONOTONIC)
 *   8  u64 skb address
 *   16 u64 location (kfree_skb / consume_skb caller)
 *   24 u32 kind          28 u32 drop reason
 *   32 u32 netns inode   36 u32 ifindex
 *   40 u32 skb->len      44 u32 skb->mark
 *   48 u16 skb->protocol (network order)   50 pad
 *   52 u32 cpu
 *   56 char dev[16]
 *   72 u8 header[128]: the packet from its IP header on
 */
export const REC = {
  TIME: 0,
  SKB: 8,
  LOCATION: 16,
  KIND: 24,
  REASON: 28,
  NETNS: 32,
  IFINDEX: 36,
  LEN: 40,
  MARK: 44,
  PROTOCOL: 48,
  CPU: 52,
  DEV: 56,
  HEADER: 72,
  HEADER_LEN: 128,
  SIZE: 200,
} as const;

/** One raw tracepoint and how to read its arguments. */
export interface HookSpec {
  /** The tracepoint name for BPF_RAW_TRACEPOINT_OPEN. */
  readonly tracepoint: string;
  readonly kind: 'receive' | 'transmit' | 'drop' | 'consume';
  /** Number of the tracepoint's arguments (the verifier checks ctx reads against it at attach). */
  readonly args: number;
  /** Argument index of `struct sk_buff *`. */
  readonly skbArg: number;
  readonly locationArg?: number;
  readonly reasonArg?: number;
}

/**
 * The hooks (TP_PROTO in include/trace/events/net.h and skb.h):
 *   netif_receive_skb(struct sk_buff *skb)
 *   net_dev_start_xmit(const struct sk_buff *skb, const struct net_device *dev)
 *   kfree_skb(struct sk_buff *skb, void *location, enum skb_drop_reason reason, struct sock *rx_sk)
 *   consume_skb(struct sk_buff *skb, void *location)
 */
export const HOOKS: readonly HookSpec[] = [
  { tracepoint: 'netif_receive_skb', kind: 'receive', args: 1, skbArg: 0 },
  { tracepoint: 'net_dev_start_xmit', kind: 'transmit', args: 2, skbArg: 0 },
  { tracepoint: 'kfree_skb', kind: 'drop', args: 3, skbArg: 0, locationArg: 1, reasonArg: 2 },
  { tracepoint: 'consume_skb', kind: 'consume', args: 2, skbArg: 0, locationArg: 1 },
];

/** Map fds the programs reference. */
export interface ProgramMaps {
  /** BPF_MAP_TYPE_RINGBUF of event records. */
  readonly events: number;
  /** LRU hash: skb address (u64) → time last seen (u64 ns). */
  readonly followed: number;
  /** Array of one u64: records the ring buffer had no room for. */
  readonly lost: number;
}

// Stack layout, offsets from the frame pointer R10.
const FP_REC = -REC.SIZE; // the record, -200..-1
const FP_KEY = -208; // u64 skb address (map key)
const FP_TMP = -216; // u64 scratch for pointers read with probe_read_kernel
const FP_PORTS = -224; // the packet's first 4 transport bytes
const FP_QBUF = -288; // 64 bytes: ICMP header + quoted IP header, or an inner IP header
const FP_QPORTS = -296; // the quoted or inner packet's ports
const FP_VAL = -304; // the u64 value stored in `followed`, and the u32 key of `lost`

const QBUF_LEN = 64;
/** A followed skb not seen for this long is forgotten (its address may have been reused). */
export const FOLLOW_TTL_NS = 1_000_000_000;
const VXLAN_PORT = 4789;
/** bpf_ringbuf_output() flag: do not notify the reader (BPF_RB_NO_WAKEUP in bpf.h). */
const BPF_RB_NO_WAKEUP = 1;

function htons(n: number): number {
  return ((n & 0xff) << 8) | (n >> 8);
}

/** Four bytes of an address as the u32 a little-endian load from the stack yields. */
function le32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function maskBytes(p: Prefix): Uint8Array {
  const out = new Uint8Array(p.bytes.length);
  for (let i = 0; i < out.length; i++) {
    const bits = Math.max(0, Math.min(8, p.length - 8 * i));
    out[i] = (0xff << (8 - bits)) & 0xff;
  }
  return out;
}

/** probe_read_kernel(fp + dstOff, size, srcReg + srcOff) */
function probeRead(dstOff: number, size: number, src: Reg, srcOff = 0): Item[] {
  const out: Item[] = [movReg(R.R1, R.R10), alu64Imm('ADD', R.R1, dstOff), movImm(R.R2, size), movReg(R.R3, src)];
  if (srcOff !== 0) out.push(alu64Imm('ADD', R.R3, srcOff));
  out.push(call(BPF_FUNC.probe_read_kernel));
  return out;
}

/** Compares an address at fp+off (4 or 16 bytes) with a prefix; jumps to `fail` on mismatch. */
function matchPrefix(p: Prefix, off: number, fail: string): Item[] {
  const out: Item[] = [];
  const mask = maskBytes(p);
  for (let w = 0; w < p.bytes.length / 4; w++) {
    const m = le32(mask, 4 * w);
    if (m === 0) continue;
    out.push(ldx('W', R.R3, R.R10, off + 4 * w));
    if (m !== 0xffffffff) out.push(alu32Imm('AND', R.R3, m | 0));
    out.push(jmp32Imm('JNE', R.R3, le32(p.bytes, 4 * w) | 0, fail));
  }
  return out;
}

/**
 * The flow filter over an IP header copied to fp+hdr, whose kernel address
 * is in R9. Falls through on a match, jumps to `fail` otherwise. Clobbers
 * R1-R5; reads the ports into fp+ports when the filter needs them.
 */
function matchFlow(f: FlowFilter, hdr: number, ports: number, id: string, fail: string, portsInCopy = false): Item[] {
  const out: Item[] = [];
  const v4 = `${id}_v4`;
  const v6 = `${id}_v6`;
  const l4 = `${id}_l4`;
  const ok = `${id}_ok`;
  out.push(ldx('B', R.R1, R.R10, hdr), alu64Imm('RSH', R.R1, 4));
  if (f.family !== 6) out.push(jmpImm('JEQ', R.R1, 4, v4));
  if (f.family !== 4) out.push(jmpImm('JEQ', R.R1, 6, v6));
  out.push(ja(fail));
  const needPorts = filterNeedsPorts(f);
  for (const fam of [4, 6] as const) {
    if (f.family !== undefined && f.family !== fam) continue;
    out.push(label(fam === 4 ? v4 : v6));
    if ((f.src && f.src.family !== fam) || (f.dst && f.dst.family !== fam)) {
      out.push(ja(fail));
      continue;
    }
    // struct iphdr: saddr at 12, daddr at 16, protocol at 9; struct ipv6hdr: saddr 8, daddr 24, nexthdr 6
    if (f.src) out.push(...matchPrefix(f.src, hdr + (fam === 4 ? 12 : 8), fail));
    if (f.dst) out.push(...matchPrefix(f.dst, hdr + (fam === 4 ? 16 : 24), fail));
    out.push(ldx('B', R.R3, R.R10, hdr + (fam === 4 ? 9 : 6)));
    if (f.proto !== undefined) out.push(jmpImm('JNE', R.R3, f.proto, fail));
    if (needPorts) {
      if (f.proto === undefined) {
        // ports only mean something for TCP, UDP, SCTP, UDP-Lite
        const has = `${id}_${fam}_has_ports`;
        for (const p of [6, 17, 132, 136]) out.push(jmpImm('JEQ', R.R3, p, has));
        out.push(ja(fail), label(has));
      }
      if (fam === 4) out.push(ldx('B', R.R2, R.R10, hdr), alu64Imm('AND', R.R2, 0x0f), alu64Imm('LSH', R.R2, 2));
      else out.push(movImm(R.R2, 40)); // extension headers are not walked: see the README's limits
      out.push(ja(l4));
    } else {
      out.push(ja(ok));
    }
  }
  if (needPorts && portsInCopy) {
    // the FIB programs put the flow's ports at fp+ports themselves
    out.push(label(l4), ldx('H', R.R4, R.R10, ports), ldx('H', R.R5, R.R10, ports + 2));
  } else if (needPorts) {
    out.push(
      label(l4),
      movReg(R.R3, R.R9),
      alu64Reg('ADD', R.R3, R.R2),
      movReg(R.R1, R.R10),
      alu64Imm('ADD', R.R1, ports),
      movImm(R.R2, 4),
      call(BPF_FUNC.probe_read_kernel),
      ldx('H', R.R4, R.R10, ports), // source port, network order
      ldx('H', R.R5, R.R10, ports + 2), // destination port
    );
  }
  if (needPorts) {
    if (f.sport !== undefined) out.push(jmpImm('JNE', R.R4, htons(f.sport), fail));
    if (f.dport !== undefined) out.push(jmpImm('JNE', R.R5, htons(f.dport), fail));
    if (f.port !== undefined) out.push(jmpImm('JEQ', R.R4, htons(f.port), ok), jmpImm('JNE', R.R5, htons(f.port), fail));
  }
  out.push(label(ok));
  return out;
}

/**
 * With --inner: moves R9 to the inner IP header (IPIP, IPv6 in IPv4/IPv6,
 * VXLAN on UDP 4789 with a 14-byte inner Ethernet header) and copies it to
 * fp+QBUF; jumps to `fail` when the packet is not encapsulated.
 */
function locateInner(id: string, fail: string): Item[] {
  const v4 = `${id}_o4`;
  const proto = `${id}_proto`;
  const ip = `${id}_ip`;
  const udp = `${id}_udp`;
  const read = `${id}_read`;
  const hdr = FP_REC + REC.HEADER;
  return [
    ldx('B', R.R1, R.R10, hdr),
    alu64Imm('RSH', R.R1, 4),
    jmpImm('JEQ', R.R1, 4, v4),
    jmpImm('JNE', R.R1, 6, fail),
    movImm(R.R2, 40),
    ldx('B', R.R3, R.R10, hdr + 6),
    ja(proto),
    label(v4),
    ldx('B', R.R2, R.R10, hdr),
    alu64Imm('AND', R.R2, 0x0f),
    alu64Imm('LSH', R.R2, 2),
    ldx('B', R.R3, R.R10, hdr + 9),
    label(proto),
    movReg(R.R9, R.R8),
    alu64Reg('ADD', R.R9, R.R2),
    jmpImm('JEQ', R.R3, 4, ip), // IPPROTO_IPIP
    jmpImm('JEQ', R.R3, 41, ip), // IPPROTO_IPV6
    jmpImm('JEQ', R.R3, 17, udp),
    ja(fail),
    label(udp),
    ...probeRead(FP_QPORTS, 4, R.R9),
    ldx('H', R.R1, R.R10, FP_QPORTS + 2),
    jmpImm('JNE', R.R1, htons(VXLAN_PORT), fail),
    alu64Imm('ADD', R.R9, 8 + 8 + 14), // UDP header, VXLAN header, inner Ethernet header
    ja(read),
    label(ip),
    label(read),
    ...probeRead(FP_QBUF, QBUF_LEN, R.R9),
  ];
}

/**
 * For a transmitted packet that did not match: if it is an ICMP or ICMPv6
 * error, copies its header and quote to fp+QBUF, points R9 at the quoted IP
 * header and runs the filter on it; jumps to `fail` otherwise.
 */
function matchIcmpQuote(f: FlowFilter, fail: string): Item[] {
  const hdr = FP_REC + REC.HEADER;
  const v4 = 'q_o4';
  const err = 'q_err';
  const out: Item[] = [
    ldx('B', R.R1, R.R10, hdr),
    alu64Imm('RSH', R.R1, 4),
    jmpImm('JEQ', R.R1, 4, v4),
    jmpImm('JNE', R.R1, 6, fail),
    ldx('B', R.R3, R.R10, hdr + 6),
    jmpImm('JNE', R.R3, 58, fail), // IPPROTO_ICMPV6 (no extension headers walked)
    ldx('B', R.R3, R.R10, hdr + 40), // icmp6_type: 1-4 are errors (RFC 4443)
    jmpImm('JEQ', R.R3, 0, fail),
    jmpImm('JGT', R.R3, 4, fail),
    movReg(R.R9, R.R8),
    alu64Imm('ADD', R.R9, 40),
    ja(err),
    label(v4),
    ldx('B', R.R3, R.R10, hdr + 9),
    jmpImm('JNE', R.R3, 1, fail), // IPPROTO_ICMP
    ldx('B', R.R9, R.R10, hdr),
    alu64Imm('AND', R.R9, 0x0f),
    alu64Imm('LSH', R.R9, 2),
    alu64Reg('ADD', R.R9, R.R8),
    label(err),
    // fp+QBUF: the ICMP header (8 bytes) then the quoted packet
    ...probeRead(FP_QBUF, QBUF_LEN, R.R9),
    ldx('B', R.R3, R.R10, FP_QBUF),
    ldx('B', R.R1, R.R10, hdr),
    alu64Imm('RSH', R.R1, 4),
    jmpImm('JEQ', R.R1, 6, 'q_checked'),
    // ICMPv4 errors: 3 destination unreachable, 11 time exceeded, 12 parameter problem
    jmpImm('JEQ', R.R3, 3, 'q_checked'),
    jmpImm('JEQ', R.R3, 11, 'q_checked'),
    jmpImm('JNE', R.R3, 12, fail),
    label('q_checked'),
    alu64Imm('ADD', R.R9, 8),
  ];
  // the quote's header now starts at fp+QBUF+8 (56 bytes of it copied)
  out.push(...matchFlow(f, FP_QBUF + 8, FP_QPORTS, 'q', fail));
  return out;
}

/** Writes the record at fp+REC to the ring buffer, or counts it in `lost`; ends at label `sent`. */
function sendRecord(maps: ProgramMaps): Item[] {
  return [
    ...ldMapFd(R.R1, maps.events),
    movReg(R.R2, R.R10),
    alu64Imm('ADD', R.R2, FP_REC),
    movImm(R.R3, REC.SIZE),
    movImm(R.R4, BPF_RB_NO_WAKEUP), // user space drains on a timer: no wakeup per event
    call(BPF_FUNC.ringbuf_output),
    jmpImm('JEQ', R.R0, 0, 'sent'),
    // no room: count it
    st('W', R.R10, FP_VAL, 0),
    ...ldMapFd(R.R1, maps.lost),
    movReg(R.R2, R.R10),
    alu64Imm('ADD', R.R2, FP_VAL),
    call(BPF_FUNC.map_lookup_elem),
    jmpImm('JEQ', R.R0, 0, 'sent'),
    movImm(R.R1, 1),
    atomicAdd('DW', R.R0, 0, R.R1),
    label('sent'),
  ];
}

/** Where the FIB program reads struct flowi4 and struct fib_nh_common (from BTF). */
export interface FibLayout {
  readonly flowi4: { readonly oif: number; readonly iif: number; readonly mark: number; readonly proto: number; readonly saddr: number; readonly daddr: number; readonly uli: number };
  readonly nhc: { readonly dev: number; readonly gwFamily: number; readonly gw: number };
}

/** The FIB record's extra fields, inside the header area after the synthetic header (24 bytes for IPv4, 44 for IPv6). */
export const FIB_REC = { OIF: REC.HEADER + 64, IIF: REC.HEADER + 68, GW: REC.HEADER + 72, GW_FAMILY: REC.HEADER + 88, RTN_TYPE: REC.HEADER + 89 } as const;

/** Where the IPv6 FIB program reads struct flowi6, fib6_result, fib6_table (from BTF). */
export interface Fib6Layout {
  readonly flowi6: { readonly oif: number; readonly iif: number; readonly mark: number; readonly proto: number; readonly saddr: number; readonly daddr: number; readonly uli: number };
  readonly res: { readonly nh: number; readonly type: number };
  readonly tableId: number;
  /** fib6_nh starts with its fib_nh_common: these are offsets inside it. */
  readonly nhc: FibLayout['nhc'];
}

/**
 * fib:fib_table_lookup(u32 tb_id, const struct flowi4 *flp, const struct
 * fib_nh_common *nhc, int err) (include/trace/events/fib.h): an IPv4 route
 * lookup. No skb: the flow is rebuilt as a 20-byte IPv4 header plus ports
 * (flowi4.uli.ports is dport then sport) and filtered like a packet. The
 * (input lookups leave protocol and ports 0: then only the addresses are
 * compared). The record carries the table in `reason`, err in `location`, the result's
 * device (nhc->nhc_dev) as the event's device, and oif, iif and the gateway
 * after the synthetic header.
 */
export function buildFibProgram(f: FlowFilter, layout: KernelLayout, fib: FibLayout, maps: ProgramMaps): Item[] {
  const hdr = FP_REC + REC.HEADER;
  const p: Item[] = [movReg(R.R6, R.R1), ldx('DW', R.R7, R.R6, 8), jmpImm('JEQ', R.R7, 0, 'out')];
  for (let off = 0; off < REC.SIZE; off += 8) p.push(st('DW', R.R10, FP_REC + off, 0));
  p.push(
    st('B', R.R10, hdr, 0x45), // version 4, ihl 5
    st('B', R.R10, hdr + 3, 24), // total length 24: the header and the ports
    ...probeRead(hdr + 9, 1, R.R7, fib.flowi4.proto),
    ...probeRead(hdr + 12, 4, R.R7, fib.flowi4.saddr),
    ...probeRead(hdr + 16, 4, R.R7, fib.flowi4.daddr),
    ...probeRead(FP_TMP, 4, R.R7, fib.flowi4.uli),
    ...fibPorts(hdr + 20),
    movReg(R.R9, R.R7),
  );
  p.push(...fibMatch(f, hdr, hdr + 9));
  p.push(
    st('W', R.R10, FP_REC + REC.KIND, EVENT_KIND.fib),
    call(BPF_FUNC.ktime_get_ns),
    stx('DW', R.R10, FP_REC + REC.TIME, R.R0),
    ldx('DW', R.R1, R.R6, 0),
    stx('W', R.R10, FP_REC + REC.REASON, R.R1), // tb_id
    ldx('DW', R.R1, R.R6, 24),
    stx('W', R.R10, FP_REC + REC.LOCATION, R.R1), // err (an int)
    ...probeRead(FP_REC + REC.MARK, 4, R.R7, fib.flowi4.mark),
    ...probeRead(FP_REC + FIB_REC.OIF, 4, R.R7, fib.flowi4.oif),
    ...probeRead(FP_REC + FIB_REC.IIF, 4, R.R7, fib.flowi4.iif),
    ldx('DW', R.R8, R.R6, 16), // nhc, NULL when the lookup failed
    ...fibTail(layout, fib.nhc, maps),
  );
  return p;
}

/** flowi.uli.ports (dport, then sport) from fp+TMP to the record at `at` and to fp+PORTS (sport, dport) for the filter. */
function fibPorts(at: number): Item[] {
  return [
    ldx('H', R.R1, R.R10, FP_TMP + 2),
    stx('H', R.R10, at, R.R1), // sport
    stx('H', R.R10, FP_PORTS, R.R1),
    ldx('H', R.R1, R.R10, FP_TMP),
    stx('H', R.R10, at + 2, R.R1), // dport
    stx('H', R.R10, FP_PORTS + 2, R.R1),
  ];
}

/**
 * The filter over a FIB program's synthetic header: input-route lookups fill
 * neither protocol nor ports, so with protocol 0 only the addresses are
 * compared. Jumps to `out` on a mismatch.
 */
function fibMatch(f: FlowFilter, hdr: number, protoAt: number): Item[] {
  if (f.proto === undefined && !filterNeedsPorts(f)) return matchFlow(f, hdr, FP_PORTS, 'f', 'out', true);
  const { proto: _p, sport: _s, dport: _d, port: _a, ...addressesOnly } = f;
  return [
    ldx('B', R.R1, R.R10, protoAt), // the protocol byte of the synthetic header
    jmpImm('JEQ', R.R1, 0, 'f_noproto'),
    ...matchFlow(f, hdr, FP_PORTS, 'f', 'out', true),
    ja('f_matched'),
    label('f_noproto'),
    ...matchFlow(addressesOnly, hdr, FP_PORTS, 'fa', 'out', true),
    label('f_matched'),
  ];
}

/** Common end of the FIB programs: R8 = struct fib_nh_common * or NULL; the gateway, the device and its namespace, then send. */
function fibTail(layout: KernelLayout, nhc: FibLayout['nhc'], maps: ProgramMaps): Item[] {
  return [
    call(BPF_FUNC.get_smp_processor_id),
    stx('W', R.R10, FP_REC + REC.CPU, R.R0),
    jmpImm('JEQ', R.R8, 0, 'send'),
    ...probeRead(FP_REC + FIB_REC.GW_FAMILY, 1, R.R8, nhc.gwFamily),
    ...probeRead(FP_REC + FIB_REC.GW, 16, R.R8, nhc.gw),
    ...probeRead(FP_TMP, 8, R.R8, nhc.dev),
    ldx('DW', R.R9, R.R10, FP_TMP),
    jmpImm('JEQ', R.R9, 0, 'send'),
    ...probeRead(FP_REC + REC.IFINDEX, 4, R.R9, layout.netDevice.ifindex),
    ...probeRead(FP_REC + REC.DEV, 16, R.R9, layout.netDevice.name),
    ...probeRead(FP_TMP, 8, R.R9, layout.netDevice.ndNet),
    ldx('DW', R.R9, R.R10, FP_TMP),
    jmpImm('JEQ', R.R9, 0, 'send'),
    ...probeRead(FP_REC + REC.NETNS, 4, R.R9, layout.netInum),
    label('send'),
    ...sendRecord(maps),
    label('out'),
    movImm(R.R0, 0),
    exit(),
  ];
}

/**
 * fib6:fib6_table_lookup(const struct net *net, const struct fib6_result *res,
 * struct fib6_table *table, const struct flowi6 *flp)
 * (include/trace/events/fib6.h): an IPv6 route lookup, handled as the IPv4
 * one with a synthetic 40-byte IPv6 header. The result is res->fib6_type
 * (RTN_UNICAST, RTN_UNREACHABLE, ...), recorded after the header; the
 * next hop is res->nh, whose first member is its fib_nh_common.
 */
export function buildFib6Program(f: FlowFilter, layout: KernelLayout, fib: Fib6Layout, maps: ProgramMaps): Item[] {
  const hdr = FP_REC + REC.HEADER;
  const p: Item[] = [movReg(R.R6, R.R1), ldx('DW', R.R7, R.R6, 24), jmpImm('JEQ', R.R7, 0, 'out')];
  for (let off = 0; off < REC.SIZE; off += 8) p.push(st('DW', R.R10, FP_REC + off, 0));
  p.push(
    st('B', R.R10, hdr, 0x60), // version 6
    st('B', R.R10, hdr + 5, 4), // payload length 4: the ports
    st('DW', R.R10, FP_TMP, 0),
    ...probeRead(FP_TMP + 7, 1, R.R7, fib.flowi6.proto),
    ldx('B', R.R1, R.R10, FP_TMP + 7),
    stx('B', R.R10, hdr + 6, R.R1), // next header
    ...probeRead(hdr + 8, 16, R.R7, fib.flowi6.saddr),
    ...probeRead(hdr + 24, 16, R.R7, fib.flowi6.daddr),
    ...probeRead(FP_TMP, 4, R.R7, fib.flowi6.uli),
    ...fibPorts(hdr + 40),
    movReg(R.R9, R.R7),
    ...fibMatch(f, hdr, hdr + 6),
    st('W', R.R10, FP_REC + REC.KIND, EVENT_KIND.fib),
    call(BPF_FUNC.ktime_get_ns),
    stx('DW', R.R10, FP_REC + REC.TIME, R.R0),
    ldx('DW', R.R3, R.R6, 16), // table (R3: probeRead sets R1 and R2 before it reads its source)
    jmpImm('JEQ', R.R3, 0, 'no_table'),
    ...probeRead(FP_REC + REC.REASON, 4, R.R3, fib.tableId),
    label('no_table'),
    ...probeRead(FP_REC + REC.MARK, 4, R.R7, fib.flowi6.mark),
    ...probeRead(FP_REC + FIB_REC.OIF, 4, R.R7, fib.flowi6.oif),
    ...probeRead(FP_REC + FIB_REC.IIF, 4, R.R7, fib.flowi6.iif),
    ldx('DW', R.R8, R.R6, 8), // res
    st('DW', R.R10, FP_TMP, 0),
    jmpImm('JEQ', R.R8, 0, 'no_res'),
    ...probeRead(FP_REC + FIB_REC.RTN_TYPE, 1, R.R8, fib.res.type),
    ...probeRead(FP_TMP, 8, R.R8, fib.res.nh),
    label('no_res'),
    ldx('DW', R.R8, R.R10, FP_TMP), // the fib6_nh, or NULL
    ...fibTail(layout, fib.nhc, maps),
  );
  return p;
}

/** The FIB hooks: IPv4 when the filter can match IPv4, IPv6 when it can match IPv6. */
export const FIB_HOOK = { tracepoint: 'fib_table_lookup', args: 4 } as const;
export const FIB6_HOOK = { tracepoint: 'fib6_table_lookup', args: 4 } as const;

/** Generates the program for one hook. */
export function buildHookProgram(hook: HookSpec, f: FlowFilter, layout: KernelLayout, maps: ProgramMaps): Item[] {
  const p: Item[] = [];
  const skb = layout.skb;
  const hdr = FP_REC + REC.HEADER;
  const kind = EVENT_KIND[hook.kind];
  p.push(
    movReg(R.R6, R.R1), // ctx: u64 args[]
    ldx('DW', R.R7, R.R6, hook.skbArg * 8),
    jmpImm('JEQ', R.R7, 0, 'out'),
    stx('DW', R.R10, FP_KEY, R.R7),
  );
  // R8 = address of the IP header
  if (hook.kind === 'receive') {
    p.push(...probeRead(FP_TMP, 8, R.R7, skb.data), ldx('DW', R.R8, R.R10, FP_TMP));
  } else {
    p.push(
      ...probeRead(FP_TMP, 8, R.R7, skb.head),
      st('DW', R.R10, FP_VAL, 0),
      ...probeRead(FP_VAL, 2, R.R7, skb.networkHeader),
      ldx('DW', R.R8, R.R10, FP_TMP),
      ldx('H', R.R1, R.R10, FP_VAL),
      jmpImm('JEQ', R.R1, 0xffff, 'out'), // network header never set
      alu64Reg('ADD', R.R8, R.R1),
    );
  }
  p.push(...probeRead(hdr, REC.HEADER_LEN, R.R8));
  // kind of this event, changed to icmp below when a quote matches
  p.push(st('W', R.R10, FP_REC + REC.KIND, kind));
  // the time, kept in the record from here on
  p.push(call(BPF_FUNC.ktime_get_ns), stx('DW', R.R10, FP_REC + REC.TIME, R.R0));
  // already followed? An entry older than FOLLOW_TTL_NS is stale: some frees
  // (skb recycling, GRO merges) pass neither kfree_skb nor consume_skb, and
  // the address then belongs to another packet
  p.push(
    ...ldMapFd(R.R1, maps.followed),
    movReg(R.R2, R.R10),
    alu64Imm('ADD', R.R2, FP_KEY),
    call(BPF_FUNC.map_lookup_elem),
    jmpImm('JEQ', R.R0, 0, 'filter'),
    ldx('DW', R.R1, R.R0, 0),
    ldx('DW', R.R2, R.R10, FP_REC + REC.TIME),
    movReg(R.R3, R.R2),
    alu64Reg('SUB', R.R3, R.R1),
    jmpImm('JGT', R.R3, FOLLOW_TTL_NS, 'filter'),
    stx('DW', R.R0, 0, R.R2), // refresh
    ja('emit'),
    label('filter'),
  );
  // no: the filter
  p.push(movReg(R.R9, R.R8));
  if (f.inner) {
    p.push(...locateInner('in', 'nomatch'), ...matchFlow(f, FP_QBUF, FP_QPORTS, 'f', 'nomatch'));
  } else {
    p.push(...matchFlow(f, hdr, FP_PORTS, 'f', 'nomatch'));
  }
  // a match: follow this skb from now on (not on a free: the address is about to be reused)
  if (hook.kind === 'receive' || hook.kind === 'transmit') {
    p.push(
      ldx('DW', R.R1, R.R10, FP_REC + REC.TIME),
      stx('DW', R.R10, FP_VAL, R.R1),
      ...ldMapFd(R.R1, maps.followed),
      movReg(R.R2, R.R10),
      alu64Imm('ADD', R.R2, FP_KEY),
      movReg(R.R3, R.R10),
      alu64Imm('ADD', R.R3, FP_VAL),
      movImm(R.R4, 0), // BPF_ANY
      call(BPF_FUNC.map_update_elem),
    );
  }
  p.push(ja('emit'), label('nomatch'));
  if (hook.kind === 'transmit' && !f.inner) {
    p.push(...matchIcmpQuote(f, 'out'), st('W', R.R10, FP_REC + REC.KIND, EVENT_KIND.icmp), ja('emit'));
  } else {
    p.push(ja('out'));
  }

  // emit: fill the record around the header copy and send it
  p.push(label('emit'));
  for (const off of [REC.SKB, REC.LOCATION]) p.push(st('DW', R.R10, FP_REC + off, 0));
  for (const off of [REC.REASON, REC.NETNS, REC.IFINDEX, REC.LEN, REC.MARK, REC.PROTOCOL, REC.CPU]) p.push(st('W', R.R10, FP_REC + off, 0));
  p.push(st('DW', R.R10, FP_REC + REC.DEV, 0), st('DW', R.R10, FP_REC + REC.DEV + 8, 0));
  p.push(stx('DW', R.R10, FP_REC + REC.SKB, R.R7));
  if (hook.locationArg !== undefined) p.push(ldx('DW', R.R1, R.R6, hook.locationArg * 8), stx('DW', R.R10, FP_REC + REC.LOCATION, R.R1));
  if (hook.reasonArg !== undefined) p.push(ldx('DW', R.R1, R.R6, hook.reasonArg * 8), stx('W', R.R10, FP_REC + REC.REASON, R.R1));
  p.push(call(BPF_FUNC.get_smp_processor_id), stx('W', R.R10, FP_REC + REC.CPU, R.R0));
  p.push(
    ...probeRead(FP_REC + REC.LEN, 4, R.R7, skb.len),
    ...probeRead(FP_REC + REC.MARK, 4, R.R7, skb.mark),
    ...probeRead(FP_REC + REC.PROTOCOL, 2, R.R7, skb.protocol),
    // the device, its index, name and namespace: skb->dev->nd_net.net->ns.inum
    ...probeRead(FP_TMP, 8, R.R7, skb.dev),
    ldx('DW', R.R9, R.R10, FP_TMP),
    jmpImm('JEQ', R.R9, 0, 'send'),
    ...probeRead(FP_REC + REC.IFINDEX, 4, R.R9, layout.netDevice.ifindex),
    ...probeRead(FP_REC + REC.DEV, 16, R.R9, layout.netDevice.name),
    ...probeRead(FP_TMP, 8, R.R9, layout.netDevice.ndNet),
    ldx('DW', R.R9, R.R10, FP_TMP),
    jmpImm('JEQ', R.R9, 0, 'send'),
    ...probeRead(FP_REC + REC.NETNS, 4, R.R9, layout.netInum),
    label('send'),
    ...sendRecord(maps),
  );
  if (hook.kind === 'drop' || hook.kind === 'consume') {
    p.push(...ldMapFd(R.R1, maps.followed), movReg(R.R2, R.R10), alu64Imm('ADD', R.R2, FP_KEY), call(BPF_FUNC.map_delete_elem));
  }
  p.push(label('out'), movImm(R.R0, 0), exit());
  return p;
}
