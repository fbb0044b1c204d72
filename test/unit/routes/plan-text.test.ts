// plan-text.ts: the plan as iproute2 commands, for --dry-run and the change log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPlan, planCounts, routeText, ruleText } from '../../../src/routes/plan-text.js';
import { plan } from '../../../src/routes/plan.js';
import { AF, RT_TABLE, RTPROT_PATHGUARD as PG, type KernelRoute, type KernelRule, type RouteSpec, type RuleSpec } from '../../../src/routes/objects.js';

const companion: RuleSpec = { family: AF.INET, priority: 19, table: RT_TABLE.MAIN, suppressPrefixlen: 0, protocol: PG };
const pool4: RuleSpec = { family: AF.INET, priority: 20, src: '198.51.100.7/32', table: 20, fwmark: 0x14, fwmask: 0xffffffff, protocol: PG };
const pool6: RuleSpec = { family: AF.INET6, priority: 20, src: '2001:db8:1::/64', table: 20, fwmark: 0x100, fwmask: 0xf00, protocol: PG };
const route4: RouteSpec = { family: AF.INET, table: 20, dst: '0.0.0.0/0', nexthops: [{ gateway: '192.0.2.1', weight: 100 }, { gateway: '192.0.2.2', weight: 50 }], protocol: PG };
const route6: RouteSpec = { family: AF.INET6, table: 20, dst: '::/0', nexthops: [{ gateway: 'fe80::1', weight: 1, oif: 3 }], protocol: PG };

test('rules read like `ip rule`', () => {
  assert.equal(ruleText(companion), 'priority 19 lookup main suppress_prefixlength 0 proto 112');
  assert.equal(ruleText(pool4), 'priority 20 from 198.51.100.7/32 fwmark 0x14 lookup 20 proto 112');
  assert.equal(ruleText(pool6), 'priority 20 from 2001:db8:1::/64 fwmark 0x100/0xf00 lookup 20 proto 112');
  const foreign: KernelRule = { family: AF.INET, priority: 5, table: 20, protocol: 4, invert: true, iifname: 'eth0', dst: '203.0.113.0/24', other: ['uidrange 1-2'] };
  assert.equal(ruleText(foreign), 'priority 5 not to 203.0.113.0/24 iif eth0 uidrange 1-2 lookup 20 proto 4');
});

test('routes read like `ip route`', () => {
  assert.equal(routeText(route4), 'default table 20 proto 112 nexthop via 192.0.2.1 weight 100 nexthop via 192.0.2.2 weight 50');
  assert.equal(routeText(route6), 'default table 20 proto 112 via fe80::1 oif 3');
  const k: KernelRoute = { family: AF.INET6, table: 20, dst: '2001:db8:9::/48', nexthops: [], protocol: 3, metric: 1024, scope: 253, type: 6, other: ['mtu 1400'] };
  assert.equal(routeText(k), 'type 6 2001:db8:9::/48 table 20 proto 3 scope 253 mtu 1400');
});

test('a plan prints in application order, with foreign objects and conflicts as comments', () => {
  const stale: KernelRule = { family: AF.INET, priority: 20, src: '198.51.100.9/32', table: 20, protocol: PG };
  const foreignRule: KernelRule = { family: AF.INET, priority: 30, src: '203.0.113.0/24', table: 20, protocol: 4 };
  const blocker: KernelRoute = { family: AF.INET6, table: 20, dst: '::/0', nexthops: [{ gateway: '2001:db8::9', weight: 1 }], protocol: 3, metric: 1024 };
  const p = plan({ rules: [companion, pool4], routes: [route4, route6] }, { rules: [stale, foreignRule], routes: [blocker] }, { table: 20 });
  assert.deepEqual(formatPlan(p), [
    'ip -4 route add default table 20 proto 112 nexthop via 192.0.2.1 weight 100 nexthop via 192.0.2.2 weight 50',
    'ip -4 rule add priority 19 lookup main suppress_prefixlength 0 proto 112',
    'ip -4 rule add priority 20 from 198.51.100.7/32 fwmark 0x14 lookup 20 proto 112',
    'ip -4 rule del priority 20 from 198.51.100.9/32 lookup 20 proto 112',
    '# foreign, kept: ip -4 rule priority 30 from 203.0.113.0/24 lookup 20 proto 4',
    '# foreign, kept: ip -6 route default table 20 proto 3 via 2001:db8::9',
    '# blocked by a foreign route (--remove-foreign replaces it): ip -6 route default table 20 proto 112 via fe80::1 oif 3   # held by: default table 20 proto 3 via 2001:db8::9',
  ]);
  assert.deepEqual(planCounts(p), { add: 3, replace: 0, remove: 1, foreign: 2, conflicts: 1, unchanged: 0 });

  const q = plan({ rules: [companion, pool4], routes: [route4, route6] }, { rules: [stale, foreignRule], routes: [blocker] }, { table: 20, removeForeign: true });
  assert.deepEqual(formatPlan(q), [
    'ip -6 route replace default table 20 proto 112 via fe80::1 oif 3   # replaces a foreign route',
    'ip -4 route add default table 20 proto 112 nexthop via 192.0.2.1 weight 100 nexthop via 192.0.2.2 weight 50',
    'ip -4 rule add priority 19 lookup main suppress_prefixlength 0 proto 112',
    'ip -4 rule add priority 20 from 198.51.100.7/32 fwmark 0x14 lookup 20 proto 112',
    'ip -4 rule del priority 20 from 198.51.100.9/32 lookup 20 proto 112',
    'ip -4 rule del priority 30 from 203.0.113.0/24 lookup 20 proto 4   # foreign (--remove-foreign)',
  ]);
});

test('with interface names, nexthops print as `dev NAME` (what ip accepts), else as oif INDEX', () => {
  const r = {
    family: 10,
    dst: '::/0',
    table: 20,
    protocol: 112,
    nexthops: [{ gateway: 'fe80::1', oif: 3, weight: 1 }],
  } as unknown as Parameters<typeof routeText>[0];
  assert.equal(routeText(r, new Map([[3, 'eth1']])), 'default table 20 proto 112 via fe80::1 dev eth1');
  assert.equal(routeText(r, new Map([[4, 'eth2']])), 'default table 20 proto 112 via fe80::1 oif 3');
});
