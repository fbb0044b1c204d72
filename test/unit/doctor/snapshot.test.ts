// The snapshot decoder: what it accepts, how it names what it refuses, and
// the property that any snapshot it accepts runs through every check without
// one of them throwing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeSnapshot } from '../../../src/doctor/snapshot.js';
import { runChecks } from '../../../src/doctor/run.js';
import { CHECKS } from '../../../src/doctor/registry.js';
import { ConfigError } from '../../../src/errors.js';
import { healthyNode, inputs, NFT_INET_FILTER } from './node-fixture.js';

test('a saved snapshot round-trips through JSON text', () => {
  const n = healthyNode();
  assert.deepEqual(decodeSnapshot(JSON.stringify(n)), n);
});

test('problems name the field, the value and what was expected, all at once', () => {
  const n = healthyNode() as unknown as Record<string, any>;
  n['links'][1].mtu = -5;
  n['routes'][0].dst = '192.0.2.300/24';
  n['addresses'][2].family = 5;
  delete n['kernel'];
  let err: unknown;
  try {
    decodeSnapshot(n, '--snapshot');
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError);
  const byField = Object.fromEntries(err.problems.map((p) => [p.field, p]));
  assert.deepEqual(Object.keys(byField).sort(), ['--snapshot.addresses[2].family', '--snapshot.kernel', '--snapshot.links[1].mtu', '--snapshot.routes[0].dst']);
  assert.equal(byField['--snapshot.links[1].mtu']!.value, -5);
  assert.equal(byField['--snapshot.links[1].mtu']!.expected, '>= 0');
  assert.equal(byField['--snapshot.routes[0].dst']!.value, '192.0.2.300/24');
  assert.equal(byField['--snapshot.routes[0].dst']!.expected, 'a prefix ADDRESS/LENGTH');
  assert.match(byField['--snapshot.addresses[2].family']!.expected, /4.*6/);
});

test('text that is not JSON, and a future version, are refused by name', () => {
  assert.throws(() => decodeSnapshot('{"version":', 'node.json'), (e: unknown) => e instanceof ConfigError && e.problems[0]!.field === 'node.json' && /JSON text/.test(e.problems[0]!.expected));
  const n = healthyNode() as unknown as Record<string, unknown>;
  n['version'] = 2;
  assert.throws(() => decodeSnapshot(n), (e: unknown) => e instanceof ConfigError && e.problems[0]!.field === 'snapshot.version');
});

test('arbitrary JSON either decodes or is a ConfigError', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      try {
        decodeSnapshot(v);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
      }
    }),
    { numRuns: 300 },
  );
});

// ---- the property: generated snapshots the decoder accepts never make a check throw ----

const v4 = fc.tuple(fc.constantFrom(192, 198, 203, 10, 127, 0, 255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const v6 = fc.tuple(fc.constantFrom('2001:db8', 'fe80', '2001:db8:f'), fc.nat(0xffff)).map(([a, b]) => `${a}::${b.toString(16)}`);
const addr = fc.oneof(v4, v6);
const prefixOf = (a: string, len: number) => `${a}/${a.includes(':') ? len % 129 : len % 33}`;
const prefix = fc.tuple(addr, fc.nat(128)).map(([a, l]) => prefixOf(a, l));
const ifindex = fc.integer({ min: 1, max: 8 });
const kinds = fc.constantFrom(undefined, 'veth', 'bridge', 'vxlan', 'geneve', 'ipip', 'sit', 'ip6tnl', 'gre', 'gretap', 'ip6gre', 'wireguard', 'tun', 'dummy', 'bond');
const names = fc.constantFrom('lo', 'eth0', 'eth1', 'tunl0', 'cni0', 'cali123', 'vethab', 'flannel.1', 'kube-ipvs0', 'pathguard0', 'eth0.100', 'wg0');
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const small = fc.integer({ min: 0, max: 70000 });

const link = fc.record({
  index: ifindex,
  name: names,
  kind: kinds,
  type: fc.constantFrom(1, 768, 769, 772, 778, 65534, 0),
  mtu: small,
  up: fc.boolean(),
  lowerUp: fc.boolean(),
  master: opt(ifindex),
  tunnel: opt(fc.record({ id: opt(fc.nat(0xffffff)), local: opt(addr), remote: opt(addr), port: opt(fc.nat(65535)), underlay: opt(ifindex), greFlags: opt(fc.nat(0xffff)), encapLimit: opt(fc.boolean()) })),
});
const route = fc.record({
  family: fc.constantFrom(4, 6),
  table: fc.constantFrom(20, 253, 254, 255, 0),
  dst: prefix,
  type: fc.nat(11),
  protocol: fc.nat(255),
  scope: fc.constantFrom(0, 253, 254),
  oif: opt(ifindex),
  gateway: opt(addr),
  priority: opt(fc.nat(2000)),
  nexthops: opt(fc.array(fc.record({ oif: opt(ifindex), gateway: opt(addr), weight: fc.integer({ min: 1, max: 256 }) }), { maxLength: 3 })),
  mtu: opt(small),
  mtuLocked: opt(fc.boolean()),
});
const rule = fc.record({ family: fc.constantFrom(4, 6), priority: fc.nat(40000), table: opt(fc.constantFrom(20, 254, 255)), src: opt(prefix), action: fc.nat(8), invert: opt(fc.boolean()) });
const sysctlKeys = fc.constantFrom(
  'net.ipv4.ip_forward', 'net.ipv4.ip_no_pmtu_disc', 'net.ipv4.route.min_pmtu', 'net.ipv4.tcp_mtu_probing', 'net.ipv4.fib_multipath_use_neigh',
  'net.ipv4.conf.all.rp_filter', 'net.ipv4.conf.eth0.rp_filter', 'net.ipv4.conf.tunl0.rp_filter', 'net.ipv4.conf.all.arp_ignore', 'net.ipv4.conf.eth0.arp_announce',
  'net.ipv6.conf.all.forwarding', 'net.ipv6.conf.all.disable_ipv6', 'net.ipv6.conf.eth1.disable_ipv6', 'net.netfilter.nf_conntrack_max',
);
const sysctls = fc.dictionary(sysctlKeys, fc.oneof(fc.constantFrom('0', '1', '2', '552', '-1', ''), fc.string({ maxLength: 4 })));
// nft JSON made of real pieces in random order and shapes, plus arbitrary junk
const nftExpr = fc.oneof(
  ...NFT_INET_FILTER.flatMap((i) => ((i['rule'] as { expr?: unknown[] } | undefined)?.expr ?? []).map((e) => fc.constant(e))),
  fc.record({ match: fc.record({ op: fc.constantFrom('==', '!=', 'in', '<'), left: fc.constantFrom({ meta: { key: 'l4proto' } }, { payload: { protocol: 'icmp', field: 'type' } }, { payload: { protocol: 'icmpv6', field: 'code' } }, { ct: { key: 'state' } }, { meta: { key: 'mark' } }, null), right: fc.oneof(fc.jsonValue(), fc.record({ set: fc.array(fc.oneof(fc.string(), fc.integer(), fc.record({ range: fc.array(fc.jsonValue(), { maxLength: 3 }) }))) })) }) }),
  fc.constantFrom({ drop: null }, { accept: null }, { reject: null }, { jump: { target: 'input' } }, { goto: { target: 'extra' } }, { jump: { target: 'nowhere' } }, { log: { group: 33 } }, { masquerade: { flags: ['random-fully'] } }, { mangle: { key: { 'tcp option': { name: 'maxseg', field: 'size' } }, value: 1400 } }),
  fc.jsonValue(),
);
const nftItem = fc.oneof(
  fc.constantFrom(...NFT_INET_FILTER),
  fc.record({ chain: fc.record({ family: fc.constantFrom('inet', 'ip', 'ip6', 'netdev', 'bridge'), table: fc.constantFrom('filter', 'f'), name: fc.constantFrom('input', 'extra', 'forward'), hook: opt(fc.constantFrom('input', 'forward', 'prerouting', 'output')), type: opt(fc.constantFrom('filter', 'nat')), policy: opt(fc.constantFrom('drop', 'accept', 'weird')) }) }),
  fc.record({ rule: fc.record({ family: fc.constantFrom('inet', 'ip', 'ip6'), table: fc.constantFrom('filter', 'f'), chain: fc.constantFrom('input', 'extra', 'forward'), handle: opt(fc.nat(100)), expr: fc.oneof(fc.array(nftExpr, { maxLength: 5 }), fc.jsonValue()) }) }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue(), { maxKeys: 2 }),
);
const iptLine = fc.oneof(
  fc.constantFrom('*filter', '*nat', '*mangle', ':INPUT DROP [0:0]', ':FORWARD ACCEPT [0:0]', ':KUBE-POSTROUTING - [0:0]', 'COMMIT', '-A INPUT -p icmp -m icmp --icmp-type 3/4 -j DROP',
    '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', '-A KUBE-POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE --random-fully', '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
    '-A INPUT -j KUBE-FIREWALL', '-A KUBE-FIREWALL -j INPUT', '-A INPUT ! -p icmp --icmp-type ! 3 -j DROP', '-A INPUT -m comment --comment "a \\" b" -j', '-A', '-A INPUT -p', '-A OUTPUT -j TCPMSS --clamp-mss-to-pmtu'),
  fc.string({ maxLength: 40 }).map((s) => `-A INPUT ${s}`),
);
const iptText = fc.array(iptLine, { maxLength: 12 }).map((l) => l.join('\n'));

const snapshot = fc.record({
  version: fc.constant(1),
  takenAt: fc.constant('2026-01-01T00:00:00Z'),
  kernel: fc.constant({ release: '6.18.0' }),
  links: fc.array(link, { maxLength: 8 }),
  addresses: fc.array(fc.record({ ifindex, family: fc.constantFrom(4, 6), address: addr, prefixlen: fc.nat(128), scope: fc.constantFrom(0, 253, 254) }), { maxLength: 8 }),
  routes: fc.array(route, { maxLength: 10 }),
  rules: fc.array(rule, { maxLength: 6 }),
  neighbours: fc.constant([]),
  sysctls,
  nftables: opt(fc.array(nftItem, { maxLength: 14 })),
  iptables: opt(fc.record({ v4: opt(fc.record({ text: iptText, backend: fc.constantFrom('nf_tables', 'legacy', 'unknown') })), v6: opt(fc.record({ text: iptText, backend: fc.constantFrom('nf_tables', 'legacy', 'unknown') })) })),
  conntrack: opt(fc.record({ count: opt(fc.nat(2000)), max: opt(fc.nat(2000)) })),
  ipvs: opt(fc.array(fc.record({ protocol: fc.constantFrom('TCP', 'UDP'), address: opt(addr), port: opt(fc.nat(65535)), realservers: fc.array(fc.record({ address: addr, port: fc.nat(65535), forward: fc.constantFrom('Tunnel', 'Route') }), { maxLength: 2 }) }), { maxLength: 2 })),
  problems: fc.constant([]),
});

const anyInputs = fc.record({
  vipNetworks: fc.array(fc.constantFrom('192.0.2.0/24', '198.51.100.0/24', '2001:db8:f::/64', '0.0.0.0/0'), { maxLength: 2 }),
  bgpPools: fc.array(fc.record({ name: fc.constantFrom('a', 'b'), prefixes: fc.array(fc.constantFrom('203.0.113.0/28', '2001:db8:f::/120', '192.0.2.0/24'), { maxLength: 2 }) }), { maxLength: 2 }),
  bgpPeers: fc.array(fc.constantFrom('192.0.2.1', '192.0.2.2', '2001:db8:1::1'), { maxLength: 2 }),
  tunnelEndpoints: fc.array(fc.constantFrom('203.0.113.9', '2001:db8:9::1'), { maxLength: 1 }),
  podNetworks: fc.array(fc.constantFrom('198.51.100.0/24', '2001:db8:a::/48'), { maxLength: 1 }),
});

test('property: any snapshot the decoder accepts runs through every check without one throwing', () => {
  let accepted = 0;
  fc.assert(
    fc.property(snapshot, anyInputs, (raw, i) => {
      let s;
      try {
        s = decodeSnapshot(JSON.parse(JSON.stringify(raw)));
      } catch (e) {
        if (e instanceof ConfigError) return;
        throw e;
      }
      accepted++;
      const r = runChecks(s, inputs(i));
      const internal = r.findings.filter((f) => f.id === 'internal');
      assert.deepEqual(internal, [], internal.map((f) => f.title).join('; '));
      assert.equal(r.checks.length, CHECKS.length);
      for (const f of r.findings) assert.ok(f.title.length > 0 && f.explanation.length > 0 && Array.isArray(f.evidence) && Array.isArray(f.fix));
    }),
    { numRuns: 400 },
  );
  assert.ok(accepted > 200, `only ${accepted} of 400 generated snapshots were accepted`);
});
