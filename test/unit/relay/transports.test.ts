/**
 * The transports' fan-out and what they count, with the sockets replaced at
 * the byte boundary: each fake sender records the frames, datagrams or ICMP
 * messages it is handed and answers with a per-slot errno, as sendmmsg(2)
 * does. A message is relayed when at least one of its replicas reached the
 * kernel, and only then (flush()'s return value, which the data plane adds to
 * pathguard_relay_relayed_messages_total).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlotReport, type SendReport } from '../../../src/net/batch-sender.js';
import type { Frame, PacketSender } from '../../../src/net/packet-socket.js';
import { UdpSocket, type Datagram } from '../../../src/net/udp-socket.js';
import type { IcmpDatagram, RawIpSender } from '../../../src/net/raw-ip.js';
import { RelayStats } from '../../../src/relay/stats.js';
import { BroadcastTransport, carrierFor, Deliveries, IpTransport, L2Transport, UdpTransport, type PeerTarget } from '../../../src/relay/transports.js';
import { decodeTooBig } from '../../../src/wire/too-big-decode.js';
import { formatAddress, parseAddress } from '../../../src/wire/ip-address.js';
import { V4_UDP, V6_UDP } from './too-big-variant.js';

const ENETUNREACH = 101;

/** A sender that records what it is handed and fails the slots `fails` picks. */
class FakeSender<T> {
  readonly sent: T[][] = [];
  readonly batchSize = 64;
  readonly ifindex: number;
  fails: (item: T) => boolean = () => false;
  private readonly report = new SlotReport(64);
  constructor(ifindex = 2) {
    this.ifindex = ifindex;
  }
  send(items: readonly T[]): SendReport {
    this.sent.push([...items]);
    this.report.begin(items.length);
    items.forEach((it, i) => {
      if (this.fails(it)) this.report.fail(i, ENETUNREACH);
    });
    return this.report.finish();
  }
  get all(): T[] {
    return this.sent.flat();
  }
  close(): void {}
}

function packetSender(f: FakeSender<Frame>): PacketSender {
  return Object.assign(f, { sendTo: (frames: readonly Frame[]) => f.send(frames) }) as unknown as PacketSender;
}
function udpSocket(f: FakeSender<Datagram>): UdpSocket {
  return Object.assign(f, { sendMany: (d: readonly Datagram[]) => f.send(d) }) as unknown as UdpSocket;
}
function rawSender(f: FakeSender<IcmpDatagram>): RawIpSender {
  return Object.assign(f, { sendIcmp: (d: readonly IcmpDatagram[]) => f.send(d) }) as unknown as RawIpSender;
}

const tb = (packet: Uint8Array) => {
  const r = decodeTooBig(packet);
  assert.ok(r.ok);
  return r.value;
};
const V4 = tb(V4_UDP);
const V6 = tb(V6_UDP);

const peer = (index: number, ...addresses: string[]): PeerTarget => ({ index, addresses: addresses.map(parseAddress) });
const V4_ONLY = [peer(0, '192.0.2.11'), peer(1, '192.0.2.12')];
const DUAL = [peer(0, '192.0.2.11', '2001:db8::11'), peer(1, '2001:db8::12')];

test('carrierFor: an address of the message family when the peer has one, else its first', () => {
  assert.equal(formatAddress(carrierFor(DUAL[0]!, 4)), '192.0.2.11');
  assert.equal(formatAddress(carrierFor(DUAL[0]!, 6)), '2001:db8::11');
  assert.equal(formatAddress(carrierFor(DUAL[1]!, 4)), '2001:db8::12');
  assert.equal(formatAddress(carrierFor(V4_ONLY[0]!, 6)), '192.0.2.11');
});

test('Deliveries counts each message once however many of its replicas got through, and resets', () => {
  const d = new Deliveries();
  const seqs = Array.from({ length: 300 }, () => d.begin()); // grows past its first 256
  for (const s of seqs) if (s % 3 === 0) d.mark(s);
  d.mark(0);
  assert.equal(d.finish(), 100);
  assert.equal(d.finish(), 0);
  assert.equal(d.begin(), 0);
});

test('udp: IPv4-only peers get IPv6 messages over IPv4, one datagram per peer node per message', () => {
  const s4 = new FakeSender<Datagram>();
  const s6 = new FakeSender<Datagram>();
  const t = new UdpTransport({ sock4: udpSocket(s4), sock6: udpSocket(s6), port: 4490, stats: new RelayStats(), clockS: () => 1000 });
  t.setPeers(V4_ONLY);
  assert.equal(t.enqueue(V6_UDP, V6), 2);
  assert.equal(t.enqueue(V4_UDP, V4), 2);
  assert.equal(t.flush(), 2, 'both messages relayed');
  assert.equal(s4.all.length, 4);
  assert.equal(s6.all.length, 0);
  assert.deepEqual(
    s4.all.map((d) => [...d.to]),
    [...V4_ONLY, ...V4_ONLY].map((p) => [...UdpSocket.sockaddr(p.addresses[0]!, 4490)]),
  );
});

test('udp: a dual-stack peer gets one replica per message, over the message family; a v6-only peer carries IPv4 too', () => {
  const s4 = new FakeSender<Datagram>();
  const s6 = new FakeSender<Datagram>();
  const t = new UdpTransport({ sock4: udpSocket(s4), sock6: udpSocket(s6), port: 4490, stats: new RelayStats(), clockS: () => 1000 });
  t.setPeers(DUAL);
  assert.equal(t.enqueue(V4_UDP, V4), 2);
  assert.equal(t.enqueue(V6_UDP, V6), 2);
  assert.equal(t.flush(), 2);
  assert.equal(s4.all.length, 1, 'the IPv4 message to the dual-stack peer over IPv4');
  assert.equal(s6.all.length, 3, 'the IPv6 message to both, and the IPv4 message to the IPv6-only peer');
});

test('udp: relayed counts messages with at least one replica accepted, never more', () => {
  const s4 = new FakeSender<Datagram>();
  const s6 = new FakeSender<Datagram>();
  const stats = new RelayStats();
  const t = new UdpTransport({ sock4: udpSocket(s4), sock6: udpSocket(s6), port: 4490, stats, clockS: () => 1000 });
  t.setPeers(V4_ONLY);
  const dead = UdpSocket.sockaddr(parseAddress('192.0.2.12'), 4490);
  s4.fails = (d) => Buffer.compare(Buffer.from(d.to), Buffer.from(dead)) === 0;
  t.enqueue(V4_UDP, V4);
  assert.equal(t.flush(), 1, 'one peer got it: relayed');
  assert.equal(stats.peerErrors(1), 1);
  assert.equal(stats.peerErrors(0), 0);
  s4.fails = () => true;
  t.enqueue(V4_UDP, V4);
  t.enqueue(V6_UDP, V6);
  assert.equal(t.flush(), 0, 'no replica reached the kernel: nothing relayed');
  assert.equal(stats.get('send_errors'), 5);
  assert.equal(stats.get('replicas_sent'), 1);
  t.setPeers([]);
  assert.equal(t.enqueue(V4_UDP, V4), 0, 'no peers: nothing queued');
  assert.equal(t.flush(), 0);
});

test('ip: re-originates only to peer addresses of the message family; none of that family queues nothing', () => {
  const s4 = new FakeSender<IcmpDatagram>();
  const s6 = new FakeSender<IcmpDatagram>();
  const t = new IpTransport(rawSender(s4), rawSender(s6), 1, new RelayStats());
  t.setPeers(V4_ONLY);
  assert.equal(t.enqueue(V6_UDP, V6), 0, 'an ICMPv6 error cannot go to an IPv4 address');
  assert.equal(t.enqueue(V4_UDP, V4), 2);
  assert.equal(t.flush(), 1);
  assert.equal(s6.all.length, 0);
  assert.deepEqual(s4.all.map((d) => formatAddress(d.dst)), ['192.0.2.11', '192.0.2.12']);
  t.setPeers(DUAL);
  assert.equal(t.enqueue(V6_UDP, V6), 2);
  assert.equal(t.enqueue(V4_UDP, V4), 1);
  s6.fails = () => true;
  assert.equal(t.flush(), 1, 'the IPv4 message got through, the IPv6 one did not');
});

test('l2: one frame per peer node with a MAC, both families; none resolved queues nothing', () => {
  const f = new FakeSender<Frame>(2);
  const t = new L2Transport([packetSender(f)], new RelayStats());
  t.setPeers(DUAL);
  assert.equal(t.unresolved, 2);
  assert.equal(t.enqueue(V4_UDP, V4), 0);
  assert.equal(t.flush(), 0);
  const mac = (n: number) => Uint8Array.of(2, 0, 0x5e, 0, 0x53, n);
  t.setPeers(DUAL.map((p, i) => ({ ...p, mac: mac(i + 1), ifindex: 2 })));
  assert.equal(t.enqueue(V4_UDP, V4), 2);
  assert.equal(t.enqueue(V6_UDP, V6), 2);
  f.fails = (fr) => fr.mac[5] === 2;
  assert.equal(t.flush(), 2);
  assert.deepEqual(f.all.map((fr) => [fr.mac[5], fr.protocol]), [[1, 0x0800], [2, 0x0800], [1, 0x86dd], [2, 0x86dd]]);
  f.fails = () => true;
  t.enqueue(V6_UDP, V6);
  assert.equal(t.flush(), 0);
});

test('broadcast: one frame per message on the capture uplink; a refused frame relays nothing', () => {
  const a = new FakeSender<Frame>(2);
  const b = new FakeSender<Frame>(3);
  const t = new BroadcastTransport([packetSender(a), packetSender(b)], new RelayStats());
  assert.equal(t.enqueue(V4_UDP, V4, 3), 1);
  assert.equal(t.enqueue(V6_UDP, V6, 9), 1, 'an unknown uplink falls back to the first');
  a.fails = () => true;
  assert.equal(t.flush(), 1);
  assert.equal(b.all.length, 1);
  assert.equal(a.all.length, 1);
});
