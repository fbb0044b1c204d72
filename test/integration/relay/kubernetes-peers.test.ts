// Without --peers the relay discovers its peers from Kubernetes Node objects:
// a real relay process in a lab namespace, listing and watching the in-process
// API server that runs (as its own process) in the same namespace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { labUnavailable, waitFor } from '../../harness/netns.js';
import { Injector, tooBigFor, type Flow } from './helpers/packets.js';
import { nftCounters, RelayProcess, withRelayLab } from './helpers/relay-process.js';
import { buildSegment, CLIENT, FAR_ROUTER, VIP, VIP_NETWORKS, type SegmentNode } from './helpers/segment.js';

const skip = labUnavailable();
const CHILD = fileURLToPath(new URL('./helpers/apiserver-child.js', import.meta.url));
const FLOW: Flow = { family: 4, src: VIP[4], dst: CLIENT[4], srcPort: 8080, dstPort: 40_000 };
const FLOW6: Flow = { family: 6, src: VIP[6], dst: CLIENT[6], srcPort: 8080, dstPort: 40_000 };

/** Counts udp replicas arriving at a peer on the relay port, by the family of the carrier. */
async function installUdpWitness(n: SegmentNode): Promise<void> {
  await n.ns.nft(`
    table inet pgt_udpwitness {
      counter carrier_v4 { }
      counter carrier_v6 { }
      chain pre {
        type filter hook prerouting priority raw - 10; policy accept;
        meta nfproto ipv4 udp dport 4490 counter name "carrier_v4"
        meta nfproto ipv6 udp dport 4490 counter name "carrier_v6"
      }
    }
  `);
}

test('without --peers, the relay sends to the other nodes listed in Kubernetes, one replica per dual-stack node, and follows a node joining', { skip }, async () => {
  await withRelayLab('k8speer', async (lab, dir) => {
    const { router, nodes } = await buildSegment(lab, 3);
    const [n1, n2, n3] = [nodes[0]!, nodes[1]!, nodes[2]!];
    await installUdpWitness(n2);
    await installUdpWitness(n3);
    const kubeconfig = join(dir, 'kubeconfig');
    const api = n1.ns.spawn(process.execPath, [CHILD, kubeconfig]);
    const lines: string[] = [];
    let waiting: (() => void) | undefined;
    api.stdout!.on('data', (d: Buffer) => {
      lines.push(...d.toString().split('\n').filter((l) => l !== ''));
      waiting?.();
    });
    const expectLine = (what: string) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`the API server did not say ${what}`)), 10_000);
        const check = () => {
          const i = lines.indexOf(what);
          if (i >= 0) {
            lines.splice(i, 1);
            clearTimeout(t);
            resolve();
          }
        };
        waiting = check;
        check();
      });
    await expectLine('ready');

    // The relay inherits KUBECONFIG from its environment, as in a pod or on a node.
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = kubeconfig;
    let relay: RelayProcess;
    try {
      relay = RelayProcess.spawn(n1.ns, { dir, args: ['--node-name', 'n1', '--iface', 'eth0', '--vip-networks', VIP_NETWORKS, '--transport', 'udp'] });
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
    try {
      await relay.ready();
      // n2, a dual-stack Node, is one peer; n1 itself is left out by name.
      await relay.waitForMetric('configured_peers', 1);

      api.stdin!.write(`apply n3 ${n3.v4} ${n3.v6}\n`);
      await expectLine('ok');
      await relay.waitForMetric('configured_peers', 2);

      // One IPv4 and one IPv6 message: each peer node gets each exactly once,
      // over its address of the message's family.
      const injector = Injector.open(router.ns);
      try {
        injector.send(n1.mac, [tooBigFor(FLOW, FAR_ROUTER[4], 1400), tooBigFor(FLOW6, FAR_ROUTER[6], 1400)]);
      } finally {
        injector.close();
      }
      await relay.waitForMetric('relayed_messages_total', 2);
      await relay.waitForMetric('replicas_sent_total', 4, 5000, { transport: 'udp' });
      for (const n of [n2, n3]) {
        // The sender handed exactly 4 replicas to the kernel; wait for this peer's 2, then none can be extra.
        const w = (await waitFor(async () => {
          const c = await nftCounters(n.ns, 'pgt_udpwitness');
          return (c.get('carrier_v4') ?? 0) + (c.get('carrier_v6') ?? 0) >= 2 ? c : undefined;
        }))!;
        assert.equal(w.get('carrier_v4'), 1, `${n.ns.short}: the IPv4 message over IPv4`);
        assert.equal(w.get('carrier_v6'), 1, `${n.ns.short}: the IPv6 message over IPv6`);
      }
      const exit = await relay.stop();
      assert.equal(exit.code, 0, relay.output);
    } finally {
      await relay.kill();
      api.kill('SIGTERM');
    }
  });
});
