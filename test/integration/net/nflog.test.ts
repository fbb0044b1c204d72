// The NFLOG reader against the real kernel. The main test is the capture half
// of the PMTUD relay: a sender behind a router whose onward link has MTU 1400
// sends too-big packets; the router answers with ICMPv4 frag-needed and
// ICMPv6 packet-too-big; an nftables rule in the SENDER logs them to group 33,
// and the reader (opened inside the sender namespace) hands them over intact.
//
//   sender (192.0.2.1, 2001:db8:1::1) --- router --(mtu 1400)-- receiver (198.51.100.2, 2001:db8:2::2)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetlinkError } from '../../../src/errors.js';
import { NflogReader, copyNflogPacket, type NflogPacket } from '../../../src/net/nflog-reader.js';
import { NFULNL_CFG_F } from '../../../src/wire/nflog.js';
import { decodeTooBig } from '../../../src/wire/too-big-decode.js';
import { formatAddress } from '../../../src/wire/ip-address.js';
import { withLab, labUnavailable, waitFor, type Lab, type Netns } from '../../harness/netns.js';

const skip = labUnavailable();

const NF_INET_LOCAL_IN = 1;

interface Topology {
  sender: Netns;
  router: Netns;
  receiver: Netns;
}

async function build(lab: Lab): Promise<Topology> {
  const sender = await lab.ns('snd');
  const router = await lab.ns('rtr');
  const receiver = await lab.ns('rcv');
  await lab.veth(sender, 'eth0', router, 'eth0');
  await lab.veth(router, 'eth1', receiver, 'eth0', { mtu: 1400 });
  await sender.addr('eth0', '192.0.2.1/24');
  await sender.addr('eth0', '2001:db8:1::1/64');
  await router.addr('eth0', '192.0.2.254/24');
  await router.addr('eth0', '2001:db8:1::fe/64');
  await router.addr('eth1', '198.51.100.254/24');
  await router.addr('eth1', '2001:db8:2::fe/64');
  await receiver.addr('eth0', '198.51.100.2/24');
  await receiver.addr('eth0', '2001:db8:2::2/64');
  await router.forwarding();
  await sender.route('default', 'via', '192.0.2.254');
  await sender.route('default', 'via', '2001:db8:1::fe');
  await receiver.route('default', 'via', '198.51.100.254');
  await receiver.route('default', 'via', '2001:db8:2::fe');
  return { sender, router, receiver };
}

/** Runs a command that is expected to fail (a ping whose packets are too big); resolves either way. */
async function attempt(ns: Netns, cmd: string, args: string[]): Promise<void> {
  await ns.exec(cmd, args).catch(() => undefined);
}

test('NFLOG in the sender captures the router\'s frag-needed and packet-too-big, quoting the sent flow with MTU 1400', { skip }, async () => {
  await withLab('nflog', async (lab) => {
    const { sender } = await build(lab);
    // Warm neighbour caches so the big probes are not queued behind ARP/ND.
    await sender.exec('ping', ['-c1', '-W2', '198.51.100.2']);
    await sender.exec('ping', ['-6', '-c1', '-W2', '2001:db8:2::2']);
    await sender.nft(`
      table inet pgtest {
        chain input {
          type filter hook input priority 0;
          icmp type 3 icmp code 4 log group 33
          icmpv6 type 2 icmpv6 code 0 log group 33
        }
      }
    `);
    const reader = NflogReader.open(33, { netns: sender.path });
    const got: NflogPacket[] = [];
    try {
      // Packets handed to the callback are views into the receive buffers: keep copies.
      reader.start((batch) => {
        for (const p of batch) got.push(copyNflogPacket(p));
      });
      // 1472 + 8 + 20 = 1500 bytes with DF set: too big for the 1400-byte link.
      await attempt(sender, 'ping', ['-M', 'do', '-s', '1472', '-c1', '-W1', '198.51.100.2']);
      // 1452 + 8 + 40 = 1500 bytes: IPv6 routers never fragment.
      await attempt(sender, 'ping', ['-6', '-s', '1452', '-c1', '-W1', '2001:db8:2::2']);
      await waitFor(() => got.some((p) => p.family === 2) && got.some((p) => p.family === 10), 5000);

      const senderEth0 = await sender.ifindex('eth0');
      const v4 = got.find((p) => p.family === 2)!;
      assert.equal(v4.group, 33);
      assert.equal(v4.hwProtocol, 0x0800);
      assert.equal(v4.hook, NF_INET_LOCAL_IN);
      assert.equal(v4.indev, senderEth0);
      const tb4 = decodeTooBig(v4.payload!);
      assert.ok(tb4.ok, `frag-needed rejected: ${tb4.ok ? '' : tb4.reason}`);
      assert.equal(tb4.value.family, 4);
      assert.equal(tb4.value.mtu, 1400);
      assert.equal(formatAddress(tb4.value.outerSrc), '192.0.2.254');
      assert.equal(formatAddress(tb4.value.outerDst), '192.0.2.1');
      assert.equal(tb4.value.flow.protocol, 1); // the quoted ICMP echo request
      assert.equal(formatAddress(tb4.value.flow.src), '192.0.2.1');
      assert.equal(formatAddress(tb4.value.flow.dst), '198.51.100.2');

      const v6 = got.find((p) => p.family === 10)!;
      assert.equal(v6.hwProtocol, 0x86dd);
      assert.equal(v6.hook, NF_INET_LOCAL_IN);
      assert.equal(v6.indev, senderEth0);
      const tb6 = decodeTooBig(v6.payload!);
      assert.ok(tb6.ok, `packet-too-big rejected: ${tb6.ok ? '' : tb6.reason}`);
      assert.equal(tb6.value.family, 6);
      assert.equal(tb6.value.mtu, 1400);
      assert.equal(formatAddress(tb6.value.outerSrc), '2001:db8:1::fe');
      assert.equal(tb6.value.flow.protocol, 58); // the quoted ICMPv6 echo request
      assert.equal(formatAddress(tb6.value.flow.src), '2001:db8:1::1');
      assert.equal(formatAddress(tb6.value.flow.dst), '2001:db8:2::2');

      assert.equal(reader.stats.overruns, 0);
      assert.equal(reader.stats.decodeErrors, 0);
      assert.equal(reader.stats.foreign, 0);
    } finally {
      reader.close();
    }
  });
});

test('a group held by another socket is refused with a clear message; closing frees it', { skip }, async () => {
  await withLab('nflbusy', async (lab) => {
    const ns = await lab.ns('a');
    const first = NflogReader.open(33, { netns: ns.path });
    let second: NflogReader | undefined;
    try {
      assert.throws(
        () => NflogReader.open(33, { netns: ns.path }),
        (err: unknown) =>
          err instanceof NetlinkError && err.errnoName === 'EPERM' && /NFLOG group 33 is already bound by another process/.test(err.message),
      );
      // Another group, or the same group in another namespace, is independent.
      NflogReader.open(34, { netns: ns.path }).close();
      first.close();
      first.close(); // idempotent
      second = NflogReader.open(33, { netns: ns.path });
    } finally {
      first.close();
      second?.close();
    }
  });
});

/** Sends `count` UDP datagrams of `size` bytes from `from` to `dst` port 9 in one process. */
async function udpFlood(from: Netns, dst: string, count: number, size = 100): Promise<void> {
  await from.exec('python3', [
    '-c',
    `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(${count}):\n    s.sendto(i.to_bytes(4, "big") + bytes(${size - 4}), ("${dst}", 9))\n`,
  ]);
}

/**
 * Two namespaces on a veth, a (192.0.2.1) and b (192.0.2.2), where b logs
 * every UDP datagram to port 9 to NFLOG `group` (udpFlood() sends them).
 */
async function loggingPair(lab: Lab, group: number): Promise<{ a: Netns; b: Netns }> {
  const a = await lab.ns('a');
  const b = await lab.ns('b');
  await lab.veth(a, 'eth0', b, 'eth0');
  await a.addr('eth0', '192.0.2.1/24');
  await b.addr('eth0', '192.0.2.2/24');
  await b.nft(`
    table inet pgtest {
      chain input {
        type filter hook input priority 0;
        udp dport 9 log group ${group}
      }
    }
  `);
  return { a, b };
}

test('readBatch drains batched datagrams with recvmmsg; NFULNL_CFG_F_SEQ numbers every packet', { skip }, async () => {
  await withLab('nflbatch', async (lab) => {
    const { a, b } = await loggingPair(lab, 40);
    const reader = NflogReader.open(40, { netns: b.path, qthresh: 16, flushTimeout: 5, flags: NFULNL_CFG_F.SEQ, slots: 4 });
    try {
      const N = 300;
      await udpFlood(a, '192.0.2.2', N);
      const seen: number[] = [];
      const seqs: number[] = [];
      let calls = 0;
      await waitFor(() => {
        // Non-blocking: an empty array when nothing is queued.
        for (;;) {
          const batch = reader.readBatch();
          calls++;
          for (const p of batch) {
            // UDP payload starts after the 20-byte IPv4 and 8-byte UDP headers: the counter we sent.
            const u = p.payload!;
            seen.push((u[28]! << 24) | (u[29]! << 16) | (u[30]! << 8) | u[31]!);
            seqs.push(p.seq!);
          }
          if (!reader.pending) break;
        }
        return seen.length >= N;
      }, 5000);
      assert.deepEqual(seen, Array.from({ length: N }, (_, i) => i), 'every packet once, in order');
      assert.deepEqual(seqs, Array.from({ length: N }, (_, i) => seqs[0]! + i), 'consecutive NFULA_SEQ');
      // Batching: the kernel packed up to 16 packets per datagram.
      assert.ok(reader.stats.datagrams < N / 4, `${reader.stats.datagrams} datagrams for ${N} packets`);
      assert.equal(reader.stats.packets, N);
      assert.equal(reader.stats.overruns, 0);
      assert.ok(calls < N, `${calls} readBatch calls`);
      assert.deepEqual(reader.readBatch(), [], 'drained');
    } finally {
      reader.close();
    }
  });
});

test('setQueueThreshold changes, on a group being read, how many packets the kernel puts in a datagram', { skip }, async () => {
  await withLab('nflqth', async (lab) => {
    const { a, b } = await loggingPair(lab, 41);
    // As the relay opens it: one packet per datagram, flushed on the next jiffy.
    const reader = NflogReader.open(41, { netns: b.path, qthresh: 1, flushTimeout: 0 });
    const drain = async (n: number): Promise<{ packets: number; datagrams: number }> => {
      const p0 = reader.stats.packets;
      const d0 = reader.stats.datagrams;
      await waitFor(() => {
        while (reader.readBatch().length > 0 || reader.pending) {
          // keep reading
        }
        return reader.stats.packets - p0 >= n;
      }, 5000);
      return { packets: reader.stats.packets - p0, datagrams: reader.stats.datagrams - d0 };
    };
    try {
      await udpFlood(a, '192.0.2.2', 64);
      const single = await drain(64);
      assert.deepEqual(single, { packets: 64, datagrams: 64 }, 'threshold 1: a datagram per packet');

      reader.setQueueThreshold(16);
      await udpFlood(a, '192.0.2.2', 64);
      const batched = await drain(64);
      assert.equal(batched.packets, 64);
      // 4 when the sender is quick; the jiffy timer flushes partial datagrams when it is not.
      assert.ok(batched.datagrams < 32, `threshold 16: ${batched.datagrams} datagrams for 64 packets`);

      reader.setQueueThreshold(1);
      await udpFlood(a, '192.0.2.2', 16);
      assert.deepEqual(await drain(16), { packets: 16, datagrams: 16 }, 'back to 1');
      assert.equal(reader.stats.decodeErrors, 0, 'every datagram decoded');
    } finally {
      reader.close();
    }
  });
});

test('ENOBUFS (the kernel dropped log messages) is counted and reading goes on', { skip }, async () => {
  await withLab('nflovr', async (lab) => {
    const { a, b } = await loggingPair(lab, 41);
    // A tiny receive buffer and nobody reading: the kernel must drop datagrams.
    const reader = NflogReader.open(41, { netns: b.path, rcvbuf: 4096, qthresh: 4, nlbufsiz: 16384 });
    try {
      await udpFlood(a, '192.0.2.2', 200, 1000);
      let packets = 0;
      await waitFor(() => {
        packets += reader.readBatch().length;
        return reader.stats.overruns > 0 && !reader.pending;
      }, 5000);
      assert.ok(packets > 0 && packets < 200, `${packets} of 200 delivered`);
      // The reader still works afterwards.
      const before = reader.stats.packets;
      await udpFlood(a, '192.0.2.2', 3);
      await waitFor(() => {
        reader.readBatch();
        return reader.stats.packets >= before + 3;
      }, 5000);
    } finally {
      reader.close();
    }
  });
});
