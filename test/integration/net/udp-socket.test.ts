// UdpSocket between two lab namespaces: a batched send arrives complete and in
// order, and a failing destination inside a batch is reported for its slot
// while the others are sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, labUnavailable, type Lab, type Netns } from '../../harness/netns.js';
import { withNetns } from '../../../src/sys/netns.js';
import { UdpSocket, type Datagram } from '../../../src/net/udp-socket.js';
import { formatAddress } from '../../../src/wire/ip-address.js';
import { SyscallError } from '../../../src/errors.js';
import { whenReadable } from './helpers/capture.js';

const skip = labUnavailable();

const ADDR = {
  4: { a: '198.51.100.1', b: '198.51.100.2', prefix: 24, unreachable: '203.0.113.9' },
  6: { a: '2001:db8:10::1', b: '2001:db8:10::2', prefix: 64, unreachable: '2001:db8:ffff::9' },
} as const;

async function pair(lab: Lab, family: 4 | 6): Promise<{ a: Netns; b: Netns }> {
  const a = await lab.ns('a');
  const b = await lab.ns('b');
  await lab.veth(a, 'eth0', b, 'eth0');
  await a.addr('eth0', `${ADDR[family].a}/${ADDR[family].prefix}`);
  await b.addr('eth0', `${ADDR[family].b}/${ADDR[family].prefix}`);
  return { a, b };
}

interface Got {
  text: string;
  from: string;
  port: number;
}

async function collect(rx: UdpSocket, n: number, timeoutMs = 3000): Promise<Got[]> {
  const got: Got[] = [];
  await whenReadable(
    (cb) => rx.onReadable(cb),
    () => {
      for (;;) {
        const batch = rx.receiveBatch();
        if (batch.count === 0) break;
        for (let i = 0; i < batch.count; i++) {
          const src = batch.source(i);
          assert.equal(batch.truncated(i), false);
          got.push({ text: new TextDecoder().decode(batch.data(i)), from: formatAddress(src.address), port: src.port });
        }
      }
      return got.length >= n;
    },
    timeoutMs,
  );
  return got;
}

for (const family of [4, 6] as const) {
  test(`IPv${family}: 200 datagrams sent in batches of 64 arrive complete and in order`, { skip }, async () => {
    await withLab('udp', async (lab) => {
      const { a, b } = await pair(lab, family);
      const tx = withNetns(a.path, () => UdpSocket.open({ family, address: ADDR[family].a, batch: 64 }));
      const rx = withNetns(b.path, () => UdpSocket.open({ family, address: ADDR[family].b, port: 46000, batch: 32, receiveBuffer: 1 << 20 }));
      try {
        const to = UdpSocket.sockaddr(ADDR[family].b, 46000);
        const all: Datagram[] = Array.from({ length: 200 }, (_, i) => ({ data: new TextEncoder().encode(`datagram ${i}`), to }));
        const received = collect(rx, 200);
        for (let i = 0; i < all.length; i += 64) {
          const chunk = all.slice(i, i + 64);
          const r = tx.sendMany(chunk);
          assert.deepEqual([r.count, r.sent, r.failed], [chunk.length, chunk.length, 0]);
        }
        const got = await received;
        assert.equal(got.length, 200);
        assert.deepEqual(
          got.map((g) => g.text),
          all.map((_, i) => `datagram ${i}`),
        );
        for (const g of got) assert.deepEqual([g.from, g.port], [ADDR[family].a, tx.port]);
        assert.deepEqual([formatAddress(rx.local().address), rx.local().port], [ADDR[family].b, 46000]);
      } finally {
        tx.close();
        rx.close();
      }
    });
  });

  test(`IPv${family}: an unreachable destination fails only its own slot`, { skip }, async () => {
    await withLab('udp', async (lab) => {
      const { a, b } = await pair(lab, family);
      const tx = withNetns(a.path, () => UdpSocket.open({ family, batch: 8 }));
      const rx = withNetns(b.path, () => UdpSocket.open({ family, address: ADDR[family].b, port: 46001 }));
      try {
        const good = UdpSocket.sockaddr(ADDR[family].b, 46001);
        // No default route in the lab: the kernel refuses this one at route lookup.
        const bad = UdpSocket.sockaddr(ADDR[family].unreachable, 46001);
        const otherFamily = UdpSocket.sockaddr(family === 4 ? '2001:db8:10::2' : '198.51.100.2', 46001);
        const msg = (t: string) => new TextEncoder().encode(t);
        // First slot failing (the sendmmsg call itself fails), a failure in the
        // middle of a run (short count), one refused before sending, and one last.
        const r = tx.sendMany([
          { data: msg('s0'), to: bad },
          { data: msg('s1'), to: good },
          { data: msg('s2'), to: bad },
          { data: msg('s3'), to: good },
          { data: msg('s4'), to: otherFamily },
          { data: msg('s5'), to: good },
          { data: msg('s6'), to: bad },
        ]);
        assert.deepEqual([r.count, r.sent, r.failed], [7, 3, 4]);
        assert.deepEqual(
          [0, 1, 2, 3, 4, 5, 6].map((i) => r.errnoName(i)),
          ['ENETUNREACH', undefined, 'ENETUNREACH', undefined, 'EAFNOSUPPORT', undefined, 'ENETUNREACH'],
        );
        const got = await collect(rx, 3);
        assert.deepEqual(
          got.map((g) => g.text),
          ['s1', 's3', 's5'],
        );

        // The same fan-out API the relay uses: one payload, many peers.
        const r2 = tx.sendToEach(msg('fan'), [good, bad, good]);
        assert.deepEqual([r2.sent, r2.errnoName(1)], [2, 'ENETUNREACH']);
        assert.deepEqual(
          (await collect(rx, 2)).map((g) => g.text),
          ['fan', 'fan'],
        );
      } finally {
        tx.close();
        rx.close();
      }
    });
  });
}

test('binding a port in use is a SyscallError (EADDRINUSE); a wrong-sized local address a RangeError', { skip }, async () => {
  await withLab('udp', async (lab) => {
    const { a } = await pair(lab, 4);
    const one = withNetns(a.path, () => UdpSocket.open({ family: 4, address: '198.51.100.1', port: 46002 }));
    try {
      assert.throws(
        () => withNetns(a.path, () => UdpSocket.open({ family: 4, address: '198.51.100.1', port: 46002 })),
        (err: unknown) => err instanceof SyscallError && err.syscall === 'bind' && err.errnoName === 'EADDRINUSE',
      );
      assert.throws(() => UdpSocket.open({ family: 6, address: '198.51.100.1' }), RangeError);
    } finally {
      one.close();
    }
  });
});
