/**
 * `pathguard doctor --json` run inside lab namespaces (`ip netns exec NS`)
 * against misconfigurations built from real kernel objects: veth, bridge,
 * VXLAN, TUN, nftables, iptables-nft, sysctls, routes, rules, addresses.
 * Each case has its nearby healthy twin that must give no finding of that
 * check. What this kernel cannot create (ipip, ip6tnl, gre, WireGuard,
 * IPVS) and what a namespace cannot set (nf_conntrack_max is read-only
 * outside the initial namespace) is covered by the snapshot fixtures in
 * test/fixtures/doctor and the unit tests.
 *
 *   node eth0 ──── eth0 rtr
 *   192.0.2.10/24       192.0.2.1/24
 *   2001:db8:1::10/64   2001:db8:1::1/64
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labUnavailable, sh, withLab, type Lab, type Netns } from '../../harness/netns.js';
import { buildEcmpLab } from '../../../src/demo/ecmp-lab.js';
import type { DoctorResult } from '../../../src/doctor/run.js';
import type { Finding } from '../../../src/doctor/finding.js';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const tools = ['nft', 'iptables-save'].filter((t) => !['/usr/sbin/', '/sbin/', '/usr/bin/'].some((d) => existsSync(d + t)));
const skip = labUnavailable() ?? (tools.length > 0 ? `${tools.join(', ')} not installed` : undefined);
const TAG = 'doctor';

/** A capture table like the relay's (src/firewall/ruleset.ts), reduced to its NFLOG rules. */
const CAPTURE = [
  'table inet pathguard {',
  ' chain capture {',
  '  type filter hook prerouting priority raw; policy accept;',
  '  icmp type destination-unreachable icmp code frag-needed log group 33',
  '  icmpv6 type packet-too-big log group 33',
  ' }',
  '}',
  '',
].join('\n');

interface Run {
  readonly status: number;
  readonly result: DoctorResult;
}

/** `ip netns exec NS pathguard doctor --json ARGS`: the exit status and the parsed result. */
function doctor(ns: Netns, args: string[] = []): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', ns.name, process.execPath, MAIN, 'doctor', '--json', ...args], { timeout: 30_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const status = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      if (status !== 0 && status !== 1) return reject(new Error(`doctor exited ${status}: ${stderr}`));
      try {
        resolve({ status, result: JSON.parse(stdout) as DoctorResult });
      } catch (e) {
        reject(new Error(`doctor printed no JSON (${(e as Error).message}): ${stdout.slice(0, 200)} ${stderr}`));
      }
    });
  });
}

function loud(r: DoctorResult): Finding[] {
  return r.findings.filter((f) => f.severity !== 'info');
}

function only(r: DoctorResult, id: string): Finding[] {
  return r.findings.filter((f) => f.id === id);
}

function sysctlEv(f: Finding, key: string): string | null | undefined {
  const e = f.evidence.find((x) => x.type === 'sysctl' && x.key === key);
  return e && e.type === 'sysctl' ? e.value : undefined;
}

/** A node with one uplink to a router, both families, healthy sysctls. */
async function node(lab: Lab): Promise<Netns> {
  const n = await lab.ns('node');
  const r = await lab.ns('rtr');
  await lab.veth(n, 'eth0', r, 'eth0');
  await n.addr('eth0', '192.0.2.10/24');
  await n.addr('eth0', '2001:db8:1::10/64');
  await r.addr('eth0', '192.0.2.1/24');
  await r.addr('eth0', '2001:db8:1::1/64');
  await n.route('default', 'via', '192.0.2.1');
  await n.route('default', 'via', '2001:db8:1::1');
  await n.sysctl('net.ipv4.conf.all.rp_filter', 2);
  await n.sysctl('net.ipv4.tcp_mtu_probing', 1);
  return n;
}

test('a healthy node gives no warn or error finding, and the snapshot holds what the kernel has', { skip }, async () => {
  await withLab(TAG, async (lab) => {
    const n = await node(lab);
    const { status, result } = await doctor(n);
    assert.equal(status, 0, JSON.stringify(result.findings, null, 1));
    assert.deepEqual(loud(result), []);
    assert.equal(result.checks.length, 15);
    assert.deepEqual(result.problems, []);
  });
});

test('a saved snapshot of a lab node holds links, routes of every table, rules, sysctls and the nft ruleset', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgt-doctor-'));
  try {
    await withLab(TAG, async (lab) => {
      const n = await node(lab);
      await n.ip('link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'local', '192.0.2.10', 'remote', '192.0.2.1', 'dstport', '4789');
      await n.ip('route', 'add', 'default', 'via', '192.0.2.1', 'table', '20');
      await n.ip('rule', 'add', 'from', '203.0.113.0/28', 'lookup', '20', 'priority', '20');
      await n.nft('table inet t {\n chain c {\n type filter hook input priority 0; policy accept;\n }\n}\n');
      await doctor(n, ['--save-snapshot', join(dir, 's.json')]);
      const { decodeSnapshot } = await import('../../../src/doctor/snapshot.js');
      const { readFileSync } = await import('node:fs');
      const s = decodeSnapshot(readFileSync(join(dir, 's.json'), 'utf8'));
      const eth0 = s.links.find((l) => l.name === 'eth0')!;
      assert.equal(eth0.kind, 'veth');
      assert.equal(eth0.mtu, 1500);
      const vx = s.links.find((l) => l.name === 'vx0')!;
      assert.deepEqual(vx.tunnel, { id: 42, local: '192.0.2.10', remote: '192.0.2.1', port: 4789 });
      assert.ok(s.routes.some((r) => r.table === 20 && r.dst === '0.0.0.0/0' && r.gateway === '192.0.2.1'));
      assert.ok(s.routes.some((r) => r.table === 255 && r.dst === '192.0.2.10/32'));
      assert.ok(s.rules.some((r) => r.priority === 20 && r.src === '203.0.113.0/28' && r.table === 20));
      assert.equal(s.sysctls['net.ipv4.conf.all.rp_filter'], '2');
      assert.equal(s.sysctls['net.ipv4.conf.eth0.rp_filter'], '0');
      assert.ok(s.nftables!.some((i) => JSON.stringify(i).includes('"name":"c"')));
      assert.ok(s.conntrack?.max !== undefined && s.conntrack.max > 0);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("rp-filter: pathguard's TUN device under a strict conf/all is an error naming both sysctls; loose conf/all is not", { skip }, async () => {
  await withLab(TAG, async (lab) => {
    const n = await node(lab);
    await n.ip('tuntap', 'add', 'pathguard0', 'mode', 'tun');
    await n.up('pathguard0');
    await n.sysctl('net.ipv4.conf.all.rp_filter', 1);
    let { result } = await doctor(n);
    const [f] = only(result, 'rp-filter');
    assert.equal(f?.severity, 'error');
    assert.equal(f.subject, 'pathguard0');
    assert.equal(sysctlEv(f, 'net.ipv4.conf.all.rp_filter'), '1');
    assert.equal(sysctlEv(f, 'net.ipv4.conf.pathguard0.rp_filter'), '0');
    await n.sysctl('net.ipv4.conf.all.rp_filter', 2);
    ({ result } = await doctor(n));
    assert.deepEqual(only(result, 'rp-filter'), []);
  });
});

test('rp-filter: a routed VXLAN device under strict rp_filter is only info; a bridge port VXLAN is not looked at', { skip }, async () => {
  await withLab(TAG, async (lab) => {
    const n = await node(lab);
    await n.ip('link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'local', '192.0.2.10', 'dstport', '4789');
    await n.mtu('vx0', 1450);
    await n.up('vx0');
    await n.addr('vx0', '198.51.100.10/24');
    await n.sysctl('net.ipv4.conf.all.rp_filter', 1);
    let { result } = await doctor(n);
    assert.deepEqual(only(result, 'rp-filter').map((f) => f.severity), ['info']);
    await n.ip('addr', 'flush', 'dev', 'vx0');
    await lab.bridge(n, 'br0');
    await lab.enslave(n, 'vx0', 'br0');
    ({ result } = await doctor(n));
    assert.deepEqual(only(result, 'rp-filter'), []);
  });
});

test('icmp-filtered: nft `icmp type destination-unreachable drop` names table, chain and handle; `ct state related accept` first clears it', { skip }, async () => {
  await withLab(TAG, async (lab) => {
    const n = await node(lab);
    await n.nft('table inet filter {\n chain input {\n type filter hook input priority filter; policy accept;\n icmp type destination-unreachable drop\n icmpv6 type packet-too-big drop\n }\n}\n');
    let { status, result } = await doctor(n);
    assert.equal(status, 1);
    const fs = only(result, 'icmp-filtered');
    assert.equal(fs.length, 2);
    for (const f of fs) {
      assert.equal(f.severity, 'error');
      const e = f.evidence.find((x) => x.type === 'firewall' && x.handle !== null);
      assert.ok(e && e.type === 'firewall' && e.source === 'nftables' && e.family === 'inet' && e.table === 'filter' && e.chain === 'input' && typeof e.handle === 'number');
    }
    await n.nft('insert rule inet filter input ct state established,related accept');
    ({ status, result } = await doctor(n));
    assert.equal(status, 0);
    assert.deepEqual(only(result, 'icmp-filtered'), []);
  });
});

test('icmp-filtered: iptables-nft `--icmp-type fragmentation-needed -j DROP` is read from iptables-save with its rule number', { skip }, async () => {
  await withLab(TAG, async (lab) => {
    const n = await node(lab);
    await n.exec('iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT']);
    await n.exec('iptables', ['-A', 'INPUT', '-p', 'icmp', '--icmp-type', 'fragmentation-needed', '-j', 'DROP']);
    let { result } = await doctor(n);
    const [f] = only(result, 'icmp-filtered');
    assert.equal(f?.severity, 'error');
    const e = f.evidence.find((x) => x.type === 'firewall' && x.position === 2);
    assert.ok(e && e.type === 'firewall' && e.source === 'iptables' && e.table === 'filter' && e.chain === 'INPUT', JSON.stringify(f.evidence));
    assert.ok(f.fix.includes('iptables -t filter -I INPUT 1 -p icmp --icmp-type fragmentation-needed -j ACCEPT'));
    await n.exec('iptables', ['-I', 'INPUT', '1', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT']);
    ({ result } = await doctor(n));
    assert.deepEqual(only(result, 'icmp-filtered'), []);
  });
});

test('mtu-overhead: a VXLAN device created without `dev` keeps MTU 1500 over a 1500 uplink; 1450 fits', { skip }, async () => {
  await withLab(TAG, async (lab) => {
    const n = await node(lab);
    await n.ip('link', 'add', 'vxlan0', 'type', 'vxlan', 'id', '42', 'local', '192.0.2.10', 'dstport', '4789');
    await n.up('vxlan0');
    let { result } = await doctor(n);
    const [f] = only(result, 'mtu-overhead');
    assert.equal(f?.severity, 'error');
    assert.equal(f.subject, 'vxlan0');
    assert.ok(f.evidence.some((e) => e.type === 'link' && e.name === 'eth0' && e.mtu === 1500));
    assert.ok(f.evidence.some((e) => e.type === 'value' && e.name === 'overhead' && e.value === 50));
    assert.equal(f.fix[0], 'ip link set dev vxlan0 mtu 1450');
    await n.mtu('vxlan0', 1450);
    ({ result } = await doctor(n));
    assert.deepEqual(only(result, 'mtu-overhead'), []);
  });
});

test('pod-mtu: cni0 and a pod veth at 1500 behind a 1450 VXLAN overlay warn; at 1450 they do not', { skip }, async () => {
  await withLab(TAG, async (lab) => {
    const n = await node(lab);
    const pod = await lab.ns('pod');
    await n.ip('link', 'add', 'flannel.1', 'type', 'vxlan', 'id', '1', 'local', '192.0.2.10', 'dstport', '8472');
    await n.mtu('flannel.1', 1450);
    await n.up('flannel.1');
    await lab.bridge(n, 'cni0');
    await lab.veth(n, 'veth1234', pod, 'eth0');
    await lab.enslave(n, 'veth1234', 'cni0');
    await n.sysctl('net.ipv4.ip_forward', 1);
    let { result } = await doctor(n);
    const [f] = only(result, 'pod-mtu');
    assert.equal(f?.severity, 'warn');
    assert.deepEqual(f.evidence.filter((e) => e.type === 'link').map((e) => (e.type === 'link' ? `${e.name} ${e.mtu}` : '')).sort(), ['cni0 1500', 'flannel.1 1450', 'veth1234 1500']);
    await n.mtu('veth1234', 1450);
    await n.mtu('cni0', 1450);
    ({ result } = await doctor(n));
    assert.deepEqual(only(result, 'pod-mtu'), []);
  });
});

test('double-snat: kube-proxy < 1.20 masquerade with --random-fully on a VXLAN node warns; clearing the mark first does not', { skip }, async () => {
  await withLab(TAG, async (lab) => {
    const n = await node(lab);
    await n.ip('link', 'add', 'flannel.1', 'type', 'vxlan', 'id', '1', 'local', '192.0.2.10', 'dstport', '8472');
    await n.mtu('flannel.1', 1450);
    await n.up('flannel.1');
    const ipt = (...a: string[]) => n.exec('iptables', ['-t', 'nat', ...a]);
    await ipt('-N', 'KUBE-POSTROUTING');
    await ipt('-A', 'POSTROUTING', '-j', 'KUBE-POSTROUTING');
    await ipt('-A', 'KUBE-POSTROUTING', '-m', 'comment', '--comment', 'kubernetes service traffic requiring SNAT', '-m', 'mark', '--mark', '0x4000/0x4000', '-j', 'MASQUERADE', '--random-fully');
    let { result } = await doctor(n);
    const [f] = only(result, 'double-snat');
    assert.equal(f?.severity, 'warn');
    assert.ok(f.evidence.some((e) => e.type === 'firewall' && e.chain === 'KUBE-POSTROUTING' && e.position === 1));
    await ipt('-I', 'KUBE-POSTROUTING', '1', '-j', 'MARK', '--xor-mark', '0x4000');
    ({ result } = await doctor(n));
    assert.deepEqual(only(result, 'double-snat'), []);
  });
});

test('pmtud-disabled: ip_no_pmtu_disc=1, an `mtu lock` route and min_pmtu above a link MTU; an unlocked route MTU is fine', { skip }, async () => {
  await withLab(TAG, async (lab) => {
    const n = await node(lab);
    await n.sysctl('net.ipv4.ip_no_pmtu_disc', 1);
    await n.ip('route', 'add', '198.51.100.0/24', 'via', '192.0.2.1', 'mtu', 'lock', '1400');
    await n.ip('route', 'add', '203.0.113.0/24', 'via', '192.0.2.1', 'mtu', '1400');
    await n.sysctl('net.ipv4.route.min_pmtu', 1400);
    await n.mtu('eth0', 1300);
    let { result } = await doctor(n);
    const fs = only(result, 'pmtud-disabled');
    assert.deepEqual(fs.map((f) => `${f.severity} ${f.subject}`), ['warn net.ipv4.ip_no_pmtu_disc', 'warn locked route MTU', 'warn net.ipv4.route.min_pmtu']);
    const routes = fs[1]!.evidence.filter((e) => e.type === 'route').map((e) => (e.type === 'route' ? e.dst : ''));
    assert.deepEqual(routes, ['198.51.100.0/24']);
    assert.equal(sysctlEv(fs[0]!, 'net.ipv4.ip_no_pmtu_disc'), '1');
    await n.sysctl('net.ipv4.ip_no_pmtu_disc', 0);
    await n.ip('route', 'del', '198.51.100.0/24');
    await n.sysctl('net.ipv4.route.min_pmtu', 552);
    ({ result } = await doctor(n));
    assert.deepEqual(only(result, 'pmtud-disabled'), []);
  });
});

test('tcp-mtu-probing and relay-missing: a VIP on lo without probing or capture warns; probing on and a capture table clear both', { skip }, async () => {
  await withLab(TAG, async (lab) => {
    const n = await node(lab);
    await n.addr('lo', '198.51.100.200/32');
    await n.sysctl('net.ipv4.tcp_mtu_probing', 0);
    let { status, result } = await doctor(n);
    assert.equal(status, 0); // warnings only
    const [p] = only(result, 'tcp-mtu-probing');
    assert.equal(p?.severity, 'warn');
    assert.ok(p.evidence.some((e) => e.type === 'address' && e.dev === 'lo' && e.address === '198.51.100.200/32'));
    const [r] = only(result, 'relay-missing');
    assert.equal(r?.severity, 'warn');
    assert.match(r.title, /ICMPv4 fragmentation needed/);
    ({ status } = await doctor(n, ['--fail-on', 'warn']));
    assert.equal(status, 1);
    await n.sysctl('net.ipv4.tcp_mtu_probing', 1);
    await n.nft(CAPTURE);
    ({ result } = await doctor(n));
    assert.deepEqual(loud(result), []);
  });
});

test('multipath-neigh: a multipath route with fib_multipath_use_neigh 0 warns; 1 does not', { skip }, async () => {
  await withLab(TAG, async (lab) => {
    const n = await node(lab);
    await n.ip('route', 'add', '203.0.113.0/24', 'nexthop', 'via', '192.0.2.1', 'nexthop', 'via', '192.0.2.2');
    await n.sysctl('net.ipv4.fib_multipath_use_neigh', 0);
    let { result } = await doctor(n);
    const [f] = only(result, 'multipath-neigh');
    assert.equal(f?.severity, 'warn');
    assert.ok(f.evidence.some((e) => e.type === 'route' && e.dst === '203.0.113.0/24'));
    await n.sysctl('net.ipv4.fib_multipath_use_neigh', 1);
    ({ result } = await doctor(n));
    assert.deepEqual(only(result, 'multipath-neigh'), []);
  });
});

test('return-route: a MetalLB BGP pool without a `from` rule warns; the rule and a default via the peer in table 20 clear it', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgt-doctor-'));
  try {
    const file = join(dir, 'metallb.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: public, namespace: metallb-system}\nspec: {addresses: [203.0.113.0/28]}',
        'apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {name: all, namespace: metallb-system}',
        'apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: tor, namespace: metallb-system}\nspec: {peerAddress: 192.0.2.2, peerASN: 64500, myASN: 64501}',
      ].join('\n---\n'),
    );
    await withLab(TAG, async (lab) => {
      const n = await node(lab);
      await n.sysctl('net.ipv4.tcp_mtu_probing', 1);
      const args = ['--metallb-file', file, '--node-name', 'node-1', '--check', 'return-route'];
      let { result } = await doctor(n, args);
      const [f] = only(result, 'return-route');
      assert.equal(f?.severity, 'warn');
      assert.equal(f.subject, 'public');
      assert.ok(f.evidence.some((e) => e.type === 'value' && e.value === '203.0.113.0/28' && /no rule/.test(e.text)));
      await n.ip('route', 'add', 'default', 'via', '192.0.2.2', 'table', '20');
      await n.ip('rule', 'add', 'from', '203.0.113.0/28', 'lookup', '20', 'priority', '20');
      ({ result } = await doctor(n, args));
      assert.deepEqual(only(result, 'return-route'), []);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ipv6-min-mtu: an interface at 1200 loses IPv6 and warns; at 1280, or with IPv6 disabled everywhere, nothing', { skip }, async () => {
  await withLab(TAG, async (lab) => {
    const n = await node(lab);
    const peer = await lab.ns('peer');
    await lab.veth(n, 'eth1', peer, 'eth0', { mtu: 1200 });
    let { result } = await doctor(n);
    const [f] = only(result, 'ipv6-min-mtu');
    assert.equal(f?.severity, 'warn');
    assert.equal(f.subject, 'eth1');
    // the kernel removed eth1's IPv6 configuration (addrconf_ifdown): its sysctls are gone
    assert.equal(sysctlEv(f, 'net.ipv6.conf.eth1.disable_ipv6'), null);
    await n.mtu('eth1', 1280);
    ({ result } = await doctor(n));
    assert.deepEqual(only(result, 'ipv6-min-mtu'), []);
    await n.mtu('eth1', 1200);
    await n.sysctl('net.ipv6.conf.all.disable_ipv6', 1);
    ({ result } = await doctor(n));
    assert.deepEqual(only(result, 'ipv6-min-mtu'), []);
  });
});

test("arp-vip: a VIP on lo inside eth0's subnet with default ARP sysctls is an error; arp_ignore 1 / arp_announce 2 clear it", { skip }, async () => {
  await withLab(TAG, async (lab) => {
    const n = await node(lab);
    await n.addr('lo', '192.0.2.100/32');
    let { result } = await doctor(n);
    const [f] = only(result, 'arp-vip');
    assert.equal(f?.severity, 'error');
    assert.equal(f.subject, 'eth0');
    assert.equal(sysctlEv(f, 'net.ipv4.conf.all.arp_ignore'), '0');
    assert.equal(sysctlEv(f, 'net.ipv4.conf.eth0.arp_announce'), '0');
    // the kernel really answers the router's ARP for the VIP: a ping from the router reaches it
    const ping = (): Promise<boolean> => new Promise((res) => execFile('ip', ['netns', 'exec', `${lab.id}-rtr`, 'ping', '-c1', '-W1', '192.0.2.100'], (e) => res(e === null)));
    assert.equal(await ping(), true);
    await n.sysctl('net.ipv4.conf.all.arp_ignore', 1);
    await n.sysctl('net.ipv4.conf.all.arp_announce', 2);
    ({ result } = await doctor(n));
    assert.deepEqual(only(result, 'arp-vip'), []);
    await sh('ip', ['-n', `${lab.id}-rtr`, 'neigh', 'flush', 'dev', 'eth0']);
    assert.equal(await ping(), false);
  });
});

test('forwarding: a route to cni0 with ip_forward 0 is an error; with forwarding on, nothing', { skip }, async () => {
  await withLab(TAG, async (lab) => {
    const n = await node(lab);
    await lab.bridge(n, 'cni0');
    await n.addr('cni0', '198.51.100.1/24');
    await n.sysctl('net.ipv4.ip_forward', 0);
    let { result } = await doctor(n);
    const [f] = only(result, 'forwarding');
    assert.equal(f?.severity, 'error');
    assert.equal(sysctlEv(f, 'net.ipv4.ip_forward'), '0');
    assert.ok(f.evidence.some((e) => e.type === 'route' && e.dst === '198.51.100.0/24'));
    await n.sysctl('net.ipv4.ip_forward', 1);
    ({ result } = await doctor(n));
    assert.deepEqual(only(result, 'forwarding'), []);
  });
});

test("the demo's ECMP lab: doctor names the black hole's causes on a node (no capture, no MTU probing) and nothing else; fixed, nothing", { skip }, async () => {
  await withLab(TAG, async (lab) => {
    const l = await buildEcmpLab(lab);
    const vip = ['--vip-networks', '198.51.100.200/32,2001:db8:f::100/128'];
    const { status, result } = await doctor(l.icmpTarget.ns, vip);
    assert.equal(status, 0);
    assert.deepEqual(loud(result).map((f) => `${f.severity} ${f.id}`), ['warn tcp-mtu-probing', 'warn relay-missing']);
    assert.match(only(result, 'relay-missing')[0]!.title, /ICMPv4 .* or ICMPv6/);
    await l.icmpTarget.ns.sysctl('net.ipv4.tcp_mtu_probing', 1);
    await l.icmpTarget.ns.nft(CAPTURE);
    const fixed = await doctor(l.icmpTarget.ns, [...vip, '--fail-on', 'warn']);
    assert.equal(fixed.status, 0, JSON.stringify(loud(fixed.result), null, 1));
  });
});
