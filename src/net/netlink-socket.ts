/**
 * A netlink client (include/uapi/linux/netlink.h, Documentation/userspace-api/netlink/intro.rst):
 * requests acknowledged with NLM_F_ACK, dumps with NLM_F_DUMP, batches of
 * many requests per datagram, and multicast subscriptions.
 *
 * - Non-blocking throughout: readiness comes from watchFd on the event loop.
 *   The kernel handles a request to rtnetlink or nfnetlink inside sendto()
 *   and queues the replies before sendto() returns, so most operations finish
 *   without waiting at all; the watch is only armed when a read would block
 *   (dump continuations, slow families).
 * - Operations on one socket are serialised by a queue, so replies are never
 *   interleaved. Every reply must carry the sequence number we assigned and
 *   our port id, and must come from the kernel (nl_pid 0); anything else is
 *   counted in `stats` and dropped, never mixed into a result.
 * - NLM_F_DUMP_INTR (the dumped state changed while it was being dumped)
 *   makes the dump run again, a bounded number of times.
 * - NETLINK_EXT_ACK makes the kernel explain errors (NLMSGERR_ATTR_MSG,
 *   NLMSGERR_ATTR_OFFS); NETLINK_CAP_ACK keeps ACKs small (the request is not
 *   echoed back); NETLINK_GET_STRICT_CHK makes dump filters strict.
 */
import * as libc from '../sys/libc.js';
import { withNetns } from '../sys/netns.js';
import { AF, encodeSockaddrNl, decodeSockaddrNl } from '../wire/sockaddr.js';
import {
  NLMSG,
  NLM_F,
  NLMSG_HDRLEN,
  NLMSGERR_ATTR,
  NETLINK,
  NETLINK_SOCKOPT,
  SOL_NETLINK,
  decodeMessages,
  decodeErrorPayload,
  nlmsgAlign,
  type NetlinkMessage,
} from '../wire/netlink.js';
import { type Attribute, attributesLength, writeAttributes, decodeAttributes, findAttribute, nlaString, nlaU32 } from '../wire/netlink-attribute.js';
import { DecodeError, NetlinkError, PathguardError, SyscallError } from '../errors.js';

/** Multicast groups for subscribe(), re-exported from the codec that defines them. */
export { RTNLGRP } from '../wire/rtnetlink.js';

export interface NetlinkSocketOptions {
  /** Path of a network namespace (/run/netns/NAME): the socket is created inside it. */
  readonly netns?: string;
  /** Receive buffer in bytes (SO_RCVBUFFORCE when permitted, else SO_RCVBUF capped by net.core.rmem_max). */
  readonly rcvbuf?: number;
  /** How long one operation may wait for the kernel before failing with PG_TIMEOUT (default 10 s). */
  readonly timeoutMs?: number;
}

/** One request of a batch. */
export interface NetlinkRequest {
  readonly type: number;
  /** Extra NLM_F_* flags (NLM_F_REQUEST | NLM_F_ACK are always added). */
  readonly flags: number;
  /** The family header (ifinfomsg, rtmsg, fib_rule_hdr, nfgenmsg, ...). */
  readonly fixed: Uint8Array;
  readonly attrs?: readonly Attribute[];
}

/** Outcome of one request of a batch: its replies before the ACK, or why it failed. */
export type NetlinkResult =
  | { readonly ok: true; readonly replies: readonly NetlinkMessage[] }
  | { readonly ok: false; readonly error: NetlinkError };

/** Receives multicast notifications (see NetlinkSocket.subscribe). */
export interface NetlinkSubscriber {
  /** Messages read in one go, in kernel order; payloads are copies the handler may keep. */
  onMessages(msgs: readonly NetlinkMessage[]): void;
  /**
   * Notifications were lost (ENOBUFS: the kernel dropped them because the
   * receive buffer was full; DECODE: a datagram did not parse): the caller's
   * view is stale and must be rebuilt with a dump.
   */
  onResync(reason: 'ENOBUFS' | 'DECODE'): void;
}

/** Counters of things that were dropped instead of being returned. */
export interface NetlinkStats {
  /** Replies whose sequence number or port id did not match the operation in flight. */
  mismatched: number;
  /** Datagrams from a sender other than the kernel (nl_pid != 0). */
  foreign: number;
  /** ENOBUFS reported by the socket (replies lost). */
  overruns: number;
  /** Dumps run again because of NLM_F_DUMP_INTR. */
  dumpRetries: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** Datagram buffer: the kernel sizes dump parts to at most 32 KiB, single messages can be larger (then we grow). */
const RECV_SIZE = 64 * 1024 + 4096;
/** Batch datagrams are packed up to this many bytes. */
const BATCH_DATAGRAM = 32 * 1024;
/**
 * What one ACK costs in the receive buffer (skb truesize: the small skb head
 * plus struct sk_buff): about 835 bytes measured on Linux 6.18, more for
 * errors carrying extended-ACK text. We assume 2 KiB, so one batch datagram
 * never provokes more ACKs than the buffer holds.
 */
const ACK_COST = 2048;
const MAX_DUMP_ATTEMPTS = 5;
const DEFAULT_SUBSCRIBE_RCVBUF = 4 << 20;

const RTM_NAMES: Record<number, string> = {
  16: 'RTM_NEWLINK', 17: 'RTM_DELLINK', 18: 'RTM_GETLINK', 19: 'RTM_SETLINK',
  20: 'RTM_NEWADDR', 21: 'RTM_DELADDR', 22: 'RTM_GETADDR',
  24: 'RTM_NEWROUTE', 25: 'RTM_DELROUTE', 26: 'RTM_GETROUTE',
  28: 'RTM_NEWNEIGH', 29: 'RTM_DELNEIGH', 30: 'RTM_GETNEIGH',
  32: 'RTM_NEWRULE', 33: 'RTM_DELRULE', 34: 'RTM_GETRULE',
};

/** A short human description of a request for error messages ("RTM_NEWROUTE seq 12"). */
function describe(protocol: number, type: number, seq: number): string {
  let name: string;
  if (protocol === NETLINK.ROUTE && RTM_NAMES[type] !== undefined) name = RTM_NAMES[type]!;
  else if (protocol === NETLINK.NETFILTER) name = `nfnetlink subsys ${type >> 8} msg ${type & 0xff}`;
  else name = `netlink type ${type}`;
  return `${name} seq ${seq}`;
}

function netlinkError(errno: number, request: string, ackText?: string, ackOffset?: number): NetlinkError {
  const opts: { request: string; ackText?: string; ackOffset?: number } = { request };
  if (ackText !== undefined) opts.ackText = ackText;
  if (ackOffset !== undefined) opts.ackOffset = ackOffset;
  return new NetlinkError(errno, libc.errnoName(errno), opts);
}

function lostReply(request: string): NetlinkError {
  return netlinkError(libc.ERRNO.ENOBUFS, request, 'the reply was lost (receive buffer overrun); the request may or may not have been applied');
}

/**
 * Sets the receive buffer: SO_RCVBUFFORCE (CAP_NET_ADMIN, ignores
 * net.core.rmem_max) and, when that is not permitted, SO_RCVBUF. Returns the
 * size the kernel settled on (it doubles the request for bookkeeping).
 */
export function setReceiveBuffer(fd: number, bytes: number): number {
  try {
    libc.setsockopt(fd, libc.SOL.SOCKET, libc.SO.RCVBUFFORCE, bytes, 'SO_RCVBUFFORCE');
  } catch (err) {
    if (!(err instanceof SyscallError && err.errnoName === 'EPERM')) throw err;
    libc.setsockopt(fd, libc.SOL.SOCKET, libc.SO.RCVBUF, bytes, 'SO_RCVBUF');
  }
  return libc.getsockoptInt(fd, libc.SOL.SOCKET, libc.SO.RCVBUF);
}

function setFlagOption(fd: number, option: number, what: string): void {
  try {
    libc.setsockopt(fd, SOL_NETLINK, option, 1, what);
  } catch (err) {
    // Older kernels lack the option; everything still works, with terser errors.
    if (!(err instanceof SyscallError && err.errnoName === 'ENOPROTOOPT')) throw err;
  }
}

/**
 * Opens and binds a non-blocking AF_NETLINK socket (inside `netns` when
 * given) and returns it with the port id the kernel assigned.
 */
export function openNetlinkFd(protocol: number, opts: { netns?: string; rcvbuf?: number } = {}): { fd: number; portId: number } {
  const create = (): number => libc.socket(AF.NETLINK, libc.SOCK.RAW | libc.SOCK.NONBLOCK | libc.SOCK.CLOEXEC, protocol);
  const fd = opts.netns !== undefined ? withNetns(opts.netns, create) : create();
  try {
    setFlagOption(fd, NETLINK_SOCKOPT.EXT_ACK, 'NETLINK_EXT_ACK');
    setFlagOption(fd, NETLINK_SOCKOPT.CAP_ACK, 'NETLINK_CAP_ACK');
    setFlagOption(fd, NETLINK_SOCKOPT.GET_STRICT_CHK, 'NETLINK_GET_STRICT_CHK');
    if (opts.rcvbuf !== undefined) setReceiveBuffer(fd, opts.rcvbuf);
    libc.bind(fd, encodeSockaddrNl(0, 0));
    const { pid } = decodeSockaddrNl(libc.getsockname(fd));
    return { fd, portId: pid };
  } catch (err) {
    libc.close(fd);
    throw err;
  }
}

/** Datagrams read in one go before an operation yields to the event loop. */
const DRAIN_BUDGET = 64;
const DRAIN_DONE = 0;
const DRAIN_EMPTY = 1;
const DRAIN_YIELD = 2;

/** Resolves after the event loop has run timers and I/O callbacks once. */
function yieldToLoop(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/** Outcome codes of DatagramReader.read besides a length. */
const READ_AGAIN = -1;
const READ_OVERRUN = -2;
const READ_FOREIGN = -3;

/**
 * Reads whole datagrams into one reusable buffer. MSG_PEEK|MSG_TRUNC first
 * learns the datagram's real size, so a message larger than the buffer grows
 * it instead of being cut short; recvfrom then reads it and tells who sent it.
 */
class DatagramReader {
  // A plain Uint8Array, not a Buffer: Buffer#slice returns a view, and copies made with
  // slice() must really be copies since this buffer is overwritten by the next read.
  buf = new Uint8Array(RECV_SIZE);
  private readonly addr = new Uint8Array(16);
  private readonly addrView = new DataView(this.addr.buffer);
  private readonly addrLen = new Uint32Array(1);

  /** A length (the datagram is in `buf`), or READ_AGAIN / READ_OVERRUN / READ_FOREIGN. */
  read(fd: number): number {
    let n: number;
    try {
      n = libc.recv(fd, this.buf, libc.MSG.PEEK | libc.MSG.TRUNC);
      if (n === libc.WOULD_BLOCK) return READ_AGAIN;
      if (n > this.buf.byteLength) this.buf = new Uint8Array(nlmsgAlign(n) + 4096);
      n = libc.recvfrom(fd, this.buf, this.addr, this.addrLen);
    } catch (err) {
      // ENOBUFS is reported once, then the socket reads normally again.
      if (err instanceof SyscallError && err.errnoName === 'ENOBUFS') return READ_OVERRUN;
      throw err;
    }
    if (n === libc.WOULD_BLOCK) return READ_AGAIN;
    // struct sockaddr_nl: nl_pid at offset 4; 0 is the kernel.
    if (this.addrLen[0]! >= 8 && this.addrView.getUint32(4, true) !== 0) return READ_FOREIGN;
    return n;
  }
}

function copyMessage(m: NetlinkMessage): NetlinkMessage {
  // new Uint8Array(view) copies, whatever the view's class (Buffer#slice would not).
  return { type: m.type, flags: m.flags, seq: m.seq, pid: m.pid, payload: new Uint8Array(m.payload) };
}

/** What an operation in flight does with the replies addressed to it. */
interface Collector {
  /** Whether `seq` belongs to this operation. */
  accepts(seq: number): boolean;
  /** Takes one reply (payload is a view into the receive buffer); true when the operation is complete. */
  onMessage(msg: NetlinkMessage): boolean;
  /** The socket overran: some replies may be lost. */
  onOverrun(): void;
  /** Called when nothing more is queued; true when the operation must end now (replies lost). */
  idle(): boolean;
}

/** Replies to one request, ending at its ACK (or at NLMSG_DONE for a dump). */
class ReplyCollector implements Collector {
  readonly replies: NetlinkMessage[] = [];
  error: NetlinkError | undefined;
  interrupted = false;
  private overrun = false;

  constructor(
    private readonly seq: number,
    private readonly what: string,
  ) {}

  accepts(seq: number): boolean {
    return seq === this.seq;
  }

  onMessage(m: NetlinkMessage): boolean {
    if (m.flags & NLM_F.DUMP_INTR) this.interrupted = true;
    if (m.type === NLMSG.ERROR) {
      const e = decodeErrorPayload(m);
      if (e.errno !== 0) this.error = netlinkError(e.errno, this.what, e.ackText, e.ackOffset);
      return true;
    }
    if (m.type === NLMSG.DONE) {
      // NLMSG_DONE carries `int error` (netlink_dump_done), with NLMSGERR_ATTR_MSG under NLM_F_ACK_TLVS.
      if (m.payload.byteLength >= 4) {
        const v = new DataView(m.payload.buffer, m.payload.byteOffset, 4);
        const errno = -v.getInt32(0, true);
        if (errno !== 0) {
          let text: string | undefined;
          let offs: number | undefined;
          if (m.flags & NLM_F.ACK_TLVS) {
            const attrs = decodeAttributes(m.payload.subarray(4), 'NLMSG_DONE attributes');
            const t = findAttribute(attrs, NLMSGERR_ATTR.MSG);
            if (t) text = nlaString(t);
            const o = findAttribute(attrs, NLMSGERR_ATTR.OFFS);
            if (o) offs = nlaU32(o);
          }
          this.error = netlinkError(errno, this.what, text, offs);
        }
      }
      return true;
    }
    if (m.type === NLMSG.NOOP) return false;
    this.replies.push(copyMessage(m));
    return false;
  }

  onOverrun(): void {
    this.overrun = true;
  }

  idle(): boolean {
    if (!this.overrun) return false;
    this.error = lostReply(this.what);
    return true;
  }
}

/** ACKs of a window of consecutive sequence numbers sent in one datagram. */
class BatchCollector implements Collector {
  private pending: number;
  private overrun = false;
  private readonly replies: (NetlinkMessage[] | undefined)[];

  constructor(
    private readonly seqBase: number,
    private readonly count: number,
    private readonly first: number,
    private readonly results: (NetlinkResult | undefined)[],
    private readonly what: (index: number, seq: number) => string,
  ) {
    this.pending = count;
    this.replies = new Array(count);
  }

  accepts(seq: number): boolean {
    return ((seq - this.seqBase) >>> 0) < this.count;
  }

  onMessage(m: NetlinkMessage): boolean {
    const k = (m.seq - this.seqBase) >>> 0;
    const index = this.first + k;
    if (this.results[index] !== undefined) return this.pending === 0;
    if (m.type === NLMSG.ERROR) {
      const e = decodeErrorPayload(m);
      this.results[index] =
        e.errno === 0
          ? { ok: true, replies: this.replies[k] ?? [] }
          : { ok: false, error: netlinkError(e.errno, this.what(index, m.seq), e.ackText, e.ackOffset) };
      this.pending--;
    } else if (m.type !== NLMSG.NOOP) {
      (this.replies[k] ??= []).push(copyMessage(m));
    }
    return this.pending === 0;
  }

  onOverrun(): void {
    this.overrun = true;
  }

  idle(): boolean {
    if (!this.overrun) return false;
    for (let k = 0; k < this.count; k++) {
      const index = this.first + k;
      if (this.results[index] === undefined) {
        this.results[index] = { ok: false, error: lostReply(this.what(index, (this.seqBase + k) >>> 0)) };
      }
    }
    this.pending = 0;
    return true;
  }
}

/** A multicast subscription on its own socket (see NetlinkSocket.subscribe). */
export class NetlinkSubscription {
  /** Datagrams lost to ENOBUFS, datagrams that did not decode, and datagrams not from the kernel. */
  readonly stats = { overruns: 0, decodeErrors: 0, foreign: 0, messages: 0 };
  private readonly reader = new DatagramReader();
  private readonly watch: libc.FdWatch;
  private closed = false;

  /** @internal use NetlinkSocket.subscribe */
  constructor(
    readonly fd: number,
    private readonly handler: NetlinkSubscriber,
    private readonly onClose: (s: NetlinkSubscription) => void,
  ) {
    this.watch = libc.watchFd(fd, () => this.drain());
  }

  /** Reads what is queued, at most a bounded number of datagrams per wake-up so a flood cannot starve the loop. */
  private drain(): void {
    let msgs: NetlinkMessage[] = [];
    const flush = (): void => {
      if (msgs.length === 0) return;
      const out = msgs;
      msgs = [];
      this.stats.messages += out.length;
      this.handler.onMessages(out);
    };
    for (let i = 0; i < 256 && !this.closed; i++) {
      const n = this.reader.read(this.fd);
      if (n === READ_AGAIN) break;
      if (n === READ_FOREIGN) {
        this.stats.foreign++;
        continue;
      }
      if (n === READ_OVERRUN) {
        this.stats.overruns++;
        flush();
        this.handler.onResync('ENOBUFS');
        continue;
      }
      // One copy per datagram; the messages are views into it.
      const copy = new Uint8Array(this.reader.buf.subarray(0, n));
      let decoded: NetlinkMessage[];
      try {
        decoded = decodeMessages(copy);
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        this.stats.decodeErrors++;
        flush();
        this.handler.onResync('DECODE');
        continue;
      }
      for (const m of decoded) msgs.push(m);
    }
    flush();
  }

  /** Stops the watch and closes the socket; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watch.close();
    libc.close(this.fd);
    this.onClose(this);
  }
}

export class NetlinkSocket {
  /** NETLINK_ROUTE, NETLINK_NETFILTER, ... */
  readonly protocol: number;
  /** The port id the kernel assigned to this socket (nl_pid). */
  readonly portId: number;
  readonly stats: NetlinkStats = { mismatched: 0, foreign: 0, overruns: 0, dumpRetries: 0 };
  private readonly fd: number;
  private readonly netns: string | undefined;
  private readonly rcvbuf: number | undefined;
  private readonly timeoutMs: number;
  /** Requests per batch datagram, so their ACKs fit the receive buffer. */
  private readonly batchWindow: number;
  private readonly reader = new DatagramReader();
  private readonly kernel = encodeSockaddrNl(0, 0);
  private readonly sendBuf = new Uint8Array(BATCH_DATAGRAM);
  private seq: number;
  private tail: Promise<void> = Promise.resolve();
  private closed = false;
  private waiter: { cancel: (err: Error) => void } | undefined;
  private readonly subscriptions = new Set<NetlinkSubscription>();

  private constructor(protocol: number, fd: number, portId: number, opts: NetlinkSocketOptions) {
    this.protocol = protocol;
    this.fd = fd;
    this.portId = portId;
    this.netns = opts.netns;
    this.rcvbuf = opts.rcvbuf;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const rcv = libc.getsockoptInt(fd, libc.SOL.SOCKET, libc.SO.RCVBUF);
    this.batchWindow = Math.max(1, Math.floor(rcv / ACK_COST));
    // Start from a time-derived sequence so replies meant for an earlier
    // socket with the same port id are not mistaken for ours.
    this.seq = (Date.now() & 0x7fffffff) || 1;
  }

  /**
   * Opens a socket of `protocol` (NETLINK.ROUTE, NETLINK.NETFILTER), inside
   * the namespace `opts.netns` when given.
   */
  static open(protocol: number, opts: NetlinkSocketOptions = {}): NetlinkSocket {
    const { fd, portId } = openNetlinkFd(protocol, opts);
    try {
      return new NetlinkSocket(protocol, fd, portId, opts);
    } catch (err) {
      libc.close(fd);
      throw err;
    }
  }

  /**
   * Sends one request with NLM_F_REQUEST | NLM_F_ACK and resolves with the
   * replies that came before the ACK (none for most NEW/DEL requests; the
   * object for a GET of one object), or rejects with a NetlinkError carrying
   * the errno name, the kernel's extended-ACK text and offset.
   */
  request(type: number, flags: number, fixed: Uint8Array, attrs: readonly Attribute[] = []): Promise<NetlinkMessage[]> {
    return this.exclusive(async () => {
      const seq = this.nextSeq(1);
      const c = new ReplyCollector(seq, describe(this.protocol, type, seq));
      await this.send(this.encode(type, flags | NLM_F.REQUEST | NLM_F.ACK, seq, fixed, attrs));
      await this.pump(c);
      if (c.error) throw c.error;
      return c.replies;
    });
  }

  /**
   * Dumps a table (NLM_F_REQUEST | NLM_F_DUMP) and resolves with every part
   * up to NLMSG_DONE. A dump the kernel marks NLM_F_DUMP_INTR is run again,
   * up to 5 times, then fails with a NetlinkError (EINTR).
   *
   * Equivalent to: `ip link show`, `ip route show table all`, ... as raw messages.
   */
  dump(type: number, fixed: Uint8Array, attrs: readonly Attribute[] = []): Promise<NetlinkMessage[]> {
    return this.exclusive(async () => {
      for (let attempt = 1; ; attempt++) {
        const seq = this.nextSeq(1);
        const what = `${describe(this.protocol, type, seq)} dump`;
        const c = new ReplyCollector(seq, what);
        await this.send(this.encode(type, NLM_F.REQUEST | NLM_F.DUMP, seq, fixed, attrs));
        await this.pump(c);
        if (c.error) throw c.error;
        if (!c.interrupted) return c.replies;
        if (attempt >= MAX_DUMP_ATTEMPTS) {
          throw netlinkError(libc.ERRNO.EINTR, what, `the dump was interrupted by concurrent changes ${attempt} times in a row (NLM_F_DUMP_INTR)`);
        }
        this.stats.dumpRetries++;
      }
    });
  }

  /**
   * Sends many requests, packed several to a datagram (up to 32 KiB, and no
   * more than the receive buffer can hold ACKs for), and resolves with one
   * result per request in order. A failing request does not stop the others:
   * each has its own ACK. Only a socket-level failure (sendto, timeout)
   * rejects the whole batch.
   */
  batch(requests: readonly NetlinkRequest[]): Promise<NetlinkResult[]> {
    return this.exclusive(async () => {
      const results: (NetlinkResult | undefined)[] = new Array(requests.length);
      const what = (index: number, seq: number): string => `${describe(this.protocol, requests[index]!.type, seq)} (batch item ${index})`;
      let i = 0;
      while (i < requests.length) {
        // Decide how many requests go into this datagram.
        let bytes = 0;
        let count = 0;
        while (i + count < requests.length && count < this.batchWindow) {
          const r = requests[i + count]!;
          const len = NLMSG_HDRLEN + nlmsgAlign(r.fixed.byteLength) + attributesLength(r.attrs ?? []);
          if (count > 0 && bytes + len > BATCH_DATAGRAM) break;
          bytes += len;
          count++;
        }
        const seqBase = this.nextSeq(count);
        const buf = bytes <= this.sendBuf.byteLength ? this.sendBuf : new Uint8Array(bytes);
        let off = 0;
        for (let k = 0; k < count; k++) {
          const r = requests[i + k]!;
          off = writeMessage(buf, off, r.type, r.flags | NLM_F.REQUEST | NLM_F.ACK, (seqBase + k) >>> 0, r.fixed, r.attrs ?? []);
        }
        const c = new BatchCollector(seqBase, count, i, results, what);
        await this.send(buf.subarray(0, off));
        await this.pump(c);
        i += count;
        // The kernel did this datagram's work inside sendto(); before the next
        // one, let timers and I/O run so a big batch never monopolises the loop.
        if (i < requests.length) await yieldToLoop();
      }
      return results as NetlinkResult[];
    });
  }

  /**
   * Joins multicast `groups` (RTNLGRP.*) on a new socket in the same
   * namespace and delivers notifications to `handler` from the event loop
   * until the subscription (or this socket) is closed. The receive buffer
   * defaults to 4 MiB; when the kernel still drops notifications (ENOBUFS)
   * the handler's onResync is called and reading continues.
   */
  subscribe(groups: readonly number[], handler: NetlinkSubscriber, opts: { rcvbuf?: number } = {}): NetlinkSubscription {
    if (this.closed) throw new SyscallError('socket', libc.ERRNO.EBADF, 'EBADF', 'the netlink socket is closed');
    const o: { netns?: string; rcvbuf: number } = { rcvbuf: opts.rcvbuf ?? this.rcvbuf ?? DEFAULT_SUBSCRIBE_RCVBUF };
    if (this.netns !== undefined) o.netns = this.netns;
    const { fd } = openNetlinkFd(this.protocol, o);
    try {
      for (const g of groups) libc.setsockopt(fd, SOL_NETLINK, NETLINK_SOCKOPT.ADD_MEMBERSHIP, g, `NETLINK_ADD_MEMBERSHIP ${g}`);
      const sub = new NetlinkSubscription(fd, handler, (s) => this.subscriptions.delete(s));
      this.subscriptions.add(sub);
      return sub;
    } catch (err) {
      libc.close(fd);
      throw err;
    }
  }

  /** Closes subscriptions and the socket; an operation in flight rejects. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.subscriptions]) s.close();
    this.waiter?.cancel(new SyscallError('recv', libc.ERRNO.EBADF, 'EBADF', 'the netlink socket was closed'));
    libc.close(this.fd);
  }

  // ---- internals ----

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(() => {
      if (this.closed) throw new SyscallError('send', libc.ERRNO.EBADF, 'EBADF', 'the netlink socket is closed');
      return fn();
    });
    // The queue only orders operations; each caller receives its own outcome through `run`.
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Reserves `count` consecutive sequence numbers and returns the first (never 0, never wrapping inside the window). */
  private nextSeq(count: number): number {
    if (this.seq + count > 0xffffffff) this.seq = 1;
    const s = this.seq;
    this.seq += count;
    return s;
  }

  private encode(type: number, flags: number, seq: number, fixed: Uint8Array, attrs: readonly Attribute[]): Uint8Array {
    const len = NLMSG_HDRLEN + nlmsgAlign(fixed.byteLength) + attributesLength(attrs);
    const buf = len <= this.sendBuf.byteLength ? this.sendBuf : new Uint8Array(len);
    const end = writeMessage(buf, 0, type, flags, seq, fixed, attrs);
    return buf.subarray(0, end);
  }

  private async send(datagram: Uint8Array): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const n = libc.sendto(this.fd, datagram, this.kernel);
      if (n !== libc.WOULD_BLOCK) return;
      if (Date.now() > deadline) throw new PathguardError('PG_TIMEOUT', `netlink sendto would block for ${this.timeoutMs} ms`);
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  /** Reads replies into `c` until it is complete, waiting for readability when nothing is queued. */
  private async pump(c: Collector): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const r = this.drain(c);
      if (r === DRAIN_DONE) return;
      if (r === DRAIN_YIELD) {
        // A long dump keeps producing parts as we read; let timers and I/O run in between.
        await yieldToLoop();
        continue;
      }
      if (c.idle()) return;
      await this.readable(deadline);
    }
  }

  /**
   * Reads until `c` is complete (DRAIN_DONE), nothing is queued (DRAIN_EMPTY)
   * or DRAIN_BUDGET datagrams were read (DRAIN_YIELD).
   */
  private drain(c: Collector): number {
    for (let i = 0; i < DRAIN_BUDGET; i++) {
      const n = this.reader.read(this.fd);
      if (n === READ_AGAIN) return DRAIN_EMPTY;
      if (n === READ_OVERRUN) {
        this.stats.overruns++;
        c.onOverrun();
        continue;
      }
      if (n === READ_FOREIGN) {
        this.stats.foreign++;
        continue;
      }
      let done = false;
      for (const m of decodeMessages(this.reader.buf.subarray(0, n))) {
        if (done || m.pid !== this.portId || !c.accepts(m.seq)) {
          this.stats.mismatched++;
          continue;
        }
        done = c.onMessage(m);
      }
      if (done) return DRAIN_DONE;
    }
    return DRAIN_YIELD;
  }

  private readable(deadline: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        reject(new PathguardError('PG_TIMEOUT', `no netlink reply within ${this.timeoutMs} ms`));
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const cleanup = (): void => {
        watch.close();
        if (timer) clearTimeout(timer);
        this.waiter = undefined;
      };
      const watch = libc.watchFd(this.fd, () => {
        cleanup();
        resolve();
      });
      timer = setTimeout(() => {
        cleanup();
        reject(new PathguardError('PG_TIMEOUT', `no netlink reply within ${this.timeoutMs} ms`));
      }, remaining);
      this.waiter = {
        cancel: (err) => {
          cleanup();
          reject(err);
        },
      };
    });
  }
}

/** Writes one message at `off` (header, family header padded to 4, attributes); returns the offset after it. */
function writeMessage(
  buf: Uint8Array,
  off: number,
  type: number,
  flags: number,
  seq: number,
  fixed: Uint8Array,
  attrs: readonly Attribute[],
): number {
  const fixedLen = nlmsgAlign(fixed.byteLength);
  const len = NLMSG_HDRLEN + fixedLen + attributesLength(attrs);
  const v = new DataView(buf.buffer, buf.byteOffset + off, NLMSG_HDRLEN);
  v.setUint32(0, len, true);
  v.setUint16(4, type, true);
  v.setUint16(6, flags, true);
  v.setUint32(8, seq >>> 0, true);
  v.setUint32(12, 0, true);
  buf.set(fixed, off + NLMSG_HDRLEN);
  buf.fill(0, off + NLMSG_HDRLEN + fixed.byteLength, off + NLMSG_HDRLEN + fixedLen);
  return writeAttributes(buf, off + NLMSG_HDRLEN + fixedLen, attrs);
}
