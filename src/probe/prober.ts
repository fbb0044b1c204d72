/**
 * The thin I/O shell under the pure search: sends one probe at a time with a
 * chosen size and TTL, waits up to `waitMs` for its answer (retrying
 * `attempts` times on silence) and returns a ProbeOutcome. Answers are read
 * on the event loop from a raw ICMP socket (every ICMP error and echo reply
 * the host gets) and, for TCP probes, a raw TCP socket (the SYN-ACK or RST).
 *
 * Also the route lookup that gives the probes their source address, the
 * outgoing interface and its MTU, over rtnetlink.
 */
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { NetlinkSocket } from '../net/netlink-socket.js';
import { ProbeSocket } from '../net/probe-socket.js';
import { NETLINK } from '../wire/netlink.js';
import { RTM } from '../wire/rtnetlink.js';
import { decodeRoute, getRoute } from '../wire/rtnl-route.js';
import { decodeLink, getLink } from '../wire/rtnl-link.js';
import { formatAddress } from '../wire/ip-address.js';
import { NetlinkError, SyscallError, UnsupportedError } from '../errors.js';
import type { FdWatch } from '../sys/libc.js';
import type { ProbeOutcome } from './pmtu-search.js';
import type { ProbeProtocol } from './pmtu-result.js';
import { buildProbe, matchAnswer, type Answer, type BuiltProbe, type ProbeSpec } from './probe-packet.js';

export interface RouteInfo {
  readonly source: Uint8Array;
  readonly ifindex: number;
  readonly interface: string;
  /** The outgoing interface's MTU. */
  readonly mtu: number;
}

/**
 * The route to `dst`: preferred source, outgoing interface and its MTU.
 * Equivalent to: `ip route get DST` then `ip link show dev IFACE`.
 */
export async function routeInfo(dst: Uint8Array): Promise<RouteInfo> {
  const nl = NetlinkSocket.open(NETLINK.ROUTE);
  try {
    const req = getRoute(dst);
    let replies;
    try {
      replies = await nl.request(req.type, req.flags, req.fixed, req.attrs);
    } catch (err) {
      if (err instanceof NetlinkError) throw new UnsupportedError('route', `no route to ${formatAddress(dst)} (${err.errnoName})`);
      throw err;
    }
    const m = replies.find((r) => r.type === RTM.NEWROUTE);
    const route = m ? decodeRoute(m) : undefined;
    if (route?.oif === undefined) throw new UnsupportedError('route', `no route to ${formatAddress(dst)}`);
    if (route.prefsrc === undefined) throw new UnsupportedError('route', `the route to ${formatAddress(dst)} has no source address`);
    const lreq = getLink(route.oif);
    const lm = (await nl.request(lreq.type, lreq.flags, lreq.fixed, lreq.attrs)).find((r) => r.type === RTM.NEWLINK);
    const link = lm ? decodeLink(lm) : undefined;
    if (link?.mtu === undefined) throw new UnsupportedError('route', `interface ${route.oif} reports no MTU`);
    return { source: route.prefsrc, ifindex: route.oif, interface: link.name ?? `if${route.oif}`, mtu: link.mtu };
  } finally {
    nl.close();
  }
}

export interface ProberOptions {
  readonly family: 4 | 6;
  readonly proto: ProbeProtocol;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /** UDP / TCP destination port. */
  readonly port: number;
  readonly attempts: number;
  readonly waitMs: number;
  /** Clock in milliseconds; default performance.now. */
  readonly now?: () => number;
}

interface Pending {
  readonly probe: BuiltProbe;
  readonly done: (a: Answer) => void;
}

export class Prober {
  readonly spec: ProbeSpec;
  /** Probes sent so far (retries included). */
  sent = 0;
  private readonly opts: ProberOptions;
  private readonly icmp: ProbeSocket;
  private readonly sender: ProbeSocket;
  private readonly watches: FdWatch[] = [];
  private readonly now: () => number;
  private pending: Pending | undefined;
  private seq = 0;

  private constructor(opts: ProberOptions, icmp: ProbeSocket, sender: ProbeSocket) {
    this.opts = opts;
    this.icmp = icmp;
    this.sender = sender;
    this.now = opts.now ?? (() => performance.now());
    const srcPort = opts.proto === 'udp' ? sender.port : opts.proto === 'tcp' ? randomInt(32768, 61000) : 0;
    this.spec = { family: opts.family, proto: opts.proto, src: opts.src, dst: opts.dst, srcPort, dstPort: opts.port, ident: randomInt(1, 0xffff) };
    this.watches.push(icmp.onReadable(() => this.drain(icmp, 'icmp')));
    if (opts.proto === 'tcp') this.watches.push(sender.onReadable(() => this.drain(sender, 'tcp')));
  }

  /** Opens the sockets (CAP_NET_RAW) in the calling thread's network namespace. */
  static open(opts: ProberOptions): Prober {
    const icmp = ProbeSocket.open({ family: opts.family, kind: 'icmp' });
    let sender: ProbeSocket;
    try {
      sender = opts.proto === 'icmp' ? icmp : ProbeSocket.open({ family: opts.family, kind: opts.proto, address: opts.src });
    } catch (err) {
      icmp.close();
      throw err;
    }
    return new Prober(opts, icmp, sender);
  }

  private drain(sock: ProbeSocket, source: 'icmp' | 'tcp'): void {
    for (;;) {
      const pkt = sock.receive();
      if (pkt === undefined) return;
      const p = this.pending;
      if (p === undefined) continue;
      const a = matchAnswer(this.spec, p.probe, source, pkt.data, pkt.from);
      if (a !== undefined) {
        this.pending = undefined;
        p.done(a);
      }
    }
  }

  /** Sends one probe and waits for its answer; undefined after waitMs of silence. */
  private once(size: number, ttl: number): Promise<{ answer: Answer; rttMs: number } | 'local-too-big' | undefined> {
    const probe = buildProbe(this.spec, size, ++this.seq);
    this.sender.setTtl(ttl);
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const sentAt = this.now();
      this.pending = {
        probe,
        done: (answer) => {
          clearTimeout(timer);
          resolve({ answer, rttMs: this.now() - sentAt });
        },
      };
      try {
        this.sent++;
        this.sender.send(probe.data, this.spec.dst, this.spec.dstPort);
      } catch (err) {
        this.pending = undefined;
        if (err instanceof SyscallError && err.errnoName === 'EMSGSIZE') resolve('local-too-big');
        else reject(err);
        return;
      }
      timer = setTimeout(() => {
        this.pending = undefined;
        resolve(undefined);
      }, this.opts.waitMs);
    });
  }

  /** One probe of `size` bytes with TTL `ttl`, retried on silence; its outcome. */
  async probe(size: number, ttl: number): Promise<ProbeOutcome> {
    for (let attempt = 1; attempt <= this.opts.attempts; attempt++) {
      const r = await this.once(size, ttl);
      if (r === 'local-too-big') return { kind: 'local-too-big' };
      if (r === undefined) continue;
      const { answer, rttMs } = r;
      const rtt = Math.round(rttMs * 1000) / 1000;
      switch (answer.kind) {
        case 'reply':
        case 'time-exceeded':
          return { kind: answer.kind, from: answer.from, rttMs: rtt };
        case 'too-big':
          return answer.reason === undefined
            ? { kind: 'too-big', from: answer.from, mtu: answer.mtu, valid: answer.valid, rttMs: rtt }
            : { kind: 'too-big', from: answer.from, mtu: answer.mtu, valid: answer.valid, reason: answer.reason, rttMs: rtt };
        case 'unreachable':
          return { kind: 'unreachable', from: answer.from, code: answer.code, rttMs: rtt };
      }
    }
    return { kind: 'silence' };
  }

  close(): void {
    for (const w of this.watches) w.close();
    if (this.sender !== this.icmp) this.sender.close();
    this.icmp.close();
  }
}
