// Tunnel devices (IFLA_LINKINFO kind ipip / ip6tnl, IFLA_INFO_DATA IFLA_IPTUN_*)
// against the requests iproute2 sends and the answer this kernel gives.
//
// Captured on Linux 6.18 (no ipip, no ip6_tunnel module) with iproute2 6.1,
// inside an empty network namespace:
//   strace -e trace=sendmsg,recvmsg -e write=3 -e read=3 -s 4096 -xx ip link add ipip0 type ipip external
//   strace -e trace=sendmsg -e write=3 -s 4096 -xx ip link add ipip60 type ip6tnl external
// strace records the request although the kernel refuses it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTunnelData, decodeLink, encodeLink, IFLA, IFLA_IPTUN, newTunnelLink, setLinkAliasUp, delLink } from '../../../src/wire/rtnl-link.js';
import { decodeAttributes, encodeAttributes, nla, nlaString } from '../../../src/wire/netlink-attribute.js';
import { decodeErrorPayload, decodeMessages, encodeMessage, NLM_F, NLMSG } from '../../../src/wire/netlink.js';
import { IFF, RTM, type RtnlRequest } from '../../../src/wire/rtnetlink.js';
import { DecodeError } from '../../../src/errors.js';
import { atOffset, hex } from '../../harness/bytes.js';

const SEQ = 0x6b14d3bf;

/** The request as iproute2 hands it to sendmsg: the socket adds NLM_F_ACK and the sequence number. */
function wire(req: RtnlRequest): Uint8Array {
  return encodeMessage({ type: req.type, flags: req.flags | NLM_F.ACK, seq: SEQ, pid: 0 }, req.fixed, req.attrs);
}

const IPIP_ADD = hex(`
  48000000 1000 0506 bfd3146b 00000000    // nlmsghdr: len 72, RTM_NEWLINK, REQUEST|ACK|EXCL|CREATE, seq, pid 0
  00 00 0000 00000000 00000000 00000000   // ifinfomsg: AF_UNSPEC, pad, type 0, index 0, flags 0, change 0
  0a000300 69706970 30000000              // IFLA_IFNAME "ipip0\\0" (+2 pad)
  1c001200                                // IFLA_LINKINFO, 28 bytes, not flagged nested
    08000100 69706970                     //   IFLA_INFO_KIND "ipip" (no NUL: addattr_l with strlen)
    10000200                              //   IFLA_INFO_DATA, 16 bytes
      05000900 00 000000                  //     IFLA_IPTUN_PROTO 0 (any)
      04001300                            //     IFLA_IPTUN_COLLECT_METADATA (flag): external
`);

const IP6TNL_ADD = hex(`
  4c000000 1000 0506 bfd3146b 00000000    // nlmsghdr: len 76, RTM_NEWLINK, REQUEST|ACK|EXCL|CREATE
  00 00 0000 00000000 00000000 00000000   // ifinfomsg
  0b000300 69706970 36300000              // IFLA_IFNAME "ipip60\\0" (+1 pad)
  20001200                                // IFLA_LINKINFO, 32 bytes
    0a000100 69703674 6e6c0000            //   IFLA_INFO_KIND "ip6tnl" (no NUL, +2 pad)
    10000200                              //   IFLA_INFO_DATA
      05000900 00 000000                  //     IFLA_IPTUN_PROTO 0 (any: IPv4 and IPv6 inside)
      04001300                            //     IFLA_IPTUN_COLLECT_METADATA
`);

// The kernel's answer to IPIP_ADD (recvmsg, 116 bytes): NLMSG_ERROR with
// NLM_F_ACK_TLVS, error -95 (EOPNOTSUPP), the whole request quoted, then
// NLMSGERR_ATTR_MSG "Unknown device type".
const IPIP_REFUSED = hex(`
  74000000 0200 0002 bfd3146b d0350000    // nlmsghdr: len 116, NLMSG_ERROR, NLM_F_ACK_TLVS, seq, pid 13776
  a1ffffff                                // error -95
  48000000 1000 0506 bfd3146b 00000000    // the request, quoted whole
  00000000 00000000 00000000 00000000
  0a000300 69706970 30000000
  1c001200 08000100 69706970 10000200 05000900 00000000 04001300
  18000100 556e6b6e 6f776e20 64657669 63652074 79706500   // NLMSGERR_ATTR_MSG "Unknown device type\\0"
`);

test('ip link add ipip0 type ipip external: the same bytes as iproute2', () => {
  assert.deepEqual(wire(newTunnelLink({ name: 'ipip0', kind: 'ipip', external: true })), IPIP_ADD);
});

test('ip link add ipip60 type ip6tnl external: the same bytes as iproute2', () => {
  assert.deepEqual(wire(newTunnelLink({ name: 'ipip60', kind: 'ip6tnl', external: true })), IP6TNL_ADD);
});

test('without external there is no IFLA_IPTUN_COLLECT_METADATA; the proto is written as given', () => {
  const req = newTunnelLink({ name: 't', kind: 'ipip', external: false, proto: 4 });
  const info = decodeAttributes(req.attrs[1]!.value);
  const data = decodeTunnelData(info[1]!.value);
  assert.deepEqual(data, { proto: 4, collectMetadata: false, hasRemote: false });
  assert.throws(() => newTunnelLink({ name: 't', kind: 'ipip', external: true, proto: 256 }), RangeError);
  assert.throws(() => newTunnelLink({ name: 'a\0b', kind: 'ipip', external: true }), RangeError);
});

test("this kernel's refusal decodes to EOPNOTSUPP with the text iproute2 prints, also at an offset", () => {
  for (const bytes of [IPIP_REFUSED, atOffset(IPIP_REFUSED)]) {
    const [m] = decodeMessages(bytes);
    assert.equal(m!.type, NLMSG.ERROR);
    const e = decodeErrorPayload(m!);
    assert.equal(e.errno, 95, 'EOPNOTSUPP');
    assert.equal(e.ackText, 'Unknown device type');
    assert.equal(e.request.type, RTM.NEWLINK);
    assert.equal(e.request.seq, SEQ);
  }
});

test('the request read back: its IFLA_INFO_DATA says external', () => {
  // decodeLink insists on the NUL the kernel always sends, which iproute2's kind lacks; read the nest by hand
  const [m] = decodeMessages(IPIP_ADD);
  const attrs = decodeAttributes(m!.payload.subarray(16));
  const info = decodeAttributes(attrs.find((a) => a.type === IFLA.LINKINFO)!.value);
  assert.equal(new TextDecoder().decode(info[0]!.value), 'ipip');
  assert.deepEqual(decodeTunnelData(info[1]!.value), { proto: 0, collectMetadata: true, hasRemote: false });
});

test('decodeTunnelData: a remote address makes a point-to-point tunnel; bad lengths are DecodeErrors', () => {
  const remote = encodeAttributes([nla.bytes(IFLA_IPTUN.REMOTE, Uint8Array.of(192, 0, 2, 1)), nla.flag(IFLA_IPTUN.COLLECT_METADATA)]);
  assert.deepEqual(decodeTunnelData(atOffset(remote)), { collectMetadata: true, hasRemote: true });
  const zero = encodeAttributes([nla.bytes(IFLA_IPTUN.REMOTE, new Uint8Array(4))]);
  assert.equal(decodeTunnelData(zero).hasRemote, false, 'remote 0.0.0.0 is "any"');
  assert.throws(() => decodeTunnelData(Uint8Array.of(0x08, 0x00, 0x09, 0x00)), DecodeError);
  assert.throws(() => decodeTunnelData(encodeAttributes([nla.bytes(IFLA_IPTUN.PROTO, new Uint8Array(0))])), DecodeError);
});

test('ip link set dev NAME alias pathguard up: by name, IFF_UP in flags and change mask', () => {
  const req = setLinkAliasUp('ipip0', 'pathguard');
  const bytes = wire(req);
  const [m] = decodeMessages(bytes);
  assert.equal(m!.flags & (NLM_F.CREATE | NLM_F.EXCL), 0, 'never creates');
  const l = decodeLink(m!);
  assert.equal(l.index, 0);
  assert.equal(l.flags, IFF.UP);
  assert.equal(l.change, IFF.UP);
  assert.equal(l.name, 'ipip0');
  assert.equal(l.alias, 'pathguard');
  // IFLA_IFALIAS survives a round trip through Link
  const again = encodeLink(l);
  assert.equal(nlaString(again.attrs.find((a) => a.type === IFLA.IFALIAS)!), 'pathguard');
  const del = delLink(42);
  assert.equal(del.type, RTM.DELLINK);
  assert.equal(new DataView(del.fixed.buffer).getInt32(4, true), 42);
});
