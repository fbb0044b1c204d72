/**
 * Raw IP sockets that originate ICMP messages to many destinations with a
 * chosen TTL / hop limit, batched with sendmmsg(2): the relay's `ip`
 * transport (raw(7), ipv6(7), RFC 3542 §3).
 *
 * IPv4: socket(AF_INET, SOCK_RAW, IPPROTO_RAW). IPPROTO_RAW implies
 * IP_HDRINCL, so each message is a full IPv4 header we write followed by the
 * ICMP message. Per raw(7) the kernel always fills in the header checksum
 * and the total length, and fills the source address and the ID when we
 * leave them 0 — which we do, so the source is the one the route lookup
 * picks, as for any locally originated packet. The packet still traverses
 * netfilter's OUTPUT hook (raw_send_hdrinc() in net/ipv4/raw.c) and is not
 * fragmented: larger than the route MTU is EMSGSIZE. An IPPROTO_RAW socket
 * never receives, so it costs nothing on the receive path.
 *
 * IPv6: socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6) and the kernel builds the
 * IPv6 header. Decided over IPPROTO_RAW with a hand-built header because the
 * ICMPv6 checksum covers the source address (RFC 4443 §2.3), which only the
 * kernel's route lookup knows: on an ICMPv6 raw socket the kernel always
 * computes the checksum at offset 2 (rawv6_init_sk() sets it; IPV6_CHECKSUM
 * cannot be changed on such a socket, RFC 3542 §3.1), subtracting whatever
 * the field held, so the caller's checksum field is ignored. (IPV6_HDRINCL
 * only exists from Linux 4.5 anyway.) The hop limit is set per message with
 * an IPV6_HOPLIMIT control message, so one batch can mix hop limits. Because
 * an ICMPv6 raw socket would otherwise receive a copy of every ICMPv6 packet
 * the host gets, an ICMP6_FILTER that blocks every type keeps its receive
 * queue empty.
 */
import { close, setsockopt, socket, ERRNO, SO, SOCK, SOL } from '../sys/libc.js';
import { AF, SOCKADDR_IN6_LEN, SOCKADDR_IN_LEN } from '../wire/sockaddr.js';
import { IPPROTO, IPV4_HEADER_MIN } from '../wire/ipv4.js';
import { BatchSender, type SendReport } from './batch-sender.js';

/** ICMP6_FILTER (include/uapi/linux/icmpv6.h), a SOL_ICMPV6 (= IPPROTO_ICMPV6) option. */
const ICMP6_FILTER = 1; // #define ICMP6_FILTER 1
/** IPV6_HOPLIMIT (include/uapi/linux/in6.h): the hop limit as ancillary data. */
const IPV6_HOPLIMIT = 52; // #define IPV6_HOPLIMIT 52

/*
 * One control message per slot (include/linux/socket.h, LP64):
 *   struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; }  16 bytes
 * then an int; CMSG_LEN(4) = 20, CMSG_SPACE(4) = 24.
 */
const CMSG_HOPLIMIT_LEN = 20;
const CMSG_HOPLIMIT_SPACE = 24;

export interface RawIpSenderOptions {
  readonly family: 4 | 6;
  /** Most messages per send call (the sendmmsg vlen). Default 64. */
  readonly batch?: number;
  /** Largest ICMP message accepted over IPv4 (it is copied behind the header). Default 2028. */
  readonly maxMessage?: number;
  /** SO_MARK for every packet (needs CAP_NET_ADMIN), so nftables can recognise replicas. */
  readonly mark?: number;
}

/** One ICMP message to originate. */
export interface IcmpDatagram {
  /** Destination address: 4 bytes on an IPv4 sender, 16 on IPv6. */
  readonly dst: Uint8Array;
  /** The ICMP/ICMPv6 message, header and body. IPv4: sent as is (checksum included); IPv6: the kernel rewrites the checksum. */
  readonly icmp: Uint8Array;
  /** TTL / hop limit, 1-255. */
  readonly ttl: number;
}

export class RawIpSender {
  readonly family: 4 | 6;
  readonly fd: number;
  readonly batchSize: number;
  private readonly out: BatchSender;
  private readonly maxMessage: number;
  private closed = false;

  private constructor(family: 4 | 6, fd: number, batchSize: number, maxMessage: number) {
    this.family = family;
    this.fd = fd;
    this.batchSize = batchSize;
    this.maxMessage = maxMessage;
    this.out =
      family === 4
        ? new BatchSender({ slots: batchSize, dataSize: IPV4_HEADER_MIN + maxMessage, nameSize: SOCKADDR_IN_LEN })
        : new BatchSender({ slots: batchSize, dataSize: 0, nameSize: SOCKADDR_IN6_LEN, controlSize: CMSG_HOPLIMIT_SPACE });
    if (family === 4) {
      for (let i = 0; i < batchSize; i++) {
        const h = this.out.slotBuffer(i);
        h[0] = 0x45; // version 4, IHL 5; tos, id, flags, checksum, source: 0 (kernel-filled where it matters)
        h[9] = IPPROTO.ICMP;
      }
    } else {
      for (let i = 0; i < batchSize; i++) {
        const c = this.out.control(i);
        const v = new DataView(c.buffer, c.byteOffset, c.byteLength);
        v.setBigUint64(0, BigInt(CMSG_HOPLIMIT_LEN), true);
        v.setInt32(8, SOL.IPV6, true);
        v.setInt32(12, IPV6_HOPLIMIT, true);
      }
    }
  }

  /** Opens the socket in the calling thread's network namespace; needs CAP_NET_RAW. */
  static open(opts: RawIpSenderOptions): RawIpSender {
    const family = opts.family;
    const fd =
      family === 4
        ? socket(AF.INET, SOCK.RAW | SOCK.NONBLOCK | SOCK.CLOEXEC, IPPROTO.RAW)
        : socket(AF.INET6, SOCK.RAW | SOCK.NONBLOCK | SOCK.CLOEXEC, IPPROTO.ICMPV6);
    try {
      if (family === 6) {
        // struct icmp6_filter { __u32 data[8]; }: a set bit blocks that type (ICMP6_FILTER_SETBLOCKALL).
        setsockopt(fd, IPPROTO.ICMPV6, ICMP6_FILTER, new Uint8Array(32).fill(0xff), 'ICMP6_FILTER');
      }
      if (opts.mark !== undefined) setsockopt(fd, SOL.SOCKET, SO.MARK, opts.mark >>> 0, 'SO_MARK');
      const maxMessage = opts.maxMessage ?? 2028;
      if (!Number.isInteger(maxMessage) || maxMessage < 8 || maxMessage > 0xffff - IPV4_HEADER_MIN) {
        throw new RangeError(`maxMessage must be an integer in 8..${0xffff - IPV4_HEADER_MIN}, got ${maxMessage}`);
      }
      return new RawIpSender(family, fd, opts.batch ?? 64, maxMessage);
    } catch (err) {
      close(fd);
      throw err;
    }
  }

  /**
   * Sends each message (at most batchSize; more is a RangeError). A message
   * with a destination of the wrong family or a TTL outside 1-255 fails its
   * slot with EINVAL, an IPv4 message over maxMessage with EMSGSIZE, without
   * being sent; other failures carry the kernel's errno.
   */
  sendIcmp(messages: readonly IcmpDatagram[]): SendReport {
    this.out.begin(messages.length);
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      this.fill(i, m.dst, m.icmp, m.ttl);
    }
    return this.out.flush(this.fd);
  }

  /** Sends one ICMP message to every destination with the same TTL: one sendmmsg for all peers. */
  sendIcmpToEach(icmp: Uint8Array, ttl: number, dsts: readonly Uint8Array[]): SendReport {
    this.out.begin(dsts.length);
    for (let i = 0; i < dsts.length; i++) this.fill(i, dsts[i]!, icmp, ttl);
    return this.out.flush(this.fd);
  }

  private fill(i: number, dst: Uint8Array, icmp: Uint8Array, ttl: number): void {
    const out = this.out;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) {
      out.reject(i, ERRNO.EINVAL);
      return;
    }
    const name = out.name(i);
    if (this.family === 4) {
      if (dst.byteLength !== 4) {
        out.reject(i, ERRNO.EINVAL);
        return;
      }
      if (icmp.byteLength > this.maxMessage) {
        out.reject(i, ERRNO.EMSGSIZE);
        return;
      }
      // struct sockaddr_in: family (host order), port 0, address.
      name[0] = AF.INET;
      name[1] = 0;
      name[2] = 0;
      name[3] = 0;
      name.set(dst, 4);
      const p = out.slotBuffer(i);
      const total = IPV4_HEADER_MIN + icmp.byteLength;
      p[2] = total >> 8; // the kernel rewrites it, but a correct value costs nothing
      p[3] = total & 0xff;
      p[8] = ttl;
      p.set(dst, 16);
      p.set(icmp, IPV4_HEADER_MIN);
      out.own(i, total);
    } else {
      if (dst.byteLength !== 16) {
        out.reject(i, ERRNO.EINVAL);
        return;
      }
      // struct sockaddr_in6: family, port 0 (must be 0 or the protocol), flowinfo 0, address, scope 0.
      name.fill(0);
      name[0] = AF.INET6;
      name.set(dst, 8);
      out.control(i)[16] = ttl; // the int after the cmsghdr (little-endian; ttl < 256)
      out.data(i, icmp);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    close(this.fd);
  }
}
