import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { plan, isNoop, holdVerdict, type Desired, type Plan, type PlanOptions, type Snapshot } from '../../../src/routes/plan.js';
import { desiredState } from '../../../src/routes/desired.js';
import { parseLegacyConfig, parseMetallbFile, parseResources } from '../../../src/routes/metallb.js';
import { problem } from '../../../src/routes/problem.js';
import { AF, DEFAULT_METRIC, RT_TABLE, RTPROT_PATHGUARD as PG, type Family, type KernelRoute, type KernelRule, type RouteSpec, type RuleSpec } from '../../../src/routes/objects.js';

const OPTS: PlanOptions = { table: 20 };
const companion4: RuleSpec = { family: AF.INET, priority: 19, table: RT_TABLE.MAIN, suppressPrefixlen: 0, protocol: PG };
const rule4 = (src: string, extra: Partial<KernelRule> = {}): KernelRule => ({ family: AF.INET, priority: 20, src, table: 20, protocol: PG, ...extra });
const rule6 = (src: string, extra: Partial<KernelRule> = {}): KernelRule => ({ family: AF.INET6, priority: 20, src, table: 20, protocol: PG, ...extra });
const route4 = (gws: [string, number][], extra: Partial<KernelRoute> = {}): KernelRoute => ({
  family: AF.INET, table: 20, dst: '0.0.0.0/0', nexthops: gws.map(([gateway, weight]) => ({ gateway, weight })), protocol: PG, ...extra,
});
const route6 = (gws: [string, number][], extra: Partial<KernelRoute> = {}): KernelRoute => ({
  family: AF.INET6, table: 20, dst: '::/0', nexthops: gws.map(([gateway, weight]) => ({ gateway, weight })), protocol: PG, ...extra,
});

const DESIRED: Desired = {
  rules: [companion4, rule4('198.51.100.0/24'), rule4('203.0.113.0/25'), rule6('2001:db8:b::/64')],
  routes: [route4([['192.0.2.1', 100], ['192.0.2.2', 100]]), route6([['2001:db8::1', 100]])],
};
const EMPTY: Snapshot = { rules: [], routes: [] };
const summary = (p: Plan) => ({ add: p.add.length, replace: p.replace.length, remove: p.remove.length, foreign: p.foreign.length, conflicts: p.conflicts.length, unchanged: p.unchanged });

test('from empty: everything is added, routes first, companion before pool rules', () => {
  const p = plan(DESIRED, EMPTY, OPTS);
  assert.deepEqual(summary(p), { add: 6, replace: 0, remove: 0, foreign: 0, conflicts: 0, unchanged: 0 });
  assert.deepEqual(p.add.map((c) => (c.kind === 'route' ? `route ${c.route.family}` : `rule ${c.rule.priority} ${c.rule.src ?? 'all'}`)), [
    'route 2', 'route 10', 'rule 19 all', 'rule 20 198.51.100.0/24', 'rule 20 203.0.113.0/25', 'rule 20 2001:db8:b::/64',
  ]);
});

test('the same state is a no-op', () => {
  const p = plan(DESIRED, { rules: [...DESIRED.rules], routes: [...DESIRED.routes] }, OPTS);
  assert.ok(isNoop(p));
  assert.equal(p.unchanged, 6);
});

// [name, actual, options, expected summary, extra check]
type Case = [string, Snapshot, Partial<PlanOptions>, ReturnType<typeof summary>, ((p: Plan) => void)?];
const same = (over: { rules?: KernelRule[]; routes?: KernelRoute[] } = {}): Snapshot => ({
  rules: over.rules ?? [...DESIRED.rules],
  routes: over.routes ?? [...DESIRED.routes],
});
const r = DESIRED.rules as KernelRule[];
const [v4route, v6route] = DESIRED.routes as KernelRoute[];

const cases: Case[] = [
  ['a stale rule of ours is removed', same({ rules: [...r, rule4('192.0.2.128/25')] }), {}, { add: 0, replace: 0, remove: 1, foreign: 0, conflicts: 0, unchanged: 6 }],
  ['a duplicate rule of ours is removed once', same({ rules: [...r, rule4('198.51.100.0/24')] }), {}, { add: 0, replace: 0, remove: 1, foreign: 0, conflicts: 0, unchanged: 6 }],
  ['a missing rule is added', same({ rules: r.slice(0, 2) }), {}, { add: 2, replace: 0, remove: 0, foreign: 0, conflicts: 0, unchanged: 4 }],
  ['a foreign rule pointing at the table is reported, kept', same({ rules: [...r, rule4('192.0.2.0/24', { protocol: 0 })] }), {}, { add: 0, replace: 0, remove: 0, foreign: 1, conflicts: 0, unchanged: 6 }],
  ['... and removed with removeForeign', same({ rules: [...r, rule4('192.0.2.0/24', { protocol: 4 })] }), { removeForeign: true }, { add: 0, replace: 0, remove: 1, foreign: 1, conflicts: 0, unchanged: 6 },
    (p) => assert.equal(p.remove[0]?.foreign, true)],
  ['a foreign rule elsewhere is not ours to see', same({ rules: [...r, rule4('192.0.2.0/24', { protocol: 0, table: 100 }), { family: AF.INET, priority: 32766, table: 254, protocol: 2 }] }), { removeForeign: true }, { add: 0, replace: 0, remove: 0, foreign: 0, conflicts: 0, unchanged: 6 }],
  ['a foreign copy of a desired rule does not stand in for ours', same({ rules: [rule4('198.51.100.0/24', { protocol: 0 }), ...r.filter((x) => x.src !== '198.51.100.0/24')] }), {}, { add: 1, replace: 0, remove: 0, foreign: 1, conflicts: 0, unchanged: 5 }],
  ['a foreign unreachable rule naming no table is ignored', same({ rules: [...r, { family: AF.INET, priority: 20, table: 0, action: 6, protocol: 0 }] }), { removeForeign: true }, { add: 0, replace: 0, remove: 0, foreign: 0, conflicts: 0, unchanged: 6 }],
  ['rule source written with host bits is the same rule', same({ rules: [r[0]!, rule4('198.51.100.77/24'), r[2]!, rule6('2001:0db8:000b:0000::/64')] }), {}, { add: 0, replace: 0, remove: 0, foreign: 0, conflicts: 0, unchanged: 6 }],
  ['kernel-reported unset suppress_prefixlength (0xffffffff) equals absent', same({ rules: r.map((x) => (x.src ? { ...x, suppressPrefixlen: 0xffffffff } : x)) }), {}, { add: 0, replace: 0, remove: 0, foreign: 0, conflicts: 0, unchanged: 6 }],
  ['a rule with an iif selector is not ours to keep', same({ rules: [...r.filter((x) => x.src !== '203.0.113.0/25'), rule4('203.0.113.0/25', { iifname: 'lo' })] }), {}, { add: 1, replace: 0, remove: 1, foreign: 0, conflicts: 0, unchanged: 5 }],
  ['a rule with unmodelled attributes is replaced by add + remove', same({ rules: [...r.filter((x) => x.src !== '203.0.113.0/25'), rule4('203.0.113.0/25', { other: ['ipproto 6'] })] }), {}, { add: 1, replace: 0, remove: 1, foreign: 0, conflicts: 0, unchanged: 5 }],
  ['an inverted rule is different', same({ rules: [...r.filter((x) => x.src !== '203.0.113.0/25'), rule4('203.0.113.0/25', { invert: true })] }), {}, { add: 1, replace: 0, remove: 1, foreign: 0, conflicts: 0, unchanged: 5 }],
  ['a changed priority is add + remove (rules have no replace)', same({ rules: r.map((x) => (x.src === '198.51.100.0/24' ? { ...x, priority: 30 } : x)) }), {}, { add: 1, replace: 0, remove: 1, foreign: 0, conflicts: 0, unchanged: 5 }],
  ['IPv4 and IPv6 rules of one prefix length do not mix', same({ rules: [...r.filter((x) => x.family === AF.INET), { ...rule6('2001:db8:b::/64'), family: AF.INET }] }), {}, { add: 1, replace: 0, remove: 1, foreign: 0, conflicts: 0, unchanged: 5 }],
  ['a route with another gateway is one replace', same({ routes: [route4([['192.0.2.1', 100], ['192.0.2.3', 100]]), v6route!] }), {}, { add: 0, replace: 1, remove: 0, foreign: 0, conflicts: 0, unchanged: 5 }],
  ['a multipath weight change is a replace', same({ routes: [route4([['192.0.2.1', 100], ['192.0.2.2', 50]]), v6route!] }), {}, { add: 0, replace: 1, remove: 0, foreign: 0, conflicts: 0, unchanged: 5 }],
  ['a missing nexthop is a replace', same({ routes: [route4([['192.0.2.1', 100]]), v6route!] }), {}, { add: 0, replace: 1, remove: 0, foreign: 0, conflicts: 0, unchanged: 5 }],
  ['nexthop order does not matter', same({ routes: [route4([['192.0.2.2', 100], ['192.0.2.1', 100]]), v6route!] }), {}, { add: 0, replace: 0, remove: 0, foreign: 0, conflicts: 0, unchanged: 6 }],
  ['a single-path route has no weight to compare', same({ routes: [v4route!, route6([['2001:db8::1', 1]])] }), {}, { add: 0, replace: 0, remove: 0, foreign: 0, conflicts: 0, unchanged: 6 }],
  ['IPv6 gateways compare canonically', same({ routes: [v4route!, route6([['2001:0DB8:0:0:0:0:0:1', 1]])] }), {}, { add: 0, replace: 0, remove: 0, foreign: 0, conflicts: 0, unchanged: 6 }],
  ['IPv6 metric 1024 is the default metric', same({ routes: [v4route!, { ...v6route!, metric: DEFAULT_METRIC[AF.INET6] }] }), {}, { add: 0, replace: 0, remove: 0, foreign: 0, conflicts: 0, unchanged: 6 }],
  ['a route of ours with another metric is removed, ours added', same({ routes: [{ ...v4route!, metric: 5 }, v6route!] }), {}, { add: 1, replace: 0, remove: 1, foreign: 0, conflicts: 0, unchanged: 5 }],
  ['our routes in an old table are removed', same({ routes: [...DESIRED.routes, { ...v4route!, table: 30 }] as KernelRoute[] }), {}, { add: 0, replace: 0, remove: 1, foreign: 0, conflicts: 0, unchanged: 6 }],
  ['a stale destination of ours is removed', same({ routes: [...DESIRED.routes, { ...v4route!, dst: '198.51.100.0/24' }] as KernelRoute[] }), {}, { add: 0, replace: 0, remove: 1, foreign: 0, conflicts: 0, unchanged: 6 }],
  ['a blackhole of ours is replaced', same({ routes: [{ ...v4route!, type: 6 }, v6route!] }), {}, { add: 0, replace: 1, remove: 0, foreign: 0, conflicts: 0, unchanged: 5 }],
  ['a route of ours with unmodelled attributes is replaced', same({ routes: [{ ...v4route!, other: ['mtu 1400'] }, v6route!] }), {}, { add: 0, replace: 1, remove: 0, foreign: 0, conflicts: 0, unchanged: 5 }],
  ['a nexthop without gateway is replaced', same({ routes: [{ ...v4route!, nexthops: [{ weight: 1, oif: 3 }, { gateway: '192.0.2.2', weight: 100 }] }, v6route!] }), {}, { add: 0, replace: 1, remove: 0, foreign: 0, conflicts: 0, unchanged: 5 }],
  ['the kernel-filled oif is ignored when desired has none', same({ routes: [{ ...v4route!, nexthops: [{ gateway: '192.0.2.1', weight: 100, oif: 2 }, { gateway: '192.0.2.2', weight: 100, oif: 2 }] }, v6route!] }), {}, { add: 0, replace: 0, remove: 0, foreign: 0, conflicts: 0, unchanged: 6 }],
  ['a foreign default route blocks ours: conflict, no add', same({ routes: [{ ...v4route!, protocol: 4 }, v6route!] }), {}, { add: 0, replace: 0, remove: 0, foreign: 1, conflicts: 1, unchanged: 5 }],
  ['... and is replaced with removeForeign', same({ routes: [{ ...v4route!, protocol: 4 }, v6route!] }), { removeForeign: true }, { add: 0, replace: 1, remove: 0, foreign: 1, conflicts: 0, unchanged: 5 },
    (p) => assert.equal(p.replace[0]?.foreign, true)],
  ['a foreign route elsewhere in the table is reported', same({ routes: [...DESIRED.routes, { ...v4route!, dst: '192.0.2.0/24', protocol: 3 }] as KernelRoute[] }), {}, { add: 0, replace: 0, remove: 0, foreign: 1, conflicts: 0, unchanged: 6 }],
  ['... and removed with removeForeign', same({ routes: [...DESIRED.routes, { ...v4route!, dst: '192.0.2.0/24', protocol: 3 }] as KernelRoute[] }), { removeForeign: true }, { add: 0, replace: 0, remove: 1, foreign: 1, conflicts: 0, unchanged: 6 }],
  ['routes in other tables that are not ours are invisible', same({ routes: [...DESIRED.routes, { ...v4route!, table: 254, protocol: 2 }, { ...v4route!, table: 255, protocol: 2, dst: '192.0.2.10/32' }] as KernelRoute[] }), { removeForeign: true }, { add: 0, replace: 0, remove: 0, foreign: 0, conflicts: 0, unchanged: 6 }],
  ['another protocol id makes our objects foreign', same(), { protocol: 99 }, { add: 4, replace: 0, remove: 0, foreign: 5, conflicts: 2, unchanged: 0 }],
];

for (const [name, actual, opts, want, check] of cases) {
  test(`plan: ${name}`, () => {
    const p = plan(DESIRED, actual, { ...OPTS, ...opts });
    assert.deepEqual(summary(p), want);
    check?.(p);
  });
}

test('a desired route with a pinned oif is replaced when the kernel has another', () => {
  const want: Desired = { rules: [], routes: [{ ...route6([]), nexthops: [{ gateway: 'fe80::1', weight: 1, oif: 2 }] }] };
  const p = plan(want, { rules: [], routes: [{ ...route6([]), nexthops: [{ gateway: 'fe80::1', weight: 1, oif: 3 }] }] }, OPTS);
  assert.equal(p.replace.length, 1);
  const q = plan(want, { rules: [], routes: [{ ...route6([]), nexthops: [{ gateway: 'fe80::1', weight: 1, oif: 2 }] }] }, OPTS);
  assert.ok(isNoop(q));
});

test('fwmark: absent mask equals 0xffffffff, other masks differ, mark 0 without mask is no mark', () => {
  const want: Desired = { rules: [rule4('198.51.100.0/24', { fwmark: 0x14, fwmask: 0xffffffff })], routes: [] };
  assert.ok(isNoop(plan(want, { rules: [rule4('198.51.100.0/24', { fwmark: 0x14 })], routes: [] }, OPTS)));
  assert.equal(plan(want, { rules: [rule4('198.51.100.0/24', { fwmark: 0x14, fwmask: 0xff })], routes: [] }, OPTS).add.length, 1);
  const plain: Desired = { rules: [rule4('198.51.100.0/24')], routes: [] };
  assert.ok(isNoop(plan(plain, { rules: [rule4('198.51.100.0/24', { fwmark: 0 })], routes: [] }, OPTS)));
});

test('removals come in a safe order: pool rules, companion rules, routes', () => {
  const p = plan({ rules: [], routes: [] }, same(), OPTS);
  assert.deepEqual(p.remove.map((x) => (x.kind === 'route' ? 'route' : x.rule.suppressPrefixlen === 0 ? 'companion' : 'pool')), ['pool', 'pool', 'pool', 'companion', 'route', 'route']);
  assert.ok(p.remove.every((x) => !x.foreign));
});

// ---------------------------------------------------------------- fail static

test('holdVerdict: fatal source problems hold whatever the state', () => {
  const v = holdVerdict({ rules: DESIRED.rules, problems: [problem('fatal', 'missing-key', 'config', 'x')] });
  assert.deepEqual(v.hold && v.reason, 'source-failed');
});

test('holdVerdict: no rules because of errors holds', () => {
  const v = holdVerdict({ rules: [], problems: [problem('error', 'bad-prefix', 'pool a', 'x')] });
  assert.deepEqual(v.hold && v.reason, 'empty-by-error');
});

test('holdVerdict: empty on purpose is applied', () => {
  assert.deepEqual(holdVerdict({ rules: [], problems: [problem('notice', 'no-peers', 'node n', 'x')] }), { hold: false });
  assert.deepEqual(holdVerdict({ rules: [], problems: [] }), { hold: false });
  assert.deepEqual(holdVerdict({ rules: [], problems: [problem('error', 'bad-label', 'x', 'y')], disabled: true }), { hold: false });
});

test('holdVerdict: some rules and some errors: the rest is applied', () => {
  assert.deepEqual(holdVerdict({ rules: DESIRED.rules, problems: [problem('error', 'bad-prefix', 'pool a', 'x')] }), { hold: false });
});

const NODE = { name: 'node-1', labels: {} };
const DOPTS = { table: 20, priority: 20, suppress: true, peerWeight: { default: 100 } };
const endToEnd: [string, () => ReturnType<typeof desiredState>, boolean, number?][] = [
  ['legacy config without address-pools (missing key) holds', () => desiredState(parseLegacyConfig('peers:\n- peer-address: 192.0.2.1\n'), NODE, DOPTS), true],
  ['legacy config without peers (missing key) holds', () => desiredState(parseLegacyConfig('address-pools:\n- {name: a, protocol: bgp, addresses: [198.51.100.0/24]}\n'), NODE, DOPTS), true],
  ['a ConfigMap without its config key holds', () => desiredState(parseLegacyConfig(undefined), NODE, DOPTS), true],
  ['malformed YAML holds', () => desiredState(parseLegacyConfig('peers: [\n'), NODE, DOPTS), true],
  ['a watch re-listing (a list not read) holds', () => desiredState(parseResources({ ipAddressPools: [{ metadata: { name: 'a' }, spec: { addresses: ['198.51.100.0/24'] } }], bgpAdvertisements: [{ metadata: { name: 'x' } }] }), NODE, DOPTS), true],
  ['only a bad prefix 192.0.2.300/32: nothing left, holds', () => desiredState(parseLegacyConfig('peers: [{peer-address: 192.0.2.1}]\naddress-pools:\n- {name: a, protocol: bgp, addresses: [192.0.2.300/32]}\n'), NODE, DOPTS), true],
  ['a bad prefix among good ones: applied without it', () => desiredState(parseLegacyConfig('peers: [{peer-address: 192.0.2.1}]\naddress-pools:\n- {name: a, protocol: bgp, addresses: [192.0.2.300/32, 198.51.100.0/24]}\n'), NODE, DOPTS), false, 2],
  ['explicitly empty config is applied (removes everything)', () => desiredState(parseLegacyConfig('peers: []\naddress-pools: []\n'), NODE, DOPTS), false, 0],
  ['an empty advertisement means all pools', () => desiredState(parseMetallbFile('kind: IPAddressPool\nmetadata: {name: a}\nspec: {addresses: [198.51.100.0/24]}\n---\nkind: IPAddressPool\nmetadata: {name: b}\nspec: {addresses: [203.0.113.0/24]}\n---\nkind: BGPAdvertisement\nmetadata: {name: all}\n---\nkind: BGPPeer\nmetadata: {name: p}\nspec: {peerAddress: 192.0.2.1}\n'), NODE, DOPTS), false, 3],
  ['an unknown key in the legacy config is reported but the rest applies', () => desiredState(parseLegacyConfig('peers: [{peer-address: 192.0.2.1}]\nbgp-comunities: {}\naddress-pools:\n- {name: a, protocol: bgp, addresses: [198.51.100.0/24]}\n'), NODE, DOPTS), false, 2],
  ['the only peer unusable: holds', () => desiredState(parseLegacyConfig('peers: [{peer-address: 127.0.0.1}]\naddress-pools:\n- {name: a, protocol: bgp, addresses: [198.51.100.0/24]}\n'), NODE, DOPTS), true],
];

for (const [name, make, hold, rules] of endToEnd) {
  test(`fail static: ${name}`, () => {
    const d = make();
    const v = holdVerdict(d);
    assert.equal(v.hold, hold, JSON.stringify(d.problems));
    if (rules !== undefined) assert.equal(d.rules.length, rules);
    if (hold) assert.ok(v.hold && v.problems.length > 0);
  });
}

// ---------------------------------------------------------------- properties

/**
 * What the kernel stores when the plan is applied, as rtnetlink reports it
 * back: a single-path route loses its weight (no RTA_MULTIPATH), a mark
 * without a mask comes back with mask 0xffffffff, an unset suppress
 * prefixlength comes back as 0xffffffff, IPv6 routes get metric 1024 and
 * IPv6 text may come back in another form.
 */
function asKernelRule(r: RuleSpec): KernelRule {
  const out: KernelRule = { ...r, suppressPrefixlen: r.suppressPrefixlen ?? 0xffffffff };
  if (r.fwmark && r.fwmask === undefined) return { ...out, fwmask: 0xffffffff };
  return out;
}
function asKernelRoute(r: RouteSpec): KernelRoute {
  const expand = (a: string) => (r.family === AF.INET6 ? ipaddr.parse(a).toNormalizedString() : a);
  const nexthops = r.nexthops.map((n) => ({ ...n, gateway: n.gateway && expand(n.gateway), weight: r.nexthops.length === 1 ? 1 : n.weight, oif: n.oif ?? 2 }));
  return { ...r, nexthops, metric: DEFAULT_METRIC[r.family] };
}
function apply(actual: Snapshot, p: Plan): Snapshot {
  const gone = new Set<object>(p.remove.map((x) => (x.kind === 'rule' ? x.rule : x.route)));
  const replaced = new Map<object, KernelRoute>(p.replace.map((x) => [x.previous, asKernelRoute(x.route)]));
  return {
    rules: [...actual.rules.filter((x) => !gone.has(x)), ...p.add.flatMap((c) => (c.kind === 'rule' ? [asKernelRule(c.rule)] : []))],
    routes: [
      ...actual.routes.filter((x) => !gone.has(x)).map((x) => replaced.get(x) ?? x),
      ...p.add.flatMap((c) => (c.kind === 'route' ? [asKernelRoute(c.route)] : [])),
    ],
  };
}

const V4 = ['198.51.100.0/24', '203.0.113.0/25', '203.0.113.128/26', '192.0.2.64/27'];
const V6 = ['2001:db8:a::/64', '2001:db8:b::/48'];
const GW4 = ['192.0.2.1', '192.0.2.2', '192.0.2.3'];
const GW6 = ['2001:db8::1', '2001:db8::2'];
const protocolArb = fc.constantFrom(PG, PG, PG, 0, 2, 4, 186);
const tableArb = fc.constantFrom(20, 20, 20, 254, 100);

const nexthopsArb = (gws: string[]) =>
  fc.uniqueArray(fc.constantFrom(...gws), { minLength: 1, maxLength: gws.length }).chain((g) =>
    fc.tuple(...g.map((gateway) => fc.record({ gateway: fc.constant(gateway), weight: fc.integer({ min: 1, max: 256 }) }))),
  );

const desiredArb: fc.Arbitrary<Desired> = fc
  .record({
    v4: fc.subarray(V4),
    v6: fc.subarray(V6),
    hops4: fc.option(nexthopsArb(GW4), { nil: undefined }),
    hops6: fc.option(nexthopsArb(GW6), { nil: undefined }),
    mark: fc.option(fc.constantFrom({ fwmark: 0x14, fwmask: 0xffffffff }, { fwmark: 0x100, fwmask: 0xf00 }), { nil: undefined }),
  })
  .map(({ v4, v6, hops4, hops6, mark }) => {
    const rules: RuleSpec[] = [];
    const routes: RouteSpec[] = [];
    const fam = (family: Family, srcs: string[], hops: { gateway: string; weight: number }[] | undefined) => {
      if (!hops) return;
      routes.push({ family, table: 20, dst: family === AF.INET ? '0.0.0.0/0' : '::/0', nexthops: hops, protocol: PG });
      if (srcs.length === 0) return;
      rules.push({ family, priority: 19, table: 254, suppressPrefixlen: 0, ...mark, protocol: PG });
      for (const src of srcs) rules.push({ family, priority: 20, src, table: 20, ...mark, protocol: PG });
    };
    fam(AF.INET, v4, hops4);
    fam(AF.INET6, v6, hops6);
    return { rules, routes };
  });

const kernelRuleArb: fc.Arbitrary<KernelRule> = fc
  .record({
    family: fc.constantFrom(AF.INET, AF.INET6),
    priority: fc.constantFrom(19, 20, 100),
    table: tableArb,
    protocol: protocolArb,
    srcIdx: fc.nat(5),
    iif: fc.option(fc.constant('lo'), { nil: undefined, freq: 8 }),
    suppress: fc.boolean(),
  })
  .map(({ family, priority, table, protocol, srcIdx, iif, suppress }) => {
    const list = family === AF.INET ? V4 : V6;
    const src = suppress ? undefined : list[srcIdx % (list.length + 1)];
    const r: KernelRule = { family, priority, table: suppress ? 254 : table, protocol, suppressPrefixlen: suppress ? 0 : 0xffffffff };
    return { ...r, ...(src ? { src } : {}), ...(iif ? { iifname: iif } : {}) };
  });

const kernelRouteArb: fc.Arbitrary<KernelRoute> = fc
  .record({ family: fc.constantFrom(AF.INET, AF.INET6), table: tableArb, protocol: protocolArb, dstDefault: fc.boolean(), metric: fc.option(fc.constantFrom(0, 5, 1024), { nil: undefined }) })
  .chain((x) =>
    nexthopsArb(x.family === AF.INET ? GW4 : GW6).map((hops) => {
      const dst = x.dstDefault ? (x.family === AF.INET ? '0.0.0.0/0' : '::/0') : x.family === AF.INET ? '192.0.2.0/24' : '2001:db8::/64';
      const r: KernelRoute = { family: x.family, table: x.table, dst, nexthops: hops, protocol: x.protocol };
      return x.metric === undefined ? r : { ...r, metric: x.metric };
    }),
  );

const snapshotArb: fc.Arbitrary<Snapshot> = fc.record({ rules: fc.array(kernelRuleArb, { maxLength: 12 }), routes: fc.array(kernelRouteArb, { maxLength: 6 }) });

test('property: plan(desired, apply(plan(desired, actual))) is a no-op', () => {
  fc.assert(
    fc.property(desiredArb, snapshotArb, fc.boolean(), (desired, actual, removeForeign) => {
      const opts = { table: 20, removeForeign };
      const first = plan(desired, actual, opts);
      const after = apply(actual, first);
      const second = plan(desired, after, opts);
      assert.ok(isNoop(second), JSON.stringify(summary(second)));
      // everything desired is in place except what a foreign route blocks
      const want = new Set(desired.rules.map((x) => JSON.stringify(x))).size + desired.routes.length;
      assert.equal(second.unchanged, want - second.conflicts.length);
    }),
    { numRuns: 300 },
  );
});

test('property: objects without our protocol are never touched unless removeForeign, and then only those aimed at our table', () => {
  fc.assert(
    fc.property(desiredArb, snapshotArb, fc.boolean(), (desired, actual, removeForeign) => {
      const p = plan(desired, actual, { table: 20, removeForeign });
      for (const x of p.remove) {
        const obj = x.kind === 'rule' ? x.rule : x.route;
        if (obj.protocol === PG) assert.equal(x.foreign, false);
        else {
          assert.ok(removeForeign, 'foreign object removed without removeForeign');
          assert.equal(x.foreign, true);
          assert.equal(obj.table, 20);
        }
      }
      for (const x of p.replace) {
        if (x.previous.protocol !== PG) {
          assert.ok(removeForeign);
          assert.equal(x.previous.table, 20);
        }
      }
      if (!removeForeign) assert.equal(p.replace.filter((x) => x.foreign).length, 0);
      else assert.equal(p.conflicts.length, 0);
    }),
    { numRuns: 300 },
  );
});

test('property: a route never appears in both replace and remove, nor twice', () => {
  fc.assert(
    fc.property(desiredArb, snapshotArb, fc.boolean(), (desired, actual, removeForeign) => {
      const p = plan(desired, actual, { table: 20, removeForeign });
      const seen = new Set<object>();
      for (const o of [...p.replace.map((x) => x.previous), ...p.remove.map((x) => (x.kind === 'rule' ? x.rule : x.route))]) {
        assert.ok(!seen.has(o));
        seen.add(o);
      }
    }),
    { numRuns: 200 },
  );
});
