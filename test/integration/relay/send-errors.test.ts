// A peer the kernel cannot send to costs that peer's replica, nothing else:
// the failure is counted under its own address, and the other peers still
// get theirs.
//
//   rtr ── br0 ─┬─ n1  relay, peers: n2 and a dead node 198.51.100.99+2001:db8:dead::99,
//               │      both its addresses behind `unreachable` routes in n1
//               └─ n2  gets its replicas
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labUnavailable } from '../../harness/netns.js';
import { Injector, tooBigFor, type Flow } from './helpers/packets.js';
import { RelayProcess, nftCounters, withRelayLab } from './helpers/relay-process.js';
import { buildSegment, installWitness, pathDrained, CLIENT, FAR_ROUTER, VIP, VIP_NETWORKS, type SegmentNode } from './helpers/segment.js';

const skip = labUnavailable();

/** --relay-port's default. */
const RELAY_PORT = 4490;

const DEAD = { 4: '198.51.100.99', 6: '2001:db8:dead::99' } as const;

const FLOWS: readonly Flow[] = [
  { family: 4, src: VIP[4], dst: CLIENT[4], srcPort: 8080, dstPort: 42_000 },
  { family: 6, src: VIP[6], dst: CLIENT[6], srcPort: 8080, dstPort: 42_000 },
];

for (const transport of ['ip', 'udp'] as const) {
  test(`${transport}: a send error is counted for the peer it belongs to, and the other peer still gets its replica`, { skip, timeout: 30_000 }, async () => {
    await withRelayLab('serr', async (lab, dir) => {
      const { router, nodes } = await buildSegment(lab, 2);
      const [n1, n2] = nodes as [SegmentNode, SegmentNode];
      await n1.ns.exec('ip', ['route', 'add', 'unreachable', `${DEAD[4]}/32`]);
      await n1.ns.exec('ip', ['-6', 'route', 'add', 'unreachable', `${DEAD[6]}/128`]);
      await installWitness(n2.ns);
      // n2 runs no relay: count the udp transport's datagrams as they arrive.
      await n2.ns.nft(`
        table inet pgt_witness {
          counter relay_v4 { }
          counter relay_v6 { }
          chain relay {
            type filter hook prerouting priority raw - 5; policy accept;
            iifname "eth0" meta nfproto ipv4 udp dport ${RELAY_PORT} counter name "relay_v4"
            iifname "eth0" meta nfproto ipv6 udp dport ${RELAY_PORT} counter name "relay_v6"
          }
        }
      `);
      const peers = `${n2.v4}+${n2.v6},${DEAD[4]}+${DEAD[6]}`;
      const relay = await RelayProcess.start(n1.ns, { dir, args: ['--iface', 'eth0', '--transport', transport, '--peers', peers, '--vip-networks', VIP_NETWORKS] });
      const injector = Injector.open(router.ns);
      try {
        injector.send(n1.mac, FLOWS.map((f) => tooBigFor(f, FAR_ROUTER[f.family], 1400)));
        // The dead node is one peer (known by its first address): both its replicas failed.
        await relay.waitForMetric('send_errors_total', 2, 5000, { peer: DEAD[4] });
        await relay.waitForMetric('replicas_sent_total', 2, 5000, { transport });
        // Both messages are through the data plane; a later packet on the path to n2 finds every replica n2 will ever get.
        await pathDrained(n1, n2);
        const m = await relay.metrics();
        assert.equal(m.get('pathguard_relay_relayed_messages_total'), 2);
        assert.equal(m.get('pathguard_relay_send_errors_total', { peer: n2.v4 }), 0);
        assert.equal(m.get('pathguard_relay_replicas_sent_total', { transport }), 2, 'the two replicas to n2');
        const w = await nftCounters(n2.ns, 'pgt_witness');
        const got = transport === 'udp' ? [w.get('relay_v4'), w.get('relay_v6')] : [w.get('eth0_v4'), w.get('eth0_v6')];
        assert.deepEqual(got, [1, 1], 'n2 got one replica per family');
        assert.equal((await relay.get('/healthz')).status, 200);
      } finally {
        injector.close();
      }
      assert.deepEqual(await relay.stop(), { code: 0, signal: null });
    });
  });
}
