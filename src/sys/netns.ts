/**
 * Running code inside another network namespace (setns(2) with
 * CLONE_NEWNET, include/uapi/linux/sched.h).
 *
 * A socket belongs to the namespace it was created in for its whole life, so
 * to get a netlink, packet or UDP socket inside a namespace it is enough to
 * create it there: enter, socket(), leave. setns() switches only the calling
 * thread, which is why this is done synchronously: `fn` must not await
 * (no other JavaScript can run on this thread between the two setns calls,
 * so nothing else ever runs in the wrong namespace by accident).
 */
import { openSync, closeSync } from 'node:fs';
import { setns, CLONE_NEWNET, errnoName } from './libc.js';
import { SyscallError } from '../errors.js';

/** The calling thread's own namespace (not /proc/self, which is the main thread's). */
const THREAD_NETNS = '/proc/thread-self/ns/net';

function openNs(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const errno = typeof e.errno === 'number' ? Math.abs(e.errno) : 0;
    throw new SyscallError('open', errno, e.code ?? errnoName(errno), path);
  }
}

function isThenable(v: unknown): boolean {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * Enters the network namespace at `path` (e.g. /run/netns/NAME or
 * /proc/PID/ns/net) on the calling thread, runs `fn`, and always returns to
 * the original namespace, also when `fn` throws. `fn` must be synchronous;
 * returning a promise is an error (its continuation would run elsewhere).
 *
 * Equivalent to: `ip netns exec NAME ...` for the duration of `fn`.
 */
export function withNetns<T>(path: string, fn: () => T): T {
  const home = openNs(THREAD_NETNS);
  try {
    const target = openNs(path);
    try {
      setns(target, CLONE_NEWNET);
    } finally {
      closeSync(target);
    }
    let result: T;
    try {
      result = fn();
    } finally {
      // If this fails the thread is stranded in the wrong namespace; the
      // SyscallError propagates (it must never be swallowed).
      setns(home, CLONE_NEWNET);
    }
    if (isThenable(result)) {
      throw new TypeError('withNetns: fn returned a promise; it must be synchronous (setns is per thread)');
    }
    return result;
  } finally {
    closeSync(home);
  }
}
