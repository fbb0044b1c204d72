// Addresses (struct ifaddrmsg + IFA_*) against RTM_NEWADDR messages captured from the kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  addAddress,
  type Address,
  decodeAddress,
  delAddress,
  dumpAddresses,
  encodeAddress,
  IFA,
  IFA_F,
  IFADDRMSG_LEN,
  INFINITY_LIFE_TIME,
} from '../../../src/wire/rtnl-address.js';
import { encodeMessage, NLM_F } from '../../../src/wire/netlink.js';
import { RT_SCOPE, RTM, RTNL_FAMILY, type RtnlRequest } from '../../../src/wire/rtnetlink.js';
import { parseAddress } from '../../../src/wire/ip-address.js';
import { DecodeError } from '../../../src/errors.js';
import * as F from './fixtures/rtnl.js';

const codec = { decode: decodeAddress, encode: encodeAddress, fixedLen: IFADDRMSG_LEN };
const GOLDENS = [F.ADDR_V4, F.ADDR_V6, F.ADDR_V6_LOOPBACK];
const ip = parseAddress;

function wire(req: RtnlRequest): Uint8Array {
  return encodeMessage({ type: req.type, flags: req.flags, seq: 0, pid: 0 }, req.fixed, req.attrs);
}

test('192.0.2.1/24 on veth0, field by field', () => {
  const a = decodeAddress(F.only(F.ADDR_V4));
  assert.equal(a.family, RTNL_FAMILY.INET);
  assert.equal(a.prefixlen, 24);
  assert.equal(a.flags, IFA_F.PERMANENT);
  assert.equal(a.scope, RT_SCOPE.UNIVERSE);
  assert.equal(a.index, 24);
  assert.deepEqual(a.address, ip('192.0.2.1'));
  assert.deepEqual(a.local, ip('192.0.2.1'));
  assert.equal(a.label, 'veth0');
  assert.deepEqual(a.cacheinfo, { preferred: INFINITY_LIFE_TIME, valid: INFINITY_LIFE_TIME, cstamp: 41628, tstamp: 41628 });
  assert.equal(a.broadcast, undefined, '`ip addr add` without `brd` sets none');
  assert.deepEqual(a.unknown, []);
});

test('2001:db8::1/64 nodad: IPv6 carries IFA_ADDRESS only, flags from IFA_FLAGS', () => {
  const a = decodeAddress(F.only(F.ADDR_V6));
  assert.equal(a.family, RTNL_FAMILY.INET6);
  assert.equal(a.prefixlen, 64);
  assert.equal(a.flags, IFA_F.PERMANENT | IFA_F.NODAD);
  assert.equal(a.index, 24);
  assert.deepEqual(a.address, ip('2001:db8::1'));
  assert.equal(a.local, undefined);
  assert.equal(a.label, undefined);

  const lo = decodeAddress(F.only(F.ADDR_V6_LOOPBACK));
  assert.deepEqual(lo.address, ip('::1'));
  assert.equal(lo.scope, RT_SCOPE.HOST);
  assert.equal(lo.protocol, 1, 'IFAPROT_KERNEL_LO');
});

test('IFA_FLAGS wins over ifa_flags', () => {
  // Flags above 0xff (IFA_F_NOPREFIXROUTE) only fit IFA_FLAGS; the u8 keeps the low bits.
  const { fixed, attrs } = encodeAddress({ family: 2, prefixlen: 24, flags: IFA_F.NOPREFIXROUTE | IFA_F.PERMANENT, scope: 0, index: 3, unknown: [] });
  assert.equal(fixed[2], IFA_F.PERMANENT);
  const a = decodeAddress(F.only(encodeMessage({ type: RTM.NEWADDR, flags: 0, seq: 0, pid: 0 }, fixed, attrs)));
  assert.equal(a.flags, IFA_F.NOPREFIXROUTE | IFA_F.PERMANENT);
  // Without IFA_FLAGS the u8 is all there is.
  const bare = F.only(F.ADDR_V4).payload.subarray(0, IFADDRMSG_LEN);
  assert.equal(decodeAddress({ type: RTM.NEWADDR, flags: 0, seq: 0, pid: 0, payload: bare }).flags, IFA_F.PERMANENT);
});

test('every golden decodes the same at offset 7 of a larger buffer, and is stable and lossless', () => {
  for (const g of GOLDENS) {
    assert.deepEqual(decodeAddress(F.only(F.embedded(g))), decodeAddress(F.only(g)));
    F.assertStable(g, codec);
    F.assertLossless(g, codec);
  }
});

test('addAddress / delAddress say what `ip addr add|del 192.0.2.9/24 dev veth0` says', () => {
  for (const [req, golden, flags] of [
    [addAddress({ index: 24, prefixlen: 24, local: ip('192.0.2.9') }), F.REQ_ADDR_ADD, NLM_F.REQUEST | NLM_F.CREATE | NLM_F.EXCL],
    [delAddress({ index: 24, prefixlen: 24, local: ip('192.0.2.9') }), F.REQ_ADDR_DEL, NLM_F.REQUEST],
  ] as const) {
    const theirs = F.only(golden);
    assert.equal(req.type, theirs.type);
    assert.equal(req.flags, flags);
    assert.equal(req.flags, theirs.flags & ~NLM_F.ACK);
    // iproute2 leaves IFA_FLAGS out when the flags fit the u8; both decode to the same address.
    assert.deepEqual(decodeAddress(F.only(wire(req))), decodeAddress(theirs));
  }
  const v6 = decodeAddress(F.only(wire(addAddress({ index: 5, prefixlen: 64, address: ip('2001:db8::9'), flags: IFA_F.NODAD }))));
  assert.equal(v6.family, RTNL_FAMILY.INET6);
  assert.deepEqual(v6.local, ip('2001:db8::9'));
  assert.equal(v6.flags, IFA_F.NODAD);

  const dump = dumpAddresses(RTNL_FAMILY.INET6);
  assert.equal(dump.type, RTM.GETADDR);
  assert.equal(dump.flags, NLM_F.REQUEST | NLM_F.DUMP);
  assert.deepEqual(dump.fixed, Uint8Array.of(10, 0, 0, 0, 0, 0, 0, 0));
  assert.throws(() => addAddress({ index: 1, prefixlen: 24 }), RangeError);
});

test('hostile bytes are DecodeErrors', () => {
  const msg = (payload: Uint8Array) => ({ type: RTM.NEWADDR, flags: 0, seq: 0, pid: 0, payload });
  assert.throws(() => decodeAddress(msg(new Uint8Array(7))), DecodeError);
  const good = F.only(F.ADDR_V4).payload;
  // IFA_ADDRESS of an AF_INET address claimed as AF_INET6.
  const wrongFamily = new Uint8Array(good);
  wrongFamily[0] = RTNL_FAMILY.INET6;
  assert.throws(() => decodeAddress(msg(wrongFamily)), DecodeError);
  // IFA_CACHEINFO cut to 12 bytes (and the message with it).
  const cut = new Uint8Array(good.subarray(0, good.byteLength - 4));
  new DataView(cut.buffer).setUint16(cut.byteLength - 16, 16, true);
  assert.throws(() => decodeAddress(msg(cut)), DecodeError);
});

test('property: hostile input decodes or throws DecodeError, and what decodes is stable', () => {
  F.fuzzCodec(codec, [RTM.NEWADDR, RTM.DELADDR], Object.values(IFA), GOLDENS);
});

const KNOWN = [IFA.ADDRESS, IFA.LOCAL, IFA.LABEL, IFA.BROADCAST, IFA.CACHEINFO, IFA.FLAGS, IFA.RT_PRIORITY, IFA.PROTO];
const addressArb: fc.Arbitrary<Address> = fc.oneof(fc.constant(F.ipv4), fc.constant(F.ipv6)).chain((addr) =>
  fc.record(
    {
      family: fc.constant(addr === F.ipv4 ? 2 : 10),
      prefixlen: F.u8,
      flags: F.u32,
      scope: F.u8,
      index: F.u32,
      address: addr,
      local: addr,
      label: F.ifname,
      broadcast: addr,
      cacheinfo: fc.record({ preferred: F.u32, valid: F.u32, cstamp: F.u32, tstamp: F.u32 }, { noNullPrototype: true }),
      routePriority: F.u32,
      protocol: F.u8,
      unknown: F.unknownAttributes(KNOWN),
    },
    { requiredKeys: ['family', 'prefixlen', 'flags', 'scope', 'index', 'unknown'], noNullPrototype: true },
  ),
);

test('property: generated addresses survive encode -> decode', () => {
  F.roundTripsValues(codec, RTM.NEWADDR, addressArb);
});
