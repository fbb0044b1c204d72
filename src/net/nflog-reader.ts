/**
 * Reads packets logged to an NFLOG group (`log group N` in nftables,
 * `-j NFLOG --nflog-group N` in iptables) from a NETLINK_NETFILTER socket;
 * the protocol is in src/wire/nflog.ts (include/uapi/linux/netfilter/nfnetlink_log.h).
 *
 * Throughput: the kernel batches up to `qthresh` packets (or `flushTimeout`
 * worth of them) into one datagram of up to `nlbufsiz` bytes, and readBatch()
 * takes up to `slots` datagrams per recvmmsg(2) call, so a flood costs few
 * syscalls. The socket gets a large receive buffer; when the kernel still
 * has to drop log messages (ENOBUFS), that is counted in `stats.overruns`
 * and reading goes on: for the relay a lost ICMP error is a lost packet, not
 * a broken reader.
 *
 * Zero copy: packets returned by readBatch() (and handed to start()'s
 * callback) point into the receive buffers and are valid until the next
 * read. Keep one with copyNflogPacket().
 *
 * Opening is synchronous: nfnetlink handles configuration messages inside
 * sendto(2), so each ACK is already queued when sendto returns (a short
 * poll(2) only guards against a kernel that would not answer).
 */
import * as libc from '../sys/libc.js';
import { MsgBatch } from '../sys/mmsg.js';
import { CAP, hasCapability } from '../sys/capabilities.js';
import { AF, encodeSockaddrNl } from '../wire/sockaddr.js';
import { NETLINK, NLMSG, decodeMessages, decodeErrorPayload } from '../wire/netlink.js';
import {
  type NflogConfig,
  type NflogPacket,
  NFULNL_COPY,
  NFULNL_COPY_RANGE_MAX,
  NFULNL_NLBUFSIZ_MAX,
  decodeNflogDatagram,
  encodeNflogConfig,
  nflogConfig,
} from '../wire/nflog.js';
import { openNetlinkFd } from './netlink-socket.js';
import { ConfigError, type ConfigProblem, DecodeError, NetlinkError, SyscallError } from '../errors.js';

export { copyNflogPacket, type NflogPacket } from '../wire/nflog.js';

export interface NflogReaderOptions {
  /** Network namespace path (/run/netns/NAME) to read the group in. */
  readonly netns?: string;
  /** Bytes of each packet to copy (default 0xffff: all; the kernel caps at 0xfffb). */
  readonly copyRange?: number;
  /** Kernel batching buffer per datagram, 4096..131072 bytes (default 65536). */
  readonly nlbufsiz?: number;
  /** Packets the kernel queues before sending a datagram (default 32). */
  readonly qthresh?: number;
  /** Longest a queued packet waits before the kernel sends, in 1/100 s (default 1, i.e. 10 ms). */
  readonly flushTimeout?: number;
  /** NFULNL_CFG_F_* (e.g. SEQ to number packets); not sent when absent. */
  readonly flags?: number;
  /** Socket receive buffer (default 8 MiB; SO_RCVBUFFORCE when permitted). */
  readonly rcvbuf?: number;
  /** Datagrams per recvmmsg(2) (default 16). */
  readonly slots?: number;
  /**
   * Send NFULNL_CFG_CMD_PF_BIND for AF_INET and AF_INET6 first, as
   * libnetfilter_log does (default false). Obsolete since Linux 3.17 and its
   * errors are ignored; it also makes nfnetlink_log the namespace's default
   * logger for those families (net.netfilter.nf_log.2 / .10), which would
   * divert an operator's plain `log` rules from syslog: off unless asked for.
   */
  readonly pfBind?: boolean;
}

export interface NflogStats {
  /** Packets decoded. */
  packets: number;
  /** Datagrams read. */
  datagrams: number;
  /** ENOBUFS reports: the kernel dropped log messages because the receive buffer was full. */
  overruns: number;
  /** Datagrams larger than a slot (cut short; the cut message is lost). */
  truncated: number;
  /** Datagrams that did not decode (the packets before the bad bytes are kept). */
  decodeErrors: number;
  /** Datagrams not sent by the kernel (nl_pid != 0), dropped. */
  foreign: number;
}

const DEFAULTS = {
  copyRange: 0xffff,
  nlbufsiz: 65536,
  qthresh: 32,
  flushTimeout: 1,
  rcvbuf: 8 << 20,
  slots: 16,
} as const;

/** How long open() waits for an ACK the kernel should already have queued. */
const CONFIG_ACK_TIMEOUT_MS = 1000;
/** Datagrams per event-loop wake-up in start(), so a flood cannot starve other work. */
const MAX_BATCHES_PER_WAKEUP = 64;

function validate(group: number, opts: NflogReaderOptions): void {
  const problems: ConfigProblem[] = [];
  const int = (field: string, v: number | undefined, lo: number, hi: number): void => {
    if (v !== undefined && !(Number.isInteger(v) && v >= lo && v <= hi)) {
      problems.push({ field, value: v, expected: `an integer in [${lo}, ${hi}]` });
    }
  };
  int('group', group, 0, 0xffff);
  int('copyRange', opts.copyRange, 1, 0xffff);
  // nfulnl_set_nlbufsiz() silently ignores values below NLMSG_GOODSIZE (about a page) or above 128 KiB.
  int('nlbufsiz', opts.nlbufsiz, 4096, NFULNL_NLBUFSIZ_MAX);
  int('qthresh', opts.qthresh, 1, 0xffffffff);
  int('flushTimeout', opts.flushTimeout, 0, 0xffffffff);
  int('flags', opts.flags, 0, 0xffff);
  int('rcvbuf', opts.rcvbuf, 4096, 0x7fffffff);
  int('slots', opts.slots, 1, 1024);
  if (problems.length > 0) throw new ConfigError(problems);
}

export class NflogReader {
  readonly group: number;
  /** The socket, for poll(2) in a worker thread. */
  readonly fd: number;
  readonly portId: number;
  readonly stats: NflogStats = { packets: 0, datagrams: 0, overruns: 0, truncated: 0, decodeErrors: 0, foreign: 0 };
  private readonly batch: MsgBatch;
  /**
   * Each slot's bytes as a plain Uint8Array over the batch's memory. The
   * batch hands out Buffer views, and every subarray() of a Buffer builds a
   * FastBuffer through Node's JS subclass; decoding takes several views per
   * packet (payload, addresses, ports), so plain views keep that on V8's
   * builtin path. Measured in bench/relay-throughput.bench.ts.
   */
  private readonly slotBytes: Uint8Array[];
  private readonly slotSize: number;
  private readonly packets: NflogPacket[] = [];
  private readonly kernel = encodeSockaddrNl(0, 0);
  private seq = 1;
  private lastDatagrams = 0;
  private watch: libc.FdWatch | undefined;
  private closed = false;

  private constructor(group: number, fd: number, portId: number, slotSize: number, slots: number) {
    this.group = group;
    this.fd = fd;
    this.portId = portId;
    // nameSize 12: struct sockaddr_nl, to check each datagram came from the kernel.
    this.batch = new MsgBatch({ slots, dataSize: slotSize, nameSize: 12 });
    this.slotSize = slotSize;
    this.slotBytes = [];
    for (let i = 0; i < slots; i++) {
      const b = this.batch.slot(i);
      this.slotBytes.push(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    }
  }

  /**
   * Binds NFLOG group `group` (in `opts.netns` when given) with copy mode
   * "packet" and the batching parameters. Fails with a NetlinkError whose
   * message says what went wrong, e.g. "NFLOG group 33 is already bound by
   * another process".
   *
   * Equivalent to: what `ulogd` / libnetfilter_log's nflog_bind_group +
   * nflog_set_mode(NFULNL_COPY_PACKET) + nflog_set_nlbufsiz + nflog_set_qthresh
   * + nflog_set_timeout do.
   */
  static open(group: number, opts: NflogReaderOptions = {}): NflogReader {
    validate(group, opts);
    const copyRange = opts.copyRange ?? DEFAULTS.copyRange;
    const nlbufsiz = opts.nlbufsiz ?? DEFAULTS.nlbufsiz;
    const o: { netns?: string; rcvbuf: number } = { rcvbuf: opts.rcvbuf ?? DEFAULTS.rcvbuf };
    if (opts.netns !== undefined) o.netns = opts.netns;
    const { fd, portId } = openNetlinkFd(NETLINK.NETFILTER, o);
    // A datagram is at most max(nlbufsiz, one packet's message) bytes (nfulnl_alloc_skb).
    const slotSize = alignPage(Math.max(nlbufsiz, Math.min(copyRange, NFULNL_COPY_RANGE_MAX) + 1024));
    const reader = new NflogReader(group, fd, portId, slotSize, opts.slots ?? DEFAULTS.slots);
    try {
      reader.bind(opts, copyRange, nlbufsiz);
      return reader;
    } catch (err) {
      libc.close(fd);
      throw err;
    }
  }

  private bind(opts: NflogReaderOptions, copyRange: number, nlbufsiz: number): void {
    const g = this.group;
    if (opts.pfBind ?? false) {
      for (const family of [AF.INET, AF.INET6]) {
        const err = this.configure(nflogConfig.pfBind(family));
        // nfnetlink refuses every message with EPERM without CAP_NET_ADMIN; other errors mean the
        // obsolete PF_BIND is not supported, which is fine.
        if (err?.errnoName === 'EPERM') throw relabel(err, `binding NFLOG group ${g} needs CAP_NET_ADMIN in the network namespace`);
      }
    }
    let err = this.configure(nflogConfig.bind(g));
    if (err) {
      // nfulnl_recv_config(): EPERM when the instance belongs to another socket, EBUSY when to this one.
      if (err.errnoName === 'EPERM' && hasCapability(CAP.NET_ADMIN) === false) {
        throw relabel(err, `binding NFLOG group ${g} needs CAP_NET_ADMIN (run as root or grant the capability)`);
      }
      if (err.errnoName === 'EPERM' || err.errnoName === 'EBUSY') throw relabel(err, `NFLOG group ${g} is already bound by another process`);
      throw relabel(err, `binding NFLOG group ${g} failed`);
    }
    err = this.configure(nflogConfig.mode(g, NFULNL_COPY.PACKET, copyRange));
    if (err) throw relabel(err, `setting copy mode "packet" (range ${copyRange}) on NFLOG group ${g} failed`);
    const tuning: NflogConfig = {
      family: 0,
      group: g,
      nlbufsiz,
      qthresh: opts.qthresh ?? DEFAULTS.qthresh,
      timeout: opts.flushTimeout ?? DEFAULTS.flushTimeout,
      ...(opts.flags !== undefined ? { flags: opts.flags } : {}),
    };
    err = this.configure(tuning);
    if (err) throw relabel(err, `setting buffer size, queue threshold and timeout on NFLOG group ${g} failed`);
  }

  /**
   * Sends one config message and reads its ACK. Returns the kernel's error,
   * or undefined for success. Log messages that arrive meanwhile (the group
   * is live as soon as it is bound) are dropped: reading has not started.
   */
  private configure(cfg: NflogConfig): NetlinkError | undefined {
    const seq = this.seq++;
    const msg = encodeNflogConfig(cfg, seq, 0);
    if (libc.sendto(this.fd, msg, this.kernel) === libc.WOULD_BLOCK) {
      throw new SyscallError('sendto', libc.ERRNO.EAGAIN, 'EAGAIN', 'nfnetlink config message');
    }
    const buf = this.batch.slot(0);
    const deadline = Date.now() + CONFIG_ACK_TIMEOUT_MS;
    for (;;) {
      let n: number;
      try {
        n = libc.recv(this.fd, buf);
      } catch (err) {
        // Log messages flooding in after the bind may overrun the buffer; the ACK is still to come.
        if (!(err instanceof SyscallError && err.errnoName === 'ENOBUFS')) throw err;
        this.stats.overruns++;
        continue;
      }
      if (n === libc.WOULD_BLOCK) {
        const left = deadline - Date.now();
        if (left <= 0 || libc.poll(this.fd, libc.POLL.IN, left) === 0) {
          throw new SyscallError('recv', libc.ERRNO.ETIMEDOUT, 'ETIMEDOUT', `no ACK for NFLOG config of group ${this.group}`);
        }
        continue;
      }
      for (const m of decodeMessages(buf.subarray(0, Math.min(n, buf.byteLength)))) {
        if (m.type !== NLMSG.ERROR || m.seq !== seq || m.pid !== this.portId) continue;
        const e = decodeErrorPayload(m);
        if (e.errno === 0) return undefined;
        const o: { request: string; ackText?: string; ackOffset?: number } = { request: `NFULNL_MSG_CONFIG group ${cfg.group}` };
        if (e.ackText !== undefined) o.ackText = e.ackText;
        if (e.ackOffset !== undefined) o.ackOffset = e.ackOffset;
        return new NetlinkError(e.errno, libc.errnoName(e.errno), o);
      }
    }
  }

  /**
   * Reads what is queued, without blocking: one recvmmsg(2) of up to `slots`
   * datagrams, each holding one or more packets. Returns an empty array when
   * nothing is waiting. The array and the packets' byte views are reused /
   * overwritten by the next read (zero copy); copy what must outlive it.
   *
   * For a worker thread: `while (running) { poll(fd, POLLIN, ms); for (;;) { const b = r.readBatch(); if (!b.length && !r.pending) break; ... } }`.
   */
  readBatch(): NflogPacket[] {
    const out = this.packets;
    out.length = 0;
    let n: number;
    try {
      n = this.batch.receive(this.fd);
    } catch (err) {
      if (!(err instanceof SyscallError && err.errnoName === 'ENOBUFS')) throw err;
      // The kernel dropped log messages; the error is reported once and cleared, so read on.
      this.stats.overruns++;
      n = this.batch.receive(this.fd);
    }
    this.lastDatagrams = n;
    for (let i = 0; i < n; i++) {
      this.stats.datagrams++;
      const name = this.batch.name(i);
      // struct sockaddr_nl: nl_pid (u32, host order) at offset 4; 0 is the kernel.
      if (this.batch.nameLength(i) >= 8 && (name[4]! | name[5]! | name[6]! | name[7]!) !== 0) {
        this.stats.foreign++;
        continue;
      }
      const truncated = (this.batch.flags(i) & libc.MSG.TRUNC) !== 0;
      if (truncated) this.stats.truncated++;
      try {
        decodeNflogDatagram(this.slotBytes[i]!.subarray(0, Math.min(this.batch.length(i), this.slotSize)), out);
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        // A cut datagram ends in a partial message: already counted as truncated.
        if (!truncated) this.stats.decodeErrors++;
      }
    }
    this.stats.packets += out.length;
    return out;
  }

  /**
   * Changes how many packets the kernel gathers into one datagram
   * (NFULA_CFG_QTHRESH) while the group is being read. No ACK is awaited:
   * log messages keep arriving on this socket, and an ACK would have to be
   * fished out from among them. The kernel only stores the number, so this
   * cannot fail on a bound group; a failure would come back as an NLMSG_ERROR
   * that readBatch() passes over. Datagrams still leave when the flush timer
   * fires or nlbufsiz is full, whichever comes first.
   */
  setQueueThreshold(qthresh: number): void {
    if (!Number.isInteger(qthresh) || qthresh < 1 || qthresh > 0xffffffff) throw new RangeError(`qthresh must be a positive integer, got ${qthresh}`);
    const msg = encodeNflogConfig({ family: 0, group: this.group, qthresh }, this.seq++, 0, false);
    if (libc.sendto(this.fd, msg, this.kernel) === libc.WOULD_BLOCK) {
      throw new SyscallError('sendto', libc.ERRNO.EAGAIN, 'EAGAIN', 'nfnetlink config message');
    }
  }

  /**
   * True when the last readBatch() filled every slot, i.e. more datagrams
   * may be waiting (read again before polling).
   */
  get pending(): boolean {
    return this.lastDatagrams === this.batch.slots;
  }

  /**
   * Reads on the event loop: `onBatch` gets each non-empty batch (same
   * zero-copy rules as readBatch). For simple uses; the relay's data plane
   * reads with readBatch() in a worker thread instead.
   */
  start(onBatch: (packets: readonly NflogPacket[]) => void): void {
    if (this.closed) throw new SyscallError('recv', libc.ERRNO.EBADF, 'EBADF', 'the NFLOG reader is closed');
    if (this.watch) return;
    this.watch = libc.watchFd(this.fd, () => {
      for (let i = 0; i < MAX_BATCHES_PER_WAKEUP && !this.closed; i++) {
        const packets = this.readBatch();
        if (packets.length > 0) onBatch(packets);
        if (!this.pending) break;
      }
    });
  }

  /** Stops start()'s watch; the group stays bound. */
  stop(): void {
    this.watch?.close();
    this.watch = undefined;
  }

  /**
   * Unbinds the group and closes the socket; idempotent. The unbind is sent
   * without waiting for its ACK: closing the socket releases the group in
   * any case (NETLINK_URELEASE destroys the instances of a closed port,
   * nfulnl_rcv_nl_event()).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stop();
    try {
      libc.sendto(this.fd, encodeNflogConfig(nflogConfig.unbind(this.group), this.seq++, 0), this.kernel);
    } finally {
      libc.close(this.fd);
    }
  }
}

function alignPage(n: number): number {
  return Math.ceil(n / 4096) * 4096;
}

/** The same kernel error, with a message that says what it means here. */
function relabel(err: NetlinkError, what: string): NetlinkError {
  const o: { request: string; ackText?: string; ackOffset?: number } = { request: what };
  if (err.ackText !== undefined) o.ackText = err.ackText;
  if (err.ackOffset !== undefined) o.ackOffset = err.ackOffset;
  return new NetlinkError(err.errno, err.errnoName, o);
}
