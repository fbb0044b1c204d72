// kernel-objects.ts: rtnetlink rules and routes as the kernel dumps them,
// turned into the planner's objects, and the planner's changes turned into
// requests. Golden vectors are real dump messages captured on this machine
// (Linux 6.18) in a namespace set up with:
//
//   ip -6 route add default table 20 proto 112 nexthop via 2001:db8::1 weight 100 nexthop via 2001:db8::2 weight 50
//   ip route add default table 20 proto 112 nexthop via 192.0.2.1 weight 100 nexthop via 192.0.2.2 weight 50
//   ip rule add priority 19 lookup main suppress_prefixlength 0 proto 112
//   ip -6 rule add priority 20 from 2001:db8:1::/64 lookup 20 proto 112
//   ip rule add priority 20 from 198.51.100.0/28 fwmark 0x14/0xff lookup 20 proto 112
//   ip link set eth1 down            # the veth peer: eth0 loses carrier, next hops turn "linkdown"
//
// and read with a python3 AF_NETLINK socket sending RTM_GETRULE / RTM_GETROUTE
// dumps (NLM_F_REQUEST|NLM_F_DUMP), printing each message of protocol 112 as hex.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeMessages, NLM_F, type NetlinkMessage } from '../../../src/wire/netlink.js';
import { decodeAttributes, encodeAttributes } from '../../../src/wire/netlink-attribute.js';
import { decodeRule, FRA } from '../../../src/wire/rtnl-rule.js';
import { decodeRoute, RTA } from '../../../src/wire/rtnl-route.js';
import { RTM, RTNH_F } from '../../../src/wire/rtnetlink.js';
import { addRuleRequest, delRouteRequest, delRuleRequest, kernelRoute, kernelRule, routeRequest } from '../../../src/routes/kernel-objects.js';
import { plan, isNoop } from '../../../src/routes/plan.js';
import { AF, RT_TABLE, RTPROT_PATHGUARD as PG, type KernelRoute, type KernelRule, type RouteSpec, type RuleSpec } from '../../../src/routes/objects.js';
import type { RtnlRequest } from '../../../src/wire/rtnetlink.js';
import { hex } from '../../harness/bytes.js';

/** The single message in `bytes`, decoded in place and again at offset 7 of a larger buffer. */
function both(bytes: Uint8Array): NetlinkMessage[] {
  const [m] = decodeMessages(bytes);
  const big = new Uint8Array(bytes.byteLength + 13);
  big.set(bytes, 7);
  const [n] = decodeMessages(big.subarray(7, 7 + bytes.byteLength));
  return [m!, n!];
}

const RULE4_COMPANION = hex(`
  3c000000 2000 0200 01000000 72020000   # nlmsghdr: len 60, RTM_NEWRULE, NLM_F_MULTI, seq 1, pid
  02 00 00 00 fe 00 00 01 00000000       # fib_rule_hdr: AF_INET, dst_len 0, src_len 0, tos 0, table 254 (main), res1/2, FR_ACT_TO_TBL, flags 0
  0800 0f00 fe000000                     # FRA_TABLE 254
  0800 0e00 00000000                     # FRA_SUPPRESS_PREFIXLEN 0
  0500 1500 70 000000                    # FRA_PROTOCOL 112
  0800 0600 13000000                     # FRA_PRIORITY 19
`);

const RULE4_FWMARK = hex(`
  54000000 2000 0200 01000000 72020000   # nlmsghdr: len 84, RTM_NEWRULE, NLM_F_MULTI
  02 00 1c 00 14 00 00 01 00000000       # AF_INET, dst_len 0, src_len 28, tos 0, table 20, FR_ACT_TO_TBL
  0800 0f00 14000000                     # FRA_TABLE 20
  0800 0e00 ffffffff                     # FRA_SUPPRESS_PREFIXLEN -1 (unset)
  0500 1500 70 000000                    # FRA_PROTOCOL 112
  0800 0600 14000000                     # FRA_PRIORITY 20
  0800 0a00 14000000                     # FRA_FWMARK 0x14
  0800 1000 ff000000                     # FRA_FWMASK 0xff
  0800 0200 c6336400                     # FRA_SRC 198.51.100.0
`);

const RULE6 = hex(`
  50000000 2000 0200 01000000 72020000   # nlmsghdr: len 80, RTM_NEWRULE, NLM_F_MULTI
  0a 00 40 00 14 00 00 01 00000000       # AF_INET6, src_len 64, table 20, FR_ACT_TO_TBL
  0800 0f00 14000000                     # FRA_TABLE 20
  0800 0e00 ffffffff                     # FRA_SUPPRESS_PREFIXLEN -1 (unset)
  0500 1500 70 000000                    # FRA_PROTOCOL 112
  0800 0600 14000000                     # FRA_PRIORITY 20
  1400 0200 20010db8000100000000000000000000  # FRA_SRC 2001:db8:1::
`);

const ROUTE4_LINKDOWN = hex(`
  48000000 1800 0200 01000000 72020000   # nlmsghdr: len 72, RTM_NEWROUTE, NLM_F_MULTI
  02 00 00 00 14 70 00 01 10000000       # rtmsg: AF_INET, dst_len 0, src_len 0, tos 0, table 20, proto 112, scope universe, RTN_UNICAST, flags RTNH_F_LINKDOWN
  0800 0f00 14000000                     # RTA_TABLE 20
  2400 0900                              # RTA_MULTIPATH, 32 bytes
    1000 10 63 03000000                  #   rtnexthop: len 16, flags RTNH_F_LINKDOWN, hops 99 (weight 100), ifindex 3
    0800 0500 c0000201                   #   RTA_GATEWAY 192.0.2.1
    1000 10 31 03000000                  #   rtnexthop: len 16, flags RTNH_F_LINKDOWN, hops 49 (weight 50), ifindex 3
    0800 0500 c0000202                   #   RTA_GATEWAY 192.0.2.2
`);

const ROUTE6_LINKDOWN = hex(`
  94000000 1800 0200 01000000 72020000   # nlmsghdr: len 148, RTM_NEWROUTE, NLM_F_MULTI
  0a 00 00 00 14 70 00 01 00000000       # rtmsg: AF_INET6, table 20, proto 112, scope universe, RTN_UNICAST, flags 0
  0800 0f00 14000000                     # RTA_TABLE 20
  0800 0600 00040000                     # RTA_PRIORITY 1024
  3c00 0900                              # RTA_MULTIPATH, 56 bytes
    1c00 10 63 03000000                  #   rtnexthop: len 28, RTNH_F_LINKDOWN, weight 100, ifindex 3
    1400 0500 20010db8000000000000000000000001  # RTA_GATEWAY 2001:db8::1
    1c00 10 31 03000000                  #   rtnexthop: len 28, RTNH_F_LINKDOWN, weight 50, ifindex 3
    1400 0500 20010db8000000000000000000000002  # RTA_GATEWAY 2001:db8::2
  2400 0c00 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  # RTA_CACHEINFO (all 0)
  0500 1400 00 000000                    # RTA_PREF 0 (medium)
`);

test('golden: the companion rule decodes to a KernelRule equal to the desired one', () => {
  for (const m of both(RULE4_COMPANION)) {
    const r = kernelRule(decodeRule(m));
    assert.deepEqual(r, { family: AF.INET, priority: 19, table: RT_TABLE.MAIN, protocol: PG, suppressPrefixlen: 0 });
  }
});

test('golden: a pool rule with fwmark/mask; an unset suppress_prefixlength (-1) is absent', () => {
  for (const m of both(RULE4_FWMARK)) {
    const r = kernelRule(decodeRule(m));
    assert.deepEqual(r, { family: AF.INET, priority: 20, table: 20, protocol: PG, src: '198.51.100.0/28', fwmark: 0x14, fwmask: 0xff });
  }
});

test('golden: an IPv6 pool rule', () => {
  for (const m of both(RULE6)) {
    assert.deepEqual(kernelRule(decodeRule(m)), { family: AF.INET6, priority: 20, table: 20, protocol: PG, src: '2001:db8:1::/64' });
  }
});

test('golden: linkdown next hops, IPv6 RTA_PREF medium and RTA_CACHEINFO are state, not configuration', () => {
  for (const m of both(ROUTE4_LINKDOWN)) {
    const r = decodeRoute(m);
    assert.equal(r.flags & RTNH_F.LINKDOWN, RTNH_F.LINKDOWN);
    assert.deepEqual(kernelRoute(r), {
      family: AF.INET,
      table: 20,
      dst: '0.0.0.0/0',
      protocol: PG,
      nexthops: [
        { gateway: '192.0.2.1', weight: 100, oif: 3 },
        { gateway: '192.0.2.2', weight: 50, oif: 3 },
      ],
    });
  }
  for (const m of both(ROUTE6_LINKDOWN)) {
    assert.deepEqual(kernelRoute(decodeRoute(m)), {
      family: AF.INET6,
      table: 20,
      dst: '::/0',
      protocol: PG,
      metric: 1024,
      nexthops: [
        { gateway: '2001:db8::1', weight: 100, oif: 3 },
        { gateway: '2001:db8::2', weight: 50, oif: 3 },
      ],
    });
  }
});

test('golden: the captured state plans to a no-op against the desired state it came from', () => {
  const rules = [RULE4_COMPANION, RULE4_FWMARK, RULE6].map((b) => kernelRule(decodeRule(both(b)[0]!))!);
  const routes = [ROUTE4_LINKDOWN, ROUTE6_LINKDOWN].map((b) => kernelRoute(decodeRoute(both(b)[0]!))!);
  const desired = {
    rules: [
      { family: AF.INET, priority: 19, table: RT_TABLE.MAIN, suppressPrefixlen: 0, protocol: PG },
      { family: AF.INET, priority: 20, src: '198.51.100.0/28', table: 20, fwmark: 0x14, fwmask: 0xff, protocol: PG },
      { family: AF.INET6, priority: 20, src: '2001:db8:1::/64', table: 20, protocol: PG },
    ] as RuleSpec[],
    routes: [
      { family: AF.INET, table: 20, dst: '0.0.0.0/0', nexthops: [{ gateway: '192.0.2.1', weight: 100 }, { gateway: '192.0.2.2', weight: 50 }], protocol: PG },
      { family: AF.INET6, table: 20, dst: '::/0', nexthops: [{ gateway: '2001:db8::1', weight: 100 }, { gateway: '2001:db8::2', weight: 50 }], protocol: PG },
    ] as RouteSpec[],
  };
  const p = plan(desired, { rules, routes }, { table: 20 });
  assert.ok(isNoop(p), JSON.stringify(p));
  assert.equal(p.unchanged, 5);
});

/** A request as the kernel would see it (payload = family header + attributes). */
function asMessage(req: RtnlRequest): NetlinkMessage {
  const attrs = encodeAttributes(req.attrs);
  const payload = new Uint8Array(req.fixed.byteLength + attrs.byteLength);
  payload.set(req.fixed);
  payload.set(attrs, req.fixed.byteLength);
  return { type: req.type, flags: req.flags, seq: 1, pid: 0, payload };
}

test('rule add: RTM_NEWRULE with NLM_F_CREATE and no NLM_F_EXCL, carrying FRA_PROTOCOL, action to-table', () => {
  const req = addRuleRequest({ family: AF.INET, priority: 20, src: '198.51.100.0/28', table: 20, fwmark: 0x14, fwmask: 0xff, protocol: PG });
  assert.equal(req.type, RTM.NEWRULE);
  assert.equal(req.flags, NLM_F.REQUEST | NLM_F.CREATE);
  const r = decodeRule(asMessage(req));
  assert.equal(r.action, 1);
  assert.equal(r.srcLen, 28);
  assert.equal(r.protocol, PG);
  assert.deepEqual(kernelRule(r), { family: AF.INET, priority: 20, table: 20, protocol: PG, src: '198.51.100.0/28', fwmark: 0x14, fwmask: 0xff });
});

test('rule del carries every selector of the dumped rule, protocol included, so a foreign twin is never the one deleted', () => {
  const foreignTwin: KernelRule = { family: AF.INET6, priority: 20, table: 20, protocol: 4, src: '2001:db8:1::/64', iifname: 'eth0', invert: true, tos: 8 };
  const req = delRuleRequest(foreignTwin);
  assert.equal(req.type, RTM.DELRULE);
  assert.equal(req.flags & NLM_F.CREATE, 0);
  const r = decodeRule(asMessage(req));
  assert.equal(r.protocol, 4);
  assert.equal(r.iifname, 'eth0');
  assert.equal(r.flags & 2, 2, 'FIB_RULE_INVERT');
  assert.equal(r.tos, 8);
  assert.deepEqual(kernelRule(r), foreignTwin);
  const types = decodeAttributes(asMessage(req).payload.subarray(12)).map((a) => a.type);
  assert.ok(types.includes(FRA.PROTOCOL) && types.includes(FRA.PRIORITY) && types.includes(FRA.TABLE) && types.includes(FRA.SRC));
});

test('route add/replace: one next hop as RTA_GATEWAY, several as RTA_MULTIPATH with weights', () => {
  const one: RouteSpec = { family: AF.INET, table: 20, dst: '0.0.0.0/0', nexthops: [{ gateway: '192.0.2.1', weight: 7 }], protocol: PG };
  const add = routeRequest(one, 'add');
  assert.equal(add.flags, NLM_F.REQUEST | NLM_F.CREATE | NLM_F.EXCL);
  const r1 = decodeRoute(asMessage(add));
  assert.equal(r1.multipath, undefined);
  assert.deepEqual(kernelRoute(r1), { family: AF.INET, table: 20, dst: '0.0.0.0/0', protocol: PG, nexthops: [{ gateway: '192.0.2.1', weight: 1 }] });

  const two: RouteSpec = { family: AF.INET6, table: 1000, dst: '::/0', nexthops: [{ gateway: '2001:db8::1', weight: 3 }, { gateway: 'fe80::1', weight: 256, oif: 9 }], protocol: PG };
  const rep = routeRequest(two, 'replace');
  assert.equal(rep.flags, NLM_F.REQUEST | NLM_F.CREATE | NLM_F.REPLACE);
  const r2 = decodeRoute(asMessage(rep));
  assert.equal(r2.table, 1000);
  assert.deepEqual(kernelRoute(r2)?.nexthops, [{ gateway: '2001:db8::1', weight: 3 }, { gateway: 'fe80::1', weight: 256, oif: 9 }]);
});

test('route del names table, destination, metric, type, scope and protocol, and no next hops', () => {
  const k: KernelRoute = { family: AF.INET6, table: 20, dst: '::/0', nexthops: [{ gateway: '2001:db8::1', weight: 1, oif: 3 }], protocol: 9, metric: 1024, scope: 253, type: 1 };
  const r = decodeRoute(asMessage(delRouteRequest(k)));
  assert.equal(r.protocol, 9);
  assert.equal(r.priority, 1024);
  assert.equal(r.scope, 253);
  assert.equal(r.table, 20);
  assert.equal(r.multipath, undefined);
  assert.equal(r.gateway, undefined);
  const types = decodeAttributes(asMessage(delRouteRequest(k)).payload.subarray(12)).map((a) => a.type);
  assert.ok(!types.includes(RTA.MULTIPATH) && !types.includes(RTA.GATEWAY));
});

test('what pathguard never sets lands in `other`, so such a route or rule never equals one of ours', () => {
  const route = decodeRoute(asMessage(routeRequest({ family: AF.INET, table: 20, dst: '0.0.0.0/0', nexthops: [{ gateway: '192.0.2.1', weight: 1 }], protocol: PG }, 'add')));
  const withMtu = kernelRoute({ ...route, metrics: { mtu: 1400, unknown: [] }, flags: RTNH_F.ONLINK });
  assert.deepEqual(withMtu?.other, ['onlink', 'mtu 1400']);
  const rule = decodeRule(asMessage(addRuleRequest({ family: AF.INET, priority: 20, table: 20, protocol: PG, src: '198.51.100.0/28' })));
  assert.deepEqual(kernelRule({ ...rule, uidRange: { start: 1000, end: 2000 }, suppressIfgroup: -1 })?.other, ['uidrange 1000-2000']);
  const p = plan(
    { rules: [{ family: AF.INET, priority: 20, table: 20, protocol: PG, src: '198.51.100.0/28' }], routes: [] },
    { rules: [kernelRule({ ...rule, uidRange: { start: 1000, end: 2000 } })!], routes: [] },
    { table: 20 },
  );
  assert.equal(p.add.length, 1);
  assert.equal(p.remove.length, 1);
});

test('cached clones (RTM_F_CLONED) are not FIB entries', () => {
  const route = decodeRoute(asMessage(routeRequest({ family: AF.INET, table: 20, dst: '0.0.0.0/0', nexthops: [{ gateway: '192.0.2.1', weight: 1 }], protocol: PG }, 'add')));
  assert.equal(kernelRoute({ ...route, flags: 0x200 }), undefined);
});

test('property: any desired rule survives add request → kernel decode → KernelRule and plans to a no-op', () => {
  const v4 = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 })).map(([n, len]) => {
    const masked = len === 0 ? 0 : (n >>> (32 - len)) << (32 - len);
    const a = masked >>> 0;
    return { family: AF.INET, src: `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${len}` } as const;
  });
  const v6 = fc.tuple(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), fc.integer({ min: 1, max: 128 })).map(([groups, len]) => {
    let bits = 0n;
    for (const g of groups) bits = (bits << 16n) | BigInt(g);
    bits = (bits >> BigInt(128 - len)) << BigInt(128 - len);
    const parts: string[] = [];
    for (let i = 7; i >= 0; i--) parts.push(((bits >> BigInt(16 * i)) & 0xffffn).toString(16));
    return { family: AF.INET6, src: `${parts.join(':')}/${len}` } as const;
  });
  const rule = fc.record({
    where: fc.oneof(v4, v6),
    priority: fc.integer({ min: 1, max: 0xffffffff }),
    table: fc.integer({ min: 1, max: 0xffffffff }).filter((t) => t !== 253 && t !== 254 && t !== 255),
    mark: fc.option(fc.integer({ min: 1, max: 0xffffffff }), { nil: undefined }),
  });
  fc.assert(
    fc.property(rule, ({ where, priority, table, mark }) => {
      const spec: RuleSpec = mark === undefined
        ? { family: where.family, priority, src: where.src, table, protocol: PG }
        : { family: where.family, priority, src: where.src, table, fwmark: mark, fwmask: 0xffffffff, protocol: PG };
      const k = kernelRule(decodeRule(asMessage(addRuleRequest(spec))))!;
      assert.ok(isNoop(plan({ rules: [spec], routes: [] }, { rules: [k], routes: [] }, { table })));
      // and the delete request of what was read back names the same rule
      assert.deepEqual(kernelRule(decodeRule(asMessage(delRuleRequest(k)))), k);
    }),
    { numRuns: 300 },
  );
});

test('property: hostile rule and route messages convert or fail with a DecodeError, nothing else', () => {
  const attr = fc.tuple(fc.integer({ min: 0, max: 31 }), fc.uint8Array({ maxLength: 24 })).map(([type, value]) => ({ type, flags: 0, value }));
  const message = fc.record({
    family: fc.constantFrom(0, 2, 10, 7, 128),
    head: fc.uint8Array({ minLength: 11, maxLength: 11 }),
    attrs: fc.array(attr, { maxLength: 8 }),
    route: fc.boolean(),
  });
  fc.assert(
    fc.property(message, ({ family, head, attrs, route }) => {
      const payload = new Uint8Array(12 + 256);
      payload[0] = family;
      payload.set(head, 1);
      const body = encodeAttributes(attrs);
      payload.set(body.subarray(0, 256), 12);
      const msg: NetlinkMessage = { type: route ? RTM.NEWROUTE : RTM.NEWRULE, flags: 0, seq: 0, pid: 0, payload: payload.subarray(0, 12 + Math.min(body.byteLength, 256)) };
      try {
        if (route) kernelRoute(decodeRoute(msg));
        else kernelRule(decodeRule(msg));
      } catch (err) {
        assert.ok(err instanceof Error && (err as { code?: string }).code === 'PG_DECODE', String(err));
      }
    }),
    { numRuns: 500 },
  );
});
