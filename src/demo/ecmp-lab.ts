/**
 * The ECMP black-hole lab: the smallest network that reproduces a PMTUD
 * black hole behind an ECMP router, built from network namespaces.
 *
 *   client ──1500── r1 ══1400══ ecmp ──1500── lan bridge ─┬─ node-a  (owns the TCP flow)
 *                                                         ├─ node-b  (gets the ICMP)
 *                                                         └─ node-c
 *
 * Every node holds the service address (VIP) on its loopback, as nodes behind
 * an anycast/ECMP router do. A download from the VIP sends full-size (1500)
 * segments; the ecmp router cannot forward them onto the 1400-byte link and
 * answers with ICMP "fragmentation needed" / "packet too big" addressed to the
 * VIP. The router delivers the TCP flow to node-a, but the ICMP to node-b (a
 * real ECMP router does this whenever the ICMP hashes differently from the
 * flow; here a policy rule `ipproto icmp lookup 100` makes it deterministic).
 * node-a never learns the path MTU and the download stalls, unless a relay on
 * node-b hands the ICMP to node-a.
 *
 * Addresses (documentation prefixes only):
 *   client link   198.51.100.0/25  2001:db8:c::/64   client .2 / ::2, r1 .1 / ::1
 *   1400 link     203.0.113.0/30   2001:db8:e::/64   r1 .1 / ::1, ecmp .2 / ::2
 *   node LAN      192.0.2.0/24     2001:db8:1::/64   ecmp .1 / ::1, nodes .11 .12 .13 / ::11 ::12 ::13
 *   VIP           198.51.100.200   2001:db8:f::100
 */
import { type Lab, type Netns, sleep } from './netns-lab.js';

export const LAB = {
  clientV4: '198.51.100.2',
  clientV6: '2001:db8:c::2',
  vipV4: '198.51.100.200',
  vipV6: '2001:db8:f::100',
  routerLanV4: '192.0.2.1',
  routerLanV6: '2001:db8:1::1',
  pathMtu: 1400,
  httpPort: 8080,
  nodes: [
    { name: 'node-a', short: 'na', v4: '192.0.2.11', v6: '2001:db8:1::11' },
    { name: 'node-b', short: 'nb', v4: '192.0.2.12', v6: '2001:db8:1::12' },
    { name: 'node-c', short: 'nc', v4: '192.0.2.13', v6: '2001:db8:1::13' },
  ],
} as const;

export type Family = 4 | 6;

export interface LabNode {
  readonly name: string;
  readonly ns: Netns;
  readonly v4: string;
  readonly v6: string;
  /** The node's LAN interface. */
  readonly dev: 'eth0';
}

export interface EcmpLab {
  readonly client: Netns;
  readonly r1: Netns;
  readonly ecmp: Netns;
  readonly lan: Netns;
  readonly nodes: readonly LabNode[];
  /** The node the router sends the TCP flow to. */
  readonly owner: LabNode;
  /** The node the router sends the ICMP to. */
  readonly icmpTarget: LabNode;
}

/** Builds the lab inside `lab` (which owns teardown). */
export async function buildEcmpLab(lab: Lab): Promise<EcmpLab> {
  const client = await lab.ns('client');
  const r1 = await lab.ns('r1');
  const ecmp = await lab.ns('ecmp');
  const lan = await lab.ns('lan');

  await lab.veth(client, 'eth0', r1, 'eth0');
  await client.addr('eth0', `${LAB.clientV4}/25`);
  await client.addr('eth0', `${LAB.clientV6}/64`);
  await r1.addr('eth0', '198.51.100.1/25');
  await r1.addr('eth0', '2001:db8:c::1/64');
  await client.route('default', 'via', '198.51.100.1');
  await client.route('default', 'via', '2001:db8:c::1');

  // The narrow link: both ends at 1400, so ecmp cannot forward a 1500-byte packet onto it.
  await lab.veth(r1, 'eth1', ecmp, 'eth1', { mtu: LAB.pathMtu });
  await r1.addr('eth1', '203.0.113.1/30');
  await r1.addr('eth1', '2001:db8:e::1/64');
  await ecmp.addr('eth1', '203.0.113.2/30');
  await ecmp.addr('eth1', '2001:db8:e::2/64');
  await r1.forwarding();
  await r1.route('default', 'via', '203.0.113.2');
  await r1.route('default', 'via', '2001:db8:e::2');

  // The node LAN is a bridge in its own namespace (one L2 segment for the l2/broadcast transports).
  await lab.bridge(lan, 'br0');
  await lab.veth(ecmp, 'eth0', lan, 'p-ecmp');
  await lab.enslave(lan, 'p-ecmp', 'br0');
  await ecmp.addr('eth0', `${LAB.routerLanV4}/24`);
  await ecmp.addr('eth0', `${LAB.routerLanV6}/64`);
  await ecmp.forwarding();
  await ecmp.route('198.51.100.0/25', 'via', '203.0.113.1');
  await ecmp.route('2001:db8:c::/64', 'via', '2001:db8:e::1');

  const nodes: LabNode[] = [];
  for (const n of LAB.nodes) {
    const ns = await lab.ns(n.short);
    await lab.veth(ns, 'eth0', lan, `p-${n.short}`);
    await lab.enslave(lan, `p-${n.short}`, 'br0');
    await ns.addr('eth0', `${n.v4}/24`);
    await ns.addr('eth0', `${n.v6}/64`);
    await ns.addr('lo', `${LAB.vipV4}/32`);
    await ns.addr('lo', `${LAB.vipV6}/128`);
    await ns.route('default', 'via', LAB.routerLanV4);
    await ns.route('default', 'via', LAB.routerLanV6);
    // Neither probing nor fragmentation may rescue the flow: the point is PMTUD.
    await ns.sysctl('net.ipv4.tcp_mtu_probing', 0);
    nodes.push({ name: n.name, ns, v4: n.v4, v6: n.v6, dev: 'eth0' });
  }
  const owner = nodes[0]!;
  const icmpTarget = nodes[1]!;

  // TCP (everything) to node-a; ICMP errors to node-b.
  await ecmp.route(`${LAB.vipV4}/32`, 'via', owner.v4);
  await ecmp.route(`${LAB.vipV6}/128`, 'via', owner.v6);
  await ecmp.route(`${LAB.vipV4}/32`, 'via', icmpTarget.v4, 'table', '100');
  await ecmp.route(`${LAB.vipV6}/128`, 'via', icmpTarget.v6, 'table', '100');
  await ecmp.ip('rule', 'add', 'ipproto', 'icmp', 'lookup', '100', 'pref', '100');
  await ecmp.ip('-6', 'rule', 'add', 'ipproto', 'ipv6-icmp', 'lookup', '100', 'pref', '100');
  // The router must not rate-limit the ICMP errors it sends in a short demo.
  await ecmp.sysctl('net.ipv4.icmp_ratelimit', 0);
  await ecmp.sysctl('net.ipv6.icmp.ratelimit', 0);

  // Neighbour discovery settles faster when everyone has spoken once.
  for (const n of nodes) {
    await n.ns.exec('ping', ['-c1', '-W1', LAB.routerLanV4]).catch(() => undefined);
    await n.ns.exec('ping', ['-6', '-c1', '-W1', LAB.routerLanV6]).catch(() => undefined);
  }
  return { client, r1, ecmp, lan, nodes, owner, icmpTarget };
}

/** A tiny HTTP server on the owner, serving `bytes` bytes from the VIP (both families). */
export function startHttpServer(node: LabNode, bytes: number): { ready: Promise<void> } {
  const script = `
    const http = require('node:http');
    const body = Buffer.alloc(${bytes}, 0x61);
    const s = http.createServer((req, res) => { res.writeHead(200, {'content-length': body.length}); res.end(body); });
    s.listen(${LAB.httpPort}, '::', () => process.stdout.write('listening\\n'));
  `;
  const child = node.ns.spawn(process.execPath, ['-e', script]);
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the demo HTTP server exited (${code})`)));
  });
  return { ready };
}

export interface DownloadResult {
  readonly ok: boolean;
  readonly bytes: number;
  readonly seconds: number;
}

/** Downloads from the VIP on the client; a stall shows up as a timeout. */
export async function download(l: EcmpLab, family: Family, timeoutS: number): Promise<DownloadResult> {
  const url = family === 4 ? `http://${LAB.vipV4}:${LAB.httpPort}/` : `http://[${LAB.vipV6}]:${LAB.httpPort}/`;
  try {
    const r = await l.client.exec(
      'curl',
      ['-s', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', '--max-time', String(timeoutS), url],
      { timeoutMs: (timeoutS + 5) * 1000 },
    );
    const [b, t] = r.stdout.trim().split(' ');
    return { ok: true, bytes: Number(b), seconds: Number(t) };
  } catch (err) {
    const m = /(\d+) ([\d.]+)/.exec(String(err));
    return { ok: false, bytes: m ? Number(m[1]) : 0, seconds: m ? Number(m[2]) : timeoutS };
  }
}

/** `ip route get CLIENT from VIP` on a node: what the node's stack believes about the path. */
export async function routeGet(node: LabNode, family: Family): Promise<string> {
  const args = family === 4 ? ['route', 'get', LAB.clientV4, 'from', LAB.vipV4] : ['-6', 'route', 'get', LAB.clientV6, 'from', LAB.vipV6];
  const r = await node.ns.ip(...args);
  return r.stdout.trim().replace(/\s+/g, ' ');
}

/** The path MTU a node has learned toward the client, if any (a route exception "mtu N"). */
export async function learnedMtu(node: LabNode, family: Family): Promise<number | undefined> {
  const m = /\bmtu (\d+)/.exec(await routeGet(node, family));
  return m ? Number(m[1]) : undefined;
}

/** Forgets every learned path MTU on every node (between runs). */
export async function flushPmtu(l: EcmpLab): Promise<void> {
  for (const n of l.nodes) {
    await n.ns.ip('route', 'flush', 'cache').catch(() => undefined);
    await n.ns.ip('-6', 'route', 'flush', 'cache').catch(() => undefined);
  }
  await sleep(50);
}
