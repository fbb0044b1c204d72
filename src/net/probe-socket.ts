/**
 * Sockets for active probes (`pathguard probe`): one packet at a time, a
 * chosen TTL / hop limit per packet, and sizes the kernel's cached path MTU
 * cannot skew.
 *
 * Every socket is put in IP_PMTUDISC_PROBE / IPV6_PMTUDISC_PROBE mode
 * (include/uapi/linux/in.h, in6.h): DF is set on IPv4, nothing is fragmented
 * locally, and the size limit is the device MTU rather than the route's
 * learned PMTU (ip_sk_use_pmtu() in include/net/ip.h, ip6_skb_dst_mtu() in
 * include/net/ip6_route.h). Without it, a too-big message from an earlier
 * probe would make the kernel refuse (EMSGSIZE) every later probe above that
 * MTU, and the search could never see the path widen again (iputils#448).
 *
 * Kinds:
 *   udp   SOCK_DGRAM bound to an ephemeral port; the kernel builds the IP and
 *         UDP headers and computes the checksum.
 *   icmp  SOCK_RAW IPPROTO_ICMP / IPPROTO_ICMPV6: sends echo requests and
 *         receives every ICMP message the host gets (errors for the other
 *         kinds' probes included). IPv4 reads start at the IP header
 *         (raw(7)); IPv6 reads start at the ICMPv6 header and the kernel
 *         computes the ICMPv6 checksum on send. An ICMP6_FILTER passes only
 *         the error types and echo replies.
 *   tcp   SOCK_RAW IPPROTO_TCP: sends segments built by the caller (IPv4:
 *         with their checksum; IPv6: IPV6_CHECKSUM at offset 16 makes the
 *         kernel compute it) and receives a copy of every TCP segment the
 *         host gets, so a SYN-ACK can be read while the kernel, which owns no
 *         socket for it, answers it with a RST.
 *   ipip  SOCK_RAW IPPROTO_IPIP (IPv4) / IPPROTO_IPV6 (IPv6): the kernel adds
 *         the outer header of that protocol to the inner packet sent.
 */
import { bind, close, getsockname, recvfrom, sendto, setsockopt, socket, watchFd, SOCK, WOULD_BLOCK, type FdWatch } from '../sys/libc.js';
import { AF, decodeSockaddrIn, encodeSockaddrIn } from '../wire/sockaddr.js';
import { IPPROTO } from '../wire/ipv4.js';
import { ICMPV6 } from '../wire/icmpv6.js';

/** IPPROTO_IP options (include/uapi/linux/in.h). */
const IP_TTL = 2; // #define IP_TTL 2
const IP_MTU_DISCOVER = 10; // #define IP_MTU_DISCOVER 10
const IP_PMTUDISC_PROBE = 3; // #define IP_PMTUDISC_PROBE 3: ignore the dst pmtu
/** IPPROTO_IPV6 options (include/uapi/linux/in6.h). */
const IPV6_CHECKSUM = 7; // #define IPV6_CHECKSUM 7
const IPV6_UNICAST_HOPS = 16; // #define IPV6_UNICAST_HOPS 16
const IPV6_MTU_DISCOVER = 23; // #define IPV6_MTU_DISCOVER 23
const IPV6_PMTUDISC_PROBE = 3; // #define IPV6_PMTUDISC_PROBE 3
const IPV6_V6ONLY = 26; // #define IPV6_V6ONLY 26
/** ICMP6_FILTER (include/uapi/linux/icmpv6.h), a SOL_ICMPV6 option. */
const ICMP6_FILTER = 1; // #define ICMP6_FILTER 1

export const PROBE_SOCKET_KINDS = ['udp', 'icmp', 'tcp', 'ipip'] as const;
export type ProbeSocketKind = (typeof PROBE_SOCKET_KINDS)[number];

export interface ProbeSocketOptions {
  readonly family: 4 | 6;
  readonly kind: ProbeSocketKind;
  /** Local address to bind (udp only); default the wildcard. */
  readonly address?: Uint8Array;
}

/** One packet read: a view into the socket's buffer, valid until the next read. */
export interface ReceivedPacket {
  readonly data: Uint8Array;
  /** The source address (4 or 16 bytes, a copy). */
  readonly from: Uint8Array;
}

function protocolOf(family: 4 | 6, kind: ProbeSocketKind): number {
  switch (kind) {
    case 'udp':
      return IPPROTO.UDP;
    case 'icmp':
      return family === 4 ? IPPROTO.ICMP : IPPROTO.ICMPV6;
    case 'tcp':
      return IPPROTO.TCP;
    case 'ipip':
      return family === 4 ? IPPROTO.IPIP : IPPROTO.IPV6;
  }
}

/**
 * struct icmp6_filter (include/uapi/linux/icmpv6.h): 256 bits, a set bit
 * blocks that type (ICMP6_FILTER_WILLBLOCK). Passes the four error types and
 * echo replies.
 */
function icmp6Filter(): Uint8Array {
  const f = new Uint8Array(32).fill(0xff);
  for (const t of [ICMPV6.DEST_UNREACH, ICMPV6.PKT_TOOBIG, ICMPV6.TIME_EXCEED, ICMPV6.PARAMPROB, ICMPV6.ECHO_REPLY]) {
    f[t >> 3]! &= ~(1 << (t & 7));
  }
  return f;
}

export class ProbeSocket {
  readonly family: 4 | 6;
  readonly kind: ProbeSocketKind;
  readonly fd: number;
  /** The bound local port (udp); 0 for raw kinds. */
  readonly port: number;
  private readonly buf = new Uint8Array(65536);
  private readonly name = new Uint8Array(28);
  private readonly nameLen = new Uint32Array(1);
  private ttl = -1;
  private closed = false;

  private constructor(family: 4 | 6, kind: ProbeSocketKind, fd: number, port: number) {
    this.family = family;
    this.kind = kind;
    this.fd = fd;
    this.port = port;
  }

  /** Opens the socket in the calling thread's network namespace; raw kinds need CAP_NET_RAW. */
  static open(opts: ProbeSocketOptions): ProbeSocket {
    const { family, kind } = opts;
    const type = (kind === 'udp' ? SOCK.DGRAM : SOCK.RAW) | SOCK.NONBLOCK | SOCK.CLOEXEC;
    const fd = socket(family === 4 ? AF.INET : AF.INET6, type, protocolOf(family, kind));
    try {
      if (family === 4) {
        setsockopt(fd, IPPROTO.IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE, 'IP_MTU_DISCOVER');
      } else {
        setsockopt(fd, IPPROTO.IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_PROBE, 'IPV6_MTU_DISCOVER');
        if (kind === 'udp') setsockopt(fd, IPPROTO.IPV6, IPV6_V6ONLY, 1, 'IPV6_V6ONLY');
        if (kind === 'icmp') setsockopt(fd, IPPROTO.ICMPV6, ICMP6_FILTER, icmp6Filter(), 'ICMP6_FILTER');
        // the TCP checksum field sits at offset 16 of the segment (RFC 3542 §3.1)
        if (kind === 'tcp') setsockopt(fd, IPPROTO.IPV6, IPV6_CHECKSUM, 16, 'IPV6_CHECKSUM');
      }
      let port = 0;
      if (kind === 'udp') {
        bind(fd, encodeSockaddrIn(opts.address ?? new Uint8Array(family === 4 ? 4 : 16), 0));
        port = decodeSockaddrIn(getsockname(fd)).port;
      }
      return new ProbeSocket(family, kind, fd, port);
    } catch (err) {
      close(fd);
      throw err;
    }
  }

  /** Sets the TTL / hop limit of the packets sent from now on (IP_TTL / IPV6_UNICAST_HOPS). */
  setTtl(ttl: number): void {
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) throw new RangeError(`TTL ${ttl} is not 1..255`);
    if (ttl === this.ttl) return;
    if (this.family === 4) setsockopt(this.fd, IPPROTO.IP, IP_TTL, ttl, 'IP_TTL');
    else setsockopt(this.fd, IPPROTO.IPV6, IPV6_UNICAST_HOPS, ttl, 'IPV6_UNICAST_HOPS');
    this.ttl = ttl;
  }

  /**
   * Sends one packet to `dst` (port: udp only; raw sockets take 0). Returns
   * false when the socket buffer is full; throws SyscallError otherwise
   * (EMSGSIZE: larger than the outgoing device's MTU).
   */
  send(data: Uint8Array, dst: Uint8Array, port = 0): boolean {
    if (dst.byteLength !== (this.family === 4 ? 4 : 16)) throw new RangeError(`destination of ${dst.byteLength} bytes on an IPv${this.family} socket`);
    return sendto(this.fd, data, encodeSockaddrIn(dst, this.kind === 'udp' ? port : 0)) !== WOULD_BLOCK;
  }

  /** Reads one waiting packet, or undefined when none is waiting. */
  receive(): ReceivedPacket | undefined {
    const n = recvfrom(this.fd, this.buf, this.name, this.nameLen);
    if (n === WOULD_BLOCK) return undefined;
    const from = decodeSockaddrIn(this.name.subarray(0, this.nameLen[0])).address;
    return { data: this.buf.subarray(0, Math.min(n, this.buf.length)), from };
  }

  /** Calls `cb` on the event loop while packets are waiting (drain with receive()). */
  onReadable(cb: () => void): FdWatch {
    return watchFd(this.fd, cb);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    close(this.fd);
  }
}
