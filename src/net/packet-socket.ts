/**
 * AF_PACKET sockets on one interface (packet(7); include/uapi/linux/if_packet.h):
 * PacketSender puts IP packets on the wire inside Ethernet frames addressed
 * to chosen MACs, PacketCapture reads whole frames.
 *
 * Why SOCK_DGRAM for sending: the kernel builds the Ethernet header from the
 * sockaddr_ll of each message (destination MAC in sll_addr, EtherType in
 * sll_protocol) with dev_hard_header(), so the source MAC is always the
 * interface's own, also after it changes (bond failover, a macvlan
 * reconfigured), and we never keep a copy of it. The payload we hand over is
 * the IP packet exactly as captured: the relay's `l2` and `broadcast`
 * transports deliver it verbatim. A frame larger than the interface MTU fails
 * that slot with EMSGSIZE.
 *
 * The sending socket is opened with protocol 0 and bound with protocol 0, so
 * the kernel never queues received frames on it (packet_create() only hooks
 * a receive handler for a non-zero protocol): a send-only socket costs
 * nothing on the receive path.
 */
import { bind, close, ifNameToIndex, setsockopt, socket, watchFd, ERRNO, MSG, SO, SOCK, SOL, type FdWatch } from '../sys/libc.js';
import { MsgBatch } from '../sys/mmsg.js';
import { AF, encodeSockaddrLl, SOCKADDR_LL_LEN } from '../wire/sockaddr.js';
import { ETH_ALEN } from '../wire/ethernet.js';
import { BatchSender, type SendReport } from './batch-sender.js';

/**
 * #define ETH_P_ALL 0x0003 (include/uapi/linux/if_ether.h): every protocol,
 * for capture only. The EtherTypes to send (ETH_P.IP, ETH_P.IPV6) are in
 * src/wire/ethernet.ts.
 */
export const ETH_P_ALL = 0x0003;

/** sll_pkttype values (include/uapi/linux/if_packet.h). */
export const PACKET = {
  HOST: 0, // #define PACKET_HOST 0: to us
  BROADCAST: 1, // #define PACKET_BROADCAST 1
  MULTICAST: 2, // #define PACKET_MULTICAST 2
  OTHERHOST: 3, // #define PACKET_OTHERHOST 3: to someone else (promiscuous)
  OUTGOING: 4, // #define PACKET_OUTGOING 4: sent by this host
} as const;

/** SOL_PACKET options (include/uapi/linux/if_packet.h). */
const PACKET_IGNORE_OUTGOING = 23; // #define PACKET_IGNORE_OUTGOING 23 (Linux 4.20)

const BROADCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

/** One frame to send: `payload` (an IP packet) to `mac` with EtherType `protocol`. */
export interface Frame {
  readonly payload: Uint8Array;
  /** Destination MAC, 6 bytes. */
  readonly mac: Uint8Array;
  /** EtherType, e.g. ETH_P.IP or ETH_P.IPV6. */
  readonly protocol: number;
}

export interface PacketSenderOptions {
  /** Interface name or index, in the network namespace the socket is created in. */
  readonly device: string | number;
  /** Most frames per send call (the sendmmsg vlen). Default 64. */
  readonly batch?: number;
  /** SO_MARK for every frame (needs CAP_NET_ADMIN), so egress filters can recognise replicas. */
  readonly mark?: number;
}

function resolveIndex(device: string | number): number {
  return typeof device === 'number' ? device : ifNameToIndex(device);
}

/** Writes a sockaddr_ll for `mac`/`protocol` into `out` (20 bytes) without allocating. */
function writeSockaddrLl(out: Uint8Array, ifindex: number, protocol: number, mac: Uint8Array): void {
  out[0] = AF.PACKET & 0xff; // sll_family, host order (little-endian on every supported target)
  out[1] = AF.PACKET >> 8;
  out[2] = (protocol >> 8) & 0xff; // sll_protocol, network order
  out[3] = protocol & 0xff;
  out[4] = ifindex & 0xff; // sll_ifindex, host order
  out[5] = (ifindex >> 8) & 0xff;
  out[6] = (ifindex >> 16) & 0xff;
  out[7] = (ifindex >>> 24) & 0xff;
  out[8] = 0; // sll_hatype: ignored on send
  out[9] = 0;
  out[10] = 0; // sll_pkttype: ignored on send
  out[11] = ETH_ALEN; // sll_halen
  for (let k = 0; k < ETH_ALEN; k++) out[12 + k] = mac[k]!;
  out[18] = 0;
  out[19] = 0;
}

/**
 * Sends IP packets in Ethernet frames out of one interface, batched with
 * sendmmsg(2). Sends never throw for a failed frame: each call returns a
 * SendReport (reused by the next call) with an errno per frame. Equivalent
 * to what a `socket(AF_PACKET, SOCK_DGRAM, 0)` + sendto(sockaddr_ll) loop does,
 * in one syscall per batch.
 */
export class PacketSender {
  readonly fd: number;
  readonly ifindex: number;
  readonly batchSize: number;
  private readonly out: BatchSender;
  private closed = false;

  private constructor(fd: number, ifindex: number, batchSize: number) {
    this.fd = fd;
    this.ifindex = ifindex;
    this.batchSize = batchSize;
    this.out = new BatchSender({ slots: batchSize, dataSize: 0, nameSize: SOCKADDR_LL_LEN });
  }

  /** Opens the socket in the calling thread's network namespace; throws SyscallError (ENODEV, EPERM, ...). */
  static open(opts: PacketSenderOptions): PacketSender {
    const ifindex = resolveIndex(opts.device);
    const fd = socket(AF.PACKET, SOCK.DGRAM | SOCK.NONBLOCK | SOCK.CLOEXEC, 0);
    try {
      // Protocol 0: fixes the interface, hooks no receive handler.
      bind(fd, encodeSockaddrLl(ifindex, 0));
      if (opts.mark !== undefined) setsockopt(fd, SOL.SOCKET, SO.MARK, opts.mark >>> 0, 'SO_MARK');
      return new PacketSender(fd, ifindex, opts.batch ?? 64);
    } catch (err) {
      close(fd);
      throw err;
    }
  }

  /**
   * Sends each frame (at most batchSize; more is a RangeError). A frame whose MAC is not 6 bytes
   * fails its slot with EINVAL without being sent.
   */
  sendTo(frames: readonly Frame[]): SendReport {
    const out = this.out;
    out.begin(frames.length);
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      if (f.mac.byteLength !== ETH_ALEN) {
        out.reject(i, ERRNO.EINVAL);
        continue;
      }
      writeSockaddrLl(out.name(i), this.ifindex, f.protocol, f.mac);
      out.data(i, f.payload);
    }
    return out.flush(this.fd);
  }

  /** Sends one payload to each MAC (the relay's `l2` fan-out): one sendmmsg for all peers. */
  sendToEach(payload: Uint8Array, protocol: number, macs: readonly Uint8Array[]): SendReport {
    const out = this.out;
    out.begin(macs.length);
    for (let i = 0; i < macs.length; i++) {
      const mac = macs[i]!;
      if (mac.byteLength !== ETH_ALEN) {
        out.reject(i, ERRNO.EINVAL);
        continue;
      }
      writeSockaddrLl(out.name(i), this.ifindex, protocol, mac);
      out.data(i, payload);
    }
    return out.flush(this.fd);
  }

  /** Sends one payload to ff:ff:ff:ff:ff:ff (the relay's `broadcast` transport). */
  broadcast(payload: Uint8Array, protocol: number): SendReport {
    const out = this.out;
    out.begin(1);
    writeSockaddrLl(out.name(0), this.ifindex, protocol, BROADCAST);
    out.data(0, payload);
    return out.flush(this.fd);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    close(this.fd);
  }
}

export interface PacketCaptureOptions {
  /** Interface name or index, in the network namespace the socket is created in. */
  readonly device: string | number;
  /**
   * EtherType to capture; default ETH_P_ALL. Frames this host sends are seen
   * only with ETH_P_ALL (dev_queue_xmit_nit() delivers to ptype_all taps only).
   */
  readonly protocol?: number;
  /** Frames per receive call (the recvmmsg vlen). Default 64. */
  readonly batch?: number;
  /** Bytes kept per frame; longer frames are truncated (truncated(i)). Default 2048. */
  readonly snapLength?: number;
  /** Skip frames this host sends (PACKET_IGNORE_OUTGOING, Linux 4.20+). Default false. */
  readonly ignoreOutgoing?: boolean;
}

/**
 * Reads whole Ethernet frames from one interface (SOCK_RAW: the link-layer
 * header is kept), batched with recvmmsg(2). For tests and the relay's loop
 * checks, not for bulk capture (no ring buffer, no BPF filter).
 */
export class PacketCapture {
  readonly fd: number;
  readonly ifindex: number;
  private readonly batch: MsgBatch;
  private closed = false;

  private constructor(fd: number, ifindex: number, batch: MsgBatch) {
    this.fd = fd;
    this.ifindex = ifindex;
    this.batch = batch;
  }

  static open(opts: PacketCaptureOptions): PacketCapture {
    const ifindex = resolveIndex(opts.device);
    // Created with protocol 0 (receives nothing) and then bound with the
    // protocol and interface: a socket created with a protocol would queue
    // frames from every interface until bind() narrows it.
    const fd = socket(AF.PACKET, SOCK.RAW | SOCK.NONBLOCK | SOCK.CLOEXEC, 0);
    try {
      if (opts.ignoreOutgoing) setsockopt(fd, SOL.PACKET, PACKET_IGNORE_OUTGOING, 1, 'PACKET_IGNORE_OUTGOING');
      bind(fd, encodeSockaddrLl(ifindex, opts.protocol ?? ETH_P_ALL));
      const batch = new MsgBatch({ slots: opts.batch ?? 64, dataSize: opts.snapLength ?? 2048, nameSize: SOCKADDR_LL_LEN });
      return new PacketCapture(fd, ifindex, batch);
    } catch (err) {
      close(fd);
      throw err;
    }
  }

  /** Receives waiting frames; returns how many (0 when none). Views stay valid until the next receive. */
  receive(): number {
    return this.batch.receive(this.fd);
  }

  /** Frame `i` of the last receive, Ethernet header included (a view, cut at snapLength). */
  frame(i: number): Uint8Array {
    return this.batch.received(i);
  }

  /** True when frame `i` was longer than snapLength. */
  truncated(i: number): boolean {
    return (this.batch.flags(i) & MSG.TRUNC) !== 0;
  }

  /** sll_pkttype of frame `i` (PACKET.HOST, PACKET.OUTGOING, ...). */
  packetType(i: number): number {
    return this.batch.name(i)[10]!;
  }

  /** sll_protocol of frame `i` (EtherType, after any VLAN tag the driver stripped). */
  protocol(i: number): number {
    const n = this.batch.name(i);
    return (n[2]! << 8) | n[3]!;
  }

  /** Calls `cb` on the event loop while frames are waiting (drain with receive()). */
  onReadable(cb: () => void): FdWatch {
    return watchFd(this.fd, cb);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    close(this.fd);
  }
}
