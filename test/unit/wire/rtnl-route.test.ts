// Routes (struct rtmsg + RTA_*) against RTM_NEWROUTE messages captured from the kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  addRoute,
  decodeRoute,
  delRoute,
  dumpRoutes,
  encodeRoute,
  getRoute,
  ICMPV6_ROUTER_PREF,
  type Nexthop,
  replaceRoute,
  type Route,
  RTA,
  RTAX,
  RTMSG_LEN,
} from '../../../src/wire/rtnl-route.js';
import { encodeMessage, NLM_F } from '../../../src/wire/netlink.js';
import { nla } from '../../../src/wire/netlink-attribute.js';
import { RT_SCOPE, RT_TABLE, RTM, RTM_F, RTN, RTNL_FAMILY, RTPROT, type RtnlRequest } from '../../../src/wire/rtnetlink.js';
import { parseAddress } from '../../../src/wire/ip-address.js';
import { DecodeError } from '../../../src/errors.js';
import * as F from './fixtures/rtnl.js';

const codec = { decode: decodeRoute, encode: encodeRoute, fixedLen: RTMSG_LEN };
const GOLDENS = [
  F.ROUTE_MULTIPATH_V4,
  F.ROUTE_VIA_TABLE_1000,
  F.ROUTE_CONNECTED_V4,
  F.ROUTE_METRICS_V4,
  F.ROUTE_PMTU_EXCEPTION_DUMP,
  F.ROUTE_V6_TABLE20,
  F.ROUTE_MULTIPATH_V6,
  F.ROUTE_V6_EXPIRES,
  F.ROUTE_GET_PMTU,
  F.ROUTE_GET_V6,
];
const ip = parseAddress;
const PROTO = 240;

function wire(req: RtnlRequest): Uint8Array {
  return encodeMessage({ type: req.type, flags: req.flags, seq: 0, pid: 0 }, req.fixed, req.attrs);
}
const decoded = (req: RtnlRequest) => decodeRoute(F.only(wire(req)));
const NO_CACHE = { clntref: 0, lastuse: 0, expires: 0, error: 0, used: 0, id: 0, ts: 0, tsage: 0 };

test('IPv4 multipath default route in table 20: weights are rtnh_hops + 1', () => {
  const r = decodeRoute(F.only(F.ROUTE_MULTIPATH_V4));
  assert.equal(r.family, RTNL_FAMILY.INET);
  assert.equal(r.dstLen, 0);
  assert.equal(r.dst, undefined, 'a default route has no RTA_DST');
  assert.equal(r.table, 20);
  assert.equal(r.protocol, PROTO);
  assert.equal(r.scope, RT_SCOPE.UNIVERSE);
  assert.equal(r.type, RTN.UNICAST);
  assert.equal(r.flags, 0);
  assert.equal(r.gateway, undefined);
  assert.equal(r.priority, undefined);
  assert.deepEqual(r.multipath, [
    { flags: 0, weight: 2, ifindex: 24, gateway: ip('192.0.2.2'), unknown: [] },
    { flags: 0, weight: 1, ifindex: 24, gateway: ip('192.0.2.3'), unknown: [] },
  ]);
  assert.deepEqual(r.unknown, []);
});

test('table 1000: rtm_table is RT_TABLE_COMPAT and RTA_TABLE carries the id; RTA_VIA an IPv6 gateway', () => {
  const r = decodeRoute(F.only(F.ROUTE_VIA_TABLE_1000));
  assert.equal(F.only(F.ROUTE_VIA_TABLE_1000).payload[4], RT_TABLE.COMPAT);
  assert.equal(r.table, 1000);
  assert.equal(r.dstLen, 24);
  assert.deepEqual(r.dst, ip('203.0.113.0'));
  assert.deepEqual(r.via, { family: RTNL_FAMILY.INET6, address: ip('2001:db8::2') });
  assert.equal(r.gateway, undefined);
  assert.equal(r.oif, 24);
  assert.equal(r.protocol, RTPROT.BOOT);
});

test('connected route: scope link, proto kernel, prefsrc', () => {
  const r = decodeRoute(F.only(F.ROUTE_CONNECTED_V4));
  assert.equal(r.table, RT_TABLE.MAIN);
  assert.equal(r.protocol, RTPROT.KERNEL);
  assert.equal(r.scope, RT_SCOPE.LINK);
  assert.deepEqual(r.dst, ip('192.0.2.0'));
  assert.deepEqual(r.prefsrc, ip('192.0.2.1'));
  assert.equal(r.oif, 24);
});

test('route metrics: mtu 1400 advmss 1360', () => {
  const r = decodeRoute(F.only(F.ROUTE_METRICS_V4));
  assert.deepEqual(r.dst, ip('198.51.100.0'));
  assert.deepEqual(r.gateway, ip('192.0.2.2'));
  assert.deepEqual(r.metrics, { mtu: 1400, advmss: 1360, unknown: [] });
  assert.equal(r.cacheinfo, undefined);
  assert.equal(r.flags & RTM_F.CLONED, 0);
});

test('a learned path MTU: `ip route get` answers with a clone carrying RTAX_MTU and an expiry', () => {
  const r = decodeRoute(F.only(F.ROUTE_GET_PMTU));
  assert.equal(r.flags, RTM_F.CLONED);
  assert.equal(r.dstLen, 32);
  assert.deepEqual(r.dst, ip('198.51.100.2'));
  assert.deepEqual(r.gateway, ip('192.0.2.2'));
  assert.deepEqual(r.prefsrc, ip('192.0.2.1'));
  assert.equal(r.oif, 24);
  assert.equal(r.uid, 0);
  assert.equal(r.table, RT_TABLE.MAIN);
  assert.deepEqual(r.metrics, { mtu: 1280, advmss: 1360, unknown: [] }, 'the route said 1400; the router said 1280');
  assert.deepEqual(r.cacheinfo, { clntref: 2, lastuse: 0, expires: 57658, error: 0, used: 0, id: 0, ts: 0, tsage: 0 });

  // The same exception as a non-strict dump lists it.
  const d = decodeRoute(F.only(F.ROUTE_PMTU_EXCEPTION_DUMP));
  assert.equal(d.flags, RTM_F.CLONED);
  assert.equal(d.metrics?.mtu, 1280);
  assert.equal(d.cacheinfo?.expires, 57667);

  // No exception: no RTAX_MTU, expires 0.
  const v6 = decodeRoute(F.only(F.ROUTE_GET_V6));
  assert.equal(v6.flags, 0);
  assert.equal(v6.metrics, undefined);
  assert.equal(v6.cacheinfo?.expires, 0);
  assert.deepEqual(v6.dst, ip('2001:db8::3'));
  assert.equal(v6.srcLen, 128);
  assert.deepEqual(v6.src, ip('::'));
  assert.deepEqual(v6.prefsrc, ip('2001:db8::1'));
});

test('IPv6 routes: metric, RTA_PREF, multipath, lifetime in rta_expires', () => {
  const r = decodeRoute(F.only(F.ROUTE_V6_TABLE20));
  assert.equal(r.family, RTNL_FAMILY.INET6);
  assert.equal(r.table, 20);
  assert.equal(r.protocol, PROTO);
  assert.equal(r.dstLen, 64);
  assert.deepEqual(r.dst, ip('2001:db8:1::'));
  assert.equal(r.priority, 512);
  assert.deepEqual(r.gateway, ip('2001:db8::2'));
  assert.equal(r.pref, ICMPV6_ROUTER_PREF.MEDIUM);
  assert.deepEqual(r.cacheinfo, NO_CACHE);

  const mp = decodeRoute(F.only(F.ROUTE_MULTIPATH_V6));
  assert.equal(mp.priority, 1024);
  assert.deepEqual(mp.multipath, [
    { flags: 0, weight: 2, ifindex: 24, gateway: ip('2001:db8::2'), unknown: [] },
    { flags: 0, weight: 1, ifindex: 24, gateway: ip('2001:db8::4'), unknown: [] },
  ]);

  const ex = decodeRoute(F.only(F.ROUTE_V6_EXPIRES));
  assert.equal(ex.pref, ICMPV6_ROUTER_PREF.HIGH);
  assert.equal(ex.expires, undefined, 'the kernel reports the lifetime in rta_cacheinfo, not RTA_EXPIRES');
  assert.equal(ex.cacheinfo?.expires, 29521, 'about 295 s of `expires 300` left, in USER_HZ ticks');
});

test('every golden decodes the same at offset 7 of a larger buffer, and is stable and lossless', () => {
  for (const g of GOLDENS) {
    assert.deepEqual(decodeRoute(F.only(F.embedded(g))), decodeRoute(F.only(g)));
    F.assertStable(g, codec);
    F.assertLossless(g, codec);
  }
});

test('table: absent, 0, 20 and 1000 are four different things on the wire', () => {
  const base: Route = { family: 2, dstLen: 0, srcLen: 0, tos: 0, protocol: 0, scope: 0, type: 1, flags: 0, unknown: [] };
  const roundTrip = (r: Route) => {
    const { fixed, attrs } = encodeRoute(r);
    return decodeRoute(F.only(encodeMessage({ type: RTM.NEWROUTE, flags: 0, seq: 0, pid: 0 }, fixed, attrs)));
  };
  assert.equal(roundTrip(base).table, undefined);
  assert.equal(roundTrip({ ...base, table: 0 }).table, 0);
  assert.equal(roundTrip({ ...base, table: 20 }).table, 20);
  assert.equal(roundTrip({ ...base, table: 1000 }).table, 1000);
  assert.equal(encodeRoute({ ...base, table: 1000 }).fixed[4], RT_TABLE.COMPAT);
  assert.equal(encodeRoute({ ...base }).attrs.length, 0, 'no RTA_TABLE when absent');
  // rtm_table alone (no RTA_TABLE), as old kernels and iproute2 requests send it.
  const bare = new Uint8Array(RTMSG_LEN);
  bare[0] = 2;
  bare[4] = 20;
  assert.equal(decodeRoute({ type: RTM.NEWROUTE, flags: 0, seq: 0, pid: 0, payload: bare }).table, 20);
});

test('replaceRoute builds what `ip route replace ... nexthop ... nexthop` sends (IPv4 and IPv6)', () => {
  const v4 = replaceRoute({
    family: RTNL_FAMILY.INET,
    table: 20,
    protocol: PROTO,
    multipath: [
      { flags: 0, weight: 2, ifindex: 0, gateway: ip('192.0.2.2'), unknown: [] },
      { flags: 0, weight: 1, ifindex: 0, gateway: ip('192.0.2.3'), unknown: [] },
    ],
  });
  const theirs = F.only(F.REQ_ROUTE_REPLACE_MULTIPATH);
  assert.equal(v4.type, RTM.NEWROUTE);
  assert.equal(v4.flags, NLM_F.REQUEST | NLM_F.CREATE | NLM_F.REPLACE);
  assert.equal(v4.flags, theirs.flags & ~NLM_F.ACK);
  assert.deepEqual(decoded(v4), decodeRoute(theirs));

  const hops: Nexthop[] = [
    { flags: 0, weight: 2, ifindex: 24, gateway: ip('2001:db8::2'), unknown: [] },
    { flags: 0, weight: 1, ifindex: 24, gateway: ip('2001:db8::4'), unknown: [] },
  ];
  const v6 = decoded(replaceRoute({ family: RTNL_FAMILY.INET6, table: 20, protocol: PROTO, multipath: hops }));
  // iproute2 also sends RTA_DST :: for "default"; the kernel reads dst_len 0 either way.
  const { dst, ...theirsV6 } = decodeRoute(F.only(F.REQ_ROUTE_REPLACE_MULTIPATH_V6));
  assert.deepEqual(dst, new Uint8Array(16));
  assert.deepEqual(v6, theirsV6);
});

test('addRoute, delRoute, getRoute, dumpRoutes say what iproute2 says', () => {
  const add = addRoute({ family: RTNL_FAMILY.INET, dst: ip('198.51.100.128'), dstLen: 25, gateway: ip('192.0.2.2'), table: 20, protocol: PROTO });
  assert.equal(add.flags, NLM_F.REQUEST | NLM_F.CREATE | NLM_F.EXCL);
  assert.deepEqual(decoded(add), decodeRoute(F.only(F.REQ_ROUTE_ADD)));

  // Delete: protocol and type unset (any) and scope RT_SCOPE_NOWHERE (any).
  const del = delRoute({ family: RTNL_FAMILY.INET, dst: ip('198.51.100.128'), dstLen: 25, table: 20 });
  assert.equal(del.type, RTM.DELROUTE);
  assert.equal(del.flags, NLM_F.REQUEST);
  assert.deepEqual(decoded(del), decodeRoute(F.only(F.REQ_ROUTE_DEL)));

  const get = getRoute(ip('198.51.100.2'));
  assert.equal(get.flags, NLM_F.REQUEST, 'a lookup, not a dump');
  assert.deepEqual(decoded(get), decodeRoute(F.only(F.REQ_ROUTE_GET)));
  const getV6 = decoded(getRoute(ip('2001:db8::3'), { src: ip('2001:db8::1'), oif: 24, mark: 7, fibMatch: true }));
  assert.equal(getV6.family, RTNL_FAMILY.INET6);
  assert.equal(getV6.dstLen, 128);
  assert.equal(getV6.srcLen, 128);
  assert.equal(getV6.oif, 24);
  assert.equal(getV6.mark, 7);
  assert.equal(getV6.flags, RTM_F.FIB_MATCH, 'IPv6 refuses RTM_F_LOOKUP_TABLE on a strict socket');
  assert.equal(decoded(getRoute(ip('198.51.100.2'), { fibMatch: true })).flags, RTM_F.LOOKUP_TABLE | RTM_F.FIB_MATCH);

  const dump = dumpRoutes(RTNL_FAMILY.INET, 20);
  assert.equal(dump.flags, NLM_F.REQUEST | NLM_F.DUMP);
  const d = decoded(dump);
  const theirs = decodeRoute(F.only(F.REQ_ROUTE_DUMP_TABLE));
  assert.equal(d.table, 20);
  assert.equal(theirs.table, 20);
  assert.equal(decoded(dumpRoutes(RTNL_FAMILY.INET6)).table, undefined, 'no table: every table');
  assert.equal(decoded(dumpRoutes(RTNL_FAMILY.INET, 1000)).table, 1000);
});

test('iproute2 defaults for scope and protocol', () => {
  const onLink = decoded(addRoute({ family: 2, dst: ip('198.51.100.0'), dstLen: 24, oif: 3 }));
  assert.equal(onLink.scope, RT_SCOPE.LINK, 'no gateway: scope link');
  assert.equal(onLink.protocol, RTPROT.BOOT);
  assert.equal(onLink.table, RT_TABLE.MAIN);
  assert.equal(onLink.type, RTN.UNICAST);
  assert.equal(decoded(addRoute({ family: 2, gateway: ip('192.0.2.1') })).scope, RT_SCOPE.UNIVERSE);
  assert.equal(decoded(addRoute({ family: 2, type: RTN.LOCAL, dst: ip('192.0.2.9') })).scope, RT_SCOPE.HOST);
  assert.equal(decoded(addRoute({ family: 2, type: RTN.BLACKHOLE, dst: ip('192.0.2.9') })).scope, RT_SCOPE.UNIVERSE);
  const del = decoded(delRoute({ family: 2 }));
  assert.equal(del.scope, RT_SCOPE.NOWHERE);
  assert.equal(del.protocol, RTPROT.UNSPEC);
  assert.equal(del.type, RTN.UNSPEC);
});

test('hostile bytes are DecodeErrors', () => {
  const msg = (payload: Uint8Array) => ({ type: RTM.NEWROUTE, flags: 0, seq: 0, pid: 0, payload });
  const withAttrs = (attrs: ReturnType<typeof nla.bytes>[], family = 2) => {
    const hdr = new Uint8Array(RTMSG_LEN);
    hdr[0] = family;
    return F.only(encodeMessage({ type: RTM.NEWROUTE, flags: 0, seq: 0, pid: 0 }, hdr, attrs));
  };
  assert.throws(() => decodeRoute(msg(new Uint8Array(11))), DecodeError, 'short rtmsg');
  assert.throws(() => decodeRoute(withAttrs([nla.bytes(RTA.DST, new Uint8Array(5))])), DecodeError, '5-byte IPv4 destination');
  assert.throws(() => decodeRoute(withAttrs([nla.bytes(RTA.GATEWAY, new Uint8Array(4))], 10)), DecodeError, '4-byte IPv6 gateway');
  assert.throws(() => decodeRoute(withAttrs([nla.bytes(RTA.CACHEINFO, new Uint8Array(20))])), DecodeError, 'short rta_cacheinfo');
  assert.throws(() => decodeRoute(withAttrs([nla.bytes(RTA.VIA, Uint8Array.of(10, 0, 1, 2, 3, 4))])), DecodeError, 'rtvia: IPv6 family, 4 bytes');
  assert.throws(() => decodeRoute(withAttrs([nla.bytes(RTA.VIA, Uint8Array.of(10))])), DecodeError, 'rtvia without a family');
  const hop = (len: number, extra: number[] = []) => Uint8Array.of(len & 0xff, len >> 8, 0, 0, 1, 0, 0, 0, ...extra);
  assert.throws(() => decodeRoute(withAttrs([nla.bytes(RTA.MULTIPATH, hop(4))])), DecodeError, 'rtnh_len below the header');
  assert.throws(() => decodeRoute(withAttrs([nla.bytes(RTA.MULTIPATH, hop(40))])), DecodeError, 'rtnh_len past the end');
  assert.throws(() => decodeRoute(withAttrs([nla.bytes(RTA.MULTIPATH, Uint8Array.of(...hop(8), 1, 2, 3, 4))])), DecodeError, 'a partial entry');
  assert.throws(() => decodeRoute(withAttrs([nla.bytes(RTA.METRICS, Uint8Array.of(8, 0, RTAX.MTU, 0, 1, 2))])), DecodeError, 'truncated metric');
  assert.throws(() => decodeRoute({ ...withAttrs([]), type: RTM.NEWRULE }), DecodeError, 'a rule is not a route');
});

test('encoding checks what it is given', () => {
  const base: Route = { family: 2, dstLen: 0, srcLen: 0, tos: 0, protocol: 0, scope: 0, type: 1, flags: 0, unknown: [] };
  const hop: Nexthop = { flags: 0, weight: 1, ifindex: 0, unknown: [] };
  assert.throws(() => encodeRoute({ ...base, multipath: [{ ...hop, weight: 0 }] }), RangeError);
  assert.throws(() => encodeRoute({ ...base, multipath: [{ ...hop, weight: 257 }] }), RangeError);
  assert.doesNotThrow(() => encodeRoute({ ...base, multipath: [{ ...hop, weight: 256 }] }));
  assert.throws(() => encodeRoute({ ...base, dst: ip('2001:db8::1') }), RangeError, 'IPv6 destination on an IPv4 route');
  assert.throws(() => encodeRoute({ ...base, dstLen: 300 }), RangeError);
  assert.throws(() => encodeRoute({ ...base, table: -1 }), RangeError);
});

test('property: hostile input decodes or throws DecodeError, and what decodes is stable', () => {
  F.fuzzCodec(codec, [RTM.NEWROUTE, RTM.DELROUTE], Object.values(RTA), GOLDENS);
});

const KNOWN = [RTA.TABLE, RTA.DST, RTA.SRC, RTA.GATEWAY, RTA.VIA, RTA.OIF, RTA.IIF, RTA.PRIORITY, RTA.PREFSRC, RTA.MULTIPATH, RTA.METRICS, RTA.CACHEINFO, RTA.PREF, RTA.EXPIRES, RTA.NH_ID, RTA.MARK, RTA.UID];
const via = fc.oneof(
  fc.record({ family: fc.constant(2), address: F.ipv4 }, { noNullPrototype: true }),
  fc.record({ family: fc.constant(10), address: F.ipv6 }, { noNullPrototype: true }),
);
const routeArb: fc.Arbitrary<Route> = fc.constantFrom([2, F.ipv4] as const, [10, F.ipv6] as const).chain(([family, addr]) => {
  const nexthop = fc.record(
    {
      flags: F.u8,
      weight: fc.integer({ min: 1, max: 256 }),
      ifindex: F.i32,
      gateway: addr,
      via,
      unknown: F.unknownAttributes([RTA.GATEWAY, RTA.VIA], 2),
    },
    { requiredKeys: ['flags', 'weight', 'ifindex', 'unknown'], noNullPrototype: true },
  );
  return fc.record(
    {
      family: fc.constant(family),
      dstLen: F.u8,
      srcLen: F.u8,
      tos: F.u8,
      table: F.u32,
      protocol: F.u8,
      scope: F.u8,
      type: F.u8,
      flags: F.u32,
      dst: addr,
      src: addr,
      gateway: addr,
      via,
      oif: F.u32,
      iif: F.u32,
      priority: F.u32,
      prefsrc: addr,
      multipath: fc.array(nexthop, { maxLength: 4 }),
      metrics: fc.record(
        { lock: F.u32, mtu: F.u32, advmss: F.u32, unknown: F.unknownAttributes([RTAX.LOCK, RTAX.MTU, RTAX.ADVMSS], 2) },
        { requiredKeys: ['unknown'], noNullPrototype: true },
      ),
      cacheinfo: fc.record(
        { clntref: F.u32, lastuse: F.u32, expires: F.i32, error: F.u32, used: F.u32, id: F.u32, ts: F.u32, tsage: F.u32 },
        { noNullPrototype: true },
      ),
      pref: F.u8,
      expires: F.u32,
      nhId: F.u32,
      mark: F.u32,
      uid: F.u32,
      unknown: F.unknownAttributes(KNOWN),
    },
    { requiredKeys: ['family', 'dstLen', 'srcLen', 'tos', 'protocol', 'scope', 'type', 'flags', 'unknown'], noNullPrototype: true },
  );
});

test('property: generated routes survive encode -> decode', () => {
  F.roundTripsValues(codec, RTM.NEWROUTE, routeArb);
});
