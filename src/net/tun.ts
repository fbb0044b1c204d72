/**
 * A TUN interface: IP packets written to its descriptor enter the network
 * stack as if they had arrived on a wire, and packets routed to it can be
 * read (Documentation/networking/tuntap.rst; include/uapi/linux/if_tun.h).
 * The relay's `udp` transport receives a replica inside a datagram and
 * writes it here, so the local stack (PMTU cache, conntrack, sockets)
 * processes it exactly like the original.
 *
 * Opened with IFF_TUN | IFF_NO_PI: every read or write is exactly one IP
 * packet with no struct tun_pi in front; the kernel takes the protocol from
 * the version nibble (tun_get_user() in drivers/net/tun.c: anything but 4 or
 * 6 is EINVAL). A write to a TUN that is down fails with EIO.
 *
 * The interface lives in the network namespace of the thread that opens
 * /dev/net/tun (tun_chr_open() takes current's netns) and disappears when the
 * descriptor is closed: it is not made persistent, so a crashed agent leaves
 * nothing behind.
 */
import { close, errnoName, ifNameToIndex, ioctl, read, socket, watchFd, SOCK, WOULD_BLOCK, type FdWatch } from '../sys/libc.js';
import { open, tryWrite, O } from '../sys/fd.js';
import { AF } from '../wire/sockaddr.js';
import { SyscallError, UnsupportedError } from '../errors.js';
import { SlotReport, type SendReport } from './batch-sender.js';

/** ioctl requests (include/uapi/linux/if_tun.h, include/uapi/linux/sockios.h). */
const TUNSETIFF = 0x400454ca; // #define TUNSETIFF _IOW('T', 202, int): dir 1<<30 | size 4<<16 | 'T'<<8 | 202
const SIOCGIFFLAGS = 0x8913; // #define SIOCGIFFLAGS 0x8913
const SIOCSIFFLAGS = 0x8914; // #define SIOCSIFFLAGS 0x8914
const SIOCSIFMTU = 0x8922; // #define SIOCSIFMTU 0x8922

/** ifr_flags bits (include/uapi/linux/if_tun.h, include/uapi/linux/if.h). */
const IFF_TUN = 0x0001; // #define IFF_TUN 0x0001
const IFF_NO_PI = 0x1000; // #define IFF_NO_PI 0x1000
const IFF_UP = 0x1; // IFF_UP = 1<<0 (enum net_device_flags)

/*
 * struct ifreq (include/uapi/linux/if.h), 40 bytes on LP64:
 *   char ifr_name[IFNAMSIZ];   16, NUL-terminated
 *   union { short ifr_flags; int ifr_mtu; ... }  at 16, 24 bytes (struct ifmap is the largest)
 */
const IFREQ_SIZE = 40;
const IFNAMSIZ = 16;

export const TUN_CLONE_DEVICE = '/dev/net/tun';

export interface TunOptions {
  /** MTU to set (SIOCSIFMTU); default: the kernel's (1500). */
  readonly mtu?: number;
  /** Bring the interface up. Default true. */
  readonly up?: boolean;
  /** Most packets per writeMany call. Default 64. */
  readonly batch?: number;
  /** The clone device; default /dev/net/tun. */
  readonly cloneDevice?: string;
}

function ifreq(name: string): Uint8Array {
  const req = new Uint8Array(IFREQ_SIZE);
  const bytes = new TextEncoder().encode(name);
  req.set(bytes, 0);
  return req;
}

function ifreqName(req: Uint8Array): string {
  const end = req.subarray(0, IFNAMSIZ).indexOf(0);
  return new TextDecoder().decode(req.subarray(0, end < 0 ? IFNAMSIZ : end));
}

/** The kernel's dev_valid_name() (net/core/dev.c), plus room for the NUL. A "%d" template is allowed. */
function checkName(name: string): void {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length === 0 || bytes.length >= IFNAMSIZ || name === '.' || name === '..' || /[/:\s]/.test(name)) {
    throw new RangeError(`invalid interface name ${JSON.stringify(name)}: 1-15 bytes, no '/', ':' or whitespace`);
  }
}

export class TunDevice {
  readonly fd: number;
  /** The interface name the kernel assigned (a "%d" template resolved). */
  readonly name: string;
  readonly ifindex: number;
  private readonly report: SlotReport;
  private closed = false;

  private constructor(fd: number, name: string, ifindex: number, batch: number) {
    this.fd = fd;
    this.name = name;
    this.ifindex = ifindex;
    this.report = new SlotReport(batch);
  }

  /**
   * Creates TUN interface `name` in the calling thread's network namespace,
   * sets its MTU and brings it up. Equivalent to:
   * `ip tuntap add dev NAME mode tun` (but owned by this descriptor) +
   * `ip link set NAME mtu MTU up`.
   * Throws UnsupportedError when the clone device is missing (no tun module,
   * or a container without /dev/net/tun), SyscallError otherwise (EPERM
   * without CAP_NET_ADMIN, EBUSY when a non-TUN interface has the name).
   */
  static open(name: string, opts: TunOptions = {}): TunDevice {
    checkName(name);
    const batch = opts.batch ?? 64;
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, got ${batch}`);
    if (opts.mtu !== undefined && (!Number.isInteger(opts.mtu) || opts.mtu < 68 || opts.mtu > 65535)) {
      throw new RangeError(`TUN MTU must be an integer in 68..65535, got ${opts.mtu}`);
    }
    const path = opts.cloneDevice ?? TUN_CLONE_DEVICE;
    let fd: number;
    try {
      fd = open(path, O.RDWR | O.NONBLOCK | O.CLOEXEC);
    } catch (err) {
      if (err instanceof SyscallError && (err.errnoName === 'ENOENT' || err.errnoName === 'ENODEV' || err.errnoName === 'ENXIO')) {
        throw new UnsupportedError('tun', `${path} is missing (${err.errnoName}): load the tun module (modprobe tun) or give the container the device`);
      }
      throw err;
    }
    try {
      const req = ifreq(name);
      new DataView(req.buffer).setInt16(16, IFF_TUN | IFF_NO_PI, true);
      ioctl(fd, TUNSETIFF, req, `TUNSETIFF ${name}`);
      const actual = ifreqName(req);
      configure(actual, opts.mtu, opts.up ?? true);
      return new TunDevice(fd, actual, ifNameToIndex(actual), batch);
    } catch (err) {
      close(fd);
      throw err;
    }
  }

  /** Injects one IP packet into the stack; throws SyscallError (EINVAL: not IPv4/IPv6, EIO: interface down). */
  write(packet: Uint8Array): void {
    const n = tryWrite(this.fd, packet);
    if (n < 0) throw new SyscallError('write', -n, errnoName(-n), `${this.name}: packet of ${packet.byteLength} bytes`);
  }

  /** Injects each packet (at most batch); never throws for a failed packet: the report has its errno. */
  writeMany(packets: readonly Uint8Array[]): SendReport {
    const r = this.report;
    r.begin(packets.length);
    for (let i = 0; i < packets.length; i++) {
      const n = tryWrite(this.fd, packets[i]!);
      if (n < 0) r.fail(i, -n);
    }
    return r.finish();
  }

  /** Reads one packet routed to the interface into `buf`; returns its length, 0 when none is waiting. */
  read(buf: Uint8Array): number {
    const n = read(this.fd, buf);
    return n === WOULD_BLOCK ? 0 : n;
  }

  /** Calls `cb` on the event loop while packets are waiting (drain with read()). */
  onReadable(cb: () => void): FdWatch {
    return watchFd(this.fd, cb);
  }

  /** Closes the descriptor; the kernel deletes the interface. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    close(this.fd);
  }
}

/** Runs `fn` with an AF_INET datagram socket (the handle for SIOC*IF* ioctls) and an ifreq for `name`. */
function withIfreqSocket<T>(name: string, fn: (ctl: number, req: Uint8Array) => T): T {
  const ctl = socket(AF.INET, SOCK.DGRAM | SOCK.CLOEXEC, 0);
  try {
    return fn(ctl, ifreq(name));
  } finally {
    close(ctl);
  }
}

/** `ip link set NAME mtu MTU` and `ip link set NAME up`, through the classic interface ioctls. */
function configure(name: string, mtu: number | undefined, up: boolean): void {
  withIfreqSocket(name, (ctl, req) => {
    const v = new DataView(req.buffer);
    if (mtu !== undefined) {
      v.setInt32(16, mtu, true);
      ioctl(ctl, SIOCSIFMTU, req, `SIOCSIFMTU ${name} ${mtu}`);
    }
    if (up) {
      req.fill(0, 16);
      ioctl(ctl, SIOCGIFFLAGS, req, `SIOCGIFFLAGS ${name}`);
      v.setInt16(16, v.getInt16(16, true) | IFF_UP, true);
      ioctl(ctl, SIOCSIFFLAGS, req, `SIOCSIFFLAGS ${name}`);
    }
  });
}
