import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseLegacyConfig, parseMetallbFile, parseResources, type MetallbModel } from '../../../src/routes/metallb.js';
import { rangeToPrefixes, parseAddress, addressText, bits } from '../../../src/routes/prefix.js';
import { AF, type Family } from '../../../src/routes/objects.js';

const codes = (m: MetallbModel) => m.problems.map((p) => `${p.severity}:${p.code}`);
const prefixesOf = (m: MetallbModel, pool: string) => m.pools.find((p) => p.name === pool)?.prefixes.map((p) => p.text);

function pool(name: string, addresses: unknown, labels?: Record<string, string>) {
  return { apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name, namespace: 'metallb-system', labels }, spec: { addresses } };
}
function bgpAdv(name: string, spec: Record<string, unknown> = {}) {
  return { apiVersion: 'metallb.io/v1beta1', kind: 'BGPAdvertisement', metadata: { name, namespace: 'metallb-system' }, spec };
}
function peer(name: string, spec: Record<string, unknown>) {
  return { apiVersion: 'metallb.io/v1beta2', kind: 'BGPPeer', metadata: { name, namespace: 'metallb-system' }, spec: { myASN: 64500, peerASN: 64501, ...spec } };
}
const lists = (over: Record<string, unknown[]> = {}) => ({ ipAddressPools: [], bgpAdvertisements: [], bgpPeers: [], l2Advertisements: [], ...over });

// ---------------------------------------------------------------- address entries

const addressCases: [string, unknown, string[] | null, string?][] = [
  ['plain IPv4 CIDR', '192.0.2.0/24', ['192.0.2.0/24']],
  ['host bits are cleared like net.ParseCIDR', '192.0.2.5/24', ['192.0.2.0/24']],
  ['surrounding spaces', ' 198.51.100.0/25 ', ['198.51.100.0/25']],
  ['host route', '203.0.113.7/32', ['203.0.113.7/32']],
  ['IPv4 range', '192.0.2.10-192.0.2.20', ['192.0.2.10/31', '192.0.2.12/30', '192.0.2.16/30', '192.0.2.20/32']],
  ['range with spaces around the dash', '192.0.2.10 - 192.0.2.11', ['192.0.2.10/31']],
  ['one-address range', '192.0.2.7-192.0.2.7', ['192.0.2.7/32']],
  ['aligned range is one prefix', '198.51.100.0-198.51.100.255', ['198.51.100.0/24']],
  ['whole IPv4 space', '0.0.0.0-255.255.255.255', ['0.0.0.0/0']],
  ['IPv6 CIDR canonicalised', '2001:DB8:0:0::/64', ['2001:db8::/64']],
  ['IPv6 host', '2001:db8::1/128', ['2001:db8::1/128']],
  ['IPv6 range', '2001:db8::1-2001:db8::6', ['2001:db8::1/128', '2001:db8::2/127', '2001:db8::4/127', '2001:db8::6/128']],
  ['IPv6 host bits cleared', '2001:db8::ff/120', ['2001:db8::/120']],
  ['out-of-range octet', '192.0.2.300/32', null, 'bad-prefix'],
  ['missing length', '192.0.2.1', null, 'bad-prefix'],
  ['length too long v4', '192.0.2.0/33', null, 'bad-prefix'],
  ['length too long v6', '2001:db8::/129', null, 'bad-prefix'],
  ['negative length', '192.0.2.0/-1', null, 'bad-prefix'],
  ['leading zero octet (Go refuses it)', '192.0.02.0/24', null, 'bad-prefix'],
  ['short IPv4 form', '127.1/8', null, 'bad-prefix'],
  ['hex IPv4 form', '0xc0.0.2.0/24', null, 'bad-prefix'],
  ['zone id', 'fe80::1%eth0/128', null, 'bad-prefix'],
  ['reversed range', '192.0.2.20-192.0.2.10', null, 'bad-range'],
  ['mixed-family range', '192.0.2.1-2001:db8::1', null, 'mixed-family'],
  ['three-part range', '192.0.2.1-192.0.2.2-192.0.2.3', null, 'bad-prefix'],
  ['range of prefixes', '192.0.2.0/24-192.0.2.255/24', null, 'bad-prefix'],
  ['empty string', '', null, 'bad-prefix'],
  ['a number', 42, null, 'bad-prefix'],
  ['a word', 'pool', null, 'bad-prefix'],
];

for (const [name, entry, want, code] of addressCases) {
  test(`address entry: ${name}`, () => {
    const m = parseResources(lists({ ipAddressPools: [pool('p', [entry, '203.0.113.128/25'])] }));
    const got = prefixesOf(m, 'p');
    if (want === null) {
      assert.deepEqual(got, ['203.0.113.128/25'], 'the bad entry is skipped, the rest kept');
      assert.equal(m.problems.length, 1);
      assert.equal(m.problems[0]?.code, code);
      assert.equal(m.problems[0]?.severity, 'error');
      assert.equal(m.problems[0]?.item, 'IPAddressPool metallb-system/p');
      assert.equal(m.problems[0]?.field, 'spec.addresses[0]');
      assert.equal(m.problems[0]?.value, entry);
    } else {
      assert.deepEqual(m.problems, []);
      assert.deepEqual(new Set(got), new Set([...want, '203.0.113.128/25']));
    }
  });
}

test('a pool deduplicates prefixes and sorts them by family and address', () => {
  const m = parseResources(lists({ ipAddressPools: [pool('p', ['2001:db8::/64', '198.51.100.0/24', '192.0.2.0/24', '192.0.2.9/24'])] }));
  assert.deepEqual(prefixesOf(m, 'p'), ['192.0.2.0/24', '198.51.100.0/24', '2001:db8::/64']);
});

// ---------------------------------------------------------------- CRDs

test('CRDs: pools, advertisements and peers are read with their selectors', () => {
  const m = parseResources(lists({
    ipAddressPools: [pool('public', ['198.51.100.0/24'], { tier: 'edge' })],
    bgpAdvertisements: [bgpAdv('all'), bgpAdv('some', { ipAddressPools: ['public'], ipAddressPoolSelectors: [{ matchLabels: { tier: 'edge' } }] })],
    bgpPeers: [peer('tor-a', { peerAddress: '192.0.2.1', nodeSelectors: [{ matchExpressions: [{ key: 'rack', operator: 'In', values: ['r1', 'r2'] }] }] })],
  }));
  assert.deepEqual(m.problems, []);
  assert.equal(m.source, 'crds');
  assert.deepEqual(m.pools[0]?.labels, { tier: 'edge' });
  assert.deepEqual(m.advertisements.map((a) => [a.name, a.kind, a.pools, a.poolSelectors.length]), [
    ['all', 'bgp', [], 0],
    ['some', 'bgp', ['public'], 1],
  ]);
  assert.equal(m.peers[0]?.address.text, '192.0.2.1');
  assert.deepEqual(m.peers[0]?.nodeSelectors[0]?.matchExpressions, [{ key: 'rack', operator: 'In', values: ['r1', 'r2'] }]);
});

const crdProblemCases: [string, Record<string, unknown[]>, string[], { pools?: number; peers?: number; advs?: number }][] = [
  ['pool without spec', { ipAddressPools: [{ kind: 'IPAddressPool', metadata: { name: 'x' } }] }, ['error:missing-key'], { pools: 0 }],
  ['pool without addresses', { ipAddressPools: [pool('x', undefined)] }, ['error:missing-key'], { pools: 0 }],
  ['pool with addresses not a list', { ipAddressPools: [pool('x', '192.0.2.0/24')] }, ['error:wrong-type'], { pools: 0 }],
  ['pool without a name', { ipAddressPools: [{ metadata: {}, spec: { addresses: [] } }] }, ['error:missing-key'], { pools: 0 }],
  ['object that is not an object', { ipAddressPools: ['pool'] }, ['error:wrong-type'], { pools: 0 }],
  ['duplicate pool names', { ipAddressPools: [pool('x', ['192.0.2.0/24']), pool('x', ['198.51.100.0/24'])] }, ['error:duplicate-name'], { pools: 1 }],
  ['unknown spec field is only a notice', { ipAddressPools: [pool('x', ['192.0.2.0/24']), { ...pool('y', []), spec: { addresses: [], fancy: 1 } }] }, ['notice:unknown-key'], { pools: 2 }],
  ['peer address not an IP', { bgpPeers: [peer('p', { peerAddress: 'tor-1.example' })] }, ['error:bad-address'], { peers: 0 }],
  ['peer without address', { bgpPeers: [peer('p', {})] }, ['error:missing-key'], { peers: 0 }],
  ['unnumbered peer', { bgpPeers: [peer('p', { interface: 'eth1' })] }, ['error:unsupported-peer'], { peers: 0 }],
  ['peer in a VRF', { bgpPeers: [peer('p', { peerAddress: '192.0.2.1', vrf: 'red' })] }, ['error:unsupported-peer'], { peers: 0 }],
  ['unknown selector operator', { bgpPeers: [peer('p', { peerAddress: '192.0.2.1', nodeSelectors: [{ matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] }] })] }, ['error:bad-selector'], { peers: 0 }],
  ['misspelt selector key', { bgpPeers: [peer('p', { peerAddress: '192.0.2.1', nodeSelectors: [{ matchLabel: { a: 'b' } }] })] }, ['error:bad-selector'], { peers: 0 }],
  ['In without values', { bgpPeers: [peer('p', { peerAddress: '192.0.2.1', nodeSelectors: [{ matchExpressions: [{ key: 'a', operator: 'In' }] }] })] }, ['error:bad-selector'], { peers: 0 }],
  ['Exists with values', { bgpPeers: [peer('p', { peerAddress: '192.0.2.1', nodeSelectors: [{ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }] })] }, ['error:bad-selector'], { peers: 0 }],
  ['one bad peer leaves the good one', { bgpPeers: [peer('bad', { peerAddress: '192.0.2.256' }), peer('good', { peerAddress: '192.0.2.2' })] }, ['error:bad-address'], { peers: 1 }],
  ['advertisement with bad pool selector', { bgpAdvertisements: [bgpAdv('a', { ipAddressPoolSelectors: [{ matchExpressions: [{ key: 'k', operator: 'in', values: ['v'] }] }] })] }, ['error:bad-selector'], { advs: 0 }],
  ['advertisement with bad node selector is kept', { bgpAdvertisements: [bgpAdv('a', { nodeSelectors: 'all' })] }, ['notice:bad-selector'], { advs: 1 }],
  ['advertisement pool list of numbers', { bgpAdvertisements: [bgpAdv('a', { ipAddressPools: [1] })] }, ['error:wrong-type'], { advs: 0 }],
  ['advertisement to some peers', { bgpAdvertisements: [bgpAdv('a', { peers: ['tor-a'] })] }, ['notice:unused-field'], { advs: 1 }],
  ['advertisement without spec means all pools', { bgpAdvertisements: [{ metadata: { name: 'a' } }] }, [], { advs: 1 }],
];

for (const [name, over, want, counts] of crdProblemCases) {
  test(`CRD item: ${name}`, () => {
    const m = parseResources(lists(over));
    assert.deepEqual(codes(m), want);
    if (counts.pools !== undefined) assert.equal(m.pools.length, counts.pools);
    if (counts.peers !== undefined) assert.equal(m.peers.length, counts.peers);
    if (counts.advs !== undefined) assert.equal(m.advertisements.length, counts.advs);
    for (const p of m.problems) assert.ok(p.item.length > 0 && p.message.length > 0);
  });
}

test('CRD lists that were not read are fatal, never empty', () => {
  assert.deepEqual(codes(parseResources({})), ['fatal:missing-key', 'fatal:missing-key']);
  const noPeers = parseResources({ ipAddressPools: [pool('p', ['192.0.2.0/24'])], bgpAdvertisements: [bgpAdv('a')] });
  assert.deepEqual(codes(noPeers), ['fatal:missing-key']);
  assert.equal(noPeers.problems[0]?.item, 'BGPPeer');
  // with no BGP advertisement the peers do not matter
  assert.deepEqual(codes(parseResources({ ipAddressPools: [], bgpAdvertisements: [], l2Advertisements: [] })), []);
});

test('objects outside the MetalLB namespace are skipped with a notice', () => {
  const other = { ...pool('x', ['192.0.2.0/24']), metadata: { name: 'x', namespace: 'default' } };
  const m = parseResources(lists({ ipAddressPools: [other, pool('y', ['198.51.100.0/24'])] }), { namespace: 'metallb-system' });
  assert.deepEqual(m.pools.map((p) => p.name), ['y']);
  assert.deepEqual(codes(m), ['notice:wrong-namespace']);
});

test('deprecated AddressPool carries its protocol', () => {
  const ap = (name: string, protocol: unknown) => ({ kind: 'AddressPool', metadata: { name }, spec: { protocol, addresses: ['192.0.2.0/28'] } });
  const m = parseResources({ addressPools: [ap('b', 'bgp'), ap('l', 'layer2'), ap('x', 'ospf')], bgpPeers: [] });
  assert.deepEqual(m.pools.map((p) => p.name), ['b', 'l']);
  assert.deepEqual(m.advertisements.map((a) => [a.kind, a.pools]), [['bgp', ['b']], ['layer2', ['l']]]);
  assert.deepEqual(codes(m), ['error:bad-protocol']);
});

// ---------------------------------------------------------------- legacy ConfigMap

const LEGACY = `
peers:
- peer-address: 192.0.2.1
  peer-asn: 64501
  my-asn: 64500
- peer-address: 2001:db8::1
  peer-asn: 64501
  my-asn: 64500
  node-selectors:
  - match-labels:
      rack: r1
    match-expressions:
    - key: kubernetes.io/hostname
      operator: NotIn
      values: [node-9]
address-pools:
- name: public
  protocol: bgp
  addresses:
  - 198.51.100.0/24
  - 203.0.113.10-203.0.113.13
- name: l2
  protocol: layer2
  addresses: [192.0.2.128/25]
`;

test('legacy config: peers, pools and implicit advertisements', () => {
  const m = parseLegacyConfig(LEGACY);
  assert.deepEqual(m.problems, []);
  assert.equal(m.source, 'configmap');
  assert.deepEqual(m.peers.map((p) => p.address.text), ['192.0.2.1', '2001:db8::1']);
  assert.deepEqual(m.peers[1]?.nodeSelectors, [
    { matchLabels: [['rack', 'r1']], matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'NotIn', values: ['node-9'] }] },
  ]);
  assert.deepEqual(prefixesOf(m, 'public'), ['198.51.100.0/24', '203.0.113.10/31', '203.0.113.12/31']);
  assert.deepEqual(m.advertisements.map((a) => [a.kind, a.pools]), [['bgp', ['public']], ['layer2', ['l2']]]);
});

const legacyCases: [string, string | undefined, string[], { pools?: number; peers?: number }][] = [
  ['no config key', undefined, ['fatal:missing-key'], { pools: 0 }],
  ['empty text', '', ['fatal:missing-key'], { pools: 0 }],
  ['not YAML', 'address-pools: [\n', ['fatal:yaml-syntax'], { pools: 0 }],
  ['duplicate keys', 'peers: []\npeers: []\naddress-pools: []\n', ['fatal:yaml-syntax'], {}],
  ['two documents', 'peers: []\naddress-pools: []\n---\npeers: []\n', ['fatal:wrong-type'], {}],
  ['a list at the top', '- name: x\n', ['fatal:wrong-type'], {}],
  ['missing address-pools', 'peers:\n- peer-address: 192.0.2.1\n', ['fatal:missing-key'], { pools: 0 }],
  ['address-pools not a list', 'peers: []\naddress-pools: {name: x}\n', ['fatal:wrong-type'], { pools: 0 }],
  ['missing peers with bgp pools', 'address-pools:\n- {name: a, protocol: bgp, addresses: [192.0.2.0/24]}\n', ['fatal:missing-key'], { pools: 1 }],
  ['missing peers with layer2 pools only', 'address-pools:\n- {name: a, protocol: layer2, addresses: [192.0.2.0/24]}\n', [], { pools: 1 }],
  ['explicitly no peers', 'peers: []\naddress-pools:\n- {name: a, protocol: bgp, addresses: [192.0.2.0/24]}\n', [], { pools: 1, peers: 0 }],
  ['explicitly no pools', 'peers: []\naddress-pools: []\n', [], { pools: 0 }],
  ['peers not a list', 'peers: 192.0.2.1\naddress-pools: []\n', ['fatal:wrong-type'], {}],
  ['unknown top-level key', 'peers: []\naddress-pool: []\naddress-pools: []\n', ['error:unknown-key'], {}],
  ['pool without protocol', 'peers: []\naddress-pools:\n- {name: a, addresses: [192.0.2.0/24]}\n', ['error:missing-key'], { pools: 0 }],
  ['pool with unknown protocol', 'peers: []\naddress-pools:\n- {name: a, protocol: ospf, addresses: [192.0.2.0/24]}\n', ['error:bad-protocol'], { pools: 0 }],
  ['pool without name', 'peers: []\naddress-pools:\n- {protocol: bgp, addresses: [192.0.2.0/24]}\n', ['error:missing-key'], { pools: 0 }],
  ['duplicate pool name', 'peers: []\naddress-pools:\n- {name: a, protocol: bgp, addresses: [192.0.2.0/24]}\n- {name: a, protocol: layer2, addresses: [198.51.100.0/24]}\n', ['error:duplicate-name'], { pools: 1 }],
  ['bad prefix keeps the pool', 'peers: []\naddress-pools:\n- {name: a, protocol: bgp, addresses: [192.0.2.300/32, 192.0.2.0/24]}\n', ['error:bad-prefix'], { pools: 1 }],
  ['unknown pool key', 'peers: []\naddress-pools:\n- {name: a, protocol: bgp, adresses: [192.0.2.0/24], addresses: []}\n', ['error:unknown-key'], { pools: 1 }],
  ['peer address not an IP', 'peers:\n- peer-address: router\naddress-pools: []\n', ['error:bad-address'], { peers: 0 }],
  ['misspelt peer-address', 'peers:\n- peer-adress: 192.0.2.1\naddress-pools: []\n', ['error:unknown-key', 'error:missing-key'], { peers: 0 }],
  ['peer with unknown operator', 'peers:\n- peer-address: 192.0.2.1\n  node-selectors:\n  - match-expressions:\n    - {key: a, operator: Like, values: [b]}\naddress-pools: []\n', ['error:bad-selector'], { peers: 0 }],
  ['peer with CRD-style selector keys', 'peers:\n- peer-address: 192.0.2.1\n  node-selectors:\n  - matchLabels: {a: b}\naddress-pools: []\n', ['error:bad-selector'], { peers: 0 }],
  ['peer not a mapping', 'peers:\n- 192.0.2.1\naddress-pools: []\n', ['error:wrong-type'], { peers: 0 }],
  ['peer in a VRF', 'peers:\n- {peer-address: 192.0.2.1, vrf: red}\naddress-pools: []\n', ['error:unsupported-peer'], { peers: 0 }],
  ['numeric label values are strings', 'peers:\n- peer-address: 192.0.2.1\n  node-selectors:\n  - match-labels: {rack: 1}\naddress-pools: []\n', [], { peers: 1 }],
];

for (const [name, text, want, counts] of legacyCases) {
  test(`legacy config: ${name}`, () => {
    const m = parseLegacyConfig(text);
    assert.deepEqual(codes(m), want);
    if (counts.pools !== undefined) assert.equal(m.pools.length, counts.pools);
    if (counts.peers !== undefined) assert.equal(m.peers.length, counts.peers);
  });
}

// ---------------------------------------------------------------- file

const CRD_FILE = `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: public, namespace: metallb-system}
spec:
  addresses: [198.51.100.0/24, 2001:db8:100::/64]
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: everything, namespace: metallb-system}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: tor-a, namespace: metallb-system}
spec: {myASN: 64500, peerASN: 64501, peerAddress: 192.0.2.1}
---
apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {name: fast}
---
`;

test('file: multi-document CRDs', () => {
  const m = parseMetallbFile(CRD_FILE, { namespace: 'metallb-system' });
  assert.deepEqual(m.problems, []);
  assert.equal(m.source, 'file');
  assert.deepEqual(m.pools.map((p) => p.name), ['public']);
  assert.deepEqual(m.advertisements.map((a) => a.name), ['everything']);
  assert.deepEqual(m.peers.map((p) => p.name), ['tor-a']);
});

const fileCases: [string, string, string[], { pools?: number; peers?: number }][] = [
  ['bare legacy config', LEGACY, [], { pools: 2, peers: 2 }],
  ['legacy ConfigMap object', `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config}\ndata:\n  config: |\n${LEGACY.split('\n').map((l) => `    ${l}`).join('\n')}\n`, [], { pools: 2, peers: 2 }],
  ['ConfigMap without config key', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config}\ndata: {}\n', ['fatal:missing-key'], { pools: 0 }],
  ['List of CRDs', `kind: List\nitems:\n- {kind: IPAddressPool, metadata: {name: a}, spec: {addresses: [192.0.2.0/24]}}\n- {kind: BGPAdvertisement, metadata: {name: b}}\n- {kind: BGPPeer, metadata: {name: c}, spec: {peerAddress: 192.0.2.1}}\n`, [], { pools: 1, peers: 1 }],
  ['empty BGPPeerList says no peers on purpose', `kind: IPAddressPool\nmetadata: {name: a}\nspec: {addresses: [192.0.2.0/24]}\n---\nkind: BGPAdvertisement\nmetadata: {name: b}\n---\nkind: BGPPeerList\nitems: []\n`, [], { pools: 1, peers: 0 }],
  ['BGP advertisement without any peer document', `kind: IPAddressPool\nmetadata: {name: a}\nspec: {addresses: [192.0.2.0/24]}\n---\nkind: BGPAdvertisement\nmetadata: {name: b}\n`, ['fatal:missing-key'], {}],
  ['peers without pools', `kind: BGPPeer\nmetadata: {name: c}\nspec: {peerAddress: 192.0.2.1}\n`, ['fatal:missing-key', 'fatal:missing-key'], {}],
  ['mixed legacy and CRDs', `${LEGACY}\n---\nkind: BGPPeer\nmetadata: {name: c}\nspec: {peerAddress: 192.0.2.1}\n`, ['fatal:wrong-type'], { pools: 0 }],
  ['two legacy configs', `${LEGACY}\n---\n${LEGACY}`, ['fatal:wrong-type'], { pools: 0 }],
  ['empty file', '', ['fatal:missing-key'], {}],
  ['only comments', '# nothing\n---\n', ['fatal:missing-key'], {}],
  ['syntax error in a later document', `${CRD_FILE}\n---\nkind: [\n`, ['fatal:yaml-syntax'], { pools: 0 }],
  ['unrelated kind is a notice', `${CRD_FILE}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n`, ['notice:unknown-kind'], { pools: 1 }],
  ['MetalLB kind of another group', `${CRD_FILE}\n---\napiVersion: example.com/v1\nkind: BGPPeer\nmetadata: {name: x}\nspec: {peerAddress: 192.0.2.9}\n`, ['error:unknown-kind'], { peers: 1 }],
  ['a scalar document', `${CRD_FILE}\n---\njust text\n`, ['error:wrong-type'], { pools: 1 }],
  ['a mapping that is nothing known', `${CRD_FILE}\n---\nfoo: bar\n`, ['error:unknown-kind'], { pools: 1 }],
  ['typed list items not a list', `${CRD_FILE}\n---\nkind: BGPPeerList\nitems: {}\n`, ['fatal:wrong-type'], {}],
];

for (const [name, text, want, counts] of fileCases) {
  test(`file: ${name}`, () => {
    const m = parseMetallbFile(text);
    assert.deepEqual(codes(m), want);
    if (counts.pools !== undefined) assert.equal(m.pools.length, counts.pools);
    if (counts.peers !== undefined) assert.equal(m.peers.length, counts.peers);
  });
}

test('file: hostile YAML (alias bomb) is a fatal problem, not a hang or a throw', () => {
  const bomb = 'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n';
  let m: MetallbModel | undefined;
  try {
    m = parseMetallbFile(bomb);
  } catch (e) {
    assert.fail(`threw ${String(e)}`);
  }
  assert.ok(m.problems.some((p) => p.severity === 'fatal'));
});

// ---------------------------------------------------------------- properties

function coverIsExact(family: Family, start: bigint, end: bigint): void {
  const width = BigInt(bits(family));
  const ps = rangeToPrefixes(family, start, end);
  assert.ok(ps.length > 0 && ps.length <= 2 * Number(width));
  let next = start;
  for (const p of ps) {
    const size = 1n << (width - BigInt(p.length));
    assert.equal(p.value, next, 'contiguous, no gap, no overlap');
    assert.equal(p.value % size, 0n, 'aligned');
    assert.equal(parseAddress(p.address)?.value, p.value);
    // minimal: the enclosing prefix one bit shorter is not inside the range
    if (p.length > 0) {
      const parentSize = size * 2n;
      const parentStart = p.value - (p.value % parentSize);
      assert.ok(parentStart < start || parentStart + parentSize - 1n > end, `${p.text} could be merged`);
    }
    next = p.value + size;
  }
  assert.equal(next - 1n, end, 'ends exactly at the end of the range');
}

test('property: IPv4 range to CIDR cover is exact and minimal', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), (a, b) => {
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      coverIsExact(AF.INET, BigInt(lo), BigInt(hi));
    }),
    { numRuns: 400 },
  );
});

test('property: IPv6 range to CIDR cover is exact and minimal', () => {
  const max = (1n << 128n) - 1n;
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max }), fc.bigInt({ min: 0n, max: 1n << 70n }), (a, span) => {
      const hi = a + span > max ? max : a + span;
      coverIsExact(AF.INET6, a, hi);
    }),
    { numRuns: 200 },
  );
});

test('property: a range written as text covers the same addresses as its prefixes', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 4096 }), fc.integer({ min: 0, max: 4096 }), (base, off1, len) => {
      const lo = Math.min(base + off1, 0xffffffff);
      const hi = Math.min(lo + len, 0xffffffff);
      const text = `${addressText(AF.INET, BigInt(lo))}-${addressText(AF.INET, BigInt(hi))}`;
      const m = parseResources(lists({ ipAddressPools: [pool('p', [text])] }));
      const total = (m.pools[0]?.prefixes ?? []).reduce((n, p) => n + 2 ** (32 - p.length), 0);
      assert.equal(total, hi - lo + 1);
    }),
    { numRuns: 200 },
  );
});

test('property: parsing arbitrary documents never throws', () => {
  fc.assert(
    fc.property(fc.anything(), fc.string(), (obj, text) => {
      parseResources({ ipAddressPools: [obj], bgpAdvertisements: [obj], bgpPeers: [obj], addressPools: [obj], l2Advertisements: [obj] });
      parseLegacyConfig(text);
      parseMetallbFile(text);
    }),
    { numRuns: 300 },
  );
});
