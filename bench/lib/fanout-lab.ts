/**
 * The lab of the fan-out and peer-churn benchmarks:
 *
 *   gen ─eth0─ node ─fan0─ far
 *
 * gen sends the originals to node's eth0 (IPv4 only); node routes every peer
 * prefix (198.51.100.0/24 and 203.0.113.0/24 via far's IPv4 address,
 * 2001:db8:1::/64 and 2001:db8:2::/64 via its IPv6 address), so the peers'
 * addresses need not exist; far counts the udp replicas at its ingress,
 * before routing, by family, and drops them.
 */
import type { Lab, Netns } from '../../test/harness/netns.js';
import { nftCounters } from './lab-counters.js';

/** --relay-port's default. */
export const RELAY_PORT = 4490;

const FAR_RULESET =
  'table netdev far {\n' +
  '\tcounter replicas4 {\n\t}\n' +
  '\tcounter replicas6 {\n\t}\n' +
  '\tchain in {\n' +
  '\t\ttype filter hook ingress device "eth0" priority 0; policy accept;\n' +
  `\t\tether type ip udp dport ${RELAY_PORT} counter name "replicas4" drop\n` +
  `\t\tether type ip6 udp dport ${RELAY_PORT} counter name "replicas6" drop\n` +
  '\t}\n' +
  '}\n';

export interface FanoutLab {
  readonly gen: Netns;
  readonly node: Netns;
  readonly far: Netns;
  /** node's eth0, where gen sends the originals. */
  readonly nodeMac: string;
}

export async function buildFanoutLab(lab: Lab): Promise<FanoutLab> {
  const gen = await lab.ns('gen');
  const node = await lab.ns('node');
  const far = await lab.ns('far');
  await gen.sysctl('net.ipv6.conf.all.disable_ipv6', 1);
  await gen.sysctl('net.ipv6.conf.default.disable_ipv6', 1);
  await lab.veth(gen, 'eth0', node, 'eth0');
  await lab.veth(node, 'fan0', far, 'eth0');
  await node.sysctl('net.ipv6.conf.eth0.disable_ipv6', 1);
  await node.addr('eth0', '192.0.2.10/28');
  await node.addr('fan0', '192.0.2.65/26');
  await node.addr('fan0', '2001:db8:f0::1/64');
  await far.addr('eth0', '192.0.2.66/26');
  await far.addr('eth0', '2001:db8:f0::2/64');
  await node.route('198.51.100.0/24', 'via', '192.0.2.66');
  await node.route('203.0.113.0/24', 'via', '192.0.2.66');
  await node.route('2001:db8:1::/64', 'via', '2001:db8:f0::2');
  await node.route('2001:db8:2::/64', 'via', '2001:db8:f0::2');
  await far.nft(FAR_RULESET);
  return { gen, node, far, nodeMac: await node.mac('eth0') };
}

/** Replicas that reached far, both families. */
export async function wireReplicas(far: Netns): Promise<number> {
  const c = await nftCounters(far);
  return (c.get('far/replicas4') ?? 0) + (c.get('far/replicas6') ?? 0);
}
