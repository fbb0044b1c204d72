/**
 * The calling thread's effective capabilities, from /proc/thread-self/status
 * (CapEff, a hex bitmask; include/uapi/linux/capability.h numbers the bits).
 * Used to tell "you may not" from "someone else holds it" when the kernel
 * answers EPERM to both.
 */
import { readFileSync } from 'node:fs';

export const CAP = {
  NET_ADMIN: 12, // #define CAP_NET_ADMIN 12
  NET_RAW: 13, // #define CAP_NET_RAW 13
  SYS_ADMIN: 21, // #define CAP_SYS_ADMIN 21
  PERFMON: 38, // #define CAP_PERFMON 38
  BPF: 39, // #define CAP_BPF 39
} as const;

/** True when the capability is effective; undefined when /proc cannot tell. */
export function hasCapability(cap: number): boolean | undefined {
  let status: string;
  try {
    status = readFileSync('/proc/thread-self/status', 'utf8');
  } catch {
    return undefined; // no procfs: unknown, and the caller keeps the kernel's own answer
  }
  const m = /^CapEff:\s*([0-9a-f]+)$/im.exec(status);
  if (!m) return undefined;
  return ((BigInt(`0x${m[1]}`) >> BigInt(cap)) & 1n) === 1n;
}
