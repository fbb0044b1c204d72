// decodeTunnelInfo: the IFLA_INFO_DATA of encapsulating links.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeTunnelInfo, GRE_FLAG } from '../../../src/wire/rtnl-link.js';
import { encodeAttributes, nla } from '../../../src/wire/netlink-attribute.js';
import { DecodeError } from '../../../src/errors.js';
import { atOffset, hex } from '../../harness/bytes.js';

// IFLA_INFO_DATA of RTM_NEWLINK for vx0 (Linux 6.18), read with RTM_GETLINK in a
// namespace after: ip link add vx0 type vxlan id 42 local 192.0.2.10 remote 192.0.2.1 dstport 4789
const VXLAN4 = hex(`
  08000100 2a000000   // IFLA_VXLAN_ID 42
  08000200 c0000201   // IFLA_VXLAN_GROUP 192.0.2.1 (the remote)
  08000400 c000020a   // IFLA_VXLAN_LOCAL 192.0.2.10
  05000500 00000000   // IFLA_VXLAN_TTL 0
  05001c00 00000000   // IFLA_VXLAN_TTL_INHERIT
  05000600 00000000   // IFLA_VXLAN_TOS
  05001d00 00000000   // IFLA_VXLAN_DF
  08001a00 00000000   // IFLA_VXLAN_LABEL
  08002000 00000000   // IFLA_VXLAN_LABEL_POLICY
  05000700 01000000   // IFLA_VXLAN_LEARNING 1
  05000b00 00000000   // IFLA_VXLAN_PROXY
  05000c00 00000000   // IFLA_VXLAN_RSC
  05000d00 00000000   // IFLA_VXLAN_L2MISS
  05000e00 00000000   // IFLA_VXLAN_L3MISS
  05001900 00000000   // IFLA_VXLAN_COLLECT_METADATA
  08000800 2c010000   // IFLA_VXLAN_AGEING 300
  08000900 00000000   // IFLA_VXLAN_LIMIT
  06000f00 12b50000   // IFLA_VXLAN_PORT 4789 (be16)
  05001200 01000000   // IFLA_VXLAN_UDP_CSUM
  05001300 00000000   // IFLA_VXLAN_UDP_ZERO_CSUM6_TX
  05001400 00000000   // IFLA_VXLAN_UDP_ZERO_CSUM6_RX
  05001500 00000000   // IFLA_VXLAN_REMCSUM_TX
  05001600 00000000   // IFLA_VXLAN_REMCSUM_RX
  05001f00 01000000   // IFLA_VXLAN_LOCALBYPASS
  08000a00 00000000   // IFLA_VXLAN_PORT_RANGE 0-0
  0c002100 f7ffffff 000000ff // IFLA_VXLAN_RESERVED_BITS
`);

// The same for: ip link add vx6 type vxlan id 7 local 2001:db8:1::10 remote 2001:db8:1::1 dstport 8472 dev ve0
// (ve0 is ifindex 4); the attributes after the port are as above.
const VXLAN6 = hex(`
  08000100 07000000                              // IFLA_VXLAN_ID 7
  14001000 20010db8 00010000 00000000 00000001   // IFLA_VXLAN_GROUP6 2001:db8:1::1
  08000300 04000000                              // IFLA_VXLAN_LINK 4
  14001100 20010db8 00010000 00000000 00000010   // IFLA_VXLAN_LOCAL6 2001:db8:1::10
  05000500 00000000 05001c00 00000000 05000600 00000000 05001d00 00000000 08001a00 00000000 08002000 00000000
  05000700 01000000 05000b00 00000000 05000c00 00000000 05000d00 00000000 05000e00 00000000 05001900 00000000
  08000800 2c010000 08000900 00000000
  06000f00 21180000                              // IFLA_VXLAN_PORT 8472
  05001200 01000000 05001300 00000000 05001400 00000000 05001500 00000000 05001600 00000000 05001f00 01000000
  08000a00 00000000 0c002100 f7ffffff 000000ff
`);

test('vxlan over IPv4: VNI, remote, local and port, also at an offset inside a larger buffer', () => {
  const want = { id: 42, remote: Uint8Array.of(192, 0, 2, 1), local: Uint8Array.of(192, 0, 2, 10), port: 4789 };
  assert.deepEqual(decodeTunnelInfo('vxlan', VXLAN4), want);
  assert.deepEqual(decodeTunnelInfo('vxlan', atOffset(VXLAN4)), want);
});

test('vxlan over IPv6 bound to a device: the underlay ifindex', () => {
  const t = decodeTunnelInfo('vxlan', atOffset(VXLAN6))!;
  assert.equal(t.id, 7);
  assert.equal(t.underlay, 4);
  assert.equal(t.port, 8472);
  assert.deepEqual([...t.remote!], [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.equal(t.local![15], 0x10);
});

// This kernel has no ipip, ip6tnl or gre modules: these follow the layout of
// ipip_fill_info / ip6_tnl_fill_info / ipgre_fill_info (u32 link, addresses, u8s, flags).
test('ipip, ip6tnl and gre: endpoints, underlay, GRE key flag and the ip6tnl encapsulation limit', () => {
  const ipip = encodeAttributes([nla.u32(1, 2), nla.bytes(2, Uint8Array.of(192, 0, 2, 10)), nla.bytes(3, Uint8Array.of(0, 0, 0, 0)), nla.u8(4, 0)]);
  assert.deepEqual(decodeTunnelInfo('ipip', ipip), { underlay: 2, local: Uint8Array.of(192, 0, 2, 10) }); // remote 0.0.0.0 = any
  const v6 = new Uint8Array(16);
  v6.set([0x20, 0x01, 0x0d, 0xb8], 0);
  v6[15] = 9;
  const ip6tnl = encodeAttributes([nla.bytes(3, v6), nla.u8(6, 4), nla.u32(8, 0)]);
  assert.deepEqual(decodeTunnelInfo('ip6tnl', ip6tnl), { remote: v6, encapLimit: true });
  assert.equal(decodeTunnelInfo('ip6tnl', encodeAttributes([nla.u32(8, 1)]))!.encapLimit, false); // IP6_TNL_F_IGN_ENCAP_LIMIT
  const okey = new Uint8Array(2);
  new DataView(okey.buffer).setUint16(0, GRE_FLAG.KEY, false);
  const gre = encodeAttributes([nla.bytes(3, okey), nla.bytes(7, Uint8Array.of(203, 0, 113, 9))]);
  assert.deepEqual(decodeTunnelInfo('gre', gre), { greFlags: GRE_FLAG.KEY, remote: Uint8Array.of(203, 0, 113, 9) });
});

test('wireguard and other kinds have no tunnel data', () => {
  assert.equal(decodeTunnelInfo('wireguard', undefined), undefined);
  assert.equal(decodeTunnelInfo('veth', VXLAN4), undefined);
  assert.deepEqual(decodeTunnelInfo('vxlan', undefined), {});
});

test('property: arbitrary bytes decode or throw a DecodeError, for every kind', () => {
  fc.assert(
    fc.property(fc.constantFrom('vxlan', 'geneve', 'ipip', 'sit', 'ip6tnl', 'gre', 'ip6gretap'), fc.uint8Array({ maxLength: 96 }), (kind, bytes) => {
      try {
        decodeTunnelInfo(kind, bytes);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
      }
    }),
    { numRuns: 2000 },
  );
});
