/**
 * Properties of the packet codecs (fast-check):
 * - hostile bytes: every decoder returns a value or throws DecodeError, nothing
 *   else; decodeTooBig never throws and answers ok or a reason of TOO_BIG_REJECT;
 * - round trips: encode -> decode -> encode is byte-stable and keeps the fields;
 * - checksums: a buffer with its own checksum inserted verifies;
 * - addresses: formatIPv6/parseIPv6 round-trip, and the text agrees with the
 *   WHATWG URL host serializer (an independent RFC 5952-style formatter).
 * Run counts are sized for well under a second per property on a shared machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DecodeError } from '../../../src/errors.js';
import { checksumWithFieldZeroed, internetChecksum, verifyChecksum } from '../../../src/wire/checksum.js';
import { ETH_P, decodeEthernet, encodeEthernet, type VlanTag } from '../../../src/wire/ethernet.js';
import { decodeIcmpv4, encodeIcmpv4 } from '../../../src/wire/icmpv4.js';
import { decodeIcmpv6, encodeIcmpv6 } from '../../../src/wire/icmpv6.js';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../../../src/wire/ip-address.js';
import { decodeIPv4, encodeIPv4, verifyIPv4Header } from '../../../src/wire/ipv4.js';
import { decodeIPv6, encodeIPv6, type IPv6ExtensionHeader } from '../../../src/wire/ipv6.js';
import { decodePorts, hasPorts } from '../../../src/wire/tcp.js';
import { decodeTooBig } from '../../../src/wire/too-big-decode.js';
import { TOO_BIG_REJECT } from '../../../src/wire/too-big.js';
import { decodeUdp, encodeUdp, verifyUdpChecksum } from '../../../src/wire/udp.js';
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
} from './fixtures/packets.js';

const RUNS = 300;

// --- generators ---

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = (maxLength: number) => fc.uint8Array({ maxLength });
const fixed = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const addr4 = fixed(4);
/** IPv6 addresses built from groups that are often zero, so "::" runs of every length occur. */
const addr6 = fc.array(fc.oneof(fc.constant(0), fc.constant(0), u16), { minLength: 8, maxLength: 8 }).map((groups) => {
  const b = new Uint8Array(16);
  groups.forEach((g, i) => {
    b[2 * i] = g >> 8;
    b[2 * i + 1] = g & 0xff;
  });
  return b;
});

const GOLDEN_IP = [FRAG_NEEDED_PING, FRAG_NEEDED_UDP, PACKET_TOO_BIG_PING, PACKET_TOO_BIG_UDP, PACKET_TOO_BIG_UDP_DSTOPTS, ECHO_REQUEST_V4, UDP_V4, UDP_V6_HOP_BY_HOP].map(
  (f) => f.slice(ETH_HEADER),
);

/** A golden IP packet with random byte overwrites and a random cut: hostile input that gets past the first checks. */
const mutatedGolden = fc
  .record({
    which: fc.integer({ min: 0, max: GOLDEN_IP.length - 1 }),
    edits: fc.array(fc.record({ pos: fc.nat({ max: 1400 }), val: u8 }), { maxLength: 4 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
  })
  .map(({ which, edits, cut }) => {
    const golden = GOLDEN_IP[which]!;
    const b = golden.slice(0, cut === undefined ? golden.length : cut % (golden.length + 1));
    for (const e of edits) if (b.length > 0) b[e.pos % b.length] = e.val;
    return b;
  });

/** Random bytes whose first nibble is often a valid IP version. */
const ipish = fc.tuple(fc.constantFrom(0x45, 0x46, 0x4f, 0x60, 0x00), bytes(160)).map(([first, rest]) => {
  const b = new Uint8Array(rest.length + 1);
  b[0] = first;
  b.set(rest, 1);
  return b;
});

const hostile = fc.oneof(bytes(200), ipish, mutatedGolden);

function onlyDecodeErrors(decode: (b: Uint8Array) => unknown): (b: Uint8Array) => void {
  return (b) => {
    try {
      decode(b);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
    }
  };
}

// --- hostile input ---

test('every decoder returns a value or throws DecodeError on arbitrary bytes', () => {
  const decoders: [string, (b: Uint8Array) => unknown][] = [
    ['ethernet', decodeEthernet],
    ['ipv4', (b) => decodeIPv4(b)],
    ['ipv4 quoted', (b) => decodeIPv4(b, { quoted: true })],
    ['ipv6', (b) => decodeIPv6(b)],
    ['ipv6 quoted', (b) => decodeIPv6(b, { quoted: true })],
    ['icmpv4', decodeIcmpv4],
    ['icmpv6', decodeIcmpv6],
    ['udp', decodeUdp],
    ['ports', decodePorts],
  ];
  for (const [name, decode] of decoders) {
    fc.assert(fc.property(hostile, onlyDecodeErrors(decode)), { numRuns: RUNS, examples: [[new Uint8Array(0)]] });
    assert.ok(name);
  }
});

test('address and MAC parsers throw only DecodeError on arbitrary text', () => {
  const text = fc.oneof(fc.string({ maxLength: 50 }), fc.stringMatching(/^[0-9a-fA-F:.]{0,45}$/));
  fc.assert(
    fc.property(text, (s) => {
      onlyDecodeErrors(() => parseIPv6(s))(new Uint8Array(0));
      onlyDecodeErrors(() => parseIPv4(s))(new Uint8Array(0));
    }),
    { numRuns: RUNS },
  );
});

const REASONS = new Set<string>(TOO_BIG_REJECT);

test('decodeTooBig never throws and answers ok or a reason of TOO_BIG_REJECT', () => {
  fc.assert(
    fc.property(hostile, (b) => {
      const r = decodeTooBig(b);
      if (r.ok) {
        assert.ok(r.value.family === 4 || r.value.family === 6);
        assert.ok(r.value.icmpOffset + 8 < b.length);
      } else {
        assert.ok(REASONS.has(r.reason), r.reason);
      }
    }),
    { numRuns: 1000 },
  );
});

// --- decodeTooBig against packets built with the encoders ---

const portProto = fc.constantFrom(6, 17, 33, 132, 136);
const anyProto = fc.oneof(portProto, fc.constantFrom(1, 47, 50, 58));

test('generated IPv4 frag-needed packets: accepted with the quoted flow, or rejected for the quote length', () => {
  fc.assert(
    fc.property(
      fc.record({ outerSrc: addr4, outerDst: addr4, ttl: u8, mtu: u16, innerSrc: addr4, innerDst: addr4, protocol: anyProto, options: fc.integer({ min: 0, max: 10 }), l4: bytes(40), cut: fc.nat() }),
      (g) => {
        const inner = encodeIPv4({ protocol: g.protocol, src: g.innerSrc, dst: g.innerDst, dontFragment: true, options: new Uint8Array(4 * g.options).fill(1), payload: g.l4 });
        const quoteLen = g.cut % (inner.length + 1);
        const icmp = encodeIcmpv4({ type: 3, code: 4, nextHopMtu: g.mtu, body: inner.subarray(0, quoteLen) });
        const outer = encodeIPv4({ protocol: 1, src: g.outerSrc, dst: g.outerDst, ttl: g.ttl, payload: icmp });
        const r = decodeTooBig(outer);
        const ihl = 20 + 4 * g.options;
        if (quoteLen === 0) return assert.deepEqual(r, { ok: false, reason: 'no_quote' });
        if (quoteLen < ihl) return assert.deepEqual(r, { ok: false, reason: 'truncated_quote' });
        assert.ok(r.ok);
        assert.equal(r.value.mtu, g.mtu);
        assert.equal(r.value.hopLimit, g.ttl);
        assert.deepEqual(r.value.outerSrc, g.outerSrc);
        assert.deepEqual(r.value.flow.src, g.innerSrc);
        assert.deepEqual(r.value.flow.dst, g.innerDst);
        assert.equal(r.value.flow.protocol, g.protocol);
        const ports = hasPorts(g.protocol) && quoteLen >= ihl + 4 && g.l4.length >= 4;
        assert.equal('srcPort' in r.value.flow, ports);
        if (ports) assert.deepEqual({ s: r.value.flow.srcPort, d: r.value.flow.dstPort }, { s: (g.l4[0]! << 8) | g.l4[1]!, d: (g.l4[2]! << 8) | g.l4[3]! });
      },
    ),
    { numRuns: RUNS },
  );
});

/** Valid IPv6 extension headers (hop-by-hop only first), raw bytes with consistent length fields. */
const optsHeader = (type: number) =>
  fc.integer({ min: 0, max: 2 }).chain((n) => fixed((n + 1) * 8 - 2).map((rest) => ({ type, bytes: Uint8Array.of(0, n, ...rest) })));
const ahHeader = fc.integer({ min: 1, max: 4 }).chain((n) => fixed((n + 2) * 4 - 2).map((rest) => ({ type: 51, bytes: Uint8Array.of(0, n, ...rest) })));
const firstFragment = fixed(4).map((id) => ({ type: 44, bytes: Uint8Array.of(0, 0, 0, 0, ...id) }));
const extChain = fc
  .tuple(fc.boolean(), optsHeader(0), fc.array(fc.oneof(optsHeader(43), optsHeader(60), ahHeader, firstFragment), { maxLength: 3 }))
  .map(([hbh, h, rest]): IPv6ExtensionHeader[] => (hbh ? [h, ...rest] : rest));

test('generated IPv6 packet-too-big packets: accepted with the quoted flow after its extension headers', () => {
  fc.assert(
    fc.property(
      fc.record({ outerSrc: addr6, outerDst: addr6, hlim: u8, mtu: u32, innerSrc: addr6, innerDst: addr6, protocol: anyProto, exts: extChain, outerExts: extChain, l4: bytes(40), cut: fc.nat() }),
      (g) => {
        const inner = encodeIPv6({ protocol: g.protocol, src: g.innerSrc, dst: g.innerDst, extensionHeaders: g.exts, payload: g.l4 });
        const quoteLen = g.cut % (inner.length + 1);
        const icmp = encodeIcmpv6({ type: 2, code: 0, mtu: g.mtu, body: inner.subarray(0, quoteLen) }, g.outerSrc, g.outerDst);
        const outer = encodeIPv6({ protocol: 58, src: g.outerSrc, dst: g.outerDst, hopLimit: g.hlim, extensionHeaders: g.outerExts, payload: icmp });
        const r = decodeTooBig(outer);
        const hdrLen = 40 + g.exts.reduce((n, h) => n + h.bytes.length, 0);
        if (quoteLen === 0) return assert.deepEqual(r, { ok: false, reason: 'no_quote' });
        if (quoteLen < hdrLen) return assert.deepEqual(r, { ok: false, reason: 'truncated_quote' });
        assert.ok(r.ok, JSON.stringify(r));
        assert.equal(r.value.mtu, g.mtu);
        assert.equal(r.value.hopLimit, g.hlim);
        assert.equal(r.value.icmpOffset, 40 + g.outerExts.reduce((n, h) => n + h.bytes.length, 0));
        assert.deepEqual(r.value.flow.dst, g.innerDst);
        assert.equal(r.value.flow.protocol, g.protocol);
        assert.equal('srcPort' in r.value.flow, hasPorts(g.protocol) && quoteLen >= hdrLen + 4 && g.l4.length >= 4);
      },
    ),
    { numRuns: RUNS },
  );
});

// --- round trips ---

test('IPv4: encode -> decode -> encode is stable and keeps the fields', () => {
  fc.assert(
    fc.property(
      fc.record({
        tos: u8,
        id: u16,
        reservedFlag: fc.boolean(),
        dontFragment: fc.boolean(),
        moreFragments: fc.boolean(),
        fragmentOffset: fc.integer({ min: 0, max: 0x1fff }),
        ttl: u8,
        protocol: u8,
        src: addr4,
        dst: addr4,
        options: fc.integer({ min: 0, max: 10 }).chain((n) => fixed(4 * n)),
        payload: bytes(64),
      }),
      (f) => {
        const b1 = encodeIPv4(f);
        assert.equal(verifyIPv4Header(b1), true);
        const p = decodeIPv4(b1);
        assert.deepEqual({ ...p, ihl: undefined, totalLength: undefined, checksum: undefined }, { ...f, ihl: undefined, totalLength: undefined, checksum: undefined });
        assert.deepEqual(encodeIPv4(p), b1);
      },
    ),
    { numRuns: RUNS },
  );
});

test('IPv6: encode -> decode -> encode is stable and keeps the fields', () => {
  fc.assert(
    fc.property(
      fc.record({
        trafficClass: u8,
        flowLabel: fc.integer({ min: 0, max: 0xfffff }),
        hopLimit: u8,
        src: addr6,
        dst: addr6,
        extensionHeaders: extChain,
        protocol: fc.constantFrom(6, 17, 58, 59, 50, 132),
        payload: bytes(64),
      }),
      (f) => {
        const b1 = encodeIPv6(f);
        const p = decodeIPv6(b1);
        assert.equal(p.trafficClass, f.trafficClass);
        assert.equal(p.flowLabel, f.flowLabel);
        assert.equal(p.protocol, f.protocol);
        assert.deepEqual(p.payload, f.payload);
        assert.deepEqual(
          p.extensionHeaders.map((h) => [h.type, h.bytes.length]),
          f.extensionHeaders.map((h) => [h.type, h.bytes.length]),
        );
        assert.equal('fragment' in p, f.extensionHeaders.some((h) => h.type === 44));
        assert.deepEqual(encodeIPv6(p), b1);
      },
    ),
    { numRuns: RUNS },
  );
});

test('ICMPv4 and ICMPv6: encode -> decode -> encode is stable and the checksum verifies', () => {
  fc.assert(
    fc.property(fc.record({ type: u8, code: u8, restOfHeader: u32, body: bytes(64), src: addr6, dst: addr6 }), (m) => {
      const b4 = encodeIcmpv4(m);
      const d4 = decodeIcmpv4(b4);
      assert.equal(d4.restOfHeader, m.restOfHeader);
      assert.equal(verifyChecksum(b4), true);
      assert.deepEqual(encodeIcmpv4(d4), b4);

      const b6 = encodeIcmpv6(m, m.src, m.dst);
      const d6 = decodeIcmpv6(b6);
      assert.equal(d6.type, m.type);
      assert.equal(d6.restOfHeader, m.restOfHeader);
      assert.deepEqual(d6.body, m.body);
      assert.deepEqual(encodeIcmpv6(d6, m.src, m.dst), b6);
    }),
    { numRuns: RUNS },
  );
});

test('UDP over IPv4 and IPv6: encode -> decode -> encode is stable and the checksum verifies', () => {
  fc.assert(
    fc.property(fc.record({ srcPort: u16, dstPort: u16, payload: bytes(64), v6: fc.boolean(), s4: addr4, d4: addr4, s6: addr6, d6: addr6 }), (g) => {
      const addrs = g.v6 ? { src: g.s6, dst: g.d6 } : { src: g.s4, dst: g.d4 };
      const b1 = encodeUdp(g, addrs);
      assert.equal(verifyUdpChecksum(addrs.src, addrs.dst, b1), true);
      const d = decodeUdp(b1);
      assert.deepEqual([d.srcPort, d.dstPort, d.length], [g.srcPort, g.dstPort, 8 + g.payload.length]);
      assert.notEqual(d.checksum, 0, 'a computed checksum is never sent as 0');
      assert.deepEqual(encodeUdp(d, addrs), b1);
    }),
    { numRuns: RUNS },
  );
});

test('Ethernet: encode -> decode -> encode is stable with any VLAN tags', () => {
  const tag: fc.Arbitrary<VlanTag> = fc.record({
    tpid: fc.constantFrom(ETH_P['8021Q'], ETH_P['8021AD']),
    pcp: fc.integer({ min: 0, max: 7 }),
    dei: fc.boolean(),
    vid: fc.integer({ min: 0, max: 0xfff }),
  }).map((t) => ({ ...t })); // plain objects: fc.record's have a null prototype
  fc.assert(
    fc.property(
      fc.record({
        dst: fixed(6),
        src: fixed(6),
        tags: fc.array(tag, { maxLength: 3 }),
        etherType: u16.filter((t) => t !== ETH_P['8021Q'] && t !== ETH_P['8021AD']),
        payload: bytes(64),
      }),
      (f) => {
        const b1 = encodeEthernet(f);
        const d = decodeEthernet(b1);
        assert.deepEqual({ ...d }, { ...f });
        assert.deepEqual(encodeEthernet(d), b1);
      },
    ),
    { numRuns: RUNS },
  );
});

// --- checksums and addresses ---

test('a buffer with its own checksum inserted verifies', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 2, maxLength: 300 }), fc.nat(), u32, (buf, at, initial) => {
      const b = buf.slice();
      const pos = 2 * (at % Math.floor(b.length / 2));
      const c = checksumWithFieldZeroed(b, pos, initial);
      b[pos] = c >> 8;
      b[pos + 1] = c & 0xff;
      assert.equal(verifyChecksum(b, initial), true);
      assert.equal(internetChecksum(b, initial), 0);
    }),
    { numRuns: RUNS },
  );
});

test('formatIPv6 / parseIPv6 round-trip and agree with the URL host serializer', () => {
  fc.assert(
    fc.property(addr6, (b) => {
      const text = formatIPv6(b);
      assert.deepEqual(parseIPv6(text), b);
      assert.equal(formatIPv6(parseIPv6(text.toUpperCase())), text);
      assert.doesNotMatch(text, /(^|:)0[0-9a-f]/, 'no leading zeros');
      const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
      if (!mapped) assert.equal(new URL(`http://[${text}]/`).hostname, `[${text}]`);
    }),
    { numRuns: RUNS },
  );
});

test('formatIPv4 / parseIPv4 round-trip', () => {
  fc.assert(
    fc.property(addr4, (b) => assert.deepEqual(parseIPv4(formatIPv4(b)), b)),
    { numRuns: 100 },
  );
});
