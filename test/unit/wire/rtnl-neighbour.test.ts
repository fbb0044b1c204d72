// Neighbours (struct ndmsg + NDA_*) against RTM_NEWNEIGH messages captured from the kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeNeighbour,
  dumpNeighbours,
  encodeNeighbour,
  NDA,
  NDMSG_LEN,
  type Neighbour,
  resolveNeighbour,
} from '../../../src/wire/rtnl-neighbour.js';
import { encodeMessage, NLM_F } from '../../../src/wire/netlink.js';
import { nla } from '../../../src/wire/netlink-attribute.js';
import { NTF, NUD, RTM, RTN, RTNL_FAMILY, type RtnlRequest } from '../../../src/wire/rtnetlink.js';
import { parseAddress } from '../../../src/wire/ip-address.js';
import { DecodeError } from '../../../src/errors.js';
import * as F from './fixtures/rtnl.js';

const codec = { decode: decodeNeighbour, encode: encodeNeighbour, fixedLen: NDMSG_LEN };
const GOLDENS = [F.NEIGH_REACHABLE, F.NEIGH_PERMANENT, F.NEIGH_PERMANENT_V6, F.NEIGH_MULTICAST_V6];
const ip = parseAddress;
const mac = (s: string) => Uint8Array.from(s.split(':').map((h) => parseInt(h, 16)));

function wire(req: RtnlRequest): Uint8Array {
  return encodeMessage({ type: req.type, flags: req.flags, seq: 0, pid: 0 }, req.fixed, req.attrs);
}

test('192.0.2.2 learned by ARP: NUD_REACHABLE, field by field', () => {
  assert.deepEqual(decodeNeighbour(F.only(F.NEIGH_REACHABLE)), {
    family: RTNL_FAMILY.INET,
    ifindex: 24,
    state: NUD.REACHABLE,
    flags: 0,
    type: RTN.UNICAST,
    dst: ip('192.0.2.2'),
    lladdr: mac('02:00:00:00:00:02'),
    probes: 4,
    cacheinfo: { confirmed: 2332, used: 2332, updated: 2332, refcnt: 1 },
    unknown: [],
  });
});

test('permanent entries (IPv4 and IPv6) and an IPv6 multicast NOARP entry', () => {
  const p = decodeNeighbour(F.only(F.NEIGH_PERMANENT));
  assert.equal(p.state, NUD.PERMANENT);
  assert.deepEqual(p.dst, ip('192.0.2.3'));
  assert.deepEqual(p.lladdr, mac('02:00:00:00:00:03'));
  assert.equal(p.probes, 0);
  const p6 = decodeNeighbour(F.only(F.NEIGH_PERMANENT_V6));
  assert.equal(p6.family, RTNL_FAMILY.INET6);
  assert.equal(p6.state, NUD.PERMANENT);
  assert.deepEqual(p6.dst, ip('2001:db8::3'));
  assert.deepEqual(p6.lladdr, mac('02:00:00:00:00:03'));
  const m = decodeNeighbour(F.only(F.NEIGH_MULTICAST_V6));
  assert.equal(m.state, NUD.NOARP);
  assert.equal(m.type, RTN.MULTICAST);
  assert.deepEqual(m.dst, ip('ff02::2'));
  assert.deepEqual(m.lladdr, mac('33:33:00:00:00:02'), 'RFC 2464 §7: 33:33 + the low 32 bits');
  assert.deepEqual(m.cacheinfo, { confirmed: 8592, used: 2592, updated: 2592, refcnt: 0 });
});

test('every golden decodes the same at offset 7 of a larger buffer, and is stable and lossless', () => {
  for (const g of GOLDENS) {
    assert.deepEqual(decodeNeighbour(F.only(F.embedded(g))), decodeNeighbour(F.only(g)));
    F.assertStable(g, codec);
    F.assertLossless(g, codec);
  }
});

test('resolveNeighbour is `ip neigh replace 192.0.2.7 dev veth0 nud none use`, byte for byte', () => {
  const req = resolveNeighbour(24, ip('192.0.2.7'));
  const theirs = F.only(F.REQ_NEIGH_USE);
  assert.equal(req.type, RTM.NEWNEIGH);
  assert.equal(req.flags, NLM_F.REQUEST | NLM_F.CREATE | NLM_F.REPLACE);
  assert.equal(req.flags, theirs.flags & ~NLM_F.ACK);
  assert.deepEqual(F.only(wire(req)).payload, theirs.payload);
  const n = decodeNeighbour(theirs);
  assert.equal(n.state, NUD.NONE);
  assert.equal(n.flags, NTF.USE);
  assert.equal(n.lladdr, undefined, 'nothing pinned');

  const v6 = decodeNeighbour(F.only(wire(resolveNeighbour(3, ip('2001:db8::7')))));
  assert.equal(v6.family, RTNL_FAMILY.INET6);
  assert.deepEqual(v6.dst, ip('2001:db8::7'));
  assert.throws(() => resolveNeighbour(3, new Uint8Array(6)), RangeError);
});

test('dumpNeighbours filters a device through NDA_IFINDEX, as `ip neigh show dev veth0`', () => {
  const req = dumpNeighbours(RTNL_FAMILY.UNSPEC, 24);
  assert.equal(req.flags, NLM_F.REQUEST | NLM_F.DUMP);
  assert.deepEqual(F.only(wire(req)).payload, F.only(F.REQ_NEIGH_DUMP_DEV).payload);
  const all = decodeNeighbour(F.only(wire(dumpNeighbours(RTNL_FAMILY.INET6))));
  assert.equal(all.family, RTNL_FAMILY.INET6);
  assert.equal(all.ifindex, 0);
  assert.deepEqual(all.unknown, []);
});

test('hostile bytes are DecodeErrors', () => {
  const withAttrs = (attrs: ReturnType<typeof nla.bytes>[]) => {
    const hdr = new Uint8Array(NDMSG_LEN);
    hdr[0] = RTNL_FAMILY.INET6;
    return F.only(encodeMessage({ type: RTM.NEWNEIGH, flags: 0, seq: 0, pid: 0 }, hdr, attrs));
  };
  assert.throws(() => decodeNeighbour({ type: RTM.NEWNEIGH, flags: 0, seq: 0, pid: 0, payload: new Uint8Array(11) }), DecodeError);
  assert.throws(() => decodeNeighbour(withAttrs([nla.bytes(NDA.DST, new Uint8Array(4))])), DecodeError, 'IPv4 address in an IPv6 entry');
  assert.throws(() => decodeNeighbour(withAttrs([nla.bytes(NDA.CACHEINFO, new Uint8Array(12))])), DecodeError);
  assert.throws(() => decodeNeighbour(withAttrs([nla.bytes(NDA.PROBES, new Uint8Array(2))])), DecodeError);
  assert.throws(() => decodeNeighbour({ ...withAttrs([]), type: RTM.NEWLINK }), DecodeError);
});

test('property: hostile input decodes or throws DecodeError, and what decodes is stable', () => {
  F.fuzzCodec(codec, [RTM.NEWNEIGH, RTM.DELNEIGH], Object.values(NDA), GOLDENS);
});

const neighbourArb: fc.Arbitrary<Neighbour> = fc.constantFrom([2, F.ipv4] as const, [10, F.ipv6] as const).chain(([family, addr]) =>
  fc.record(
    {
      family: fc.constant(family),
      ifindex: F.i32,
      state: F.u16,
      flags: F.u8,
      type: F.u8,
      dst: addr,
      lladdr: fc.uint8Array({ maxLength: 20 }),
      cacheinfo: fc.record({ confirmed: F.u32, used: F.u32, updated: F.u32, refcnt: F.u32 }, { noNullPrototype: true }),
      probes: F.u32,
      unknown: F.unknownAttributes([NDA.DST, NDA.LLADDR, NDA.CACHEINFO, NDA.PROBES]),
    },
    { requiredKeys: ['family', 'ifindex', 'state', 'flags', 'type', 'unknown'], noNullPrototype: true },
  ),
);

test('property: generated neighbours survive encode -> decode', () => {
  F.roundTripsValues(codec, RTM.NEWNEIGH, neighbourArb);
});
