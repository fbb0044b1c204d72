/**
 * `probe ipip REALSERVER --vip VIP --port PORT`: sends what an LVS director in
 * tunnel mode sends, an IPIP (IPv4, protocol 4) or IP6IP6 (IPv6, next header
 * 41) packet from this host to the realserver whose inner packet is a TCP SYN
 * from this host to VIP:PORT with an MSS option, and waits for the
 * realserver's direct answer: a SYN-ACK from VIP:PORT (its MSS is reported),
 * a RST (nothing listens), or an ICMP error about the outer packet. The
 * half-open connection is then reset with an encapsulated RST (this host's
 * kernel, which owns no socket for the flow, also answers the SYN-ACK with a
 * RST of its own when it has a route back to the VIP).
 */
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ProbeSocket } from '../net/probe-socket.js';
import { decodeIPv4, encodeIPv4, IPPROTO } from '../wire/ipv4.js';
import { decodeIPv6, encodeIPv6 } from '../wire/ipv6.js';
import { decodeIcmpv4, ICMP } from '../wire/icmpv4.js';
import { decodeIcmpv6, ICMPV6 } from '../wire/icmpv6.js';
import { decodeTcp, encodeTcp, mssOption, TCP_FLAGS, type TcpSegment } from '../wire/tcp.js';
import { addressEqual, formatAddress } from '../wire/ip-address.js';
import { encapsulate, tunnelProtocol } from '../wire/ip-tunnel.js';
import { DecodeError } from '../errors.js';
import type { FdWatch } from '../sys/libc.js';
import type { IpipConfig } from './config.js';
import { optionKinds } from './mss-run.js';
import { routeInfo } from './prober.js';

export interface IpipSynSpec {
  /** This host: outer and inner source. */
  readonly src: Uint8Array;
  readonly realserver: Uint8Array;
  readonly vip: Uint8Array;
  readonly port: number;
  readonly srcPort: number;
  readonly seq: number;
  readonly mss: number;
  /** Inner IPv4 id. */
  readonly id?: number;
  /** TCP flags; default SYN. */
  readonly flags?: number;
  readonly ack?: number;
}

/** The inner packet: a TCP SYN (or, with flags, the RST) from this host to VIP:PORT, DF set on IPv4. */
export function buildInnerSyn(s: IpipSynSpec): Uint8Array {
  const flags = s.flags ?? TCP_FLAGS.SYN;
  const tcp = encodeTcp(
    {
      srcPort: s.srcPort,
      dstPort: s.port,
      seq: s.seq,
      ...(s.ack !== undefined ? { ack: s.ack } : {}),
      flags,
      ...(flags === TCP_FLAGS.SYN ? { options: [mssOption(s.mss)] } : { window: 0 }),
    },
    { src: s.src, dst: s.vip },
  );
  return s.vip.byteLength === 4
    ? encodeIPv4({ protocol: IPPROTO.TCP, src: s.src, dst: s.vip, ttl: 64, id: s.id ?? 0, dontFragment: true, payload: tcp })
    : encodeIPv6({ protocol: IPPROTO.TCP, src: s.src, dst: s.vip, hopLimit: 64, payload: tcp });
}

/** The whole packet on the wire (outer header as encapsulate() builds it; the kernel picks its own outer IPv4 id). */
export function buildIpipSyn(s: IpipSynSpec, outerId = 0): Uint8Array {
  return encapsulate({ src: s.src, dst: s.realserver, ttl: 64, id: outerId }, buildInnerSyn(s));
}

export interface IpipResult {
  readonly ok: boolean;
  readonly family: 4 | 6;
  readonly realserver: string;
  readonly vip: string;
  readonly port: number;
  readonly source: string;
  /** The outer protocol: 4 (IPIP) or 41 (IP6IP6). */
  readonly encapsulation: number;
  readonly synMss: number;
  /** syn-ack, rst, icmp or silence. */
  readonly answer: 'syn-ack' | 'rst' | 'icmp' | 'silence';
  readonly rttMs?: number;
  /** MSS option of the SYN-ACK. */
  readonly mss?: number;
  readonly options?: readonly number[];
  readonly icmp?: { readonly from: string; readonly type: number; readonly code: number; readonly meaning: string };
  readonly hints: readonly string[];
}

type Heard =
  | { readonly kind: 'tcp'; readonly tcp: TcpSegment }
  | { readonly kind: 'icmp'; readonly from: string; readonly type: number; readonly code: number; readonly meaning: string };

/** A SYN-ACK or RST from VIP:PORT to our port acknowledging `seq`. */
export function answerTcp(family: 4 | 6, data: Uint8Array, from: Uint8Array, s: IpipSynSpec): TcpSegment | undefined {
  try {
    if (!addressEqual(from, s.vip)) return undefined;
    let seg = data;
    if (family === 4) {
      const ip = decodeIPv4(data);
      if (ip.protocol !== IPPROTO.TCP) return undefined;
      seg = ip.payload;
    }
    const t = decodeTcp(seg);
    if (t.srcPort !== s.port || t.dstPort !== s.srcPort) return undefined;
    if ((t.flags & TCP_FLAGS.ACK) === 0 || t.ack !== ((s.seq + 1) >>> 0)) return undefined;
    return (t.flags & (TCP_FLAGS.SYN | TCP_FLAGS.RST)) !== 0 ? { ...t, options: t.options.slice() } : undefined;
  } catch (err) {
    if (err instanceof DecodeError) return undefined;
    throw err;
  }
}

/** An ICMP error about our outer packet (to the realserver, protocol 4 / 41) or about the inner SYN. */
export function answerIcmp(family: 4 | 6, data: Uint8Array, from: Uint8Array, s: IpipSynSpec): Heard | undefined {
  try {
    let type: number;
    let code: number;
    let body: Uint8Array;
    if (family === 4) {
      const ip = decodeIPv4(data);
      if (ip.protocol !== IPPROTO.ICMP) return undefined;
      const m = decodeIcmpv4(ip.payload);
      if (m.type !== ICMP.DEST_UNREACH && m.type !== ICMP.TIME_EXCEEDED && m.type !== ICMP.PARAMETERPROB) return undefined;
      ({ type, code, body } = m);
      const q = decodeIPv4(body, { quoted: true });
      const outer = q.protocol === IPPROTO.IPIP && addressEqual(q.dst, s.realserver);
      const inner = q.protocol === IPPROTO.TCP && addressEqual(q.dst, s.vip);
      if (!outer && !inner) return undefined;
    } else {
      const m = decodeIcmpv6(data);
      if (m.type !== ICMPV6.DEST_UNREACH && m.type !== ICMPV6.TIME_EXCEED && m.type !== ICMPV6.PARAMPROB && m.type !== ICMPV6.PKT_TOOBIG) return undefined;
      ({ type, code, body } = m);
      const q = decodeIPv6(body, { quoted: true });
      const outer = addressEqual(q.dst, s.realserver);
      const inner = q.protocol === IPPROTO.TCP && addressEqual(q.dst, s.vip);
      if (!outer && !inner) return undefined;
    }
    return { kind: 'icmp', from: formatAddress(from), type, code, meaning: icmpMeaning(family, type, code) };
  } catch (err) {
    if (err instanceof DecodeError) return undefined;
    throw err;
  }
}

export function icmpMeaning(family: 4 | 6, type: number, code: number): string {
  if (family === 4) {
    if (type === ICMP.DEST_UNREACH && code === ICMP.PROT_UNREACH) return 'protocol unreachable: nothing on the realserver accepts IP protocol 4 (no ipip device or module)';
    if (type === ICMP.DEST_UNREACH && (code === ICMP.PKT_FILTERED || code === ICMP.HOST_ANO || code === ICMP.NET_ANO)) return 'administratively prohibited: a firewall rejects the packet';
    if (type === ICMP.DEST_UNREACH && code === ICMP.FRAG_NEEDED) return 'fragmentation needed: the encapsulated packet does not fit';
    if (type === ICMP.DEST_UNREACH) return `destination unreachable (code ${code})`;
    if (type === ICMP.TIME_EXCEEDED) return 'time exceeded: a routing loop or a path longer than the TTL';
    return `parameter problem (code ${code})`;
  }
  if (type === ICMPV6.PARAMPROB && code === ICMPV6.UNK_NEXTHDR) return 'unknown next header: nothing on the realserver accepts next header 41 (no ip6tnl device or module)';
  if (type === ICMPV6.DEST_UNREACH && (code === ICMPV6.ADM_PROHIBITED || code === ICMPV6.POLICY_FAIL || code === ICMPV6.REJECT_ROUTE)) return 'administratively prohibited: a firewall rejects the packet';
  if (type === ICMPV6.PKT_TOOBIG) return 'packet too big: the encapsulated packet does not fit';
  if (type === ICMPV6.DEST_UNREACH) return `destination unreachable (code ${code})`;
  if (type === ICMPV6.TIME_EXCEED) return 'time exceeded: a routing loop or a path longer than the hop limit';
  return `parameter problem (code ${code})`;
}

/** What to check on the realserver, given what came back. */
export function ipipHints(family: 4 | 6, answer: IpipResult['answer'], source: string, vip: string, port: number): string[] {
  const proto = family === 4 ? 'IP protocol 4 (IPIP)' : 'next header 41 (IPv6-in-IPv6)';
  const dev = family === 4 ? 'ipip0' : 'ip6tnl0';
  switch (answer) {
    case 'syn-ack':
      return [];
    case 'rst':
      return [`the realserver decapsulated the packet but nothing listens on ${vip} port ${port}: check the service is bound to the VIP (or to the wildcard address)`];
    case 'icmp':
    case 'silence':
      return [
        `a firewall on the realserver (or on the way) must accept ${proto} from ${source}`,
        `the realserver needs a decapsulation device (${dev}, in external/collect-metadata mode) and the ${family === 4 ? 'ipip' : 'ip6_tunnel'} module`,
        ...(family === 4
          ? [`reverse-path filtering must let decapsulated packets in: net.ipv4.conf.all.rp_filter and net.ipv4.conf.${dev}.rp_filter (the kernel uses the larger of the two) must be 0 or 2`]
          : []),
        `${vip} must be configured on the realserver (usually on lo, with arp_ignore=1 / arp_announce=2 for IPv4)`,
        `the realserver's reply from ${vip} to ${source} must be routed back to this host`,
      ];
  }
}

export async function runIpip(cfg: IpipConfig): Promise<IpipResult> {
  const family = cfg.realserver.byteLength === 4 ? 4 : 6;
  const route = await routeInfo(cfg.realserver);
  const spec: IpipSynSpec = {
    src: route.source,
    realserver: cfg.realserver,
    vip: cfg.vip,
    port: cfg.port,
    srcPort: randomInt(32768, 61000),
    seq: randomInt(0, 0xffffffff),
    mss: cfg.mss,
    id: randomInt(0, 0xffff),
  };
  const tunnel = ProbeSocket.open({ family, kind: 'ipip' });
  const sockets = [tunnel];
  const watches: FdWatch[] = [];
  const base = {
    family,
    realserver: formatAddress(cfg.realserver),
    vip: formatAddress(cfg.vip),
    port: cfg.port,
    source: formatAddress(route.source),
    encapsulation: tunnelProtocol(family),
    synMss: cfg.mss,
  } as const;
  try {
    const tcp = ProbeSocket.open({ family, kind: 'tcp' });
    sockets.push(tcp);
    const icmp = ProbeSocket.open({ family, kind: 'icmp' });
    sockets.push(icmp);
    let onHeard: ((h: Heard) => void) | undefined;
    watches.push(
      tcp.onReadable(() => {
        for (let p = tcp.receive(); p !== undefined; p = tcp.receive()) {
          const t = answerTcp(family, p.data, p.from, spec);
          if (t) onHeard?.({ kind: 'tcp', tcp: t });
        }
      }),
      icmp.onReadable(() => {
        for (let p = icmp.receive(); p !== undefined; p = icmp.receive()) {
          const h = answerIcmp(family, p.data, p.from, spec);
          if (h) onHeard?.(h);
        }
      }),
    );
    const inner = buildInnerSyn(spec);
    let heard: Heard | undefined;
    let rttMs: number | undefined;
    for (let i = 0; i < cfg.attempts && heard === undefined; i++) {
      const t0 = performance.now();
      heard = await new Promise<Heard | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), cfg.waitMs);
        onHeard = (h) => {
          clearTimeout(timer);
          resolve(h);
        };
        tunnel.send(inner, cfg.realserver);
      });
      onHeard = undefined;
      rttMs = Math.round((performance.now() - t0) * 1000) / 1000;
    }
    if (heard === undefined) return { ...base, ok: false, answer: 'silence', hints: ipipHints(family, 'silence', base.source, base.vip, cfg.port) };
    if (heard.kind === 'icmp') {
      const { kind: _k, ...icmpInfo } = heard;
      return { ...base, ok: false, answer: 'icmp', rttMs: rttMs!, icmp: icmpInfo, hints: ipipHints(family, 'icmp', base.source, base.vip, cfg.port) };
    }
    const t = heard.tcp;
    if ((t.flags & TCP_FLAGS.RST) !== 0) return { ...base, ok: false, answer: 'rst', rttMs: rttMs!, hints: ipipHints(family, 'rst', base.source, base.vip, cfg.port) };
    // reset the half-open connection on the realserver, through the tunnel as the director would
    tunnel.send(buildInnerSyn({ ...spec, flags: TCP_FLAGS.RST, seq: t.ack }), cfg.realserver);
    return {
      ...base,
      ok: true,
      answer: 'syn-ack',
      rttMs: rttMs!,
      ...(t.mss !== undefined ? { mss: t.mss } : {}),
      options: optionKinds(t.options),
      hints: [],
    };
  } finally {
    for (const w of watches) w.close();
    for (const s of sockets) s.close();
  }
}

export function renderIpipText(r: IpipResult): string {
  const enc = r.family === 4 ? 'IPIP' : 'IP6IP6';
  const head = `${enc} ${r.source} -> ${r.realserver}, inner SYN to ${r.vip} port ${r.port} (MSS ${r.synMss})`;
  const lines = [head];
  switch (r.answer) {
    case 'syn-ack':
      lines.push(`ok: SYN-ACK from ${r.vip} port ${r.port} in ${r.rttMs} ms, MSS ${r.mss ?? 'none'}; the half-open connection was reset`);
      break;
    case 'rst':
      lines.push(`failed: RST from ${r.vip} port ${r.port} in ${r.rttMs} ms`);
      break;
    case 'icmp':
      lines.push(`failed: ICMP from ${r.icmp!.from}: ${r.icmp!.meaning}`);
      break;
    case 'silence':
      lines.push('failed: no answer');
      break;
  }
  if (r.hints.length > 0) lines.push('check:', ...r.hints.map((h) => `  - ${h}`));
  return lines.join('\n');
}
