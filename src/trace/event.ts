/**
 * One traced event, decoded from the record a BPF program wrote (layout in
 * program.ts) or from a tracefs line (the fallback). Pure: the decoder gets
 * the drop-reason names and the symboliser as parameters.
 */
import { decodeIPv4 } from '../wire/ipv4.js';
import { decodeIPv6 } from '../wire/ipv6.js';
import { formatAddress } from '../wire/ip-address.js';
import { EVENT_KIND, FIB_REC, REC, type EventKindName } from './program.js';
import type { DropReasons } from './kernel-layout.js';

/** The flow a packet belongs to, from its headers. */
export interface FlowSummary {
  readonly family: 4 | 6;
  readonly src: string;
  readonly dst: string;
  readonly proto: number;
  readonly sport?: number;
  readonly dport?: number;
  /** IPv4 identification: tells packets of one flow apart when joining an ICMP quote. */
  readonly ipId?: number;
}

export interface TraceEvent {
  readonly event: EventKindName;
  /** CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns). */
  readonly monoNs: bigint;
  readonly skb: bigint;
  readonly netns: number;
  readonly ifindex: number;
  readonly dev: string;
  readonly len: number;
  readonly mark: number;
  readonly cpu: number;
  /** The packet's flow; for `icmp`, the flow of the packet the error quotes (the traced one). */
  readonly flow?: FlowSummary;
  /** drop: the reason's name from the running kernel (PKT_TOO_BIG), or REASON_<n> if it has none. */
  readonly reason?: string;
  readonly reasonCode?: number;
  /** drop/consume: the kernel function that freed the packet (ip_forward+0x2c1). */
  readonly location?: string;
  /** icmp: the error's type, code, next-hop MTU, and its own addresses. */
  readonly icmp?: { readonly type: number; readonly code: number; readonly mtu?: number; readonly src: string; readonly dst: string };
  /** fib: the table, the result (0 or a negative errno), the flow's oif/iif, and the gateway when there is one. */
  readonly fib?: { readonly table: number; readonly err: number; readonly oif: number; readonly iif: number; readonly gateway?: string };
}

export type Symbolize = (address: bigint) => string;

/**
 * RTN_* route types of an IPv6 result that mean "no way through", as the
 * errno ip6_pol_route's callers turn them into (RTN_UNREACHABLE 7 ->
 * ENETUNREACH, RTN_BLACKHOLE 6 -> EINVAL, RTN_PROHIBIT 8 -> EACCES,
 * RTN_THROW 9 -> EAGAIN: try the next rule).
 */
const RTN_RESULT: Readonly<Record<number, number>> = { 6: -22, 7: -101, 8: -13, 9: -11 };

const KIND_NAMES = new Map<number, EventKindName>(Object.entries(EVENT_KIND).map(([k, v]) => [v, k as EventKindName]));

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder().decode(end < 0 ? b : b.subarray(0, end));
}

/** The flow of the IP packet at the start of `bytes` (truncated copies welcome); undefined when it is not IP. */
export function flowOf(bytes: Uint8Array): FlowSummary | undefined {
  if (bytes.length < 1) return undefined;
  try {
    if (bytes[0]! >> 4 === 4) {
      const p = decodeIPv4(bytes, { quoted: true });
      const ports = p.fragmentOffset === 0 ? portsOf(p.protocol, p.payload) : undefined;
      return { family: 4, src: formatAddress(p.src), dst: formatAddress(p.dst), proto: p.protocol, ipId: p.id, ...ports };
    }
    if (bytes[0]! >> 4 === 6) {
      const p = decodeIPv6(bytes, { quoted: true });
      return { family: 6, src: formatAddress(p.src), dst: formatAddress(p.dst), proto: p.protocol, ...portsOf(p.protocol, p.payload) };
    }
  } catch {
    // a header the decoder refuses (truncated options, garbage after a free): report the event without a flow
  }
  return undefined;
}

function portsOf(proto: number, l4: Uint8Array): { sport: number; dport: number } | undefined {
  if (![6, 17, 132, 136].includes(proto) || l4.length < 4) return undefined;
  return { sport: (l4[0]! << 8) | l4[1]!, dport: (l4[2]! << 8) | l4[3]! };
}

/** The ICMP/ICMPv6 error in the packet at the start of `bytes`: type, code, MTU and the quoted flow. */
export function icmpErrorOf(bytes: Uint8Array): { type: number; code: number; mtu?: number; src: string; dst: string; quoted?: FlowSummary } | undefined {
  const outer = flowOf(bytes);
  if (!outer) return undefined;
  const l4 = outer.family === 4 ? (bytes[0]! & 0x0f) * 4 : 40;
  if (bytes.length < l4 + 8) return undefined;
  const type = bytes[l4]!;
  const code = bytes[l4 + 1]!;
  const rest = new DataView(bytes.buffer, bytes.byteOffset + l4 + 4, 4).getUint32(0, false);
  let mtu: number | undefined;
  if (outer.family === 4 && outer.proto === 1 && type === 3 && code === 4) mtu = rest & 0xffff; // RFC 1191 next-hop MTU
  else if (outer.family === 6 && outer.proto === 58 && type === 2) mtu = rest; // RFC 4443 packet too big
  else if (!((outer.proto === 1 && outer.family === 4) || (outer.proto === 58 && outer.family === 6))) return undefined;
  const quoted = flowOf(bytes.subarray(l4 + 8));
  return { type, code, ...(mtu !== undefined ? { mtu } : {}), src: outer.src, dst: outer.dst, ...(quoted ? { quoted } : {}) };
}

/**
 * The flow of a FIB record's synthetic header (program.ts): fixed offsets,
 * no decoder, because protocol 0 (an input-route lookup) would read as an
 * IPv6 hop-by-hop header to one.
 */
function syntheticFlow(h: Uint8Array): FlowSummary | undefined {
  const version = h[0]! >> 4;
  if (version !== 4 && version !== 6) return undefined;
  const [proto, src, dst, ports] = version === 4 ? [h[9]!, h.subarray(12, 16), h.subarray(16, 20), 20] : [h[6]!, h.subarray(8, 24), h.subarray(24, 40), 40];
  const p = portsOf(proto, h.subarray(ports, ports + 4));
  return { family: version, src: formatAddress(src), dst: formatAddress(dst), proto, ...p };
}

/** Decodes one ring-buffer record. */
export function decodeEventRecord(rec: Uint8Array, reasons: DropReasons, symbolize: Symbolize): TraceEvent | undefined {
  if (rec.byteLength < REC.SIZE) return undefined;
  const v = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
  const kind = KIND_NAMES.get(v.getUint32(REC.KIND, true));
  if (!kind) return undefined;
  const len = v.getUint32(REC.LEN, true);
  // the copy is always 128 bytes; the IP length field bounds what the decoders look at.
  // A view, not a copy: only strings and numbers decoded from it outlive this call
  const header = rec.subarray(REC.HEADER, REC.HEADER + REC.HEADER_LEN);
  const base = {
    event: kind,
    monoNs: v.getBigUint64(REC.TIME, true),
    skb: v.getBigUint64(REC.SKB, true),
    netns: v.getUint32(REC.NETNS, true),
    ifindex: v.getUint32(REC.IFINDEX, true),
    dev: cString(rec.subarray(REC.DEV, REC.DEV + 16)),
    len,
    mark: v.getUint32(REC.MARK, true),
    cpu: v.getUint32(REC.CPU, true),
  };
  const location = v.getBigUint64(REC.LOCATION, true);
  const where = location !== 0n && kind !== 'fib' ? { location: symbolize(location) } : {};
  if (kind === 'icmp') {
    const e = icmpErrorOf(header);
    if (!e) return { ...base };
    const { quoted, ...icmp } = e;
    return { ...base, ...(quoted ? { flow: quoted } : {}), icmp };
  }
  if (kind === 'fib') {
    const flow = syntheticFlow(header);
    const gwFamily = rec[FIB_REC.GW_FAMILY]!; // AF_INET 2, AF_INET6 10
    const gw = gwFamily === 2 ? formatAddress(rec.subarray(FIB_REC.GW, FIB_REC.GW + 4)) : gwFamily === 10 ? formatAddress(rec.subarray(FIB_REC.GW, FIB_REC.GW + 16)) : undefined;
    // IPv4 records carry fib_table_lookup's err; IPv6 ones the route type of the result (include/uapi/linux/rtnetlink.h)
    const v6 = flow?.family === 6;
    const rtnType = rec[FIB_REC.RTN_TYPE]!;
    const err = v6 ? RTN_RESULT[rtnType] ?? 0 : v.getInt32(REC.LOCATION, true);
    const fib = {
      table: v.getUint32(REC.REASON, true),
      err,
      oif: v.getInt32(FIB_REC.OIF, true),
      iif: v.getInt32(FIB_REC.IIF, true),
      ...(gw !== undefined && !/^(0\.0\.0\.0|::)$/.test(gw) ? { gateway: gw } : {}),
    };
    return flow ? { ...base, flow, fib } : { ...base, fib };
  }
  const flow = flowOf(header);
  if (kind === 'drop') {
    const code = v.getUint32(REC.REASON, true);
    return { ...base, ...(flow ? { flow } : {}), reason: reasons.get(code) ?? `REASON_${code}`, reasonCode: code, ...where };
  }
  return { ...base, ...(flow ? { flow } : {}), ...where };
}
