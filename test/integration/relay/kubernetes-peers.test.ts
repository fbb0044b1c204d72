// Without --peers the relay discovers its peers from Kubernetes Node objects:
// a real relay process in a lab namespace, listing and watching the in-process
// API server that runs (as its own process) in the same namespace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { labUnavailable } from '../../harness/netns.js';
import { Injector, tooBigFor, type Flow } from './helpers/packets.js';
import { RelayProcess, withRelayLab } from './helpers/relay-process.js';
import { buildSegment, CLIENT, FAR_ROUTER, VIP, VIP_NETWORKS } from './helpers/segment.js';

const skip = labUnavailable();
const CHILD = fileURLToPath(new URL('./helpers/apiserver-child.js', import.meta.url));
const FLOW: Flow = { family: 4, src: VIP[4], dst: CLIENT[4], srcPort: 8080, dstPort: 40_000 };

test('without --peers, the relay sends to the other nodes listed in Kubernetes and follows a node joining', { skip }, async () => {
  await withRelayLab('k8speer', async (lab, dir) => {
    const { router, nodes } = await buildSegment(lab, 2);
    const n1 = nodes[0]!;
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
      // n2's two addresses; n1 itself is left out by name.
      await relay.waitForMetric('configured_peers', 2);

      api.stdin!.write('apply n3 192.0.2.13 2001:db8:1::13\n');
      await expectLine('ok');
      await relay.waitForMetric('configured_peers', 4);

      // A too-big message now goes to both IPv4 peers.
      const injector = Injector.open(router.ns);
      try {
        injector.send(n1.mac, [tooBigFor(FLOW, FAR_ROUTER[4], 1400)]);
      } finally {
        injector.close();
      }
      await relay.waitForMetric('relayed_messages_total', 1);
      await relay.waitForMetric('replicas_sent_total', 2, 5000, { transport: 'udp' });
      const exit = await relay.stop();
      assert.equal(exit.code, 0, relay.output);
    } finally {
      await relay.kill();
      api.kill('SIGTERM');
    }
  });
});
