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
 * A peer is a node: every peer gets one replica per message, whatever the
 * family of the address that carries it (udp carries an IPv6 message to an
 * IPv4-only node over IPv4, and the other way round; l2 and broadcast carry
 * both in Ethernet). Only `ip` re-originates the ICMP itself and so needs a
 * peer address of the message's family.
 *
 * Transports live in the data-plane worker. enqueue() only records what to
 * send (the packet view stays valid until the next NFLOG read) and says how
 * many replicas it queued; flush() sends everything queued since the last
 * flush with as few sendmmsg(2) calls as the batch size allows, charges each
 * failed slot to its peer, and returns how many messages got at least one
 * replica into the kernel: that, and nothing else, is a relayed message. A
 * send error is counted, never thrown: one unreachable peer must not stop
 * the rest.
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

/** A peer node as the data plane sees it. `index` keys its error counter. */
export interface PeerTarget {
  readonly index: number;
  /** Every address of the node, 4 or 16 bytes each, IPv4 first; at least one. */
  readonly addresses: readonly Uint8Array[];
  /** The peer's MAC on the uplink, when known (l2). */
  readonly mac?: Uint8Array;
  /** The uplink that MAC was found on (l2); absent: the first uplink. */
  readonly ifindex?: number;
}

/** The peer's first address of `family`, if it has one. */
export function addressOfFamily(p: PeerTarget, family: 4 | 6): Uint8Array | undefined {
  const len = family === 4 ? 4 : 16;
  return p.addresses.find((a) => a.byteLength === len);
}

/** The address that carries a replica of a `family` message to `p`: one of that family when it has one, else its first. */
export function carrierFor(p: PeerTarget, family: 4 | 6): Uint8Array {
  return addressOfFamily(p, family) ?? p.addresses[0]!;
}

/**
 * Which queued messages got a replica into the kernel. Each enqueue() takes
 * a sequence number for its message and tags every replica with it; a slot
 * the kernel accepts marks its message; finish() counts the marked messages
 * and resets for the next flush. Reused storage: no allocation per flush.
 */
export class Deliveries {
  private marks = new Uint8Array(256);
  private next = 0;

  /** A sequence number for the next message. */
  begin(): number {
    if (this.next === this.marks.length) {
      const grown = new Uint8Array(this.marks.length * 2);
      grown.set(this.marks);
      this.marks = grown;
    }
    return this.next++;
  }

  mark(seq: number): void {
    this.marks[seq] = 1;
  }

  /** Messages with at least one accepted replica since the last finish(). */
  finish(): number {
    let n = 0;
    for (let i = 0; i < this.next; i++) {
      n += this.marks[i]!;
      this.marks[i] = 0;
    }
    this.next = 0;
    return n;
  }
}

export interface Transport {
  readonly name: TransportName;
  setPeers(peers: readonly PeerTarget[]): void;
  /**
   * Queues `packet` (a full IP packet, a view valid until the next read) for
   * every peer; `ifindex` is the interface it was captured on (broadcast
   * answers on that segment). Returns the replicas queued: 0 when no peer
   * can be sent this message (no peers, no MAC yet, `ip` without a peer
   * address of its family).
   */
  enqueue(packet: Uint8Array, tooBig: TooBig, ifindex?: number): number;
  /** Sends everything queued; returns how many of the queued messages got at least one replica into the kernel. */
  flush(): number;
  close(): void;
}

const BROADCAST_MAC = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

/** What is queued for one sender: the items, the peer slot of each (-1: none), the message each belongs to. */
interface Queue<T> {
  readonly items: T[];
  readonly owners: number[];
  readonly seqs: number[];
}

function newQueue<T>(): Queue<T> {
  return { items: [], owners: [], seqs: [] };
}

/**
 * Runs `send` over the queue in chunks of `batch`, charging failures to their
 * peers and marking the messages whose replicas the kernel accepted.
 */
function sendChunked<T>(q: Queue<T>, batch: number, send: (chunk: T[]) => SendReport, stats: RelayStats, deliveries: Deliveries): void {
  const { items, owners, seqs } = q;
  let sent = 0;
  for (let start = 0; start < items.length; start += batch) {
    const chunk = items.length <= batch ? items : items.slice(start, start + batch);
    const r = send(chunk);
    sent += r.sent;
    for (let i = 0; i < r.count; i++) {
      if (r.errno(i) === 0) deliveries.mark(seqs[start + i]!);
      else if (owners[start + i]! >= 0) stats.peerError(owners[start + i]!);
    }
    if (r.failed > 0) stats.add('send_errors', r.failed);
  }
  stats.add('replicas_sent', sent);
  items.length = 0;
  owners.length = 0;
  seqs.length = 0;
}

type MutableFrame = Mutable<Frame>;

/**
 * The queue of frames to send, with its Frame objects kept from flush to
 * flush: queueing a frame overwrites a pooled object instead of allocating
 * one per replica (a flood queues hundreds of thousands a second, and each
 * would be garbage by the next flush). The pool grows to the largest queue
 * seen, which the data plane bounds by its read batch.
 */
class FrameQueue implements Queue<Frame> {
  readonly items: Frame[] = [];
  readonly owners: number[] = [];
  readonly seqs: number[] = [];
  private readonly pool: MutableFrame[] = [];

  push(payload: Uint8Array, mac: Uint8Array, protocol: number, owner: number, seq: number): void {
    let f = this.pool[this.items.length];
    if (f === undefined) {
      f = { payload, mac, protocol };
      this.pool.push(f);
    } else {
      f.payload = payload;
      f.mac = mac;
      f.protocol = protocol;
    }
    this.items.push(f);
    this.owners.push(owner);
    this.seqs.push(seq);
  }
}

/** One uplink's AF_PACKET sender and what is queued for it. */
interface Lane {
  readonly sender: PacketSender;
  readonly queue: FrameQueue;
  readonly send: (c: Frame[]) => SendReport;
}

/** Fills `lanes` (by ifindex) from `senders`; returns the first, the fallback. */
function openLanes(senders: readonly PacketSender[], lanes: Map<number, Lane>): Lane {
  if (senders.length === 0) throw new RangeError('an Ethernet transport needs at least one interface');
  for (const sender of senders) lanes.set(sender.ifindex, { sender, queue: new FrameQueue(), send: (c) => sender.sendTo(c) });
  return lanes.get(senders[0]!.ifindex)!;
}

function flushLanes(lanes: ReadonlyMap<number, Lane>, stats: RelayStats, deliveries: Deliveries): number {
  for (const lane of lanes.values()) {
    if (lane.queue.items.length > 0) sendChunked(lane.queue, lane.sender.batchSize, lane.send, stats, deliveries);
  }
  return deliveries.finish();
}

const ethertype = (family: 4 | 6): number => (family === 4 ? ETH_P.IP : ETH_P.IPV6);

/**
 * Frames to each peer's MAC, out of the uplink the peer was found on: one per
 * peer node (it has one MAC on that segment, whichever address it was
 * resolved by), carrying IPv4 and IPv6 messages alike.
 */
export class L2Transport implements Transport {
  readonly name = 'l2' as const;
  private targets: { index: number; mac: Uint8Array; lane: Lane }[] = [];
  private readonly lanes = new Map<number, Lane>();
  private readonly fallback: Lane;
  private readonly stats: RelayStats;
  private readonly deliveries = new Deliveries();
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

  enqueue(packet: Uint8Array, tooBig: TooBig): number {
    if (this.targets.length === 0) return 0;
    const protocol = ethertype(tooBig.family);
    const seq = this.deliveries.begin();
    for (const t of this.targets) t.lane.queue.push(packet, t.mac, protocol, t.index, seq);
    return this.targets.length;
  }

  flush(): number {
    return flushLanes(this.lanes, this.stats, this.deliveries);
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
  private readonly deliveries = new Deliveries();

  constructor(senders: readonly PacketSender[], stats: RelayStats) {
    this.fallback = openLanes(senders, this.lanes);
    this.stats = stats;
  }

  setPeers(): void {
    // Broadcast reaches whoever is on the segment.
  }

  enqueue(packet: Uint8Array, tooBig: TooBig, ifindex?: number): number {
    const lane = (ifindex !== undefined ? this.lanes.get(ifindex) : undefined) ?? this.fallback;
    lane.queue.push(packet, BROADCAST_MAC, ethertype(tooBig.family), -1, this.deliveries.begin());
    return 1;
  }

  flush(): number {
    return flushLanes(this.lanes, this.stats, this.deliveries);
  }

  close(): void {
    for (const lane of this.lanes.values()) lane.sender.close();
  }
}

/**
 * Re-originates the ICMP message to each peer's address of the message's
 * family with a fixed TTL. An ICMPv6 error cannot travel in IPv4 (nor the
 * other way round), so a peer without an address of that family gets none:
 * with IPv4-only peers, IPv6 messages cannot be relayed this way at all
 * (enqueue() returns 0 and the data plane counts them as no_peer_of_family).
 */
export class IpTransport implements Transport {
  readonly name = 'ip' as const;
  private v4: { index: number; dst: Uint8Array }[] = [];
  private v6: { index: number; dst: Uint8Array }[] = [];
  private readonly q4 = newQueue<IcmpDatagram>();
  private readonly q6 = newQueue<IcmpDatagram>();
  private readonly s4: RawIpSender;
  private readonly s6: RawIpSender;
  private readonly ttl: number;
  private readonly stats: RelayStats;
  private readonly deliveries = new Deliveries();

  constructor(s4: RawIpSender, s6: RawIpSender, ttl: number, stats: RelayStats) {
    this.s4 = s4;
    this.s6 = s6;
    this.ttl = ttl;
    this.stats = stats;
  }

  setPeers(peers: readonly PeerTarget[]): void {
    const of = (family: 4 | 6) =>
      peers.flatMap((p) => {
        const dst = addressOfFamily(p, family);
        return dst ? [{ index: p.index, dst }] : [];
      });
    this.v4 = of(4);
    this.v6 = of(6);
  }

  enqueue(packet: Uint8Array, tooBig: TooBig): number {
    // The ICMP message is reused as is: its checksum does not cover the IPv4
    // header, and for ICMPv6 the kernel recomputes it over the new pseudo-header.
    const icmp = packet.subarray(tooBig.icmpOffset);
    const [peers, q] = tooBig.family === 4 ? [this.v4, this.q4] : [this.v6, this.q6];
    if (peers.length === 0) return 0;
    const seq = this.deliveries.begin();
    for (const p of peers) {
      q.items.push({ dst: p.dst, icmp, ttl: this.ttl });
      q.owners.push(p.index);
      q.seqs.push(seq);
    }
    return peers.length;
  }

  flush(): number {
    if (this.q4.items.length > 0) sendChunked(this.q4, this.s4.batchSize, (c) => this.s4.sendIcmp(c), this.stats, this.deliveries);
    if (this.q6.items.length > 0) sendChunked(this.q6, this.s6.batchSize, (c) => this.s6.sendIcmp(c), this.stats, this.deliveries);
    return this.deliveries.finish();
  }

  close(): void {
    this.s4.close();
    this.s6.close();
  }
}

/** Where one peer's replicas of one message family go: the socket of the carrier's family and the peer's sockaddr. */
interface UdpRoute {
  readonly index: number;
  readonly via6: boolean;
  readonly to: Uint8Array;
}

/**
 * The verbatim packet in a pathguard datagram (src/wire/relay-datagram.ts) to
 * each peer on the relay port, once per peer node: over its address of the
 * message's family when it has one, else over its other address (the
 * datagram carries IPv4 and IPv6 messages alike). Datagrams are built in a
 * preallocated arena that is reused after every flush.
 */
export class UdpTransport implements Transport {
  readonly name = 'udp' as const;
  /** Per message family, one route per peer. */
  private routes: { 4: UdpRoute[]; 6: UdpRoute[] } = { 4: [], 6: [] };
  private readonly q4 = newQueue<Datagram>();
  private readonly q6 = newQueue<Datagram>();
  private readonly arena = Buffer.alloc(4 << 20);
  private used = 0;
  private readonly sock4: UdpSocket;
  private readonly sock6: UdpSocket;
  private readonly port: number;
  private readonly key: Uint8Array | undefined;
  private readonly stats: RelayStats;
  private readonly clock: () => number;
  private readonly deliveries = new Deliveries();

  constructor(opts: { sock4: UdpSocket; sock6: UdpSocket; port: number; key?: Uint8Array; stats: RelayStats; clockS?: () => number }) {
    this.sock4 = opts.sock4;
    this.sock6 = opts.sock6;
    this.port = opts.port;
    this.key = opts.key;
    this.stats = opts.stats;
    this.clock = opts.clockS ?? (() => Math.floor(Date.now() / 1000));
  }

  setPeers(peers: readonly PeerTarget[]): void {
    const sockaddrs = new Map<Uint8Array, Uint8Array>();
    const to = (a: Uint8Array) => {
      let s = sockaddrs.get(a);
      if (!s) sockaddrs.set(a, (s = UdpSocket.sockaddr(a, this.port)));
      return s;
    };
    const of = (family: 4 | 6): UdpRoute[] =>
      peers.map((p) => {
        const carrier = carrierFor(p, family);
        return { index: p.index, via6: carrier.byteLength === 16, to: to(carrier) };
      });
    this.routes = { 4: of(4), 6: of(6) };
  }

  /** Builds one datagram (header, HMAC, packet) in the arena; the same bytes go to every peer. */
  private datagram(packet: Uint8Array): Uint8Array | undefined {
    const withHmac = this.key !== undefined;
    const len = relayHeaderLength(withHmac) + packet.byteLength;
    if (this.used + len > this.arena.byteLength) {
      this.send();
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

  enqueue(packet: Uint8Array, tooBig: TooBig): number {
    const routes = this.routes[tooBig.family];
    if (routes.length === 0) return 0;
    const data = this.datagram(packet);
    if (!data) return 0;
    const seq = this.deliveries.begin();
    for (const r of routes) {
      const q = r.via6 ? this.q6 : this.q4;
      q.items.push({ data, to: r.to });
      q.owners.push(r.index);
      q.seqs.push(seq);
    }
    return routes.length;
  }

  /** Hands the queued datagrams to the kernel (the arena is free again after). */
  private send(): void {
    if (this.q4.items.length > 0) sendChunked(this.q4, this.sock4.batchSize, (c) => this.sock4.sendMany(c), this.stats, this.deliveries);
    if (this.q6.items.length > 0) sendChunked(this.q6, this.sock6.batchSize, (c) => this.sock6.sendMany(c), this.stats, this.deliveries);
    this.used = 0;
  }

  flush(): number {
    this.send();
    return this.deliveries.finish();
  }

  close(): void {
    // The sockets are shared with the replica receiver, which closes them.
  }
}
