import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError } from '../../../src/errors.js';
import { parseIPv4, parseIPv6 } from '../../../src/wire/ip-address.js';
import { decodeIPv4 } from '../../../src/wire/ipv4.js';
import { decodeIPv6 } from '../../../src/wire/ipv6.js';
import { decodeUdp, encodeUdp, verifyUdpChecksum } from '../../../src/wire/udp.js';
import { ETH_HEADER, UDP_V4, UDP_V6_HOP_BY_HOP, embed } from './fixtures/packets.js';

// udp_send.py's payload: byte i = (7i + 1) & 0xff.
const PAYLOAD = Uint8Array.from({ length: 12 }, (_, i) => (7 * i + 1) & 0xff);

for (const [name, at] of [
  ['plain', (b: Uint8Array) => b],
  ['at offset 7', embed],
] as const) {
  test(`captured UDP over IPv4 (${name})`, () => {
    const ip = decodeIPv4(at(UDP_V4).subarray(ETH_HEADER));
    const d = decodeUdp(ip.payload);
    assert.equal(d.srcPort, 40000);
    assert.equal(d.dstPort, 33434);
    assert.equal(d.length, 20);
    assert.deepEqual(d.payload, PAYLOAD);
    assert.equal(verifyUdpChecksum(ip.src, ip.dst, ip.payload), true);
    assert.equal(verifyUdpChecksum(ip.dst, parseIPv4('198.51.100.3'), ip.payload), false);
  });

  test(`captured UDP over IPv6 behind a hop-by-hop header (${name})`, () => {
    const ip = decodeIPv6(at(UDP_V6_HOP_BY_HOP).subarray(ETH_HEADER));
    const d = decodeUdp(ip.payload);
    assert.equal(d.srcPort, 40000);
    assert.equal(d.dstPort, 33434);
    assert.equal(d.length, 20);
    assert.deepEqual(d.payload, PAYLOAD);
    assert.equal(verifyUdpChecksum(ip.src, ip.dst, ip.payload), true);
  });
}

test('encodeUdp reproduces the kernel datagrams, checksum included', () => {
  const ip4 = decodeIPv4(UDP_V4.subarray(ETH_HEADER));
  assert.deepEqual(encodeUdp(decodeUdp(ip4.payload), ip4), ip4.payload);
  const ip6 = decodeIPv6(UDP_V6_HOP_BY_HOP.subarray(ETH_HEADER));
  assert.deepEqual(encodeUdp(decodeUdp(ip6.payload), ip6), ip6.payload);
});

test('checksum 0 means none over IPv4 and is invalid over IPv6; a computed 0 is sent as ffff', () => {
  const d = encodeUdp({ srcPort: 1, dstPort: 2, payload: PAYLOAD });
  assert.equal((d[6]! << 8) | d[7]!, 0);
  assert.equal(verifyUdpChecksum(parseIPv4('192.0.2.1'), parseIPv4('192.0.2.2'), d), true);
  assert.equal(verifyUdpChecksum(parseIPv6('2001:db8::1'), parseIPv6('2001:db8::2'), d), false);

  // Find a payload whose checksum computes to 0 (sum of everything else 0xffff), then check it is sent as ffff.
  const src = parseIPv4('192.0.2.1');
  const dst = parseIPv4('192.0.2.2');
  const probe = encodeUdp({ srcPort: 1, dstPort: 2, payload: Uint8Array.of(0, 0) }, { src, dst });
  const c = (probe[6]! << 8) | probe[7]!;
  // Adding the complement's value as a payload word makes the total sum 0xffff, i.e. checksum 0.
  const zero = encodeUdp({ srcPort: 1, dstPort: 2, payload: Uint8Array.of(c >> 8, c & 0xff) }, { src, dst });
  assert.deepEqual(zero.subarray(6, 8), Uint8Array.of(0xff, 0xff));
  assert.equal(verifyUdpChecksum(src, dst, zero), true);
});

test('trailing bytes past the length field are not payload', () => {
  const dgram = encodeUdp({ srcPort: 7, dstPort: 9, payload: Uint8Array.of(1, 2) });
  const padded = new Uint8Array(dgram.length + 5);
  padded.set(dgram);
  assert.deepEqual(decodeUdp(embed(padded)).payload, Uint8Array.of(1, 2));
});

test('lengths below the header or past the buffer are DecodeErrors', () => {
  const d = UDP_V4.slice(ETH_HEADER + 20);
  assert.throws(() => decodeUdp(d.subarray(0, 7)), DecodeError);
  const short = d.slice();
  short[5] = 7;
  assert.throws(() => decodeUdp(short), DecodeError);
  const long = d.slice();
  long[5] = 21;
  assert.throws(() => decodeUdp(long), DecodeError);
  assert.equal(verifyUdpChecksum(parseIPv4('192.0.2.1'), parseIPv4('198.51.100.2'), long), false);
});
