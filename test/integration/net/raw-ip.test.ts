// RawIpSender between two lab namespaces: an ICMP message originated with a
// chosen TTL / hop limit is captured by tcpdump in the peer namespace with
// that TTL, the kernel-filled source address and valid checksums.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, labUnavailable, type Lab, type Netns } from '../../harness/netns.js';
import { withNetns } from '../../../src/sys/netns.js';
import { RawIpSender } from '../../../src/net/raw-ip.js';
import { encodeIPv4, decodeIPv4, verifyIPv4Header, IPPROTO } from '../../../src/wire/ipv4.js';
import { encodeIPv6, decodeIPv6 } from '../../../src/wire/ipv6.js';
import { encodeIcmpv4, ICMP } from '../../../src/wire/icmpv4.js';
import { ICMPV6 } from '../../../src/wire/icmpv6.js';
import { encodeUdp } from '../../../src/wire/udp.js';
import { formatAddress, parseAddress } from '../../../src/wire/ip-address.js';
import { verifyIcmpv4Checksum, verifyIcmpv6Checksum } from '../../../src/wire/checksum.js';
import { hex, startTcpdump } from './helpers/capture.js';
import { getsockoptInt, SO, SOL } from '../../../src/sys/libc.js';

const skip = labUnavailable();
const ETH_HLEN = 14;

async function pair(lab: Lab, family: 4 | 6): Promise<{ a: Netns; b: Netns }> {
  const a = await lab.ns('a');
  const b = await lab.ns('b');
  await lab.veth(a, 'eth0', b, 'eth0');
  if (family === 4) {
    await a.addr('eth0', '192.0.2.1/24');
    await b.addr('eth0', '192.0.2.2/24');
  } else {
    await a.addr('eth0', '2001:db8:20::1/64');
    await b.addr('eth0', '2001:db8:20::2/64');
  }
  return { a, b };
}

/** An ICMPv4 "fragmentation needed" (type 3 code 4, MTU 1400) quoting a TCP packet between documentation addresses. */
function fragNeeded(): Uint8Array {
  const quoted = encodeIPv4({
    protocol: IPPROTO.TCP,
    src: parseAddress('203.0.113.10'),
    dst: parseAddress('198.51.100.20'),
    dontFragment: true,
    payload: Uint8Array.of(0x01, 0xbb, 0xc3, 0x50, 0, 0, 0, 1),
  });
  return encodeIcmpv4({ type: ICMP.DEST_UNREACH, code: ICMP.FRAG_NEEDED, nextHopMtu: 1400, body: quoted });
}

/** An ICMPv6 "packet too big" (MTU 1280) with a deliberately wrong checksum: the kernel must compute it. */
function packetTooBig(tag: number): Uint8Array {
  const quoted = encodeIPv6({
    protocol: IPPROTO.UDP,
    src: parseAddress('2001:db8:99::10'),
    dst: parseAddress('2001:db8:98::20'),
    payload: encodeUdp({ srcPort: 5000, dstPort: 6000 + tag, payload: new Uint8Array(16) }),
  });
  const msg = new Uint8Array(8 + quoted.length);
  msg[0] = ICMPV6.PKT_TOOBIG;
  msg[2] = 0xde; // checksum field: garbage on purpose
  msg[3] = 0xad;
  new DataView(msg.buffer).setUint32(4, 1280);
  msg.set(quoted, 8);
  return msg;
}

test('IPv4: an ICMP message sent with TTL 7 is captured in the peer namespace with ttl 7 and a kernel-filled header', { skip }, async () => {
  await withLab('raw', async (lab) => {
    const { a, b } = await pair(lab, 4);
    const sender = withNetns(a.path, () => RawIpSender.open({ family: 4 }));
    try {
      const icmp = fragNeeded();
      const dump = await startTcpdump(b, 'eth0', 1, ['icmp'], { verbose: true });
      const r = sender.sendIcmpToEach(icmp, 7, [parseAddress('192.0.2.2')]);
      assert.deepEqual([r.count, r.sent], [1, 1]);
      const [pkt] = await dump.done;
      assert.ok(pkt);
      assert.match(pkt.summary, /ttl 7\b/);
      const ipBytes = pkt.bytes.subarray(ETH_HLEN);
      const ip = decodeIPv4(ipBytes);
      assert.equal(ip.ttl, 7);
      assert.equal(ip.protocol, IPPROTO.ICMP);
      assert.equal(formatAddress(ip.src), '192.0.2.1', 'the kernel filled in the source address');
      assert.equal(formatAddress(ip.dst), '192.0.2.2');
      assert.equal(ip.totalLength, 20 + icmp.length);
      assert.ok(verifyIPv4Header(ipBytes), 'the kernel filled in the header checksum');
      assert.equal(hex(ip.payload), hex(icmp), 'the ICMP message arrives verbatim');
      assert.ok(verifyIcmpv4Checksum(ip.payload));
    } finally {
      sender.close();
    }
  });
});

test('IPv6: ICMPv6 messages with hop limits 7 and 9 in one batch are captured with those hop limits and a kernel-computed checksum', { skip }, async () => {
  await withLab('raw', async (lab) => {
    const { a, b } = await pair(lab, 6);
    const sender = withNetns(a.path, () => RawIpSender.open({ family: 6 }));
    try {
      const dst = parseAddress('2001:db8:20::2');
      const m7 = packetTooBig(7);
      const m9 = packetTooBig(9);
      // ip6[40]: the ICMPv6 type right after a fixed header; leaves out neighbour discovery.
      const dump = await startTcpdump(b, 'eth0', 2, ['icmp6', 'and', 'ip6[40]', '==', String(ICMPV6.PKT_TOOBIG)], { verbose: true });
      const r = sender.sendIcmp([
        { dst, icmp: m7, ttl: 7 },
        { dst, icmp: m9, ttl: 9 },
      ]);
      assert.deepEqual([r.count, r.sent], [2, 2]);
      const pkts = await dump.done;
      assert.equal(pkts.length, 2);
      assert.match(pkts[0]!.summary, /hlim 7\b/);
      assert.match(pkts[1]!.summary, /hlim 9\b/);
      for (const [k, pkt] of pkts.entries()) {
        const ip = decodeIPv6(pkt.bytes.subarray(ETH_HLEN));
        const sent = k === 0 ? m7 : m9;
        assert.equal(ip.hopLimit, k === 0 ? 7 : 9);
        assert.equal(ip.nextHeader, IPPROTO.ICMPV6);
        assert.equal(formatAddress(ip.src), '2001:db8:20::1');
        assert.equal(formatAddress(ip.dst), '2001:db8:20::2');
        assert.ok(verifyIcmpv6Checksum(ip.src, ip.dst, ip.payload), 'the kernel computed the ICMPv6 checksum');
        // Everything but the checksum is ours, byte for byte.
        assert.equal(hex(ip.payload.subarray(0, 2)), hex(sent.subarray(0, 2)));
        assert.equal(hex(ip.payload.subarray(4)), hex(sent.subarray(4)));
      }
    } finally {
      sender.close();
    }
  });
});

for (const family of [4, 6] as const) {
  test(`IPv${family}: an unreachable destination or a bad TTL fails only its own slot`, { skip }, async () => {
    await withLab('raw', async (lab) => {
      const { a, b } = await pair(lab, family);
      const sender = withNetns(a.path, () => RawIpSender.open({ family, batch: 8 }));
      try {
        const peer = parseAddress(family === 4 ? '192.0.2.2' : '2001:db8:20::2');
        const unreachable = parseAddress(family === 4 ? '203.0.113.5' : '2001:db8:ffff::5');
        const icmp = family === 4 ? fragNeeded() : packetTooBig(1);
        const filter = family === 4 ? ['icmp'] : ['icmp6', 'and', 'ip6[40]', '==', String(ICMPV6.PKT_TOOBIG)];
        const dump = await startTcpdump(b, 'eth0', 2, filter, { verbose: true });
        const r = sender.sendIcmp([
          { dst: peer, icmp, ttl: 3 },
          { dst: unreachable, icmp, ttl: 3 },
          { dst: peer, icmp, ttl: 0 },
          { dst: family === 4 ? new Uint8Array(16) : new Uint8Array(4), icmp, ttl: 3 },
          { dst: peer, icmp, ttl: 4 },
        ]);
        assert.deepEqual([r.count, r.sent, r.failed], [5, 2, 3]);
        assert.deepEqual(
          [0, 1, 2, 3, 4].map((i) => r.errnoName(i)),
          [undefined, 'ENETUNREACH', 'EINVAL', 'EINVAL', undefined],
        );
        const pkts = await dump.done;
        assert.match(pkts[0]!.summary, family === 4 ? /ttl 3\b/ : /hlim 3\b/);
        assert.match(pkts[1]!.summary, family === 4 ? /ttl 4\b/ : /hlim 4\b/);
      } finally {
        sender.close();
      }
    });
  });
}

test('IPv4: a message over maxMessage (36 bytes, limit 32) fails its slot with EMSGSIZE without being sent', { skip }, async () => {
  await withLab('raw', async (lab) => {
    const { a } = await pair(lab, 4);
    const sender = withNetns(a.path, () => RawIpSender.open({ family: 4, maxMessage: 32, mark: 0x5047 }));
    try {
      assert.equal(getsockoptInt(sender.fd, SOL.SOCKET, SO.MARK), 0x5047);
      const r = sender.sendIcmpToEach(fragNeeded(), 5, [parseAddress('192.0.2.2')]);
      assert.equal(r.errnoName(0), 'EMSGSIZE');
      const small = encodeIcmpv4({ type: ICMP.ECHO, code: 0, echo: { id: 1, sequence: 1 }, body: new Uint8Array(8) });
      assert.equal(sender.sendIcmpToEach(small, 5, [parseAddress('192.0.2.2')]).sent, 1);
    } finally {
      sender.close();
    }
  });
});
