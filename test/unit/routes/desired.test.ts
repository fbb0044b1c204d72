import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseResources, parseLegacyConfig, type ResourceLists } from '../../../src/routes/metallb.js';
import { desiredState, NODE_LABEL, type DesiredOptions, type DesiredState, type NodeInfo } from '../../../src/routes/desired.js';
import { AF, RT_TABLE, RTPROT_PATHGUARD, type Family } from '../../../src/routes/objects.js';

const pool = (name: string, addresses: string[], labels?: Record<string, string>) => ({ metadata: { name, labels }, spec: { addresses } });
const bgpAdv = (name: string, spec: Record<string, unknown> = {}) => ({ metadata: { name }, spec });
const l2Adv = (name: string, spec: Record<string, unknown> = {}) => ({ metadata: { name }, spec });
const peer = (name: string, peerAddress: string, nodeSelectors?: unknown[]) => ({ metadata: { name }, spec: { myASN: 64500, peerASN: 64501, peerAddress, nodeSelectors } });

const POOLS = [
  pool('a', ['198.51.100.0/24'], { tier: 'edge' }),
  pool('b', ['203.0.113.0/25', '2001:db8:b::/64'], { tier: 'core' }),
  pool('c', ['203.0.113.200-203.0.113.203'], {}),
];
const PEERS = [peer('tor-a', '192.0.2.1'), peer('tor-b', '192.0.2.2'), peer('tor-6', '2001:db8::1')];
const OPTS: DesiredOptions = { table: 20, priority: 20, suppress: true, peerWeight: { default: 100 } };
const NODE = { name: 'node-1', labels: { 'kubernetes.io/hostname': 'node-1', rack: 'r1' } };

function run(over: Partial<ResourceLists> = {}, node: NodeInfo = NODE, opts: Partial<DesiredOptions> = {}): DesiredState {
  const model = parseResources({ ipAddressPools: POOLS, bgpAdvertisements: [bgpAdv('all')], bgpPeers: PEERS, l2Advertisements: [], ...over });
  return desiredState(model, node, { ...OPTS, ...opts });
}
const srcs = (d: DesiredState, family: Family = AF.INET) => d.rules.filter((r) => r.family === family && r.src !== undefined).map((r) => r.src);
const gateways = (d: DesiredState, family: Family = AF.INET) => d.routes.find((r) => r.family === family)?.nexthops.map((n) => n.gateway) ?? [];
const codes = (d: DesiredState) => d.problems.map((p) => `${p.severity}:${p.code}`);

test('the full shape for one node: companion rule, pool rules, one multipath route per family', () => {
  const d = run();
  assert.deepEqual(d.problems, []);
  assert.equal(d.disabled, false);
  assert.deepEqual(d.pools, ['a', 'b', 'c']);
  assert.deepEqual(d.rules, [
    { family: AF.INET, priority: 19, table: RT_TABLE.MAIN, suppressPrefixlen: 0, protocol: RTPROT_PATHGUARD },
    { family: AF.INET, priority: 20, src: '198.51.100.0/24', table: 20, protocol: RTPROT_PATHGUARD },
    { family: AF.INET, priority: 20, src: '203.0.113.0/25', table: 20, protocol: RTPROT_PATHGUARD },
    { family: AF.INET, priority: 20, src: '203.0.113.200/30', table: 20, protocol: RTPROT_PATHGUARD },
    { family: AF.INET6, priority: 19, table: RT_TABLE.MAIN, suppressPrefixlen: 0, protocol: RTPROT_PATHGUARD },
    { family: AF.INET6, priority: 20, src: '2001:db8:b::/64', table: 20, protocol: RTPROT_PATHGUARD },
  ]);
  assert.deepEqual(d.routes, [
    { family: AF.INET, table: 20, dst: '0.0.0.0/0', nexthops: [{ gateway: '192.0.2.1', weight: 100 }, { gateway: '192.0.2.2', weight: 100 }], protocol: RTPROT_PATHGUARD },
    { family: AF.INET6, table: 20, dst: '::/0', nexthops: [{ gateway: '2001:db8::1', weight: 100 }], protocol: RTPROT_PATHGUARD },
  ]);
});

// pool selection: [name, advertisements (bgp), l2 advertisements, expected IPv4 sources]
const poolCases: [string, unknown[], unknown[], string[], string[]?][] = [
  ['an advertisement naming nothing means every pool', [bgpAdv('x')], [], ['198.51.100.0/24', '203.0.113.0/25', '203.0.113.200/30']],
  ['by name', [bgpAdv('x', { ipAddressPools: ['a'] })], [], ['198.51.100.0/24']],
  ['by two names', [bgpAdv('x', { ipAddressPools: ['a', 'c'] })], [], ['198.51.100.0/24', '203.0.113.200/30']],
  ['by matchLabels', [bgpAdv('x', { ipAddressPoolSelectors: [{ matchLabels: { tier: 'core' } }] })], [], ['203.0.113.0/25']],
  ['by In', [bgpAdv('x', { ipAddressPoolSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['edge', 'core'] }] }] })], [], ['198.51.100.0/24', '203.0.113.0/25']],
  ['by NotIn (absent key matches)', [bgpAdv('x', { ipAddressPoolSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['edge'] }] }] })], [], ['203.0.113.0/25', '203.0.113.200/30']],
  ['by Exists', [bgpAdv('x', { ipAddressPoolSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }] })], [], ['198.51.100.0/24', '203.0.113.0/25']],
  ['by DoesNotExist', [bgpAdv('x', { ipAddressPoolSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }] })], [], ['203.0.113.200/30']],
  ['an empty selector matches every pool', [bgpAdv('x', { ipAddressPoolSelectors: [{}] })], [], ['198.51.100.0/24', '203.0.113.0/25', '203.0.113.200/30']],
  ['names and selectors add up', [bgpAdv('x', { ipAddressPools: ['c'], ipAddressPoolSelectors: [{ matchLabels: { tier: 'edge' } }] })], [], ['198.51.100.0/24', '203.0.113.200/30']],
  ['selectors are ORed', [bgpAdv('x', { ipAddressPoolSelectors: [{ matchLabels: { tier: 'edge' } }, { matchLabels: { tier: 'core' } }] })], [], ['198.51.100.0/24', '203.0.113.0/25']],
  ['labels AND expressions in one selector', [bgpAdv('x', { ipAddressPoolSelectors: [{ matchLabels: { tier: 'edge' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['edge'] }] }] })], [], []],
  ['several advertisements add up', [bgpAdv('x', { ipAddressPools: ['a'] }), bgpAdv('y', { ipAddressPools: ['b'] })], [], ['198.51.100.0/24', '203.0.113.0/25']],
  ['L2-only pools are excluded', [bgpAdv('x', { ipAddressPools: ['a'] })], [l2Adv('l', { ipAddressPools: ['b', 'c'] })], ['198.51.100.0/24']],
  ['a pool in both L2 and BGP is routed', [bgpAdv('x', { ipAddressPools: ['b'] })], [l2Adv('l', { ipAddressPools: ['b'] })], ['203.0.113.0/25']],
  ['an empty L2 advertisement does not route anything', [], [l2Adv('l')], []],
  ['no advertisement, no pool', [], [], []],
  ['advertisement nodeSelectors are not applied to return paths', [bgpAdv('x', { ipAddressPools: ['a'], nodeSelectors: [{ matchLabels: { rack: 'elsewhere' } }] })], [], ['198.51.100.0/24']],
  ['a missing pool name is a notice', [bgpAdv('x', { ipAddressPools: ['a', 'ghost'] })], [], ['198.51.100.0/24'], ['notice:unknown-reference']],
];

for (const [name, advs, l2, want, problems] of poolCases) {
  test(`pools: ${name}`, () => {
    const d = run({ bgpAdvertisements: advs, l2Advertisements: l2 });
    assert.deepEqual(srcs(d), want);
    assert.deepEqual(codes(d).filter((c) => c !== 'notice:no-peers'), problems ?? []);
    // the route exists whenever the family has peers; rules only with pools
    assert.deepEqual(gateways(d), ['192.0.2.1', '192.0.2.2']);
    assert.equal(d.rules.some((r) => r.family === AF.INET && r.suppressPrefixlen === 0), want.length > 0);
  });
}

const hostIs = (h: string) => ({ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [h] }] });
// peer selection: [name, peers, node labels, expected IPv4 gateways]
const peerCases: [string, unknown[], Record<string, string>, string[]][] = [
  ['no selectors: every node', [peer('p', '192.0.2.1')], {}, ['192.0.2.1']],
  ['hostname In matches', [peer('p', '192.0.2.1', [hostIs('node-1')])], { 'kubernetes.io/hostname': 'node-1' }, ['192.0.2.1']],
  ['hostname In does not match', [peer('p', '192.0.2.1', [hostIs('node-2')])], { 'kubernetes.io/hostname': 'node-1' }, []],
  ['matchLabels', [peer('p', '192.0.2.1', [{ matchLabels: { rack: 'r1' } }]), peer('q', '192.0.2.2', [{ matchLabels: { rack: 'r2' } }])], { rack: 'r1' }, ['192.0.2.1']],
  ['any selector may match', [peer('p', '192.0.2.1', [hostIs('node-9'), { matchLabels: { rack: 'r1' } }])], { rack: 'r1' }, ['192.0.2.1']],
  ['NotIn with the key absent matches', [peer('p', '192.0.2.1', [{ matchExpressions: [{ key: 'role', operator: 'NotIn', values: ['edge'] }] }])], {}, ['192.0.2.1']],
  ['DoesNotExist', [peer('p', '192.0.2.1', [{ matchExpressions: [{ key: 'no-bgp', operator: 'DoesNotExist' }] }])], { 'no-bgp': '' }, []],
  ['Exists with an empty value', [peer('p', '192.0.2.1', [{ matchExpressions: [{ key: 'bgp', operator: 'Exists' }] }])], { bgp: '' }, ['192.0.2.1']],
  ['label value must match exactly', [peer('p', '192.0.2.1', [{ matchLabels: { rack: 'R1' } }])], { rack: 'r1' }, []],
  ['gateways sorted numerically, not as text', [peer('p', '192.0.2.10'), peer('q', '192.0.2.9'), peer('r', '192.0.2.100')], {}, ['192.0.2.9', '192.0.2.10', '192.0.2.100']],
  ['two peers on one address are one nexthop', [peer('p', '192.0.2.1'), peer('q', '192.0.2.1')], {}, ['192.0.2.1']],
];

for (const [name, peers, labels, want] of peerCases) {
  test(`peers: ${name}`, () => {
    const d = run({ bgpPeers: peers }, { name: 'node-1', labels });
    assert.deepEqual(gateways(d), want);
    assert.equal(srcs(d).length, want.length > 0 ? 3 : 0, 'rules only where the family has a route');
    if (want.length === 0) assert.ok(codes(d).includes('notice:no-peers'));
  });
}

test('two BGPPeers on one address name both', () => {
  const d = run({ bgpPeers: [peer('p', '192.0.2.1'), peer('q', '192.0.2.1')] });
  assert.equal(d.peers.find((p) => p.address === '192.0.2.1')?.name, 'p,q');
});

test('IPv4 and IPv6 are kept apart', () => {
  const d = run({ bgpPeers: [peer('tor-6', '2001:db8::1')] });
  assert.deepEqual(srcs(d, AF.INET), []);
  assert.deepEqual(srcs(d, AF.INET6), ['2001:db8:b::/64']);
  assert.deepEqual(d.routes.map((r) => r.family), [AF.INET6]);
  assert.deepEqual(codes(d), ['notice:no-peers']);
  assert.match(d.problems[0]?.message ?? '', /IPv4/);
});

// node labels
const labelCases: [string, Record<string, string>, { disabled?: boolean; v4?: string[]; v6?: string[]; problems?: string[] }][] = [
  ['enabled=false disables', { [NODE_LABEL.ENABLED]: 'false' }, { disabled: true, v4: [], v6: [] }],
  ['enabled=0 disables', { [NODE_LABEL.ENABLED]: '0' }, { disabled: true, v4: [], v6: [] }],
  ['enabled=No disables', { [NODE_LABEL.ENABLED]: 'No' }, { disabled: true, v4: [], v6: [] }],
  ['enabled=true', { [NODE_LABEL.ENABLED]: 'true' }, { disabled: false, v4: ['192.0.2.1', '192.0.2.2'] }],
  ['enabled=bogus is an error, treated as enabled', { [NODE_LABEL.ENABLED]: 'sometimes' }, { disabled: false, v4: ['192.0.2.1', '192.0.2.2'], problems: ['error:bad-label'] }],
  ['address replaces the IPv4 peers only', { [NODE_LABEL.ADDRESS]: '192.0.2.9' }, { v4: ['192.0.2.9'], v6: ['2001:db8::1'] }],
  ['several addresses separated by _', { [NODE_LABEL.ADDRESS]: '192.0.2.9_192.0.2.8' }, { v4: ['192.0.2.8', '192.0.2.9'], v6: ['2001:db8::1'] }],
  ['IPv6 address from a file-given label', { [NODE_LABEL.ADDRESS]: '2001:db8::9' }, { v4: ['192.0.2.1', '192.0.2.2'], v6: ['2001:db8::9'] }],
  ['both families', { [NODE_LABEL.ADDRESS]: '192.0.2.9, 2001:db8::9' }, { v4: ['192.0.2.9'], v6: ['2001:db8::9'] }],
  ['a bad address label is ignored with an error', { [NODE_LABEL.ADDRESS]: 'tor-a' }, { v4: ['192.0.2.1', '192.0.2.2'], problems: ['error:bad-label'] }],
  ['an empty address label is ignored with an error', { [NODE_LABEL.ADDRESS]: '' }, { v4: ['192.0.2.1', '192.0.2.2'], problems: ['error:bad-label'] }],
];

for (const [name, labels, want] of labelCases) {
  test(`node labels: ${name}`, () => {
    const d = run({}, { name: 'node-1', labels });
    if (want.disabled !== undefined) assert.equal(d.disabled, want.disabled);
    if (want.v4) assert.deepEqual(gateways(d, AF.INET), want.v4);
    if (want.v6) assert.deepEqual(gateways(d, AF.INET6), want.v6);
    assert.deepEqual(codes(d), want.problems ?? []);
    if (d.disabled) assert.deepEqual([d.rules, d.routes], [[], []]);
  });
}

test('a disabled node ignores even a broken source: empty on purpose', () => {
  const model = parseLegacyConfig('address-pools: [');
  const d = desiredState(model, { name: 'n', labels: { [NODE_LABEL.ENABLED]: 'false' } }, OPTS);
  assert.equal(d.disabled, true);
  assert.deepEqual(d.problems, []);
});

test('weights: default and per-peer', () => {
  const d = run({}, NODE, { peerWeight: { default: 10, perPeer: new Map([['192.0.2.2', 30], ['2001:db8::1', 7]]) } });
  assert.deepEqual(d.routes.map((r) => r.nexthops.map((n) => [n.gateway, n.weight])), [
    [['192.0.2.1', 10], ['192.0.2.2', 30]],
    [['2001:db8::1', 7]],
  ]);
});

test('fwmark with and without mask goes on every rule, the companion too', () => {
  const withMask = run({}, NODE, { fwmark: { value: 0x14, mask: 0xff } });
  assert.ok(withMask.rules.every((r) => r.fwmark === 0x14 && r.fwmask === 0xff));
  const bare = run({}, NODE, { fwmark: { value: 20 } });
  assert.ok(bare.rules.every((r) => r.fwmark === 20 && r.fwmask === 0xffffffff));
});

test('suppress off: no companion rule; priority and protocol follow the options', () => {
  const d = run({}, NODE, { suppress: false, priority: 1000, protocol: 200, table: 77 });
  assert.ok(d.rules.every((r) => r.suppressPrefixlen === undefined && r.priority === 1000 && r.protocol === 200 && r.table === 77));
  assert.ok(d.routes.every((r) => r.table === 77 && r.protocol === 200));
});

test('companion rule sits exactly one above the pool rules', () => {
  const d = run({}, NODE, { priority: 5 });
  assert.deepEqual([...new Set(d.rules.map((r) => `${r.priority}:${r.table}`))], ['4:254', '5:20']);
});

test('a prefix in two pools is one rule', () => {
  const d = run({ ipAddressPools: [pool('x', ['198.51.100.0/24']), pool('y', ['198.51.100.0/24', '198.51.100.7/24'])] });
  assert.deepEqual(srcs(d), ['198.51.100.0/24']);
});

// reachability
const REACH = {
  onLink: [
    { prefix: '192.0.2.0/24', ifindex: 2 },
    { prefix: '2001:db8::/64', ifindex: 2 },
    { prefix: 'fe80::/64', ifindex: 2 },
  ],
  local: ['192.0.2.10', '2001:db8::10'],
};
const reachCases: [string, string[], string[], string[], { oif?: number }?][] = [
  ['on-link peers pass', ['192.0.2.1', '2001:db8::1'], ['192.0.2.1'], []],
  ['an off-link peer is skipped, the rest stays', ['192.0.2.1', '198.51.100.1'], ['192.0.2.1'], ['error:off-link-peer']],
  ['the node\'s own address is unusable', ['192.0.2.10', '192.0.2.1'], ['192.0.2.1'], ['error:unusable-peer']],
  ['loopback is unusable', ['127.0.0.1', '192.0.2.1'], ['192.0.2.1'], ['error:unusable-peer']],
  ['multicast is unusable', ['224.0.0.5', '192.0.2.1'], ['192.0.2.1'], ['error:unusable-peer']],
  ['unspecified is unusable', ['0.0.0.0', '192.0.2.1'], ['192.0.2.1'], ['error:unusable-peer']],
  ['IPv4-mapped IPv6 is unusable', ['::ffff:192.0.2.1', '192.0.2.1'], ['192.0.2.1'], ['error:unusable-peer']],
  ['all peers off-link: no route, no rules', ['198.51.100.1'], [], ['error:off-link-peer', 'notice:no-peers']],
];

for (const [name, addrs, v4, problems] of reachCases) {
  test(`reachability: ${name}`, () => {
    const d = run({ bgpPeers: addrs.map((a, i) => peer(`p${i}`, a)) }, NODE, { reachability: REACH });
    assert.deepEqual(gateways(d), v4);
    const noNotice = (l: string[]) => l.filter((c) => c !== 'notice:no-peers');
    assert.deepEqual(noNotice(codes(d)), noNotice(problems));
    if (v4.length === 0) assert.deepEqual(srcs(d), []);
    for (const p of d.problems.filter((x) => x.severity === 'error')) {
      assert.match(p.item, /^BGPPeer p\d$/, 'the peer is named');
      assert.ok(typeof p.value === 'string');
    }
  });
}

test('IPv6 link-local peer: pinned to its interface, refused when ambiguous or unknown', () => {
  const one = run({ bgpPeers: [peer('ll', 'fe80::1')] }, NODE, { reachability: REACH });
  assert.deepEqual(one.routes.find((r) => r.family === AF.INET6)?.nexthops, [{ gateway: 'fe80::1', weight: 100, oif: 2 }]);
  const two = run({ bgpPeers: [peer('ll', 'fe80::1')] }, NODE, { reachability: { ...REACH, onLink: [...REACH.onLink, { prefix: 'fe80::/64', ifindex: 3 }] } });
  assert.deepEqual(two.routes, []);
  assert.ok(codes(two).includes('error:unusable-peer'));
  const none = run({ bgpPeers: [peer('ll', 'fe80::1')] });
  assert.deepEqual(none.routes, []);
  assert.ok(codes(none).includes('error:unusable-peer'));
});

test('without reachability, off-link peers are not checked', () => {
  const d = run({ bgpPeers: [peer('far', '198.51.100.1')] });
  assert.deepEqual(gateways(d), ['198.51.100.1']);
});

test('model problems come first in the desired problems', () => {
  const d = run({ ipAddressPools: [...POOLS, pool('bad', ['192.0.2.300/32'])] });
  assert.deepEqual(codes(d), ['error:bad-prefix']);
  assert.equal(srcs(d).length, 3, 'the bad prefix is skipped, the other pools still routed');
});

test('legacy config: bgp pools routed, layer2 not, node-selectors honoured', () => {
  const model = parseLegacyConfig(`
peers:
- peer-address: 192.0.2.1
- peer-address: 192.0.2.2
  node-selectors:
  - match-labels: {rack: r2}
address-pools:
- {name: pub, protocol: bgp, addresses: [198.51.100.0/24]}
- {name: lan, protocol: layer2, addresses: [203.0.113.0/24]}
`);
  const d = desiredState(model, NODE, OPTS);
  assert.deepEqual(srcs(d), ['198.51.100.0/24']);
  assert.deepEqual(gateways(d), ['192.0.2.1']);
});

test('property: the same inputs in any order give the same desired state', () => {
  fc.assert(
    fc.property(fc.shuffledSubarray(POOLS.concat([pool('d', ['192.0.2.128/26']), pool('e', ['2001:db8:e::/48'])]), { minLength: 1 }), fc.boolean(), (pools, rev) => {
      const peers = rev ? [...PEERS].reverse() : PEERS;
      const a = desiredState(parseResources({ ipAddressPools: pools, bgpAdvertisements: [bgpAdv('all')], bgpPeers: peers }), NODE, OPTS);
      const b = desiredState(parseResources({ ipAddressPools: [...pools].reverse(), bgpAdvertisements: [bgpAdv('all')], bgpPeers: PEERS }), NODE, OPTS);
      assert.deepEqual(a.rules, b.rules);
      assert.deepEqual(a.routes, b.routes);
    }),
    { numRuns: 100 },
  );
});

test('a source with a huge number of problems does not overflow the stack', () => {
  const addresses = new Array<string>(150_000).fill('not-a-prefix');
  addresses.push('198.51.100.0/24');
  const d = run({ ipAddressPools: [pool('big', addresses)] });
  assert.equal(d.problems.filter((p) => p.code === 'bad-prefix').length, 150_000);
  assert.deepEqual(srcs(d), ['198.51.100.0/24']);
});
