// The udp transport's authentication (--key-file, HMAC-SHA256 over the
// datagram header and the packet): a replica is injected only by a node that
// holds the sender's key. Three relays on one segment:
//
//   rtr ── br0 ─┬─ n1  key A  (the too-big message arrives here)
//               ├─ n2  key A  must inject the replica into its stack
//               └─ n3  key B  must refuse it (bad_hmac), inject nothing
//
// and a relay started without a key says, once, what that costs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { labUnavailable, waitFor } from '../../harness/netns.js';
import { Injector, tooBigFor, type Flow } from './helpers/packets.js';
import { killRelays, nftCounters, startRelays, withRelayLab, type RelayProcess } from './helpers/relay-process.js';
import { buildSegment, installWitness, pathDrained, peersFlag, CLIENT, FAR_ROUTER, VIP, VIP_NETWORKS, type SegmentNode } from './helpers/segment.js';

const skip = labUnavailable();

const FLOWS: readonly Flow[] = [
  { family: 4, src: VIP[4], dst: CLIENT[4], srcPort: 8080, dstPort: 41_000 },
  { family: 6, src: VIP[6], dst: CLIENT[6], srcPort: 8080, dstPort: 41_000 },
];

test('udp with --key-file: a node with the same key injects the replica, a node with another key refuses it as bad_hmac', { skip, timeout: 60_000 }, async () => {
  await withRelayLab('ukey', async (lab, dir) => {
    const { router, nodes } = await buildSegment(lab, 3);
    const [n1, n2, n3] = nodes as [SegmentNode, SegmentNode, SegmentNode];
    const keyA = join(dir, 'a.key');
    const keyB = join(dir, 'b.key');
    writeFileSync(keyA, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    writeFileSync(keyB, randomBytes(32), { mode: 0o600 }); // raw bytes are a key too
    for (const n of nodes) await installWitness(n.ns);
    const keyOf = new Map([[n1, keyA], [n2, keyA], [n3, keyB]]);
    const relays = await startRelays(
      nodes.map((n) => ({
        ns: n.ns,
        dir,
        args: ['--iface', 'eth0', '--transport', 'udp', '--peers', peersFlag(nodes), '--vip-networks', VIP_NETWORKS, '--key-file', keyOf.get(n)!],
      })),
    );
    const injector = Injector.open(router.ns);
    try {
      const [r1, r2, r3] = relays as [RelayProcess, RelayProcess, RelayProcess];
      injector.send(n1.mac, FLOWS.map((f) => tooBigFor(f, FAR_ROUTER[f.family], 1400)));

      await r1.waitForMetric('replicas_sent_total', 4, 5000, { transport: 'udp' });
      await r2.waitForMetric('replicas_injected_packets_total', 2);
      await r3.waitForMetric('replicas_rejected_datagrams_total', 2, 5000, { reason: 'bad_hmac' });
      // Sentinels: n2's replicas are in its stack (presence); n3 has judged both datagrams, so an injection would have happened by now.
      await waitFor(async () => {
        const w = await nftCounters(n2.ns, 'pgt_witness');
        return w.get('tun_v4')! >= 1 && w.get('tun_v6')! >= 1;
      }, 5000);
      await pathDrained(n1, n2);
      await pathDrained(n1, n3);

      const m2 = await r2.metrics();
      assert.equal(m2.get('pathguard_relay_replicas_received_datagrams_total'), 2);
      assert.equal(m2.get('pathguard_relay_replicas_injected_packets_total'), 2);
      const w2 = await nftCounters(n2.ns, 'pgt_witness');
      assert.equal(w2.get('tun_v4'), 1, 'n2: the IPv4 replica entered its stack through the TUN');
      assert.equal(w2.get('tun_v6'), 1, 'n2: the IPv6 replica entered its stack through the TUN');

      const m3 = await r3.metrics();
      assert.equal(m3.get('pathguard_relay_replicas_received_datagrams_total'), 2);
      assert.equal(m3.get('pathguard_relay_replicas_injected_packets_total'), 0);
      const w3 = await nftCounters(n3.ns, 'pgt_witness');
      assert.equal(w3.get('tun_v4'), 0, 'n3: nothing entered through the TUN');
      assert.equal(w3.get('tun_v6'), 0);

      for (const r of relays) assert.doesNotMatch(r.output, /without --key-file/, 'no warning when a key is set');
    } finally {
      injector.close();
      await killRelays(relays);
    }
  });
});

test('udp without --key-file: a keyed datagram is refused as unexpected_hmac, and the relay warns once that replicas are unauthenticated', { skip, timeout: 60_000 }, async () => {
  await withRelayLab('ukey', async (lab, dir) => {
    const { router, nodes } = await buildSegment(lab, 2);
    const [n1, n2] = nodes as [SegmentNode, SegmentNode];
    const key = join(dir, 'a.key');
    writeFileSync(key, randomBytes(32).toString('hex'), { mode: 0o600 });
    const relays = await startRelays([
      { ns: n1.ns, dir, args: ['--iface', 'eth0', '--transport', 'udp', '--peers', peersFlag(nodes), '--vip-networks', VIP_NETWORKS, '--key-file', key] },
      { ns: n2.ns, dir, args: ['--iface', 'eth0', '--transport', 'udp', '--peers', peersFlag(nodes), '--vip-networks', VIP_NETWORKS] },
    ]);
    const injector = Injector.open(router.ns);
    try {
      const [, r2] = relays as [RelayProcess, RelayProcess];
      injector.send(n1.mac, FLOWS.map((f) => tooBigFor(f, FAR_ROUTER[f.family], 1400)));
      await r2.waitForMetric('replicas_rejected_datagrams_total', 2, 5000, { reason: 'unexpected_hmac' });
      assert.equal((await r2.metrics()).get('pathguard_relay_replicas_injected_packets_total'), 0);
      await waitFor(() => /without --key-file/.test(r2.output), 2000);
      assert.equal(r2.output.match(/without --key-file/g)?.length, 1, r2.output);
    } finally {
      injector.close();
      await killRelays(relays);
    }
  });
});
