import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { addressText, canonicalPrefix, parseAddress, parsePrefix } from '../../../src/routes/prefix.js';
import { AF } from '../../../src/routes/objects.js';

const addressCases: [string, string | null][] = [
  ['192.0.2.1', '192.0.2.1'],
  [' 192.0.2.1 ', '192.0.2.1'],
  ['0.0.0.0', '0.0.0.0'],
  ['255.255.255.255', '255.255.255.255'],
  ['192.0.2.256', null],
  ['192.0.2', null],
  ['192.0.2.1.5', null],
  ['192.0.02.1', null],
  ['192..2.1', null],
  ['1e2.0.0.1', null],
  ['2001:db8::1', '2001:db8::1'],
  ['2001:DB8::0001', '2001:db8::1'],
  ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
  ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
  ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
  ['::', '::'],
  ['::1', '::1'],
  ['1::', '1::'],
  ['::ffff:192.0.2.1', '::ffff:c000:201'],
  ['::192.0.2.1', '::c000:201'], // IPv4-compatible (RFC 4291 2.5.5.1), not mapped
  ['64:ff9b::198.51.100.7', '64:ff9b::c633:6407'],
  ['1:2:3:4:5:6:192.0.2.1', '1:2:3:4:5:6:c000:201'],
  ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ['1:2:3:4:5:6:7::8', null],
  ['1:2:3:4:5:6:7:8:9', null],
  ['1:2:3:4:5:6:7', null],
  ['1::2::3', null],
  [':1::2', null],
  ['1::2:', null],
  ['12345::1', null],
  ['fe80::1%eth0', null],
  ['2001:db8::g', null],
  ['::192.0.2.1.1', null],
  ['::1:192.0.02.1', null],
  ['::01.2.3.4', null], // inet_pton refuses leading zeros in the IPv4 part; ipaddr.js does not
  ['1:2:3:4:5:6:7:192.0.2.1', null],
  ['', null],
  [':', null],
  [':::', null],
];

for (const [input, want] of addressCases) {
  test(`parseAddress ${JSON.stringify(input)}`, () => {
    assert.equal(parseAddress(input)?.text ?? null, want);
  });
}

const prefixCases: [string, string | null][] = [
  ['192.0.2.0/24', '192.0.2.0/24'],
  ['192.0.2.77/24', '192.0.2.0/24'],
  ['192.0.2.77/0', '0.0.0.0/0'],
  ['192.0.2.77/32', '192.0.2.77/32'],
  ['192.0.2.0/024', '192.0.2.0/24'],
  ['192.0.2.0/33', null],
  ['192.0.2.0/', null],
  ['192.0.2.0/2a', null],
  ['192.0.2.0/1234', null],
  ['2001:db8::1/64', '2001:db8::/64'],
  ['2001:db8:ffff:ffff::/33', '2001:db8:8000::/33'],
  ['::/0', '::/0'],
  ['2001:DB8::/128', '2001:db8::/128'],
  ['2001:db8::/129', null],
  ['2001:db8::', null],
];

for (const [input, want] of prefixCases) {
  test(`parsePrefix / canonicalPrefix ${JSON.stringify(input)}`, () => {
    assert.equal(parsePrefix(input)?.text ?? null, want);
    assert.equal(canonicalPrefix(input) ?? null, want);
  });
}

const v6Value = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n });
// values with runs of zero groups, so `::` placement is exercised
const sparseV6 = fc.array(fc.constantFrom(0, 0, 0, 1, 0xdb8, 0xffff, 0x2001), { minLength: 8, maxLength: 8 }).map((g) => g.reduce((v, x) => (v << 16n) | BigInt(x), 0n));

test('property: IPv6 text agrees with ipaddr.js in every rendering', () => {
  fc.assert(
    fc.property(fc.oneof(v6Value, sparseV6), fc.boolean(), (value, upper) => {
      const parts: number[] = [];
      for (let i = 7; i >= 0; i--) parts.push(Number((value >> BigInt(i * 16)) & 0xffffn));
      const ref = new ipaddr.IPv6(parts);
      const canonical = ref.toRFC5952String();
      assert.equal(addressText(AF.INET6, value), canonical);
      const fixed = parts.map((x) => x.toString(16).padStart(4, '0')).join(':');
      const last = (parts[6] ?? 0) * 65536 + (parts[7] ?? 0);
      const dotted = `${parts.slice(0, 6).map((x) => x.toString(16)).join(':')}:${addressText(AF.INET, BigInt(last))}`;
      for (const form of [canonical, ref.toNormalizedString(), fixed, dotted]) {
        const text = upper ? form.toUpperCase() : form;
        const a = parseAddress(text);
        assert.ok(a, text);
        assert.equal(a.value, value);
        assert.equal(a.text, canonical);
      }
    }),
    { numRuns: 400 },
  );
});

test('property: IPv6 validity agrees with ipaddr.js on strings of IPv6 characters', () => {
  const chars = fc.constantFrom(...'0123456789abcdefABCDEF:.'.split(''), '::', '0:', '1.2.3.4', 'ffff:');
  fc.assert(
    fc.property(fc.array(chars, { maxLength: 24 }).map((xs) => xs.join('')), (s) => {
      if (!s.includes(':')) return;
      const ours = parseAddress(s);
      // ipaddr.js accepts a leading zero in an embedded IPv4 octet (`::01.2.3.4`); inet_pton,
      // and so `ip`, refuses it, and so do we.
      const tail = s.slice(s.lastIndexOf(':') + 1);
      if (tail.includes('.') && tail.split('.').some((o) => /^0[0-9]/.test(o))) {
        assert.equal(ours, undefined, s);
        return;
      }
      const theirs = ipaddr.IPv6.isValid(s);
      assert.equal(ours !== undefined, theirs, s);
      // ipaddr.js reads `::a.b.c.d` as IPv4-mapped (::ffff:a.b.c.d); RFC 4291 2.5.5.1 and Go read it as IPv4-compatible
      if (ours && !/^::[0-9]+\./.test(s)) {
        const ref = ipaddr.IPv6.parse(s).toRFC5952String();
        assert.equal(ours.text, ref, s);
      }
    }),
    { numRuns: 2000 },
  );
});

test('property: IPv4 validity agrees with ipaddr.js four-part decimal', () => {
  const chars = fc.constantFrom(...'0123456789.'.split(''), '25', '255', '256', '.0');
  fc.assert(
    fc.property(fc.array(chars, { maxLength: 12 }).map((xs) => xs.join('')), (s) => {
      const ours = parseAddress(s);
      const theirs = ipaddr.IPv4.isValidFourPartDecimal(s);
      assert.equal(ours !== undefined, theirs, s);
      if (ours) assert.equal(ours.text, ipaddr.IPv4.parse(s).toString());
    }),
    { numRuns: 2000 },
  );
});

test('property: canonicalPrefix is idempotent and agrees with parsePrefix', () => {
  fc.assert(
    fc.property(fc.oneof(v6Value, sparseV6), fc.integer({ min: 0, max: 128 }), (value, length) => {
      const text = `${addressText(AF.INET6, value)}/${length}`;
      const c = canonicalPrefix(text);
      assert.equal(c, parsePrefix(text)?.text);
      assert.equal(canonicalPrefix(c ?? ''), c);
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }), (n, length) => {
      const text = `${addressText(AF.INET, BigInt(n))}/${length}`;
      const c = canonicalPrefix(text);
      assert.equal(c, parsePrefix(text)?.text);
      assert.equal(canonicalPrefix(c ?? '', true), c);
    }),
    { numRuns: 300 },
  );
});
