import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError } from '../../../src/errors.js';
import { decodeEthernet } from '../../../src/wire/ethernet.js';
import { formatIPv4, parseIPv4 } from '../../../src/wire/ip-address.js';
import { IPPROTO, decodeIPv4, encodeIPv4, ipv4OptionsWellFormed, verifyIPv4Header } from '../../../src/wire/ipv4.js';
import { ECHO_REQUEST_V4, ETH_HEADER, FRAG_NEEDED_PING, FRAG_NEEDED_UDP, UDP_V4, embed } from './fixtures/packets.js';

for (const [name, at] of [
  ['plain', (b: Uint8Array) => b],
  ['at offset 7', embed],
] as const) {
  test(`captured frag-needed (${name}): outer IPv4 header field by field`, () => {
    const ip = decodeIPv4(decodeEthernet(at(FRAG_NEEDED_PING)).payload);
    assert.equal(ip.ihl, 5);
    assert.equal(ip.tos, 0xc0); // icmp_send() uses IPTOS_PREC_INTERNETCONTROL for errors
    assert.equal(ip.totalLength, 576); // icmp_send() quotes up to 576 bytes in all
    assert.equal(ip.id, 0x74d5);
    assert.equal(ip.reservedFlag, false);
    assert.equal(ip.dontFragment, false);
    assert.equal(ip.moreFragments, false);
    assert.equal(ip.fragmentOffset, 0);
    assert.equal(ip.ttl, 64);
    assert.equal(ip.protocol, IPPROTO.ICMP);
    assert.equal(ip.checksum, 0x7e28);
    assert.equal(formatIPv4(ip.src), '192.0.2.254');
    assert.equal(formatIPv4(ip.dst), '192.0.2.1');
    assert.equal(ip.options.length, 0);
    assert.equal(ip.payload.length, 556);
    assert.equal(ip.payload[0], 3);
  });

  test(`captured frag-needed (${name}): the quoted IPv4 header decodes as a quote`, () => {
    const outer = decodeIPv4(at(FRAG_NEEDED_PING).subarray(ETH_HEADER));
    const quote = outer.payload.subarray(8);
    assert.throws(() => decodeIPv4(quote), DecodeError, 'the total length (1500) exceeds the quote');
    const q = decodeIPv4(quote, { quoted: true });
    assert.equal(q.totalLength, 1500);
    assert.equal(q.dontFragment, true);
    assert.equal(q.id, 0);
    assert.equal(q.ttl, 64);
    assert.equal(q.protocol, IPPROTO.ICMP);
    assert.equal(q.checksum, 0x48ea);
    assert.equal(formatIPv4(q.src), '192.0.2.1');
    assert.equal(formatIPv4(q.dst), '198.51.100.2');
    assert.equal(q.payload.length, 548 - 20);
    assert.equal(verifyIPv4Header(quote), true);
  });

  test(`captured echo request and UDP (${name})`, () => {
    const echo = decodeIPv4(at(ECHO_REQUEST_V4).subarray(ETH_HEADER));
    assert.equal(echo.totalLength, 52);
    assert.equal(echo.id, 0x393d);
    assert.equal(echo.dontFragment, true); // sockets default to IP_PMTUDISC_WANT (net.ipv4.ip_no_pmtu_disc=0), which sets DF
    assert.equal(echo.protocol, IPPROTO.ICMP);
    assert.equal(formatIPv4(echo.dst), '198.51.100.2');
    assert.equal(echo.payload.length, 32);

    const udp = decodeIPv4(at(UDP_V4).subarray(ETH_HEADER));
    assert.equal(udp.protocol, IPPROTO.UDP);
    assert.equal(udp.totalLength, 40);
    assert.equal(udp.payload.length, 20);
    assert.equal(verifyIPv4Header(at(UDP_V4).subarray(ETH_HEADER)), true);
  });
}

test('bytes after the total length (Ethernet padding) are not payload', () => {
  const ip = UDP_V4.subarray(ETH_HEADER);
  const padded = new Uint8Array(ip.length + 6).fill(0xaa);
  padded.set(ip);
  const p = decodeIPv4(embed(padded));
  assert.equal(p.payload.length, 20);
  assert.deepEqual(p.payload, ip.subarray(20));
});

test('captured packets re-encode byte for byte (total length and header checksum recomputed)', () => {
  for (const frame of [FRAG_NEEDED_PING, FRAG_NEEDED_UDP, ECHO_REQUEST_V4, UDP_V4]) {
    const ip = frame.subarray(ETH_HEADER);
    assert.deepEqual(encodeIPv4(decodeIPv4(embed(ip))), ip);
  }
});

test('a header with options keeps them raw and round trips', () => {
  // Options: NOP, NOP, then a 4-byte unknown option (type 0x94 = router alert, RFC 2113).
  const options = Uint8Array.of(0x01, 0x01, 0x94, 0x04, 0x00, 0x00, 0x00, 0x00);
  const bytes = encodeIPv4({
    protocol: IPPROTO.UDP,
    src: parseIPv4('198.51.100.1'),
    dst: parseIPv4('203.0.113.9'),
    options,
    payload: Uint8Array.of(1, 2, 3),
    id: 0x1234,
    moreFragments: true,
    fragmentOffset: 0x10,
  });
  assert.equal(bytes[0], 0x47); // IHL 7
  assert.equal(verifyIPv4Header(bytes), true);
  const p = decodeIPv4(embed(bytes));
  assert.equal(p.ihl, 7);
  assert.deepEqual(p.options, options.subarray(0, 8));
  assert.equal(p.moreFragments, true);
  assert.equal(p.fragmentOffset, 0x10);
  assert.deepEqual(p.payload, Uint8Array.of(1, 2, 3));
  assert.equal(ipv4OptionsWellFormed(bytes, 20, 28), true);
  assert.deepEqual(encodeIPv4(p), bytes);
});

test('option framing: EOL ends, NOP is one byte, a length must be >= 2 and stay inside', () => {
  assert.equal(ipv4OptionsWellFormed(Uint8Array.of(0x00, 0xff, 0xff, 0xff), 0, 4), true);
  assert.equal(ipv4OptionsWellFormed(Uint8Array.of(0x01, 0x01, 0x01, 0x01), 0, 4), true);
  assert.equal(ipv4OptionsWellFormed(Uint8Array.of(0x07, 0x01, 0x00, 0x00), 0, 4), false); // length 1
  assert.equal(ipv4OptionsWellFormed(Uint8Array.of(0x07, 0x08, 0x00, 0x00), 0, 4), false); // runs past
  assert.equal(ipv4OptionsWellFormed(Uint8Array.of(0x01, 0x01, 0x01, 0x83), 0, 4), false); // no room for the length
});

test('malformed headers are DecodeErrors', () => {
  const ip = ECHO_REQUEST_V4.slice(ETH_HEADER);
  const mutate = (f: (b: Uint8Array) => void) => {
    const b = ip.slice();
    f(b);
    return b;
  };
  const cases: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['19 bytes', ip.subarray(0, 19)],
    ['version 6', mutate((b) => (b[0] = 0x65))],
    ['ihl 4', mutate((b) => (b[0] = 0x44))],
    ['ihl 15 past the buffer', mutate((b) => (b[0] = 0x4f)).subarray(0, 40)],
    ['total length below the header', mutate((b) => (b[3] = 19))],
    ['total length past the buffer', mutate((b) => (b[3] = 53))],
  ];
  for (const [name, bytes] of cases) {
    assert.throws(() => decodeIPv4(bytes), (e: unknown) => e instanceof DecodeError && e.what === 'ipv4', name);
  }
  assert.equal(verifyIPv4Header(mutate((b) => (b[8] = 63))), false);
  assert.equal(verifyIPv4Header(ip.subarray(0, 10)), false);
});

test('encodeIPv4 refuses what cannot be encoded', () => {
  const base = { protocol: 17, src: parseIPv4('192.0.2.1'), dst: parseIPv4('192.0.2.2'), payload: new Uint8Array(0) };
  assert.throws(() => encodeIPv4({ ...base, options: new Uint8Array(3) }), RangeError);
  assert.throws(() => encodeIPv4({ ...base, options: new Uint8Array(44) }), RangeError);
  assert.throws(() => encodeIPv4({ ...base, src: new Uint8Array(16) }), RangeError);
  assert.throws(() => encodeIPv4({ ...base, payload: new Uint8Array(65516) }), RangeError);
  assert.throws(() => encodeIPv4({ ...base, fragmentOffset: 0x2000 }), RangeError);
});
