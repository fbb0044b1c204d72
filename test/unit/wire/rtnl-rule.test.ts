// Rules (struct fib_rule_hdr + FRA_*) against RTM_NEWRULE messages captured from the kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { addRule, decodeRule, delRule, dumpRules, encodeRule, FIB_RULE_HDR_LEN, FRA, type Rule } from '../../../src/wire/rtnl-rule.js';
import { encodeMessage, NLM_F } from '../../../src/wire/netlink.js';
import { nla } from '../../../src/wire/netlink-attribute.js';
import { FIB_RULE, FR_ACT, RT_TABLE, RTM, RTNL_FAMILY, RTPROT, type RtnlRequest } from '../../../src/wire/rtnetlink.js';
import { parseAddress } from '../../../src/wire/ip-address.js';
import { DecodeError } from '../../../src/errors.js';
import * as F from './fixtures/rtnl.js';

const codec = { decode: decodeRule, encode: encodeRule, fixedLen: FIB_RULE_HDR_LEN };
const GOLDENS = [
  F.RULE_LOCAL_V4,
  F.RULE_SUPPRESS_PREFIXLEN,
  F.RULE_FROM_V4,
  F.RULE_SELECTORS,
  F.RULE_SUPPRESS_IFGROUP,
  F.RULE_BLACKHOLE,
  F.RULE_L3MDEV,
  F.RULE_FROM_V6,
];
const ip = parseAddress;

function wire(req: RtnlRequest): Uint8Array {
  return encodeMessage({ type: req.type, flags: req.flags, seq: 0, pid: 0 }, req.fixed, req.attrs);
}
const decoded = (req: RtnlRequest) => decodeRule(F.only(wire(req)));

test('`from 203.0.113.0/24 lookup 20 pref 20 proto 240`, field by field', () => {
  const r = decodeRule(F.only(F.RULE_FROM_V4));
  assert.deepEqual(r, {
    family: RTNL_FAMILY.INET,
    dstLen: 0,
    srcLen: 24,
    tos: 0,
    table: 20,
    action: FR_ACT.TO_TBL,
    flags: 0,
    suppressPrefixlen: -1,
    protocol: 240,
    priority: 20,
    src: ip('203.0.113.0'),
    unknown: [],
  });
  const v6 = decodeRule(F.only(F.RULE_FROM_V6));
  assert.equal(v6.family, RTNL_FAMILY.INET6);
  assert.equal(v6.srcLen, 48);
  assert.deepEqual(v6.src, ip('2001:db8:2::'));
  assert.equal(v6.table, 20);
  assert.equal(v6.priority, 20);
  assert.equal(v6.protocol, 240);
});

test('suppress_prefixlength is signed: 0 is a value, -1 is "unset", both reported', () => {
  const s = decodeRule(F.only(F.RULE_SUPPRESS_PREFIXLEN));
  assert.equal(s.suppressPrefixlen, 0);
  assert.equal(s.table, RT_TABLE.MAIN);
  assert.equal(s.priority, 19);
  assert.equal(s.src, undefined, 'from all');
  assert.equal(decodeRule(F.only(F.RULE_FROM_V4)).suppressPrefixlen, -1);
  const g = decodeRule(F.only(F.RULE_SUPPRESS_IFGROUP));
  assert.equal(g.suppressIfgroup, 5);
  assert.equal(g.priority, 31);
});

test('the local rule has no FRA_PRIORITY: priority 0 is absent, not 0', () => {
  const r = decodeRule(F.only(F.RULE_LOCAL_V4));
  assert.equal(r.priority, undefined);
  assert.equal(r.table, RT_TABLE.LOCAL);
  assert.equal(r.protocol, RTPROT.KERNEL);
});

test('`not fwmark 0x10/0xff iif veth0 oif lo uidrange 100-200 ipproto tcp sport 1000-2000 dport 443 lookup 30`', () => {
  const r = decodeRule(F.only(F.RULE_SELECTORS));
  assert.equal(r.flags, FIB_RULE.INVERT);
  assert.equal(r.table, 30);
  assert.equal(r.priority, 30);
  assert.equal(r.fwmark, 0x10);
  assert.equal(r.fwmask, 0xff);
  assert.equal(r.iifname, 'veth0');
  assert.equal(r.oifname, 'lo');
  assert.deepEqual(r.uidRange, { start: 100, end: 200 });
  assert.equal(r.ipProto, 6);
  assert.deepEqual(r.sportRange, { start: 1000, end: 2000 });
  assert.deepEqual(r.dportRange, { start: 443, end: 443 });
  // FRA_DPORT_MASK (29) is newer than this module: kept, not lost.
  assert.deepEqual(r.unknown, [{ type: 29, flags: 0, value: Uint8Array.of(0xff, 0xff) }]);
});

test('blackhole and l3mdev rules: FRA_TABLE 0 is an explicit 0', () => {
  const b = decodeRule(F.only(F.RULE_BLACKHOLE));
  assert.equal(b.action, FR_ACT.BLACKHOLE);
  assert.equal(b.table, 0);
  assert.equal(b.fwmark, 1);
  assert.equal(b.fwmask, 0xffffffff, 'a mark without a mask matches all 32 bits');
  const l = decodeRule(F.only(F.RULE_L3MDEV));
  assert.equal(l.l3mdev, 1);
  assert.equal(l.table, 0);
  assert.equal(l.priority, 1000);
});

test('every golden decodes the same at offset 7 of a larger buffer, and is stable and lossless', () => {
  for (const g of GOLDENS) {
    assert.deepEqual(decodeRule(F.only(F.embedded(g))), decodeRule(F.only(g)));
    F.assertStable(g, codec);
    F.assertLossless(g, codec);
  }
});

test('addRule / delRule / dumpRules say what iproute2 says', () => {
  const spec = { family: RTNL_FAMILY.INET, src: ip('198.51.100.0'), srcLen: 24, table: 20, priority: 21, protocol: 240 };
  const add = addRule(spec);
  assert.equal(add.type, RTM.NEWRULE);
  assert.equal(add.flags, NLM_F.REQUEST | NLM_F.CREATE | NLM_F.EXCL);
  // iproute2 puts a table below 256 in the header only; both decode to the same rule.
  assert.deepEqual(decoded(add), decodeRule(F.only(F.REQ_RULE_ADD)));

  const del = delRule(spec);
  assert.equal(del.type, RTM.DELRULE);
  assert.equal(del.flags, NLM_F.REQUEST);
  assert.deepEqual(decoded(del), decodeRule(F.only(F.REQ_RULE_DEL)));
  assert.equal(decoded(del).action, FR_ACT.UNSPEC, 'delete: any action');

  const dump = dumpRules(RTNL_FAMILY.INET);
  assert.equal(dump.flags, NLM_F.REQUEST | NLM_F.DUMP);
  assert.deepEqual(F.only(wire(dump)).payload, F.only(F.REQ_RULE_DUMP).payload);
});

test('a dumped rule passed to delRule names exactly that rule', () => {
  const dumped = decodeRule(F.only(F.RULE_SUPPRESS_PREFIXLEN));
  const del = decoded(delRule(dumped));
  assert.deepEqual(del, dumped);
});

test('addRule defaults: lookup main; a non-lookup action carries no table', () => {
  const r = decoded(addRule({ family: RTNL_FAMILY.INET, priority: 5 }));
  assert.equal(r.action, FR_ACT.TO_TBL);
  assert.equal(r.table, RT_TABLE.MAIN);
  const bh = decoded(addRule({ family: RTNL_FAMILY.INET6, action: FR_ACT.BLACKHOLE, fwmark: 1 }));
  assert.equal(bh.table, undefined);
  const big = decoded(addRule({ family: RTNL_FAMILY.INET, table: 100000 }));
  assert.equal(big.table, 100000);
  assert.equal(addRule({ family: RTNL_FAMILY.INET, table: 100000 }).fixed[4], RT_TABLE.COMPAT);
});

test('hostile bytes are DecodeErrors', () => {
  const withAttrs = (attrs: ReturnType<typeof nla.bytes>[]) => {
    const hdr = new Uint8Array(FIB_RULE_HDR_LEN);
    hdr[0] = RTNL_FAMILY.INET;
    return F.only(encodeMessage({ type: RTM.NEWRULE, flags: 0, seq: 0, pid: 0 }, hdr, attrs));
  };
  assert.throws(() => decodeRule({ type: RTM.NEWRULE, flags: 0, seq: 0, pid: 0, payload: new Uint8Array(11) }), DecodeError);
  assert.throws(() => decodeRule(withAttrs([nla.bytes(FRA.SUPPRESS_PREFIXLEN, new Uint8Array(3))])), DecodeError);
  assert.throws(() => decodeRule(withAttrs([nla.bytes(FRA.SRC, new Uint8Array(16))])), DecodeError, 'IPv6 source in an IPv4 rule');
  assert.throws(() => decodeRule(withAttrs([nla.bytes(FRA.UID_RANGE, new Uint8Array(4))])), DecodeError);
  assert.throws(() => decodeRule(withAttrs([nla.bytes(FRA.IIFNAME, Uint8Array.of(0x61, 0, 0x62, 0))])), DecodeError, 'embedded NUL');
  assert.throws(() => decodeRule({ ...withAttrs([]), type: RTM.NEWNEIGH }), DecodeError);
});

test('encoding checks what it is given', () => {
  const base: Rule = { family: 2, dstLen: 0, srcLen: 0, tos: 0, action: 1, flags: 0, unknown: [] };
  assert.throws(() => encodeRule({ ...base, suppressPrefixlen: 2 ** 31 }), RangeError);
  assert.throws(() => encodeRule({ ...base, src: ip('2001:db8::') }), RangeError);
  assert.throws(() => encodeRule({ ...base, sportRange: { start: 0, end: 70000 } }), RangeError);
  assert.doesNotThrow(() => encodeRule({ ...base, suppressPrefixlen: -1 }));
});

test('property: hostile input decodes or throws DecodeError, and what decodes is stable', () => {
  F.fuzzCodec(codec, [RTM.NEWRULE, RTM.DELRULE], Object.values(FRA), GOLDENS);
});

const KNOWN = [
  FRA.TABLE, FRA.PRIORITY, FRA.SRC, FRA.DST, FRA.FWMARK, FRA.FWMASK, FRA.IIFNAME, FRA.OIFNAME, FRA.SUPPRESS_PREFIXLEN,
  FRA.SUPPRESS_IFGROUP, FRA.GOTO, FRA.PROTOCOL, FRA.L3MDEV, FRA.IP_PROTO, FRA.UID_RANGE, FRA.SPORT_RANGE, FRA.DPORT_RANGE,
];
const range = (max: number) => fc.record({ start: fc.integer({ min: 0, max }), end: fc.integer({ min: 0, max }) }, { noNullPrototype: true });
const ruleArb: fc.Arbitrary<Rule> = fc.constantFrom([2, F.ipv4] as const, [10, F.ipv6] as const).chain(([family, addr]) =>
  fc.record(
    {
      family: fc.constant(family),
      dstLen: F.u8,
      srcLen: F.u8,
      tos: F.u8,
      table: F.u32,
      action: F.u8,
      flags: F.u32,
      priority: F.u32,
      src: addr,
      dst: addr,
      fwmark: F.u32,
      fwmask: F.u32,
      iifname: F.ifname,
      oifname: F.ifname,
      suppressPrefixlen: F.i32,
      suppressIfgroup: F.i32,
      goto: F.u32,
      protocol: F.u8,
      l3mdev: F.u8,
      uidRange: range(0xffffffff),
      ipProto: F.u8,
      sportRange: range(0xffff),
      dportRange: range(0xffff),
      unknown: F.unknownAttributes(KNOWN),
    },
    { requiredKeys: ['family', 'dstLen', 'srcLen', 'tos', 'action', 'flags', 'unknown'], noNullPrototype: true },
  ),
);

test('property: generated rules survive encode -> decode', () => {
  F.roundTripsValues(codec, RTM.NEWRULE, ruleArb);
});
