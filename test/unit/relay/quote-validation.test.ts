/**
 * Validation of the quote the way the owner's kernel would see it: a quoted
 * IPv4 header whose IHL claims options must hold well-formed options
 * (bad_quote_header), and a next-hop MTU not smaller than the quoted packet
 * cannot lower any path MTU (mtu_not_below_quoted).
 *
 * The vectors are hand-built: no kernel sends them (that is the point), and a
 * router in a lab cannot be made to. Checksums are correct, so each packet
 * fails for the one reason under test. Router 192.0.2.254 → node 192.0.2.1,
 * quoting UDP 192.0.2.1:40000 → 198.51.100.2:33434.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hex, atOffset } from '../../harness/bytes.js';
import { decide, RelayState } from '../../../src/relay/decide.js';
import { parseCidrs } from '../../../src/relay/prefix-set.js';
import { Policy, validate } from '../../../src/relay/validate.js';
import { decodeTooBig, TooBigDecoder } from '../../../src/wire/too-big-decode.js';
import { V4_UDP, V6_UDP, variant } from './too-big-variant.js';

const VIPS = { vipNetworks: parseCidrs(['192.0.2.0/24', '2001:db8:1::/64'], 'vip') };

/** IHL 6 claims 4 bytes of options; the bytes there are the UDP ports (0x9c 0x40: option 156 of length 64, past the header). */
const IHL_CLAIMS_ABSENT_OPTIONS = hex(`
  45 00 00 38  12 34 00 00  40 01 e3 91  c0 00 02 fe  c0 00 02 01   // outer IPv4, 56 bytes, ICMP
  03 04 1b ba  00 00 05 78                                           // frag needed, mtu 1400
  46 00 05 dc  00 01 40 00  3f 11 00 00  c0 00 02 01  c6 33 64 02   // quoted IPv4: IHL 6, total 1500, DF, UDP
  9c 40 82 9a                                                        // "options": really the ports 40000 → 33434
  05 c8 00 00                                                        // UDP length, checksum
`);

/** The same quote with real options (NOP NOP NOP EOL), then the UDP header: relayed. */
const IHL_WITH_OPTIONS = hex(`
  45 00 00 3c  12 34 00 00  40 01 e3 8d  c0 00 02 fe  c0 00 02 01   // outer IPv4, 60 bytes
  03 04 19 b9  00 00 05 78                                           // frag needed, mtu 1400
  46 00 05 dc  00 01 40 00  3f 11 00 00  c0 00 02 01  c6 33 64 02   // quoted IPv4: IHL 6, total 1500
  01 01 01 00                                                        // options: NOP NOP NOP EOL
  9c 40 82 9a  05 c8 00 00                                           // UDP 40000 → 33434
`);

/** MTU 1500 for a 1500-byte packet: it fits, so nothing is too big. */
const V4_MTU_NOT_BELOW = hex(`
  45 00 00 38  12 34 00 00  40 01 e3 91  c0 00 02 fe  c0 00 02 01   // outer IPv4
  03 04 1c 56  00 00 05 dc                                           // frag needed, mtu 1500
  45 00 05 dc  00 01 40 00  3f 11 00 00  c0 00 02 01  c6 33 64 02   // quoted IPv4: total length 1500
  9c 40 82 9a  05 c8 00 00                                           // UDP 40000 → 33434
`);

/** IPv6: MTU 1500 for a packet of payload 1460 + 40 = 1500. 2001:db8:1::fe → 2001:db8:1::1. */
const V6_MTU_NOT_BELOW = hex(`
  60 00 00 00  00 38 3a 40                                           // IPv6, payload 56, ICMPv6, hop limit 64
  20 01 0d b8  00 01 00 00  00 00 00 00  00 00 00 fe                 // src 2001:db8:1::fe
  20 01 0d b8  00 01 00 00  00 00 00 00  00 00 00 01                 // dst 2001:db8:1::1
  02 00 a4 43  00 00 05 dc                                           // packet too big, mtu 1500
  60 00 00 00  05 b4 11 3f                                           // quoted IPv6: payload 1460, UDP
  20 01 0d b8  00 01 00 00  00 00 00 00  00 00 00 01                 // quoted src 2001:db8:1::1
  20 01 0d b8  00 02 00 00  00 00 00 00  00 00 00 02                 // quoted dst 2001:db8:2::2
  9c 40 82 9a  05 b4 00 00                                           // UDP 40000 → 33434
`);

test('bad_quote_header: a quoted IHL that claims options which are not there', () => {
  for (const bytes of [IHL_CLAIMS_ABSENT_OPTIONS, atOffset(IHL_CLAIMS_ABSENT_OPTIONS)]) {
    assert.deepEqual(decodeTooBig(bytes), { ok: false, reason: 'bad_quote_header' });
    assert.deepEqual(new TooBigDecoder().decode(bytes), { ok: false, reason: 'bad_quote_header' });
  }
});

test('a quoted header with well-formed options decodes, and its ports are read after them', () => {
  const r = decodeTooBig(atOffset(IHL_WITH_OPTIONS));
  assert.ok(r.ok);
  assert.equal(r.value.flow.srcPort, 40000);
  assert.equal(r.value.flow.dstPort, 33434);
  assert.equal(r.value.quotedLength, 1500);
  assert.equal(validate(r.value, new Policy(VIPS)), undefined);
});

test('mtu_not_below_quoted: a next-hop MTU equal to the quoted packet length, IPv4 and IPv6', () => {
  for (const bytes of [V4_MTU_NOT_BELOW, V6_MTU_NOT_BELOW]) {
    const r = decodeTooBig(atOffset(bytes));
    assert.ok(r.ok, 'well-formed');
    assert.equal(r.value.mtu, 1500);
    assert.equal(r.value.quotedLength, 1500);
    assert.equal(validate(r.value, new Policy(VIPS)), 'mtu_not_below_quoted');
    const s = new RelayState(VIPS);
    assert.deepEqual(decide(bytes, { ifindex: 1, now: 0 }, s), { kind: 'reject', reason: 'mtu_not_below_quoted' });
    assert.equal(s.counters.rejected.mtu_not_below_quoted, 1);
  }
});

test('a quoted length of 0 (BIG TCP, jumbogram) is not judged; a truncated quote keeps its length field', () => {
  for (const base of [V4_UDP, V6_UDP]) {
    const zero = decodeTooBig(variant(base, { quotedLength: 0, mtu: 9000 }));
    assert.ok(zero.ok);
    assert.equal('quotedLength' in zero.value, false, 'absent, not undefined');
    assert.equal(validate(zero.value, new Policy(VIPS)), undefined);
    const fromDecoder = new TooBigDecoder().decode(variant(base, { quotedLength: 0, mtu: 9000 }));
    assert.deepEqual(fromDecoder, zero, 'the hot-path decoder gives the same shape');
  }
  // The captured packets quote 548 (IPv4) and 1232 (IPv6) bytes of a 1500-byte packet.
  for (const base of [V4_UDP, V6_UDP]) {
    const r = decodeTooBig(base);
    assert.ok(r.ok);
    assert.equal(r.value.quotedLength, 1500);
    assert.equal(validate(r.value, new Policy(VIPS)), undefined);
  }
});

test('property: mtu_not_below_quoted exactly when the MTU is at least the stated length', () => {
  fc.assert(
    fc.property(fc.constantFrom(V4_UDP, V6_UDP), fc.integer({ min: 1281, max: 65535 }), fc.integer({ min: 1280, max: 65535 }), (base, length, mtu) => {
      const r = decodeTooBig(variant(base, { quotedLength: length, mtu }));
      assert.ok(r.ok);
      const got = validate(r.value, new Policy(VIPS));
      assert.equal(got === 'mtu_not_below_quoted', mtu >= length, `length ${length} mtu ${mtu}: ${got}`);
      const d = new TooBigDecoder().decode(variant(base, { quotedLength: length, mtu }));
      assert.deepEqual(d, r);
    }),
    { numRuns: 500 },
  );
});

test('property: any IHL > 5 whose option bytes are not well-formed is bad_quote_header, never relayed', () => {
  fc.assert(
    fc.property(fc.integer({ min: 6, max: 15 }), fc.uint8Array({ minLength: 40, maxLength: 40 }), (ihlWords, opts) => {
      const p = Uint8Array.from(IHL_CLAIMS_ABSENT_OPTIONS.subarray(0, 28 + 20));
      const bytes = new Uint8Array(p.length + opts.length);
      bytes.set(p);
      bytes.set(opts, p.length);
      bytes[28] = 0x40 | ihlWords;
      // Fix the outer total length and the ICMP checksum so only the quote can be at fault.
      bytes[2] = bytes.length >> 8;
      bytes[3] = bytes.length & 0xff;
      const fixed = variant(bytes, {});
      const r = decodeTooBig(fixed);
      const optionBytes = fixed.subarray(48, 28 + ihlWords * 4);
      let wellFormed = true;
      for (let i = 0; i < optionBytes.length; ) {
        const t = optionBytes[i]!;
        if (t === 0) break;
        if (t === 1) {
          i++;
          continue;
        }
        const len = optionBytes[i + 1];
        if (len === undefined || len < 2 || i + len > optionBytes.length) {
          wellFormed = false;
          break;
        }
        i += len;
      }
      if (!wellFormed) assert.deepEqual(r, { ok: false, reason: 'bad_quote_header' });
      else assert.ok(r.ok || r.reason !== 'bad_quote_header');
    }),
    { numRuns: 500 },
  );
});
