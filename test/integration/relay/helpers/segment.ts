/**
 * The relay tests' lab: one L2 segment (a bridge in its own namespace) with
 * a router and N nodes, every node holding the service address (VIP) on its
 * loopback, as nodes behind an ECMP/anycast router do.
 *
 *   rtr 192.0.2.1 / 2001:db8:1::1 ─┐
 *   n1  192.0.2.11 / 2001:db8:1::11 ├─ br0 (namespace lan)
 *   n2  192.0.2.12 / 2001:db8:1::12 ┤
 *   ...                             ┘
 *   VIP 198.51.100.200 / 2001:db8:f::100 on every node's lo
 *
 * The router does not forward; it is where crafted messages are put on the
 * wire (helpers/packets.ts) and, as a peer, where the `ip` transport's
 * replicas can be counted. Every neighbour entry the relays need is warmed
 * before they start, so l2 peers have MACs from the first packet.
 */
import type { Lab, Netns } from '../../../harness/netns.js';

export const VIP = { 4: '198.51.100.200', 6: '2001:db8:f::100' } as const;
export const ROUTER = { 4: '192.0.2.1', 6: '2001:db8:1::1' } as const;
/** The client a node's flows go to (behind the router, never built: only quoted). */
export const CLIENT = { 4: '203.0.113.20', 6: '2001:db8:c::20' } as const;
/** A router further away that sends too-big messages (not a peer, not on the segment). */
export const FAR_ROUTER = { 4: '203.0.113.254', 6: '2001:db8:ff::fe' } as const;
export const VIP_NETWORKS = `${VIP[4]}/32,${VIP[6]}/128`;

export interface SegmentNode {
  readonly ns: Netns;
  readonly v4: string;
  readonly v6: string;
  readonly mac: string;
}

export interface Segment {
  readonly router: SegmentNode;
  readonly nodes: readonly SegmentNode[];
}

/** `--peers` for a relay: every node as one dual-stack peer, `v4+v6` (the relay leaves out its own). */
export function peersFlag(nodes: readonly SegmentNode[]): string {
  return nodes.map((n) => `${n.v4}+${n.v6}`).join(',');
}

export async function buildSegment(lab: Lab, count: number): Promise<Segment> {
  const lan = await lab.ns('lan');
  await lab.bridge(lan, 'br0');
  const attach = async (short: string, v4: string, v6: string): Promise<SegmentNode> => {
    const ns = await lab.ns(short);
    await lab.veth(ns, 'eth0', lan, `p-${short}`);
    await lab.enslave(lan, `p-${short}`, 'br0');
    await ns.addr('eth0', `${v4}/24`);
    await ns.addr('eth0', `${v6}/64`);
    return { ns, v4, v6, mac: await ns.mac('eth0') };
  };
  const router = await attach('rtr', ROUTER[4], ROUTER[6]);
  const nodes: SegmentNode[] = [];
  for (let i = 1; i <= count; i++) {
    const n = await attach(`n${i}`, `192.0.2.${10 + i}`, `2001:db8:1::${10 + i}`);
    await n.ns.addr('lo', `${VIP[4]}/32`);
    await n.ns.addr('lo', `${VIP[6]}/128`);
    await n.ns.route('default', 'via', ROUTER[4]);
    await n.ns.route('default', 'via', ROUTER[6]);
    nodes.push(n);
  }
  // Warm ARP/ND: every node to every other node and to the router, in parallel per node.
  const all = [router, ...nodes];
  await Promise.all(
    all.map(async (a) => {
      for (const b of all) {
        if (a === b) continue;
        await a.ns.exec('ping', ['-c1', '-W1', b.v4]);
        await a.ns.exec('ping', ['-6', '-c1', '-W1', b.v6]);
      }
    }),
  );
  return { router, nodes };
}

/**
 * A sentinel for "nothing more is coming from `from` to `to`": one ping per
 * family over the same veths and bridge. A packet `from` handed to its kernel
 * for `to` before this call (a replica that should not exist) is ahead of the
 * echo request on that path, so when the echo reply is back it has reached
 * `to` and been counted by its witness. Use it instead of sleeping before
 * asserting that something did not arrive.
 */
export async function pathDrained(from: SegmentNode, to: SegmentNode): Promise<void> {
  await from.ns.exec('ping', ['-c1', '-W2', to.v4]);
  await from.ns.exec('ping', ['-6', '-c1', '-W2', to.v6]);
}

/**
 * A witness table in `ns`, independent of pathguard's: counts too-big
 * messages arriving on eth0 and on the udp transport's TUN device
 * (pathguard0), per family. Replaced whole (counters at 0) on every call.
 */
export async function installWitness(ns: Netns): Promise<void> {
  await ns.nft(`
    table inet pgt_witness
    delete table inet pgt_witness
    table inet pgt_witness {
      counter eth0_v4 { }
      counter eth0_v6 { }
      counter tun_v4 { }
      counter tun_v6 { }
      chain pre {
        type filter hook prerouting priority raw - 10; policy accept;
        iifname "eth0" icmp type destination-unreachable icmp code frag-needed counter name "eth0_v4"
        iifname "eth0" icmpv6 type packet-too-big counter name "eth0_v6"
        iifname "pathguard0" icmp type destination-unreachable icmp code frag-needed counter name "tun_v4"
        iifname "pathguard0" icmpv6 type packet-too-big counter name "tun_v6"
      }
    }
  `);
}
