/**
 * The sendmmsg(2) loop shared by the packet, raw IP and UDP senders, and the
 * per-slot outcome it reports.
 *
 * sendmmsg stops at the first message that fails. When at least one message
 * went out it returns that count and the kernel drops the failing message's
 * errno (__sys_sendmmsg in net/socket.c: "We only return an error if no
 * datagrams were able to be sent"). So on a short count we call again from
 * the failed slot: now it is first, the call fails with its errno, we record
 * it for that slot and continue from the next one. A batch with k failing
 * destinations costs at most 1 + 2k syscalls; an all-good batch costs one.
 *
 * EAGAIN (socket buffer or qdisc full on a non-blocking socket) marks the
 * slot and every later one EAGAIN and stops: they would fail the same way,
 * and the relay counts them as dropped rather than stall its loop. EINTR is
 * retried.
 *
 * Allocation: slot addresses, name and control views are computed once, the
 * report is one object per sender (overwritten by the next send), and a
 * caller buffer is pointed at, not copied. The one remaining cost per packet
 * is inside MsgBatch.setData/setLength: the BigInt pointer and length written
 * into a slot's iovec when it gets a different buffer object or length
 * (small young-generation objects; skipped when the same buffer comes again).
 */
import { errnoName, ERRNO } from '../sys/libc.js';
import { MsgBatch, type MsgBatchOptions } from '../sys/mmsg.js';
import { trySendmmsg } from '../sys/fd.js';

/** The outcome of one batched send, slot by slot. Valid until the sender's next send. */
export interface SendReport {
  /** Slots in the batch. */
  readonly count: number;
  /** Slots that the kernel accepted. */
  readonly sent: number;
  /** Slots that failed (count - sent). */
  readonly failed: number;
  /** 0 when slot `i` was sent, else its errno (ENETUNREACH, EMSGSIZE, EAGAIN, ...). */
  errno(i: number): number;
  /** The errno's name for a failed slot, undefined for a sent one. */
  errnoName(i: number): string | undefined;
}

/**
 * A SendReport that a sender fills: begin(count), fail(i, errno) per failed
 * slot, finish(). One per sender, reused by every send.
 */
export class SlotReport implements SendReport {
  count = 0;
  sent = 0;
  failed = 0;
  readonly capacity: number;
  /** Per slot: 0 sent, else the errno. */
  readonly errnos: Int32Array;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.errnos = new Int32Array(capacity);
  }

  begin(count: number): void {
    if (count > this.capacity) throw new RangeError(`${count} messages exceed the batch size ${this.capacity}`);
    this.count = count;
    this.errnos.fill(0, 0, count);
  }

  fail(i: number, errno: number): void {
    this.errnos[i] = errno;
  }

  /** Counts the outcomes recorded since begin(). */
  finish(): SendReport {
    let failed = 0;
    for (let j = 0; j < this.count; j++) if (this.errnos[j] !== 0) failed++;
    this.failed = failed;
    this.sent = this.count - failed;
    return this;
  }

  errno(i: number): number {
    if (i < 0 || i >= this.count) throw new RangeError(`slot ${i} is outside the last batch of ${this.count}`);
    return this.errnos[i]!;
  }

  errnoName(i: number): string | undefined {
    const e = this.errno(i);
    return e === 0 ? undefined : errnoName(e);
  }
}

/**
 * A MsgBatch being filled for one sendmmsg: begin(count), then per slot a
 * name (destination), data (caller buffer or own buffer) and optionally
 * control data, or reject(i, errno); then flush(fd).
 */
export class BatchSender {
  readonly slots: number;
  private readonly batch: MsgBatch;
  private readonly report: SlotReport;
  /** Address of each slot's mmsghdr, precomputed so a send makes no BigInt. */
  private readonly slotAddress: bigint[];
  private readonly names: Uint8Array[];
  private readonly controls: Uint8Array[];
  private readonly buffers: Uint8Array[];
  /** The caller buffer each slot's iovec points at now, or undefined when it points at its own buffer... */
  private readonly current: (Uint8Array | undefined)[];
  /** ...of this length (-1: not set). */
  private readonly ownLength: Int32Array;

  constructor(opts: MsgBatchOptions) {
    if (!Number.isInteger(opts.slots) || opts.slots < 1 || opts.slots > 1024) {
      // UIO_MAXIOV (1024) caps sendmmsg's vlen.
      throw new RangeError(`batch size must be an integer in 1..1024, got ${opts.slots}`);
    }
    this.slots = opts.slots;
    this.batch = new MsgBatch(opts);
    this.report = new SlotReport(opts.slots);
    this.slotAddress = [];
    this.names = [];
    this.controls = [];
    this.buffers = [];
    this.ownLength = new Int32Array(opts.slots).fill(-1);
    this.current = new Array<Uint8Array | undefined>(opts.slots).fill(undefined);
    for (let i = 0; i < opts.slots; i++) {
      this.slotAddress.push(this.batch.msghdr(i));
      this.names.push(this.batch.name(i));
      this.controls.push(this.batch.controlData(i));
      this.buffers.push(this.batch.slot(i));
    }
  }

  /** Starts a batch of `count` slots: clears their outcome. */
  begin(count: number): void {
    this.report.begin(count);
  }

  /**
   * Points slot `i` at `buf` without copying. The slot keeps a reference to
   * `buf` (so its memory cannot be freed under the pointer) and skips the
   * rewrite when the same object comes again; do not transfer `buf` to
   * another thread while a sender may still be pointing at it.
   */
  data(i: number, buf: Uint8Array): void {
    if (this.current[i] !== buf) {
      this.batch.setData(i, buf);
      this.current[i] = buf;
      this.ownLength[i] = -1;
    }
  }

  /** Slot `i`'s own buffer (dataSize bytes), to fill before own(i, length). */
  slotBuffer(i: number): Uint8Array {
    return this.buffers[i]!;
  }

  /** Makes slot `i` send the first `length` bytes of its own buffer. */
  own(i: number, length: number): void {
    if (this.current[i] !== undefined || this.ownLength[i] !== length) {
      this.batch.setLength(i, length);
      this.current[i] = undefined;
      this.ownLength[i] = length;
    }
  }

  /** Slot `i`'s msg_name buffer (nameSize bytes; msg_namelen stays nameSize). */
  name(i: number): Uint8Array {
    return this.names[i]!;
  }

  /** Slot `i`'s control buffer (controlSize bytes; msg_controllen stays controlSize). */
  control(i: number): Uint8Array {
    return this.controls[i]!;
  }

  /** Marks slot `i` failed with `errno` before sending: it is skipped. */
  reject(i: number, errno: number): void {
    this.report.fail(i, errno);
  }

  /** sendmmsg of the batch begun with begin(); never throws on a per-slot failure. */
  flush(fd: number, flags = 0): SendReport {
    const r = this.report;
    const count = r.count;
    const errnos = r.errnos;
    let i = 0;
    while (i < count) {
      if (errnos[i] !== 0) {
        i++;
        continue;
      }
      let end = i + 1;
      while (end < count && errnos[end] === 0) end++;
      const n = trySendmmsg(fd, this.slotAddress[i]!, end - i, flags);
      if (n > 0) {
        i += n;
        continue;
      }
      const e = n === 0 ? ERRNO.EAGAIN : -n;
      if (e === ERRNO.EINTR) continue;
      if (e === ERRNO.EAGAIN) {
        for (let j = i; j < count; j++) if (errnos[j] === 0) errnos[j] = e;
        break;
      }
      errnos[i] = e;
      i++;
    }
    return r.finish();
  }
}
