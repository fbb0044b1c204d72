import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError } from '../../../src/errors.js';
import { verifyIcmpv6Checksum } from '../../../src/wire/checksum.js';
import { decodeEthernet } from '../../../src/wire/ethernet.js';
import { ICMPV6, decodeIcmpv6, encodeIcmpv6, isIcmpv6Error } from '../../../src/wire/icmpv6.js';
import { formatIPv6, parseIPv6 } from '../../../src/wire/ip-address.js';
import { IPPROTO } from '../../../src/wire/ipv4.js';
import { decodeIPv6 } from '../../../src/wire/ipv6.js';
import { decodePorts } from '../../../src/wire/tcp.js';
import { ETH_HEADER, PACKET_TOO_BIG_PING, PACKET_TOO_BIG_UDP, PACKET_TOO_BIG_UDP_DSTOPTS, embed } from './fixtures/packets.js';

for (const [name, at] of [
  ['plain', (b: Uint8Array) => b],
  ['at offset 7', embed],
] as const) {
  test(`captured packet-too-big quoting an echo request (${name}): ethernet -> ipv6 -> icmpv6 -> quote`, () => {
    const ip = decodeIPv6(decodeEthernet(at(PACKET_TOO_BIG_PING)).payload);
    const m = decodeIcmpv6(ip.payload);
    assert.equal(m.type, ICMPV6.PKT_TOOBIG);
    assert.equal(m.code, 0);
    assert.equal(m.checksum, 0xd014);
    assert.equal(m.mtu, 1400);
    assert.equal(m.restOfHeader, 1400);
    assert.equal(m.echo, undefined);
    assert.equal(m.body.length, 1232); // 1280 - 40 - 8 (RFC 4443 §2.4 (c))
    assert.equal(verifyIcmpv6Checksum(ip.src, ip.dst, ip.payload), true);

    const quoted = decodeIPv6(m.body, { quoted: true });
    assert.equal(quoted.protocol, IPPROTO.ICMPV6);
    assert.equal(formatIPv6(quoted.src), '2001:db8:1::1');
    assert.equal(formatIPv6(quoted.dst), '2001:db8:2::2');
    const echo = decodeIcmpv6(quoted.payload);
    assert.equal(echo.type, ICMPV6.ECHO_REQUEST);
    assert.deepEqual(echo.echo, { id: 0x2fe5, sequence: 1 });
  });

  test(`captured packet-too-big quoting UDP (${name}): ports, with and without a destination options header`, () => {
    for (const frame of [PACKET_TOO_BIG_UDP, PACKET_TOO_BIG_UDP_DSTOPTS]) {
      const ip = decodeIPv6(at(frame).subarray(ETH_HEADER));
      const m = decodeIcmpv6(ip.payload);
      assert.equal(m.mtu, 1400);
      assert.equal(verifyIcmpv6Checksum(ip.src, ip.dst, ip.payload), true);
      const quoted = decodeIPv6(m.body, { quoted: true });
      assert.equal(quoted.protocol, IPPROTO.UDP);
      assert.deepEqual(decodePorts(quoted.payload), { srcPort: 40000, dstPort: 33434 });
    }
  });
}

test('captured messages re-encode byte for byte with the pseudo-header checksum', () => {
  for (const frame of [PACKET_TOO_BIG_PING, PACKET_TOO_BIG_UDP, PACKET_TOO_BIG_UDP_DSTOPTS]) {
    const ip = decodeIPv6(embed(frame.subarray(ETH_HEADER)));
    assert.deepEqual(encodeIcmpv6(decodeIcmpv6(ip.payload), ip.src, ip.dst), frame.subarray(ETH_HEADER + 40));
  }
});

test('the MTU is a full 32-bit field', () => {
  const src = parseIPv6('2001:db8::1');
  const dst = parseIPv6('2001:db8::2');
  const bytes = encodeIcmpv6({ type: ICMPV6.PKT_TOOBIG, code: 0, mtu: 0xfffffff0, body: new Uint8Array(40) }, src, dst);
  assert.deepEqual(bytes.subarray(4, 8), Uint8Array.of(0xff, 0xff, 0xff, 0xf0));
  assert.equal(decodeIcmpv6(bytes).mtu, 0xfffffff0);
  assert.equal(verifyIcmpv6Checksum(src, dst, bytes), true);
  assert.equal(verifyIcmpv6Checksum(dst, src, bytes.subarray(0, 47)), false);
});

test('parameter problem carries a pointer; errors are types below 128', () => {
  const src = parseIPv6('2001:db8::1');
  const m = decodeIcmpv6(encodeIcmpv6({ type: ICMPV6.PARAMPROB, code: ICMPV6.UNK_NEXTHDR, pointer: 40, body: new Uint8Array(48) }, src, src));
  assert.equal(m.pointer, 40);
  assert.equal(isIcmpv6Error(ICMPV6.PKT_TOOBIG), true);
  assert.equal(isIcmpv6Error(ICMPV6.ECHO_REQUEST), false);
});

test('fewer than 8 bytes is a DecodeError; encode needs 16-byte addresses', () => {
  assert.throws(() => decodeIcmpv6(PACKET_TOO_BIG_PING.subarray(ETH_HEADER + 40, ETH_HEADER + 47)), DecodeError);
  assert.throws(() => encodeIcmpv6({ type: 2, code: 0, body: new Uint8Array(0) }, new Uint8Array(4), new Uint8Array(4)), RangeError);
});
