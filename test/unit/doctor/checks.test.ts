// Every check on the healthy node (nothing at warn or error) and on that node
// with one thing broken (the finding's id, severity and evidence), plus the
// nearby healthy variants that must stay silent.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CHECKS } from '../../../src/doctor/registry.js';
import { runChecks } from '../../../src/doctor/run.js';
import type { DoctorInputs, Finding } from '../../../src/doctor/finding.js';
import type { Snapshot } from '../../../src/doctor/snapshot.js';
import { addLink, healthyNode, inputs, nftWithoutConntrackAccept, NFT_INET_FILTER, NFT_PATHGUARD, snap, type Node } from './node-fixture.js';

function check(id: string, n: Node | Snapshot, i: DoctorInputs = inputs()): Finding[] {
  const c = CHECKS.find((x) => x.id === id);
  assert.ok(c, id);
  return c.run('version' in n && Array.isArray(n.links) ? snap(n as Node) : (n as Snapshot), i);
}

function loud(fs: readonly Finding[]): Finding[] {
  return fs.filter((f) => f.severity !== 'info');
}

function evidenceText(f: Finding): string {
  return f.evidence.map((e) => e.text).join('\n');
}

test('the healthy node gives no warn or error finding, with or without service inputs', () => {
  for (const i of [inputs(), inputs({ vipNetworks: ['198.51.100.0/24'] })]) {
    const r = runChecks(snap(healthyNode()), i);
    assert.deepEqual(loud(r.findings), [], JSON.stringify(r.findings, null, 1));
    assert.equal(r.checks.length, CHECKS.length);
  }
});

describe('rp-filter', () => {
  const withIpip = (n: Node) => {
    addLink(n, { name: 'tunl0', kind: 'ipip', type: 768, mtu: 1480, up: true, lowerUp: true, tunnel: {} });
    n.addresses.push({ ifindex: 3, family: 4, address: '192.0.2.50', prefixlen: 32, scope: 0 });
    return n;
  };
  test('strict conf/all on an LVS decap device with no route through it: error naming both sysctls', () => {
    const n = withIpip(healthyNode());
    n.sysctls['net.ipv4.conf.all.rp_filter'] = '1';
    n.sysctls['net.ipv4.conf.tunl0.rp_filter'] = '0';
    const [f, ...rest] = check('rp-filter', n);
    assert.equal(rest.length, 0);
    assert.equal(f!.severity, 'error');
    assert.equal(f!.subject, 'tunl0');
    assert.ok(f!.evidence.some((e) => e.type === 'sysctl' && e.key === 'net.ipv4.conf.all.rp_filter' && e.value === '1'));
    assert.ok(f!.evidence.some((e) => e.type === 'sysctl' && e.key === 'net.ipv4.conf.tunl0.rp_filter' && e.value === '0'));
    assert.deepEqual(f!.fix.filter((c) => !c.startsWith('#')), ['sysctl -w net.ipv4.conf.all.rp_filter=2']);
  });
  test('per-interface strict with conf/all off: error, fix names the interface', () => {
    const n = withIpip(healthyNode());
    n.sysctls['net.ipv4.conf.all.rp_filter'] = '0';
    n.sysctls['net.ipv4.conf.tunl0.rp_filter'] = '1';
    const [f] = check('rp-filter', n);
    assert.equal(f!.severity, 'error');
    assert.ok(f!.fix.includes('sysctl -w net.ipv4.conf.tunl0.rp_filter=2'));
  });
  test('negative: loose or off on the decap device; per-interface strict under a loose conf/all (max wins); unconfigured fallback tunl0', () => {
    for (const v of ['0', '2']) {
      const n = withIpip(healthyNode());
      n.sysctls['net.ipv4.conf.all.rp_filter'] = v;
      n.sysctls['net.ipv4.conf.tunl0.rp_filter'] = v;
      assert.deepEqual(check('rp-filter', n), []);
    }
    const loose = withIpip(healthyNode());
    loose.sysctls['net.ipv4.conf.tunl0.rp_filter'] = '1';
    assert.deepEqual(check('rp-filter', loose), []);
    const n = healthyNode();
    addLink(n, { name: 'tunl0', kind: 'ipip', type: 768, mtu: 1480, up: false, lowerUp: false, tunnel: {} });
    n.sysctls['net.ipv4.conf.all.rp_filter'] = '1';
    assert.deepEqual(check('rp-filter', n), []);
  });
  test('a VXLAN overlay with routes through it is only info when strict', () => {
    const n = healthyNode();
    addLink(n, { name: 'flannel.1', kind: 'vxlan', type: 1, mtu: 1450, up: true, lowerUp: true, tunnel: { id: 1, local: '192.0.2.10', port: 8472 } });
    n.routes.push({ family: 4, table: 254, dst: '203.0.113.0/26', type: 1, protocol: 4, scope: 0, oif: 3, gateway: '203.0.113.0' });
    n.sysctls['net.ipv4.conf.all.rp_filter'] = '1';
    const fs = check('rp-filter', n);
    assert.deepEqual(fs.map((f) => f.severity), ['info']);
  });
  test('strict uplinks on a node with two default-route interfaces: warn', () => {
    const n = healthyNode();
    addLink(n, { name: 'eth1', type: 1, mtu: 1500, up: true, lowerUp: true });
    n.routes.push({ family: 4, table: 254, dst: '0.0.0.0/0', type: 1, protocol: 4, scope: 0, oif: 3, gateway: '198.51.100.1', priority: 100 });
    n.sysctls['net.ipv4.conf.all.rp_filter'] = '0';
    n.sysctls['net.ipv4.conf.eth1.rp_filter'] = '1';
    const fs = check('rp-filter', n);
    assert.deepEqual(fs.map((f) => [f.subject, f.severity]), [['eth1', 'warn']]);
  });
  test("pathguard's TUN device with strict rp_filter: error", () => {
    const n = healthyNode();
    addLink(n, { name: 'pathguard0', kind: 'tun', type: 65534, mtu: 1500, up: true, lowerUp: true });
    n.sysctls['net.ipv4.conf.all.rp_filter'] = '1';
    const [f] = check('rp-filter', n);
    assert.equal(f!.severity, 'error');
    assert.equal(f!.subject, 'pathguard0');
  });
});

describe('icmp-filtered', () => {
  test('nft: without the conntrack accept, `meta l4proto icmp drop` (handle 5) and `icmpv6 type packet-too-big drop` (handle 6) are named', () => {
    const n = healthyNode();
    n.nftables = [...nftWithoutConntrackAccept(), ...NFT_PATHGUARD];
    const fs = check('icmp-filtered', n);
    assert.equal(fs.length, 2);
    const v4 = fs.find((f) => f.subject.endsWith('icmp'))!;
    const v6 = fs.find((f) => f.subject.endsWith('icmpv6'))!;
    assert.equal(v4.severity, 'error');
    const e4 = v4.evidence.find((e) => e.type === 'firewall' && e.handle !== null);
    assert.ok(e4 && e4.type === 'firewall');
    assert.deepEqual([e4.table, e4.chain, e4.handle], ['filter', 'input', 5]);
    const e6 = v6.evidence.find((e) => e.type === 'firewall' && e.handle !== null);
    assert.ok(e6 && e6.type === 'firewall' && e6.handle === 6);
    assert.ok(v4.fix[0]!.startsWith('nft insert rule inet filter input icmp type destination-unreachable icmp code frag-needed accept'));
  });
  test('nft: a drop of all destination-unreachable in a jumped-to chain is followed', () => {
    const n = healthyNode();
    // only the jump and the regular chain's frag-needed drop
    n.nftables = NFT_INET_FILTER.filter((i) => {
      const r = i['rule'] as { handle?: number } | undefined;
      return r === undefined || r.handle === 11 || r.handle === 12;
    });
    const fs = check('icmp-filtered', n);
    const v4 = fs.find((f) => f.subject.endsWith('icmp'))!;
    assert.ok(v4.evidence.some((e) => e.type === 'firewall' && e.chain === 'extra' && e.handle === 12));
    assert.ok(v4.evidence.some((e) => e.type === 'firewall' && e.chain === 'input' && e.handle === 11));
    // the IPv6 probe falls through to the input chain's policy drop
    const v6 = fs.find((f) => f.subject.endsWith('icmpv6'))!;
    assert.match(v6.title, /by its policy/);
  });
  test('negative: conntrack accept first; drops of echo-request only; drops by source address; an output chain', () => {
    assert.deepEqual(check('icmp-filtered', healthyNode()), []);
    const n = healthyNode();
    n.nftables = [...NFT_INET_FILTER]; // ct state established,related accept comes first
    assert.deepEqual(check('icmp-filtered', n), []);
    const n2 = healthyNode();
    n2.nftables = [
      { table: { family: 'inet', name: 'f' } },
      { chain: { family: 'inet', table: 'f', name: 'in', type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
      { rule: { family: 'inet', table: 'f', chain: 'in', handle: 2, expr: [{ match: { op: '==', left: { payload: { protocol: 'icmp', field: 'type' } }, right: 'echo-request' } }, { drop: null }] } },
      { rule: { family: 'inet', table: 'f', chain: 'in', handle: 3, expr: [{ match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: { prefix: { addr: '203.0.113.0', len: 24 } } } }, { drop: null }] } },
      { chain: { family: 'inet', table: 'f', name: 'out', type: 'filter', hook: 'output', prio: 0, policy: 'drop' } },
    ];
    assert.deepEqual(check('icmp-filtered', n2), []);
  });
  test('iptables: `--icmp-type 3/4 -j DROP` in INPUT and `--icmpv6-type 2` in ip6tables, each with its rule number', () => {
    const n = healthyNode();
    n.iptables = {
      v4: { backend: 'nf_tables', text: '# Generated by iptables-save v1.8.9 (nf_tables) on Sun Dec  6 03:33:01 2026\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n-A INPUT -p icmp -m icmp --icmp-type 3/4 -j DROP\nCOMMIT\n' },
      v6: { backend: 'nf_tables', text: '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 2 -j DROP\n-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\nCOMMIT\n' },
    };
    const fs = check('icmp-filtered', n);
    assert.deepEqual(fs.map((f) => f.subject).sort(), ['ip6tables filter/INPUT icmpv6', 'iptables filter/INPUT icmp']);
    const e = fs[0]!.evidence.find((x) => x.type === 'firewall' && x.position !== null)!;
    assert.ok(e.type === 'firewall' && e.source === 'iptables' && e.position === 2);
    assert.ok(fs.find((f) => f.subject.startsWith('iptables'))!.fix.includes('iptables -t filter -I INPUT 1 -p icmp --icmp-type fragmentation-needed -j ACCEPT'));
  });
  test('iptables: FORWARD policy DROP with no RELATED accept drops; `-m state --state RELATED` in front saves it', () => {
    const n = healthyNode();
    n.iptables = { v4: { backend: 'legacy', text: '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -p tcp --dport 443 -j ACCEPT\nCOMMIT\n' } };
    const [f] = check('icmp-filtered', n);
    assert.match(f!.title, /iptables filter\/FORWARD drops .* by its policy/);
    n.iptables.v4!.text = n.iptables.v4!.text.replace('-A FORWARD -p tcp', '-A FORWARD -m state --state RELATED,ESTABLISHED -j ACCEPT\n-A FORWARD -p tcp');
    assert.deepEqual(check('icmp-filtered', n), []);
  });
});

describe('icmp-filtered on a Docker host', () => {
  // iptables-save of a Docker host (docker 24, iptables-nft), FORWARD part
  const docker = (relatedAccept: boolean) =>
    '# Generated by iptables-save v1.8.9 (nf_tables)\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:DOCKER - [0:0]\n:DOCKER-USER - [0:0]\n' +
    '-A FORWARD -j DOCKER-USER\n' +
    (relatedAccept ? '-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n' : '') +
    '-A FORWARD -o docker0 -j DOCKER\n-A FORWARD -i docker0 ! -o docker0 -j ACCEPT\n-A FORWARD -i docker0 -o docker0 -j ACCEPT\n-A DOCKER-USER -j RETURN\nCOMMIT\n';
  test('the RELATED accept per bridge before the drop policy is enough; without it the policy drops ICMP errors to containers', () => {
    const n = healthyNode();
    n.iptables = { v4: { backend: 'nf_tables', text: docker(true) } };
    assert.deepEqual(check('icmp-filtered', n), []);
    n.iptables.v4!.text = docker(false);
    // `-i docker0 ! -o docker0 -j ACCEPT` accepts only what comes from containers: still partial, so not reported either
    assert.deepEqual(check('icmp-filtered', n), []);
    n.iptables.v4!.text = '*filter\n:FORWARD DROP [0:0]\n-A FORWARD -p tcp --dport 443 -j ACCEPT\nCOMMIT\n';
    assert.equal(check('icmp-filtered', n).length, 1);
  });
});

describe('mtu-overhead', () => {
  test('a VXLAN device at 1500 over a 1500 uplink: error with the 50-byte overhead and the fitting MTU', () => {
    const n = healthyNode();
    addLink(n, { name: 'vxlan0', kind: 'vxlan', type: 1, mtu: 1500, up: true, lowerUp: true, tunnel: { id: 42, local: '192.0.2.10', port: 4789 } });
    const [f] = check('mtu-overhead', n);
    assert.equal(f!.severity, 'error');
    assert.ok(f!.evidence.some((e) => e.type === 'value' && e.name === 'overhead' && e.value === 50));
    assert.ok(f!.evidence.some((e) => e.type === 'link' && e.name === 'eth0'));
    assert.deepEqual(f!.fix[0], 'ip link set dev vxlan0 mtu 1450');
  });
  test('negative: VXLAN at 1450; VXLAN at 1500 over a 9000 uplink; a down tunnel', () => {
    const base = () => {
      const n = healthyNode();
      addLink(n, { name: 'vxlan0', kind: 'vxlan', type: 1, mtu: 1450, up: true, lowerUp: true, tunnel: { id: 42, local: '192.0.2.10', port: 4789 } });
      return n;
    };
    assert.deepEqual(check('mtu-overhead', base()), []);
    const jumbo = base();
    jumbo.links[1]!.mtu = 9000;
    jumbo.links[2]!.mtu = 1500;
    assert.deepEqual(check('mtu-overhead', jumbo), []);
    const down = base();
    down.links[2]!.mtu = 1500;
    down.links[2]!.up = false;
    assert.deepEqual(check('mtu-overhead', down), []);
  });
  test('a route MTU below the device MTU is the underlay limit', () => {
    const n = healthyNode();
    addLink(n, { name: 'ipip1', kind: 'ipip', type: 768, mtu: 1480, up: true, lowerUp: true, tunnel: { remote: '203.0.113.7', local: '192.0.2.10' } });
    n.routes.push({ family: 4, table: 254, dst: '203.0.113.0/24', type: 1, protocol: 4, scope: 0, oif: 2, gateway: '192.0.2.1', mtu: 1400 });
    const [f] = check('mtu-overhead', n);
    assert.match(f!.title, /exceeds the underlay's 1400/);
    assert.equal(f!.fix[0], 'ip link set dev ipip1 mtu 1380');
  });
});

describe('pod-mtu', () => {
  const overlay = (podMtu: number) => {
    const n = healthyNode();
    addLink(n, { name: 'flannel.1', kind: 'vxlan', type: 1, mtu: 1450, up: true, lowerUp: true, tunnel: { id: 1, local: '192.0.2.10', port: 8472 } });
    const br = addLink(n, { name: 'cni0', kind: 'bridge', type: 1, mtu: podMtu, up: true, lowerUp: true });
    addLink(n, { name: 'vethab12cd', kind: 'veth', type: 1, mtu: podMtu, up: true, lowerUp: true, master: br.index, slaveKind: 'bridge' });
    return n;
  };
  test('cni0 and a pod veth at 1500 with flannel.1 at 1450: warn listing them', () => {
    const [f] = check('pod-mtu', overlay(1500));
    assert.equal(f!.severity, 'warn');
    assert.deepEqual(f!.evidence.filter((e) => e.type === 'link').map((e) => (e.type === 'link' ? e.name : '')), ['flannel.1', 'cni0', 'vethab12cd']);
  });
  test('negative: pods at the tunnel MTU; a veth uplink with an address is not a pod interface', () => {
    assert.deepEqual(check('pod-mtu', overlay(1450)), []);
    const n = healthyNode();
    n.links[1]!.kind = 'veth';
    addLink(n, { name: 'flannel.1', kind: 'vxlan', type: 1, mtu: 1450, up: true, lowerUp: true, tunnel: { id: 1, local: '192.0.2.10' } });
    assert.deepEqual(check('pod-mtu', n), []);
  });
});

describe('double-snat', () => {
  const kube = (clear: boolean) =>
    '# Generated by iptables-save v1.8.9 (nf_tables)\n*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:KUBE-POSTROUTING - [0:0]\n-A POSTROUTING -j KUBE-POSTROUTING\n' +
    (clear ? '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0\n-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully\n'
      : '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -m mark --mark 0x4000/0x4000 -j MASQUERADE --random-fully\n') +
    'COMMIT\n';
  const node = (clear: boolean, vxlan = true) => {
    const n = healthyNode();
    if (vxlan) addLink(n, { name: 'flannel.1', kind: 'vxlan', type: 1, mtu: 1450, up: true, lowerUp: true, tunnel: { id: 1, local: '192.0.2.10' } });
    n.iptables = { v4: { backend: 'nf_tables', text: kube(clear) } };
    return n;
  };
  test('kube-proxy < 1.20 masquerade with --random-fully and no mark clearing on a VXLAN node: warn naming the rule', () => {
    const [f] = check('double-snat', node(false));
    assert.equal(f!.severity, 'warn');
    assert.ok(f!.evidence.some((e) => e.type === 'firewall' && e.chain === 'KUBE-POSTROUTING' && e.position === 1));
  });
  test('negative: the mark is cleared first (kube-proxy >= 1.20); no VXLAN device', () => {
    assert.deepEqual(check('double-snat', node(true)), []);
    assert.deepEqual(check('double-snat', node(false, false)), []);
  });
});

describe('pmtud-disabled', () => {
  test('ip_no_pmtu_disc=1, a locked route MTU and min_pmtu above a link MTU: three warnings', () => {
    const n = healthyNode();
    n.sysctls['net.ipv4.ip_no_pmtu_disc'] = '1';
    n.routes.push({ family: 4, table: 254, dst: '198.51.100.0/24', type: 1, protocol: 4, scope: 0, oif: 2, gateway: '192.0.2.1', mtu: 1400, mtuLocked: true });
    addLink(n, { name: 'eth1', type: 1, mtu: 500, up: true, lowerUp: true });
    n.sysctls['net.ipv6.conf.eth1.disable_ipv6'] = '1';
    const fs = check('pmtud-disabled', n);
    assert.deepEqual(fs.map((f) => [f.subject, f.severity]), [['net.ipv4.ip_no_pmtu_disc', 'warn'], ['locked route MTU', 'warn'], ['net.ipv4.route.min_pmtu', 'warn']]);
    assert.match(evidenceText(fs[1]!), /198\.51\.100\.0\/24 via 192\.0\.2\.1 dev eth0 mtu lock 1400/);
  });
  test('negative: a route MTU that is not locked', () => {
    const n = healthyNode();
    n.routes.push({ family: 4, table: 254, dst: '198.51.100.0/24', type: 1, protocol: 4, scope: 0, oif: 2, gateway: '192.0.2.1', mtu: 1400 });
    assert.deepEqual(check('pmtud-disabled', n), []);
  });
});

describe('tcp-mtu-probing', () => {
  test('0 on a node with a VIP on lo: warn; 0 on a node without service addresses: nothing; 1 or 2: nothing', () => {
    const n = healthyNode();
    n.sysctls['net.ipv4.tcp_mtu_probing'] = '0';
    assert.deepEqual(check('tcp-mtu-probing', n), []);
    n.addresses.push({ ifindex: 1, family: 4, address: '198.51.100.200', prefixlen: 32, scope: 0 });
    const [f] = check('tcp-mtu-probing', n);
    assert.equal(f!.severity, 'warn');
    assert.ok(f!.evidence.some((e) => e.type === 'address' && e.address === '198.51.100.200/32' && e.dev === 'lo'));
    for (const v of ['1', '2']) {
      n.sysctls['net.ipv4.tcp_mtu_probing'] = v;
      assert.deepEqual(check('tcp-mtu-probing', n), []);
    }
  });
});

describe('multipath-neigh', () => {
  const mp = (useNeigh: string) => {
    const n = healthyNode();
    n.sysctls['net.ipv4.fib_multipath_use_neigh'] = useNeigh;
    n.routes.push({ family: 4, table: 20, dst: '0.0.0.0/0', type: 1, protocol: 112, scope: 0, nexthops: [{ oif: 2, gateway: '192.0.2.1', weight: 1 }, { oif: 2, gateway: '192.0.2.2', weight: 1 }] });
    return n;
  };
  test('a multipath route with use_neigh 0: warn; with 1: nothing', () => {
    const [f] = check('multipath-neigh', mp('0'));
    assert.equal(f!.severity, 'warn');
    assert.match(evidenceText(f!), /default table 20 nexthop via 192\.0\.2\.1 dev eth0 weight 1 nexthop via 192\.0\.2\.2/);
    assert.deepEqual(check('multipath-neigh', mp('1')), []);
  });
});

describe('relay-missing', () => {
  const vipNode = () => {
    const n = healthyNode();
    n.addresses.push({ ifindex: 1, family: 4, address: '198.51.100.200', prefixlen: 32, scope: 0 });
    return n;
  };
  test('a VIP on lo and no capture: warn; the pathguard table present: nothing', () => {
    const n = vipNode();
    n.nftables = n.nftables!.filter((i) => !JSON.stringify(i).includes('pathguard'));
    const [f] = check('relay-missing', n);
    assert.equal(f!.severity, 'warn');
    assert.match(f!.title, /ICMPv4 fragmentation needed/);
    assert.doesNotMatch(f!.title, /ICMPv6/); // no IPv6 service address
    assert.deepEqual(check('relay-missing', vipNode()), []);
  });
  test('a hand-made NFLOG rule for ICMP counts as capture; a syslog LOG does not', () => {
    const n = vipNode();
    n.nftables = [];
    n.iptables = { v4: { backend: 'legacy', text: '*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p icmp -m icmp --icmp-type 3/4 -j NFLOG --nflog-group 33\nCOMMIT\n' } };
    assert.deepEqual(check('relay-missing', n), []);
    n.iptables.v4!.text = n.iptables.v4!.text.replace('-j NFLOG --nflog-group 33', '-j LOG');
    assert.equal(check('relay-missing', n).length, 1);
  });
  test('MetalLB BGP pools count as service addresses', () => {
    const n = healthyNode();
    n.nftables = [];
    const [f] = check('relay-missing', n, inputs({ bgpPools: [{ name: 'public', prefixes: ['203.0.113.0/28', '2001:db8:f::/120'] }] }));
    assert.match(f!.title, /ICMPv4 .* or ICMPv6/);
  });
});

describe('return-route', () => {
  const pools = inputs({ bgpPools: [{ name: 'public', prefixes: ['203.0.113.0/28'] }], bgpPeers: ['192.0.2.2', '192.0.2.3'] });
  test('a BGP pool with no `from` rule while the default route is not via the peers: warn', () => {
    const [f] = check('return-route', healthyNode(), pools);
    assert.equal(f!.severity, 'warn');
    assert.equal(f!.subject, 'public');
    assert.match(evidenceText(f!), /203\.0\.113\.0\/28: no rule/);
  });
  test('negative: the rule and a multipath default via the peers in table 20; or the main default already via a peer', () => {
    const n = healthyNode();
    n.rules.push({ family: 4, priority: 20, src: '203.0.113.0/28', table: 20, action: 1 });
    n.routes.push({ family: 4, table: 20, dst: '0.0.0.0/0', type: 1, protocol: 112, scope: 0, nexthops: [{ oif: 2, gateway: '192.0.2.2', weight: 100 }, { oif: 2, gateway: '192.0.2.3', weight: 100 }] });
    assert.deepEqual(check('return-route', n, pools), []);
    const m = healthyNode();
    m.routes[0]!.gateway = '192.0.2.2';
    assert.deepEqual(check('return-route', m, pools), []);
  });
  test('a rule to a table with no default route via the peers is reported', () => {
    const n = healthyNode();
    n.rules.push({ family: 4, priority: 20, src: '203.0.113.0/24', table: 20, action: 1 });
    const [f] = check('return-route', n, pools);
    assert.match(evidenceText(f!), /rule to table 20, but no default route there via the BGP peers/);
  });
});

describe('ipv6-min-mtu', () => {
  test('an up interface at 1000 with IPv6 enabled: warn; disabled there or everywhere: nothing', () => {
    const n = healthyNode();
    addLink(n, { name: 'eth1', type: 1, mtu: 1000, up: true, lowerUp: true });
    const [f] = check('ipv6-min-mtu', n);
    assert.equal(f!.severity, 'warn');
    assert.equal(f!.subject, 'eth1');
    n.sysctls['net.ipv6.conf.eth1.disable_ipv6'] = '1';
    assert.deepEqual(check('ipv6-min-mtu', n), []);
    delete n.sysctls['net.ipv6.conf.eth1.disable_ipv6'];
    n.sysctls['net.ipv6.conf.all.disable_ipv6'] = '1';
    assert.deepEqual(check('ipv6-min-mtu', n), []);
  });
});

describe('arp-vip', () => {
  const realserver = () => {
    const n = healthyNode();
    n.addresses.push({ ifindex: 1, family: 4, address: '192.0.2.100', prefixlen: 32, scope: 0 });
    n.sysctls['net.ipv4.conf.all.arp_ignore'] = '0';
    n.sysctls['net.ipv4.conf.all.arp_announce'] = '0';
    return n;
  };
  test('a VIP on lo inside eth0\'s subnet with arp_ignore 0 / arp_announce 0: error with all four sysctls', () => {
    const [f] = check('arp-vip', realserver());
    assert.equal(f!.severity, 'error');
    assert.deepEqual(
      f!.evidence.filter((e) => e.type === 'sysctl').map((e) => (e.type === 'sysctl' ? `${e.key}=${e.value}` : '')),
      ['net.ipv4.conf.all.arp_ignore=0', 'net.ipv4.conf.eth0.arp_ignore=0', 'net.ipv4.conf.all.arp_announce=0', 'net.ipv4.conf.eth0.arp_announce=0'],
    );
  });
  test('negative: arp_ignore 1 + arp_announce 2 on eth0 only (max with all); a VIP outside every subnet (anycast/ECMP)', () => {
    const n = realserver();
    n.sysctls['net.ipv4.conf.eth0.arp_ignore'] = '1';
    n.sysctls['net.ipv4.conf.eth0.arp_announce'] = '2';
    assert.deepEqual(check('arp-vip', n), []);
    const m = realserver();
    m.addresses[m.addresses.length - 1]!.address = '198.51.100.200';
    assert.deepEqual(check('arp-vip', m), []);
  });
});

describe('forwarding', () => {
  const withPods = (fwd: string) => {
    const n = healthyNode();
    n.sysctls['net.ipv4.ip_forward'] = fwd;
    const br = addLink(n, { name: 'cni0', kind: 'bridge', type: 1, mtu: 1450, up: true, lowerUp: true });
    n.routes.push({ family: 4, table: 254, dst: '198.51.100.0/24', type: 1, protocol: 2, scope: 253, oif: br.index });
    return n;
  };
  test('a route to cni0 with ip_forward 0: error; with 1: nothing; no pod route: nothing', () => {
    const [f] = check('forwarding', withPods('0'));
    assert.equal(f!.severity, 'error');
    assert.ok(f!.evidence.some((e) => e.type === 'sysctl' && e.key === 'net.ipv4.ip_forward' && e.value === '0'));
    assert.deepEqual(check('forwarding', withPods('1')), []);
    const n = healthyNode();
    n.sysctls['net.ipv4.ip_forward'] = '0';
    assert.deepEqual(check('forwarding', n), []);
  });
  test('--pod-networks names pod routes on any device', () => {
    const n = healthyNode();
    n.sysctls['net.ipv4.ip_forward'] = '0';
    n.routes.push({ family: 4, table: 254, dst: '203.0.113.64/26', type: 1, protocol: 4, scope: 0, oif: 2, gateway: '192.0.2.5' });
    assert.equal(check('forwarding', n, inputs({ podNetworks: ['203.0.113.0/24'] })).length, 1);
  });
});

describe('conntrack-full', () => {
  test('89% nothing, 90% warn, 100% error', () => {
    const at = (count: number) => {
      const n = healthyNode();
      n.conntrack = { count, max: 1000 };
      return check('conntrack-full', n).map((f) => f.severity);
    };
    assert.deepEqual(at(899), []);
    assert.deepEqual(at(900), ['warn']);
    assert.deepEqual(at(1000), ['error']);
  });
});
