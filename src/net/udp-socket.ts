/**
 * A non-blocking UDP socket with batched I/O: sendmmsg(2) for many
 * datagrams in one syscall, recvmmsg(2) for many in one read (udp(7), ipv6(7)).
 * It carries the relay's `udp` transport: the captured IP packet inside a
 * datagram to each peer's pathguard.
 *
 * node:dgram is not used because it sends and receives one datagram per
 * call through libuv, and the relay's data plane needs batches.
 *
 * Destinations are passed as encoded sockaddrs (UdpSocket.sockaddr(), or
 * encodeSockaddrIn from src/wire/sockaddr.ts), computed once per peer, so a
 * send only copies 16 or 28 bytes per datagram and allocates nothing. An
 * IPv6 socket is IPV6_V6ONLY: whatever net.ipv6.bindv6only says, it neither
 * sends to nor receives from IPv4-mapped addresses, so the two families never
 * share a port by accident.
 */
import {
  bind,
  close,
  getsockname,
  setsockopt,
  socket,
  watchFd,
  ERRNO,
  MSG,
  SO,
  SOCK,
  SOL,
  type FdWatch,
} from '../sys/libc.js';
import { MsgBatch } from '../sys/mmsg.js';
import { AF, decodeSockaddrIn, encodeSockaddrIn, SOCKADDR_IN6_LEN, SOCKADDR_IN_LEN, type SockaddrIn } from '../wire/sockaddr.js';
import { parseAddress } from '../wire/ip-address.js';
import { IPPROTO } from '../wire/ipv4.js';
import { BatchSender, type SendReport } from './batch-sender.js';

/** IPV6_V6ONLY (include/uapi/linux/in6.h). */
const IPV6_V6ONLY = 26; // #define IPV6_V6ONLY 26

export interface UdpSocketOptions {
  readonly family: 4 | 6;
  /** Local address, text or 4/16 bytes; default the wildcard (0.0.0.0 / ::). */
  readonly address?: string | Uint8Array;
  /** Local port; default 0 (the kernel picks one, see `port`). */
  readonly port?: number;
  /** Datagrams per send and per receive call (the sendmmsg/recvmmsg vlen). Default 64. */
  readonly batch?: number;
  /** Bytes kept per received datagram; longer ones are truncated (truncated(i)). Default 2048. */
  readonly maxDatagram?: number;
  /** SO_REUSEADDR. Default false. */
  readonly reuseAddress?: boolean;
  /** SO_RCVBUF in bytes (the kernel doubles it and caps it at net.core.rmem_max). */
  readonly receiveBuffer?: number;
  /** SO_MARK for every datagram (needs CAP_NET_ADMIN). */
  readonly mark?: number;
}

/** One datagram to send: `data` to the encoded sockaddr `to`. */
export interface Datagram {
  readonly data: Uint8Array;
  /** sockaddr_in (16 bytes) on an IPv4 socket, sockaddr_in6 (28 bytes) on IPv6. */
  readonly to: Uint8Array;
}

/** The datagrams of one receiveBatch(); every view is valid until the next receive. */
export interface ReceivedDatagrams {
  /** How many datagrams arrived (0: none waiting). */
  readonly count: number;
  /** Datagram `i`'s payload (a view, cut at maxDatagram). */
  data(i: number): Uint8Array;
  /** True when datagram `i` was longer than maxDatagram. */
  truncated(i: number): boolean;
  /** Datagram `i`'s source sockaddr as the kernel wrote it (a view; compare it with a peer's encoded sockaddr). */
  sourceName(i: number): Uint8Array;
  /** Datagram `i`'s source, decoded (allocates). */
  source(i: number): SockaddrIn;
}

class Received implements ReceivedDatagrams {
  count = 0;
  readonly batch: MsgBatch;

  constructor(batch: MsgBatch) {
    this.batch = batch;
  }

  private check(i: number): void {
    if (i < 0 || i >= this.count) throw new RangeError(`datagram ${i} is outside the last batch of ${this.count}`);
  }

  data(i: number): Uint8Array {
    this.check(i);
    return this.batch.received(i);
  }

  truncated(i: number): boolean {
    this.check(i);
    return (this.batch.flags(i) & MSG.TRUNC) !== 0;
  }

  sourceName(i: number): Uint8Array {
    this.check(i);
    return this.batch.name(i).subarray(0, this.batch.nameLength(i));
  }

  source(i: number): SockaddrIn {
    return decodeSockaddrIn(this.sourceName(i));
  }
}

export class UdpSocket {
  readonly family: 4 | 6;
  readonly fd: number;
  /** The local port (the kernel's pick when opened with port 0). */
  readonly port: number;
  readonly batchSize: number;
  private readonly out: BatchSender;
  private readonly nameSize: number;
  private readonly received: Received;
  private closed = false;

  private constructor(family: 4 | 6, fd: number, port: number, batchSize: number, maxDatagram: number) {
    this.family = family;
    this.fd = fd;
    this.port = port;
    this.batchSize = batchSize;
    this.nameSize = family === 4 ? SOCKADDR_IN_LEN : SOCKADDR_IN6_LEN;
    this.out = new BatchSender({ slots: batchSize, dataSize: 0, nameSize: this.nameSize });
    this.received = new Received(new MsgBatch({ slots: batchSize, dataSize: maxDatagram, nameSize: this.nameSize }));
  }

  /** Encodes a destination for sendMany/sendToEach. */
  static sockaddr(address: string | Uint8Array, port: number): Uint8Array {
    return encodeSockaddrIn(typeof address === 'string' ? parseAddress(address) : address, port);
  }

  /** Opens and binds the socket in the calling thread's network namespace; throws SyscallError (EADDRINUSE, ...). */
  static open(opts: UdpSocketOptions): UdpSocket {
    const family = opts.family;
    const local = opts.address === undefined ? new Uint8Array(family === 4 ? 4 : 16) : typeof opts.address === 'string' ? parseAddress(opts.address) : opts.address;
    if (local.byteLength !== (family === 4 ? 4 : 16)) {
      throw new RangeError(`local address of ${local.byteLength} bytes does not fit an IPv${family} socket`);
    }
    const batch = opts.batch ?? 64;
    const maxDatagram = opts.maxDatagram ?? 2048;
    if (!Number.isInteger(maxDatagram) || maxDatagram < 1 || maxDatagram > 0xffff) {
      throw new RangeError(`maxDatagram must be an integer in 1..65535, got ${maxDatagram}`);
    }
    const fd = socket(family === 4 ? AF.INET : AF.INET6, SOCK.DGRAM | SOCK.NONBLOCK | SOCK.CLOEXEC, IPPROTO.UDP);
    try {
      if (family === 6) setsockopt(fd, SOL.IPV6, IPV6_V6ONLY, 1, 'IPV6_V6ONLY');
      if (opts.reuseAddress) setsockopt(fd, SOL.SOCKET, SO.REUSEADDR, 1, 'SO_REUSEADDR');
      if (opts.receiveBuffer !== undefined) setsockopt(fd, SOL.SOCKET, SO.RCVBUF, opts.receiveBuffer, 'SO_RCVBUF');
      if (opts.mark !== undefined) setsockopt(fd, SOL.SOCKET, SO.MARK, opts.mark >>> 0, 'SO_MARK');
      bind(fd, encodeSockaddrIn(local, opts.port ?? 0));
      const port = decodeSockaddrIn(getsockname(fd)).port;
      return new UdpSocket(family, fd, port, batch, maxDatagram);
    } catch (err) {
      close(fd);
      throw err;
    }
  }

  /** The bound local address and port. */
  local(): SockaddrIn {
    return decodeSockaddrIn(getsockname(this.fd));
  }

  /**
   * Sends each datagram (at most batchSize; more is a RangeError), in order.
   * A destination of the other family fails its slot with EAFNOSUPPORT
   * without being sent; other failures (ENETUNREACH, EMSGSIZE, ...) carry the
   * kernel's errno. Never throws for a failed datagram.
   */
  sendMany(datagrams: readonly Datagram[]): SendReport {
    const out = this.out;
    out.begin(datagrams.length);
    for (let i = 0; i < datagrams.length; i++) {
      const d = datagrams[i]!;
      if (this.setTo(i, d.to)) out.data(i, d.data);
    }
    return out.flush(this.fd);
  }

  /** Sends `data` to every destination: one sendmmsg for all peers. */
  sendToEach(data: Uint8Array, tos: readonly Uint8Array[]): SendReport {
    const out = this.out;
    out.begin(tos.length);
    for (let i = 0; i < tos.length; i++) if (this.setTo(i, tos[i]!)) out.data(i, data);
    return out.flush(this.fd);
  }

  private setTo(i: number, to: Uint8Array): boolean {
    if (to.byteLength !== this.nameSize) {
      this.out.reject(i, ERRNO.EAFNOSUPPORT);
      return false;
    }
    this.out.name(i).set(to);
    return true;
  }

  /** Receives the datagrams waiting (up to batchSize) with one recvmmsg; never blocks. */
  receiveBatch(): ReceivedDatagrams {
    const r = this.received;
    r.count = r.batch.receive(this.fd);
    return r;
  }

  /** Calls `cb` on the event loop while datagrams are waiting (drain with receiveBatch()). */
  onReadable(cb: () => void): FdWatch {
    return watchFd(this.fd, cb);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    close(this.fd);
  }
}
