import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError } from '../../../src/errors.js';
import {
  checksumWithFieldZeroed,
  foldSum,
  icmpv4Checksum,
  icmpv6Checksum,
  internetChecksum,
  ipv6PseudoHeaderSumAt,
  onesSum,
  pseudoHeaderSum,
  verifyChecksum,
  verifyIcmpv4Checksum,
  verifyIcmpv6Checksum,
} from '../../../src/wire/checksum.js';
import { parseIPv4, parseIPv6 } from '../../../src/wire/ip-address.js';
import {
  ECHO_REQUEST_V4,
  ETH_HEADER,
  FRAG_NEEDED_PING,
  FRAG_NEEDED_UDP,
  PACKET_TOO_BIG_PING,
  PACKET_TOO_BIG_UDP,
  UDP_V4,
  UDP_V6_HOP_BY_HOP,
  embed,
} from './fixtures/packets.js';

/** Oracle: RFC 1071 the slow way, folding after every word. */
function slowChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    sum += (bytes[i]! << 8) | (i + 1 < bytes.length ? bytes[i + 1]! : 0);
    if (sum > 0xffff) sum = (sum & 0xffff) + 1;
  }
  return ~sum & 0xffff;
}

const u16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;

test('RFC 1071 §3 worked example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2', () => {
  const data = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
  assert.equal(foldSum(onesSum(data)), 0xddf2);
  assert.equal(internetChecksum(data), 0x220d);
  assert.equal(internetChecksum(embed(data)), 0x220d);
});

test('an odd trailing byte is padded with zero on the right', () => {
  assert.equal(onesSum(Uint8Array.of(0x01)), 0x0100);
  assert.equal(internetChecksum(Uint8Array.of(0x12, 0x34, 0x56)), slowChecksum(Uint8Array.of(0x12, 0x34, 0x56)));
});

test('deferred carries fold correctly over a 64 KiB buffer of 0xff and of mixed bytes', () => {
  const ones = new Uint8Array(65535).fill(0xff);
  assert.equal(internetChecksum(ones), slowChecksum(ones));
  const mixed = new Uint8Array(65535);
  for (let i = 0; i < mixed.length; i++) mixed[i] = (i * 131 + 7) & 0xff;
  assert.equal(internetChecksum(mixed), slowChecksum(mixed));
});

test('sums chain over even-length pieces', () => {
  const data = FRAG_NEEDED_UDP.subarray(ETH_HEADER);
  const whole = internetChecksum(data);
  const chained = ~foldSum(onesSum(data, 100, data.length, onesSum(data, 0, 100))) & 0xffff;
  assert.equal(chained, whole);
});

test('the captured IPv4 header checksums verify and are reproduced with the field zeroed', () => {
  for (const frame of [FRAG_NEEDED_PING, FRAG_NEEDED_UDP, ECHO_REQUEST_V4, UDP_V4]) {
    for (const ip of [frame.subarray(ETH_HEADER), embed(frame.subarray(ETH_HEADER))]) {
      assert.equal(verifyChecksum(ip, 0, 0, 20), true);
      assert.equal(checksumWithFieldZeroed(ip, 10, 0, 0, 20), u16(ip, 10));
    }
  }
  // The quoted header inside the frag-needed too (the router quotes it before decrementing the TTL).
  const quoted = FRAG_NEEDED_PING.subarray(ETH_HEADER + 28, ETH_HEADER + 48);
  assert.equal(checksumWithFieldZeroed(quoted, 10), 0x48ea);
});

test('ICMPv4 checksums of the captured messages: computed value equals the kernel one, verify passes', () => {
  for (const frame of [FRAG_NEEDED_PING, FRAG_NEEDED_UDP, ECHO_REQUEST_V4]) {
    const icmp = frame.subarray(ETH_HEADER + 20);
    assert.equal(icmpv4Checksum(icmp), u16(icmp, 2));
    assert.equal(verifyIcmpv4Checksum(icmp), true);
    assert.equal(verifyIcmpv4Checksum(embed(icmp)), true);
    const bad = icmp.slice();
    bad[bad.length - 1]! ^= 0x01;
    assert.equal(verifyIcmpv4Checksum(bad), false);
  }
  assert.equal(icmpv4Checksum(FRAG_NEEDED_PING.subarray(ETH_HEADER + 20)), 0xf056);
  assert.throws(() => icmpv4Checksum(Uint8Array.of(3, 4)), DecodeError);
  assert.equal(verifyIcmpv4Checksum(Uint8Array.of(3, 4)), false);
});

test('ICMPv6 checksums include the pseudo-header: the captured packet-too-big verifies only with its own addresses', () => {
  for (const frame of [PACKET_TOO_BIG_PING, PACKET_TOO_BIG_UDP]) {
    const ip = embed(frame.subarray(ETH_HEADER));
    const src = ip.subarray(8, 24);
    const dst = ip.subarray(24, 40);
    const icmp = ip.subarray(40);
    assert.equal(icmpv6Checksum(src, dst, icmp), u16(icmp, 2));
    assert.equal(verifyIcmpv6Checksum(src, dst, icmp), true);
    assert.equal(verifyIcmpv6Checksum(src, parseIPv6('2001:db8:1::2'), icmp), false);
    assert.equal(
      internetChecksum(icmp, pseudoHeaderSum(src, dst, 58, icmp.length)),
      0, // the whole message, checksum included, sums to 0xffff: its complement is 0
    );
    assert.equal(ipv6PseudoHeaderSumAt(ip, 0, 58, icmp.length), pseudoHeaderSum(src, dst, 58, icmp.length));
  }
  assert.equal(icmpv6Checksum(parseIPv6('2001:db8:1::fe'), parseIPv6('2001:db8:1::1'), PACKET_TOO_BIG_PING.subarray(ETH_HEADER + 40)), 0xd014);
});

test('UDP checksums with the IPv4 and IPv6 pseudo-headers reproduce the kernel values', () => {
  const ip4 = UDP_V4.subarray(ETH_HEADER);
  const udp4 = ip4.subarray(20);
  const sum4 = pseudoHeaderSum(parseIPv4('192.0.2.1'), parseIPv4('198.51.100.2'), 17, udp4.length);
  assert.equal(checksumWithFieldZeroed(udp4, 6, sum4), u16(udp4, 6));

  const ip6 = UDP_V6_HOP_BY_HOP.subarray(ETH_HEADER);
  const udp6 = ip6.subarray(48); // after the 8-byte hop-by-hop header
  const sum6 = pseudoHeaderSum(ip6.subarray(8, 24), ip6.subarray(24, 40), 17, udp6.length);
  assert.equal(checksumWithFieldZeroed(udp6, 6, sum6), u16(udp6, 6));
});

test('the IPv6 pseudo-header carries a 32-bit length: both of its words count', () => {
  const a = new Uint8Array(16);
  assert.equal(pseudoHeaderSum(a, a, 0, 0x12345), 0x1 + 0x2345);
});

test('pseudo-header addresses of mismatched or odd sizes are a DecodeError', () => {
  assert.throws(() => pseudoHeaderSum(new Uint8Array(4), new Uint8Array(16), 17, 8), DecodeError);
  assert.throws(() => pseudoHeaderSum(new Uint8Array(5), new Uint8Array(5), 17, 8), DecodeError);
});
