import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError } from '../../../src/errors.js';
import { decodeEthernet } from '../../../src/wire/ethernet.js';
import { formatIPv6, parseIPv6 } from '../../../src/wire/ip-address.js';
import { IPPROTO } from '../../../src/wire/ipv4.js';
import { decodeIPv6, encodeIPv6, ipv6ExtensionHeaderLength } from '../../../src/wire/ipv6.js';
import { ETH_HEADER, PACKET_TOO_BIG_PING, PACKET_TOO_BIG_UDP, PACKET_TOO_BIG_UDP_DSTOPTS, UDP_V6_HOP_BY_HOP, embed, hex } from './fixtures/packets.js';

for (const [name, at] of [
  ['plain', (b: Uint8Array) => b],
  ['at offset 7', embed],
] as const) {
  test(`captured packet-too-big (${name}): outer IPv6 header field by field`, () => {
    const ip = decodeIPv6(decodeEthernet(at(PACKET_TOO_BIG_PING)).payload);
    assert.equal(ip.trafficClass, 0);
    assert.equal(ip.flowLabel, 0xf49ce);
    assert.equal(ip.payloadLength, 1240); // 1280 minimum MTU - 40
    assert.equal(ip.nextHeader, IPPROTO.ICMPV6);
    assert.equal(ip.hopLimit, 64);
    assert.equal(formatIPv6(ip.src), '2001:db8:1::fe');
    assert.equal(formatIPv6(ip.dst), '2001:db8:1::1');
    assert.deepEqual(ip.extensionHeaders, []);
    assert.equal(ip.protocol, IPPROTO.ICMPV6);
    assert.equal(ip.upperOffset, 40);
    assert.equal(ip.fragment, undefined);
    assert.equal('fragment' in ip, false, 'absent means absent');
    assert.equal(ip.payload.length, 1240);
    assert.equal(ip.payload[0], 2);
  });

  test(`captured packet-too-big (${name}): the quoted IPv6 header, without and with a destination options header`, () => {
    const plain = decodeIPv6(at(PACKET_TOO_BIG_UDP).subarray(ETH_HEADER + 48), { quoted: true });
    assert.equal(plain.payloadLength, 1460);
    assert.equal(plain.protocol, IPPROTO.UDP);
    assert.equal(plain.flowLabel, 0x3ff4f);
    assert.equal(formatIPv6(plain.src), '2001:db8:1::1');
    assert.equal(formatIPv6(plain.dst), '2001:db8:2::2');
    assert.equal(plain.payload.length, 1232 - 40);

    const withOpts = decodeIPv6(at(PACKET_TOO_BIG_UDP_DSTOPTS).subarray(ETH_HEADER + 48), { quoted: true });
    assert.equal(withOpts.nextHeader, IPPROTO.DSTOPTS);
    assert.equal(withOpts.extensionHeaders.length, 1);
    assert.equal(withOpts.extensionHeaders[0]!.type, IPPROTO.DSTOPTS);
    assert.deepEqual(withOpts.extensionHeaders[0]!.bytes, Uint8Array.of(0x11, 0x00, 0x01, 0x04, 0, 0, 0, 0));
    assert.equal(withOpts.protocol, IPPROTO.UDP);
    assert.equal(withOpts.upperOffset, 48);
    assert.equal(withOpts.payload[0], 0x9c); // source port 40000 = 0x9c40
    assert.throws(() => decodeIPv6(at(PACKET_TOO_BIG_UDP_DSTOPTS).subarray(ETH_HEADER + 48)), DecodeError, 'not a quote: payload length exceeds');
  });

  test(`captured UDP with a hop-by-hop header (${name})`, () => {
    const ip = decodeIPv6(at(UDP_V6_HOP_BY_HOP).subarray(ETH_HEADER));
    assert.equal(ip.flowLabel, 0x3ff4f);
    assert.equal(ip.payloadLength, 28);
    assert.equal(ip.nextHeader, IPPROTO.HOPOPTS);
    assert.equal(ip.hopLimit, 64);
    assert.equal(ip.extensionHeaders.length, 1);
    assert.equal(ip.extensionHeaders[0]!.type, IPPROTO.HOPOPTS);
    assert.deepEqual(ip.extensionHeaders[0]!.bytes, Uint8Array.of(0x11, 0x00, 0x01, 0x04, 0, 0, 0, 0));
    assert.equal(ip.protocol, IPPROTO.UDP);
    assert.equal(ip.upperOffset, 48);
    assert.equal(ip.payload.length, 20);
  });
}

test('captured packets re-encode byte for byte', () => {
  for (const frame of [PACKET_TOO_BIG_PING, PACKET_TOO_BIG_UDP, PACKET_TOO_BIG_UDP_DSTOPTS, UDP_V6_HOP_BY_HOP]) {
    const ip = frame.subarray(ETH_HEADER);
    assert.deepEqual(encodeIPv6(decodeIPv6(embed(ip))), ip);
  }
});

const SRC = parseIPv6('2001:db8:1::1');
const DST = parseIPv6('2001:db8:2::2');

test('routing, fragment, AH and destination options headers are walked with their own length rules (hand-built)', () => {
  const routing = hex(`00 02 00 00 00000000  20010db8 00030000 00000000 00000001`); // hdr ext len 2 -> 24 bytes
  const fragment = hex(`00 00 0000 12345678`); // offset 0, M 0: a first fragment, walk continues
  const ah = hex(`00 04 0000 00000001 00000002 00000000 00000000 00000000`); // payload len 4 -> (4+2)*4 = 24 bytes
  const dstopts = hex(`00 01 01 0e 00000000 00000000 00000000`); // hdr ext len 1 -> 16 bytes
  const payload = Uint8Array.of(0x9c, 0x40, 0x82, 0x9a, 0, 12, 0, 0, 1, 2, 3, 4);
  const bytes = encodeIPv6({
    src: SRC,
    dst: DST,
    extensionHeaders: [
      { type: IPPROTO.ROUTING, bytes: routing },
      { type: IPPROTO.FRAGMENT, bytes: fragment },
      { type: IPPROTO.AH, bytes: ah },
      { type: IPPROTO.DSTOPTS, bytes: dstopts },
    ],
    protocol: IPPROTO.UDP,
    payload,
  });
  const p = decodeIPv6(embed(bytes));
  assert.deepEqual(
    p.extensionHeaders.map((h) => [h.type, h.bytes.length, h.bytes[0]]),
    [
      [IPPROTO.ROUTING, 24, IPPROTO.FRAGMENT],
      [IPPROTO.FRAGMENT, 8, IPPROTO.AH],
      [IPPROTO.AH, 24, IPPROTO.DSTOPTS],
      [IPPROTO.DSTOPTS, 16, IPPROTO.UDP],
    ],
  );
  assert.deepEqual(p.fragment, { offset: 0, moreFragments: false, id: 0x12345678 });
  assert.equal(p.protocol, IPPROTO.UDP);
  assert.equal(p.upperOffset, 40 + 24 + 8 + 24 + 16);
  assert.deepEqual(p.payload, payload);
  assert.deepEqual(encodeIPv6(p), bytes);
  assert.equal(ipv6ExtensionHeaderLength(IPPROTO.AH, 4), 24);
});

test('a non-first fragment stops the walk: its data is not an upper-layer header (hand-built)', () => {
  // Offset 185 (185*8 = 1480 bytes), M set, id 0xdeadbeef, next header UDP.
  const fragment = hex(`11 00 05c9 deadbeef`); // 0x05c9 = 185 << 3 | M
  const bytes = encodeIPv6({ src: SRC, dst: DST, extensionHeaders: [{ type: IPPROTO.FRAGMENT, bytes: fragment }], protocol: IPPROTO.UDP, payload: new Uint8Array(16) });
  const p = decodeIPv6(bytes);
  assert.deepEqual(p.fragment, { offset: 185, moreFragments: true, id: 0xdeadbeef });
  assert.equal(p.protocol, IPPROTO.UDP);
  assert.equal(p.upperOffset, 48);
  assert.equal(p.payload.length, 16);
});

test('a chain that runs off the packet, or a misplaced hop-by-hop header, is a DecodeError', () => {
  const hbh = UDP_V6_HOP_BY_HOP.slice(ETH_HEADER);
  const cases: [string, Uint8Array][] = [
    ['hop-by-hop length 3 (32 bytes) in a 28-byte payload', (() => { const b = hbh.slice(); b[41] = 3; return b; })()],
    ['payload length 1 cuts the hop-by-hop header', (() => { const b = hbh.slice(); b[5] = 1; return b; })()],
    ['payload length 0 with a next header of hop-by-hop', (() => { const b = hbh.slice(0, 40); b[5] = 0; return b; })()],
    ['fragment header with 4 bytes left', encodeIPv6({ src: SRC, dst: DST, protocol: IPPROTO.FRAGMENT, payload: new Uint8Array(4) })],
    [
      'hop-by-hop after a destination options header',
      encodeIPv6({
        src: SRC,
        dst: DST,
        extensionHeaders: [
          { type: IPPROTO.DSTOPTS, bytes: hex('00 00 01 04 00000000') },
          { type: IPPROTO.HOPOPTS, bytes: hex('00 00 01 04 00000000') },
        ],
        protocol: IPPROTO.UDP,
        payload: new Uint8Array(8),
      }),
    ],
  ];
  for (const [name, bytes] of cases) {
    assert.throws(() => decodeIPv6(bytes), (e: unknown) => e instanceof DecodeError && e.what === 'ipv6 extension header', name);
  }
});

test('malformed fixed headers are DecodeErrors', () => {
  const ip = PACKET_TOO_BIG_PING.slice(ETH_HEADER);
  assert.throws(() => decodeIPv6(ip.subarray(0, 39)), DecodeError);
  const v4 = ip.slice();
  v4[0] = 0x45;
  assert.throws(() => decodeIPv6(v4), DecodeError);
  assert.throws(() => decodeIPv6(ip.subarray(0, 1279)), DecodeError, 'payload length past the buffer');
});

test('encodeIPv6 refuses inconsistent extension headers and bad field values', () => {
  const base = { src: SRC, dst: DST, protocol: IPPROTO.UDP, payload: new Uint8Array(0) };
  assert.throws(() => encodeIPv6({ ...base, extensionHeaders: [{ type: IPPROTO.DSTOPTS, bytes: new Uint8Array(12) }] }), RangeError);
  assert.throws(() => encodeIPv6({ ...base, extensionHeaders: [{ type: IPPROTO.UDP, bytes: new Uint8Array(8) }] }), RangeError);
  assert.throws(() => encodeIPv6({ ...base, flowLabel: 0x100000 }), RangeError);
  assert.throws(() => encodeIPv6({ ...base, src: new Uint8Array(4) }), RangeError);
});
