/**
 * How a replica reaches the other nodes (../shared/design.md, "Relay
 * transports"). Every transport delivers the captured packet so the owner's
 * stack handles it like the original:
 *
 *   udp        the verbatim IP packet in a pathguard datagram to each peer's
 *              relay port; the peer injects it through its TUN device
 *   l2         the verbatim IP packet in an Ethernet frame to each peer's MAC
 *   broadcast  one frame to ff:ff:ff:ff:ff:ff
 *   ip         the ICMP message re-originated to each peer address with a new
 *              outer header and --ttl (go-pmtud's original behaviour)
 *
 * Transports live in the data-plane worker. enqueue() only records what to
 * send (the packet view stays valid until the next NFLOG read); flush() sends
 * everything queued since the last flush with as few sendmmsg(2) calls as the
 * batch size allows, and charges each failed slot to its peer. A send error
 * is counted, never thrown: one unreachable peer must not stop the rest.
 */
import type { Mutable } from '../wire/reader.js';
import { createHmac } from 'node:crypto';
import { PacketSender, type Frame } from '../net/packet-socket.js';
import { UdpSocket, type Datagram } from '../net/udp-socket.js';
import { RawIpSender, type IcmpDatagram } from '../net/raw-ip.js';
import type { SendReport } from '../net/batch-sender.js';
import { ETH_P } from '../wire/ethernet.js';
import { relayHeaderLength, writeRelayHeader, RELAY_HEADER_LEN } from '../wire/relay-datagram.js';
import type { TooBig } from '../wire/too-big.js';
import type { RelayStats } from './stats.js';

export type TransportName = 'udp' | 'l2' | 'broadcast' | 'ip';

/** A peer as the data plane sees it. `index` keys its error counter. */
export interface PeerTarget {
  readonly index: number;
  /** 4 or 16 bytes. */
  readonly address: Uint8Array;
  /** The peer's MAC on the uplink, when known (l2). */
  readonly mac?: Uint8Array;
  /** The uplink that MAC was found on (l2); absent: the first uplink. */
  readonly ifindex?: number;
}

export interface Transport {
  readonly name: TransportName;
  setPeers(peers: readonly PeerTarget[]): void;
  /**
   * Queues `packet` (a full IP packet, a view valid until the next read) for
   * every peer; `ifindex` is the interface it was captured on (broadcast
   * answers on that segment).
   */
  enqueue(packet: Uint8Array, tooBig: TooBig, ifindex?: number): void;
  /** Sends everything queued; returns how many replicas the kernel accepted. */
  flush(): number;
  close(): void;
}

const BROADCAST_MAC = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

type MutableFrame = Mutable<Frame>;

/**
 * The queue of frames to send, with its Frame objects kept from flush to
 * flush: queueing a frame overwrites a pooled object instead of allocating
 * one per replica (a flood queues hundreds of thousands a second, and each
 * would be garbage by the next flush). The pool grows to the largest queue
 * seen, which the data plane bounds by its read batch.
 */
class FrameQueue {
  readonly frames: Frame[] = [];
  private readonly pool: MutableFrame[] = [];

  push(payload: Uint8Array, mac: Uint8Array, protocol: number): void {
    let f = this.pool[this.frames.length];
    if (f === undefined) {
      f = { payload, mac, protocol };
      this.pool.push(f);
    } else {
      f.payload = payload;
      f.mac = mac;
      f.protocol = protocol;
    }
    this.frames.push(f);
  }
}

/** Runs `send` over `items` in chunks of `batch`, charging failures to `owners`. */
function sendChunked<T>(
  items: T[],
  owners: number[],
  batch: number,
  send: (chunk: T[]) => SendReport,
  stats: RelayStats,
): number {
  let sent = 0;
  for (let start = 0; start < items.length; start += batch) {
    const chunk = items.length <= batch ? items : items.slice(start, start + batch);
    const r = send(chunk);
    sent += r.sent;
    if (r.failed > 0) {
      stats.add('send_errors', r.failed);
      for (let i = 0; i < r.count; i++) if (r.errno(i) !== 0 && owners[start + i]! >= 0) stats.peerError(owners[start + i]!);
    }
  }
  stats.add('replicas_sent', sent);
  items.length = 0;
  owners.length = 0;
  return sent;
}

/** One uplink's AF_PACKET sender and what is queued for it. */
interface Lane {
  readonly sender: PacketSender;
  readonly queue: FrameQueue;
  readonly owners: number[];
  readonly send: (c: Frame[]) => SendReport;
}

/** Fills `lanes` (by ifindex) from `senders`; returns the first, the fallback. */
function openLanes(senders: readonly PacketSender[], lanes: Map<number, Lane>): Lane {
  if (senders.length === 0) throw new RangeError('an Ethernet transport needs at least one interface');
  for (const sender of senders) lanes.set(sender.ifindex, { sender, queue: new FrameQueue(), owners: [], send: (c) => sender.sendTo(c) });
  return lanes.get(senders[0]!.ifindex)!;
}

function flushLanes(lanes: ReadonlyMap<number, Lane>, stats: RelayStats): number {
  let sent = 0;
  for (const lane of lanes.values()) {
    if (lane.queue.frames.length > 0) sent += sendChunked(lane.queue.frames, lane.owners, lane.sender.batchSize, lane.send, stats);
  }
  return sent;
}

/**
 * Frames to each peer's MAC, out of the uplink the peer was found on (one per
 * distinct MAC: a peer listed by IPv4 and IPv6 gets one copy).
 */
export class L2Transport implements Transport {
  readonly name = 'l2' as const;
  private targets: { index: number; mac: Uint8Array; lane: Lane }[] = [];
  private readonly lanes = new Map<number, Lane>();
  private readonly fallback: Lane;
  private readonly stats: RelayStats;
  private missingMac = 0;

  constructor(senders: readonly PacketSender[], stats: RelayStats) {
    this.fallback = openLanes(senders, this.lanes);
    this.stats = stats;
  }

  setPeers(peers: readonly PeerTarget[]): void {
    const seen = new Set<string>();
    this.targets = [];
    this.missingMac = 0;
    for (const p of peers) {
      if (!p.mac) {
        this.missingMac++;
        continue;
      }
      const lane = (p.ifindex !== undefined ? this.lanes.get(p.ifindex) : undefined) ?? this.fallback;
      const k = `${lane.sender.ifindex}/${p.mac.join(':')}`;
      if (seen.has(k)) continue;
      seen.add(k);
      this.targets.push({ index: p.index, mac: p.mac, lane });
    }
  }

  /** Peers skipped because their MAC is not resolved yet. */
  get unresolved(): number {
    return this.missingMac;
  }

  enqueue(packet: Uint8Array, tooBig: TooBig): void {
    const protocol = tooBig.family === 4 ? ETH_P.IP : ETH_P.IPV6;
    for (const t of this.targets) {
      t.lane.queue.push(packet, t.mac, protocol);
      t.lane.owners.push(t.index);
    }
  }

  flush(): number {
    return flushLanes(this.lanes, this.stats);
  }

  close(): void {
    for (const lane of this.lanes.values()) lane.sender.close();
  }
}

/**
 * One broadcast frame per message, whatever the peers (cloudflare/pmtud's
 * way), on the uplink the message was captured on: with several uplinks each
 * is its own segment, and its peers are the ones that must hear it. A
 * message from an interface without a sender goes out of the first one.
 */
export class BroadcastTransport implements Transport {
  readonly name = 'broadcast' as const;
  private readonly lanes = new Map<number, Lane>();
  private readonly fallback: Lane;
  private readonly stats: RelayStats;

  constructor(senders: readonly PacketSender[], stats: RelayStats) {
    this.fallback = openLanes(senders, this.lanes);
    this.stats = stats;
  }

  setPeers(): void {
    // Broadcast reaches whoever is on the segment.
  }

  enqueue(packet: Uint8Array, tooBig: TooBig, ifindex?: number): void {
    const lane = (ifindex !== undefined ? this.lanes.get(ifindex) : undefined) ?? this.fallback;
    lane.queue.push(packet, BROADCAST_MAC, tooBig.family === 4 ? ETH_P.IP : ETH_P.IPV6);
    lane.owners.push(-1);
  }

  flush(): number {
    return flushLanes(this.lanes, this.stats);
  }

  close(): void {
    for (const lane of this.lanes.values()) lane.sender.close();
  }
}

/** Re-originates the ICMP message to each peer of the packet's family with a fixed TTL. */
export class IpTransport implements Transport {
  readonly name = 'ip' as const;
  private v4: PeerTarget[] = [];
  private v6: PeerTarget[] = [];
  private readonly q4: IcmpDatagram[] = [];
  private readonly q6: IcmpDatagram[] = [];
  private readonly o4: number[] = [];
  private readonly o6: number[] = [];
  private readonly s4: RawIpSender;
  private readonly s6: RawIpSender;
  private readonly ttl: number;
  private readonly stats: RelayStats;

  constructor(s4: RawIpSender, s6: RawIpSender, ttl: number, stats: RelayStats) {
    this.s4 = s4;
    this.s6 = s6;
    this.ttl = ttl;
    this.stats = stats;
  }

  setPeers(peers: readonly PeerTarget[]): void {
    this.v4 = peers.filter((p) => p.address.byteLength === 4);
    this.v6 = peers.filter((p) => p.address.byteLength === 16);
  }

  enqueue(packet: Uint8Array, tooBig: TooBig): void {
    // The ICMP message is reused as is: its checksum does not cover the IPv4
    // header, and for ICMPv6 the kernel recomputes it over the new pseudo-header.
    const icmp = packet.subarray(tooBig.icmpOffset);
    const [peers, q, o] = tooBig.family === 4 ? [this.v4, this.q4, this.o4] : [this.v6, this.q6, this.o6];
    for (const p of peers) {
      q.push({ dst: p.address, icmp, ttl: this.ttl });
      o.push(p.index);
    }
  }

  flush(): number {
    let sent = 0;
    if (this.q4.length > 0) sent += sendChunked(this.q4, this.o4, this.s4.batchSize, (c) => this.s4.sendIcmp(c), this.stats);
    if (this.q6.length > 0) sent += sendChunked(this.q6, this.o6, this.s6.batchSize, (c) => this.s6.sendIcmp(c), this.stats);
    return sent;
  }

  close(): void {
    this.s4.close();
    this.s6.close();
  }
}

/**
 * The verbatim packet in a pathguard datagram (src/wire/relay-datagram.ts) to
 * each peer of the packet's family on the relay port. Datagrams are built in
 * a preallocated arena that is reused after every flush.
 */
export class UdpTransport implements Transport {
  readonly name = 'udp' as const;
  private v4: { index: number; to: Uint8Array }[] = [];
  private v6: { index: number; to: Uint8Array }[] = [];
  private readonly q4: Datagram[] = [];
  private readonly q6: Datagram[] = [];
  private readonly o4: number[] = [];
  private readonly o6: number[] = [];
  private readonly arena = Buffer.alloc(4 << 20);
  private used = 0;
  private readonly sock4: UdpSocket;
  private readonly sock6: UdpSocket;
  private readonly port: number;
  private readonly key: Uint8Array | undefined;
  private readonly stats: RelayStats;
  private readonly clock: () => number;

  constructor(opts: { sock4: UdpSocket; sock6: UdpSocket; port: number; key?: Uint8Array; stats: RelayStats; clockS?: () => number }) {
    this.sock4 = opts.sock4;
    this.sock6 = opts.sock6;
    this.port = opts.port;
    this.key = opts.key;
    this.stats = opts.stats;
    this.clock = opts.clockS ?? (() => Math.floor(Date.now() / 1000));
  }

  setPeers(peers: readonly PeerTarget[]): void {
    this.v4 = peers.filter((p) => p.address.byteLength === 4).map((p) => ({ index: p.index, to: UdpSocket.sockaddr(p.address, this.port) }));
    this.v6 = peers.filter((p) => p.address.byteLength === 16).map((p) => ({ index: p.index, to: UdpSocket.sockaddr(p.address, this.port) }));
  }

  /** Builds one datagram (header, HMAC, packet) in the arena; the same bytes go to every peer. */
  private datagram(packet: Uint8Array): Uint8Array | undefined {
    const withHmac = this.key !== undefined;
    const len = relayHeaderLength(withHmac) + packet.byteLength;
    if (this.used + len > this.arena.byteLength) {
      this.flush();
      if (len > this.arena.byteLength) return undefined;
    }
    const out = this.arena.subarray(this.used, this.used + len);
    this.used += len;
    const at = writeRelayHeader(out, 0, this.clock(), withHmac);
    out.set(packet, at);
    if (this.key) {
      const mac = createHmac('sha256', this.key).update(out.subarray(0, RELAY_HEADER_LEN)).update(packet).digest();
      out.set(mac, RELAY_HEADER_LEN);
    }
    return out;
  }

  enqueue(packet: Uint8Array, tooBig: TooBig): void {
    const [peers, q, o] = tooBig.family === 4 ? [this.v4, this.q4, this.o4] : [this.v6, this.q6, this.o6];
    if (peers.length === 0) return;
    const data = this.datagram(packet);
    if (!data) return;
    for (const p of peers) {
      q.push({ data, to: p.to });
      o.push(p.index);
    }
  }

  flush(): number {
    let sent = 0;
    if (this.q4.length > 0) sent += sendChunked(this.q4, this.o4, this.sock4.batchSize, (c) => this.sock4.sendMany(c), this.stats);
    if (this.q6.length > 0) sent += sendChunked(this.q6, this.o6, this.sock6.batchSize, (c) => this.sock6.sendMany(c), this.stats);
    this.used = 0;
    return sent;
  }

  close(): void {
    // The sockets are shared with the replica receiver, which closes them.
  }
}
