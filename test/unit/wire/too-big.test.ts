import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checksumWithFieldZeroed, ipv6PseudoHeaderSumAt } from '../../../src/wire/checksum.js';
import { formatAddress } from '../../../src/wire/ip-address.js';
import { decodeTooBig, tooBigKey } from '../../../src/wire/too-big-decode.js';
import { TOO_BIG_REJECT, type TooBig, type TooBigReject, type TooBigResult } from '../../../src/wire/too-big.js';
import {
  ECHO_REQUEST_V4,
  ETH_HEADER,
  FRAG_NEEDED_PING,
  FRAG_NEEDED_UDP,
  PACKET_TOO_BIG_PING,
  PACKET_TOO_BIG_UDP,
  PACKET_TOO_BIG_UDP_DSTOPTS,
  UDP_V4,
  UDP_V6_HOP_BY_HOP,
  embed,
  hex,
} from './fixtures/packets.js';

// --- helpers: the IP packet of a frame (as NFLOG delivers it) and fix-ups after a mutation ---

const ipOf = (frame: Uint8Array) => frame.slice(ETH_HEADER);
const u16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
function setU16(b: Uint8Array, at: number, v: number): void {
  b[at] = v >> 8;
  b[at + 1] = v & 0xff;
}

/** Recomputes the IPv4 header checksum and the ICMP checksum over ihl..total. */
function refresh4(b: Uint8Array): Uint8Array {
  const ihl = (b[0]! & 0x0f) * 4;
  setU16(b, 10, checksumWithFieldZeroed(b, 10, 0, 0, ihl));
  const total = u16(b, 2);
  if (total - ihl >= 4) setU16(b, ihl + 2, checksumWithFieldZeroed(b, ihl + 2, 0, ihl, total));
  return b;
}

/** Cuts an IPv4 packet to `total` bytes and fixes lengths and checksums. */
function cut4(b: Uint8Array, total: number): Uint8Array {
  const out = b.slice(0, total);
  setU16(out, 2, total);
  return refresh4(out);
}

/** Recomputes the ICMPv6 checksum (pseudo-header included) of the message at `icmp`. */
function refresh6(b: Uint8Array, icmp = 40): Uint8Array {
  const end = 40 + u16(b, 4);
  setU16(b, icmp + 2, checksumWithFieldZeroed(b, icmp + 2, ipv6PseudoHeaderSumAt(b, 0, 58, end - icmp), icmp, end));
  return b;
}

function cut6(b: Uint8Array, end: number): Uint8Array {
  const out = b.slice(0, end);
  setU16(out, 4, end - 40);
  return refresh6(out);
}

/** Inserts raw extension headers between the IPv6 fixed header and the rest, chaining next headers. */
function withOuterExtensions(b: Uint8Array, headers: { type: number; bytes: Uint8Array }[]): Uint8Array {
  const extLen = headers.reduce((n, h) => n + h.bytes.length, 0);
  const out = new Uint8Array(b.length + extLen);
  out.set(b.subarray(0, 40));
  let pos = 40;
  const upper = b[6]!;
  headers.forEach((h, i) => {
    out.set(h.bytes, pos);
    out[pos] = i + 1 < headers.length ? headers[i + 1]!.type : upper;
    pos += h.bytes.length;
  });
  out.set(b.subarray(40), pos);
  out[6] = headers[0]!.type;
  setU16(out, 4, u16(b, 4) + extLen);
  return out;
}

function accepted(r: TooBigResult): TooBig {
  if (!r.ok) assert.fail(`rejected: ${r.reason}`);
  return r.value;
}

function reason(r: TooBigResult): TooBigReject | 'ok' {
  return r.ok ? 'ok' : r.reason;
}

// --- the real captures are accepted ---

for (const [name, at] of [
  ['plain', (b: Uint8Array) => b],
  ['at offset 7', embed],
] as const) {
  test(`captured frag-needed quoting an echo request is accepted (${name})`, () => {
    const packet = at(ipOf(FRAG_NEEDED_PING));
    const v = accepted(decodeTooBig(packet));
    assert.equal(v.family, 4);
    assert.equal(formatAddress(v.outerSrc), '192.0.2.254');
    assert.equal(formatAddress(v.outerDst), '192.0.2.1');
    assert.equal(v.hopLimit, 64);
    assert.equal(v.mtu, 1400);
    assert.equal(v.icmpOffset, 20);
    assert.equal(v.flow.family, 4);
    assert.equal(v.flow.protocol, 1);
    assert.equal(formatAddress(v.flow.src), '192.0.2.1');
    assert.equal(formatAddress(v.flow.dst), '198.51.100.2');
    assert.equal('srcPort' in v.flow, false, 'ICMP has no ports: absent, not 0');
    assert.equal('dstPort' in v.flow, false);
    // Addresses are views into the packet, not copies.
    assert.equal(v.outerSrc.buffer, packet.buffer);
    assert.equal(v.flow.dst.byteOffset, packet.byteOffset + 20 + 8 + 16);
  });

  test(`captured frag-needed quoting UDP is accepted with ports (${name})`, () => {
    const v = accepted(decodeTooBig(at(ipOf(FRAG_NEEDED_UDP))));
    assert.equal(v.mtu, 1400);
    assert.equal(v.flow.protocol, 17);
    assert.equal(v.flow.srcPort, 40000);
    assert.equal(v.flow.dstPort, 33434);
  });

  test(`captured packet-too-big quoting an echo request is accepted (${name})`, () => {
    const v = accepted(decodeTooBig(at(ipOf(PACKET_TOO_BIG_PING))));
    assert.equal(v.family, 6);
    assert.equal(formatAddress(v.outerSrc), '2001:db8:1::fe');
    assert.equal(formatAddress(v.outerDst), '2001:db8:1::1');
    assert.equal(v.hopLimit, 64);
    assert.equal(v.mtu, 1400);
    assert.equal(v.icmpOffset, 40);
    assert.equal(v.flow.family, 6);
    assert.equal(v.flow.protocol, 58);
    assert.equal(formatAddress(v.flow.src), '2001:db8:1::1');
    assert.equal(formatAddress(v.flow.dst), '2001:db8:2::2');
    assert.equal('srcPort' in v.flow, false);
  });

  test(`captured packet-too-big quoting UDP, with and without a quoted destination options header (${name})`, () => {
    for (const frame of [PACKET_TOO_BIG_UDP, PACKET_TOO_BIG_UDP_DSTOPTS]) {
      const v = accepted(decodeTooBig(at(ipOf(frame))));
      assert.equal(v.flow.protocol, 17, 'the protocol after the quoted extension headers');
      assert.equal(v.flow.srcPort, 40000);
      assert.equal(v.flow.dstPort, 33434);
    }
  });
}

test('bytes after the IP length (padding, capture trailers) are ignored', () => {
  for (const frame of [FRAG_NEEDED_UDP, PACKET_TOO_BIG_UDP]) {
    const ip = ipOf(frame);
    const padded = new Uint8Array(ip.length + 11).fill(0x5a);
    padded.set(ip);
    const v = accepted(decodeTooBig(embed(padded)));
    assert.equal(v.flow.srcPort, 40000);
  }
});

// --- hand-mutated variants of the captures: each rejected with its own reason ---

const FRAG_OFFSET = 20 + 8; // the quote inside the IPv4 frag-needed
const PTB_QUOTE = 40 + 8; // the quote inside the IPv6 packet-too-big

const REJECTIONS: [string, Uint8Array, TooBigReject][] = [
  ['an empty buffer', new Uint8Array(0), 'truncated_ip'],
  ['19 bytes of IPv4', ipOf(FRAG_NEEDED_PING).subarray(0, 19), 'truncated_ip'],
  ['39 bytes of IPv6', ipOf(PACKET_TOO_BIG_PING).subarray(0, 39), 'truncated_ip'],
  ['IP version 5', (() => { const b = ipOf(FRAG_NEEDED_PING); b[0] = 0x55; return b; })(), 'bad_ip_version'],
  ['outer IHL 4', (() => { const b = ipOf(FRAG_NEEDED_PING); b[0] = 0x44; return b; })(), 'bad_ip_header'],
  ['outer total length past the buffer (NFLOG copy range cut it)', ipOf(FRAG_NEEDED_PING).subarray(0, 575), 'bad_ip_header'],
  ['outer IPv4 header checksum wrong', (() => { const b = ipOf(FRAG_NEEDED_PING); b[8] = 63; return b; })(), 'bad_ip_header'],
  [
    'outer IPv4 option with length 1',
    (() => {
      // IHL 6: one option word 07 01 00 00 inserted after the fixed header.
      const ip = ipOf(FRAG_NEEDED_PING);
      const b = new Uint8Array(ip.length + 4);
      b.set(ip.subarray(0, 20));
      b.set(Uint8Array.of(0x07, 0x01, 0, 0), 20);
      b.set(ip.subarray(20), 24);
      b[0] = 0x46;
      setU16(b, 2, b.length);
      return refresh4(b);
    })(),
    'bad_ip_header',
  ],
  ['IPv6 payload length past the buffer', ipOf(PACKET_TOO_BIG_PING).subarray(0, 1279), 'bad_ip_header'],
  [
    'non-first IPv4 fragment',
    (() => { const b = ipOf(FRAG_NEEDED_PING); setU16(b, 6, 185); return refresh4(b); })(),
    'fragment',
  ],
  [
    'non-first IPv6 fragment',
    withOuterExtensions(ipOf(PACKET_TOO_BIG_PING), [{ type: 44, bytes: hex('00 00 05c8 00000001') }]),
    'fragment',
  ],
  ['IPv4 UDP datagram', ipOf(UDP_V4), 'not_icmp'],
  ['IPv6 UDP datagram behind a hop-by-hop header', ipOf(UDP_V6_HOP_BY_HOP), 'not_icmp'],
  ['ICMPv4 echo request', ipOf(ECHO_REQUEST_V4), 'not_too_big'],
  ['ICMPv4 port unreachable (type 3 code 3)', (() => { const b = ipOf(FRAG_NEEDED_PING); b[21] = 3; return refresh4(b); })(), 'not_too_big'],
  ['ICMPv6 type 2 with code 1', (() => { const b = ipOf(PACKET_TOO_BIG_PING); b[41] = 1; return refresh6(b); })(), 'not_too_big'],
  ['4 bytes of ICMPv4', cut4(ipOf(FRAG_NEEDED_PING), 24), 'truncated_icmp'],
  ['4 bytes of ICMPv6', cut6(ipOf(PACKET_TOO_BIG_PING), 44), 'truncated_icmp'],
  ['ICMPv4 checksum wrong (a quoted byte flipped)', (() => { const b = ipOf(FRAG_NEEDED_PING); b[300]! ^= 0x40; return b; })(), 'bad_checksum'],
  ['ICMPv6 checksum wrong (a quoted byte flipped)', (() => { const b = ipOf(PACKET_TOO_BIG_PING); b[1000]! ^= 0x01; return b; })(), 'bad_checksum'],
  [
    'ICMPv6 checksum over another destination (pseudo-header)',
    (() => { const b = ipOf(PACKET_TOO_BIG_PING); b[39] = 2; return b; })(),
    'bad_checksum',
  ],
  ['ICMPv4 with no quote', cut4(ipOf(FRAG_NEEDED_PING), FRAG_OFFSET), 'no_quote'],
  ['ICMPv6 with no quote', cut6(ipOf(PACKET_TOO_BIG_PING), PTB_QUOTE), 'no_quote'],
  ['IPv4 quote of 12 bytes', cut4(ipOf(FRAG_NEEDED_PING), FRAG_OFFSET + 12), 'truncated_quote'],
  [
    'IPv4 quote whose IHL 15 (60 bytes) exceeds the 40 quoted bytes',
    (() => { const b = cut4(ipOf(FRAG_NEEDED_PING), FRAG_OFFSET + 40); b[FRAG_OFFSET] = 0x4f; return refresh4(b); })(),
    'truncated_quote',
  ],
  ['IPv6 quote of 39 bytes', cut6(ipOf(PACKET_TOO_BIG_PING), PTB_QUOTE + 39), 'truncated_quote'],
  ['IPv6 quote cut inside its destination options header', cut6(ipOf(PACKET_TOO_BIG_UDP_DSTOPTS), PTB_QUOTE + 44), 'truncated_quote'],
  ['IPv4 quote with IHL 4', (() => { const b = ipOf(FRAG_NEEDED_PING); b[FRAG_OFFSET] = 0x44; return refresh4(b); })(), 'bad_quote_header'],
  ['IPv4 quote with version 6', (() => { const b = ipOf(FRAG_NEEDED_PING); b[FRAG_OFFSET] = 0x65; return refresh4(b); })(), 'bad_quote_header'],
  ['IPv6 quote with version 4', (() => { const b = ipOf(PACKET_TOO_BIG_PING); b[PTB_QUOTE] = 0x45; return refresh6(b); })(), 'bad_quote_header'],
  [
    'IPv6 quote with a hop-by-hop header after its destination options header',
    (() => { const b = ipOf(PACKET_TOO_BIG_UDP_DSTOPTS); b[PTB_QUOTE + 40] = 0; return refresh6(b); })(),
    'bad_quote_header',
  ],
  [
    'outer hop-by-hop header whose length runs past the payload',
    withOuterExtensions(ipOf(PACKET_TOO_BIG_PING), [{ type: 0, bytes: hex('00 00 01 04 00000000') }]).map((x, i) => (i === 41 ? 200 : x)),
    'bad_ext_header',
  ],
  [
    'outer hop-by-hop header after a destination options header',
    withOuterExtensions(ipOf(PACKET_TOO_BIG_PING), [
      { type: 60, bytes: hex('00 00 01 04 00000000') },
      { type: 0, bytes: hex('00 00 01 04 00000000') },
    ]),
    'bad_ext_header',
  ],
];

for (const [name, packet, expected] of REJECTIONS) {
  test(`rejected as ${expected}: ${name}`, () => {
    assert.equal(reason(decodeTooBig(packet)), expected);
    assert.equal(reason(decodeTooBig(embed(packet))), expected, 'same at a non-zero offset');
  });
}

test('every rejection reason of the contract is exercised above', () => {
  assert.deepEqual(new Set(REJECTIONS.map((r) => r[2])), new Set(TOO_BIG_REJECT));
});

test('a valid outer IPv6 extension chain is walked to the ICMPv6 header', () => {
  // The ICMPv6 length, and so the checksum, is unchanged by headers in front of it.
  const packet = withOuterExtensions(ipOf(PACKET_TOO_BIG_UDP), [
    { type: 0, bytes: hex('00 00 01 04 00000000') }, // hop-by-hop, PadN
    { type: 60, bytes: hex('00 01 01 0c 00000000 00000000 00000000') }, // destination options, 16 bytes
    { type: 44, bytes: hex('00 00 0000 0000abcd') }, // fragment header, offset 0 and no M: an atomic fragment
  ]);
  const v = accepted(decodeTooBig(embed(packet)));
  assert.equal(v.icmpOffset, 40 + 8 + 16 + 8);
  assert.equal(v.mtu, 1400);
  assert.equal(v.flow.srcPort, 40000);
});

test('a quoted non-first fragment, or a quote cut inside the ports, yields a flow without ports', () => {
  const frag = ipOf(FRAG_NEEDED_UDP);
  setU16(frag, FRAG_OFFSET + 6, 0x2000 | 185); // quoted MF + offset 185: data, not a UDP header
  const a = accepted(decodeTooBig(refresh4(frag)));
  assert.equal(a.flow.protocol, 17);
  assert.equal('srcPort' in a.flow, false);

  const cut = cut4(ipOf(FRAG_NEEDED_UDP), FRAG_OFFSET + 20 + 3);
  const b = accepted(decodeTooBig(cut));
  assert.equal(b.flow.protocol, 17);
  assert.equal('srcPort' in b.flow, false);
  const four = accepted(decodeTooBig(cut4(ipOf(FRAG_NEEDED_UDP), FRAG_OFFSET + 20 + 4)));
  assert.equal(four.flow.dstPort, 33434);
});

test('the MTU is carried as is (IPv6: 32 bits); range checks are the relay policy', () => {
  const b = ipOf(PACKET_TOO_BIG_PING);
  b.set(Uint8Array.of(0x80, 0, 0, 0x10), 44);
  assert.equal(accepted(decodeTooBig(refresh6(b))).mtu, 0x80000010);
  const z = ipOf(FRAG_NEEDED_PING);
  setU16(z, 26, 0);
  assert.equal(accepted(decodeTooBig(refresh4(z))).mtu, 0);
});

test('rejections are shared frozen objects: the reject path allocates nothing', () => {
  const a = decodeTooBig(ipOf(ECHO_REQUEST_V4));
  const b = decodeTooBig(embed(ipOf(ECHO_REQUEST_V4)));
  assert.equal(a, b);
  assert.equal(Object.isFrozen(a), true);
});

test('every prefix of every capture is decoded without throwing', () => {
  for (const frame of [FRAG_NEEDED_PING, FRAG_NEEDED_UDP, PACKET_TOO_BIG_PING, PACKET_TOO_BIG_UDP_DSTOPTS, ECHO_REQUEST_V4, UDP_V6_HOP_BY_HOP]) {
    const ip = ipOf(frame);
    for (let n = 0; n <= ip.length; n++) {
      const r = decodeTooBig(ip.subarray(0, n));
      if (!r.ok) assert.ok((TOO_BIG_REJECT as readonly string[]).includes(r.reason));
      else assert.equal(n, ip.length);
    }
  }
});

test('tooBigKey names family, protocol, addresses, ports and MTU', () => {
  const udp4 = accepted(decodeTooBig(ipOf(FRAG_NEEDED_UDP)));
  assert.equal(tooBigKey(udp4.flow, udp4.mtu), '4|17|192.0.2.1|198.51.100.2|40000|33434|1400');
  const ping6 = accepted(decodeTooBig(ipOf(PACKET_TOO_BIG_PING)));
  assert.equal(tooBigKey(ping6.flow, ping6.mtu), '6|58|20010db8000100000000000000000001|20010db8000200000000000000000002|||1400');
  assert.notEqual(tooBigKey(udp4.flow, 1399), tooBigKey(udp4.flow, 1400));
  // Same flow seen in two different packets (different outer id, offset) gives the same key.
  assert.equal(tooBigKey(accepted(decodeTooBig(embed(ipOf(FRAG_NEEDED_UDP)))).flow, 1400), tooBigKey(udp4.flow, 1400));
});
