// A node with two uplinks on two segments: the broadcast transport answers on
// the segment the message arrived from, and only there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labUnavailable, waitFor, type Lab, type Netns } from '../../harness/netns.js';
import { Injector, tooBigFor, type Flow } from './helpers/packets.js';
import { RelayProcess, nftCounters, withRelayLab } from './helpers/relay-process.js';
import { CLIENT, FAR_ROUTER, VIP, VIP_NETWORKS } from './helpers/segment.js';

const skip = labUnavailable();
const FLOW: Flow = { family: 4, src: VIP[4], dst: CLIENT[4], srcPort: 8080, dstPort: 40_000 };

/** Counts too-big messages arriving on eth0 of a peer, whatever their destination MAC. */
async function witness(ns: Netns): Promise<void> {
  await ns.nft(`
    table inet pgt_witness {
      counter got { }
      chain pre {
        type filter hook prerouting priority raw - 10; policy accept;
        iifname "eth0" icmp type destination-unreachable icmp code frag-needed counter name "got"
      }
    }
  `);
}

/** Packets counted so far by the peer's witness. */
async function got(peer: Netns): Promise<number> {
  return (await nftCounters(peer, 'pgt_witness')).get('got')!;
}

/**
 * Sentinel for "nothing more is on its way from the node to the peer": a ping
 * over the same veths and bridge, sent after the fan-out, comes back only
 * after anything the node sent earlier on that path has reached the peer.
 */
async function drained(node: Netns, peerAddr: string): Promise<void> {
  await node.exec('ping', ['-c1', '-W2', peerAddr]);
}

async function segment(lab: Lab, name: string, node: Netns, nodeDev: string, nodeAddr: string, peerAddr: string): Promise<{ router: Netns; peer: Netns }> {
  const lan = await lab.ns(`${name}lan`);
  await lab.bridge(lan, 'br0');
  const join = async (ns: Netns, dev: string, port: string, addr: string) => {
    await lab.veth(ns, dev, lan, port);
    await lab.enslave(lan, port, 'br0');
    await ns.addr(dev, `${addr}/24`);
  };
  const router = await lab.ns(`${name}rtr`);
  const peer = await lab.ns(`${name}peer`);
  await join(node, nodeDev, 'p-node', nodeAddr);
  await join(router, 'eth0', 'p-rtr', peerAddr.replace(/\d+$/, '1'));
  await join(peer, 'eth0', 'p-peer', peerAddr);
  await witness(peer);
  return { router, peer };
}

test('broadcast with two uplinks answers on the uplink the message came in on', { skip }, async () => {
  await withRelayLab('uplink', async (lab, dir) => {
    const node = await lab.ns('node');
    await node.addr('lo', `${VIP[4]}/32`);
    const a = await segment(lab, 'a', node, 'eth0', '192.0.2.11', '192.0.2.12');
    const b = await segment(lab, 'b', node, 'eth1', '198.51.100.11', '198.51.100.12');
    const relay = await RelayProcess.start(node, {
      dir,
      args: ['--iface', 'eth0', '--iface', 'eth1', '--peers', '192.0.2.12,198.51.100.12', '--vip-networks', VIP_NETWORKS, '--transport', 'broadcast'],
    });
    try {
      const nodeMacB = await node.mac('eth1');
      const injector = Injector.open(b.router);
      try {
        injector.send(nodeMacB, [tooBigFor(FLOW, FAR_ROUTER[4], 1400)]);
      } finally {
        injector.close();
      }
      await relay.waitForMetric('relayed_messages_total', 1);
      await waitFor(async () => (await got(b.peer)) >= 1, 5000);
      await drained(node, '192.0.2.12');
      await drained(node, '198.51.100.12');
      assert.equal(await got(b.peer), 1, 'the peer on the arrival segment hears the replica');
      assert.equal(await got(a.peer), 0, 'the other segment hears nothing');
      assert.equal((await relay.stop()).code, 0, relay.output);
    } finally {
      await relay.kill();
    }
  });
});

test('l2 with two uplinks reaches each peer on its own segment, resolving its MAC there', { skip }, async () => {
  await withRelayLab('uplnk2', async (lab, dir) => {
    const node = await lab.ns('node');
    await node.addr('lo', `${VIP[4]}/32`);
    const a = await segment(lab, 'a', node, 'eth0', '192.0.2.11', '192.0.2.12');
    const b = await segment(lab, 'b', node, 'eth1', '198.51.100.11', '198.51.100.12');
    const relay = await RelayProcess.start(node, {
      dir,
      args: ['--iface', 'eth0', '--iface', 'eth1', '--peers', '192.0.2.12,198.51.100.12', '--vip-networks', VIP_NETWORKS, '--transport', 'l2'],
    });
    try {
      const injector = Injector.open(b.router);
      try {
        injector.send(await node.mac('eth1'), [tooBigFor(FLOW, FAR_ROUTER[4], 1400)]);
      } finally {
        injector.close();
      }
      await relay.waitForMetric('relayed_messages_total', 1);
      await relay.waitForMetric('replicas_sent_total', 2, 5000, { transport: 'l2' });
      await drained(node, '192.0.2.12');
      await drained(node, '198.51.100.12');
      assert.equal(await got(a.peer), 1, 'the peer behind eth0 gets one replica');
      assert.equal(await got(b.peer), 1, 'the peer behind eth1 gets one replica');
      assert.equal((await relay.stop()).code, 0, relay.output);
    } finally {
      await relay.kill();
    }
  });
});
