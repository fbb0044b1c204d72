/**
 * The only module that calls libc (through koffi). Thin, typed wrappers over
 * the syscalls pathguard needs; a failure becomes a SyscallError carrying the
 * syscall and the errno name. Buffers are passed by pointer, never copied.
 *
 * Blocking: sockets and the TUN device are opened non-blocking. On the main
 * event loop, readiness comes from `watchFd()` (a libuv poll handle); a
 * read or write that would block returns WOULD_BLOCK instead of throwing.
 * `poll()` blocks and is for worker threads only.
 *
 * The library is loaded on first use, never at import time.
 */
import koffi, { type LibraryHandle } from 'koffi';
import { constants as osConstants } from 'node:os';
import { SyscallError } from '../errors.js';

/** Returned by non-blocking calls that got EAGAIN/EWOULDBLOCK. */
export const WOULD_BLOCK = -1;

export const SOCK = {
  STREAM: 1,
  DGRAM: 2,
  RAW: 3,
  NONBLOCK: 0o4000, // #define SOCK_NONBLOCK O_NONBLOCK
  CLOEXEC: 0o2000000, // #define SOCK_CLOEXEC O_CLOEXEC
} as const;

export const SOL = {
  SOCKET: 1, // #define SOL_SOCKET 1
  IP: 0,
  IPV6: 41,
  PACKET: 263, // #define SOL_PACKET 263
  NETLINK: 270, // #define SOL_NETLINK 270
} as const;

/** asm-generic/socket.h */
export const SO = {
  REUSEADDR: 2,
  SNDBUF: 7,
  RCVBUF: 8,
  SNDBUFFORCE: 32,
  RCVBUFFORCE: 33,
  BINDTODEVICE: 25,
  MARK: 36,
  RCVTIMEO: 20, // SO_RCVTIMEO_OLD on 64-bit
} as const;

export const MSG = {
  PEEK: 0x02,
  TRUNC: 0x20,
  DONTWAIT: 0x40,
  ERRQUEUE: 0x2000,
  WAITFORONE: 0x10000,
} as const;

export const POLL = { IN: 0x001, OUT: 0x004, ERR: 0x008, HUP: 0x010, NVAL: 0x020 } as const;

/** sched.h: setns(fd, CLONE_NEWNET) */
export const CLONE_NEWNET = 0x40000000;

interface Libc {
  socket: (domain: number, type: number, protocol: number) => number;
  bind: (fd: number, addr: Uint8Array, len: number) => number;
  connect: (fd: number, addr: Uint8Array, len: number) => number;
  setsockopt: (fd: number, level: number, name: number, value: Uint8Array, len: number) => number;
  getsockopt: (fd: number, level: number, name: number, value: Uint8Array, len: Uint32Array) => number;
  getsockname: (fd: number, addr: Uint8Array, len: Uint32Array) => number;
  send: (fd: number, buf: Uint8Array, len: number, flags: number) => number;
  sendto: (fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array | null, alen: number) => number;
  sendmsg: (fd: number, msg: bigint, flags: number) => number;
  sendmmsg: (fd: number, msgvec: bigint, vlen: number, flags: number) => number;
  recv: (fd: number, buf: Uint8Array, len: number, flags: number) => number;
  recvfrom: (fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array | null, alen: Uint32Array | null) => number;
  recvmsg: (fd: number, msg: bigint, flags: number) => number;
  recvmmsg: (fd: number, msgvec: bigint, vlen: number, flags: number, timeout: null) => number;
  read: (fd: number, buf: Uint8Array, len: number) => number;
  write: (fd: number, buf: Uint8Array, len: number) => number;
  ioctl: (fd: number, req: number, arg: Uint8Array) => number;
  ioctlInt: (fd: number, req: number, arg: number) => number;
  poll: (fds: Uint8Array, nfds: number, timeout: number) => number;
  close: (fd: number) => number;
  if_nametoindex: (name: string) => number;
  setns: (fd: number, nstype: number) => number;
}

let libc: Libc | undefined;
let handle: LibraryHandle | undefined;

/**
 * The loaded libc, for the other sys/ modules that declare their own
 * functions on it (bpf.ts), so libc is opened once.
 */
export function libcHandle(): LibraryHandle {
  handle ??= koffi.load('libc.so.6');
  return handle;
}

function lib(): Libc {
  if (libc) return libc;
  const l = libcHandle();
  libc = {
    socket: l.func('int socket(int, int, int)'),
    bind: l.func('int bind(int, const void *, uint32_t)'),
    connect: l.func('int connect(int, const void *, uint32_t)'),
    setsockopt: l.func('int setsockopt(int, int, int, const void *, uint32_t)'),
    getsockopt: l.func('int getsockopt(int, int, int, void *, uint32_t *)'),
    getsockname: l.func('int getsockname(int, void *, uint32_t *)'),
    send: l.func('intptr_t send(int, const void *, size_t, int)'),
    sendto: l.func('intptr_t sendto(int, const void *, size_t, int, const void *, uint32_t)'),
    sendmsg: l.func('intptr_t sendmsg(int, uintptr_t, int)'),
    sendmmsg: l.func('int sendmmsg(int, uintptr_t, unsigned int, int)'),
    recv: l.func('intptr_t recv(int, void *, size_t, int)'),
    recvfrom: l.func('intptr_t recvfrom(int, void *, size_t, int, void *, uint32_t *)'),
    recvmsg: l.func('intptr_t recvmsg(int, uintptr_t, int)'),
    recvmmsg: l.func('int recvmmsg(int, uintptr_t, unsigned int, int, void *)'),
    read: l.func('intptr_t read(int, void *, size_t)'),
    write: l.func('intptr_t write(int, const void *, size_t)'),
    ioctl: l.func('int ioctl(int, unsigned long, void *)'),
    ioctlInt: l.func('int ioctl(int, unsigned long, intptr_t)'),
    poll: l.func('int poll(void *, unsigned long, int)'),
    close: l.func('int close(int)'),
    if_nametoindex: l.func('unsigned int if_nametoindex(const char *)'),
    setns: l.func('int setns(int, int)'),
  } as Libc;
  return libc;
}

const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(osConstants.errno)) {
  // EWOULDBLOCK aliases EAGAIN and EDEADLOCK aliases EDEADLK: keep the common names.
  if (!errnoNames.has(num) || name === 'EAGAIN' || name === 'EDEADLK') errnoNames.set(num, name);
}

export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

export const ERRNO = osConstants.errno;

function fail(syscall: string, detail?: string): never {
  const e = koffi.errno();
  throw new SyscallError(syscall, e, errnoName(e), detail);
}

function check(syscall: string, ret: number | bigint, detail?: string): number {
  const n = Number(ret);
  if (n < 0) fail(syscall, detail);
  return n;
}

/** Like check(), but EAGAIN/EWOULDBLOCK (and EINTR) return WOULD_BLOCK. */
function checkNb(syscall: string, ret: number | bigint): number {
  const n = Number(ret);
  if (n >= 0) return n;
  const e = koffi.errno();
  if (e === ERRNO.EAGAIN || e === ERRNO.EINTR) return WOULD_BLOCK;
  throw new SyscallError(syscall, e, errnoName(e));
}

/** socket(2). Pass SOCK.NONBLOCK | SOCK.CLOEXEC in `type` as needed. */
export function socket(domain: number, type: number, protocol: number): number {
  return check('socket', lib().socket(domain, type, protocol), `domain ${domain} type ${type} protocol ${protocol}`);
}

export function bind(fd: number, addr: Uint8Array): void {
  check('bind', lib().bind(fd, addr, addr.byteLength));
}

export function connect(fd: number, addr: Uint8Array): void {
  check('connect', lib().connect(fd, addr, addr.byteLength));
}

/** setsockopt(2); a number is passed as a C int. */
export function setsockopt(fd: number, level: number, name: number, value: Uint8Array | number, what?: string): void {
  let buf: Uint8Array;
  if (typeof value === 'number') {
    buf = new Uint8Array(4);
    new DataView(buf.buffer).setInt32(0, value, true);
  } else {
    buf = value;
  }
  check('setsockopt', lib().setsockopt(fd, level, name, buf, buf.byteLength), what ?? `level ${level} option ${name}`);
}

/** getsockopt(2) into a buffer of `size` bytes; returns the bytes the kernel wrote. */
export function getsockopt(fd: number, level: number, name: number, size: number): Uint8Array {
  const buf = new Uint8Array(size);
  const len = Uint32Array.of(size);
  check('getsockopt', lib().getsockopt(fd, level, name, buf, len), `level ${level} option ${name}`);
  return buf.subarray(0, len[0]);
}

export function getsockoptInt(fd: number, level: number, name: number): number {
  const b = getsockopt(fd, level, name, 4);
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getInt32(0, true);
}

export function getsockname(fd: number, size = 128): Uint8Array {
  const buf = new Uint8Array(size);
  const len = Uint32Array.of(size);
  check('getsockname', lib().getsockname(fd, buf, len));
  return buf.subarray(0, len[0]);
}

/** send(2); returns bytes sent or WOULD_BLOCK. */
export function send(fd: number, buf: Uint8Array, flags = 0): number {
  return checkNb('send', lib().send(fd, buf, buf.byteLength, flags));
}

/** sendto(2); returns bytes sent or WOULD_BLOCK. */
export function sendto(fd: number, buf: Uint8Array, addr: Uint8Array | null, flags = 0): number {
  return checkNb('sendto', lib().sendto(fd, buf, buf.byteLength, flags, addr, addr ? addr.byteLength : 0));
}

/** recv(2) into `buf`; returns the datagram length (may exceed buf with MSG_TRUNC) or WOULD_BLOCK. */
export function recv(fd: number, buf: Uint8Array, flags = 0): number {
  return checkNb('recv', lib().recv(fd, buf, buf.byteLength, flags));
}

/** recvfrom(2); `addr` receives the source address, whose length is returned in `addrLen[0]`. */
export function recvfrom(fd: number, buf: Uint8Array, addr: Uint8Array, addrLen: Uint32Array, flags = 0): number {
  addrLen[0] = addr.byteLength;
  return checkNb('recvfrom', lib().recvfrom(fd, buf, buf.byteLength, flags, addr, addrLen));
}

/** sendmsg(2) with a msghdr built by MsgBatch; returns bytes or WOULD_BLOCK. */
export function sendmsg(fd: number, msghdr: bigint, flags = 0): number {
  return checkNb('sendmsg', lib().sendmsg(fd, msghdr, flags));
}

export function recvmsg(fd: number, msghdr: bigint, flags = 0): number {
  return checkNb('recvmsg', lib().recvmsg(fd, msghdr, flags));
}

/** sendmmsg(2): sends up to `count` prepared messages; returns how many went, or WOULD_BLOCK. */
export function sendmmsg(fd: number, msgvec: bigint, count: number, flags = 0): number {
  return checkNb('sendmmsg', lib().sendmmsg(fd, msgvec, count, flags));
}

/** recvmmsg(2) without a timeout; returns how many messages arrived, or WOULD_BLOCK. */
export function recvmmsg(fd: number, msgvec: bigint, count: number, flags = 0): number {
  return checkNb('recvmmsg', lib().recvmmsg(fd, msgvec, count, flags, null));
}

export function read(fd: number, buf: Uint8Array): number {
  return checkNb('read', lib().read(fd, buf, buf.byteLength));
}

export function write(fd: number, buf: Uint8Array): number {
  return checkNb('write', lib().write(fd, buf, buf.byteLength));
}

/** ioctl(2) with a pointer argument (struct ifreq and the like). */
export function ioctl(fd: number, request: number, arg: Uint8Array, what?: string): number {
  return check('ioctl', lib().ioctl(fd, request, arg), what);
}

/** ioctl(2) with an integer argument (TUNSETPERSIST and the like). */
export function ioctlInt(fd: number, request: number, arg: number, what?: string): number {
  return check('ioctl', lib().ioctlInt(fd, request, arg), what);
}

/**
 * poll(2) on one descriptor; blocks up to `timeoutMs` (-1 forever). Returns
 * the revents bits, 0 on timeout. For worker threads: never call it on the
 * main event loop with a non-zero timeout.
 */
export function poll(fd: number, events: number, timeoutMs: number): number {
  const pfd = new Uint8Array(8); // struct pollfd { int fd; short events; short revents; }
  const v = new DataView(pfd.buffer);
  v.setInt32(0, fd, true);
  v.setInt16(4, events, true);
  const n = lib().poll(pfd, 1, timeoutMs);
  if (n < 0) {
    if (koffi.errno() === ERRNO.EINTR) return 0;
    fail('poll');
  }
  return n === 0 ? 0 : v.getUint16(6, true);
}

/**
 * poll(2) on several descriptors (struct pollfd[] laid out by PollSet);
 * blocks up to `timeoutMs`. For worker threads only.
 */
export class PollSet {
  private readonly pfds: Uint8Array;
  private readonly view: DataView;
  readonly size: number;

  constructor(fds: readonly { fd: number; events: number }[]) {
    this.size = fds.length;
    this.pfds = new Uint8Array(8 * fds.length);
    this.view = new DataView(this.pfds.buffer);
    fds.forEach(({ fd, events }, i) => {
      this.view.setInt32(8 * i, fd, true);
      this.view.setInt16(8 * i + 4, events, true);
    });
  }

  /** Waits; returns how many descriptors are ready (0 on timeout or EINTR). */
  wait(timeoutMs: number): number {
    for (let i = 0; i < this.size; i++) this.view.setInt16(8 * i + 6, 0, true);
    const n = lib().poll(this.pfds, this.size, timeoutMs);
    if (n < 0) {
      if (koffi.errno() === ERRNO.EINTR) return 0;
      fail('poll');
    }
    return n;
  }

  /** revents of the i-th descriptor after wait(). */
  revents(i: number): number {
    return this.view.getUint16(8 * i + 6, true);
  }
}

export function close(fd: number): void {
  check('close', lib().close(fd));
}

/** if_nametoindex(3); throws SyscallError (ENODEV) for an unknown name. */
export function ifNameToIndex(name: string): number {
  const i = lib().if_nametoindex(name);
  if (i === 0) fail('if_nametoindex', name);
  return i;
}

/** setns(2): moves the calling thread into the namespace `fd` refers to. */
export function setns(fd: number, nstype = CLONE_NEWNET): void {
  check('setns', lib().setns(fd, nstype));
}

/** The address of a Buffer's or typed array's memory (stable: Node never moves backing stores). */
export function addressOf(buf: Uint8Array): bigint {
  return koffi.address(buf) as bigint;
}

export interface FdWatch {
  close(): void;
  /** Lets the process exit while the watch is open. */
  unref(): void;
}

/**
 * Calls `onReadable` on the event loop whenever `fd` is readable (a libuv
 * poll handle; level-triggered: drain until WOULD_BLOCK).
 */
export function watchFd(fd: number, onReadable: () => void): FdWatch {
  lib();
  const handle = koffi.node.poll(fd, { readable: true }, () => onReadable());
  return {
    close: () => handle.close(),
    unref: () => handle.unref(),
  };
}
