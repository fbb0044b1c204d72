// Links (struct ifinfomsg + IFLA_*) against RTM_NEWLINK messages captured from the kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ARPHRD,
  decodeLink,
  dumpLinks,
  encodeLink,
  getLink,
  IFINFOMSG_LEN,
  IFLA,
  IFLA_INFO,
  type Link,
  type OperState,
  RTEXT_FILTER,
  setLinkDown,
  setLinkUp,
  setMtu,
} from '../../../src/wire/rtnl-link.js';
import { decodeAttributes, encodeAttributes, findAttribute, nla, nlaString, nlaU32 } from '../../../src/wire/netlink-attribute.js';
import { encodeMessage, NLM_F } from '../../../src/wire/netlink.js';
import { IFF, RTM, type RtnlRequest } from '../../../src/wire/rtnetlink.js';
import { DecodeError } from '../../../src/errors.js';
import * as F from './fixtures/rtnl.js';

const codec = { decode: decodeLink, encode: encodeLink, fixedLen: IFINFOMSG_LEN };
const GOLDENS = [F.LINK_VETH, F.LINK_BRIDGE, F.LINK_BRIDGE_PORT];

const mac = (s: string) => Uint8Array.from(s.split(':').map((h) => parseInt(h, 16)));
const BROADCAST = mac('ff:ff:ff:ff:ff:ff');

/** The request as the kernel would receive it (the socket adds seq, pid and NLM_F_ACK). */
function wire(req: RtnlRequest): Uint8Array {
  return encodeMessage({ type: req.type, flags: req.flags, seq: 0, pid: 0 }, req.fixed, req.attrs);
}

test('veth0: ifinfomsg and the typed IFLA_* attributes, field by field', () => {
  const l = decodeLink(F.only(F.LINK_VETH));
  assert.equal(l.family, 0);
  assert.equal(l.type, ARPHRD.ETHER);
  assert.equal(l.index, 24);
  assert.equal(l.flags, IFF.UP | IFF.BROADCAST | IFF.RUNNING | IFF.MULTICAST | IFF.LOWER_UP);
  assert.equal(l.change, 0);
  assert.equal(l.name, 'veth0');
  assert.equal(l.mtu, 1500);
  assert.equal(l.minMtu, 68);
  assert.equal(l.maxMtu, 65535);
  assert.equal(l.txqlen, 1000);
  assert.equal(l.group, 0);
  assert.equal(l.operstate, 'up');
  assert.deepEqual(l.address, mac('02:00:00:00:00:01'));
  assert.deepEqual(l.broadcast, BROADCAST);
  assert.equal(l.link, 23, 'the peer, veth0 of namespace R');
  assert.equal(l.linkNetnsid, 1);
  assert.equal(l.master, undefined);
  assert.deepEqual(l.linkinfo, { kind: 'veth', unknown: [] });
  const unknownTypes = l.unknown.map((a) => a.type);
  for (const t of [IFLA.STATS64, IFLA.STATS, IFLA.AF_SPEC, IFLA.QDISC, IFLA.CARRIER, IFLA.LINKMODE]) {
    assert.ok(unknownTypes.includes(t), `IFLA type ${t} kept in unknown`);
  }
  assert.equal(nlaString(findAttribute(l.unknown, IFLA.QDISC)!), 'noqueue');
});

test('br0: IFLA_INFO_DATA is kept raw and still parses as the bridge attributes', () => {
  const l = decodeLink(F.only(F.LINK_BRIDGE));
  assert.equal(l.index, 2);
  assert.equal(l.name, 'br0');
  assert.equal(l.flags, IFF.UP | IFF.BROADCAST | IFF.MULTICAST);
  assert.equal(l.operstate, 'down');
  assert.equal(l.mtu, 1400, 'a bridge takes the smallest MTU of its ports');
  assert.deepEqual(l.address, mac('02:00:00:00:00:20'));
  assert.equal(l.linkinfo?.kind, 'bridge');
  assert.equal(l.linkinfo?.slaveKind, undefined);
  const data = decodeAttributes(l.linkinfo!.data!);
  assert.equal(nlaU32(findAttribute(data, 1)!), 1500, 'IFLA_BR_FORWARD_DELAY: 15 s in centiseconds');
  assert.equal(nlaU32(findAttribute(data, 5)!), 0, 'IFLA_BR_STP_STATE: off');
});

test('vb0: a bridge port has IFLA_MASTER and IFLA_INFO_SLAVE_KIND', () => {
  const l = decodeLink(F.only(F.LINK_BRIDGE_PORT));
  assert.equal(l.index, 4);
  assert.equal(l.name, 'vb0');
  assert.equal(l.flags, IFF.UP | IFF.BROADCAST | IFF.MULTICAST, 'up, but no carrier: the peer vb1 is down');
  assert.equal(l.operstate, 'lowerlayerdown');
  assert.equal(l.mtu, 1400);
  assert.equal(l.master, 2);
  assert.equal(l.link, 3);
  assert.equal(l.linkNetnsid, undefined, 'the peer is in the same namespace');
  assert.equal(l.linkinfo?.kind, 'veth');
  assert.equal(l.linkinfo?.data, undefined);
  assert.equal(l.linkinfo?.slaveKind, 'bridge');
  assert.ok(l.linkinfo!.slaveData!.byteLength > 0);
});

test('every golden decodes the same at offset 7 of a larger buffer', () => {
  for (const g of GOLDENS) assert.deepEqual(decodeLink(F.only(F.embedded(g))), decodeLink(F.only(g)));
});

test('every golden is stable and lossless under decode -> encode', () => {
  for (const g of GOLDENS) {
    F.assertStable(g, codec);
    F.assertLossless(g, codec);
  }
});

test('requests match what iproute2 sends', () => {
  // `ip link set veth0 up` and `ip link set veth0 mtu 1500`: the same family header and attributes.
  for (const [req, golden] of [
    [setLinkUp(24), F.REQ_LINK_UP],
    [setMtu(24, 1500), F.REQ_LINK_MTU],
  ] as const) {
    const theirs = F.only(golden);
    const ours = F.only(wire(req));
    assert.equal(ours.type, theirs.type);
    assert.equal(ours.flags, theirs.flags & ~NLM_F.ACK);
    assert.deepEqual(ours.payload, theirs.payload);
  }
  const down = decodeLink(F.only(wire(setLinkDown(24))));
  assert.equal(down.flags, 0);
  assert.equal(down.change, IFF.UP, 'only IFF_UP changes');
});

test('getLink by index or by name, dumpLinks', () => {
  const byIndex = getLink(7);
  assert.equal(byIndex.type, RTM.GETLINK);
  assert.equal(byIndex.flags, NLM_F.REQUEST);
  const l = decodeLink(F.only(wire(byIndex)));
  assert.equal(l.index, 7);
  assert.equal(l.name, undefined);

  const byName = decodeLink(F.only(wire(getLink('veth0'))));
  assert.equal(byName.index, 0);
  assert.equal(byName.name, 'veth0');

  const dump = dumpLinks();
  assert.equal(dump.flags, NLM_F.REQUEST | NLM_F.DUMP);
  const d = decodeLink(F.only(wire(dump)));
  assert.equal(nlaU32(findAttribute(d.unknown, IFLA.EXT_MASK)!), RTEXT_FILTER.SKIP_STATS);
});

test('hostile bytes are DecodeErrors', () => {
  const msg = (payload: Uint8Array, type: number = RTM.NEWLINK) => ({ type, flags: 0, seq: 0, pid: 0, payload });
  const hdr = new Uint8Array(IFINFOMSG_LEN);
  assert.throws(() => decodeLink(msg(hdr.subarray(0, 15))), DecodeError, 'short ifinfomsg');
  assert.throws(() => decodeLink(msg(hdr, RTM.NEWROUTE)), DecodeError, 'not a link message');
  const withAttr = (a: { type: number; value: Uint8Array }) => {
    const { fixed, attrs } = encodeLink({ family: 0, type: 1, index: 1, flags: 0, change: 0, unknown: [{ ...a, flags: 0 }] });
    return F.only(encodeMessage({ type: RTM.NEWLINK, flags: 0, seq: 0, pid: 0 }, fixed, attrs));
  };
  assert.throws(() => decodeLink(withAttr({ type: IFLA.MTU, value: new Uint8Array(2) })), DecodeError, 'IFLA_MTU of 2 bytes');
  assert.throws(() => decodeLink(withAttr({ type: IFLA.IFNAME, value: Uint8Array.of(0x65, 0x74, 0x68) })), DecodeError, 'name without NUL');
  assert.throws(() => decodeLink(withAttr({ type: IFLA.IFNAME, value: Uint8Array.of(0xff, 0xfe, 0) })), DecodeError, 'name not UTF-8');
  assert.throws(() => decodeLink(withAttr({ type: IFLA.LINKINFO, value: Uint8Array.of(9, 0, 1, 0) })), DecodeError, 'nested length past the end');
  // An IF_OPER value the kernel does not define is kept raw, not guessed.
  const odd = decodeLink(withAttr({ type: IFLA.OPERSTATE, value: Uint8Array.of(42) }));
  assert.equal(odd.operstate, undefined);
  assert.deepEqual(odd.unknown, [{ type: IFLA.OPERSTATE, flags: 0, value: Uint8Array.of(42) }]);
});

test('encoding checks what it is given', () => {
  const base: Link = { family: 0, type: 1, index: 1, flags: 0, change: 0, unknown: [] };
  assert.throws(() => encodeLink({ ...base, mtu: -1 }), RangeError);
  assert.throws(() => encodeLink({ ...base, name: 'a\0b' }), RangeError);
  assert.throws(() => encodeLink({ ...base, index: 2 ** 31 }), RangeError);
});

test('property: hostile input decodes or throws DecodeError, and what decodes is stable', () => {
  F.fuzzCodec(codec, [RTM.NEWLINK, RTM.DELLINK], Object.values(IFLA), GOLDENS);
});

const OPER: readonly OperState[] = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'];
const KNOWN_IFLA = [IFLA.IFNAME, IFLA.MTU, IFLA.MIN_MTU, IFLA.MAX_MTU, IFLA.ADDRESS, IFLA.BROADCAST, IFLA.OPERSTATE, IFLA.LINK, IFLA.MASTER, IFLA.TXQLEN, IFLA.GROUP, IFLA.LINK_NETNSID, IFLA.LINKINFO];
const KNOWN_INFO = Object.values(IFLA_INFO).filter((t) => t !== IFLA_INFO.XSTATS);

const linkArb: fc.Arbitrary<Link> = fc.record(
  {
    family: F.u8,
    type: F.u16,
    index: F.i32,
    flags: F.u32,
    change: F.u32,
    name: F.ifname,
    mtu: F.u32,
    minMtu: F.u32,
    maxMtu: F.u32,
    address: fc.uint8Array({ maxLength: 20 }),
    broadcast: fc.uint8Array({ maxLength: 20 }),
    operstate: fc.constantFrom(...OPER),
    link: F.u32,
    master: F.u32,
    txqlen: F.u32,
    group: F.u32,
    linkNetnsid: F.i32,
    linkinfo: fc.record(
      {
        kind: fc.constantFrom('veth', 'bridge', 'vxlan', 'ipip', 'wireguard'),
        data: fc.constant(encodeAttributes([nla.u32(1, 42)])),
        slaveKind: fc.constantFrom('bridge', 'bond'),
        slaveData: fc.uint8Array({ maxLength: 8 }).map((v) => encodeAttributes([nla.bytes(2, v)])),
        unknown: F.unknownAttributes(KNOWN_INFO, 2),
      },
      { requiredKeys: ['unknown'], noNullPrototype: true },
    ),
    unknown: F.unknownAttributes(KNOWN_IFLA),
  },
  { requiredKeys: ['family', 'type', 'index', 'flags', 'change', 'unknown'], noNullPrototype: true },
);

test('property: generated links survive encode -> decode', () => {
  F.roundTripsValues(codec, RTM.NEWLINK, linkArb);
});
