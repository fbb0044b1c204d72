/**
 * Preallocated message vectors for sendmmsg(2) and recvmmsg(2), the batched
 * syscalls of the data plane. The native layout is written by hand once
 * (x86-64 / arm64 LP64, include/linux/socket.h):
 *
 *   struct iovec   { void *iov_base; size_t iov_len; }                          16 bytes
 *   struct msghdr  { void *msg_name; socklen_t msg_namelen; (pad 4)
 *                    struct iovec *msg_iov; size_t msg_iovlen;
 *                    void *msg_control; size_t msg_controllen; int msg_flags; (pad 4) }  56 bytes
 *   struct mmsghdr { struct msghdr msg_hdr; unsigned int msg_len; (pad 4) }      64 bytes
 *
 * Every slot owns a data buffer, a name buffer and (optionally) a control
 * buffer allocated at construction; the pointers to them never change, so a
 * batch costs no allocation per packet. For sending, a slot's iovec may
 * instead point at any caller buffer (`setData`), which must stay referenced
 * until the send returns (it does: sendmmsg is synchronous).
 */
import { addressOf, recvmmsg, sendmmsg, WOULD_BLOCK } from './libc.js';

const IOVEC = 16;

/**
 * Writes a size_t (lengths here are < 2^32) as two 32-bit halves: no BigInt
 * is allocated on the per-packet path.
 */
function setSize(view: DataView, at: number, n: number): void {
  view.setUint32(at, n >>> 0, true);
  view.setUint32(at + 4, 0, true);
}
const MSGHDR = 56;
const MMSGHDR = 64;

export interface MsgBatchOptions {
  /** Number of slots (the vlen passed to the syscall). */
  readonly slots: number;
  /** Bytes of data per slot (receive size, or the default send buffer). */
  readonly dataSize: number;
  /** Bytes of msg_name per slot (0: none; 20 for sockaddr_ll, 28 for sockaddr_in6). */
  readonly nameSize?: number;
  /** Bytes of msg_control per slot (0: none). */
  readonly controlSize?: number;
}

export class MsgBatch {
  readonly slots: number;
  readonly dataSize: number;
  readonly nameSize: number;
  readonly controlSize: number;
  private readonly vec: Uint8Array;
  private readonly vecView: DataView;
  private readonly iovs: Uint8Array;
  private readonly iovView: DataView;
  private readonly data: Uint8Array;
  private readonly names: Uint8Array;
  private readonly control: Uint8Array;
  private readonly vecAddr: bigint;
  private readonly dataAddr: bigint;
  /** Each slot's own data address, computed once (setLength runs per packet). */
  private readonly slotAddrs: bigint[] = [];
  /** Caller buffers pointed to by setData, kept referenced until the next send. */
  private readonly pinned: (Uint8Array | undefined)[];

  constructor(opts: MsgBatchOptions) {
    this.slots = opts.slots;
    this.dataSize = opts.dataSize;
    this.nameSize = opts.nameSize ?? 0;
    this.controlSize = opts.controlSize ?? 0;
    // Buffer.alloc gives memory outside the V8 heap whose address never moves.
    this.vec = Buffer.alloc(MMSGHDR * this.slots);
    this.iovs = Buffer.alloc(IOVEC * this.slots);
    this.data = Buffer.alloc(this.dataSize * this.slots);
    this.names = Buffer.alloc(Math.max(1, this.nameSize * this.slots));
    this.control = Buffer.alloc(Math.max(1, this.controlSize * this.slots));
    this.vecView = new DataView(this.vec.buffer, this.vec.byteOffset, this.vec.byteLength);
    this.iovView = new DataView(this.iovs.buffer, this.iovs.byteOffset, this.iovs.byteLength);
    this.vecAddr = addressOf(this.vec);
    this.dataAddr = addressOf(this.data);
    for (let i = 0; i < this.slots; i++) this.slotAddrs.push(this.dataAddr + BigInt(i * this.dataSize));
    this.pinned = new Array(this.slots);
    const iovAddr = addressOf(this.iovs);
    const nameAddr = addressOf(this.names);
    const controlAddr = addressOf(this.control);
    for (let i = 0; i < this.slots; i++) {
      const m = i * MMSGHDR;
      this.iovView.setBigUint64(i * IOVEC, this.dataAddr + BigInt(i * this.dataSize), true);
      this.iovView.setBigUint64(i * IOVEC + 8, BigInt(this.dataSize), true);
      if (this.nameSize > 0) this.vecView.setBigUint64(m, nameAddr + BigInt(i * this.nameSize), true);
      this.vecView.setUint32(m + 8, this.nameSize, true);
      this.vecView.setBigUint64(m + 16, iovAddr + BigInt(i * IOVEC), true);
      this.vecView.setBigUint64(m + 24, 1n, true);
      if (this.controlSize > 0) this.vecView.setBigUint64(m + 32, controlAddr + BigInt(i * this.controlSize), true);
      this.vecView.setBigUint64(m + 40, BigInt(this.controlSize), true);
    }
  }

  /** Resets lengths the kernel overwrote on the previous receive. */
  private resetForReceive(count: number): void {
    for (let i = 0; i < count; i++) {
      const m = i * MMSGHDR;
      this.vecView.setUint32(m + 8, this.nameSize, true);
      setSize(this.vecView, m + 40, this.controlSize);
      this.vecView.setInt32(m + 48, 0, true);
      this.vecView.setUint32(m + 56, 0, true);
    }
  }

  /**
   * recvmmsg(2) into the slots; returns how many arrived (0 when none were
   * waiting on a non-blocking socket).
   */
  receive(fd: number, flags = 0): number {
    this.resetForReceive(this.slots);
    const n = recvmmsg(fd, this.vecAddr, this.slots, flags);
    return n === WOULD_BLOCK ? 0 : n;
  }

  /** Bytes received into slot `i` (msg_len); may exceed dataSize if MSG_TRUNC was reported. */
  length(i: number): number {
    return this.vecView.getUint32(i * MMSGHDR + 56, true);
  }

  /** msg_flags of slot `i` after a receive (MSG_TRUNC, MSG_CTRUNC, ...). */
  flags(i: number): number {
    return this.vecView.getInt32(i * MMSGHDR + 48, true);
  }

  /** The received bytes of slot `i` (a view valid until the next receive). */
  received(i: number): Uint8Array {
    const len = Math.min(this.length(i), this.dataSize);
    return this.data.subarray(i * this.dataSize, i * this.dataSize + len);
  }

  /** The slot's own data buffer (to fill before a send). */
  slot(i: number): Uint8Array {
    return this.data.subarray(i * this.dataSize, (i + 1) * this.dataSize);
  }

  /** The source/destination address buffer of slot `i`. */
  name(i: number): Uint8Array {
    return this.names.subarray(i * this.nameSize, (i + 1) * this.nameSize);
  }

  /** msg_namelen after a receive. */
  nameLength(i: number): number {
    return this.vecView.getUint32(i * MMSGHDR + 8, true);
  }

  controlData(i: number): Uint8Array {
    const len = Number(this.vecView.getBigUint64(i * MMSGHDR + 40, true));
    return this.control.subarray(i * this.controlSize, i * this.controlSize + Math.min(len, this.controlSize));
  }

  /** Sets slot `i` to send `length` bytes of its own buffer (filled via slot()). */
  setLength(i: number, length: number): void {
    this.iovView.setBigUint64(i * IOVEC, this.slotAddrs[i]!, true);
    setSize(this.iovView, i * IOVEC + 8, length);
    this.pinned[i] = undefined;
  }

  /** Points slot `i` at a caller's buffer, without copying. */
  setData(i: number, buf: Uint8Array): void {
    this.iovView.setBigUint64(i * IOVEC, addressOf(buf), true);
    setSize(this.iovView, i * IOVEC + 8, buf.byteLength);
    this.pinned[i] = buf;
  }

  /** Copies `addr` into slot `i`'s name and sets msg_namelen. */
  setName(i: number, addr: Uint8Array): void {
    if (addr.byteLength > this.nameSize) throw new RangeError(`address of ${addr.byteLength} bytes exceeds the slot's ${this.nameSize}`);
    this.names.set(addr, i * this.nameSize);
    this.vecView.setUint32(i * MMSGHDR + 8, addr.byteLength, true);
  }

  /**
   * sendmmsg(2) of slots [0, count). Returns how many were sent; a short
   * count means the message at that index failed or would block (call again
   * from there via `sendFrom`).
   */
  send(fd: number, count: number, flags = 0): number {
    return this.sendFrom(fd, 0, count, flags);
  }

  sendFrom(fd: number, first: number, count: number, flags = 0): number {
    const n = sendmmsg(fd, first === 0 ? this.vecAddr : this.vecAddr + BigInt(first * MMSGHDR), count - first, flags);
    return n === WOULD_BLOCK ? 0 : n;
  }

  /** The address of slot i's msghdr, for sendmsg/recvmsg on one message. */
  msghdr(i: number): bigint {
    return this.vecAddr + BigInt(i * MMSGHDR);
  }

  /** Drops references to caller buffers from the last send. */
  unpin(): void {
    this.pinned.fill(undefined);
  }
}

export const MSGHDR_SIZE = MSGHDR;
