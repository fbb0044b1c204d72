// Loop freedom, for each transport: four relays on one L2 segment, ONE
// too-big message (IPv4 and IPv6 each) injected at node 1 by a router that
// is not a peer. Each other node must receive exactly one replica per
// family, and still exactly one after a second message has gone the same
// way: no node relays a replica again. The counts come from a witness
// nftables table in every node (independent of pathguard's own) and from
// the relays' /metrics.
//
// The second message is the sentinel that replaces waiting: each relay reads
// its NFLOG group in order, so once every relay has dealt with the second
// message's replica it has dealt with the first one's, and a replica it sent
// again would have been sent by then. A later ping from every node to every
// other then finds such a packet counted (see pathDrained).
//
// Two lines of defence are exercised at once:
//   n1, n2  pathguard manages its table: a replica is recognised in nftables
//           (TUN ingress, broadcast destination, a peer's MAC or address)
//           and never reaches NFLOG (pathguard's replica_* counters say so);
//   n3, n4  --no-manage-firewall with a naive rule that logs every too-big
//           arriving on eth0 or pathguard0: the replica reaches the data
//           plane, which must recognise it (loops_packets_total) and not
//           relay it.
//
//   rtr ── br0 ── n1 n2 (managed)  n3 n4 (naive rules)   VIP on every lo
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labUnavailable, waitFor } from '../../harness/netns.js';
import { Injector, tooBigFor, type Flow } from './helpers/packets.js';
import { killRelays, nftCounters, startRelays, withRelayLab, type RelayProcess } from './helpers/relay-process.js';
import { buildSegment, installWitness, pathDrained, peersFlag, CLIENT, FAR_ROUTER, VIP, VIP_NETWORKS, type SegmentNode } from './helpers/segment.js';

const skip = labUnavailable();

const TRANSPORTS = ['udp', 'l2', 'broadcast', 'ip'] as const;
type Transport = (typeof TRANSPORTS)[number];

/** The flows of message `k` (k = 0: the message under test, 1: the sentinel), one per family. */
function flows(k: number): readonly Flow[] {
  return [
    { family: 4, src: VIP[4], dst: CLIENT[4], srcPort: 8080, dstPort: 40_000 + k },
    { family: 6, src: VIP[6], dst: CLIENT[6], srcPort: 8080, dstPort: 40_000 + k },
  ];
}

/** Messages (one per family each) injected per transport: the one under test and the sentinel. */
const MESSAGES = 2;

/** Logs every too-big from the uplink and the TUN device: no exclusion of replicas at all. */
const NAIVE_RULES = `
  table inet pgt_naive {
    chain capture {
      type filter hook prerouting priority raw; policy accept;
      iifname { "eth0", "pathguard0" } icmp type destination-unreachable icmp code frag-needed log group 33
      iifname { "eth0", "pathguard0" } icmpv6 type packet-too-big log group 33
    }
  }
`;

/**
 * pathguard's counters that may recognise a replica of `transport`. The
 * too_big chain tries broadcast, then a peer's MAC, then a peer's address,
 * so an `ip` replica from a peer whose MAC is known is counted by MAC.
 */
function replicaCounters(transport: Transport): readonly string[] {
  switch (transport) {
    case 'udp':
      return ['replica_tun'];
    case 'l2':
      return ['replica_peer_mac'];
    case 'broadcast':
      return ['replica_broadcast'];
    case 'ip':
      return ['replica_peer_mac', 'replica_peer_v4', 'replica_peer_v6'];
  }
}

/** Replicas node 1 hands to the kernel for `messages` messages per family, with 3 peers. */
function replicasSent(transport: Transport, messages: number): number {
  return (transport === 'broadcast' ? 2 : 3 * 2) * messages;
}

interface Witnessed {
  eth0_v4: number;
  eth0_v6: number;
  tun_v4: number;
  tun_v6: number;
}

async function witnessed(n: SegmentNode): Promise<Witnessed> {
  const c = await nftCounters(n.ns, 'pgt_witness');
  return { eth0_v4: c.get('eth0_v4')!, eth0_v6: c.get('eth0_v6')!, tun_v4: c.get('tun_v4')!, tun_v6: c.get('tun_v6')! };
}

/** What each node's witness must show after `n` messages: node 1 the originals, the others one replica each (via TUN for udp). */
function expectedWitness(transport: Transport, isNode1: boolean, n: number): Witnessed {
  if (isNode1) return { eth0_v4: n, eth0_v6: n, tun_v4: 0, tun_v6: 0 };
  return transport === 'udp' ? { eth0_v4: 0, eth0_v6: 0, tun_v4: n, tun_v6: n } : { eth0_v4: n, eth0_v6: n, tun_v4: 0, tun_v6: 0 };
}

/** Waits until every node's witness shows at least what `n` messages bring. */
async function fannedOut(transport: Transport, nodes: readonly SegmentNode[], n1: SegmentNode, n: number): Promise<void> {
  await waitFor(async () => {
    for (const node of nodes) {
      const w = await witnessed(node);
      const e = expectedWitness(transport, node === n1, n);
      if (w.eth0_v4 < e.eth0_v4 || w.eth0_v6 < e.eth0_v6 || w.tun_v4 < e.tun_v4 || w.tun_v6 < e.tun_v6) return false;
    }
    return true;
  }, 5000);
}

test('one too-big message at node 1 yields exactly one replica per other node, and nothing more, for each transport', { skip, timeout: 90_000 }, async (t) => {
  await withRelayLab('loop', async (lab, dir) => {
    const { router, nodes } = await buildSegment(lab, 4);
    const [n1, n2, n3, n4] = nodes as [SegmentNode, SegmentNode, SegmentNode, SegmentNode];
    const managed = new Set([n1, n2]);
    await n3.ns.nft(NAIVE_RULES);
    await n4.ns.nft(NAIVE_RULES);
    const injector = Injector.open(router.ns);
    try {
      for (const transport of TRANSPORTS) {
        await t.test(transport, async () => {
          for (const n of nodes) await installWitness(n.ns);
          const relays = await startRelays(
            nodes.map((n) => ({
              ns: n.ns,
              dir,
              name: `${n.ns.short}-${transport}`,
              args: [
                '--iface', 'eth0',
                '--transport', transport,
                '--peers', peersFlag(nodes),
                '--vip-networks', VIP_NETWORKS,
                ...(managed.has(n) ? [] : ['--no-manage-firewall']),
              ],
            })),
          );
          try {
            const [r1, r2, r3, r4] = relays as [RelayProcess, RelayProcess, RelayProcess, RelayProcess];

            const inject = (k: number) => injector.send(n1.mac, flows(k).map((f) => tooBigFor(f, FAR_ROUTER[f.family], 1400)));
            inject(0);
            await fannedOut(transport, nodes, n1, 1);

            // The sentinel: a second message after the first one's fan-out has landed.
            inject(1);
            await fannedOut(transport, nodes, n1, MESSAGES);
            // n3 and n4 see every replica in their data plane: once they have judged the second, they have judged the first.
            for (const r of [r3, r4]) await r.waitForMetric('received_packets_total', 2 * MESSAGES);
            await r1.waitForMetric('relayed_messages_total', 2 * MESSAGES);
            await Promise.all(nodes.map(async (a) => { for (const b of nodes) if (a !== b) await pathDrained(a, b); }));

            for (const n of nodes) {
              assert.deepEqual(await witnessed(n), expectedWitness(transport, n === n1, MESSAGES), `${transport}: too-big messages seen by ${n.ns.short}`);
            }

            const m1 = await r1.metrics();
            assert.equal(m1.get('pathguard_relay_received_packets_total'), 2 * MESSAGES, 'node 1 captured the originals');
            assert.equal(m1.get('pathguard_relay_relayed_messages_total'), 2 * MESSAGES, 'node 1 relayed each message once');
            assert.equal(m1.get('pathguard_relay_loops_packets_total'), 0);
            assert.equal(m1.get('pathguard_relay_replicas_sent_total', { transport }), replicasSent(transport, MESSAGES));
            const pg1 = await nftCounters(n1.ns, 'pathguard');
            assert.equal(pg1.get('captured_v4'), MESSAGES);
            assert.equal(pg1.get('captured_v6'), MESSAGES);

            // n2: the firewall recognised the replicas, so its relay never saw them.
            const m2 = await r2.metrics();
            assert.equal(m2.get('pathguard_relay_received_packets_total'), 0, 'n2 captured no replica');
            assert.equal(m2.get('pathguard_relay_relayed_messages_total'), 0);
            const pg2 = await nftCounters(n2.ns, 'pathguard');
            const recognised = [...pg2].filter(([name]) => name.startsWith('replica_'));
            const expected = replicaCounters(transport);
            assert.equal(recognised.reduce((sum, [, n]) => sum + n, 0), 2 * MESSAGES, `n2 recognised every replica: ${JSON.stringify(recognised)}`);
            for (const [name, n] of recognised) if (n > 0) assert.ok(expected.includes(name), `n2: ${transport} replica counted by ${name}`);
            assert.equal(pg2.get('captured_v4'), 0);
            assert.equal(pg2.get('captured_v6'), 0);

            // n3, n4: the replicas reached the data plane and were recognised there.
            for (const r of [r3, r4]) {
              const m = await r.metrics();
              assert.equal(m.get('pathguard_relay_received_packets_total'), 2 * MESSAGES, `${r.ns.short} captured every replica`);
              assert.equal(m.get('pathguard_relay_loops_packets_total'), 2 * MESSAGES, `${r.ns.short} recognised each as a replica`);
              assert.equal(m.get('pathguard_relay_relayed_messages_total'), 0, `${r.ns.short} relayed nothing`);
              assert.equal(m.get('pathguard_relay_replicas_sent_total', { transport }), 0);
            }

            if (transport === 'udp') {
              for (const r of [r2, r3, r4]) {
                const m = await r.metrics();
                assert.equal(m.get('pathguard_relay_replicas_received_datagrams_total'), 2 * MESSAGES, `${r.ns.short} datagrams`);
                assert.equal(m.get('pathguard_relay_replicas_injected_packets_total'), 2 * MESSAGES, `${r.ns.short} injected`);
              }
            }

            const exits = await Promise.all(relays.map((r) => r.stop()));
            assert.deepEqual(exits, relays.map(() => ({ code: 0, signal: null })), 'every relay exits 0 on SIGTERM');
          } finally {
            await killRelays(relays);
          }
        });
      }
    } finally {
      injector.close();
    }
  });
});
