/**
 * setIpv4Conf(): per-device IPv4 settings over rtnetlink. iproute2 has no
 * command that sends this (sysctl writes /proc), so the expected bytes are
 * laid out by hand from the kernel's structures (include/uapi/linux/
 * rtnetlink.h struct ifinfomsg, if_link.h IFLA_AF_SPEC / IFLA_INET_CONF,
 * ip.h IPV4_DEVCONF_*); test/integration/net/ipv4-conf.test.ts checks that
 * the kernel applies them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hex } from '../../harness/bytes.js';
import { encodeAttributes } from '../../../src/wire/netlink-attribute.js';
import { setIpv4Conf } from '../../../src/wire/rtnl-link.js';
import { RTM } from '../../../src/wire/rtnetlink.js';
import { NLM_F } from '../../../src/wire/netlink.js';

test('rp_filter 0 on ifindex 7: RTM_SETLINK with IFLA_AF_SPEC { AF_INET { IFLA_INET_CONF { RP_FILTER: 0 } } }', () => {
  const r = setIpv4Conf(7, { rpFilter: 0 });
  assert.equal(r.type, RTM.SETLINK);
  assert.equal(r.flags, NLM_F.REQUEST | NLM_F.ACK);
  assert.deepEqual(
    r.fixed,
    hex(`
      00 00 00 00   // ifi_family AF_UNSPEC, pad, ifi_type 0
      07 00 00 00   // ifi_index 7
      00 00 00 00   // ifi_flags
      00 00 00 00   // ifi_change
    `),
  );
  assert.deepEqual(
    encodeAttributes(r.attrs),
    hex(`
      14 00 1a 80   // len 20, IFLA_AF_SPEC (26) | NLA_F_NESTED
      10 00 02 80   //   len 16, AF_INET (2) | NLA_F_NESTED
      0c 00 01 80   //     len 12, IFLA_INET_CONF (1) | NLA_F_NESTED
      08 00 08 00   //       len 8, IPV4_DEVCONF_RP_FILTER (8)
      00 00 00 00   //       u32 0
    `),
  );
});

test('the ARP settings ride in the same IFLA_INET_CONF, in devconf order', () => {
  const r = setIpv4Conf(1, { arpIgnore: 1, arpAnnounce: 2 });
  assert.deepEqual(
    encodeAttributes(r.attrs),
    hex(`
      1c 00 1a 80   // IFLA_AF_SPEC, len 28
      18 00 02 80   //   AF_INET, len 24
      14 00 01 80   //     IFLA_INET_CONF, len 20
      08 00 12 00   //       IPV4_DEVCONF_ARP_ANNOUNCE (18)
      02 00 00 00   //       2
      08 00 13 00   //       IPV4_DEVCONF_ARP_IGNORE (19)
      01 00 00 00   //       1
    `),
  );
});

test('nothing to set, or a value that is no u32, is refused', () => {
  assert.throws(() => setIpv4Conf(1, {}), RangeError);
  assert.throws(() => setIpv4Conf(1, { rpFilter: -1 }), RangeError);
});
