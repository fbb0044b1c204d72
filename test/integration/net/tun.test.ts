// TunDevice in a lab namespace: packets written into the TUN enter the stack
// and reach a UDP socket bound in the same namespace (IPv4 and IPv6);
// packets routed to the TUN are read back; the interface goes away on close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, labUnavailable, type Netns } from '../../harness/netns.js';
import { withNetns } from '../../../src/sys/netns.js';
import { TunDevice } from '../../../src/net/tun.js';
import { UdpSocket } from '../../../src/net/udp-socket.js';
import { encodeIPv4, decodeIPv4, IPPROTO } from '../../../src/wire/ipv4.js';
import { encodeIPv6 } from '../../../src/wire/ipv6.js';
import { encodeUdp, decodeUdp } from '../../../src/wire/udp.js';
import { formatAddress, parseAddress } from '../../../src/wire/ip-address.js';
import { SyscallError, UnsupportedError } from '../../../src/errors.js';
import { whenReadable } from './helpers/capture.js';

const skip = labUnavailable();
const PORT = 47000;

/** A UDP packet src:40000 -> dst:PORT with a checksummed header for either family. */
function udpPacket(src: string, dst: string, text: string): Uint8Array {
  const s = parseAddress(src);
  const d = parseAddress(dst);
  const udp = encodeUdp({ srcPort: 40000, dstPort: PORT, payload: new TextEncoder().encode(text) }, { src: s, dst: d });
  return s.length === 4
    ? encodeIPv4({ protocol: IPPROTO.UDP, src: s, dst: d, ttl: 64, payload: udp })
    : encodeIPv6({ protocol: IPPROTO.UDP, src: s, dst: d, hopLimit: 64, payload: udp });
}

interface Got {
  text: string;
  from: string;
  port: number;
}

/** Collects `n` datagrams from `rx` (a batch may bring several at once). */
async function receive(rx: UdpSocket, n: number): Promise<Got[]> {
  const got: Got[] = [];
  await whenReadable(
    (cb) => rx.onReadable(cb),
    () => {
      const batch = rx.receiveBatch();
      for (let i = 0; i < batch.count; i++) {
        const src = batch.source(i);
        got.push({ text: new TextDecoder().decode(batch.data(i)), from: formatAddress(src.address), port: src.port });
      }
      return got.length >= n;
    },
  );
  return got;
}

async function linkExists(ns: Netns, dev: string): Promise<boolean> {
  const links = await ns.ipJson<{ ifname: string }[]>('link', 'show');
  return links.some((l) => l.ifname === dev);
}

for (const family of [4, 6] as const) {
  const local = family === 4 ? '198.51.100.1' : '2001:db8:64::1';
  const remote = family === 4 ? '198.51.100.2' : '2001:db8:64::2';
  const prefix = family === 4 ? 24 : 64;

  test(`an IPv${family} packet written into a TUN reaches a UDP socket bound in the same namespace`, { skip }, async () => {
    await withLab('tun', async (lab) => {
      const ns = await lab.ns('t');
      const tun = withNetns(ns.path, () => TunDevice.open('pgtun0', { mtu: 1400 }));
      try {
        assert.equal(tun.name, 'pgtun0');
        const links = await ns.ipJson<{ ifname: string; ifindex: number; mtu: number; flags: string[] }[]>('link', 'show', 'pgtun0');
        assert.equal(links[0]?.ifindex, tun.ifindex);
        assert.equal(links[0]?.mtu, 1400);
        assert.ok(links[0]?.flags.includes('UP'), `flags ${links[0]?.flags.join(',')}`);

        await ns.addr('pgtun0', `${local}/${prefix}`);
        const rx = withNetns(ns.path, () => UdpSocket.open({ family, address: local, port: PORT }));
        try {
          tun.write(udpPacket(remote, local, `through the tun v${family}`));
          assert.deepEqual(await receive(rx, 1), [{ text: `through the tun v${family}`, from: remote, port: 40000 }]);

          // writeMany: a packet that is neither IPv4 nor IPv6 fails alone.
          const bogus = Uint8Array.of(0x50, 0, 0, 20);
          const report = tun.writeMany([udpPacket(remote, local, 'first'), bogus, udpPacket(remote, local, 'third')]);
          assert.deepEqual([report.sent, report.failed, report.errnoName(1)], [2, 1, 'EINVAL']);
          assert.deepEqual(
            (await receive(rx, 2)).map((g) => g.text),
            ['first', 'third'],
          );
          assert.throws(() => tun.write(bogus), (err: unknown) => err instanceof SyscallError && err.errnoName === 'EINVAL');
        } finally {
          rx.close();
        }
      } finally {
        tun.close();
      }
      assert.equal(await linkExists(ns, 'pgtun0'), false, 'the interface goes away with its descriptor');
    });
  });
}

test('a packet routed to the TUN is read from it', { skip }, async () => {
  await withLab('tun', async (lab) => {
    const ns = await lab.ns('t');
    const tun = withNetns(ns.path, () => TunDevice.open('pgtun%d'));
    try {
      assert.match(tun.name, /^pgtun\d+$/, 'the kernel resolves the %d template');
      await ns.addr(tun.name, '198.51.100.1/24');
      const tx = withNetns(ns.path, () => UdpSocket.open({ family: 4 }));
      const buf = new Uint8Array(2048);
      let packet: Uint8Array | undefined;
      try {
        const r = tx.sendToEach(new TextEncoder().encode('out via tun'), [UdpSocket.sockaddr('198.51.100.77', PORT)]);
        assert.equal(r.sent, 1);
        await whenReadable(
          (cb) => tun.onReadable(cb),
          () => {
            for (;;) {
              const n = tun.read(buf);
              if (n === 0) return packet !== undefined;
              const p = buf.subarray(0, n);
              if (p[0]! >> 4 === 4 && p[9] === IPPROTO.UDP) packet = p.slice();
            }
          },
        );
        while (tun.read(buf) > 0); // drain what else the stack sent (IPv6 router solicitations)
        assert.equal(tun.read(buf), 0, 'a drained TUN reads 0, not an error');
      } finally {
        tx.close();
      }
      const ip = decodeIPv4(packet!);
      assert.equal(formatAddress(ip.src), '198.51.100.1');
      assert.equal(formatAddress(ip.dst), '198.51.100.77');
      const udp = decodeUdp(ip.payload);
      assert.equal(udp.srcPort, tx.port);
      assert.equal(udp.dstPort, PORT);
      assert.equal(new TextDecoder().decode(udp.payload), 'out via tun');
    } finally {
      tun.close();
    }
  });
});

test('a write to a TUN that is down fails with EIO', { skip }, async () => {
  await withLab('tun', async (lab) => {
    const ns = await lab.ns('t');
    const tun = withNetns(ns.path, () => TunDevice.open('pgtun0', { up: false }));
    try {
      const r = tun.writeMany([udpPacket('198.51.100.2', '198.51.100.1', 'x')]);
      assert.equal(r.errnoName(0), 'EIO');
    } finally {
      tun.close();
    }
  });
});

test('a missing clone device is an UnsupportedError; a bad name or MTU a RangeError', { skip }, () => {
  assert.throws(
    () => TunDevice.open('pgtun0', { cloneDevice: '/dev/net/pathguard-no-such-tun' }),
    (err: unknown) => err instanceof UnsupportedError && err.code === 'PG_UNSUPPORTED' && err.feature === 'tun' && /modprobe tun/.test(err.message),
  );
  assert.throws(() => TunDevice.open('this-name-is-too-long'), RangeError);
  assert.throws(() => TunDevice.open('a/b'), RangeError);
  assert.throws(() => TunDevice.open('pgtun0', { mtu: 10 }), RangeError);
});
