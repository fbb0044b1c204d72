// ProbeSocket between two lab namespaces: a UDP probe leaves with the TTL /
// hop limit set for it and DF, at the size of the device MTU even when the
// route says less (IP_PMTUDISC_PROBE ignores the route's and the cached path
// MTU), and a size above the device MTU is refused locally with EMSGSIZE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, labUnavailable, type Lab, type Netns } from '../../harness/netns.js';
import { withNetns } from '../../../src/sys/netns.js';
import { ProbeSocket } from '../../../src/net/probe-socket.js';
import { getsockoptInt } from '../../../src/sys/libc.js';
import { SyscallError } from '../../../src/errors.js';
import { decodeIPv4, IPPROTO } from '../../../src/wire/ipv4.js';
import { decodeIPv6 } from '../../../src/wire/ipv6.js';
import { parseAddress } from '../../../src/wire/ip-address.js';
import { startTcpdump } from './helpers/capture.js';

const skip = labUnavailable();
const ETH_HLEN = 14;

async function pair(lab: Lab): Promise<{ a: Netns; b: Netns }> {
  const a = await lab.ns('a');
  const b = await lab.ns('b');
  await lab.veth(a, 'eth0', b, 'eth0');
  await a.addr('eth0', '192.0.2.1/24');
  await b.addr('eth0', '192.0.2.2/24');
  await a.addr('eth0', '2001:db8:20::1/64');
  await b.addr('eth0', '2001:db8:20::2/64');
  // the route to b claims a 1300-byte path: a socket that followed it could not send 1500
  await a.route('192.0.2.2/32', 'dev', 'eth0', 'mtu', 'lock', '1300');
  await a.route('2001:db8:20::2/128', 'dev', 'eth0', 'mtu', 'lock', '1300');
  return { a, b };
}

test('IPv4: TTL 7, DF and 1500 bytes through a route of MTU 1300; 1501 bytes is EMSGSIZE', { skip, timeout: 30_000 }, async () => {
  await withLab('psock', async (lab) => {
    const { a, b } = await pair(lab);
    const sock = withNetns(a.path, () => ProbeSocket.open({ family: 4, kind: 'udp' }));
    try {
      assert.equal(getsockoptInt(sock.fd, IPPROTO.IP, 10 /* IP_MTU_DISCOVER */), 3 /* IP_PMTUDISC_PROBE */);
      const dump = await startTcpdump(b, 'eth0', 1, ['udp']);
      sock.setTtl(7);
      assert.equal(sock.send(new Uint8Array(1500 - 28), parseAddress('192.0.2.2'), 33434), true);
      const [pkt] = await dump.done;
      const ip = decodeIPv4(pkt!.bytes.subarray(ETH_HLEN));
      assert.deepEqual([ip.ttl, ip.dontFragment, ip.totalLength, ip.protocol], [7, true, 1500, IPPROTO.UDP]);
      assert.throws(
        () => sock.send(new Uint8Array(1501 - 28), parseAddress('192.0.2.2'), 33434),
        (err: unknown) => err instanceof SyscallError && err.errnoName === 'EMSGSIZE',
      );
    } finally {
      sock.close();
    }
  });
});

test('IPv6: hop limit 9 and 1500 bytes through a route of MTU 1300, not fragmented', { skip, timeout: 30_000 }, async () => {
  await withLab('psock6', async (lab) => {
    const { a, b } = await pair(lab);
    const sock = withNetns(a.path, () => ProbeSocket.open({ family: 6, kind: 'udp' }));
    try {
      assert.equal(getsockoptInt(sock.fd, IPPROTO.IPV6, 23 /* IPV6_MTU_DISCOVER */), 3 /* IPV6_PMTUDISC_PROBE */);
      const dump = await startTcpdump(b, 'eth0', 1, ['ip6', 'and', 'udp']);
      sock.setTtl(9);
      assert.equal(sock.send(new Uint8Array(1500 - 48), parseAddress('2001:db8:20::2'), 33434), true);
      const [pkt] = await dump.done;
      const ip = decodeIPv6(pkt!.bytes.subarray(ETH_HLEN));
      assert.deepEqual([ip.hopLimit, ip.payloadLength + 40, ip.protocol, ip.fragment], [9, 1500, IPPROTO.UDP, undefined]);
    } finally {
      sock.close();
    }
  });
});

test('a raw ICMP probe socket reads the echo reply to its own echo request, IPv4 from the IP header', { skip, timeout: 30_000 }, async () => {
  await withLab('psocki', async (lab) => {
    const { a } = await pair(lab);
    const sock = withNetns(a.path, () => ProbeSocket.open({ family: 4, kind: 'icmp' }));
    try {
      // type 8, code 0, checksum, id 0x1234, seq 1
      const echo = Uint8Array.of(8, 0, 0xe5, 0xca, 0x12, 0x34, 0, 1);
      const got = new Promise<Uint8Array>((resolve) => {
        const w = sock.onReadable(() => {
          for (let p = sock.receive(); p !== undefined; p = sock.receive()) {
            const ip = decodeIPv4(p.data);
            if (ip.payload[0] === 0) {
              w.close();
              resolve(p.data.slice());
            }
          }
        });
      });
      sock.send(echo, parseAddress('192.0.2.2'));
      const reply = decodeIPv4(await got);
      assert.deepEqual([...reply.payload.subarray(4, 8)], [0x12, 0x34, 0, 1]);
    } finally {
      sock.close();
    }
  });
});
