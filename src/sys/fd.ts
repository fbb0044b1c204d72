/**
 * File-descriptor calls beyond libc.ts: open(2) for character devices
 * (/dev/net/tun), and errno-returning variants of sendmmsg(2) and write(2)
 * for the data plane.
 *
 * Why errno-returning variants: on the relay's send path a failed
 * destination (ENETUNREACH, EMSGSIZE, ENOBUFS, ...) is an outcome to count,
 * not an exception. Building a SyscallError, stack trace included, for every
 * dropped packet would cost more than the send itself and allocate on the
 * hot path, so these return `-errno` and leave the decision to the caller.
 *
 * The library is loaded on first use, never at import time.
 */
import koffi from 'koffi';
import { SyscallError } from '../errors.js';
import { errnoName } from './libc.js';

/** open(2) flags (include/uapi/asm-generic/fcntl.h; x86-64 and arm64 agree). */
export const O = {
  RDONLY: 0, // #define O_RDONLY 00000000
  WRONLY: 1, // #define O_WRONLY 00000001
  RDWR: 2, // #define O_RDWR 00000002
  NONBLOCK: 0o4000, // #define O_NONBLOCK 00004000
  CLOEXEC: 0o2000000, // #define O_CLOEXEC 02000000
} as const;

interface FdLib {
  /** Declared variadic, as in <fcntl.h>: the optional mode follows as ('uint32_t', mode). */
  open: (path: string, flags: number, ...mode: unknown[]) => number;
  sendmmsg: (fd: number, msgvec: bigint, vlen: number, flags: number) => number;
  write: (fd: number, buf: Uint8Array, len: number) => number | bigint;
}

let fdlib: FdLib | undefined;

function lib(): FdLib {
  if (fdlib) return fdlib;
  const l = koffi.load('libc.so.6');
  fdlib = {
    open: l.func('int open(const char *, int, ...)'),
    sendmmsg: l.func('int sendmmsg(int, uintptr_t, unsigned int, int)'),
    write: l.func('intptr_t write(int, const void *, size_t)'),
  } as FdLib;
  return fdlib;
}

/** open(2) without O_CREAT (so no mode); throws SyscallError naming the path. */
export function open(path: string, flags: number): number {
  const fd = lib().open(path, flags);
  if (fd < 0) {
    const e = koffi.errno();
    throw new SyscallError('open', e, errnoName(e), path);
  }
  return fd;
}

/**
 * sendmmsg(2) of `count` messages starting at the mmsghdr at `msgvec`.
 * Returns how many were sent (the kernel stops at the first failure and,
 * when at least one went, drops that failure's errno: __sys_sendmmsg in
 * net/socket.c), or `-errno` when the first message failed.
 */
export function trySendmmsg(fd: number, msgvec: bigint, count: number, flags = 0): number {
  const n = lib().sendmmsg(fd, msgvec, count, flags);
  return n >= 0 ? n : -koffi.errno();
}

/** write(2): bytes written, or `-errno` (EAGAIN included). */
export function tryWrite(fd: number, buf: Uint8Array): number {
  const n = Number(lib().write(fd, buf, buf.byteLength));
  return n >= 0 ? n : -koffi.errno();
}
