/**
 * The relay's data plane: a worker thread that receives captured packets
 * from NFLOG, decides, and sends replicas (and, for the udp transport,
 * receives replicas from peers and injects them through the TUN device).
 *
 * It runs a plain loop around poll(2) with a 100 ms timeout, so it blocks
 * only its own thread: a flood cannot delay metrics, health checks or the
 * control plane on the main thread. Between turns it takes control messages
 * (peer and local-address updates, stop) with receiveMessageOnPort, and it
 * writes a heartbeat into shared memory that /healthz watches.
 *
 * Per packet: one decide(), one enqueue (no syscall); per NFLOG batch: one
 * flush (sendmmsg per family and per 64 replicas). Nothing is logged per
 * packet unless the level is debug. How many packets the kernel puts in one
 * NFLOG datagram follows the rate (queue-threshold.ts): one while quiet, so
 * nothing waits, more under a flood, so reading stays cheap.
 */
import { parentPort, workerData, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { NflogReader, type NflogPacket } from '../net/nflog-reader.js';
import { PacketSender } from '../net/packet-socket.js';
import { UdpSocket } from '../net/udp-socket.js';
import { RawIpSender } from '../net/raw-ip.js';
import { TunDevice } from '../net/tun.js';
import { PollSet, POLL } from '../sys/libc.js';
import { decodeRelayDatagram } from '../wire/relay-datagram.js';
import { decodeTooBig, tooBigKey } from '../wire/too-big-decode.js';
import { addressKey, formatAddress } from '../wire/ip-address.js';
import { serializeError, type SerializedError } from '../errors.js';
import { decide, RelayState, type RelayStateOptions } from './decide.js';
import { RATE_LIMIT } from './rate-limiter.js';
import { REJECT_REASONS } from './validate.js';
import { RelayStats } from './stats.js';
import { TurnGuard } from './turn-guard.js';
import { QueueThreshold } from './queue-threshold.js';
import { BroadcastTransport, IpTransport, L2Transport, UdpTransport, type PeerTarget, type Transport, type TransportName } from './transports.js';

export interface DataPlaneInit {
  readonly stats: SharedArrayBuffer;
  readonly nflogGroup: number;
  readonly transport: TransportName;
  /** Interface l2/broadcast frames leave by. */
  readonly sendInterface: string;
  /** Every named uplink: broadcast answers on the one a message arrived on. */
  readonly uplinks: readonly string[];
  readonly relayPort: number;
  readonly key?: Uint8Array;
  readonly ttl: number;
  /**
   * TUN device for injecting received replicas (udp transport). The one
   * worker given it also receives replicas on --relay-port; the others only
   * send, from an ephemeral port.
   */
  readonly tunName?: string;
  /** Largest clock difference accepted on a received replica, seconds. */
  readonly maxSkewS: number;
  readonly dryRun: boolean;
  readonly debug: boolean;
  readonly state: RelayStateOptions;
  readonly peers: readonly PeerTarget[];
  readonly localAddresses: readonly Uint8Array[];
}

export type ToDataPlane =
  | { readonly type: 'peers'; readonly peers: readonly PeerTarget[] }
  | { readonly type: 'local'; readonly addresses: readonly Uint8Array[] }
  | { readonly type: 'stop' };

export type FromDataPlane =
  | { readonly type: 'ready'; readonly tunName?: string; readonly tunIfindex?: number }
  | { readonly type: 'fatal'; readonly error: SerializedError }
  | { readonly type: 'debug'; readonly msg: string; readonly fields: Record<string, unknown> }
  | { readonly type: 'warning'; readonly msg: string; readonly error: string; readonly count: number }
  | { readonly type: 'stopped' };


/** A 6-byte MAC as one number (exact: 48 bits fit a double). */
function macNumber(mac: Uint8Array): number {
  return ((mac[0]! * 256 + mac[1]!) * 256 + mac[2]!) * 16_777_216 + ((mac[3]! << 16) | (mac[4]! << 8) | mac[5]!);
}

class DataPlane {
  private readonly init: DataPlaneInit;
  private readonly port: MessagePort;
  private readonly stats: RelayStats;
  private readonly state: RelayState;
  private readonly reader: NflogReader;
  private readonly transport: Transport;
  private readonly udp4?: UdpSocket;
  private readonly udp6?: UdpSocket;
  private readonly tun?: TunDevice;
  /** Every address of every peer (a udp replica is accepted from any of its node's addresses). */
  private peerByKey = new Map<string, PeerTarget>();
  private peerCount = 0;
  /** Peer MACs as 48-bit numbers: looked up per captured packet, so no string is built. */
  private peerMacs = new Set<number>();
  private stopping = false;
  /** A turn that throws (a bug, never a bad packet) costs that turn, not the relay. */
  private readonly guard = new TurnGuard({
    onFailure: () => {
      this.stats.add('internal_errors');
      try {
        this.transport.flush();
      } catch {
        // Best effort after a failed turn; the error that matters is the one reported.
      }
    },
    report: (err, count) =>
      this.port.postMessage({
        type: 'warning',
        msg: 'the data plane hit an unexpected error and went on',
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
        count,
      } satisfies FromDataPlane),
  });
  /** Messages per NFLOG datagram, following the rate (1 when quiet: no added latency). */
  private readonly qthresh = new QueueThreshold();
  private readonly injectQueue: Uint8Array[] = [];
  /** decide()'s per-packet input, reused (decide() does not keep it). */
  private readonly meta: { ifindex: number; now: number; fromPeer: boolean } = { ifindex: 0, now: 0, fromPeer: false };

  constructor(init: DataPlaneInit, port: MessagePort) {
    this.init = init;
    this.port = port;
    this.stats = new RelayStats(init.stats);
    this.state = new RelayState({ ...init.state, localAddresses: init.localAddresses });
    // Open everything before reporting ready; any failure here is fatal and explained.
    // One message per datagram to start with; QueueThreshold raises it under load.
    this.reader = NflogReader.open(init.nflogGroup, { qthresh: 1, flushTimeout: 0 });
    if (init.tunName) {
      this.udp4 = UdpSocket.open({ family: 4, port: init.relayPort, maxDatagram: 9000, receiveBuffer: 4 << 20, reuseAddress: true });
      this.udp6 = UdpSocket.open({ family: 6, port: init.relayPort, maxDatagram: 9000, receiveBuffer: 4 << 20, reuseAddress: true });
    } else if (init.transport === 'udp') {
      this.udp4 = UdpSocket.open({ family: 4, maxDatagram: 9000 });
      this.udp6 = UdpSocket.open({ family: 6, maxDatagram: 9000 });
    }
    if (init.tunName) this.tun = TunDevice.open(init.tunName, { mtu: 65535 });
    this.transport = this.openTransport();
    this.setPeers(init.peers);
  }

  private openTransport(): Transport {
    const { transport, sendInterface, stats } = { ...this.init, stats: this.stats };
    switch (transport) {
      case 'l2':
        return new L2Transport(
          (this.init.uplinks.length > 0 ? this.init.uplinks : [sendInterface]).map((device) => PacketSender.open({ device })),
          stats,
        );
      case 'broadcast':
        return new BroadcastTransport(
          (this.init.uplinks.length > 0 ? this.init.uplinks : [sendInterface]).map((device) => PacketSender.open({ device })),
          stats,
        );
      case 'ip':
        return new IpTransport(RawIpSender.open({ family: 4 }), RawIpSender.open({ family: 6 }), this.init.ttl, stats);
      case 'udp':
        return new UdpTransport({
          sock4: this.udp4!,
          sock6: this.udp6!,
          port: this.init.relayPort,
          stats,
          ...(this.init.key ? { key: this.init.key } : {}),
        });
    }
  }

  private setPeers(peers: readonly PeerTarget[]): void {
    this.transport.setPeers(peers);
    this.state.setPeers(peers.flatMap((p) => p.addresses));
    this.peerByKey = new Map(peers.flatMap((p) => p.addresses.map((a) => [addressKey(a), p] as const)));
    this.peerCount = peers.length;
    // Only l2 replicas keep the original source address and are told apart by the peer's MAC.
    this.peerMacs = new Set(peers.filter((p) => p.mac && this.init.transport === 'l2').map((p) => macNumber(p.mac!)));
    this.stats.set('peers', peers.length);
  }

  /** A packet the capture layer can tell is a replica (when the operator's own rules let it through). */
  private isReplica(p: NflogPacket): boolean {
    if (this.tun && p.indev === this.tun.ifindex) return true;
    const hdr = p.hwHeader;
    if (hdr && hdr.byteLength >= 12) {
      let bcast = true;
      for (let i = 0; i < 6; i++) if (hdr[i] !== 0xff) bcast = false;
      if (bcast) return true;
    }
    if (p.hwaddr && p.hwaddr.byteLength === 6 && this.peerMacs.size > 0) {
      if (this.peerMacs.has(macNumber(p.hwaddr))) return true;
    }
    return false;
  }

  private control(): void {
    for (;;) {
      const m = receiveMessageOnPort(this.port);
      if (!m) return;
      const msg = m.message as ToDataPlane;
      if (msg.type === 'peers') this.setPeers(msg.peers);
      else if (msg.type === 'local') this.state.setLocalAddresses(msg.addresses);
      else if (msg.type === 'stop') this.stopping = true;
    }
  }

  /** Reads and relays what NFLOG has queued; returns the number of packets read. */
  private capture(): number {
    let read = 0;
    // Drain what is queued now, but yield to the loop after a bounded amount
    // so control messages and the heartbeat keep flowing under a flood.
    const meta = this.meta;
    for (let round = 0; round < 64; round++) {
      const packets = this.reader.readBatch();
      if (packets.length === 0) break;
      read += packets.length;
      const t0 = performance.now();
      meta.now = t0;
      let queued = 0;
      for (const p of packets) {
        if (p.payload === undefined) {
          this.state.counters.rejected.truncated_ip++;
          continue;
        }
        meta.ifindex = p.indev ?? 0;
        meta.fromPeer = this.isReplica(p);
        const d = decide(p.payload, meta, this.state);
        if (d.kind !== 'relay') continue;
        if (this.init.dryRun) {
          this.stats.add('dry_run');
        } else if (this.transport.enqueue(p.payload, d.tooBig, p.indev) > 0) {
          queued++;
        } else {
          // Nowhere to send it: say why, and let a later copy be tried again rather than called a duplicate.
          this.state.counters.rejected[this.transport.name === 'ip' && this.peerCount > 0 ? 'no_peer_of_family' : 'no_peers']++;
          this.state.dedup.forget(d.tooBig.flow, d.tooBig.mtu);
          continue;
        }
        if (this.init.debug) {
          this.port.postMessage({
            type: 'debug',
            msg: this.init.dryRun ? 'would relay' : 'relaying',
            fields: { flow: tooBigKey(d.tooBig.flow, d.tooBig.mtu), mtu: d.tooBig.mtu, from: formatAddress(d.tooBig.outerSrc), transport: this.transport.name },
          } satisfies FromDataPlane);
        }
      }
      this.stats.add('received', packets.length);
      if (queued > 0) {
        // Relayed: messages of which at least one replica reached the kernel.
        this.stats.add('relayed', this.transport.flush());
        this.stats.latency((performance.now() - t0) * 1000, queued);
      }
      // A read that did not fill every slot emptied the socket: poll(2) says
      // when more arrives, so skip the recvmmsg that would only return EAGAIN
      // (one syscall per wake-up, and under a flood there are many).
      if (!this.reader.pending) break;
    }
    this.syncDecisionCounters();
    this.stats.set('nflog_overruns', this.reader.stats.overruns);
    return read;
  }

  /** Mirrors decide()'s own counters into shared memory (cheap: a few dozen numbers per batch). */
  private syncDecisionCounters(): void {
    const c = this.state.counters;
    this.stats.set('duplicate', c.duplicate);
    this.stats.set('loop', c.loop);
    // Fixed lists rather than Object.entries(): this runs on every wake-up and must not allocate.
    for (const r of REJECT_REASONS) {
      const d = c.rejected[r] - this.stats.rejected(r);
      if (d !== 0) this.stats.reject(r, d);
    }
    for (const r of RATE_LIMIT) {
      const d = c.rateLimited[r] - this.stats.rateLimited(r);
      if (d !== 0) this.stats.rateLimit(r, d);
    }
  }

  /** Replicas from peers (udp transport): check, then inject into our own stack. */
  private receiveReplicas(sock: UdpSocket): void {
    for (let round = 0; round < 64; round++) {
      const r = sock.receiveBatch();
      if (r.count === 0) break;
      const now = Math.floor(Date.now() / 1000);
      for (let i = 0; i < r.count; i++) {
        this.stats.add('replicas_received');
        const src = r.source(i).address;
        if (!this.peerByKey.has(addressKey(src))) {
          this.stats.replicaReject('unknown_peer');
          continue;
        }
        if (r.truncated(i)) {
          this.stats.replicaReject('short_datagram');
          continue;
        }
        const d = decodeRelayDatagram(r.data(i), this.init.key !== undefined);
        if (!d.ok) {
          this.stats.replicaReject(d.reason);
          continue;
        }
        if (this.init.key) {
          const expect = createHmac('sha256', this.init.key).update(d.value.header).update(d.value.packet).digest();
          if (!timingSafeEqual(expect, d.value.hmac!)) {
            this.stats.replicaReject('bad_hmac');
            continue;
          }
        }
        if (Math.abs(now - d.value.time) > this.init.maxSkewS) {
          this.stats.replicaReject('stale');
          continue;
        }
        if (!decodeTooBig(d.value.packet).ok) {
          this.stats.replicaReject('not_too_big');
          continue;
        }
        this.injectQueue.push(d.value.packet);
      }
      if (this.injectQueue.length > 0) {
        if (this.tun && !this.init.dryRun) {
          const rep = this.tun.writeMany(this.injectQueue);
          this.stats.add('replicas_injected', rep.sent);
          this.stats.add('inject_errors', rep.failed);
        }
        this.injectQueue.length = 0;
      }
    }
  }

  run(): void {
    const fds = [{ fd: this.reader.fd, events: POLL.IN }];
    if (this.tun && this.udp4 && this.udp6) fds.push({ fd: this.udp4.fd, events: POLL.IN }, { fd: this.udp6.fd, events: POLL.IN });
    const ps = new PollSet(fds);
    this.port.postMessage({
      type: 'ready',
      ...(this.tun ? { tunName: this.tun.name, tunIfindex: this.tun.ifindex } : {}),
    } satisfies FromDataPlane);
    while (!this.stopping) {
      this.stats.set('heartbeat_ms', Date.now());
      this.stats.add('loop_turns');
      this.control();
      const n = ps.wait(100);
      let captured = 0;
      if (n > 0) {
        if (ps.revents(0) & POLL.IN) this.guard.run(() => (captured = this.capture()));
        if (this.tun && ps.revents(1) & POLL.IN) this.guard.run(() => this.receiveReplicas(this.udp4!));
        if (this.tun && ps.revents(2) & POLL.IN) this.guard.run(() => this.receiveReplicas(this.udp6!));
      }
      const qthresh = this.qthresh.observe(captured, performance.now());
      if (qthresh !== undefined) {
        this.guard.run(() => this.reader.setQueueThreshold(qthresh));
        this.stats.set('nflog_qthresh', qthresh);
      }
    }
    this.close();
  }

  close(): void {
    this.reader.close();
    this.transport.close();
    this.udp4?.close();
    this.udp6?.close();
    this.tun?.close();
  }
}

function main(): void {
  const port = parentPort;
  if (!port) throw new Error('data-plane.ts runs as a worker thread');
  let plane: DataPlane;
  try {
    plane = new DataPlane(workerData as DataPlaneInit, port);
  } catch (err) {
    port.postMessage({ type: 'fatal', error: serializeError(err) } satisfies FromDataPlane);
    return;
  }
  try {
    plane.run();
  } catch (err) {
    port.postMessage({ type: 'fatal', error: serializeError(err) } satisfies FromDataPlane);
    plane.close();
    return;
  }
  port.postMessage({ type: 'stopped' } satisfies FromDataPlane);
}

main();
