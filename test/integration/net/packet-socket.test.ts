// PacketSender and PacketCapture against real veth pairs in lab namespaces:
// frames sent from one namespace are seen in the other by tcpdump and by a
// PacketCapture, with the destination MAC we chose and the source MAC the
// kernel filled in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, labUnavailable, type Lab, type Netns } from '../../harness/netns.js';
import { withNetns } from '../../../src/sys/netns.js';
import { PacketCapture, PacketSender, PACKET, ETH_P_ALL } from '../../../src/net/packet-socket.js';
import { ETH_P, parseMac } from '../../../src/wire/ethernet.js';
import { encodeIPv4, IPPROTO } from '../../../src/wire/ipv4.js';
import { encodeUdp } from '../../../src/wire/udp.js';
import { parseIPv4 } from '../../../src/wire/ip-address.js';
import { SyscallError } from '../../../src/errors.js';
import { contains, hex, startTcpdump, whenReadable } from './helpers/capture.js';
import { getsockoptInt, SO, SOL } from '../../../src/sys/libc.js';

const skip = labUnavailable();

/** Documentation unicast MACs (RFC 7042 §2.1.1: 00-00-5E-00-53-00 to -FF). */
const MAC1 = parseMac('00:00:5e:00:53:01');
const MAC2 = parseMac('00:00:5e:00:53:02');
const MAC3 = parseMac('00:00:5e:00:53:03');
const BROADCAST = parseMac('ff:ff:ff:ff:ff:ff');

/** An IPv4/UDP packet 192.0.2.1 -> 192.0.2.2 carrying `marker` (padded to `size` bytes of IP packet). */
function ipPacket(marker: string, size = 0): Uint8Array {
  const text = new TextEncoder().encode(marker);
  const body = new Uint8Array(Math.max(text.length, size - 28));
  body.set(text);
  const src = parseIPv4('192.0.2.1');
  const dst = parseIPv4('192.0.2.2');
  const udp = encodeUdp({ srcPort: 40000, dstPort: 40001, payload: body }, { src, dst });
  return encodeIPv4({ protocol: IPPROTO.UDP, src, dst, ttl: 64, payload: udp });
}

async function pair(lab: Lab): Promise<{ a: Netns; b: Netns }> {
  const a = await lab.ns('a');
  const b = await lab.ns('b');
  await lab.veth(a, 'eth0', b, 'eth0', { mtu: 1400 });
  return { a, b };
}

test('a frame sent to a chosen MAC is seen by tcpdump in the peer namespace, with our source MAC filled in by the kernel', { skip }, async () => {
  await withLab('pkt', async (lab) => {
    const { a, b } = await pair(lab);
    const sender = withNetns(a.path, () => PacketSender.open({ device: 'eth0' }));
    try {
      const payload = ipPacket('pathguard-l2-unicast');
      // IPv4 only: a fresh namespace sends IPv6 router solicitations and MLD reports, never IPv4.
      const dump = await startTcpdump(b, 'eth0', 1, ['ether', 'proto', '0x0800']);
      const report = sender.sendTo([{ payload, mac: MAC1, protocol: ETH_P.IP }]);
      assert.equal(report.count, 1);
      assert.equal(report.sent, 1);
      assert.equal(report.errno(0), 0);
      const [frame] = await dump.done;
      assert.ok(frame, 'tcpdump captured nothing');
      const aMac = parseMac(await a.mac('eth0'));
      assert.equal(hex(frame.bytes.subarray(0, 6)), hex(MAC1), 'destination MAC is the one we chose');
      assert.equal(hex(frame.bytes.subarray(6, 12)), hex(aMac), 'source MAC is the sending interface');
      assert.equal(hex(frame.bytes.subarray(12, 14)), '0800');
      assert.equal(hex(frame.bytes.subarray(14)), hex(payload), 'the IP packet arrives verbatim');
      assert.ok(contains(frame.bytes, new TextEncoder().encode('pathguard-l2-unicast')));
    } finally {
      sender.close();
    }
  });
});

test('broadcast() sends one frame to ff:ff:ff:ff:ff:ff that the peer namespace sees', { skip }, async () => {
  await withLab('pkt', async (lab) => {
    const { a, b } = await pair(lab);
    const sender = withNetns(a.path, () => PacketSender.open({ device: 'eth0' }));
    try {
      const payload = ipPacket('pathguard-l2-broadcast');
      const dump = await startTcpdump(b, 'eth0', 1, ['ether', 'broadcast', 'and', 'ether', 'proto', '0x0800']);
      const report = sender.broadcast(payload, ETH_P.IP);
      assert.equal(report.sent, 1);
      const [frame] = await dump.done;
      assert.ok(frame);
      assert.equal(hex(frame.bytes.subarray(0, 6)), hex(BROADCAST));
      assert.equal(hex(frame.bytes.subarray(6, 12)), hex(parseMac(await a.mac('eth0'))));
      assert.equal(hex(frame.bytes.subarray(14)), hex(payload));
    } finally {
      sender.close();
    }
  });
});

test('sendToEach fans one payload out to three MACs in one batch; PacketCapture sees them with their packet types', { skip }, async () => {
  await withLab('pkt', async (lab) => {
    const { a, b } = await pair(lab);
    const bMac = parseMac(await b.mac('eth0'));
    const sender = withNetns(a.path, () => PacketSender.open({ device: 'eth0', batch: 8 }));
    const capture = withNetns(b.path, () => PacketCapture.open({ device: 'eth0', protocol: ETH_P.IP }));
    try {
      const payload = ipPacket('pathguard-fanout');
      const macs = [MAC1, bMac, MAC2];
      const report = sender.sendToEach(payload, ETH_P.IP, macs);
      assert.deepEqual([report.count, report.sent, report.failed], [3, 3, 0]);

      const seen: { dst: string; type: number; protocol: number; body: string; truncated: boolean }[] = [];
      await whenReadable(
        (cb) => capture.onReadable(cb),
        () => {
          const n = capture.receive();
          for (let i = 0; i < n; i++) {
            const f = capture.frame(i);
            seen.push({
              dst: hex(f.subarray(0, 6)),
              type: capture.packetType(i),
              protocol: capture.protocol(i),
              body: hex(f.subarray(14)),
              truncated: capture.truncated(i),
            });
          }
          return seen.length >= 3;
        },
      );
      assert.deepEqual(
        seen.map((s) => s.dst),
        macs.map(hex),
        'one frame per MAC, in batch order',
      );
      assert.deepEqual(
        seen.map((s) => s.type),
        [PACKET.OTHERHOST, PACKET.HOST, PACKET.OTHERHOST],
      );
      for (const s of seen) {
        assert.equal(s.protocol, ETH_P.IP);
        assert.equal(s.body, hex(payload));
        assert.equal(s.truncated, false);
      }
    } finally {
      sender.close();
      capture.close();
    }
  });
});

test('a bad MAC or an oversized frame fails only its own slot; the frames around it are sent', { skip }, async () => {
  await withLab('pkt', async (lab) => {
    const { a, b } = await pair(lab);
    const sender = withNetns(a.path, () => PacketSender.open({ device: 'eth0', batch: 8 }));
    const capture = withNetns(b.path, () => PacketCapture.open({ device: 'eth0', protocol: ETH_P.IP, snapLength: 64 }));
    try {
      const small = ipPacket('pathguard-slot');
      const tooBig = ipPacket('pathguard-too-big', 1500); // veth MTU is 1400
      // Slots 0-2 go down in one sendmmsg that stops short at slot 1; slot 3 is
      // refused before sending; slot 4 fails as the first of its own call.
      const report = sender.sendTo([
        { payload: small, mac: MAC1, protocol: ETH_P.IP },
        { payload: tooBig, mac: MAC2, protocol: ETH_P.IP },
        { payload: small, mac: MAC3, protocol: ETH_P.IP },
        { payload: small, mac: MAC2.subarray(0, 5), protocol: ETH_P.IP },
        { payload: tooBig, mac: MAC2, protocol: ETH_P.IP },
      ]);
      assert.deepEqual([report.count, report.sent, report.failed], [5, 2, 3]);
      assert.deepEqual(
        [0, 1, 2, 3, 4].map((i) => report.errnoName(i)),
        [undefined, 'EMSGSIZE', undefined, 'EINVAL', 'EMSGSIZE'],
      );
      const dsts: string[] = [];
      await whenReadable(
        (cb) => capture.onReadable(cb),
        () => {
          const n = capture.receive();
          for (let i = 0; i < n; i++) dsts.push(hex(capture.frame(i).subarray(0, 6)));
          return dsts.length >= 2;
        },
      );
      assert.deepEqual(dsts, [hex(MAC1), hex(MAC3)]);

      // A frame longer than snapLength is cut and flagged.
      sender.sendTo([{ payload: ipPacket('pathguard-long', 200), mac: MAC1, protocol: ETH_P.IP }]);
      let truncated: boolean | undefined;
      let length = 0;
      await whenReadable(
        (cb) => capture.onReadable(cb),
        () => {
          if (capture.receive() === 0) return false;
          truncated = capture.truncated(0);
          length = capture.frame(0).length;
          return true;
        },
      );
      assert.equal(truncated, true);
      assert.equal(length, 64);
    } finally {
      sender.close();
      capture.close();
    }
  });
});

test('PacketCapture sees our own frames as PACKET_OUTGOING unless ignoreOutgoing is set', { skip }, async () => {
  await withLab('pkt', async (lab) => {
    const { a } = await pair(lab);
    const sender = withNetns(a.path, () => PacketSender.open({ device: 'eth0' }));
    // Outgoing frames reach only ETH_P_ALL taps (dev_queue_xmit_nit walks ptype_all).
    const all = withNetns(a.path, () => PacketCapture.open({ device: 'eth0', protocol: ETH_P_ALL }));
    const others = withNetns(a.path, () => PacketCapture.open({ device: 'eth0', ignoreOutgoing: true }));
    try {
      const payload = ipPacket('pathguard-outgoing');
      assert.equal(sender.sendTo([{ payload, mac: MAC1, protocol: ETH_P.IP }]).sent, 1);
      let type: number | undefined;
      await whenReadable(
        (cb) => all.onReadable(cb),
        () => {
          const n = all.receive();
          for (let i = 0; i < n; i++) {
            if (hex(all.frame(i).subarray(14)) === hex(payload)) type = all.packetType(i);
          }
          return type !== undefined;
        },
      );
      assert.equal(type, PACKET.OUTGOING);
      // Both sockets get their copy in the same dev_queue_xmit_nit() pass, so this one would have it by now.
      const n = others.receive();
      for (let i = 0; i < n; i++) assert.notEqual(hex(others.frame(i).subarray(14)), hex(payload));
    } finally {
      sender.close();
      all.close();
      others.close();
    }
  });
});

test('opening on a missing interface is a SyscallError; SO_MARK is set; an oversized batch is a RangeError', { skip }, async () => {
  await withLab('pkt', async (lab) => {
    const { a } = await pair(lab);
    assert.throws(
      () => withNetns(a.path, () => PacketSender.open({ device: 'pgnosuch0' })),
      (err: unknown) => err instanceof SyscallError && err.errnoName === 'ENODEV',
    );
    const sender = withNetns(a.path, () => PacketSender.open({ device: 'eth0', batch: 2, mark: 0x5047 }));
    try {
      assert.equal(getsockoptInt(sender.fd, SOL.SOCKET, SO.MARK), 0x5047);
      const payload = ipPacket('x');
      assert.throws(() => sender.sendToEach(payload, ETH_P.IP, [MAC1, MAC2, MAC3]), RangeError);
      const r = sender.sendToEach(payload, ETH_P.IP, [MAC1, MAC2]);
      assert.equal(r.sent, 2);
      assert.throws(() => r.errno(2), RangeError);
    } finally {
      sender.close();
    }
  });
});
